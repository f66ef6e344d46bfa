/**
 * The web UI (issue #19, "Measured goals"), each figure beside a baseline measured in the same run:
 *
 * 1. **Sizes.** From the build's manifest (apps/ui/dist/.vite/manifest.json): for every page, the JavaScript and CSS it
 *    loads when it is opened first (the entry's chunks, then the page's own and their static imports), raw, gzip -9 and
 *    brotli -11 (the copies the API serves). Goal: the flows page's initial JavaScript ≤ 300 KB gzipped. Baseline:
 *    the smallest React app (createRoot and one element), built by the same Vite in a scratch folder.
 * 2. **Cold load of the flows page** (`--loads`, default 10), each in a fresh browser context (empty cache), on
 *    loopback, with `--flows` flows stored (default 200): the browser's navigation timing (response end, DOM content
 *    loaded, load event) and the time from the navigation's start until the first flow row is in the page and painted
 *    (a MutationObserver installed before the page's scripts, then the next animation frame). Goal: ≤ 1 s. Baseline:
 *    the same browser, cold, loading `/health` (a JSON document from the same server: the browser's own floor).
 * 3. **The execution page at scale.** One RUNNING execution with `--runs` task runs (default 10,000: ForEach-style
 *    iterations under one parent) and `--lines` log lines (default 100,000), written straight to the database; the API
 *    runs without a scheduler, so nothing moves but what the bench writes. Measured: the time until the Gantt's rows
 *    and the logs' lines first show; then `--rate` new lines per second (default 50) for `--seconds` (default 20),
 *    each written with a sequence number; in the page, each line's arrival in the SSE stream (the response body read
 *    through a tee installed before the page's scripts) and the frame in which it is painted. Reported: SSE event →
 *    paint (p50/p95/max), database insert → paint, and the long tasks (> 50 ms) the main thread ran meanwhile.
 *    Baseline: the same stream of lines into a bare page that reads it the same way (`GET /logs/{id}`, then the follow
 *    with `?skip=`) and shows the last 50 lines' text in a <pre> (no React, no list).
 *
 * Needs: the test Postgres (scripts/services.sh, or SLUICE_TEST_DATABASE_URL), Debian's chromium (SLUICE_CHROMIUM), and
 * a built UI (npm run build).
 *
 *   npm run bench:ui -- [--loads 10] [--flows 200] [--runs 10000] [--lines 100000] [--rate 50] [--seconds 20]
 *
 * A benchmark, not a test: nothing is asserted on time.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import pg from 'pg';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { buildApi, migrationsDir, readEnv } from '@sluice/api';
import { createDb, migrate } from '@sluice/db';
import { createInProcessQueue } from '@sluice/queue';
import { LocalFileStorage } from '@sluice/storage';
import { admin, adminUrl } from './admin.js';

const { values: args } = parseArgs({
  options: {
    loads: { type: 'string', default: '10' },
    flows: { type: 'string', default: '200' },
    runs: { type: 'string', default: '10000' },
    lines: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
  },
});
const LOADS = Number(args.loads);
const FLOWS = Number(args.flows);
const RUNS = Number(args.runs);
const LINES = Number(args.lines);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const dist = fileURLToPath(new URL('../apps/ui/dist', import.meta.url));

// Selectors the pages carry for tests and this bench.
const FLOW_ROW = '[data-testid="flow-row"]';
const GANTT_ROW = '[data-testid="gantt-row"]';
const LOG_LINE = '[data-testid="log-line"]';

// ---- statistics ----------------------------------------------------------------------------------------------------

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const kb = (bytes: number): string => (bytes / 1024).toFixed(1);
const log = (line: string): void => console.log(line);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- 1. sizes ------------------------------------------------------------------------------------------------------

interface ManifestChunk {
  file: string;
  src?: string;
  isEntry?: boolean;
  isDynamicEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
}

interface Size {
  raw: number;
  gz: number;
  br: number;
}

function sizeOf(files: Iterable<string>): Size {
  const total: Size = { raw: 0, gz: 0, br: 0 };
  for (const file of files) {
    const data = readFileSync(join(dist, file));
    total.raw += data.length;
    total.gz += gzipSync(data, { level: 9 }).length;
    total.br += brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  return total;
}

async function sizes(): Promise<{ flowsInitialGz: number }> {
  const manifestPath = join(dist, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} is missing: run "npm run build" first`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, ManifestChunk>;
  /** The chunk `key` and every chunk it imports statically (what loading it fetches), as manifest keys. */
  const closure = (key: string, into = new Set<string>()): Set<string> => {
    if (into.has(key)) return into;
    into.add(key);
    for (const imported of manifest[key]?.imports ?? []) closure(imported, into);
    return into;
  };
  const files = (keys: Iterable<string>, kind: 'js' | 'css'): Set<string> => {
    const out = new Set<string>();
    for (const key of keys) {
      const chunk = manifest[key];
      if (!chunk) continue;
      if (kind === 'js') out.add(chunk.file);
      else for (const css of chunk.css ?? []) out.add(css);
    }
    return out;
  };
  const entry = Object.keys(manifest).find((key) => manifest[key]?.isEntry);
  if (!entry) throw new Error('no entry in the manifest');
  const shell = closure(entry);
  // A page module is keyed by its source path, or (Vite does so for some) by its chunk's name: `_Execution-<hash>.js`.
  const pageName = (key: string): string | undefined => /^src\/pages\/([^/]+)\.tsx$/.exec(key)?.[1] ?? /^_([A-Z][A-Za-z]+)-[\w-]+\.js$/.exec(key)?.[1];
  const pages = Object.keys(manifest)
    .filter((key) => manifest[key]?.isDynamicEntry && pageName(key) !== undefined)
    .sort((a, b) => (pageName(a) ?? '').localeCompare(pageName(b) ?? ''));

  log('');
  log('## 1. What each page loads when it is opened first (KB; gzip -9 and brotli -11 are what the API sends)');
  log('');
  log('| page (module) | JS files | JS raw | JS gzip | JS brotli | CSS gzip |');
  log('|---|---|---|---|---|---|');
  const shellJs = sizeOf(files(shell, 'js'));
  const shellCss = sizeOf(files(shell, 'css'));
  // The flows page, the landing page, is in the entry chunk (apps/ui/src/App.tsx) unless it is a page chunk of its own.
  const flowsInEntry = !pages.some((page) => pageName(page) === 'Flows');
  log(`| ${flowsInEntry ? 'shell with the flows page' : 'shell only'} (${entry}) | ${files(shell, 'js').size} | ${kb(shellJs.raw)} | ${kb(shellJs.gz)} | ${kb(shellJs.br)} | ${kb(shellCss.gz)} |`);
  let flowsInitialGz = flowsInEntry ? shellJs.gz : NaN;
  for (const page of pages) {
    const keys = closure(page, new Set(shell));
    const js = sizeOf(files(keys, 'js'));
    const css = sizeOf(files(keys, 'css'));
    if (pageName(page) === 'Flows') flowsInitialGz = js.gz;
    log(`| pages/${pageName(page) ?? page}.tsx | ${files(keys, 'js').size} | ${kb(js.raw)} | ${kb(js.gz)} | ${kb(js.br)} | ${kb(css.gz)} |`);
  }
  // Chunks loaded later, on demand (a tab, the editor, the topology).
  const later = Object.keys(manifest).filter((key) => manifest[key]?.isDynamicEntry && !pages.includes(key));
  for (const key of later.sort()) {
    const own = new Set([...closure(key)].filter((k) => !shell.has(k)));
    const js = sizeOf(files(own, 'js'));
    log(`| + ${key.replace(/^src\//, '').replace(/^.*node_modules\//, '')} (on demand) | ${files(own, 'js').size} | ${kb(js.raw)} | ${kb(js.gz)} | ${kb(js.br)} | ${kb(sizeOf(files(own, 'css')).gz)} |`);
  }
  log('');
  log(`Every chunk: ${Object.keys(manifest).length} manifest entries; total JS ${kb(sizeOf(new Set(Object.values(manifest).map((c) => c.file).filter((f) => f.endsWith('.js')))).gz)} KB gzip.`);
  // Baseline: the smallest React app (createRoot, one element), built by the same Vite with the same target.
  const react = await bareReactApp();
  log(`Baseline: the smallest React 19 app built the same way (createRoot, one element): ${kb(react.raw)} KB raw, ${kb(react.gz)} KB gzip.`);
  log(`Goal: the flows page's initial JS ≤ 300 KB gzip: **${kb(flowsInitialGz)} KB**.`);
  return { flowsInitialGz };
}

