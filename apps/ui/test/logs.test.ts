import { describe, expect, it } from 'vitest';
import { useUi } from './browser.js';
import type { Page } from './browser.js';

// The logs search in a real browser: the empty states, a text search that finds a line of an execution (with a link to
// its logs), and the level filter; every filter in the URL.
describe('the logs search', () => {
  const ui = useUi();
  const ns = 'uitest.logs';

  const rows = (page: Page) => page.getByTestId('log-row');
  const messages = (page: Page) => rows(page).locator('td.lg-message').allTextContents();
  const search = (page: Page): URLSearchParams => new URL(page.url()).searchParams;

  it('with no logs at all, says where they come from', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/logs'));
    await page.getByRole('heading', { name: 'No logs yet' }).waitFor();
    expect(await rows(page).count()).toBe(0);
  });

  it('finds a line by its text, links to its execution, and narrows by level', async () => {
    await ui.stack.deploy(
      [
        'id: talker',
        `namespace: ${ns}`,
        'tasks:',
        '  - id: chat',
        '    type: io.kestra.plugin.core.log.Log',
        '    message: "the zebra crossing is open for {{ execution.id }}"',
        '  - id: warn',
        '    type: io.kestra.plugin.core.log.Log',
        '    level: WARN',
        '    message: beware of the giraffes',
      ].join('\n'),
    );
    const execution = await ui.stack.execute(ns, 'talker', { wait: true });
    expect(execution.state.current).toBe('SUCCESS');

    const page = await ui.page();
    await page.goto(ui.url('/logs'));
    // `/` focuses the search.
    await page.getByTestId('logs-table').waitFor();
    await page.locator('body').press('/');
    await expect.poll(() => page.evaluate<boolean | undefined>("document.activeElement?.hasAttribute('data-search')")).toBe(true);
    await page.keyboard.type('zebra crossing');
    await expect.poll(() => search(page).get('q')).toBe('zebra crossing');
    await expect.poll(() => messages(page)).toEqual([`the zebra crossing is open for ${execution.id}`]);
    const row = rows(page).first();
    expect(await row.getAttribute('data-level')).toBe('INFO');
    expect(await row.getByRole('link', { name: execution.id.slice(0, 8) }).getAttribute('href')).toBe(`/ui/executions/${execution.id}/logs`);
    expect(await row.textContent()).toContain(`${ns}.talker`);

    // The level: the flow's lines, then WARN and above only.
    await page.goto(ui.url(`/logs?namespace=${ns}`));
    await expect.poll(() => messages(page)).toEqual(expect.arrayContaining(['beware of the giraffes', `the zebra crossing is open for ${execution.id}`]));
    await page.getByTestId('level-filter').selectOption('WARN');
    await expect.poll(() => messages(page)).toEqual(['beware of the giraffes']);
    expect(search(page).get('minLevel')).toBe('WARN');
    await page.reload();
    await expect.poll(() => messages(page)).toEqual(['beware of the giraffes']);
    expect(await page.getByTestId('level-filter').inputValue()).toBe('WARN');
  });

  it('a search that matches nothing says so and offers to clear the filters', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/logs?q=no-such-words-anywhere'));
    await page.getByRole('heading', { name: 'No log lines match' }).waitFor();
    expect(await rows(page).count()).toBe(0);
    await page.getByTestId('clear-filters').click();
    await expect.poll(() => search(page).get('q')).toBeNull();
    await expect.poll(() => rows(page).count()).toBeGreaterThan(0);
    expect(await page.locator('[data-search]').inputValue()).toBe('');
  });
});
