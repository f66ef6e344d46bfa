/**
 * Triggers (issue #18, "Measure"), each against a baseline measured in the same run, side by side:
 *
 * 1. Flow-trigger latency. `bench.upstream` (one `io.kestra.plugin.core.log.Log` task) and `bench.downstream` (one Log
 *    task, a `io.kestra.plugin.core.trigger.Flow` trigger with an `ExecutionFlow` condition on `bench.upstream`).
 *    `--chains` upstream executions (default 200, after `--warmup` 10), **one at a time**: each is
 *    `POST /api/v1/main/executions/bench/upstream?wait=true`, then the bench polls the search (every 20 ms) until its
 *    downstream execution has ended, and only then starts the next upstream. At the end every execution of both flows
 *    is read back (`GET /api/v1/main/executions/search?filters[namespace][EQUALS]=bench&filters[flowId][EQUALS]=...`,
 *    size 500); each downstream names its upstream in `trigger.variables.executionId`. From their state histories
 *    (one machine, so one clock; millisecond resolution):
 *    - upstream end (its terminal history entry) → downstream CREATED, and → downstream RUNNING;
 *    - baseline: the upstream's own CREATED → RUNNING (an execution the API created, handed to the scheduler), the same
 *      hand-off the downstream's CREATED → RUNNING goes through.
 * 2. Webhook throughput. `bench.hook` with a `io.kestra.plugin.core.trigger.Webhook` trigger (a random 32-character
 *    key) and one Log task. autocannon, `--connections` (16) for `--seconds` (10 s), POSTs `{"n":1}` to
 *    `/api/v1/main/executions/webhook/bench/hook/{key}`; in the same run and against the same processes, the same load
 *    on `GET /health` (which reads the database and the queue's state), measured first. Each after a 2 s warm-up.
 *    200 answers are started executions; the count of `bench.hook` executions created during the measured run (the
 *    search's `total` before and after) must equal them. The scheduler and the worker run throughout: the executions
 *    the webhook creates are started and run while the load goes on; the bench then waits for them to drain (none
 *    CREATED or RUNNING) and reports how long that took.
 *
 * Modes (`--mode`, default distributed):
 * - `distributed`: `sluice server api`, `sluice server scheduler` and `sluice server worker` as three processes (the
 *   real commands, from source: SLUICE_CLI_SOURCE=1) over BullMQ on a private redis-server from `startRedis()`, as
 *   bench/e2e.bench.ts starts them;
 * - `local`: `startLocalServer` (what `sluice server local` runs) in a child process of this script.
 * Each run gets a fresh database on the test Postgres (`bash scripts/services.sh`, or SLUICE_TEST_DATABASE_URL),
 * dropped at the end.
 *
 *   npm run bench:triggers -- [--mode distributed|local] [--chains 200] [--warmup 10] [--seconds 10] [--connections 16]
 *
 * A benchmark, not a test: nothing is asserted on time.
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '@sluice/testing';
import { admin, adminUrl } from './admin.js';

const cliBin = fileURLToPath(new URL('../apps/cli/bin/sluice.mjs', import.meta.url));
const WORKER_TOKEN = 'bench-worker-token';
const NAMESPACE = 'bench';
const TERMINAL = new Set(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED']);

type Mode = 'local' | 'distributed';

interface ExecutionJson {
  id: string;
  flowId: string;
  state: { current: string; endDate?: string; histories: { state: string; date: string }[] };
  trigger?: { id: string; type: string; variables?: { executionId?: string } };
}

// ---- statistics and formatting ------------------------------------------------------------------------------------------

/** Nearest-rank percentile. */
function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
const log = (line: string): void => console.log(line);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- services --------------------------------------------------------------------------------------------------------

