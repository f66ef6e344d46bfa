/**
 * End-to-end latency, throughput and memory of a one-task PROCESS flow (issue #5), against two baselines measured in
 * the same run, side by side:
 * - a bare BullMQ round trip (`Queue.add` → a `Worker` completes the job → its `completed` event) on the same Redis;
 * - a bare `child_process.spawn('/bin/sh', ['-c', 'true'])` until it exits, in a small Node process of its own
 *   (bench/spawn-probe.mjs), as the floor of issue #20 is; and there, before the throughput phase, the shell ceiling:
 *   as many spawns at once as executions in flight, per second.
 *
 * The flow (`bench.bench_one`) runs `true` with the PROCESS runner. Every execution is
 * `POST /api/v1/executions/bench/bench_one?wait=true` with an empty multipart form (kept-alive connections), and counts only when the answer is
 * an execution in state SUCCESS. Phases, for each mode:
 * 1. latency: sequential executions after a warm-up; the runs alternate BullMQ baseline → spawn baseline → Sluice, so
 *    machine noise hits all three alike. A profile splits each Sluice run with the timestamps of the execution's and
 *    its task run's state histories (one machine, so one clock; millisecond resolution);
 * 2. throughput: executions submitted by `--concurrency` clients in a closed loop (each waits for its answer, then
 *    sends the next), with the CPU time each process used (/proc/<pid>/stat; the PROCESS runner's spawner helper,
 *    a child of the worker, is counted with the shells it started) and
 *    the Postgres work (pg_stat_database of the bench database, read after an 11 s pause because backends publish
 *    their counters up to 10 s late);
 * 3. memory: `--executions` more executions the same way, the RSS (VmRSS of /proc/<pid>/status) of every server
 *    process and of the spawner helper read every tenth of the run.
 *
 * Modes (both by default, `--mode local|distributed` for one):
 * - `local`: `startLocalServer` (what `sluice server local` runs: API + scheduler + worker, in-process queue) in a
 *   child process of this script, so that the load generator does not share its event loop;
 * - `distributed`: `sluice server api`, `sluice server scheduler` and `sluice server worker` as three processes
 *   (the real commands, so the API logs each request as it does in production; BullMQ on a private redis-server from
 *   `startRedis()`), so that each one's memory and CPU is its own.
 * Both run from source through tsx, as the other benches do: RSS includes tsx's loader.
 * Each mode gets a fresh database on the test Postgres (`bash scripts/services.sh`, or SLUICE_TEST_DATABASE_URL).
 *
 *   npm run bench:e2e -- [--mode local|distributed] [--quick] [--executions N] [--runs N] [--warmup N]
 *                        [--throughput N] [--concurrency N] [--worker-concurrency N] [--cpu-profile] [--idle-runs N]
 *                        [--schedulers N] [--task process|log] [--chain N] [--chain-runs N] [--syscalls]
 *                        [--warm-executions N] [--throughput-rounds N]
 *
 * 0. cold start (issue #20, third pass): `--warm-executions` executions (default 5,000; `--quick` 500; 0 skips it) at the
 *    throughput phase's concurrency, before everything else, their rate and machine CPU printed but kept out of the
 *    phases that follow. A Node process costs about twice as much CPU per execution over its first thousand
 *    executions as once V8 has compiled its hot paths; the later phases measure the warm servers, as a long-running
 *    orchestrator is.
 *
 * Issue #20's phases and budget:
 * - `--task log`: the one-task flow is a core `Log` task (no process: what the orchestrator alone costs) instead of
 *   PROCESS `true`;
 * - `--chain N` (default off): after the throughput phase, a flow of N sequential PROCESS `true` tasks, run
 *   `--chain-runs` times (default 5) one at a time after a warm-up, submit → SUCCESS, against N × the floor (spawn p50
 *   + bare BullMQ p50 of phase 1);
 * - the throughput phase's budget per execution: each process's CPU (Postgres backends and Redis included), the SQL
 *   statements (pg_stat_statements: the test cluster of scripts/services.sh loads it) and transactions, the Redis
 *   commands (`INFO commandstats`) and the queue messages (BullMQ jobs finished per queue); bench/budget.ts.
 * - `--throughput-rounds N` (default 1): N closed loops of `--throughput` executions, one after the other, each with its
 *   rate and machine CPU per execution; the summary and the goals take their medians. This machine's speed moves by a
 *   quarter within minutes, so one round is one sample of it.
 * - `--syscalls`: the socket writes and reads of each server process per execution in the throughput phase, counted
 *   by `strace -c` attached for the phase (Node's processes spend much of their CPU in socket writes on a loopback, so
 *   the count of writes is the budget's most direct measure of round trips). strace slows the processes it watches:
 *   that run's rates and CPU figures are not comparable with a run without it.
 *
 * Defaults: 20 warm-up, 200 latency runs, 1,000 executions at 32 in flight, 10,000 for memory; `--quick`: 5, 30,
 * 200 and 1,000. `--worker-concurrency` is the worker's `--concurrency` (default: the product's, 4).
 *
 * 4. after idle: `--idle-runs` executions (default 5, `--quick` 2), each after 12 s without traffic: the latency of
 *    sporadic executions, when connections, caches and the CPU have gone cold.
 *
 * `--schedulers N` (distributed mode, default 1) runs N scheduler replicas, and prints at the end how each one's steps
 * went (from memory, locked, or from a copy another replica had made stale).
 *
 * `--cpu-profile` adds a phase after the throughput one: as many executions again under V8's sampling profiler in
 * each server process, summarised as self time per package and per function (the .cpuprofile files are kept). Each
 * server loads bench/profile-preload.cjs, and two SIGUSR2 start and stop its profile. A wall
 * clock profile: a socket write that wakes its reader on a busy core is charged more than its CPU time (issue #20's
 * tenth pass).
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '@sluice/testing';
import { cpuMs, pidsMatching, printBudget, queueEvents, queueMessages, redisCommandStats, statementsSnapshot } from './budget.js';
import type { BudgetTotals } from './budget.js';
import { admin, adminUrl } from './admin.js';

const cliBin = fileURLToPath(new URL('../apps/cli/bin/sluice.mjs', import.meta.url));
const WORKER_TOKEN = 'bench-worker-token';
const NAMESPACE = 'bench';
const FLOW_ID = 'bench_one';
const CHAIN_FLOW_ID = 'bench_chain';
type TaskKind = 'process' | 'log';
const PROCESS_TRUE = (id: string): string => `  - id: ${id}\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - "true"\n`;
/** The one-task flow: PROCESS `true` (a spawn per execution), or a core `Log` task (no process: the orchestrator alone). */
function flowYaml(task: TaskKind): string {
  const body = task === 'log' ? '  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: "bench {{ execution.id }}"\n' : PROCESS_TRUE('t');
  return `id: ${FLOW_ID}\nnamespace: ${NAMESPACE}\ntasks:\n${body}`;
}
/** `length` sequential PROCESS `true` tasks. */
function chainYaml(length: number): string {
  return `id: ${CHAIN_FLOW_ID}\nnamespace: ${NAMESPACE}\ntasks:\n${Array.from({ length }, (_, i) => PROCESS_TRUE(`t${i + 1}`)).join('')}`;
}