/** Build a one-element React app with Vite into a scratch folder under node_modules/.cache; its JS size. */
async function bareReactApp(): Promise<Size> {
  const { build } = await import('vite');
  const root = fileURLToPath(new URL('../node_modules/.cache/sluice-bench-react/', import.meta.url));
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="./main.js"></script>');
  await writeFile(join(root, 'main.js'), "import { createElement } from 'react';\nimport { createRoot } from 'react-dom/client';\ncreateRoot(document.getElementById('root')).render(createElement('p', null, 'hello'));\n");
  await build({ root, logLevel: 'silent', configFile: false, build: { outDir: join(root, 'dist'), target: 'es2022', reportCompressedSize: false } });
  const assets = join(root, 'dist', 'assets');
  const size: Size = { raw: 0, gz: 0, br: 0 };
  for (const name of await readdir(assets)) {
    if (!name.endsWith('.js')) continue;
    const data = readFileSync(join(assets, name));
    size.raw += data.length;
    size.gz += gzipSync(data, { level: 9 }).length;
    size.br += brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  await rm(root, { recursive: true, force: true });
  return size;
}

// ---- services ------------------------------------------------------------------------------------------------------

async function startApi(): Promise<{ url: string; databaseUrl: string; close(): Promise<void> }> {
  const name = `sluice_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE "${name}"`);
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${name}`;
  const databaseUrl = dbUrl.toString();
  await migrate({ databaseUrl, migrationsDir });
  const db = createDb({ databaseUrl });
  const queue = createInProcessQueue();
  const storageDir = await mkdtemp(join(tmpdir(), 'sluice-bench-ui-'));
  const env = readEnv({ SLUICE_UI_DIR: dist } as NodeJS.ProcessEnv);
  const app = buildApi(env, db, queue, new LocalFileStorage({ root: storageDir }), false);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    databaseUrl,
    async close() {
      await app.close();
      await queue.close();
      await db.close();
      await rm(storageDir, { recursive: true, force: true });
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

// ---- 2. cold load of the flows page --------------------------------------------------------------------------------

/** Installed before any script of the page: note when `selector` first matches, then when that frame is painted. */
const firstShownScript = (selector: string): string => `
  window.__shown = undefined;
  new MutationObserver((_, observer) => {
    if (window.__shown === undefined && document.querySelector(${JSON.stringify(selector)})) {
      observer.disconnect();
      const inDom = performance.now();
      requestAnimationFrame(() => setTimeout(() => { window.__shown = { inDom, painted: performance.now() }; }, 0));
    }
  }).observe(document, { childList: true, subtree: true });`;

interface LoadFigures {
  /** What the page fetched: path, start and end (ms from navigation start). */
  resources: { name: string; start: number; end: number }[];
  responseEnd: number;
  domContentLoaded: number;
  loadEvent: number;
  /** When the first row was in the DOM (before its frame was painted). */
  inDom: number;
  shown: number;
}

async function coldLoad(browser: Browser, url: string, selector: string | undefined): Promise<LoadFigures> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    if (selector) await page.addInitScript(firstShownScript(selector));
    await page.goto(url, { waitUntil: 'load' });
    let shown = NaN;
    let inDom = NaN;
    if (selector) {
      await page.waitForFunction('window.__shown !== undefined', undefined, { timeout: 30_000, polling: 10 });
      shown = await page.evaluate<number>('window.__shown.painted');
      inDom = await page.evaluate<number>('window.__shown.inDom');
    }
    const nav = await page.evaluate<{ responseEnd: number; domContentLoadedEventEnd: number; loadEventEnd: number }>(
      'JSON.parse(JSON.stringify(performance.getEntriesByType("navigation")[0]))',
    );
    const resources = await page.evaluate<{ name: string; start: number; end: number }[]>(
      'performance.getEntriesByType("resource").map((e) => ({ name: new URL(e.name).pathname + new URL(e.name).search, start: e.startTime, end: e.responseEnd }))',
    );
    return { resources, inDom: selector ? inDom : nav.loadEventEnd, responseEnd: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd, loadEvent: nav.loadEventEnd, shown: selector ? shown : nav.loadEventEnd };
  } finally {
    await context.close();
  }
}

async function coldLoads(browser: Browser, url: string): Promise<void> {
  // Seed the flows through the API, as a user would have them.
  for (let i = 0; i < FLOWS; i++) {
    const namespace = `bench.team${i % 10}`;
    const yaml = `id: flow_${String(i).padStart(4, '0')}\nnamespace: ${namespace}\ndescription: Flow number ${i}\nlabels:\n  team: t${i % 10}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello ${i}\n`;
    const response = await fetch(`${url}/api/v1/flows`, { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: yaml });
    if (!response.ok) throw new Error(`seeding flow ${i}: ${response.status} ${await response.text()}`);
  }
  // One warm-up of each (the server's first requests compile routes and fill caches), not counted.
  await coldLoad(browser, `${url}/ui/flows`, FLOW_ROW);
  await coldLoad(browser, `${url}/health`, undefined);
  const flows: LoadFigures[] = [];
  const floor: LoadFigures[] = [];
  for (let i = 0; i < LOADS; i++) {
    floor.push(await coldLoad(browser, `${url}/health`, undefined));
    flows.push(await coldLoad(browser, `${url}/ui/flows`, FLOW_ROW));
  }
  log('');
  log(`## 2. Cold load of the flows page (${LOADS} loads, each in a fresh browser context, ${FLOWS} flows stored), ms from navigation start`);
  log('');
  log('| page | response end p50 | DOM content loaded p50 | load event p50 | first row in the DOM p50 | list shown p50 | list shown p95 | list shown max |');
  log('|---|---|---|---|---|---|---|---|');
  const row = (name: string, xs: LoadFigures[]): void =>
    log(`| ${name} | ${f0(pct(xs.map((x) => x.responseEnd), 50))} | ${f0(pct(xs.map((x) => x.domContentLoaded), 50))} | ${f0(pct(xs.map((x) => x.loadEvent), 50))} | ${f0(pct(xs.map((x) => x.inDom), 50))} | ${f0(pct(xs.map((x) => x.shown), 50))} | ${f0(pct(xs.map((x) => x.shown), 95))} | ${f0(Math.max(...xs.map((x) => x.shown)))} |`);
  row('baseline: `/health` (JSON, same server; "shown" = load event)', floor);
  row('`/ui/flows`: first flow row painted', flows);
  const median = [...flows].sort((a, b) => a.shown - b.shown)[Math.floor(flows.length / 2)];
  if (median) {
    log('');
    log(`The median load's requests (ms from navigation start; the list was painted at ${f0(median.shown)}):`);
    log('');
    for (const r of median.resources.sort((a, b) => a.start - b.start)) log(`- ${f0(r.start)} → ${f0(r.end)} \`${r.name.length > 90 ? `${r.name.slice(0, 90)}…` : r.name}\``);
  }
  log('');
  log(`Goal: list shown ≤ 1000 ms: **p50 ${f0(pct(flows.map((x) => x.shown), 50))} ms, max ${f0(Math.max(...flows.map((x) => x.shown)))} ms**.`);
}

