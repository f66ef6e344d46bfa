import { randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sh } from '../../cli/test/e2e/stack.js';
import { useUi } from './browser.js';
import type { Page } from './browser.js';

// The execution page in a real browser, on a real stack: live Gantt and logs from the follow streams, the log
// filters, output files (preview and download), the actions (kill, restart, resume), the topology, deep links and
// an unknown id.
const NS = 'ui.execution';

/** A flow of `tasks` (YAML lines, indented by two spaces) in this file's namespace. */
const flow = (id: string, tasks: string[], extra = ''): string => `id: ${id}\nnamespace: ${NS}\n${extra}tasks:\n${tasks.join('\n')}\n`;

/** A file the shell tasks wait for: the test lets them go on by creating it. */
function gate(): { path: string; open: () => Promise<void>; remove: () => Promise<void> } {
  const path = join(tmpdir(), `sluice-ui-gate-${randomUUID()}`);
  return { path, open: () => writeFile(path, 'go'), remove: () => rm(path, { force: true }) };
}

/** `expect.poll` with a timeout fit for a browser on a busy machine (vitest's default is 1 s). */
const poll = <T>(read: () => Promise<T> | T, timeout = 15_000) => expect.poll(read, { timeout, interval: 100 });

const state = (page: Page): Promise<string | null> => page.getByTestId('execution-state').getAttribute('data-state');
const rowState = (page: Page, taskId: string): Promise<string | null> =>
  page.locator(`[data-testid="gantt-row"][data-task-id="${taskId}"]`).first().getAttribute('data-state', { timeout: 1000 }).catch(() => null);
const logCount = async (page: Page): Promise<number> => Number(await page.getByTestId('log-count').textContent());
const logTexts = (page: Page): Promise<string[]> => page.getByTestId('log-line').allTextContents();