/** A chain's per-task times from its task runs' state dates: the previous run's end → this run's RUNNING, and RUNNING → its end. */
function chainGaps(execution: ExecutionJson, between: number[], running: number[]): void {
  const at = (state: StateJson, name: string): number | undefined => {
    const entry = state.histories.find((h) => h.state === name);
    return entry ? Date.parse(entry.date) : undefined;
  };
  let previousEnd: number | undefined;
  for (const run of execution.taskRunList) {
    const start = at(run.state, 'RUNNING');
    const end = at(run.state, 'SUCCESS');
    if (start !== undefined && previousEnd !== undefined) between.push(start - previousEnd);
    if (start !== undefined && end !== undefined) running.push(end - start);
    previousEnd = end;
  }
}

type Mode = 'local' | 'distributed';

interface StateJson {
  current: string;
  histories: { state: string; date: string }[];
}
interface ExecutionJson {
  id: string;
  state: StateJson;
  taskRunList: { taskId: string; state: StateJson }[];
}

// ---- statistics and formatting ------------------------------------------------------------------------------------------

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
/** Nearest-rank percentile. */
function pct(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');

// ---- /proc -----------------------------------------------------------------------------------------------------------

/** VmRSS of a process in MiB (NaN when it is gone). */
async function rssMb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

/** The PROCESS runner's spawner, Node (`spawner.cjs`) or compiled (`native/sluice-spawner-<hash>`): its command line has this. */
const SPAWNER_NEEDLE = 'spawner';

/** Children of `pid` whose command line contains `needle` (the PROCESS runner's spawner). */
async function childrenMatching(pid: number, needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== pid) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (cmdline.includes(needle)) found.push(Number(entry));
  }
  return found;
}


// ---- services --------------------------------------------------------------------------------------------------------

/** Counters of `database` in pg_stat_database (Postgres publishes a backend's counters up to 10 s late: settle first). */
async function databaseStats(database: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const result = await client.query<Record<string, string>>(
      'SELECT xact_commit + xact_rollback AS transactions, tup_returned AS "rows returned", tup_fetched AS "rows fetched", ' +
        'tup_inserted AS "rows inserted", tup_updated AS "rows updated", tup_deleted AS "rows deleted" FROM pg_stat_database WHERE datname = $1',
      [database],
    );
    return Object.fromEntries(Object.entries(result.rows[0] ?? {}).map(([key, value]) => [key, Number(value)]));
  } finally {
    await client.end();
  }
}
const STATS_SETTLE_MS = 11_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Last lines of its output, for errors. */
  tail(): string;
}

interface Stack {
  readonly mode: Mode;
  readonly url: string;
  readonly database: string;
  /** The processes whose memory and CPU are reported (scheduler and worker, and the API when it is separate). */
  readonly processes: ServerProcess[];
  readonly workerConcurrency: string;
  /** `--cpu-profile`: start or stop a CPU profile of the server processes; stop resolves with one file a process. */
  profile?(action: 'start' | 'stop'): Promise<readonly ProfiledServer[]>;
  /** Stop everything; resolves with lines to report (the schedulers' step counts, which they log as they stop). */
  close(): Promise<string[]>;
}

/** Keep the last lines of a child's output; resolve `ready` when `pattern` shows up. */
function watchOutput(name: string, child: ChildProcess, pattern?: RegExp): { server: ServerProcess; ready: Promise<RegExpExecArray | undefined> } {
  let output = '';
  let resolveReady: (match: RegExpExecArray | undefined) => void = () => undefined;
  let rejectReady: (error: Error) => void = () => undefined;
  const ready = new Promise<RegExpExecArray | undefined>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  if (!pattern) resolveReady(undefined);
  let seen = false;
  const onData = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-8000);
    if (!seen && pattern) {
      const match = pattern.exec(output);
      if (match) {
        seen = true;
        resolveReady(match);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code, signal) => rejectReady(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`)));
  return { server: { name, child, tail: () => output.split('\n').slice(-30).join('\n') }, ready };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function freshDatabase(): Promise<{ name: string; url: string }> {
  const name = `sluice_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** `startLocalServer` in a child process of this script (see `serveLocal`). */
async function startLocalStack(workerConcurrency: number | undefined, cpuProfile: boolean): Promise<Stack> {
  const database = await freshDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-local-'));
  const profiles = cpuProfile ? new ServerProfiles() : undefined;
  const env: NodeJS.ProcessEnv = profiles ? profiles.env('server local', { ...process.env, DATABASE_URL: database.url }) : { ...process.env, DATABASE_URL: database.url };
  delete env.REDIS_URL; // in-process queue
  const child = fork(fileURLToPath(import.meta.url), ['--serve-local', dataDir, String(workerConcurrency ?? '')], {
    execArgv: process.execArgv,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  profiles?.started('server local', child);
  const { server } = watchOutput('sluice server local', child);
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the local server exited (${code ?? 'signal'}) before listening:\n${server.tail()}`)));
  });
  return {
    mode: 'local',
    url,
    database: database.name,
    processes: [{ ...server, name: 'server local (API + scheduler + worker)' }],
    workerConcurrency: String(workerConcurrency ?? process.env.SLUICE_WORKER_CONCURRENCY ?? '4 (default)'),
    ...(profiles ? { profile: (action: 'start' | 'stop') => profiles.signal(action) } : {}),
    async close() {
      await stopChild(child);
      await admin(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
      return [];
    },
  };
}

/** Child side of the local mode: the same call as `sluice server local`, reporting its URL over IPC. */
async function serveLocal(dataDir: string, concurrency: string): Promise<void> {
  // Loaded here only: the parent (the load generator) never loads the server.
  const { startLocalServer } = await import('../apps/cli/src/commands/server.js');
  const io = { stdout: (text: string) => process.stdout.write(`${text}\n`), stderr: (text: string) => process.stderr.write(`${text}\n`) };
  const server = await startLocalServer(
    { port: 0, host: '127.0.0.1', dataDir, ...(concurrency === '' ? {} : { concurrency: Number(concurrency) }) },
    process.env,
    io,
  );
  process.send?.({ url: server.url });
  const stop = (): void => {
    void server.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
}

interface ProfiledServer {
  readonly name: string;
  readonly file: string;
}

/**
 * `--cpu-profile`: each server process loads bench/profile-preload.cjs (`env`), which profiles between two SIGUSR2
 * and writes the profile to the file named in its environment.
 */
class ServerProfiles {
  readonly #stamp = `${Date.now()}-${process.pid}`;
  readonly #servers: (ProfiledServer & { readonly child: ChildProcess })[] = [];
  readonly #files = new Map<string, string>();

  /** `env` with the preload and the file of the server `name`. */
  env(name: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const file = join(tmpdir(), `sluice-bench-${this.#stamp}-${name.replace(/\W+/g, '-')}.cpuprofile`);
    this.#files.set(name, file);
    const preload = JSON.stringify(fileURLToPath(new URL('./profile-preload.cjs', import.meta.url)));
    return { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --require ${preload}`.trim(), SLUICE_BENCH_PROFILE_FILE: file };
  }

  started(name: string, child: ChildProcess): void {
    const file = this.#files.get(name);
    if (file === undefined) throw new Error(`no profile file for ${name}: call env() first`);
    this.#servers.push({ name, file, child });
  }

  /** Start or stop every server's profile; stop resolves once each has written its file. */
  async signal(action: 'start' | 'stop'): Promise<readonly ProfiledServer[]> {
    for (const { child } of this.#servers) child.kill('SIGUSR2');
    if (action === 'start') return [];
    const deadline = Date.now() + 60_000;
    for (const { name, file } of this.#servers) {
      while (!(await stat(file).then(() => true, () => false))) {
        if (Date.now() > deadline) throw new Error(`the ${name} server wrote no CPU profile to ${file}`);
        await sleep(100);
      }
    }
    return this.#servers.map(({ name, file }) => ({ name, file }));
  }
}

/** `sluice server api|scheduler|worker` as three processes over BullMQ on `redisUrl`. */
async function startDistributedStack(redisUrl: string, workerConcurrency: number | undefined, schedulerCount: number, cpuProfile = false): Promise<Stack> {
  const database = await freshDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-dist-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const base = { ...process.env, DATABASE_URL: database.url, REDIS_URL: redisUrl, SLUICE_WORKER_TOKEN: WORKER_TOKEN };
  const children: ChildProcess[] = [];
  const profiles = cpuProfile ? new ServerProfiles() : undefined;
  const start = async (name: string, args: string[], env: NodeJS.ProcessEnv, pattern?: RegExp): Promise<{ server: ServerProcess; match: RegExpExecArray | undefined }> => {
    const child = spawn(process.execPath, [cliBin, 'server', ...args], { env: profiles ? profiles.env(name, env) : env, stdio: ['ignore', 'pipe', 'pipe'] });
    profiles?.started(name, child);
    children.push(child);
    const { server, ready } = watchOutput(name, child, pattern);
    return { server, match: await ready };
  };
  try {
    const api = await start('api', ['api', '--port', String(port)], { ...base, SLUICE_API_HOST: '127.0.0.1', SLUICE_STORAGE_DIR: join(dataDir, 'storage') }, /listening on/);
    await waitForHealth(url, api.server);
    const schedulers: ServerProcess[] = [];
    for (let i = 1; i <= schedulerCount; i++) {
      schedulers.push((await start(schedulerCount === 1 ? 'scheduler' : `scheduler ${i}`, ['scheduler'], base, /scheduler \S+ started/)).server);
    }
    const worker = await start(
      'worker',
      ['worker', ...(workerConcurrency === undefined ? [] : ['--concurrency', String(workerConcurrency)])],
      { ...base, SLUICE_API_URL: url, SLUICE_WORK_DIR: dataDir },
      /worker (\S+) serving group/,
    );
    return {
      mode: 'distributed',
      url,
      database: database.name,
      processes: [...schedulers, worker.server, api.server],
      workerConcurrency: String(workerConcurrency ?? process.env.SLUICE_WORKER_CONCURRENCY ?? '4 (default)'),
      ...(profiles ? { profile: (action: 'start' | 'stop') => profiles.signal(action) } : {}),
      async close() {
        // Workers first (nothing left running), then the scheduler, then the API.
        for (const child of [...children].reverse()) await stopChild(child);
        await admin(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`);
        await rm(dataDir, { recursive: true, force: true });
        return schedulers.map((s) => `${s.name}: ${/stopped: (.*)/.exec(s.tail())?.[1] ?? 'no step counts (it did not stop cleanly)'}`);
      },
    };
  } catch (error) {
    for (const child of children) child.kill('SIGKILL');
    await admin(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`).catch(() => undefined);
    throw error;
  }
}

async function waitForHealth(url: string, api: ServerProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the API did not become healthy in 60 s:\n${api.tail()}`);
}

// ---- clients ---------------------------------------------------------------------------------------------------------

interface Sample {
  readonly ms: number;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly execution?: ExecutionJson;
  readonly error?: string;
}

async function deploy(url: string, yaml: string): Promise<void> {
  const response = await fetch(`${url}/api/v1/flows`, { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: yaml });
  if (!response.ok) throw new Error(`deploying the flow failed: ${response.status} ${await response.text()}`);
}

// The load generator shares the 2 cores with the stack it measures, so it stays cheap: plain http.request on
// kept-alive connections and one pre-encoded empty multipart form (undici's fetch with a FormData body cost about
// 2.7 ms of CPU per execution, as much as Postgres).
const BOUNDARY = 'sluice-bench-boundary';
const EMPTY_FORM = Buffer.from(`--${BOUNDARY}--\r\n`);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': EMPTY_FORM.length } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(EMPTY_FORM);
  });
}