// ---- 3. the execution page at scale --------------------------------------------------------------------------------

/** Write one RUNNING execution with RUNS task runs (one parent, RUNS - 1 iterations under it) and LINES log lines. */
async function seedBigExecution(databaseUrl: string): Promise<{ id: string; runIds: string[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const id = `bench${randomBytes(8).toString('hex')}`;
    const now = Date.now();
    const started = new Date(now - 3600_000).toISOString();
    await client.query(
      `INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, inputs, labels, start_date, updated_at, version)
       VALUES ($1, 'bench.big', 'big', 1, 'RUNNING', $2::jsonb, '{}'::jsonb, '[]'::jsonb, $3, now(), 1)`,
      [id, JSON.stringify([{ state: 'CREATED', date: started }, { state: 'RUNNING', date: started }]), started],
    );
    const runIds: string[] = [];
    const parent = `${id}_p`;
    const rows: unknown[][] = [];
    for (let i = 0; i < RUNS; i++) {
      const runId = i === 0 ? parent : `${id}_${i}`;
      runIds.push(runId);
      const start = new Date(now - 3600_000 + i * 300).toISOString();
      const end = new Date(now - 3600_000 + i * 300 + 250).toISOString();
      const done = i > 0 && i < RUNS - 50;
      const state = i === 0 ? 'RUNNING' : done ? 'SUCCESS' : 'RUNNING';
      const history = done ? [{ state: 'CREATED', date: start }, { state: 'RUNNING', date: start }, { state: 'SUCCESS', date: end }] : [{ state: 'CREATED', date: start }, { state: 'RUNNING', date: start }];
      rows.push([runId, id, i === 0 ? 'each' : 'work', i === 0 ? null : parent, i === 0 ? null : `item-${i}`, state, JSON.stringify(history), JSON.stringify([{ state: { current: state, histories: history } }]), start, done ? end : null]);
    }
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      const values = batch.map((_, j) => `($${j * 10 + 1}, $${j * 10 + 2}, $${j * 10 + 3}, $${j * 10 + 4}, $${j * 10 + 5}, $${j * 10 + 6}, $${j * 10 + 7}::jsonb, $${j * 10 + 8}::jsonb, $${j * 10 + 9}, $${j * 10 + 10}, now())`).join(', ');
      await client.query(`INSERT INTO task_runs (id, execution_id, task_id, parent_task_run_id, value, state, state_history, attempts, start_date, end_date, updated_at) VALUES ${values}`, batch.flat());
    }
    const levels = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN'];
    for (let i = 0; i < LINES; i += 5000) {
      const count = Math.min(5000, LINES - i);
      await client.query(
        `INSERT INTO logs (execution_id, namespace, flow_id, task_id, task_run_id, attempt_number, level, message, timestamp)
         SELECT $1, 'bench.big', 'big', 'work', $2 || '_' || (1 + (n % $5)), 1, ($3::text[])[1 + n % 5], 'seeded line ' || n || ' of the big execution', to_timestamp($4::double precision / 1000 + n * 0.01)
           FROM generate_series($6::int, $6::int + $7::int - 1) AS n`,
        [id, id, levels, now - 3600_000, RUNS - 1, i, count],
      );
    }
    return { id, runIds };
  } finally {
    await client.end();
  }
}

