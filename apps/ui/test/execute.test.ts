import { describe, expect, it } from 'vitest';
import { useUi } from './browser.js';

// The execute form in a real browser: a form generated from typed inputs with their defaults, problems shown at the
// field (the browser's checks, then the server's), a FILE upload, labels and a schedule date, and the flows that
// need no form (no inputs) or cannot run (disabled).
describe('the execute form', () => {
  const ui = useUi();
  const ns = 'uitest.execute';

  const formFlow = [
    'id: form',
    `namespace: ${ns}`,
    'labels:',
    '  owner: ui',
    'inputs:',
    '  - id: name',
    '    type: STRING',
    '    displayName: Your name',
    '    description: Lower-case letters only.',
    "    validator: '[a-z]+'",
    '  - id: count',
    '    type: INT',
    '    defaults: 3',
    '  - id: verbose',
    '    type: BOOLEAN',
    '    defaults: true',
    '  - id: color',
    '    type: SELECT',
    '    values: [red, green, blue]',
    '    defaults: green',
    '  - id: data',
    '    type: FILE',
    '    description: Any file.',
    'tasks:',
    '  - id: say',
    '    type: io.kestra.plugin.core.log.Log',
    '    message: "{{ inputs.name }} x{{ inputs.count }} {{ inputs.color }}"',
  ].join('\n');

  /** A `datetime-local` value, in this machine's zone (the browser's too), `seconds` from now. */
  const localIn = (seconds: number): { local: string; iso: string } => {
    const date = new Date(Math.ceil(Date.now() / 1000) * 1000 + seconds * 1000);
    const pad = (n: number): string => String(n).padStart(2, '0');
    const local = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    return { local, iso: date.toISOString() };
  };

  it('shows the defaults, puts problems at their field, uploads a file and sends labels and a schedule date', async () => {
    await ui.stack.deploy(formFlow);
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${ns}/form/execute`));

    // The controls, with the defaults prefilled, the display name, the description and the required mark.
    const name = page.getByLabel(/Your name/);
    await name.waitFor();
    expect(await page.getByTestId('field-name').textContent()).toContain('Lower-case letters only.');
    expect(await page.getByTestId('field-name').getByLabel('required').count()).toBe(1);
    expect(await page.getByTestId('field-count').getByLabel('required').count()).toBe(0);
    expect(await page.locator('#input-count').getAttribute('type')).toBe('number');
    expect(await page.locator('#input-count').inputValue()).toBe('3');
    expect(await page.locator('#input-verbose').isChecked()).toBe(true);
    expect(await page.locator('#input-color').inputValue()).toBe('green');
    expect(await page.locator('#input-color option').allTextContents()).toEqual(['red', 'green', 'blue']);
    expect(await page.locator('#input-data').getAttribute('type')).toBe('file');

    // Nothing given for the required inputs: the problems are at those fields, and nothing is sent.
    let posted = 0;
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().includes(`/api/v1/executions/${ns}/form`)) posted++;
    });
    await page.getByTestId('execute-submit').click();
    await expect.poll(() => page.getByTestId('error-name').textContent()).toBe('This input is required.');
    expect(await page.getByTestId('error-data').textContent()).toBe('This input is required.');
    expect(await page.getByTestId('error-count').count()).toBe(0);
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.id')).toBe('input-name');
    expect(posted).toBe(0);
    expect(new URL(page.url()).pathname).toBe(`/ui/flows/${ns}/form/execute`);

    // A value the server refuses (the validator): its problem comes back to the name field.
    await name.fill('Bob 1');
    await page.locator('#input-data').setInputFiles({ name: 'numbers.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') });
    await page.getByTestId('execute-submit').click();
    await expect.poll(() => page.getByTestId('error-name').textContent()).toContain('must match [a-z]+');
    expect(posted).toBe(1);
    expect(await page.getByTestId('error-data').count()).toBe(0);

    // Fixed, with other values, a label and a start date: the execution starts and the page shows it.
    await name.fill('bob');
    await page.locator('#input-verbose').uncheck();
    await page.locator('#input-color').selectOption('blue');
    await page.getByText('Labels and schedule').click();
    await page.getByTestId('add-label').click();
    await page.getByLabel('Label 1 key').fill('team');
    await page.getByLabel('Label 1 value').fill('ui');
    const when = localIn(3);
    await page.getByTestId('schedule-date').fill(when.local);
    await page.getByRole('button', { name: 'Schedule the execution' }).click();
    await page.waitForURL(/\/ui\/executions\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);

    const execution = await ui.stack.waitFor(id, undefined, 60_000);
    expect(execution.state.current).toBe('SUCCESS');
    const inputs = execution.inputs as Record<string, unknown>;
    expect(inputs).toMatchObject({ name: 'bob', count: 3, verbose: false, color: 'blue' });
    expect(execution.labels).toEqual(expect.arrayContaining([{ key: 'team', value: 'ui' }, { key: 'owner', value: 'ui' }]));
    expect(execution.scheduleDate).toBe(when.iso);
    expect(String(inputs.data)).toMatch(/^kestra:\/\/\/.*\/numbers\.csv$/);
    const file = await ui.stack.api(`/api/v1/executions/${id}/file?path=${encodeURIComponent(String(inputs.data))}`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('a,b\n1,2\n');
  }, 90_000);

  it('a number field takes only a number', async () => {
    await ui.stack.deploy(formFlow);
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${ns}/form/execute`));
    await page.locator('#input-count').fill('');
    await page.locator('#input-count').pressSequentially('1.5');
    await page.getByTestId('execute-submit').click();
    await expect.poll(() => page.getByTestId('error-count').textContent()).toBe('Must be a whole number.');
  });

  it('a flow without inputs runs in one click', async () => {
    await ui.stack.deploy(['id: plain', `namespace: ${ns}`, 'tasks:', '  - id: say', '    type: io.kestra.plugin.core.log.Log', '    message: plain'].join('\n'));
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${ns}/plain/execute`));
    await page.getByTestId('no-inputs').waitFor();
    await page.getByRole('button', { name: 'Execute', exact: true }).click();
    await page.waitForURL(/\/ui\/executions\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    expect((await ui.stack.waitFor(id)).flowId).toBe('plain');
  });

  it('a disabled flow says so and cannot be executed', async () => {
    await ui.stack.deploy(['id: off', `namespace: ${ns}`, 'disabled: true', 'tasks:', '  - id: say', '    type: io.kestra.plugin.core.log.Log', '    message: off'].join('\n'));
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${ns}/off/execute`));
    await expect.poll(() => page.getByTestId('flow-blocked').textContent()).toContain('This flow is disabled.');
    expect(await page.getByTestId('execute-submit').isDisabled()).toBe(true);
  });

  it('an unknown flow says so', async () => {
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${ns}/nope/execute`));
    await page.getByRole('heading', { name: 'No such flow' }).waitFor();
  });
});