/** One execution, `?wait=true`; never throws (an error is part of the sample). */
async function executeOnce(url: string, flowId = FLOW_ID): Promise<Sample> {
  const sentAt = Date.now();
  const start = performance.now();
  try {
    const response = await post(`${url}/api/v1/executions/${NAMESPACE}/${flowId}?wait=true`);
    const text = response.text;
    const ms = performance.now() - start;
    const receivedAt = Date.now();
    if (response.status !== 200) return { ms, sentAt, receivedAt, error: `HTTP ${response.status}: ${text.slice(0, 300)}` };
    const execution = JSON.parse(text) as ExecutionJson;
    if (execution.state.current !== 'SUCCESS') return { ms, sentAt, receivedAt, execution, error: `execution ${execution.id} ended ${execution.state.current}` };
    return { ms, sentAt, receivedAt, execution };
  } catch (error) {
    return { ms: performance.now() - start, sentAt, receivedAt: Date.now(), error: error instanceof Error ? `${error.message} ${String(error.cause ?? '')}` : String(error) };
  }
}

/** `total` executions from `concurrency` closed-loop clients; `onDone` after each. */
async function closedLoop(url: string, total: number, concurrency: number, onDone?: (done: number, sample: Sample) => Promise<void> | void): Promise<{ samples: Sample[]; wallMs: number }> {
  const samples: Sample[] = [];
  let next = 0;
  const start = performance.now();
  const client = async (): Promise<void> => {
    while (next < total) {
      next++;
      const sample = await executeOnce(url);
      samples.push(sample);
      await onDone?.(samples.length, sample);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, client));
  return { samples, wallMs: performance.now() - start };
}

/**
 * The spawn floor, in a small Node process of its own (bench/spawn-probe.mjs: a spawn from this process, with tsx, pg
 * and BullMQ loaded, costs more, as fork() copies a bigger memory map): one `sh -c true` timed there, and the shell
 * ceiling (`total` spawns, `concurrency` at a time, per second).
 */
function spawnProbe(): { one(): Promise<number>; ceiling(total: number, concurrency: number): Promise<number>; close(): void } {
  const child = fork(fileURLToPath(new URL('./spawn-probe.mjs', import.meta.url)), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Questions go one at a time; the probe's exit fails the one waiting (one listener for the probe's life, not one
  // per question: those piled up, one per latency run, and Node warned of a leak).
  let failWaiting: ((error: Error) => void) | undefined;
  child.once('exit', (code) => failWaiting?.(new Error(`the spawn probe exited (${code ?? 'signal'})`)));
  const ask = <T>(message: object): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`the spawn probe exited (${child.exitCode ?? child.signalCode})`));
      failWaiting = reject;
      child.once('message', (answer) => resolve(answer as T));
      child.send(message);
    }).finally(() => {
      failWaiting = undefined;
    });
  return {
    one: async () => (await ask<{ ms: number }>({ op: 'one' })).ms,
    ceiling: async (total, concurrency) => (await ask<{ rate: number }>({ op: 'ceiling', total, concurrency })).rate,
    close: () => child.disconnect(),
  };
}