/**
 * Installed before the page's scripts: tees every follow stream's body to note when each `bench line N` arrives, and
 * notes the frame each `bench line N` row is painted in; counts long tasks.
 */
const streamProbeScript = `
  window.__arrived = {}; window.__painted = {}; window.__longTasks = [];
  try { new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: false }); } catch {}
  const originalFetch = window.fetch;
  window.fetch = async (...args) => {
    const response = await originalFetch(...args);
    const url = String(args[0] && args[0].url ? args[0].url : args[0]);
    if (!url.includes('/follow') || !response.body) return response;
    if (url.includes('/logs/')) window.__logFollowOpen = true;
    const [mine, theirs] = response.body.tee();
    (async () => {
      const reader = mine.pipeThrough(new TextDecoderStream()).getReader();
      let carry = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const now = performance.now();
        carry += value;
        for (const m of carry.matchAll(/bench line (\\d+)\\b/g)) if (window.__arrived[m[1]] === undefined) window.__arrived[m[1]] = now;
        carry = carry.slice(-40);
      }
    })();
    return new Response(theirs, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  new MutationObserver((mutations) => {
    const seen = [];
    for (const mutation of mutations) for (const node of mutation.addedNodes) {
      const text = node.textContent || '';
      for (const m of text.matchAll(/bench line (\\d+)\\b/g)) if (window.__painted[m[1]] === undefined) seen.push(m[1]);
    }
    if (seen.length === 0) return;
    requestAnimationFrame(() => setTimeout(() => { const t = performance.now(); for (const n of seen) if (window.__painted[n] === undefined) window.__painted[n] = t; }, 0));
  }).observe(document, { childList: true, subtree: true, characterData: true });`;

