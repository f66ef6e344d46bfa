import { randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useUi } from './browser.js';
import type { Page } from './browser.js';

// A newcomer's path through the UI, in one browser page, on `sluice server local` (issue #19, "One journey test"):
// write a flow in the editor with an error and see it at its line; fix it and save; execute it with inputs and a FILE
// upload; watch the Gantt chart and the logs move until SUCCESS; open the topology; download an output file and check
// its bytes; kill a long execution; restart a failed one. Nothing goes through the API but the checks of what the UI
// did (and the shell gate the test opens to let a task go on).
const NS = 'journey';
const poll = <T>(read: () => Promise<T> | T, timeout = 20_000) => expect.poll(read, { timeout, interval: 100 });

const editorStatus = (page: Page): Promise<string | null> => page.getByTestId('editor-status').textContent();
const executionState = (page: Page): Promise<string | null> => page.getByTestId('execution-state').getAttribute('data-state');
const rowState = (page: Page, taskId: string): Promise<string | null> =>
  page.locator(`[data-testid="gantt-row"][data-task-id="${taskId}"]`).first().getAttribute('data-state', { timeout: 1000 }).catch(() => null);

async function setDocument(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

/** The execution id of the page the browser is on (`/ui/executions/{id}[/tab]`). */
function executionIdOf(page: Page): string {
  const match = /\/ui\/executions\/([^/?#]+)/.exec(new URL(page.url()).pathname);
  if (!match) throw new Error(`not on an execution page: ${page.url()}`);
  return decodeURIComponent(match[1]!);
}

describe('a newcomer writes, runs and watches a flow in the UI', () => {
  const ui = useUi();

  it('editor → save → execute with a file → live Gantt and logs → topology → output download → kill → restart', async () => {
    const gate = join(tmpdir(), `sluice-journey-${randomUUID()}`);
    const page = await ui.page();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      // The server's root opens the flows page; with no flow yet, it says how to make one.
      await page.goto(ui.stack.url);
      await page.waitForURL(/\/ui\/flows$/);
      await page.getByTestId('flows-empty').waitFor();
      await page.getByRole('link', { name: /create (a )?flow/i }).first().click();
      await page.waitForURL(/\/ui\/flows\/new/);
      await page.locator('.cm-content').waitFor();

      // 1. A flow with an error on line 15 (a property the Commands task does not have).
      const flow = [
        'id: greet',
        `namespace: ${NS}`,
        'inputs:',
        '  - id: name',
        '    type: STRING',
        '    defaults: World',
        '  - id: data',
        '    type: FILE',
        'tasks:',
        '  - id: hello',
        '    type: io.kestra.plugin.core.log.Log',
        '    message: "Hello {{ inputs.name }}"',
        '  - id: report',
        '    type: io.kestra.plugin.scripts.shell.Commands',
        '    taskRunner:',
        '      type: io.kestra.plugin.core.runner.Process',
        '    inputFiles:',
        '      data.csv: "{{ inputs.data }}"',
        '    outputFiles:',
        '      - report.txt',
        '    commands:',
        `      - 'while [ ! -f ${gate} ]; do sleep 0.05; done'`,
        `      - 'for i in 1 2 3; do echo "step $i"; sleep 0.2; done'`,
        `      - 'printf "hello %s\\n" "{{ inputs.name }}" > report.txt; cat data.csv >> report.txt'`,
        '',
      ];
      const broken = [...flow];
      broken.splice(14, 0, '    shellColour: blue');
      await page.locator('input[name="namespace"]').fill(NS);
      await page.locator('input[name="id"]').fill('greet');
      await setDocument(page, broken.join('\n'));
      await poll(() => editorStatus(page)).toBe('1 problem');
      const problem = page.getByTestId('editor-problems').locator('li').first();
      expect(await problem.textContent()).toMatch(/^line 15, col 5.*shellColour/);
      expect(await page.locator('.cm-content > .cm-line').nth(14).locator('.cm-lintRange-error').count()).toBeGreaterThan(0);

      // 2. Fixed: valid; created (revision 1); then saved once more from the flow's editor (revision 2).
      await setDocument(page, flow.join('\n'));
      await poll(() => editorStatus(page)).toBe('Valid');
      await page.getByTestId('create-flow').click();
      await page.waitForURL(/\/ui\/flows\/journey\/greet\/editor$/);
      await page.locator('.cm-content').waitFor();
      const withDescription = ['id: greet', `namespace: ${NS}`, 'description: Greets, with a report file', ...flow.slice(2)].join('\n');
      await setDocument(page, withDescription);
      await poll(() => editorStatus(page)).toBe('Valid');
      await page.keyboard.press('Control+S');
      await page.getByText(/revision 2/i).first().waitFor();
      const stored = (await (await ui.stack.api(`/api/v1/flows/${NS}/greet?source=true`)).json()) as { revision: number; source: string };
      expect(stored.revision).toBe(2);
      expect(stored.source).toBe(withDescription);

      // 3. Execute with a typed input and a FILE upload: the page lands on the new execution.
      await page.getByTestId('execute-flow').click();
      await page.waitForURL(/\/ui\/flows\/journey\/greet\/execute$/);
      await page.locator('#input-name').fill('Ada');
      await page.locator('#input-data').setInputFiles({ name: 'data.csv', mimeType: 'text/csv', buffer: Buffer.from('x,y\n1,2\n') });
      await page.getByTestId('execute-submit').click();
      await page.waitForURL(/\/ui\/executions\/[^/]+$/);
      const id = executionIdOf(page);

      // 4. The Gantt chart moves: `report` waits on the gate, so the page is open while it runs.
      await poll(() => rowState(page, 'report')).toBe('RUNNING');
      expect(await rowState(page, 'hello')).toBe('SUCCESS');
      await writeFile(gate, 'go');
      await poll(() => executionState(page), 30_000).toBe('SUCCESS');
      expect(await rowState(page, 'report')).toBe('SUCCESS');
      // ... and the logs, the greeting and the steps the task printed.
      await page.getByRole('tab', { name: 'Logs' }).click();
      await page.waitForURL(new RegExp(`/ui/executions/${id}/logs$`));
      await page.getByTestId('log-line').filter({ hasText: 'Hello Ada' }).waitFor();
      await page.getByTestId('log-line').filter({ hasText: 'step 3' }).waitFor();

      // 5. The topology, coloured by the task runs' states.
      await page.getByRole('tab', { name: 'Topology' }).click();
      await page.getByTestId('topology-node').first().waitFor();
      await poll(() => page.getByTestId('topology-node').count()).toBeGreaterThanOrEqual(2);

      // 6. The output file, downloaded: its bytes are the report the task wrote.
      await page.getByRole('tab', { name: 'Outputs' }).click();
      const file = page.locator('[data-testid="file-value"]').filter({ hasText: 'report.txt' }).first();
      const [download] = await Promise.all([page.waitForEvent('download'), file.getByTestId('file-download-button').click()]);
      expect((await readFile((await download.path())!)).toString()).toBe('hello Ada\nx,y\n1,2\n');

      // 7. A long execution, started from its flow page and killed from its execution page.
      await ui.stack.deploy(`id: sleepy\nnamespace: ${NS}\ntasks:\n  - id: nap\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - sleep 120\n`);
      await page.goto(ui.url(`/flows/${NS}/sleepy/execute`));
      await page.getByTestId('execute-submit').click();
      await page.waitForURL(/\/ui\/executions\/[^/]+$/);
      const sleepy = executionIdOf(page);
      await poll(() => rowState(page, 'nap')).toBe('RUNNING');
      await page.getByTestId('action-kill').click();
      await page.getByTestId('confirm-dialog').getByRole('button', { name: 'Kill' }).click();
      await poll(() => executionState(page), 30_000).toBe('KILLED');
      expect((await ui.stack.get(sleepy)).state.current).toBe('KILLED');

      // 8. A failed execution, restarted from its page once the cause is fixed (the marker file).
      const marker = `${gate}.fixed`;
      await ui.stack.deploy(
        `id: flaky\nnamespace: ${NS}\ntasks:\n  - id: check\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - 'if [ -f ${marker} ]; then echo fixed; else echo broken >&2; exit 3; fi'\n`,
      );
      await page.goto(ui.url(`/flows/${NS}/flaky/execute`));
      await page.getByTestId('execute-submit').click();
      await page.waitForURL(/\/ui\/executions\/[^/]+$/);
      const flaky = executionIdOf(page);
      await poll(() => executionState(page), 30_000).toBe('FAILED');
      await writeFile(marker, 'ok');
      await page.getByTestId('action-restart').click();
      await page.getByTestId('confirm-dialog').getByRole('button', { name: 'Restart' }).click();
      await poll(() => executionState(page), 30_000).toBe('SUCCESS');
      expect((await ui.stack.get(flaky)).state.current).toBe('SUCCESS');
      await rm(marker, { force: true });

      // Every execution of the journey is in the executions list, with its state.
      await page.goto(ui.url(`/executions?namespace=${NS}`));
      for (const [execution, expected] of [
        [id, 'SUCCESS'],
        [sleepy, 'KILLED'],
        [flaky, 'SUCCESS'],
      ] as const) {
        await page.locator(`a[href="/ui/executions/${execution}"]`).first().waitFor();
        expect((await ui.stack.get(execution)).state.current).toBe(expected);
      }
      expect(pageErrors).toEqual([]);
    } finally {
      await rm(gate, { force: true });
    }
  }, 180_000);
});