/** A bare BullMQ queue and worker: `roundTrip()` adds a job and resolves on the worker's `completed` event. */
async function bareBullmq(redisUrl: string): Promise<{ roundTrip(): Promise<void>; close(): Promise<void> }> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const name = `baseline-${randomBytes(3).toString('hex')}`;
  const queue = new Queue(name, { connection, prefix: 'bench' });
  const waiting = new Map<string, () => void>();
  const workerConnection = connection.duplicate();
  const worker = new BullWorker(name, async () => undefined, { connection: workerConnection, prefix: 'bench', concurrency: 1 });
  worker.on('completed', (job) => {
    const done = job.id === undefined ? undefined : waiting.get(job.id);
    if (job.id !== undefined) waiting.delete(job.id);
    done?.();
  });
  await worker.waitUntilReady();
  let counter = 0;
  return {
    async roundTrip() {
      const jobId = `b${counter++}`;
      const completed = new Promise<void>((resolve) => waiting.set(jobId, resolve));
      await queue.add('job', { n: counter }, { jobId, removeOnComplete: true, removeOnFail: true });
      await completed;
    },
    async close() {
      await worker.close();
      await queue.close();
      workerConnection.disconnect();
      connection.disconnect();
    },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

// ---- profile ---------------------------------------------------------------------------------------------------------

const STAGES = [
  'request sent → execution CREATED (API: parse, flow lookup, insert)',
  'execution CREATED → RUNNING (hand-off to the scheduler, which locks it and decides)',
  'execution RUNNING → task run RUNNING (commit, task job enqueued, worker takes it, worker start stamp)',
  'task run RUNNING → SUCCESS (worker: runTask, work dir, spawn sh -c true)',
  'task run SUCCESS → execution SUCCESS (ended result to the scheduler, lock, decide)',
  'execution SUCCESS → response received (commit, update published, API re-reads and answers)',
] as const;

/** Durations (ms) of each stage of one execution, from its state histories and the client's clock. */
function stagesOf(sample: Sample): number[] | undefined {
  const execution = sample.execution;
  const run = execution?.taskRunList[0];
  if (!execution || !run || sample.error) return undefined;
  const at = (state: StateJson, name: string): number => Date.parse(state.histories.find((h) => h.state === name)?.date ?? '');
  const points = [
    sample.sentAt,
    at(execution.state, 'CREATED'),
    at(execution.state, 'RUNNING'),
    at(run.state, 'RUNNING'),
    at(run.state, 'SUCCESS'),
    at(execution.state, 'SUCCESS'),
    sample.receivedAt,
  ];
  if (points.some((p) => !Number.isFinite(p))) return undefined;
  return points.slice(1).map((p, i) => p - (points[i] ?? NaN));
}

// ---- CPU profile summary ---------------------------------------------------------------------------------------------

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package (`@prisma/client`, `@sluice/db`), Node's internals, or V8 itself. */
function ownerOf(functionName: string, url: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(V8 builtins and native code)';
  if (url.startsWith('node:')) return 'node internals';
  const inModules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (inModules?.[1]) return inModules[1];
  const own = /\/(packages|apps)\/([^/]+)\//.exec(url);
  if (own?.[2]) return `@sluice/${own[2]}`;
  return url;
}

/** Self time by owner and by function, in ms. */
async function summarizeProfile(file: string, executions: number): Promise<void> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const owner = ownerOf(functionName, url);
    total += us;
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${url === '' ? '' : `${url.replace(/^file:\/\/.*?\/(node_modules|packages|apps)\//, '$1/')}:${lineNumber + 1}`}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  });
  const busy = total - (owners.get('(idle)') ?? 0);
  const top = (map: Map<string, number>, n: number): [string, number][] => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  log(`\nself time by owner (${f1(total / 1000)} ms sampled, ${f1(busy / 1000)} ms busy, i.e. ${f2(busy / 1000 / executions)} ms per execution):\n`);
  log('| owner | ms | ms per execution | share of busy |');
  log('|---|---|---|---|');
  for (const [owner, us] of top(owners, 20)) if (owner !== '(idle)') log(`| ${owner} | ${f1(us / 1000)} | ${f2(us / 1000 / executions)} | ${f1((100 * us) / busy)}% |`);
  log('\ntop functions by self time:\n');
  log('| function | ms | share of busy |');
  log('|---|---|---|');
  for (const [name, us] of top(functions, 25)) if (!name.startsWith('(idle)')) log(`| \`${name.trim()}\` | ${f1(us / 1000)} | ${f1((100 * us) / busy)}% |`);
}

// ---- phases ----------------------------------------------------------------------------------------------------------

interface Options {
  modes: Mode[];
  warmup: number;
  runs: number;
  throughput: number;
  /** Closed loops of `throughput` executions, one after the other: the goals are judged on their medians. */
  throughputRounds: number;
  concurrency: number;
  executions: number;
  workerConcurrency: number | undefined;
  cpuProfile: boolean;
  idleRuns: number;
  schedulers: number;
  task: TaskKind;
  chain: number;
  chainRuns: number;
  syscalls: boolean;
  warmExecutions: number;
}

interface ModeResult {
  mode: Mode;
  /** Phase 0, the cold start: the first `--warm-executions`, at the throughput phase's concurrency. */
  cold?: { rate: number; cpuMs: number; count: number };
  latency: { spawn: number[]; bullmq: number[]; sluice: number[]; failures: number };
  throughput: {
    rate: number;
    p50: number;
    p99: number;
    max: number;
    failures: number;
    count: number;
    cpuMs: number;
    shellCeiling: number;
    budget: BudgetTotals;
    /** Each round's rate and machine CPU per execution (the first is the phase above), when there were several. */
    rounds?: { rate: number; cpuMs: number }[];
  };
  chain?: { median: number; runs: number[]; floor: number };
  memory?: { rate: number; flat: boolean[]; failures: number };
  idle?: number[];
}

const log = (line: string): void => console.log(line);

/** Longer than pg-pool's default idle timeout (10 s), after which an idle pool would have closed its connections. */
const IDLE_PAUSE_MS = 12_000;

function latencyRow(label: string, xs: number[], baselineP50: number): string {
  return `| ${label} | ${xs.length} | ${f2(pct(xs, 50))} | ${f2(pct(xs, 90))} | ${f2(pct(xs, 99))} | ${f2(Math.max(...xs))} | ${f2(mean(xs))} | ${f2(pct(xs, 50) / baselineP50)}x |`;
}

const LOAD_GENERATOR = 'load generator (this process)';

/**
 * `--syscalls`: `strace -c` attached to each server process (its threads included) until `stop()`, which detaches
 * them and gives each process's socket writes (write, writev) and reads.
 */
async function traceSyscalls(stack: Stack): Promise<{ stop(): Promise<Map<string, { writes: number; reads: number }>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-strace-'));
  const traced = await Promise.all(
    stack.processes.map(async (server, index) => {
      const file = join(dir, `${index}.txt`);
      const child = spawn('strace', ['-c', '-f', '-e', 'trace=write,writev,read', '-p', String(server.child.pid ?? -1), '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        let err = '';
        child.once('error', (error) => reject(new Error(`--syscalls needs strace (apt-get install strace): ${error.message}`)));
        child.once('exit', (code) => reject(new Error(`strace exited (${code ?? 'signal'}): ${err.trim()}`)));
        child.stderr?.on('data', (chunk: Buffer) => {
          err += chunk.toString();
          if (err.includes('attached')) resolve();
        });
      });
      return { server, child, file };
    }),
  );
  return {
    async stop() {
      const counts = new Map<string, { writes: number; reads: number }>();
      for (const { server, child, file } of traced) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGINT');
        await exited;
        const calls = new Map<string, number>();
        for (const line of (await readFile(file, 'utf8')).split('\n')) {
          const fields = line.trim().split(/\s+/);
          const name = fields[fields.length - 1];
          // "% time seconds usecs/call calls [errors] syscall"
          if (name === undefined || !/^\d/.test(fields[0] ?? '') || fields.length < 5) continue;
          calls.set(name, Number(fields[3]));
        }
        counts.set(server.name, { writes: (calls.get('write') ?? 0) + (calls.get('writev') ?? 0), reads: calls.get('read') ?? 0 });
      }
      await rm(dir, { recursive: true, force: true });
      return counts;
    },
  };
}

