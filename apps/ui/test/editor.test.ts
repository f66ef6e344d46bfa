import { describe, expect, it } from 'vitest';
import { cursorContext, pathOf } from '../src/editor/yaml-context.js';
import { fillTemplate, TEMPLATES } from '../src/editor/templates.js';
import { pluginAt, scopeInfo } from '../src/editor/vocabulary.js';
import type { PluginListing } from '../src/types.js';
import { useUi } from './browser.js';
import type { Page } from './browser.js';

// The flow editor: the YAML context behind completion and the docs panel (pure), then in a real browser the new-flow
// page (templates, live validation at the exact line, create), the editor tab (save a revision, a refused save),
// autocompletion from GET /plugins and the docs panel.

/** The context at the `§` of `text`. */
function at(text: string) {
  const pos = text.indexOf('§');
  return cursorContext(text.slice(0, pos) + text.slice(pos + 1), pos);
}

const flowHead = 'id: f\nnamespace: ns\n';

describe('the YAML context of the cursor', () => {
  it('finds the task mapping around the cursor, its keys above and below, and its path', () => {
    const context = at(`${flowHead}tasks:\n  - id: a\n    type: x.Log\n    mes§\n    level: INFO\n  - id: b\n    type: x.Other\n`);
    expect(context.position).toMatchObject({ kind: 'key', prefix: 'mes' });
    expect(pathOf(context.scopes, 0)).toEqual(['tasks', '-']);
    expect([...context.scopes[0]!.keys.keys()]).toEqual(['id', 'type', 'level']);
    expect(context.scopes[0]!.keys.get('type')?.value).toBe('x.Log');
  });

  it('reads the compact list style, nested task lists and the root', () => {
    const compact = at(`${flowHead}tasks:\n- id: a\n  type: x.If\n  then:\n  - id: b\n    type: x.Log\n    §\n`);
    expect(pathOf(compact.scopes, 0)).toEqual(['tasks', '-', 'then', '-']);
    expect(compact.scopes[0]!.keys.get('id')?.value).toBe('b');
    const root = at(`${flowHead}tasks:\n- id: a\n  type: x.Log\n§\n`);
    expect(pathOf(root.scopes, 0)).toEqual([]);
    expect([...root.scopes[0]!.keys.keys()]).toEqual(['id', 'namespace', 'tasks']);
  });

  it('knows a type value from a key, a new list item, and skips block scalars', () => {
    const value = at(`${flowHead}tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.§\n`);
    expect(value.position).toMatchObject({ kind: 'value', key: 'type', prefix: 'io.kestra.plugin.core.log.' });
    const item = at(`${flowHead}tasks:\n  - id: a\n    type: x.Log\n  - ty§\n`);
    expect(item.position).toMatchObject({ kind: 'key', prefix: 'ty' });
    expect(pathOf(item.scopes, 0)).toEqual(['tasks', '-']);
    expect(item.scopes[0]!.keys.size).toBe(0);
    const script = at(`${flowHead}tasks:\n  - id: s\n    type: x.Script\n    script: |\n      echo "a: b"\n      ec§ho\n    timeout: PT1M\n`);
    expect(script.position.kind).toBe('none');
    expect(script.scopes.find((s) => s.kind === 'map')?.keys.get('type')?.value).toBe('x.Script');
    const runner = at(`${flowHead}tasks:\n  - id: s\n    type: x.Cmd\n    taskRunner:\n      type: §\n`);
    expect(pathOf(runner.scopes, 0)).toEqual(['tasks', '-', 'taskRunner']);
  });

  it('classifies scopes and finds the plugin under the cursor', () => {
    const plugins: PluginListing = {
      tasks: [{ type: 'x.Log', aliases: ['old.Log'], title: 'Log', schema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } }],
      triggers: [{ type: 'x.Schedule', aliases: [], title: 'Schedule', schema: { type: 'object', properties: { cron: { type: 'string' } }, required: ['cron'] } }],
      runners: [],
    };
    const trigger = at(`${flowHead}tasks:\n  - id: a\n    type: old.Log\ntriggers:\n  - id: t\n    type: x.Schedule\n    c§\n`);
    const info = scopeInfo(trigger, 0, plugins);
    expect(info.kind).toBe('trigger');
    expect(info.plugin?.type).toBe('x.Schedule');
    const text = `${flowHead}tasks:\n  - id: a\n    type: old.Log\n    message: hi\n`;
    expect(pluginAt(text, text.indexOf('hi'), plugins).plugin?.type).toBe('x.Log');
    expect(pluginAt(text, 2, plugins).plugin).toBeUndefined();
  });
});

/** The text of the CodeMirror document, line by line. */
const editorText = async (page: Page): Promise<string> => (await page.locator('.cm-content > .cm-line').allTextContents()).join('\n');

