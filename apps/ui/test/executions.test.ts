import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sh } from '../../cli/test/e2e/stack.js';
import { attributeValues, useUi } from './browser.js';
import type { Page } from './browser.js';

// The executions list in a real browser: filters that narrow the rows and live in the URL, the empty states, bulk kill
// and restart, and an API refusal shown as a readable message. Every test has its own namespace under `uitest.`.
describe('the executions list', () => {
  const ui = useUi();
  const markers = mkdtemp(join(tmpdir(), 'sluice-ui-executions-'));
  afterAll(async () => rm(await markers, { recursive: true, force: true }));

  const hello = (namespace: string, id = 'hello'): string =>
    [`id: ${id}`, `namespace: ${namespace}`, 'tasks:', '  - id: say', '    type: io.kestra.plugin.core.log.Log', '    message: hello'].join('\n');

  /** Start `flowId` with execution labels (`key:value`), through the API. */
  async function start(namespace: string, flowId: string, labels: readonly string[] = []): Promise<string> {
    const search = new URLSearchParams(labels.map((label): [string, string] => ['labels', label]));
    const response = await ui.stack.api(`/api/v1/executions/${namespace}/${flowId}?${search.toString()}`, { method: 'POST', body: new FormData() });
    expect(response.status).toBe(200);
    return ((await response.json()) as { id: string }).id;
  }

  const attributes = attributeValues;
  const rows = (page: Page) => page.getByTestId('execution-row');
  const rowStates = (page: Page) => attributes(rows(page), 'data-state');
  const rowIds = (page: Page) => attributes(rows(page), 'data-execution-id').then((ids) => ids.sort());
  const search = (page: Page): URLSearchParams => new URL(page.url()).searchParams;

  it('with no executions at all, says how to start one', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/executions'));
    await page.getByRole('heading', { name: 'No executions yet' }).waitFor();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'No executions yet' }).textContent()).toContain('Execute');
    await page.getByRole('link', { name: 'Go to the flows' }).click();
    await page.waitForURL(/\/ui\/flows$/);
  });

  it('namespace, state, flow and label filters narrow the rows, live in the URL and survive a reload', async () => {
    const ns = 'uitest.filters';
    await ui.stack.deploy(hello(`${ns}.a`));
    await ui.stack.deploy(
      [`id: broken`, `namespace: ${ns}.b`, 'tasks:', '  - id: fail', '    type: io.kestra.plugin.core.execution.Fail', '    errorMessage: on purpose'].join('\n'),
    );
    const data = await start(`${ns}.a`, 'hello', ['team:data']);
    const web = await start(`${ns}.a`, 'hello', ['team:web']);
    const broken = await start(`${ns}.b`, 'broken');
    for (const id of [data, web, broken]) await ui.stack.waitFor(id);

    const page = await ui.page();
    await page.goto(ui.url('/executions'));
    await page.getByTestId('namespace-filter').fill(ns);
    await expect.poll(() => search(page).get('namespace')).toBe(ns);
    await expect.poll(() => rowIds(page)).toEqual([data, web, broken].sort());

    // State: FAILED only.
    await page.getByTestId('state-filter').locator('summary').click();
    await page.getByRole('checkbox', { name: 'FAILED', exact: true }).check();
    await expect.poll(() => search(page).getAll('state')).toEqual(['FAILED']);
    await expect.poll(() => rowIds(page)).toEqual([broken]);
    expect(await rowStates(page)).toEqual(['FAILED']);
    await page.reload();
    await expect.poll(() => rowIds(page)).toEqual([broken]);
    await expect.poll(() => page.getByTestId('state-filter').locator('summary').textContent()).toContain('FAILED');
    await expect.poll(() => page.getByTestId('namespace-filter').inputValue()).toBe(ns);

    // Flow, then a label: both in the URL, and a reload keeps them.
    await page.goto(ui.url(`/executions?namespace=${ns}`));
    await expect.poll(() => rows(page).count()).toBe(3);
    await page.getByTestId('flow-filter').fill('hello');
    await page.getByTestId('flow-filter').press('Enter');
    await expect.poll(() => rowIds(page)).toEqual([data, web].sort());
    await page.getByTestId('labels-filter').fill('team:data');
    await page.getByTestId('labels-filter').press('Enter');
    await expect.poll(() => rowIds(page)).toEqual([data]);
    expect(search(page).get('flowId')).toBe('hello');
    expect(search(page).getAll('labels')).toEqual(['team:data']);
    await page.reload();
    await expect.poll(() => rowIds(page)).toEqual([data]);
    await expect.poll(() => page.getByTestId('label-chip').allTextContents()).toEqual([expect.stringContaining('team:data')]);
    await expect.poll(() => page.getByTestId('flow-filter').inputValue()).toBe('hello');

    // Removing the label chip brings the other execution back.
    await page.getByRole('button', { name: 'Remove the label filter team:data' }).click();
    await expect.poll(() => rowIds(page)).toEqual([data, web].sort());

    // `/` focuses the text search, which finds an execution by its id.
    await page.goto(ui.url('/executions'));
    await page.getByTestId('executions-table').waitFor();
    await page.locator('body').press('/');
    await page.keyboard.type(broken);
    await page.keyboard.press('Enter');
    await expect.poll(() => search(page).get('q')).toBe(broken);
    await expect.poll(() => rowIds(page)).toEqual([broken]);

    // Pausing the auto-refresh is part of the view too.
    await page.getByTestId('auto-refresh').uncheck();
    await expect.poll(() => search(page).get('refresh')).toBe('off');
    await page.reload();
    await expect.poll(() => page.getByTestId('auto-refresh').isChecked()).toBe(false);
  });

  it('a namespace without executions shows the empty state, and clearing the filters brings rows back', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/executions?namespace=uitest.nothing.here'));
    await page.getByRole('heading', { name: 'No executions match these filters' }).waitFor();
    expect(await rows(page).count()).toBe(0);
    await page.getByTestId('clear-filters').click();
    await expect.poll(() => search(page).get('namespace')).toBeNull();
    await expect.poll(() => rows(page).count()).toBeGreaterThan(0);
  });

  it('bulk kill of two running executions: both end KILLED', async () => {
    const ns = 'uitest.kill';
    await ui.stack.deploy([`id: sleeper`, `namespace: ${ns}`, 'tasks:', '  - id: nap', '    type: io.kestra.plugin.core.flow.Sleep', '    duration: PT10M'].join('\n'));
    const first = await start(ns, 'sleeper');
    const second = await start(ns, 'sleeper');
    for (const id of [first, second]) await ui.stack.waitFor(id, (e) => e.state.current === 'RUNNING');

    const page = await ui.page();
    await page.goto(ui.url(`/executions?namespace=${ns}`));
    await expect.poll(() => rowStates(page)).toEqual(['RUNNING', 'RUNNING']);
    await page.getByTestId('select-all').check();
    await expect.poll(() => page.getByTestId('selected-count').textContent()).toBe('2 selected');
    await page.getByTestId('bulk-kill').click();
    await page.getByRole('button', { name: 'Kill 2 executions' }).click();
    await expect.poll(() => page.getByTestId('bulk-result').textContent()).toContain('Killed 2 of 2 executions.');
    // The list refreshes by itself.
    await expect.poll(() => rowStates(page), { timeout: 30_000 }).toEqual(['KILLED', 'KILLED']);
    for (const id of [first, second]) expect((await ui.stack.get(id)).state.current).toBe('KILLED');
  }, 60_000);

  it('bulk restart of two failed executions, with the one that cannot be restarted reported', async () => {
    const ns = 'uitest.restart';
    const dir = await markers;
    // Fails on its first run, succeeds once restarted (a marker file per execution).
    const flaky = [
      `id: flaky`,
      `namespace: ${ns}`,
      'tasks:',
      sh('once', `if [ -f ${dir}/{{ execution.id }} ]; then exit 0; fi; touch ${dir}/{{ execution.id }}; exit 1`, '  '),
    ].join('\n');
    await ui.stack.deploy(flaky);
    await ui.stack.deploy(hello(ns));
    const failed = [await start(ns, 'flaky'), await start(ns, 'flaky')];
    for (const id of failed) expect((await ui.stack.waitFor(id)).state.current).toBe('FAILED');
    const fine = await start(ns, 'hello');
    expect((await ui.stack.waitFor(fine)).state.current).toBe('SUCCESS');

    const page = await ui.page();
    await page.goto(ui.url(`/executions?namespace=${ns}`));
    await expect.poll(() => rows(page).count()).toBe(3);
    await page.getByTestId('select-all').check();
    await page.getByTestId('bulk-restart').click();
    await page.getByRole('button', { name: 'Restart 3 executions' }).click();
    const result = page.getByTestId('bulk-result');
    await expect.poll(() => result.textContent()).toContain('Restarted 2 of 3 executions.');
    const text = (await result.textContent()) ?? '';
    expect(text).toContain('1 execution could not be restarted');
    expect(text).toContain(`${fine.slice(0, 8)} execution ${fine} is SUCCESS: only a FAILED execution can be restarted`);

    const state = (id: string) => page.locator(`[data-testid="execution-row"][data-execution-id="${id}"]`).getAttribute('data-state');
    for (const id of failed) await expect.poll(() => state(id), { timeout: 30_000 }).toBe('SUCCESS');
    for (const id of failed) {
      const execution = await ui.stack.get(id);
      expect(execution.state.histories.map((h) => h.state)).toContain('RESTARTED');
    }
  }, 60_000);

  it('a parameter the API refuses is shown as a readable message', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/executions?startDate=garbage'));
    const alert = page.getByRole('alert').filter({ hasText: 'could not be loaded' });
    await expect.poll(() => alert.textContent()).toContain('startDate must be an ISO-8601 date-time, got "garbage"');
    expect(await alert.textContent()).toContain('HTTP 400');
    // The time range shows the custom bounds, so the user can fix them.
    await expect.poll(() => page.getByTestId('time-range').locator('select').inputValue()).toBe('custom');
  });
});