/** CPU ms per execution between two snapshots, of every process but the load generator. */
function machineCpuPerExecution(before: Map<string, number>, after: Map<string, number>, executions: number): number {
  let used = 0;
  for (const [name, end] of after) if (name !== LOAD_GENERATOR) used += end - (before.get(name) ?? NaN);
  return used / executions;
}

/** CPU time (ms) of each process so far; with `part` 'system', only its system (kernel) time. */
async function cpuSnapshot(stack: Stack, redisPids: number[], part: 'all' | 'system' = 'all'): Promise<Map<string, number>> {
  const snapshot = new Map<string, number>();
  const of = async (pid: number): Promise<{ self: number; children: number }> => {
    const cpu = await cpuMs(pid);
    return part === 'all' ? cpu : { self: cpu.system, children: cpu.childrenSystem };
  };
  for (const server of stack.processes) {
    const cpu = await of(server.child.pid ?? -1);
    snapshot.set(server.name, cpu.self);
    if (server.name === 'worker' || stack.mode === 'local') {
      snapshot.set(`${server.name}: child shells`, cpu.children);
      // The PROCESS runner starts commands from a helper process: its CPU and that of the shells it started.
      let spawner = 0;
      for (const pid of await childrenMatching(server.child.pid ?? -1, SPAWNER_NEEDLE)) {
        const helper = await of(pid);
        spawner += helper.self + helper.children;
      }
      snapshot.set(`${server.name}: process spawner and its shells`, spawner);
    }
  }
  let postgres = 0;
  for (const pid of await pidsMatching(`postgres: `)) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (!cmdline.includes(` ${stack.database} `)) continue;
    const cpu = await of(pid);
    postgres += cpu.self;
  }
  snapshot.set(`postgres backends of the bench database`, postgres);
  let redis = 0;
  for (const pid of redisPids) redis += (await of(pid)).self;
  if (stack.mode === 'distributed') snapshot.set('redis-server', redis);
  const usage = process.cpuUsage();
  snapshot.set(LOAD_GENERATOR, (part === 'all' ? usage.user + usage.system : usage.system) / 1000);
  return snapshot;
}

/**
 * Distributed mode: where the sequential executions' BullMQ jobs spent their time, from each queue's events stream
 * (`added`, `active` when a consumer took it, `completed`; the Redis server's ms clock), which outlives the jobs (a
 * completed one without a dedupId is removed at once).
 */
async function logQueueHops(redisUrl: string, from: number, to: number): Promise<void> {
  log('\nBullMQ jobs of those executions, per queue (ms; added → taken by a consumer → finished):\n');
  log('| queue | jobs | wait p50 | wait p90 | handler p50 | handler p90 |');
  log('|---|---|---|---|---|---|');
  for (const [queue, jobs] of await queueEvents(redisUrl, from, to)) {
    const rows = [...jobs.values()].filter((job) => job.added !== undefined && job.active !== undefined && job.finished !== undefined);
    const wait = rows.map((job) => job.active! - job.added!);
    const handler = rows.map((job) => job.finished! - job.active!);
    log(`| ${queue} | ${rows.length} | ${f1(pct(wait, 50))} | ${f1(pct(wait, 90))} | ${f1(pct(handler, 50))} | ${f1(pct(handler, 90))} |`);
  }
}