/** Replace the whole document, as a user selecting all and pasting. */
async function setDocument(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

async function expectStatus(page: Page, status: string): Promise<void> {
  await expect.poll(async () => page.getByTestId('editor-status').textContent(), { timeout: 15_000 }).toBe(status);
}

/** The problems list, once the validation has answered. */
async function problems(page: Page): Promise<string[]> {
  const list = page.getByTestId('editor-problems').locator('li');
  return list.allTextContents();
}

/** Whether CodeMirror shows an error lint range on 1-based line `line`. */
const lintOnLine = (page: Page, line: number): Promise<boolean> =>
  page.locator('.cm-content > .cm-line').nth(line - 1).locator('.cm-lintRange-error').count().then((n) => n > 0);

const NS = 'uieditor';

const logFlow = (id: string, message: string): string => `id: ${id}\nnamespace: ${NS}\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;

describe('the flow editor in a browser', () => {
  const ui = useUi();
  // Generous timeouts: the server and Chromium share the machine with builds and other suites.

  it('every template validates against this server', async () => {
    for (const template of TEMPLATES) {
      const response = await ui.stack.api('/api/v1/flows/validate', { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: fillTemplate(template, NS, template.flowId) });
      expect(response.status).toBe(200);
      const [result] = (await response.json()) as { problems: unknown[] }[];
      expect(result?.problems, template.id).toEqual([]);
    }
  }, 90_000);

  it('creates a flow from a template, showing a problem at its exact line until it is fixed', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/flows/new'));
    await page.locator('.cm-content').waitFor();
    await expectStatus(page, 'Valid');

    // The shell template, in the URL, with its Process task runner.
    await page.locator('[data-template="shell"]').click();
    await page.waitForURL(/template=shell/);
    await expect.poll(() => editorText(page)).toContain('type: io.kestra.plugin.core.runner.Process');
    await expectStatus(page, 'Valid');

    // Namespace and id: typed in the fields, written into the YAML.
    await page.locator('input[name="namespace"]').fill(NS);
    await page.locator('input[name="id"]').fill('from-template');
    await expect.poll(() => editorText(page)).toMatch(/^id: from-template\nnamespace: uieditor\n/);

    // An unknown property on line 8 and a task type no plugin has on line 10.
    const broken = [
      'id: from-template',
      `namespace: ${NS}`,
      '',
      'tasks:',
      '  - id: hello',
      '    type: io.kestra.plugin.core.log.Log',
      '    message: hi',
      '    colour: blue',
      '  - id: other',
      '    type: io.kestra.plugin.core.log.Nope',
      '',
    ].join('\n');
    await setDocument(page, broken);
    await expectStatus(page, '2 problems');
    const listed = await problems(page);
    expect(listed).toHaveLength(2);
    expect(listed.find((p) => p.includes('colour'))).toMatch(/^line 8, col 5/);
    expect(listed.find((p) => p.includes('io.kestra.plugin.core.log.Nope'))).toMatch(/^line 10, col 11/);
    expect(await lintOnLine(page, 8)).toBe(true);
    expect(await lintOnLine(page, 10)).toBe(true);
    expect(await lintOnLine(page, 7)).toBe(false);

    // A problem's line is a button that moves the cursor there.
    await page.getByTestId('editor-problems').getByRole('button', { name: /line 8/ }).click();
    await expect.poll(() => page.locator('.yaml-editor-position').textContent()).toBe('Ln 8, Col 5');

    // Fixed: valid, no list, no lint marker.
    const fixed = broken.replace('    colour: blue\n', '    level: WARN\n').replace('log.Nope', 'log.Log\n    message: second');
    await setDocument(page, fixed);
    await expectStatus(page, 'Valid');
    expect(await page.getByTestId('editor-problems').count()).toBe(0);
    expect(await page.locator('.cm-lintRange-error').count()).toBe(0);

    await page.getByTestId('create-flow').click();
    await page.waitForURL(/\/ui\/flows\/uieditor\/from-template\/editor$/);
    const stored = (await (await ui.stack.api(`/api/v1/flows/${NS}/from-template?source=true`)).json()) as { revision: number; source: string };
    expect(stored.revision).toBe(1);
    expect(stored.source).toBe(fixed);
    await expect.poll(() => editorText(page)).toBe(fixed);

    // Creating it again is a 409, shown readably; the text stays.
    const again = await ui.page();
    await again.goto(ui.url('/flows/new'));
    await again.locator('.cm-content').waitFor();
    await setDocument(again, fixed);
    await expectStatus(again, 'Valid');
    await again.getByTestId('create-flow').click();
    await again.getByRole('alert').getByText('A flow uieditor.from-template already exists').waitFor();
    expect(await editorText(again)).toBe(fixed);
  }, 90_000);

  it('saves an edited flow as a new revision, and keeps the text of a save the server refuses', async () => {
    await ui.stack.deploy(logFlow('edited', 'first'));
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/edited/editor`));
    await expect.poll(() => editorText(page)).toContain('message: first');
    await expectStatus(page, 'Valid');
    expect(await page.getByTestId('editor-revision').textContent()).toBe('Revision 1');

    const typed = logFlow('edited', 'second').replace('tasks:', 'labels:\n  team: data\n\ntasks:');
    await setDocument(page, typed);
    await page.getByTestId('editor-dirty').getByText('unsaved changes').waitFor();
    await expectStatus(page, 'Valid');
    await page.keyboard.press('Control+S');
    await page.getByTestId('editor-saved').getByText('Saved as revision 2').waitFor();
    expect(await page.getByTestId('editor-dirty').count()).toBe(0);
    const stored = (await (await ui.stack.api(`/api/v1/flows/${NS}/edited?source=true`)).json()) as { revision: number; source: string; labels: unknown };
    expect(stored.revision).toBe(2);
    expect(stored.source).toBe(typed);
    expect(stored.labels).toEqual([{ key: 'team', value: 'data' }]);

    // Refused: an unknown task type. The server's problem is shown in place, nothing is lost or saved.
    const invalid = typed.replace('core.log.Log', 'core.log.Missing');
    await setDocument(page, invalid);
    await page.getByTestId('editor-save').click();
    const alert = page.getByRole('alert').filter({ hasText: 'The server refused the flow' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain('io.kestra.plugin.core.log.Missing');
    await expect.poll(async () => (await problems(page)).join('\n')).toMatch(/line 9, col 11.*io\.kestra\.plugin\.core\.log\.Missing/);
    expect(await lintOnLine(page, 9)).toBe(true);
    expect(await editorText(page)).toBe(invalid);
    await page.getByTestId('editor-dirty').waitFor();
    const after = (await (await ui.stack.api(`/api/v1/flows/${NS}/edited`)).json()) as { revision: number };
    expect(after.revision).toBe(2);
  }, 90_000);

  it('completes task types from GET /plugins and shows the docs of the task under the cursor', async () => {
    await ui.stack.deploy(logFlow('completed', 'hello'));
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/completed/editor`));
    await expect.poll(() => editorText(page)).toContain('message: hello');

    // The cursor on the root: no task.
    await page.locator('.cm-content > .cm-line').nth(0).click();
    await page.getByTestId('editor-docs').getByText('No task under the cursor').waitFor();

    // The cursor in the Log task: its docs, with the message property.
    await page.locator('.cm-content > .cm-line').nth(6).click();
    const docs = page.getByTestId('editor-docs');
    await docs.getByText('io.kestra.plugin.core.log.Log', { exact: true }).waitFor();
    const message = docs.locator('[data-property="message"]');
    expect(await message.textContent()).toContain('required');
    expect(await docs.locator('[data-property="level"]').count()).toBe(1);

    // A new task typed at the end: its type completed.
    await page.keyboard.press('Control+End');
    await page.keyboard.insertText('  - id: second\n    type: ');
    await page.keyboard.type('io.kestra.plugin.core.log.');
    const options = page.locator('.cm-tooltip-autocomplete li');
    await options.first().waitFor();
    const labels = await options.locator('.cm-completionLabel').allTextContents();
    expect(labels).toContain('io.kestra.plugin.core.log.Log');
    expect(labels.every((label) => label.startsWith('io.kestra.plugin.core.log.'))).toBe(true);
    await page.locator('.cm-tooltip-autocomplete li', { hasText: /^io\.kestra\.plugin\.core\.log\.Log/ }).click();
    await expect.poll(() => editorText(page)).toContain('    type: io.kestra.plugin.core.log.Log\n');

    // Then its properties: message first (required), with what it is.
    await page.keyboard.press('End');
    await page.keyboard.insertText('\n    me');
    await page.keyboard.type('s');
    const property = page.locator('.cm-tooltip-autocomplete li').first();
    await property.waitFor();
    expect(await property.textContent()).toMatch(/^message/);
    // (a click: CodeMirror ignores Enter in the first 75 ms of a completion list, against accidental accepts)
    await property.click();
    await page.keyboard.insertText('from completion');
    await expect.poll(() => editorText(page)).toContain('    message: from completion');
    await expectStatus(page, 'Valid');
  }, 90_000);

  it('drops a validation answer that arrives after a newer one', async () => {
    const page = await ui.page();
    await page.goto(ui.url('/flows/new'));
    await page.locator('.cm-content').waitFor();
    await expectStatus(page, 'Valid');

    // The answer for the first text is held until the second text has been checked, and then says something else.
    let held: (() => void) | undefined;
    const heldSeen = new Promise<void>((resolve) => {
      held = resolve;
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let lateAnswer: Promise<unknown> = Promise.resolve();
    await page.route('**/api/v1/flows/validate', async (route) => {
      if ((route.request().postData() ?? '').includes('first-text')) {
        held?.();
        await released;
        lateAnswer = route
          .fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify([{ index: 0, problems: [{ code: 'X', message: 'a stale answer', path: '', line: 1, column: 1 }] }]) })
          .catch(() => undefined);
        return;
      }
      await route.continue();
    });
    await setDocument(page, logFlow('stale', 'first-text'));
    await heldSeen;
    await setDocument(page, logFlow('stale', 'second text'));
    await expectStatus(page, 'Valid');
    release();
    await lateAnswer;
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 50)))');
    expect(await page.getByTestId('editor-status').textContent()).toBe('Valid');
    expect(await page.getByText('a stale answer').count()).toBe(0);
  }, 90_000);
});
