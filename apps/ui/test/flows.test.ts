import { describe, expect, it } from 'vitest';
import { attributeValues, useUi } from './browser.js';
import type { Page } from './browser.js';

// The flows page in a real browser: the empty state of a fresh database, the search filters (text, namespace,
// labels) kept in the URL so a reload shows the same rows, the namespace tree, and the no-match state.
const flow = (namespace: string, id: string, labels: Record<string, string>, description = ''): string =>
  [
    `id: ${id}`,
    `namespace: ${namespace}`,
    ...(description ? [`description: ${description}`] : []),
    'labels:',
    ...Object.entries(labels).map(([k, v]) => `  ${k}: ${v}`),
    'tasks:',
    '  - id: hello',
    '    type: io.kestra.plugin.core.log.Log',
    '    message: hello',
  ].join('\n');

/** The `namespace.id` of the rows shown, once the list settles on `expected`. */
async function expectRows(page: Page, expected: string[]): Promise<void> {
  await expect
    .poll(async () => (await attributeValues(page.locator('[data-testid="flow-row"]'), 'data-flow')).sort(), { timeout: 15_000 })
    .toEqual([...expected].sort());
}

const query = (page: Page): URLSearchParams => new URL(page.url()).searchParams;

describe('the flows page', () => {
  const ui = useUi();

  it('says how to create a flow when there is none', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/flows'));
    const empty = page.getByTestId('flows-empty');
    await empty.getByText('No flows yet').waitFor();
    expect(await empty.textContent()).toContain('sluice flow deploy');
    expect(await empty.textContent()).toContain('POST /api/v1/flows');
    await empty.getByRole('link', { name: /create flow/i }).click();
    await page.waitForURL(/\/ui\/flows\/new$/);
  });

  const all = ['uiflows.alpha.orders-sync', 'uiflows.alpha.orders-report', 'uiflows.alpha.sub.nested-job', 'uiflows.beta.cleanup'];

  it('lists the flows with their labels and revision, and filters by text, namespace and label through the URL', async () => {
    await ui.stack.deploy(flow('uiflows.alpha', 'orders-sync', { team: 'data', env: 'prod' }, 'Syncs the orders'));
    await ui.stack.deploy(flow('uiflows.alpha', 'orders-report', { team: 'bi' }));
    await ui.stack.deploy(flow('uiflows.alpha.sub', 'nested-job', { team: 'data' }));
    await ui.stack.deploy(flow('uiflows.beta', 'cleanup', { env: 'dev' }));

    const page = await ui.page();
    await page.goto(ui.url('/flows'));
    await expectRows(page, all);
    const row = page.locator('[data-flow="uiflows.alpha.orders-sync"]');
    expect(await row.textContent()).toContain('Syncs the orders');
    expect(await row.textContent()).toContain('team:data');
    // The last execution of each row is read after the list is shown.
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain('never ran');

    // Text: typed in the search box (focused with `/`), kept in the URL.
    await page.locator('body').press('/');
    await page.keyboard.type('orders');
    await expectRows(page, ['uiflows.alpha.orders-sync', 'uiflows.alpha.orders-report']);
    expect(query(page).get('q')).toBe('orders');
    await page.reload();
    await expectRows(page, ['uiflows.alpha.orders-sync', 'uiflows.alpha.orders-report']);
    expect(await page.getByTestId('flows-search').inputValue()).toBe('orders');

    // Namespace, from the URL: the namespace and the ones under it.
    await page.goto(ui.url('/flows?namespace=uiflows.alpha'));
    await expectRows(page, ['uiflows.alpha.orders-sync', 'uiflows.alpha.orders-report', 'uiflows.alpha.sub.nested-job']);
    await page.goto(ui.url('/flows?namespace=uiflows.beta'));
    await expectRows(page, ['uiflows.beta.cleanup']);

    // Label: key:value, added through the form.
    await page.goto(ui.url('/flows'));
    await expectRows(page, all);
    await page.getByTestId('label-input').fill('team:data');
    await page.getByTestId('label-input').press('Enter');
    await expectRows(page, ['uiflows.alpha.orders-sync', 'uiflows.alpha.sub.nested-job']);
    expect(query(page).getAll('label')).toEqual(['team:data']);
    await page.reload();
    await expectRows(page, ['uiflows.alpha.orders-sync', 'uiflows.alpha.sub.nested-job']);
    // Filters combine: the label and a namespace.
    await page.goto(ui.url('/flows?label=team%3Adata&namespace=uiflows.alpha.sub'));
    await expectRows(page, ['uiflows.alpha.sub.nested-job']);
    // Clicking a row's label chip adds it as a filter.
    await page.goto(ui.url('/flows'));
    await page.locator('[data-flow="uiflows.beta.cleanup"]').getByRole('button', { name: 'env:dev' }).click();
    await expectRows(page, ['uiflows.beta.cleanup']);
    expect(query(page).getAll('label')).toEqual(['env:dev']);
  });

  it('says when no flow matches, and clears the filters', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/flows?q=no-flow-has-this&namespace=uiflows'));
    const empty = page.getByTestId('flows-empty');
    await empty.getByText('No flow matches these filters').waitFor();
    await empty.getByRole('button', { name: /clear the filters/i }).click();
    await expectRows(page, all);
    expect(page.url()).toMatch(/\/ui\/flows$/);
    expect(await page.getByTestId('flows-search').inputValue()).toBe('');
  });

  it('filters by a namespace of the tree, nested by prefix', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/flows'));
    const tree = page.getByTestId('namespace-tree');
    // `uiflows.alpha.sub` sits under `uiflows.alpha`, under `uiflows`; counts include the namespaces under them.
    const alpha = tree.locator('[data-namespace="uiflows.alpha"]');
    await alpha.waitFor();
    expect(await tree.locator('[data-namespace="uiflows"]').textContent()).toContain('4');
    expect(await alpha.textContent()).toContain('3');
    expect(await tree.locator('li:has(> .ns-row [data-namespace="uiflows.alpha"]) [data-namespace="uiflows.alpha.sub"]').count()).toBe(1);

    await alpha.click();
    await expectRows(page, ['uiflows.alpha.orders-sync', 'uiflows.alpha.orders-report', 'uiflows.alpha.sub.nested-job']);
    expect(query(page).get('namespace')).toBe('uiflows.alpha');
    expect(await alpha.getAttribute('aria-pressed')).toBe('true');

    await tree.locator('[data-namespace="uiflows.alpha.sub"]').click();
    await expectRows(page, ['uiflows.alpha.sub.nested-job']);
    // Back returns to the previous namespace.
    await page.goBack();
    await expectRows(page, ['uiflows.alpha.orders-sync', 'uiflows.alpha.orders-report', 'uiflows.alpha.sub.nested-job']);

    await tree.getByRole('button', { name: /all namespaces/i }).click();
    await expectRows(page, all);
  });

  it('pages through the flows, the page in the URL', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/flows?size=10&namespace=uiflows'));
    await expectRows(page, all);
    await page.goto(ui.url('/flows?size=10&page=2&namespace=uiflows'));
    await page.getByText('No flow on this page').waitFor();
    await page.getByRole('button', { name: /back to the first page/i }).click();
    await expectRows(page, all);
    expect(await page.getByTestId('flows-count').textContent()).toContain('1–4 of 4');
  });
});