async function runMode(mode: Mode, options: Options, redisUrl: string, redisPids: number[]): Promise<ModeResult> {
  log(`\n## mode: ${mode}\n`);
  const stack = mode === 'local' ? await startLocalStack(options.workerConcurrency, options.cpuProfile) : await startDistributedStack(redisUrl, options.workerConcurrency, options.schedulers, options.cpuProfile);
  const bull = await bareBullmq(redisUrl);
  const probe = spawnProbe();
  try {
    log(`load average at the start of the mode: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    log(`stack up at ${stack.url}; processes: ${stack.processes.map((p) => `${p.name} (pid ${p.child.pid})`).join(', ')}; worker concurrency ${stack.workerConcurrency}`);
    await deploy(stack.url, flowYaml(options.task));
    if (options.chain > 0) await deploy(stack.url, chainYaml(options.chain));

    // 0. The cold start: servers that ran for a while have compiled their hot paths (V8 optimises a function after
    // thousands of calls, on a thread of its own, so the compiling is CPU counted in the process too), and that
    // steady state is what a long-running orchestrator costs. Measured and printed, so the difference shows.
    let cold: ModeResult['cold'];
    if (options.warmExecutions > 0) {
      const before = await cpuSnapshot(stack, redisPids);
      const run = await closedLoop(stack.url, options.warmExecutions, options.concurrency);
      const after = await cpuSnapshot(stack, redisPids);
      const failed = run.samples.filter((s) => s.error);
      if (failed.length > 0) throw new Error(`cold start: ${failed.length} of ${run.samples.length} failed, first: ${failed[0]?.error}`);
      cold = { rate: (run.samples.length / run.wallMs) * 1000, cpuMs: machineCpuPerExecution(before, after, run.samples.length), count: run.samples.length };
      log(`### 0. cold start: the first ${cold.count} executions, ${options.concurrency} in flight (not the measured phases)\n`);
      log(`${f1(cold.rate)} executions/s, ${f2(cold.cpuMs)} ms of machine CPU per execution (the load generator left out); the phases below run on the warm servers\n`);
    }

    // Warm-up: JIT, connection pools, Postgres caches, the flow cache.
    const warm = await closedLoop(stack.url, options.warmup, 1);
    const warmErrors = warm.samples.filter((s) => s.error);
    if (warmErrors.length > 0) throw new Error(`warm-up: ${warmErrors.length} failed, first: ${warmErrors[0]?.error}`);
    for (let i = 0; i < Math.min(20, options.warmup); i++) {
      await bull.roundTrip();
      await probe.one();
    }

    // 1. latency, sequential, the three alternating.
    const spawnMs: number[] = [];
    const bullMs: number[] = [];
    const sluice: Sample[] = [];
    const latencyStart = Date.now();
    for (let i = 0; i < options.runs; i++) {
      bullMs.push(await timed(() => bull.roundTrip()));
      spawnMs.push(await probe.one());
      sluice.push(await executeOnce(stack.url));
    }
    const ok = sluice.filter((s) => !s.error);
    const sluiceMs = ok.map((s) => s.ms);
    const failures = sluice.length - ok.length;
    log(`### 1. latency: ${options.runs} sequential runs of each, alternating, after ${options.warmup} warm-up executions (ms)\n`);
    log('| case | runs | p50 | p90 | p99 | max | mean | ratio to BullMQ (p50) |');
    log('|---|---|---|---|---|---|---|---|');
    const bullP50 = pct(bullMs, 50);
    log(latencyRow('baseline: bare BullMQ add → completed', bullMs, bullP50));
    log(latencyRow("baseline: spawn('/bin/sh', ['-c', 'true']) → exit", spawnMs, bullP50));
    log(latencyRow(`sluice ${mode}: POST ?wait=true → SUCCESS`, sluiceMs, bullP50));
    log(`\nload average after the phase: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; the BullMQ baseline ran in this process, the spawns in a small Node process of their own (bench/spawn-probe.mjs)`);
    log(`ratios (p50): sluice / bare BullMQ = ${f1(pct(sluiceMs, 50) / bullP50)}x; sluice / spawn = ${f1(pct(sluiceMs, 50) / pct(spawnMs, 50))}x; failures: ${failures}`);
    if (failures > 0) log(`first failure: ${sluice.find((s) => s.error)?.error}`);

    const profiles = ok.map(stagesOf).filter((p): p is number[] => p !== undefined);
    if (profiles.length > 0) {
      const total = mean(ok.map((s) => s.ms));
      log(`\nprofile of the ${profiles.length} sequential executions (state-history timestamps, 1 ms resolution; means add up to the mean total ${f2(total)} ms):\n`);
      log('| stage | p50 ms | p90 ms | mean ms | share of mean |');
      log('|---|---|---|---|---|');
      STAGES.forEach((label, i) => {
        const xs = profiles.map((p) => p[i] ?? NaN);
        log(`| ${label} | ${f1(pct(xs, 50))} | ${f1(pct(xs, 90))} | ${f2(mean(xs))} | ${f1((100 * mean(xs)) / total)}% |`);
      });
      const slowest = ok
        .map((s) => ({ ms: s.ms, stages: stagesOf(s) }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3);
      log(`\nslowest 3, ms per stage in the order above: ${slowest.map((s) => `${f1(s.ms)} = [${s.stages?.join(', ') ?? '?'}]`).join('; ')}`);
    }
    if (mode === 'distributed') await logQueueHops(redisUrl, latencyStart, Date.now());

    // 2. throughput, after the shell ceiling at the same concurrency (the spawns a PROCESS task cannot beat).
    const ceiling = options.throughput > 0 ? await probe.ceiling(Math.min(options.throughput, 1000), options.concurrency) : NaN;
    await sleep(STATS_SETTLE_MS);
    const dbBefore = await databaseStats(stack.database);
    const statementsBefore = await statementsSnapshot(adminUrl, stack.database);
    const redisBefore = mode === 'distributed' ? await redisCommandStats(redisUrl) : undefined;
    const tracing = options.syscalls ? await traceSyscalls(stack) : undefined;
    const before = await cpuSnapshot(stack, redisPids);
    const systemBefore = await cpuSnapshot(stack, redisPids, 'system');
    const phaseStart = Date.now();
    const tp = await closedLoop(stack.url, options.throughput, options.concurrency);
    const phaseEnd = Date.now();
    const syscalls = tracing ? await tracing.stop() : undefined;
    const after = await cpuSnapshot(stack, redisPids);
    const systemAfter = await cpuSnapshot(stack, redisPids, 'system');
    const redisAfter = mode === 'distributed' ? await redisCommandStats(redisUrl) : undefined;
    const statementsAfter = await statementsSnapshot(adminUrl, stack.database);
    const messages = mode === 'distributed' ? await queueMessages(redisUrl, phaseStart, phaseEnd + 1000) : undefined;
    await sleep(STATS_SETTLE_MS);
    const dbAfter = await databaseStats(stack.database);
    const tpOk = tp.samples.filter((s) => !s.error).map((s) => s.ms);
    const tpFailures = tp.samples.length - tpOk.length;
    const rate = (tpOk.length / tp.wallMs) * 1000;
    log(`\n### 2. throughput: ${options.throughput} executions, ${options.concurrency} in flight (closed loop, each ?wait=true)\n`);
    log('| executions | wall s | executions/s | p50 ms | p90 ms | p99 ms | max ms | failures |');
    log('|---|---|---|---|---|---|---|---|');
    log(`| ${tp.samples.length} | ${f2(tp.wallMs / 1000)} | ${f1(rate)} | ${f1(pct(tpOk, 50))} | ${f1(pct(tpOk, 90))} | ${f1(pct(tpOk, 99))} | ${f1(Math.max(...tpOk))} | ${tpFailures} |`);
    if (tpFailures > 0) log(`first failure: ${tp.samples.find((s) => s.error)?.error}`);
    log(`\nload average after the phase: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    log(`shell ceiling measured just before, in a small Node process: ${f1(ceiling)} \`sh -c true\` spawns/s at ${options.concurrency} in flight; sluice / ceiling = ${f1((100 * rate) / ceiling)}%`);
    let machineCpu = NaN;
    let budget: BudgetTotals = {};
    // Per-execution figures mean nothing for a phase that ran none (--throughput 0).
    if (tp.samples.length > 0) {
      log(`\nCPU during the throughput phase (${cpus().length} cores = ${cpus().length * 100}% at most; /proc clock ticks of 10 ms):\n`);
      log('| process | CPU ms per execution | of which system (kernel) | CPU % of one core |');
      log('|---|---|---|---|');
      let totalCpu = 0;
      let totalSystem = 0;
      for (const [name, end] of after) {
        const used = end - (before.get(name) ?? NaN);
        const system = (systemAfter.get(name) ?? NaN) - (systemBefore.get(name) ?? NaN);
        totalCpu += used;
        totalSystem += system;
        log(`| ${name} | ${f2(used / tp.samples.length)} | ${f2(system / tp.samples.length)} | ${f1((100 * used) / tp.wallMs)}% |`);
      }
      log(`| total | ${f2(totalCpu / tp.samples.length)} | ${f2(totalSystem / tp.samples.length)} | ${f1((100 * totalCpu) / tp.wallMs)}% |`);
      machineCpu = machineCpuPerExecution(before, after, tp.samples.length);
      log(`\nmachine CPU per execution, the load generator left out: ${f2(machineCpu)} ms`);
      log(
        `\nPostgres work per execution in that phase (pg_stat_database of the bench database): ` +
          Object.entries(dbAfter)
            .map(([key, value]) => `${f1((value - (dbBefore[key] ?? NaN)) / tp.samples.length)} ${key}`)
            .join(', '),
      );
      if (syscalls) {
        log(`\nsocket writes and reads per execution (strace -c attached for the phase; write and writev, read):\n`);
        log('| process | writes | reads |');
        log('|---|---|---|');
        let writes = 0;
        let reads = 0;
        for (const [name, counts] of syscalls) {
          writes += counts.writes;
          reads += counts.reads;
          log(`| ${name} | ${f2(counts.writes / tp.samples.length)} | ${f2(counts.reads / tp.samples.length)} |`);
        }
        log(`| total | ${f2(writes / tp.samples.length)} | ${f2(reads / tp.samples.length)} |`);
      }
      log(`\n#### budget per execution of the throughput phase\n`);
      budget = printBudget(
        {
          executions: tp.samples.length,
          statementsBefore,
          statementsAfter,
          transactions: (dbAfter.transactions ?? NaN) - (dbBefore.transactions ?? NaN),
          ...(redisBefore && redisAfter ? { redisBefore, redisAfter } : {}),
          ...(messages ? { messages } : {}),
        },
        log,
      );
    }

    // 2a. more rounds of the same closed loop (`--throughput-rounds`): this machine's speed moves by a quarter within
    // minutes, so one round is one sample; the goals are judged on the medians.
    let rounds: { rate: number; cpuMs: number }[] | undefined;
    if (options.throughputRounds > 1 && tp.samples.length > 0) {
      rounds = [{ rate, cpuMs: machineCpu }];
      for (let round = 2; round <= options.throughputRounds; round++) {
        const start = await cpuSnapshot(stack, redisPids);
        const more = await closedLoop(stack.url, options.throughput, options.concurrency);
        const end = await cpuSnapshot(stack, redisPids);
        const failed = more.samples.find((s) => s.error);
        if (failed) throw new Error(`throughput round ${round}: ${failed.error}`);
        rounds.push({ rate: (more.samples.length / more.wallMs) * 1000, cpuMs: machineCpuPerExecution(start, end, more.samples.length) });
      }
      log(`
#### ${rounds.length} rounds of ${options.throughput} executions, ${options.concurrency} in flight, one after the other (the first is the phase above)
`);
      log('| round | executions/s | machine CPU ms per execution (the load generator left out) |');
      log('|---|---|---|');
      rounds.forEach((r, i) => log(`| ${i + 1} | ${f1(r.rate)} | ${f2(r.cpuMs)} |`));
      log(`| median | ${f1(pct(rounds.map((r) => r.rate), 50))} | ${f2(pct(rounds.map((r) => r.cpuMs), 50))} |`);
    }

    // 2c. a chain: `--chain N` sequential PROCESS `true` tasks in one flow, submit → SUCCESS, one at a time.
    let chain: ModeResult['chain'];
    if (options.chain > 0 && options.chainRuns > 0) {
      const first = await executeOnce(stack.url, CHAIN_FLOW_ID); // warm-up
      if (first.error) throw new Error(`chain warm-up: ${first.error}`);
      const runs: number[] = [];
      const between: number[] = [];
      const running: number[] = [];
      for (let i = 0; i < options.chainRuns; i++) {
        const sample = await executeOnce(stack.url, CHAIN_FLOW_ID);
        if (sample.error) throw new Error(`chain: ${sample.error}`);
        if (sample.execution?.taskRunList.length !== options.chain) throw new Error(`chain: ${sample.execution?.taskRunList.length} task runs, expected ${options.chain}`);
        runs.push(sample.ms);
        chainGaps(sample.execution, between, running);
      }
      const floor = pct(spawnMs, 50) + pct(bullMs, 50);
      const median = pct(runs, 50);
      log(`\n### 2c. chain: ${options.chain} sequential PROCESS \`true\` tasks, ${options.chainRuns} executions one at a time (after one warm-up)\n`);
      log(`ms: ${runs.map(f1).join(', ')}; median ${f1(median)} (${f2(median / options.chain)} ms a task); floor (spawn p50 ${f2(pct(spawnMs, 50))} + bare BullMQ p50 ${f2(pct(bullMs, 50))} of phase 1) ${f2(floor)} ms a task; median / (${options.chain} × floor) = ${f2(median / (options.chain * floor))}`);
      log(`per task, from the task runs' state dates (whole milliseconds, so means): the previous task's end → this task RUNNING ${f2(mean(between))} ms; RUNNING → SUCCESS ${f2(mean(running))} ms`);
      chain = { median, runs, floor };
    }

    if (options.cpuProfile && stack.profile) {
      await stack.profile('start');
      const profiled = await closedLoop(stack.url, options.throughput, options.concurrency);
      const files = await stack.profile('stop');
      log(`\n### 2b. CPU profile of the server processes: ${options.throughput} more executions, ${options.concurrency} in flight, under the sampling profiler (0.5 ms)\n`);
      log(`${f1((profiled.samples.length / profiled.wallMs) * 1000)} executions/s under the profiler`);
      for (const written of files) {
        log(`\n#### ${written.name} (open the profile in Chrome DevTools: ${written.file})`);
        await summarizeProfile(written.file, profiled.samples.length);
      }
    }

    // 3. memory.
    let memory: ModeResult['memory'];
    if (options.executions > 0) {
      const step = Math.max(1, Math.floor(options.executions / 10));
      const rows: string[] = [];
      // The servers, and the PROCESS runner's spawner helper each one with a worker has started.
      const tracked: { name: string; pid: number }[] = [];
      for (const p of stack.processes) {
        tracked.push({ name: p.name, pid: p.child.pid ?? -1 });
        for (const pid of await childrenMatching(p.child.pid ?? -1, SPAWNER_NEEDLE)) tracked.push({ name: `${p.name.split(' (')[0]}: process spawner`, pid });
      }
      const samplesRss = async (): Promise<number[]> => Promise.all(tracked.map((p) => rssMb(p.pid)));
      const start = await samplesRss();
      const series: number[][] = [];
      let windowStart = performance.now();
      let window: number[] = [];
      let windowFailures = 0;
      log(`\n### 3. memory: ${options.executions} executions, ${options.concurrency} in flight; RSS every ${step}\n`);
      const run = await closedLoop(stack.url, options.executions, options.concurrency, async (done, sample) => {
        if (sample.error) windowFailures++;
        else window.push(sample.ms);
        if (done % step !== 0) return;
        const rss = await samplesRss();
        series.push(rss);
        const now = performance.now();
        const windowRate = (step / (now - windowStart)) * 1000;
        rows.push(`| ${done} | ${rss.map(f1).join(' | ')} | ${f1(windowRate)} | ${f1(pct(window, 50))} | ${f1(pct(window, 99))} | ${windowFailures} |`);
        log(`  [${mode}] ${done}/${options.executions} executions, ${f1(windowRate)}/s over the last ${step}, RSS ${rss.map((r, i) => `${tracked[i]?.name.split(' (')[0]} ${f1(r)} MiB`).join(', ')}`);
        windowStart = now;
        window = [];
        windowFailures = 0;
      });
      const memFailures = run.samples.filter((s) => s.error).length;
      log(`\nRSS in MiB (VmRSS), per ${step} executions, with the rate and latency of each window:\n`);
      log(`| executions | ${tracked.map((p) => `${p.name} RSS`).join(' | ')} | executions/s | p50 ms | p99 ms | failures |`);
      log(`|---|${tracked.map(() => '---|').join('')}---|---|---|---|`);
      log(`| 0 (after the throughput phase) | ${start.map(f1).join(' | ')} | | | | |`);
      for (const row of rows) log(row);
      const second = series[1] ?? series[0] ?? [];
      const last = series[series.length - 1] ?? [];
      const flat = tracked.map((_, i) => (last[i] ?? NaN) <= (second[i] ?? NaN) * 1.2);
      log('');
      tracked.forEach((p, i) => {
        const growth = ((last[i] ?? NaN) / (second[i] ?? NaN) - 1) * 100;
        log(`${p.name}: ${f1(second[i] ?? NaN)} MiB at ${2 * step} → ${f1(last[i] ?? NaN)} MiB at ${series.length * step} (${growth >= 0 ? '+' : ''}${f1(growth)}%): ${flat[i] ? 'flat (no growth beyond 20%)' : 'NOT flat (grew more than 20%)'}`);
      });
      const memRate = ((run.samples.length - memFailures) / run.wallMs) * 1000;
      log(`sustained over the whole run: ${f1(memRate)} executions/s, ${memFailures} failures; load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
      memory = { rate: memRate, flat, failures: memFailures };
    }

    // 4. after idle: what a user with sporadic executions sees.
    let idle: number[] | undefined;
    if (options.idleRuns > 0) {
      log(`\n### 4. after idle: ${options.idleRuns} executions, each after ${IDLE_PAUSE_MS / 1000} s without traffic\n`);
      const samples: Sample[] = [];
      for (let i = 0; i < options.idleRuns; i++) {
        await sleep(IDLE_PAUSE_MS);
        samples.push(await executeOnce(stack.url));
      }
      const failed = samples.find((s) => s.error);
      if (failed) throw new Error(`after idle: ${failed.error}`);
      idle = samples.map((s) => s.ms);
      log(`ms: ${idle.map(f1).join(', ')}; p50 ${f1(pct(idle, 50))} (sequential p50 above: ${f1(pct(sluiceMs, 50))})`);
    }
    return {
      mode,
      ...(cold ? { cold } : {}),
      latency: { spawn: spawnMs, bullmq: bullMs, sluice: sluiceMs, failures },
      throughput: {
        // With several rounds, the medians (the first round's latencies and budget stay those of the phase above).
        rate: rounds ? pct(rounds.map((r) => r.rate), 50) : rate,
        p50: pct(tpOk, 50),
        p99: pct(tpOk, 99),
        max: Math.max(...tpOk),
        failures: tpFailures,
        count: tp.samples.length,
        cpuMs: rounds ? pct(rounds.map((r) => r.cpuMs), 50) : machineCpu,
        shellCeiling: ceiling,
        budget,
        ...(rounds ? { rounds } : {}),
      },
      ...(chain ? { chain } : {}),
      ...(memory ? { memory } : {}),
      ...(idle ? { idle } : {}),
    };
  } catch (error) {
    for (const p of stack.processes) log(`--- last output of ${p.name}:\n${p.tail()}`);
    throw error;
  } finally {
    probe.close();
    await bull.close();
    const report = await stack.close();
    if (report.length > 0) log(`\nsteps of each scheduler (all phases):\n${report.map((line) => `- ${line}`).join('\n')}`);
  }
}

function parseOptions(): Options {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      mode: { type: 'string' },
      quick: { type: 'boolean', default: false },
      executions: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      throughput: { type: 'string' },
      concurrency: { type: 'string' },
      'worker-concurrency': { type: 'string' },
      'cpu-profile': { type: 'boolean', default: false },
      'idle-runs': { type: 'string' },
      schedulers: { type: 'string' },
      task: { type: 'string' },
      chain: { type: 'string' },
      'chain-runs': { type: 'string' },
      syscalls: { type: 'boolean', default: false },
      'warm-executions': { type: 'string' },
      'throughput-rounds': { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const int = (raw: string | undefined, fallback: number, name: string): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
    return n;
  };
  const mode = values.mode;
  if (mode !== undefined && mode !== 'local' && mode !== 'distributed') throw new Error(`--mode must be local or distributed, got ${mode}`);
  const task = values.task ?? 'process';
  if (task !== 'process' && task !== 'log') throw new Error(`--task must be process or log, got ${task}`);
  return {
    modes: mode === undefined ? ['local', 'distributed'] : [mode],
    warmup: int(values.warmup, quick ? 5 : 20, 'warmup'),
    runs: int(values.runs, quick ? 30 : 200, 'runs'),
    throughput: int(values.throughput, quick ? 200 : 1000, 'throughput'),
    throughputRounds: Math.max(1, int(values['throughput-rounds'], 1, 'throughput-rounds')),
    concurrency: int(values.concurrency, 32, 'concurrency'),
    executions: int(values.executions, quick ? 1000 : 10_000, 'executions'),
    workerConcurrency: values['worker-concurrency'] === undefined ? undefined : int(values['worker-concurrency'], 4, 'worker-concurrency'),
    cpuProfile: values['cpu-profile'] === true,
    idleRuns: int(values['idle-runs'], quick ? 2 : 5, 'idle-runs'),
    schedulers: Math.max(1, int(values.schedulers, 1, 'schedulers')),
    task,
    chain: int(values.chain, 0, 'chain'),
    chainRuns: int(values['chain-runs'], 5, 'chain-runs'),
    syscalls: values.syscalls === true,
    warmExecutions: int(values['warm-executions'], quick ? 500 : 5000, 'warm-executions'),
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { startRedis } = await import('@sluice/testing');
  const redis = await startRedis();
  if (!redis) throw new Error('redis-server is not installed (bash scripts/services.sh)');
  const redisPids = await pidsMatching(`:${redis.port}`);
  log(`# Sluice end to end (issues #5 and #20): one-task ${options.task === 'log' ? 'core Log' : 'PROCESS `true`'} flow, POST ?wait=true${options.chain > 0 ? `; a chain of ${options.chain} PROCESS tasks` : ''}`);
  log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; Postgres ${new URL(adminUrl).host}; Redis ${redis.url}`,
  );
  log(
    `settings: modes ${options.modes.join(', ')}; cold start ${options.warmExecutions}; warm-up ${options.warmup}; latency runs ${options.runs}; throughput ${options.throughput} at ${options.concurrency} in flight; ` +
      `memory ${options.executions} executions${options.schedulers > 1 ? `; ${options.schedulers} schedulers (distributed mode)` : ''}`,
  );
  const results: ModeResult[] = [];
  try {
    for (const mode of options.modes) results.push(await runMode(mode, options, redis.url, redisPids));
  } finally {
    await redis.stop();
  }
  log('\n## summary\n');
  log('| mode | sluice p50 ms | p99 ms | bare BullMQ p50 ms | spawn p50 ms | sluice / BullMQ | sluice / spawn | executions/s | p99 ms under load | RSS flat | p50 ms after idle |');
  log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const p50 = pct(r.latency.sluice, 50);
    log(
      `| ${r.mode} | ${f2(p50)} | ${f2(pct(r.latency.sluice, 99))} | ${f2(pct(r.latency.bullmq, 50))} | ${f2(pct(r.latency.spawn, 50))} | ` +
        `${f1(p50 / pct(r.latency.bullmq, 50))}x | ${f1(p50 / pct(r.latency.spawn, 50))}x | ${f1(r.throughput.rate)} | ${f1(r.throughput.p99)} | ` +
        `${r.memory ? (r.memory.flat.every(Boolean) ? 'yes' : 'no') : '-'} | ${r.idle ? f1(pct(r.idle, 50)) : '-'} |`,
    );
  }
  log('\ntargets (issue #5): p50 ≤ 20 ms end to end; ≥ 200 executions/s with p99 < 1 s; scheduler and worker RSS flat over 10,000 executions');
  log(`\n## issue #20: the budget and its goals (${options.task === 'log' ? 'one core Log task' : 'one PROCESS `true` task'})\n`);
  log('| mode | executions/s | machine CPU ms per execution | SQL statements | transactions | Redis commands | queue messages | p50 / floor (spawn + BullMQ) | executions/s / shell ceiling | chain median ms | chain / (N × floor) |');
  log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const floor = pct(r.latency.spawn, 50) + pct(r.latency.bullmq, 50);
    const b = r.throughput.budget;
    log(
      `| ${r.mode} | ${f1(r.throughput.rate)} | ${f2(r.throughput.cpuMs)} | ${f1(b.statements ?? NaN)} | ${f1(b.transactions ?? NaN)} | ${f1(b.redisCommands ?? NaN)} | ${f1(b.messages ?? NaN)} | ` +
        `${f2(pct(r.latency.sluice, 50) / floor)}x | ${f1((100 * r.throughput.rate) / r.throughput.shellCeiling)}% | ${r.chain ? f1(r.chain.median) : '-'} | ${r.chain ? f2(r.chain.median / (options.chain * r.chain.floor)) : '-'} |`,
    );
  }
  for (const r of results) {
    if (r.cold) log(`${r.mode}, cold start (phase 0, the first ${r.cold.count} executions): ${f1(r.cold.rate)} executions/s, ${f2(r.cold.cpuMs)} ms of machine CPU per execution`);
  }
  log(
    options.task === 'log'
      ? 'goals (issue #20): ≥ 500 executions/s and ≤ 4 ms of machine CPU per execution (distributed)'
      : 'goals (issue #20): p50 ≤ 2.5 × floor; ≥ 75% of the shell ceiling at 32 in flight; a 40-task chain ≤ 1.25 × 40 × floor',
  );
}

if (process.argv[2] === '--serve-local') {
  await serveLocal(process.argv[3] ?? '', process.argv[4] ?? '');
} else {
  await main();
}