/**
 * The bare page of the baseline: the same protocol as the UI (the stored lines with `GET /logs/{id}`, then the follow
 * from after them), each arriving line's text shown in a <pre> of the last 50 lines. No React, no list, no parsing.
 */
const BARE_PAGE = (url: string, id: string): string => `<!doctype html><pre id="out"></pre><script>
  (async () => {
    const stored = await (await fetch(${JSON.stringify(`${url}/api/v1/logs/${id}`)})).json();
    const response = await fetch(${JSON.stringify(`${url}/api/v1/logs/${id}/follow?skip=`)} + stored.length);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const out = document.getElementById('out');
    let last = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      last = last.concat(value.split('\\n').filter((l) => l.startsWith('data:'))).slice(-50);
      out.textContent = last.join('\\n');
    }
  })();
</script>`;

async function streamLines(databaseUrl: string, id: string, runIds: string[], page: Page, from: number): Promise<{ inserted: Record<string, number> }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const inserted: Record<string, number> = {};
  // Page time and wall time: performance.timeOrigin (ms since the epoch) + performance.now().
  try {
    const total = RATE * SECONDS;
    const started = Date.now();
    for (let n = from; n < from + total; n++) {
      const due = started + ((n - from) * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      inserted[String(n)] = Date.now();
      await client.query(
        `INSERT INTO logs (execution_id, namespace, flow_id, task_id, task_run_id, attempt_number, level, message, timestamp) VALUES ($1, 'bench.big', 'big', 'work', $2, 1, 'INFO', $3, now())`,
        [id, runIds[runIds.length - 1], `bench line ${n} streamed`],
      );
    }
    await sleep(2000);
  } finally {
    await client.end();
  }
  void page;
  return { inserted };
}

