/**
 * Flow control (issue #16): what the tree engine costs, against baselines measured in the same run.
 *
 * 1. `decide` on an execution whose ForEach has N ended task runs (N = 10, 1,000, 10,000) and one still running:
 *    microseconds per call with the run index kept between calls (as the scheduler's step and `sluice run` use it),
 *    side by side with the baseline of building the index from the task runs on each call.
 * 2. A ForEach over N values (1,000 and 10,000) with one `debug.Return` each, `concurrencyLimit: 0`, in local mode
 *    (`startLocalServer`, what `sluice server local` runs, in a child process): wall time from the POST to SUCCESS,
 *    and the server process's CPU time (API + scheduler + worker: one process in local mode) per task run.
 * 3. A Parallel of 50 PROCESS `true` tasks, in the same server, against 50 bare `sh -c true` spawns run at the
 *    worker's concurrency in this process.
 *
 *   npm run bench:flow-control -- [--values 1000,10000] [--decide 10,1000,10000] [--parallel 50] [--concurrency 16]
 *
 * `SLUICE_BENCH_CPU_PROF=DIR` writes a V8 CPU profile of the server process to DIR.
 *
 * Needs the test Postgres (`bash scripts/services.sh`, or SLUICE_TEST_DATABASE_URL).
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Flow } from '@sluice/core';
import { decide, RunIndex, structureOf } from '@sluice/engine';
import type { EngineTaskRun } from '@sluice/engine';

const adminUrl = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://sluice:sluice@127.0.0.1:5433/postgres';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

// --- 1. decide ---------------------------------------------------------------------------------------------------

function loopFlow(n: number): Flow {
  return {
    id: 'bench',
    namespace: 'bench',
    tasks: [
      {
        id: 'each',
        type: 'io.kestra.plugin.core.flow.ForEach',
        values: Array.from({ length: n }, (_, i) => String(i)),
        concurrencyLimit: 0,
        tasks: [{ id: 'ret', type: 'io.kestra.plugin.core.debug.Return', format: '{{ taskrun.value }}' }],
      },
    ],
  } as Flow;
}

function loopRuns(n: number): EngineTaskRun[] {
  const runs: EngineTaskRun[] = [{ id: 'each', taskId: 'each', state: 'RUNNING', attempt: 1, engineState: { values: Array.from({ length: n }, (_, i) => String(i)) } }];
  for (let i = 0; i < n; i++) runs.push({ id: `r${i}`, taskId: 'ret', parentTaskRunId: 'each', value: String(i), state: i === n - 1 ? 'RUNNING' : 'SUCCESS', attempt: 1 });
  return runs;
}

function benchDecide(sizes: number[]): void {
  console.log('\n1. decide on a ForEach with N ended task runs and one running (µs per call, median of 9 batches)');
  console.log('   N        with the run index    baseline: index rebuilt per call');
  for (const n of sizes) {
    const flow = loopFlow(n);
    const runs = loopRuns(n);
    const index = RunIndex.build(structureOf(flow), runs);
    const execution = { id: 'e', state: 'RUNNING' as const, taskRuns: runs };
    const options = { now: new Date(), newTaskRunId: () => 'new' };
    const time = (withIndex: boolean): number => {
      const calls = withIndex ? 20_000 : Math.max(5, Math.floor(200_000 / n));
      const batches: number[] = [];
      for (let b = 0; b < 9; b++) {
        const start = performance.now();
        for (let i = 0; i < calls; i++) {
          const { actions } = decide(flow, execution, withIndex ? { ...options, index } : options);
          if (actions.length !== 0) throw new Error(`unexpected actions: ${JSON.stringify(actions)}`);
        }
        batches.push(((performance.now() - start) * 1000) / calls);
      }
      return median(batches);
    };
    console.log(`   ${String(n).padEnd(8)} ${time(true).toFixed(2).padStart(10)}            ${time(false).toFixed(1).padStart(10)}`);
  }
}

// --- 2 and 3: local server ---------------------------------------------------------------------------------------

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  close(): Promise<void>;
}

async function startServer(concurrency: number): Promise<Server> {
  const name = `sluice_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-fc-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url.toString() };
  delete env.REDIS_URL;
  const execArgv = process.env.SLUICE_BENCH_CPU_PROF ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${process.env.SLUICE_BENCH_CPU_PROF}`] : process.execArgv;
  const child = fork(fileURLToPath(import.meta.url), ['--serve-local', dataDir, String(concurrency)], { execArgv, env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const serverUrl = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the local server exited (${code ?? 'signal'}) before listening`)));
  });
  return {
    url: serverUrl,
    child,
    async close() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function serveLocal(dataDir: string, concurrency: string): Promise<void> {
  const { startLocalServer } = await import('../apps/cli/src/commands/server.js');
  const io = { stdout: () => undefined, stderr: (text: string) => process.stderr.write(`${text}\n`) };
  const server = await startLocalServer({ port: 0, host: '127.0.0.1', dataDir, concurrency: Number(concurrency) }, process.env, io);
  process.send?.({ url: server.url });
  const stop = (): void => {
    void server.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
}

/** utime + stime of a process, in ms (/proc/<pid>/stat; clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function request(url: string, method: string, body?: string, contentType?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: contentType ? { 'content-type': contentType } : {} }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.setTimeout(600_000);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function deployAndRun(server: Server, yaml: string, flowId: string): Promise<{ ms: number; state: string; taskRuns: number; cpuMs: number }> {
  const deployed = await request(`${server.url}/api/v1/flows`, 'POST', yaml, 'application/x-yaml');
  if (deployed.status !== 200 && deployed.status !== 201 && deployed.status !== 409) throw new Error(`deploy: ${deployed.status} ${deployed.body}`);
  const pid = server.child.pid ?? 0;
  const cpuBefore = await cpuMs(pid);
  const start = performance.now();
  const answer = await request(`${server.url}/api/v1/executions/bench/${flowId}?wait=true`, 'POST');
  const ms = performance.now() - start;
  const cpuAfter = await cpuMs(pid);
  if (answer.status !== 200) throw new Error(`execute: ${answer.status} ${answer.body.slice(0, 500)}`);
  const execution = JSON.parse(answer.body) as { state: { current: string }; taskRunList: unknown[] };
  return { ms, state: execution.state.current, taskRuns: execution.taskRunList.length, cpuMs: cpuAfter - cpuBefore };
}

async function benchLoop(server: Server, sizes: number[]): Promise<void> {
  console.log('\n2. ForEach over N values, one debug.Return each, concurrencyLimit 0, local mode');
  console.log('   N        state      task runs   wall time    server CPU   CPU per task run');
  for (const n of sizes) {
    const values = JSON.stringify(Array.from({ length: n }, (_, i) => `v${i}`));
    const yaml = `id: loop_${n}\nnamespace: bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: 0\n    values: '${values}'\n    tasks:\n      - id: ret\n        type: io.kestra.plugin.core.debug.Return\n        format: "{{ taskrun.value }}"\n`;
    const result = await deployAndRun(server, yaml, `loop_${n}`);
    console.log(
      `   ${String(n).padEnd(8)} ${result.state.padEnd(10)} ${String(result.taskRuns).padStart(9)}   ${(result.ms / 1000).toFixed(2).padStart(7)} s   ${(result.cpuMs / 1000).toFixed(2).padStart(7)} s   ${(result.cpuMs / n).toFixed(2).padStart(8)} ms`,
    );
  }
}

async function bareSpawns(count: number, concurrency: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await new Promise<void>((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', 'true'], { stdio: 'ignore' });
        child.once('error', reject);
        child.once('exit', () => resolve());
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return performance.now() - start;
}

async function benchParallel(server: Server, count: number, concurrency: number): Promise<void> {
  console.log(`\n3. Parallel of ${count} PROCESS \`true\` tasks (worker concurrency ${concurrency}) against ${count} bare spawns at the same concurrency`);
  const tasks = Array.from(
    { length: count },
    (_, i) => `      - id: t${i}\n        type: io.kestra.plugin.scripts.shell.Commands\n        taskRunner:\n          type: io.kestra.plugin.core.runner.Process\n        commands:\n          - "true"\n`,
  ).join('');
  const yaml = `id: par_${count}\nnamespace: bench\ntasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n${tasks}`;
  const runs: { sluice: number; bare: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const bare = await bareSpawns(count, concurrency);
    const result = await deployAndRun(server, yaml, `par_${count}`);
    if (result.state !== 'SUCCESS') throw new Error(`Parallel ended ${result.state}`);
    runs.push({ sluice: result.ms, bare });
  }
  const sluice = median(runs.map((r) => r.sluice));
  const bare = median(runs.map((r) => r.bare));
  console.log(`   median of 5: Sluice ${sluice.toFixed(0)} ms, bare spawns ${bare.toFixed(0)} ms (${(sluice / bare).toFixed(2)}×)`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--serve-local') {
    await serveLocal(process.argv[3] ?? '', process.argv[4] ?? '16');
    return;
  }
  const { values } = parseArgs({
    options: { values: { type: 'string', default: '1000,10000' }, decide: { type: 'string', default: '10,1000,10000' }, parallel: { type: 'string', default: '50' }, concurrency: { type: 'string', default: '16' } },
  });
  const list = (text: string): number[] => text.split(',').filter(Boolean).map(Number);
  benchDecide(list(values.decide));
  const concurrency = Number(values.concurrency);
  const server = await startServer(concurrency);
  try {
    await benchLoop(server, list(values.values));
    // --parallel 0 leaves the third part out.
    if (Number(values.parallel) > 0) await benchParallel(server, Number(values.parallel), concurrency);
  } finally {
    await server.close();
  }
}

await main();
