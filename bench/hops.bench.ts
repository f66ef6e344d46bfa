/**
 * The architecture's own floor (issue #20): what the hops of a one-task execution in distributed mode cost this
 * machine when nothing else is done, against which Sluice's cost per execution (`bench:e2e`) can be read.
 *
 * Three processes of bench/hops-role.mjs (plain Node, no Sluice code) do what `sluice server api`, `scheduler` and
 * `worker` do for a one-`Log`-task execution, hop for hop, and nothing more: HTTP in, one INSERT, a BullMQ task job,
 * the worker's lease on the run (taken, then marked done: two Lua calls), a BullMQ result job, one statement for the end, a Redis PUBLISH of it, HTTP out. Same services as bench:e2e (the
 * test Postgres, a private redis-server), same load (`--concurrency` clients in a closed loop, keep-alive). Per round:
 * executions/s and the CPU time of each process per execution, from /proc (Postgres backends of the bench database,
 * Redis, the three roles, and this process as the load generator, which the machine's figure leaves out as
 * bench:e2e's does).
 *
 *   npm run bench:hops -- [--throughput N] [--rounds N] [--warmup N] [--concurrency N] [--results bullmq|stream] [--tasks bullmq|stream]
 *
 * `--results stream` sends the results over a Redis stream (XADD; XREADGROUP, then XACK and XDEL) instead of a
 * BullMQ queue, and `--tasks stream` the task jobs, to price each hop against BullMQ's (bench/hops-role.mjs).
 *
 * Sluice does more per execution than this skeleton: the kill check, the state histories, the
 * task's rendering and its log line, the end's read-back, validation. This is a lower bound for the design (BullMQ
 * between every pair of processes, Postgres for every state), not for any implementation of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startRedis } from '@sluice/testing';
import { cpuMs, pidsMatching } from './budget.js';
import { admin, adminUrl } from './admin.js';

const ROLES = ['api', 'worker', 'scheduler'] as const;
const LOAD_GENERATOR = 'load generator (this process)';

interface Options {
  throughput: number;
  rounds: number;
  warmup: number;
  concurrency: number;
  results: 'bullmq' | 'stream';
  tasks: 'bullmq' | 'stream';
}

function parseOptions(): Options {
  const options: Options = { throughput: 2000, rounds: 3, warmup: 2000, concurrency: 32, results: 'bullmq', tasks: 'bullmq' };
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] ?? '';
    if (flag === '--results' || flag === '--tasks') {
      const value = args[++i];
      if (value !== 'bullmq' && value !== 'stream') throw new Error(`${flag} takes bullmq or stream, not ${value ?? 'nothing'}`);
      options[flag === '--results' ? 'results' : 'tasks'] = value;
      continue;
    }
    const key = ({ '--throughput': 'throughput', '--rounds': 'rounds', '--warmup': 'warmup', '--concurrency': 'concurrency' } as const)[flag];
    const value = Number(args[i + 1]);
    if (key === undefined) throw new Error(`unknown option ${flag}: --throughput N, --rounds N, --warmup N, --concurrency N, --results bullmq|stream, --tasks bullmq|stream`);
    if (!Number.isInteger(value) || value < (key === 'warmup' ? 0 : 1)) throw new Error(`${flag} needs a whole number${key === 'warmup' ? '' : ' above 0'}, not ${args[i + 1] ?? 'nothing'}`);
    options[key] = value;
    i++;
  }
  return options;
}

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function startRole(role: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port?: number }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./hops-role.mjs', import.meta.url)), role], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`the ${role} role exited (${code ?? 'signal'}) before it was ready`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /ready(?: (\d+))?/.exec(out);
      if (ready) resolve({ child, ...(ready[1] ? { port: Number(ready[1]) } : {}) });
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
function post(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/run', agent, headers: { 'content-length': 0 } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => (response.statusCode === 200 && text.includes('"SUCCESS"') ? resolve() : reject(new Error(`${response.statusCode}: ${text}`))));
    });
    request.once('error', reject);
    request.end();
  });
}

async function closedLoop(port: number, total: number, concurrency: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        next++;
        await post(port);
      }
    }),
  );
  return performance.now() - start;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const redis = await startRedis();
  if (!redis) throw new Error('redis-server is not installed (bash scripts/services.sh)');
  const database = `sluice_hops_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE "${database}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const children: ChildProcess[] = [];
  try {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await client.query(
      'CREATE TABLE executions (id text PRIMARY KEY, state text NOT NULL, created timestamptz NOT NULL, ended timestamptz); ' +
        'CREATE TABLE task_runs (id text PRIMARY KEY, execution_id text NOT NULL REFERENCES executions (id), state text NOT NULL)',
    );
    await client.end();
    const env = { ...process.env, DATABASE_URL: url.toString(), REDIS_URL: redis.url, HOPS_RESULTS: options.results, HOPS_TASKS: options.tasks };
    const pids = new Map<string, number>();
    let port = 0;
    for (const role of ROLES) {
      const started = await startRole(role, env);
      children.push(started.child);
      pids.set(role, started.child.pid ?? -1);
      if (started.port !== undefined) port = started.port;
    }
    const redisPids = await pidsMatching(`:${redis.port}`);
    console.log(
      `# The hops alone (bench/hops-role.mjs): ${options.rounds} rounds of ${options.throughput} executions at ${options.concurrency} in flight, after ${options.warmup} to warm up; tasks over ${options.tasks === 'stream' ? 'a Redis stream' : 'a BullMQ queue'}, results over ${options.results === 'stream' ? 'a Redis stream' : 'a BullMQ queue'}`,
    );
    console.log(`machine: ${cpus().length} cores, Node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; Postgres ${url.host}; Redis ${redis.url}\n`);
    if (options.warmup > 0) await closedLoop(port, options.warmup, options.concurrency);

    // Each process's CPU time so far, and (as `<name> system`) its system part.
    const snapshot = async (): Promise<Map<string, number>> => {
      const cpu = new Map<string, number>();
      const add = (name: string, time: { self: number; system: number }): void => {
        cpu.set(name, (cpu.get(name) ?? 0) + time.self);
        cpu.set(`${name} system`, (cpu.get(`${name} system`) ?? 0) + time.system);
      };
      for (const [role, pid] of pids) add(role, await cpuMs(pid));
      add('postgres', { self: 0, system: 0 });
      for (const pid of await pidsMatching(` ${database} `)) add('postgres', await cpuMs(pid));
      add('redis', { self: 0, system: 0 });
      for (const pid of redisPids) add('redis', await cpuMs(pid));
      const usage = process.cpuUsage();
      add(LOAD_GENERATOR, { self: (usage.user + usage.system) / 1000, system: usage.system / 1000 });
      return cpu;
    };
    const columns = [...ROLES, 'postgres', 'redis'];
    console.log(`| round | executions/s | machine CPU ms per execution (load generator left out) | ${columns.join(' | ')} | ${LOAD_GENERATOR} |`);
    console.log(`|---|---|---|${columns.map(() => '---|').join('')}---|`);
    const rates: number[] = [];
    const perExecution: number[] = [];
    const systemPerExecution: number[] = [];
    const byProcess = new Map<string, number[]>();
    for (let round = 1; round <= options.rounds; round++) {
      const before = await snapshot();
      const wallMs = await closedLoop(port, options.throughput, options.concurrency);
      const after = await snapshot();
      const used = new Map([...after].map(([name, value]) => [name, (value - (before.get(name) ?? NaN)) / options.throughput]));
      const machine = columns.reduce((sum, name) => sum + (used.get(name) ?? NaN), 0);
      const rate = (options.throughput / wallMs) * 1000;
      rates.push(rate);
      perExecution.push(machine);
      systemPerExecution.push(columns.reduce((sum, name) => sum + (used.get(`${name} system`) ?? NaN), 0));
      for (const [name, value] of used) byProcess.set(name, [...(byProcess.get(name) ?? []), value]);
      console.log(`| ${round} | ${rate.toFixed(1)} | ${f2(machine)} | ${columns.map((name) => f2(used.get(name) ?? NaN)).join(' | ')} | ${f2(used.get(LOAD_GENERATOR) ?? NaN)} |`);
    }
    console.log(
      `| median | ${median(rates).toFixed(1)} | ${f2(median(perExecution))} | ${columns.map((name) => f2(median(byProcess.get(name) ?? []))).join(' | ')} | ${f2(median(byProcess.get(LOAD_GENERATOR) ?? []))} |`,
    );
    console.log(
      `| of which system (kernel), median | | ${f2(median(systemPerExecution))} | ${columns.map((name) => f2(median(byProcess.get(`${name} system`) ?? []))).join(' | ')} | ${f2(median(byProcess.get(`${LOAD_GENERATOR} system`) ?? []))} |`,
    );
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    await redis.stop();
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    agent.destroy();
  }
}

await main();