async function freshDatabase(): Promise<{ name: string; url: string }> {
  const name = `sluice_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  tail(): string;
}

interface Stack {
  readonly url: string;
  readonly processes: ServerProcess[];
  close(): Promise<void>;
}

/** Keep the last lines of a child's output; resolve `ready` when `pattern` shows up. */
function watchOutput(name: string, child: ChildProcess, pattern?: RegExp): { server: ServerProcess; ready: Promise<void> } {
  let output = '';
  let seen = pattern === undefined;
  const ready = new Promise<void>((resolve, reject) => {
    if (seen) resolve();
    const onData = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-8000);
      if (!seen && pattern?.test(output)) {
        seen = true;
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
  ready.catch(() => undefined);
  return { server: { name, child, tail: () => output.split('\n').slice(-30).join('\n') }, ready };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function baseEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, SLUICE_CLI_SOURCE: '1' };
  delete env.SLUICE_WEBHOOK_RATE_LIMIT; // no limit: the bench measures the route, not the limiter
  delete env.SLUICE_API_TOKEN;
  return env;
}

/** `sluice server api|scheduler|worker` as three processes over BullMQ on `redisUrl` (as bench/e2e.bench.ts does). */
async function startDistributedStack(redisUrl: string): Promise<Stack> {
  const database = await freshDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-triggers-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const base = { ...baseEnv(database.url), REDIS_URL: redisUrl, SLUICE_WORKER_TOKEN: WORKER_TOKEN };
  const children: ChildProcess[] = [];
  const start = async (name: string, args: string[], env: NodeJS.ProcessEnv, pattern: RegExp): Promise<ServerProcess> => {
    const child = spawn(process.execPath, [cliBin, 'server', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const { server, ready } = watchOutput(name, child, pattern);
    await ready;
    return server;
  };
  const cleanUp = async (): Promise<void> => {
    // Worker first (nothing left running), then the scheduler, then the API.
    for (const child of [...children].reverse()) await stopChild(child);
    await admin(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const api = await start('api', ['api', '--port', String(port)], { ...base, SLUICE_API_HOST: '127.0.0.1', SLUICE_STORAGE_DIR: join(dataDir, 'storage') }, /listening on/);
    await waitForHealth(url, api);
    const scheduler = await start('scheduler', ['scheduler'], base, /scheduler \S+ started/);
    const worker = await start('worker', ['worker'], { ...base, SLUICE_API_URL: url, SLUICE_WORK_DIR: dataDir }, /worker (\S+) serving group/);
    return { url, processes: [api, scheduler, worker], close: cleanUp };
  } catch (error) {
    await cleanUp().catch(() => undefined);
    throw error;
  }
}

/** `startLocalServer` in a child process of this script (see `serveLocal`). */
async function startLocalStack(): Promise<Stack> {
  const database = await freshDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-triggers-'));
  const env = baseEnv(database.url);
  delete env.REDIS_URL; // in-process queue
  const child = fork(fileURLToPath(import.meta.url), ['--serve-local', dataDir], { execArgv: process.execArgv, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const { server } = watchOutput('sluice server local', child);
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the local server exited (${code ?? 'signal'}) before listening:\n${server.tail()}`)));
  });
  return {
    url,
    processes: [{ ...server, name: 'server local (API + scheduler + worker)' }],
    async close() {
      await stopChild(child);
      await admin(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Child side of the local mode: the same call as `sluice server local`, reporting its URL over IPC. */
async function serveLocal(dataDir: string): Promise<void> {
  const { startLocalServer } = await import('../apps/cli/src/commands/server.js');
  const io = { stdout: (text: string) => process.stdout.write(`${text}\n`), stderr: (text: string) => process.stderr.write(`${text}\n`) };
  const server = await startLocalServer({ port: 0, host: '127.0.0.1', dataDir }, process.env, io);
  process.send?.({ url: server.url });
  const stop = (): void => {
    void server.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
}

async function waitForHealth(url: string, api: ServerProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the API did not become healthy in 60 s:\n${api.tail()}`);
}

// ---- client ----------------------------------------------------------------------------------------------------------

async function call(url: string, init?: RequestInit): Promise<unknown> {
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

async function deploy(url: string, yaml: string): Promise<void> {
  await call(`${url}/api/v1/main/flows`, { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: yaml });
}

function searchUrl(url: string, flowId: string, size: number, page = 1, states?: string[]): string {
  const query = new URLSearchParams({ 'filters[namespace][EQUALS]': NAMESPACE, 'filters[flowId][EQUALS]': flowId, size: String(size), page: String(page) });
  if (states) query.set('filters[state][IN]', states.join(','));
  return `${url}/api/v1/main/executions/search?${query.toString()}`;
}

async function search(url: string, flowId: string, size: number, page = 1, states?: string[]): Promise<{ results: ExecutionJson[]; total: number }> {
  return (await call(searchUrl(url, flowId, size, page, states))) as { results: ExecutionJson[]; total: number };
}

/** Every execution of a flow (pages of 500). */
async function allExecutions(url: string, flowId: string): Promise<ExecutionJson[]> {
  const all: ExecutionJson[] = [];
  for (let page = 1; ; page++) {
    const { results, total } = await search(url, flowId, 500, page);
    all.push(...results);
    if (results.length === 0 || all.length >= total) return all;
  }
}

const at = (execution: ExecutionJson, state: string): number => Date.parse(execution.state.histories.find((h) => h.state === state)?.date ?? '');
/** When the execution ended: its terminal history entry (the last one), else `state.endDate`. */
function endOf(execution: ExecutionJson): number {
  const last = execution.state.histories[execution.state.histories.length - 1];
  if (last && TERMINAL.has(last.state)) return Date.parse(last.date);
  return Date.parse(execution.state.endDate ?? '');
}

// ---- 1. Flow trigger latency -----------------------------------------------------------------------------------------

const UPSTREAM_YAML = `id: upstream
namespace: ${NAMESPACE}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "upstream {{ execution.id }}"
`;
const DOWNSTREAM_YAML = `id: downstream
namespace: ${NAMESPACE}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "downstream of {{ trigger.executionId }}"
triggers:
  - id: after_upstream
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: ${NAMESPACE}
        flowId: upstream
`;

interface FlowTriggerResult {
  readonly endToCreated: number[];
  readonly endToRunning: number[];
  readonly createdToRunning: number[];
  readonly baseline: number[];
  readonly missing: number;
  readonly wallMs: number;
  readonly slowest: string[];
}

/** One chain: the upstream (`?wait=true`), then poll until `expected` downstream executions exist and the newest ended. */
async function chain(url: string, expected: number): Promise<string> {
  const upstream = (await call(`${url}/api/v1/main/executions/${NAMESPACE}/upstream?wait=true`, { method: 'POST' })) as ExecutionJson;
  if (upstream.state.current !== 'SUCCESS') throw new Error(`upstream ${upstream.id} ended ${upstream.state.current}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { results, total } = await search(url, 'downstream', 1);
    const newest = results[0];
    if (total >= expected && newest && TERMINAL.has(newest.state.current)) return upstream.id;
    if (Date.now() > deadline) throw new Error(`no ended downstream execution of upstream ${upstream.id} after 30 s (${total} downstream executions so far)`);
    await sleep(20);
  }
}

async function benchFlowTrigger(url: string, chains: number, warmup: number): Promise<FlowTriggerResult> {
  await deploy(url, UPSTREAM_YAML);
  await deploy(url, DOWNSTREAM_YAML);
  for (let i = 0; i < warmup; i++) await chain(url, i + 1);
  const measured: string[] = [];
  const start = performance.now();
  for (let i = 0; i < chains; i++) {
    measured.push(await chain(url, warmup + i + 1));
    if ((i + 1) % 50 === 0) log(`  ${i + 1}/${chains} chains`);
  }
  const wallMs = performance.now() - start;
  const upstreams = new Map((await allExecutions(url, 'upstream')).map((e) => [e.id, e]));
  const byUpstream = new Map<string, ExecutionJson>();
  for (const d of await allExecutions(url, 'downstream')) {
    const id = d.trigger?.variables?.executionId;
    if (id === undefined) throw new Error(`downstream execution ${d.id} has no trigger.variables.executionId`);
    if (byUpstream.has(id)) throw new Error(`upstream ${id} started two downstream executions`);
    byUpstream.set(id, d);
  }
  const endToCreated: number[] = [];
  const endToRunning: number[] = [];
  const createdToRunning: number[] = [];
  const baseline: number[] = [];
  const rows: { ms: number; text: string }[] = [];
  let missing = 0;
  for (const id of measured) {
    const up = upstreams.get(id);
    const down = byUpstream.get(id);
    if (!up || !down) {
      missing++;
      continue;
    }
    const end = endOf(up);
    const created = at(down, 'CREATED');
    const running = at(down, 'RUNNING');
    endToCreated.push(created - end);
    endToRunning.push(running - end);
    createdToRunning.push(running - created);
    baseline.push(at(up, 'RUNNING') - at(up, 'CREATED'));
    rows.push({ ms: running - end, text: `upstream ${id} ended ${new Date(end).toISOString()}: +${created - end} ms CREATED, +${running - end} ms RUNNING` });
  }
  const slowest = rows.sort((a, b) => b.ms - a.ms).slice(0, 3).map((r) => r.text);
  return { endToCreated, endToRunning, createdToRunning, baseline, missing, wallMs, slowest };
}

// ---- 2. Webhook throughput -------------------------------------------------------------------------------------------

interface CannonResult {
  /** `total`: answered; `sent`: sent, the requests still in flight when the duration ran out included. */
  requests: { average: number; total: number; sent: number };
  latency: { p50: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
  '2xx': number;
}
type Autocannon = (options: { url: string; connections: number; duration: number; method?: string; headers?: Record<string, string>; body?: string }) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface LoadRow {
  readonly label: string;
  readonly result: CannonResult;
  /** Answers with the status that counts (200). */
  readonly ok: number;
  readonly rate: number;
}

interface WebhookResult {
  readonly health: LoadRow;
  readonly webhook: LoadRow;
  readonly created: number;
  readonly drainMs: number;
  readonly drained: boolean;
}

const ok200 = (r: CannonResult): number => r.statusCodeStats?.['200']?.count ?? r['2xx'];

async function waitForDrain(url: string, limitMs: number): Promise<{ ms: number; drained: boolean }> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    const { total } = await search(url, 'hook', 1, 1, ['CREATED', 'RUNNING']);
    if (total === 0) return { ms: performance.now() - start, drained: true };
    await sleep(250);
  }
  return { ms: performance.now() - start, drained: false };
}

async function benchWebhook(url: string, seconds: number, connections: number): Promise<WebhookResult> {
  const key = randomBytes(24).toString('base64url'); // 32 characters
  await deploy(
    url,
    `id: hook\nnamespace: ${NAMESPACE}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: "webhook n={{ trigger.body.n }}"\n` +
      `triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: ${key}\n`,
  );
  const webhookOptions = {
    url: `${url}/api/v1/main/executions/webhook/${NAMESPACE}/hook/${key}`,
    connections,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"n":1}',
  };
  const healthOptions = { url: `${url}/health`, connections };
  // Warm-up (JIT, pools, caches), then let what the webhook's warm-up created run to its end.
  await autocannon({ ...healthOptions, duration: 2 });
  await autocannon({ ...webhookOptions, duration: 2 });
  const warmDrain = await waitForDrain(url, 300_000);
  log(`  warm-up done; its executions drained in ${f1(warmDrain.ms / 1000)} s; load average ${load()}`);

  const healthResult = await autocannon({ ...healthOptions, duration: seconds });
  const before = (await search(url, 'hook', 1)).total;
  const webhookResult = await autocannon({ ...webhookOptions, duration: seconds });
  const after = (await search(url, 'hook', 1)).total;
  log(`  load average after the webhook load: ${load()}`);
  const drain = await waitForDrain(url, 600_000);
  const row = (label: string, result: CannonResult): LoadRow => ({ label, result, ok: ok200(result), rate: ok200(result) / (result.duration || seconds) });
  return {
    health: row('baseline: GET /health', healthResult),
    webhook: row('POST /api/v1/main/executions/webhook/bench/hook/{key} (200 = execution created)', webhookResult),
    created: after - before,
    drainMs: drain.ms,
    drained: drain.drained,
  };
}

// ---- main ------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      mode: { type: 'string', default: 'distributed' },
      chains: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
    },
  });
  const mode = values.mode as Mode;
  if (mode !== 'local' && mode !== 'distributed') throw new Error(`--mode must be local or distributed, got ${values.mode}`);
  const int = (raw: string, name: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
    return n;
  };
  const chains = int(values.chains, 'chains');
  const warmup = int(values.warmup, 'warmup');
  const seconds = int(values.seconds, 'seconds');
  const connections = int(values.connections, 'connections');

  let redis: { url: string; stop(): Promise<void> } | undefined;
  if (mode === 'distributed') {
    const { startRedis } = await import('@sluice/testing');
    redis = await startRedis();
    if (!redis) throw new Error('redis-server is not installed (bash scripts/services.sh)');
  }
  log('# Triggers (issue #18): Flow-trigger latency and webhook throughput');
  log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `load average ${load()}; Postgres ${new URL(adminUrl).host}${redis ? `; Redis ${redis.url}` : ''}`,
  );
  log(
    mode === 'distributed'
      ? 'mode: distributed (sluice server api + scheduler + worker, three processes, from source; BullMQ on a private redis-server)'
      : 'mode: local (startLocalServer, what `sluice server local` runs, in one child process; in-process queue)',
  );
  const stack = mode === 'distributed' ? await startDistributedStack(redis?.url ?? '') : await startLocalStack();
  let flow: FlowTriggerResult;
  let hook: WebhookResult;
  try {
    log(`stack up at ${stack.url}: ${stack.processes.map((p) => `${p.name} (pid ${p.child.pid})`).join(', ')}`);

    log(`\n## 1. Flow trigger: ${chains} upstream executions one at a time (each waits for the previous one's downstream to end), after ${warmup} warm-up\n`);
    log(`load average at the start: ${load()}`);
    flow = await benchFlowTrigger(stack.url, chains, warmup);
    log(`\n${flow.endToRunning.length} pairs in ${f1(flow.wallMs / 1000)} s; missing downstream executions: ${flow.missing}${flow.missing > 0 ? '  !!! MISSING' : ''}; load average after: ${load()}\n`);
    log('| latency (ms, from the state histories) | n | p50 | p90 | p99 | max | mean |');
    log('|---|---|---|---|---|---|---|');
    const latencyRow = (label: string, xs: number[]): string => `| ${label} | ${xs.length} | ${f0(pct(xs, 50))} | ${f0(pct(xs, 90))} | ${f0(pct(xs, 99))} | ${f0(Math.max(...xs))} | ${f1(mean(xs))} |`;
    log(latencyRow('baseline: upstream CREATED → RUNNING (created by the API)', flow.baseline));
    log(latencyRow('upstream end → downstream CREATED', flow.endToCreated));
    log(latencyRow('downstream CREATED → RUNNING', flow.createdToRunning));
    log(latencyRow('upstream end → downstream RUNNING', flow.endToRunning));
    log(`\nslowest 3 (end → RUNNING): ${flow.slowest.join('; ')}`);

    log(`\n## 2. Webhook: ${connections} connections for ${seconds} s each (autocannon), GET /health first, scheduler and worker running\n`);
    hook = await benchWebhook(stack.url, seconds, connections);
    log('| case | requests | 200 answers | 200 per s | p50 ms | p99 ms | non-2xx / errors / timeouts | ratio to /health |');
    log('|---|---|---|---|---|---|---|---|');
    for (const r of [hook.health, hook.webhook]) {
      log(
        `| ${r.label} | ${r.result.requests.total} | ${r.ok} | ${f1(r.rate)} | ${r.result.latency.p50} | ${r.result.latency.p99} | ` +
          `${r.result.non2xx} / ${r.result.errors} / ${r.result.timeouts} | ${f2(r.rate / hook.health.rate)}x |`,
      );
    }
    const mismatch = hook.created !== hook.webhook.ok;
    const cut = hook.webhook.result.requests.sent - hook.webhook.result.requests.total;
    log(`\nexecutions the webhook created during the measured run (search total after − before): ${hook.created}; 200 answers: ${hook.webhook.ok}${mismatch ? `  !!! MISMATCH (${hook.created - hook.webhook.ok})` : ' (equal)'}`);
    if (mismatch) {
      log(
        `!!! requests sent: ${hook.webhook.result.requests.sent}, of which ${cut} were still in flight when autocannon stopped at ${seconds} s (it counts no answer for them); ` +
          `created − 200 answers − cut in flight = ${hook.created - hook.webhook.ok - cut}${hook.created - hook.webhook.ok - cut === 0 ? ' (every execution accounted for)' : '  !!! UNACCOUNTED'}`,
      );
    }
    log(
      `the ${hook.created} executions ${hook.drained ? 'all ended' : 'had NOT all ended'} ${f1(hook.drainMs / 1000)} s after the load stopped ` +
        `(${f1(hook.created / (seconds + hook.drainMs / 1000))} executions/s from the first request to the last end); load average: ${load()}`,
    );
  } catch (error) {
    for (const p of stack.processes) log(`--- last output of ${p.name}:\n${p.tail()}`);
    throw error;
  } finally {
    await stack.close();
    await redis?.stop();
  }

  log(`\n## summary (${mode} mode, ${cpus().length} cores)\n`);
  log('| measure | value | baseline in the same run |');
  log('|---|---|---|');
  log(`| Flow trigger: upstream end → downstream CREATED, p50 / p99 / max ms (n=${flow.endToCreated.length}) | ${f0(pct(flow.endToCreated, 50))} / ${f0(pct(flow.endToCreated, 99))} / ${f0(Math.max(...flow.endToCreated))} | |`);
  log(
    `| Flow trigger: upstream end → downstream RUNNING, p50 / p99 / max ms (n=${flow.endToRunning.length}) | ${f0(pct(flow.endToRunning, 50))} / ${f0(pct(flow.endToRunning, 99))} / ${f0(Math.max(...flow.endToRunning))} | ` +
      `API-created CREATED → RUNNING: ${f0(pct(flow.baseline, 50))} / ${f0(pct(flow.baseline, 99))} / ${f0(Math.max(...flow.baseline))} |`,
  );
  log(`| Webhook: started executions per s (${connections} connections, ${seconds} s) | ${f1(hook.webhook.rate)} | GET /health: ${f1(hook.health.rate)} req/s (ratio ${f2(hook.webhook.rate / hook.health.rate)}x) |`);
  const inFlight = hook.webhook.result.requests.sent - hook.webhook.result.requests.total;
  log(
    `| Webhook: executions created = 200 answers | ${hook.created} vs ${hook.webhook.ok}: ${hook.created === hook.webhook.ok ? 'equal' : `NOT equal (${inFlight} requests were in flight when the load stopped)`} | |`,
  );
}

if (process.argv[2] === '--serve-local') {
  await serveLocal(process.argv[3] ?? '');
} else {
  await main();
}
