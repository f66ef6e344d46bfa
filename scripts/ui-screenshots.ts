/**
 * `npm run docs:ui-screenshots`: a PNG of every page of the web UI in docs/ui/, taken from a real `sluice server local`
 * (a fresh database on the test Postgres, scripts/services.sh) in headless Chromium (Debian's chromium package,
 * SLUICE_CHROMIUM to use another). It deploys a few flows, runs them (one succeeds, one fails, one is paused, one is
 * ETL-like with several tasks, loop iterations and an output file), then opens each page at 1440×900, light theme,
 * and the execution page once more in the dark theme. Needs a built UI (npm run build).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Page } from 'playwright-core';
import { createTestDatabase } from '@sluice/testing';

const out = fileURLToPath(new URL('../docs/ui/', import.meta.url));
const uiDist = fileURLToPath(new URL('../apps/ui/dist', import.meta.url));
const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const NS = 'company.analytics';

const process_ = (id: string, commands: string[], indent = '  '): string =>
  [`- id: ${id}`, '  type: io.kestra.plugin.scripts.shell.Commands', '  taskRunner:', '    type: io.kestra.plugin.core.runner.Process', '  commands:', ...commands.map((c) => `    - ${JSON.stringify(c)}`)]
    .map((line) => indent + line)
    .join('\n');

const FLOWS = [
  `id: daily_sales
namespace: ${NS}
description: Pulls the day's orders, checks them region by region, and writes a summary file.
labels:
  team: analytics
  tier: gold
inputs:
  - id: day
    type: DATE
    defaults: 2026-12-05
  - id: regions
    type: MULTISELECT
    values: [eu, us, asia]
    defaults: [eu, us, asia]
  - id: threshold
    type: FLOAT
    defaults: 0.95
    description: The share of valid rows below which the run fails.
  - id: notify
    type: BOOLEAN
    defaults: true
tasks:
  - id: start
    type: io.kestra.plugin.core.log.Log
    message: "Sales for {{ inputs.day }}: {{ inputs.regions | length }} regions"
${process_('extract', ['for i in 1 2 3 4 5; do echo "extracted batch $i"; sleep 0.3; done'])}
  - id: per_region
    type: io.kestra.plugin.core.flow.ForEach
    values: ["eu", "us", "asia"]
    tasks:
${process_('check', ['echo "checking {{ taskrun.value }}"; sleep 0.4; echo "{{ taskrun.value }}: 0.98 valid"'], '      ')}
${process_('summary', ['printf "region,valid\\neu,0.98\\nus,0.97\\nasia,0.99\\n" > summary.csv', 'echo "summary written"'])}
    outputFiles:
      - summary.csv
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: Summary ready
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
`,
  `id: load_warehouse
namespace: ${NS}
description: Loads the warehouse; fails when the upstream export is missing.
labels:
  team: analytics
tasks:
${process_('load', ['echo "connecting to the warehouse"', 'echo "export not found: /exports/today.parquet" >&2', 'exit 2'])}
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: "Load failed: {{ execution.id }}"
`,
  `id: approve_release
namespace: company.platform
description: Waits for a person to approve, then releases.
tasks:
  - id: approval
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: true
      - id: reason
        type: STRING
  - id: release
    type: io.kestra.plugin.core.log.Log
    message: "Released: {{ outputs.approval.onResume.reason }}"
`,
  `id: hello
namespace: tutorial
description: The first flow of the README's quick start.
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello from Sluice, execution {{ execution.id }}"
${process_('where', ['echo "running on $(hostname) as $(id -un)"'])}
`,
];

async function main(): Promise<void> {
  const database = await createTestDatabase('sluice_shots');
  if (!database) throw new Error('no test Postgres: run scripts/services.sh');
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-shots-'));
  const io = { stdout: () => undefined, stderr: (t: string) => process.stderr.write(`${t}\n`) };
  // What `sluice server local` runs, in this process (as bench/triggers.bench.ts starts it).
  const { startLocalServer } = await import('../apps/cli/src/commands/server.js');
  const server = await startLocalServer({ port: 0, host: '127.0.0.1', dataDir }, { ...process.env, DATABASE_URL: database.url, SLUICE_UI_DIR: uiDist }, io);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const response = await fetch(`${server.url}/api/v1${path}`, init);
      if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    };
    for (const flow of FLOWS) await api('/flows', { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: flow });
    // A second revision, so the revisions tab has a diff to show.
    await api(`/flows/${NS}/load_warehouse`, { method: 'PUT', headers: { 'content-type': 'application/x-yaml' }, body: FLOWS[1]!.replace('description: Loads the warehouse;', 'description: Loads the warehouse nightly;') });
    const run = (ns: string, id: string, wait = true) => api<{ id: string; state: { current: string } }>(`/executions/${ns}/${id}${wait ? '?wait=true' : ''}`, { method: 'POST', body: new FormData() });
    await run('tutorial', 'hello');
    await run(NS, 'load_warehouse');
    const sales = [await run(NS, 'daily_sales'), await run(NS, 'daily_sales'), await run(NS, 'daily_sales')];
    const failed = await run(NS, 'load_warehouse');
    const paused = await run('company.platform', 'approve_release', false);
    const main = sales.at(-1)!;

    await mkdir(out, { recursive: true });
    const shots: [string, string, (page: Page) => Promise<void>][] = [
      ['flows', '/flows', (p) => p.getByTestId('flow-row').first().waitFor()],
      ['flow-overview', `/flows/${NS}/daily_sales/overview`, (p) => p.getByTestId('overview-stats').waitFor()],
      ['flow-topology', `/flows/${NS}/daily_sales/topology`, (p) => p.getByTestId('topology-node').first().waitFor()],
      ['flow-editor', `/flows/${NS}/daily_sales/editor`, (p) => p.getByTestId('editor-status').filter({ hasText: 'Valid' }).waitFor()],
      ['flow-revisions', `/flows/${NS}/load_warehouse/revisions`, (p) => p.getByTestId('line-diff').waitFor()],
      ['flow-triggers', `/flows/${NS}/daily_sales/triggers`, (p) => p.getByTestId('trigger-row').first().waitFor()],
      ['execute', `/flows/${NS}/daily_sales/execute`, (p) => p.getByTestId('execute-form').waitFor()],
      ['executions', '/executions', (p) => p.getByTestId('execution-row').first().waitFor()],
      ['execution', `/executions/${main.id}/gantt`, (p) => p.getByTestId('gantt-row').first().waitFor()],
      ['execution-logs', `/executions/${main.id}/logs`, (p) => p.getByTestId('log-line').first().waitFor()],
      ['execution-topology', `/executions/${main.id}/topology`, (p) => p.getByTestId('topology-node').first().waitFor()],
      ['execution-outputs', `/executions/${main.id}/outputs`, (p) => p.getByTestId('task-outputs').waitFor()],
      ['execution-failed', `/executions/${failed.id}/gantt`, (p) => p.getByTestId('gantt-row').first().waitFor()],
      ['execution-paused', `/executions/${paused.id}/gantt`, (p) => p.getByTestId('action-resume').waitFor()],
      ['logs', '/logs?q=region', (p) => p.getByTestId('log-row').first().waitFor()],
    ];
    const take = async (name: string, path: string, ready: (page: Page) => Promise<void>, colorScheme: 'light' | 'dark' = 'light'): Promise<void> => {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme, deviceScaleFactor: 1 });
      try {
        const page = await context.newPage();
        await page.goto(`${server.url}/ui${path}`);
        await ready(page);
        // Let layout work (the topology's, run in a worker) and fonts settle.
        await page.waitForTimeout(800);
        await page.screenshot({ path: join(out, `${name}.png`) });
        console.log(`docs/ui/${name}.png  ${path}`);
      } finally {
        await context.close();
      }
    };
    for (const [name, path, ready] of shots) await take(name, path, ready);
    await take('execution-dark', `/executions/${main.id}/gantt`, (p) => p.getByTestId('gantt-row').first().waitFor(), 'dark');
    // The sign-in page, as a server with SLUICE_API_TOKEN shows it: every API call answered 401.
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.route('**/api/v1/**', (route) => route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ code: 'SLU_API_UNAUTHORIZED', message: 'unauthorized', details: [] }) }));
    await page.goto(`${server.url}/ui/flows`);
    await page.getByRole('heading', { name: /sign in to sluice/i }).waitFor();
    await page.screenshot({ path: join(out, 'signin.png') });
    console.log('docs/ui/signin.png  (API answering 401)');
    await context.close();
  } finally {
    await browser.close();
    await server.close();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