interface StreamFigures {
  ssePaint: number[];
  insertPaint: number[];
  missing: number;
  longTasks: number[];
}

async function collect(page: Page, inserted: Record<string, number>): Promise<StreamFigures> {
  const { arrived, painted, origin, longTasks } = await page.evaluate<{ arrived: Record<string, number>; painted: Record<string, number>; origin: number; longTasks: number[] }>(
    '({ arrived: window.__arrived, painted: window.__painted, origin: performance.timeOrigin, longTasks: window.__longTasks })',
  );
  const ssePaint: number[] = [];
  const insertPaint: number[] = [];
  let missing = 0;
  for (const [n, at] of Object.entries(inserted)) {
    const a = arrived[n];
    const p = painted[n];
    if (a === undefined || p === undefined) {
      missing++;
      continue;
    }
    ssePaint.push(p - a);
    insertPaint.push(origin + p - at);
  }
  return { ssePaint, insertPaint, missing, longTasks };
}

async function executionAtScale(browser: Browser, url: string, databaseUrl: string): Promise<void> {
  const seedStart = Date.now();
  const { id, runIds } = await seedBigExecution(databaseUrl);
  log('');
  log(`## 3. The execution page with ${RUNS.toLocaleString('en')} task runs and ${LINES.toLocaleString('en')} log lines (seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s)`);
  log('');

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const gantt = await context.newPage();
    await gantt.addInitScript(firstShownScript(GANTT_ROW));
    await gantt.goto(`${url}/ui/executions/${id}/gantt`);
    await gantt.waitForFunction('window.__shown !== undefined', undefined, { timeout: 120_000, polling: 50 });
    const ganttShown = await gantt.evaluate<number>('window.__shown.painted');
    const ganttRows = await gantt.locator(GANTT_ROW).count();
    await gantt.close();

    const page = await context.newPage();
    await page.addInitScript(firstShownScript(LOG_LINE));
    await page.addInitScript(streamProbeScript);
    await page.goto(`${url}/ui/executions/${id}/logs`);
    await page.waitForFunction('window.__shown !== undefined', undefined, { timeout: 120_000, polling: 50 });
    const logsShown = await page.evaluate<number>('window.__shown.painted');
    const domLines = await page.locator(LOG_LINE).count();
    const slowRequests = await page.evaluate<{ name: string; start: number; end: number; size: number }[]>(
      'performance.getEntriesByType("resource").filter((e) => e.responseEnd - e.startTime > 100).map((e) => ({ name: new URL(e.name).pathname, start: e.startTime, end: e.responseEnd, size: e.encodedBodySize }))',
    );
    // Once the log follow is open (after the stored lines were read), let the page settle, then stream.
    await page.waitForFunction('window.__logFollowOpen === true', undefined, { timeout: 120_000, polling: 50 });
    await sleep(2000);
    await page.evaluate('window.__longTasks = []');
    const { inserted } = await streamLines(databaseUrl, id, runIds, page, 1);
    const ui = await collect(page, inserted);
    await page.close();

    const bare = await context.newPage();
    await bare.addInitScript(streamProbeScript);
    await bare.route(`${url}/bench-bare`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: BARE_PAGE(url, id) }));
    await bare.goto(`${url}/bench-bare`);
    await bare.waitForFunction('window.__logFollowOpen === true', undefined, { timeout: 120_000, polling: 50 });
    await sleep(2000);
    await bare.evaluate('window.__longTasks = []');
    const baseline = await collect(bare, (await streamLines(databaseUrl, id, runIds, bare, 1_000_001)).inserted);
    await bare.close();

    log(`Gantt tab: first row painted ${f0(ganttShown)} ms after navigation start (${ganttRows} rows in the DOM: virtualised).`);
    log(`Logs tab: first line painted ${f0(logsShown)} ms after navigation start (${domLines} line elements in the DOM: virtualised).`);
    for (const r of slowRequests) log(`- its request \`${r.name}\`: ${f0(r.start)} → ${f0(r.end)} ms, ${(r.size / 2 ** 20).toFixed(1)} MiB on the wire`);
    log('');
    log(`Then ${RATE} lines/s for ${SECONDS} s (${RATE * SECONDS} lines), written to the database one by one:`);
    log('');
    log('| page | lines painted | SSE event → paint p50 | p95 | max | insert → paint p50 | p95 | long tasks (> 50 ms) | longest |');
    log('|---|---|---|---|---|---|---|---|---|');
    const row = (name: string, s: StreamFigures): void =>
      log(
        `| ${name} | ${s.ssePaint.length}/${s.ssePaint.length + s.missing} | ${f1(pct(s.ssePaint, 50))} | ${f1(pct(s.ssePaint, 95))} | ${f1(Math.max(...s.ssePaint))} | ${f0(pct(s.insertPaint, 50))} | ${f0(pct(s.insertPaint, 95))} | ${s.longTasks.length} | ${f0(s.longTasks.length ? Math.max(...s.longTasks) : 0)} |`,
      );
    row('baseline: bare page, the last 50 lines in a <pre>', baseline);
    row('execution page, logs tab (follow mode)', ui);
    log('');
    log('Insert → paint includes the API\'s follow poll (every 250 ms: DEFAULT_POLL_MS in apps/api/src/routes/follow.ts).');
  } finally {
    await context.close();
  }
}

// ---- main ----------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  log(`# bench:ui, ${new Date().toISOString()}`);
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; Chromium ${CHROMIUM}`);
  const { flowsInitialGz } = await sizes();
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/services.sh`);
  const api = await startApi();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  log(`browser: Chromium ${browser.version()} headless`);
  try {
    await coldLoads(browser, api.url);
    await executionAtScale(browser, api.url, api.databaseUrl);
  } finally {
    await browser.close();
    await api.close();
  }
  log('');
  log(`flows page initial JS: ${kb(flowsInitialGz)} KB gzip`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
