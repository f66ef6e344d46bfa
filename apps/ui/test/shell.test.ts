import { describe, expect, it } from 'vitest';
import { useUi } from './browser.js';

// The shell in a real browser: the quick start's URL, deep links, the theme switch, the keyboard shortcuts, and a
// path that is no page.
describe('the UI shell', () => {
  const ui = useUi();

  it('the server root opens the flows page', async () => {
    const page = await ui.page();
    await page.goto(ui.stack.url);
    await page.waitForURL(/\/ui\/flows$/);
    await expect.poll(() => page.locator('nav.mainnav a[aria-current="page"]').textContent()).toBe('Flows');
  });

  it('every section has its own deep link, and the keyboard moves between them', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/executions'));
    await expect.poll(() => page.locator('nav.mainnav a[aria-current="page"]').textContent()).toBe('Executions');
    await page.locator('body').press('g');
    await page.locator('body').press('l');
    await page.waitForURL(/\/ui\/logs$/);
    await page.locator('body').press('g');
    await page.locator('body').press('f');
    await page.waitForURL(/\/ui\/flows$/);
    await page.goBack();
    await page.waitForURL(/\/ui\/logs$/);
  });

  it('the theme follows the system, switches with t, and is kept across loads', async () => {
    const page = await ui.page({ colorScheme: 'dark' });
    await page.goto(ui.url('/flows'));
    const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    await page.locator('nav.mainnav').waitFor();
    const dark = await background();
    await page.locator('body').press('t');
    await expect.poll(background).not.toBe(dark);
    const light = await background();
    await page.reload();
    await page.locator('nav.mainnav').waitFor();
    expect(await background()).toBe(light);
    expect(await page.evaluate<string>('document.documentElement.dataset.theme')).toBe('light');
  });

  it("Kestra's UI paths (an execution's url, a flow's editor) lead to the same pages", async () => {
    const page = await ui.page();
    await page.goto(ui.url('/main/executions/company.team/hello/abc123/logs'));
    await page.waitForURL(/\/ui\/executions\/abc123\/logs$/);
    await page.goto(ui.url('/main/flows/edit/company.team/hello/topology'));
    await page.waitForURL(/\/ui\/flows\/company\.team\/hello\/topology$/);
  });

  it('a path that is no page says so and links back', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/no/such/page'));
    await page.getByText('No page here').waitFor();
    await page.getByRole('link', { name: 'flows', exact: true }).click();
    await page.waitForURL(/\/ui\/flows$/);
  });
});

describe('sign-in, with SLUICE_API_TOKEN set', () => {
  const TOKEN = 'ui-sign-in-token';
  const ui = useUi({ env: { SLUICE_API_TOKEN: TOKEN } });

  it('asks for the token, refuses a wrong one, and keeps the right one out of the URL', async () => {
    const page = await ui.page();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(ui.url('/executions?state=FAILED'));
    await page.getByRole('heading', { name: /sign in to sluice/i }).waitFor();

    await page.getByLabel('API token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();

    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // Still on the page that was asked for, with its filters.
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/ui/executions?state=FAILED');
    expect(requests.some((url) => url.includes(TOKEN))).toBe(false);
    expect(await page.evaluate<string>('window.location.href')).not.toContain(TOKEN);

    // A reload keeps the session (sessionStorage); signing out asks again.
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: /sign in to sluice/i }).waitFor();
  });

  it('basic credentials are refused when only a token is configured, with a readable message', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/flows'));
    await page.getByRole('heading', { name: /sign in to sluice/i }).waitFor();
    await page.getByLabel('User name and password').check();
    await page.getByLabel('User name', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('admin');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'user name and password are not accepted' }).waitFor();
  });
});