describe('the execution page', () => {
  const ui = useUi();

  it('shows the Gantt rows and the log lines live while the execution runs, then its end', async () => {
    const wait = gate();
    try {
      await ui.stack.deploy(
        flow('live', [
          sh('one', `echo one-start; while [ ! -f ${wait.path} ]; do sleep 0.05; done; echo one-end`, '  '),
          sh('two', 'for i in 1 2 3; do echo two-$i; sleep 0.2; done', '  '),
          sh('three', 'echo three-out', '  '),
        ]),
      );
      const execution = await ui.stack.execute(NS, 'live');
      await ui.stack.waitFor(execution.id, (e) => e.taskRunList.some((r) => r.taskId === 'one' && r.state.current === 'RUNNING'));

      const gantt = await ui.page();
      await gantt.goto(ui.url(`/executions/${execution.id}`));
      await poll(() => state(gantt)).toBe('RUNNING');
      await poll(() => rowState(gantt, 'one')).toBe('RUNNING');
      expect(await gantt.getByTestId('gantt-row').count()).toBe(1);
      await gantt.getByTestId('execution-live').waitFor();
      expect(await gantt.getByTestId('execution-live').getAttribute('data-status')).toBe('live');

      const logs = await ui.page();
      await logs.goto(ui.url(`/executions/${execution.id}/logs`));
      await logs.getByTestId('log-line').filter({ hasText: 'one-start' }).waitFor();
      expect(await logTexts(logs)).not.toContainEqual(expect.stringContaining('one-end'));

      await wait.open();
      // The pages were open before these happened: only the follow streams can bring them.
      for (const task of ['one', 'two', 'three']) await poll(() => rowState(gantt, task), 20_000).toBe('SUCCESS');
      await poll(() => state(gantt), 20_000).toBe('SUCCESS');
      expect(await gantt.getByTestId('gantt-row').count()).toBe(3);
      await logs.getByTestId('log-line').filter({ hasText: 'three-out' }).waitFor({ timeout: 20_000 });
      const texts = await logTexts(logs);
      for (const line of ['one-end', 'two-1', 'two-2', 'two-3']) expect(texts).toContainEqual(expect.stringContaining(line));
      await poll(() => state(logs)).toBe('SUCCESS');
      // No line twice (the follow resends the stored lines first: those already read are skipped).
      expect(texts.filter((t) => t.includes('one-start'))).toHaveLength(1);

      // A row's details: its attempts, outputs and its own log lines only.
      await gantt.locator('[data-testid="gantt-row"][data-task-id="two"] .gantt-select').click();
      const details = gantt.getByTestId('run-details');
      await details.waitFor();
      expect(new URL(gantt.url()).searchParams.get('taskRun')).toBeTruthy();
      await details.getByTestId('log-line').filter({ hasText: 'two-3' }).waitFor();
      const own = await details.getByTestId('log-line').allTextContents();
      expect(own).toHaveLength(3);
      expect(own.join('\n')).not.toContain('one-start');
      expect(await details.locator('table.exec-attempts tbody tr').count()).toBe(1);
      expect(await details.getByText('stdOutLineCount').count()).toBe(1);
    } finally {
      await wait.remove();
    }
  }, 60_000);

  it('follows the tail of a running log until the user scrolls up, and jumps back to it', async () => {
    const wait = gate();
    try {
      await ui.stack.deploy(flow('tail', [sh('talk', `seq 1 400 | sed 's/^/tail-line-/'; while [ ! -f ${wait.path} ]; do sleep 0.05; done; echo after-gate`, '  ')]));
      const execution = await ui.stack.execute(NS, 'tail');
      const page = await ui.page();
      await page.goto(ui.url(`/executions/${execution.id}/logs`));
      // Following: the newest line is on screen.
      await page.getByTestId('log-line').filter({ hasText: 'tail-line-400' }).waitFor();
      expect(await page.getByTestId('log-jump').count()).toBe(0);
      const before = await logCount(page);
      expect(before).toBe(400);

      await page.getByTestId('log-list').hover();
      await page.mouse.wheel(0, -3000);
      await page.getByTestId('log-jump').waitFor();
      await wait.open();
      await poll(() => logCount(page), 20_000).toBe(before + 1);
      // Scrolled up: the view stays where the user put it.
      expect(await page.getByTestId('log-line').filter({ hasText: 'after-gate' }).count()).toBe(0);
      await page.getByTestId('log-jump').click();
      await page.getByTestId('log-line').filter({ hasText: 'after-gate' }).waitFor();
      await poll(() => page.getByTestId('log-jump').count()).toBe(0);
    } finally {
      await wait.remove();
    }
  }, 60_000);

  it('filters the log by minimum level, task and text, keeping the filters in the URL', async () => {
    await ui.stack.deploy(
      flow('levels', [
        sh('alpha', 'echo alpha-1; echo alpha-2; echo needle-alpha; echo alpha-warned >&2', '  '),
        '  - id: warn\n    type: io.kestra.plugin.core.log.Log\n    level: WARN\n    message: a needle warning',
        '  - id: err\n    type: io.kestra.plugin.core.log.Log\n    level: ERROR\n    message: an error line',
        sh('many', 'seq 1 3000', '  '),
      ]),
    );
    const execution = await ui.stack.execute(NS, 'levels', { wait: true });
    // Log batches are applied apart from the task's end: under load the last ones land a moment after the execution
    // ended (docs/execution.md, "Delivery guarantees"). Wait for all 3,006 lines.
    type Line = { taskId?: string; level: string; message: string };
    const read = async (): Promise<Line[]> => (await (await ui.stack.api(`/api/v1/logs/${execution.id}`)).json()) as Line[];
    await poll(async () => (await read()).length, 20_000).toBe(3006);
    const lines = await read();
    const total = lines.length;

    const page = await ui.page();
    await page.goto(ui.url(`/executions/${execution.id}/logs`));
    await poll(() => logCount(page)).toBe(total);
    // Virtualised: 3,000+ lines, a screenful in the page.
    expect(await page.getByTestId('log-line').count()).toBeLessThan(150);

    await page.getByTestId('log-level').selectOption('WARN');
    const warnAndAbove = lines.filter((l) => l.level === 'WARN' || l.level === 'ERROR').length;
    expect(warnAndAbove).toBe(3);
    await poll(() => logCount(page)).toBe(warnAndAbove);
    expect(new URL(page.url()).searchParams.get('level')).toBe('WARN');
    const shown = await logTexts(page);
    expect(shown.join('\n')).toContain('an error line');
    expect(shown.join('\n')).not.toContain('alpha-1');

    await page.getByTestId('log-level').selectOption('');
    await page.getByTestId('log-task').selectOption('alpha');
    await poll(() => logCount(page)).toBe(lines.filter((l) => l.taskId === 'alpha').length);
    expect(await logCount(page)).toBe(4);

    await page.getByTestId('log-task').selectOption('');
    await page.getByTestId('log-search').fill('NEEDLE');
    await poll(() => logCount(page)).toBe(2);
    expect((await logTexts(page)).join('\n')).toContain('needle-alpha');

    // The filters are in the URL: a reload (or a shared link) shows the same view.
    await page.getByTestId('log-level').selectOption('WARN');
    await poll(() => logCount(page)).toBe(1);
    await page.reload();
    await poll(() => logCount(page)).toBe(1);
    expect(await logTexts(page)).toEqual([expect.stringContaining('a needle warning')]);
  }, 60_000);

  it('previews and downloads an output file', async () => {
    const task = `${sh('write', "printf 'hello-preview\\nsecond line\\n' > out.txt; yes x | head -c 100000 > big.txt", '  ')}\n    outputFiles:\n      - out.txt\n      - big.txt`;
    await ui.stack.deploy(flow('files', [task]));
    const execution = await ui.stack.execute(NS, 'files', { wait: true });
    expect(execution.state.current).toBe('SUCCESS');
    const uri = (execution.taskRunList[0]!.outputs!.outputFiles as Record<string, string>)['out.txt']!;

    const page = await ui.page();
    await page.goto(ui.url(`/executions/${execution.id}/outputs`));
    const file = page.locator(`[data-testid="file-value"][data-uri="${uri}"]`);
    await file.getByTestId('file-preview-button').click();
    await poll(() => file.getByTestId('file-preview').textContent()).toBe('hello-preview\nsecond line\n');

    const [download] = await Promise.all([page.waitForEvent('download'), file.getByTestId('file-download-button').click()]);
    expect(download.suggestedFilename()).toBe('out.txt');
    const saved = await readFile((await download.path())!);
    const served = Buffer.from(await (await ui.stack.api(`/api/v1/executions/${execution.id}/file?path=${encodeURIComponent(uri)}`)).arrayBuffer());
    expect(saved.equals(served)).toBe(true);
    expect(saved.toString()).toBe('hello-preview\nsecond line\n');

    // A large file: only its first 64 KiB are shown.
    const big = page.locator('[data-testid="file-value"]').filter({ hasText: 'big.txt' });
    await big.getByTestId('file-preview-button').click();
    await poll(async () => (await big.getByTestId('file-preview').textContent())?.length).toBe(64 * 1024);
    await big.getByText('showing the first 64 KiB').waitFor();
  }, 60_000);

  it('kills a running execution', async () => {
    await ui.stack.deploy(flow('long', [sh('sleepy', 'echo sleeping; sleep 60', '  ')]));
    const execution = await ui.stack.execute(NS, 'long');
    const page = await ui.page();
    await page.goto(ui.url(`/executions/${execution.id}`));
    await poll(() => rowState(page, 'sleepy'), 20_000).toBe('RUNNING');
    expect(await page.getByTestId('action-restart').isDisabled()).toBe(true);
    expect(await page.getByTestId('action-replay').isDisabled()).toBe(true);
    await page.getByTestId('action-kill').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.getByRole('button', { name: 'Kill' }).click();
    await poll(() => state(page), 30_000).toBe('KILLED');
    await poll(() => rowState(page, 'sleepy')).toBe('KILLED');
    expect((await ui.stack.get(execution.id)).state.current).toBe('KILLED');
    expect(await page.getByTestId('action-kill').isDisabled()).toBe(true);
  }, 60_000);

  it('restarts a failed execution, which runs again', async () => {
    const marker = gate();
    try {
      await ui.stack.deploy(flow('flaky', [sh('flaky', `if [ -f ${marker.path} ]; then echo fixed; else echo broken >&2; exit 3; fi`, '  ')]));
      const execution = await ui.stack.execute(NS, 'flaky', { wait: true });
      expect(execution.state.current).toBe('FAILED');
      const page = await ui.page();
      await page.goto(ui.url(`/executions/${execution.id}`));
      await poll(() => state(page)).toBe('FAILED');
      expect(await page.getByTestId('action-kill').isDisabled()).toBe(true);
      await marker.open();
      await page.getByTestId('action-restart').click();
      await page.getByTestId('confirm-dialog').getByRole('button', { name: 'Restart' }).click();
      await poll(() => state(page), 30_000).toBe('SUCCESS');
      await poll(() => rowState(page, 'flaky')).toBe('SUCCESS');
      const after = await ui.stack.get(execution.id);
      expect(after.state.current).toBe('SUCCESS');
      expect(after.taskRunList[0]!.attempts!.length).toBeGreaterThanOrEqual(2);
      // The log follow started again for the restarted run.
      await page.getByRole('tab', { name: 'Logs' }).click();
      await page.getByTestId('log-line').filter({ hasText: 'fixed' }).waitFor();
    } finally {
      await marker.remove();
    }
  }, 60_000);

  it('resumes a paused execution from a form built from the onResume inputs', async () => {
    await ui.stack.deploy(
      flow('approval', [
        '  - id: approve\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: reason\n        type: STRING\n      - id: approved\n        type: BOOLEAN\n        defaults: true',
        '  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: "resumed because {{ outputs.approve.onResume.reason }}"',
      ]),
    );
    const execution = await ui.stack.execute(NS, 'approval');
    await ui.stack.waitFor(execution.id, (e) => e.state.current === 'PAUSED');
    const page = await ui.page();
    await page.goto(ui.url(`/executions/${execution.id}`));
    await poll(() => state(page)).toBe('PAUSED');
    await page.getByTestId('action-resume').click();
    const dialog = page.getByTestId('resume-dialog');
    await dialog.getByLabel(/reason/).waitFor();
    // `reason` is required: the API's refusal is shown next to the field.
    await dialog.getByTestId('resume-submit').click();
    await dialog.locator('.field-error').waitFor();
    expect(await state(page)).toBe('PAUSED');
    await dialog.getByLabel(/reason/).fill('the tests pass');
    await dialog.getByTestId('resume-submit').click();
    await poll(() => state(page), 30_000).toBe('SUCCESS');
    const after = await ui.stack.get(execution.id);
    const approve = after.taskRunList.find((r) => r.taskId === 'approve')!;
    expect(approve.outputs).toEqual({ onResume: { reason: 'the tests pass', approved: true } });
    await page.getByRole('tab', { name: 'Logs' }).click();
    await page.getByTestId('log-line').filter({ hasText: 'resumed because the tests pass' }).waitFor();
  }, 60_000);

  it('replays an ended execution, whole or from a task run, and opens the new one', async () => {
    await ui.stack.deploy(flow('again', [sh('first', 'echo first-ran', '  '), sh('second', 'echo second-ran', '  ')]));
    const original = await ui.stack.execute(NS, 'again', { wait: true });
    const page = await ui.page();
    await page.goto(ui.url(`/executions/${original.id}`));
    await poll(() => state(page)).toBe('SUCCESS');
    await page.getByTestId('action-replay').click();
    await page.getByTestId('confirm-dialog').getByRole('button', { name: 'Replay' }).click();
    await page.waitForURL((url) => !url.pathname.includes(original.id));
    const replayId = new URL(page.url()).pathname.split('/')[3]!;
    expect(await page.getByTestId('original-link').getAttribute('href')).toBe(`/ui/executions/${original.id}`);
    await poll(() => state(page), 30_000).toBe('SUCCESS');
    expect((await ui.stack.get(replayId)).originalId).toBe(original.id);

    // From a task run: its details in the Gantt chart offer it.
    await page.goto(ui.url(`/executions/${original.id}`));
    await page.locator('[data-testid="gantt-row"][data-task-id="second"] .gantt-select').click();
    await page.getByTestId('action-replay-task').click();
    await page.getByTestId('confirm-dialog').getByRole('button', { name: 'Replay' }).click();
    await page.waitForURL((url) => !url.pathname.includes(original.id) && !url.pathname.includes(replayId));
    const fromTask = new URL(page.url()).pathname.split('/')[3]!;
    await poll(() => state(page), 30_000).toBe('SUCCESS');
    const replayed = await ui.stack.get(fromTask);
    expect(replayed.originalId).toBe(original.id);
    // The run before the chosen one was kept (copied with its dates), not run again.
    const firstBefore = original.taskRunList.find((r) => r.taskId === 'first')!;
    const histories = (run: { state: object }): unknown => (run.state as { histories?: unknown }).histories;
    expect(histories(replayed.taskRunList.find((r) => r.taskId === 'first')!)).toEqual(histories(firstBefore));
  }, 60_000);

  it('colours the topology nodes by the state of their task runs', async () => {
    await ui.stack.deploy(flow('shape', [sh('good', 'echo fine', '  '), sh('bad', 'exit 1', '  ')]));
    const execution = await ui.stack.execute(NS, 'shape', { wait: true });
    expect(execution.state.current).toBe('FAILED');
    const page = await ui.page();
    await page.goto(ui.url(`/executions/${execution.id}/topology`));
    const node = (taskId: string) => page.locator(`[data-testid="topology-node"][data-task-id="${taskId}"]`);
    await poll(() => node('good').getAttribute('data-state')).toBe('SUCCESS');
    await poll(() => node('bad').getAttribute('data-state')).toBe('FAILED');
    const colour = (taskId: string) => node(taskId).evaluate((element) => (globalThis as unknown as { getComputedStyle(e: unknown): { borderTopColor: string } }).getComputedStyle(element).borderTopColor);
    const stateColour = (name: string) =>
      page.evaluate((n) => {
        // The root tsconfig has no DOM types: the browser's globals, typed as far as used here.
        interface Probe {
          style: { color: string };
          remove(): void;
        }
        const dom = globalThis as unknown as {
          document: { createElement(tag: string): Probe; body: { append(node: Probe): void } };
          getComputedStyle(element: Probe): { color: string };
        };
        const probe = dom.document.createElement('span');
        probe.style.color = `var(--state-${n})`;
        dom.document.body.append(probe);
        const value = dom.getComputedStyle(probe).color;
        probe.remove();
        return value;
      }, name);
    expect(await colour('good')).toBe(await stateColour('SUCCESS'));
    expect(await colour('bad')).toBe(await stateColour('FAILED'));
    // Selecting a task opens its run in the Gantt chart.
    await node('bad').click();
    await page.waitForURL(/\/gantt\?taskRun=/);
    await page.getByTestId('run-details').getByText('bad').first().waitFor();
  }, 60_000);

  it('shows file inputs as downloads and links a subflow execution to its parent', async () => {
    await ui.stack.deploy(flow('child', [sh('echo', 'echo child-ran', '  ')]));
    await ui.stack.deploy(
      flow('parent', ['  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: ' + NS + '\n    flowId: child\n    wait: true'], 'inputs:\n  - id: doc\n    type: FILE\n'),
    );
    const form = new FormData();
    form.append('doc', new Blob(['file input bytes\n']), 'doc.txt');
    const created = (await (await ui.stack.api(`/api/v1/executions/${NS}/parent?wait=true`, { method: 'POST', body: form })).json()) as { id: string };
    const parent = await ui.stack.get(created.id);
    expect(parent.state.current).toBe('SUCCESS');
    const childId = String((parent.taskRunList[0]!.outputs as { executionId: string }).executionId);

    const page = await ui.page();
    await page.goto(ui.url(`/executions/${parent.id}`));
    const input = page.getByTestId('execution-inputs').getByTestId('file-value');
    expect(await input.textContent()).toContain('doc.txt');
    const [download] = await Promise.all([page.waitForEvent('download'), input.getByTestId('file-download-button').click()]);
    expect(download.suggestedFilename()).toBe('doc.txt');
    expect((await readFile((await download.path())!)).toString()).toBe('file input bytes\n');

    await page.goto(ui.url(`/executions/${childId}`));
    await poll(() => state(page)).toBe('SUCCESS');
    await page.getByTestId('parent-link').click();
    await page.waitForURL(new RegExp(`/executions/${parent.id}$`));
    await poll(() => page.getByTestId('execution-id').textContent()).toBe(parent.id);
  }, 60_000);

  it('opens a tab from its deep link, and says so when the execution does not exist', async () => {
    await ui.stack.deploy(flow('deep', [sh('hello', 'echo deep-link-line', '  ')]));
    const execution = await ui.stack.execute(NS, 'deep', { wait: true });
    const page = await ui.page();
    await page.goto(ui.url(`/executions/${execution.id}/logs`));
    await page.getByTestId('log-line').filter({ hasText: 'deep-link-line' }).waitFor();
    expect(await page.getByRole('tab', { name: 'Logs' }).getAttribute('aria-selected')).toBe('true');
    expect(await page.getByTestId('flow-link').getAttribute('href')).toBe(`/ui/flows/${NS}/deep`);
    await page.getByRole('tab', { name: 'Outputs' }).click();
    await page.waitForURL(/\/outputs$/);
    await page.getByTestId('task-outputs').waitFor();

    const missing = await ui.page();
    await missing.goto(ui.url('/executions/noSuchExecution123'));
    const error = missing.getByTestId('execution-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('Execution not found');
    expect(await error.textContent()).toContain('noSuchExecution123');
    await error.getByRole('link', { name: 'See all executions' }).waitFor();
  }, 60_000);
});
