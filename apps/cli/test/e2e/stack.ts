/**
 * End-to-end stacks for the suite in `e2e.test.ts`, both driven through the REST API only:
 *
 * - `local`: `sluice server local` in this process (`startLocalServer`): API + scheduler + worker of group
 *   `default`, in-process queue; extra workers (`startWorker('gpu')`) join the same in-process queue.
 * - `distributed`: the API and two scheduler replicas in this process over BullMQ (a real redis-server), and every
 *   worker a separate `sluice server worker --worker-group <g>` process (so a test can SIGKILL one).
 *
 * Both use a fresh database on the test Postgres (scripts/services.sh) and a temporary data folder.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApi, readEnv } from '@sluice/api';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { createBullmqQueue } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import { createScheduler } from '@sluice/scheduler';
import type { Scheduler } from '@sluice/scheduler';
import { LocalFileStorage } from '@sluice/storage';
import { createTestDatabase, startRedis } from '@sluice/testing';
import type { RedisServer } from '@sluice/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { startLocalServer } from '../../src/commands/server.js';
import type { RunningLocalServer } from '../../src/commands/server.js';

const migrationsDir = fileURLToPath(new URL('../../../../prisma/migrations', import.meta.url));
const cliBin = fileURLToPath(new URL('../../bin/sluice.mjs', import.meta.url));
export const WORKER_TOKEN = 'e2e-worker-token';

export interface ExecutionJson {
  id: string;
  namespace: string;
  flowId: string;
  state: { current: string; histories: { state: string; date: string }[] };
  taskRunList: {
    id: string;
    taskId: string;
    parentTaskRunId?: string;
    value?: string | null;
    iteration?: number;
    state: { current: string };
    attempts?: { state: { current: string } }[];
    outputs?: Record<string, unknown>;
    workerGroup?: string;
    workerId?: string;
  }[];
  [key: string]: unknown;
}

export type TaskRunJson = ExecutionJson['taskRunList'][number];

/** A PROCESS shell task running `command`, as YAML lines indented by `indent`. */
export const sh = (id: string, command: string, indent: string): string =>
  [`- id: ${id}`, `  type: io.kestra.plugin.scripts.shell.Commands`, `  taskRunner:`, `    type: io.kestra.plugin.core.runner.Process`, `  commands:`, `    - ${JSON.stringify(command)}`]
    .map((line) => indent + line)
    .join('\n');

/** The task runs of `taskId`, in the execution's order. */
export function taskRuns(execution: ExecutionJson, taskId: string): TaskRunJson[] {
  return execution.taskRunList.filter((r) => r.taskId === taskId);
}

/** The one task run of `taskId`; fails the test when there is none or several. */
export function taskRun(execution: ExecutionJson, taskId: string): TaskRunJson {
  const found = taskRuns(execution, taskId);
  expect(found, taskId).toHaveLength(1);
  return found[0]!;
}

export interface WorkerHandle {
  readonly id: string;
  /** SIGKILL (distributed) or a hard stop. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface Stack {
  readonly mode: 'local' | 'distributed';
  readonly url: string;
  readonly db: Db;
  api(path: string, init?: RequestInit): Promise<Response>;
  deploy(yaml: string): Promise<void>;
  /** POST /executions; `wait` adds `?wait=true`. */
  execute(namespace: string, flowId: string, options?: { inputs?: Record<string, string>; wait?: boolean }): Promise<ExecutionJson>;
  get(id: string): Promise<ExecutionJson>;
  /** Poll until `predicate` holds (default: the execution ended). */
  waitFor(id: string, predicate?: (e: ExecutionJson) => boolean, timeoutMs?: number): Promise<ExecutionJson>;
  startWorker(group: string, options?: { env?: Record<string, string> }): Promise<WorkerHandle>;
  /** Stop every scheduler and start fresh ones (distributed only). */
  restartSchedulers?(between?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

const TERMINAL = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED'];

function client(url: string, db: Db): Omit<Stack, 'mode' | 'startWorker' | 'close' | 'restartSchedulers'> {
  const api = (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${url}${path}`, init);
  const json = async <T>(response: Response): Promise<T> => {
    const text = await response.text();
    if (!response.ok) throw new Error(`${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const get = async (id: string): Promise<ExecutionJson> => json<ExecutionJson>(await api(`/api/v1/executions/${id}`));
  return {
    url,
    db,
    api,
    async deploy(yaml) {
      const response = await api('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: yaml });
      if (response.status === 409) {
        const head = /^id:\s*(\S+)\s*\nnamespace:\s*(\S+)/m.exec(yaml);
        if (!head) throw new Error('deploy: cannot find id/namespace');
        await json(await api(`/api/v1/flows/${head[2]}/${head[1]}`, { method: 'PUT', headers: { 'content-type': 'application/x-yaml' }, body: yaml }));
        return;
      }
      await json(response);
    },
    async execute(namespace, flowId, options = {}) {
      const form = new FormData();
      for (const [key, value] of Object.entries(options.inputs ?? {})) form.append(key, value);
      const response = await api(`/api/v1/executions/${namespace}/${flowId}${options.wait ? '?wait=true' : ''}`, { method: 'POST', body: form });
      return json<ExecutionJson>(response);
    },
    get,
    async waitFor(id, predicate = (e) => TERMINAL.includes(e.state.current), timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: ExecutionJson | undefined;
      while (Date.now() < deadline) {
        last = await get(id);
        if (predicate(last)) return last;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`execution ${id} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last?.state.current)} ${JSON.stringify(last?.taskRunList.map((t) => [t.taskId, t.state.current]))}`);
    },
  };
}

/** `sluice server local` in this process, its worker narrowed to group `default`. */
export async function startLocalStack(env: Record<string, string>): Promise<Stack | undefined> {
  const database = await createTestDatabase('sluice_e2e');
  if (!database) return undefined;
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-e2e-local-'));
  const lines: string[] = [];
  const io = { stdout: (t: string) => lines.push(t), stderr: (t: string) => lines.push(t) };
  let server: RunningLocalServer;
  try {
    server = await startLocalServer({ port: 0, host: '127.0.0.1', workerGroup: 'default', dataDir }, { ...process.env, ...env, DATABASE_URL: database.url }, io);
  } catch (error) {
    await database.drop();
    throw error;
  }
  const db = server.db;
  return {
    mode: 'local',
    ...client(server.url, db),
    async startWorker(group) {
      const worker = await server.addWorker(group);
      return { id: worker.id, kill: () => worker.stop({ graceMs: 0 }), stop: () => worker.stop({ graceMs: 5000 }) };
    },
    async close() {
      await server.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** API + two schedulers here over BullMQ; workers as `sluice server worker` processes. */
export async function startDistributedStack(env: Record<string, string>): Promise<Stack | undefined> {
  const database = await createTestDatabase('sluice_e2e');
  if (!database) return undefined;
  const redis: RedisServer | undefined = await startRedis();
  if (!redis) {
    await database.drop();
    return undefined;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-e2e-dist-'));
  await migrate({ databaseUrl: database.url, migrationsDir });
  const db = createDb({ databaseUrl: database.url });
  const apiQueue = createBullmqQueue({ url: redis.url });
  const apiEnv = readEnv({ SLUICE_WORKER_TOKEN: WORKER_TOKEN, SLUICE_STORAGE_DIR: join(dataDir, 'storage') } as NodeJS.ProcessEnv);
  const app: FastifyInstance = buildApi(apiEnv, db, apiQueue, new LocalFileStorage({ root: apiEnv.storageDir }), process.env.SLUICE_TEST_API_LOG === '1');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  const registries = createDefaultRegistries();
  const schedulers: { scheduler: Scheduler; queue: QueueDriver }[] = [];
  const logs: string[] = [];
  const startSchedulers = async (): Promise<void> => {
    for (let i = 0; i < 2; i++) {
      const queue = createBullmqQueue({ url: redis.url, lockDurationMs: 2000, stalledIntervalMs: 1000 });
      const scheduler = createScheduler({ db, queue, resolveTaskType: (type) => registries.tasks.find(type), log: (line) => logs.push(line), triggerIntervalMs: 250, workerLivenessMs: 10_000 });
      await scheduler.start();
      schedulers.push({ scheduler, queue });
    }
  };
  const stopSchedulers = async (): Promise<void> => {
    for (const { scheduler, queue } of schedulers.splice(0)) {
      await scheduler.stop();
      await queue.close();
    }
  };
  await startSchedulers();
  const children = new Set<ChildProcess>();
  return {
    mode: 'distributed',
    ...client(url, db),
    async startWorker(group, options = {}) {
      const child = spawn(process.execPath, [cliBin, 'server', 'worker', '--worker-group', group, '--concurrency', '4'], {
        env: {
          ...process.env,
          ...env,
          ...options.env,
          REDIS_URL: redis.url,
          SLUICE_API_URL: url,
          SLUICE_WORKER_TOKEN: WORKER_TOKEN,
          SLUICE_QUEUE_LOCK_MS: '2000',
          SLUICE_WORK_DIR: dataDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      const output: string[] = [];
      const id = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${group} did not start in 30 s:\n${output.join('')}`)), 30_000);
        const onData = (chunk: Buffer): void => {
          output.push(chunk.toString());
          const match = /worker (\S+) serving group/.exec(output.join(''));
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`worker ${group} exited with ${code}:\n${output.join('')}`));
        });
      });
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        child.once('exit', () => resolve());
      });
      return {
        id,
        async kill() {
          child.kill('SIGKILL');
          await exited;
          children.delete(child);
        },
        async stop() {
          child.kill('SIGTERM');
          await exited;
          children.delete(child);
        },
      };
    },
    async restartSchedulers(between) {
      await stopSchedulers();
      await between?.();
      await startSchedulers();
    },
    async close() {
      for (const child of children) child.kill('SIGKILL');
      await stopSchedulers();
      await app.close();
      await apiQueue.close();
      await db.close();
      await redis.stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The stack of `mode`, with no extra environment, for the tests of the enclosing `describe`: started before them (in
 * distributed mode with a worker of group `default`, which the local stack has built in) and closed after them. The
 * stack returned hands every call to the started one, so use it in tests and hooks only.
 */
export function useStack(mode: 'local' | 'distributed'): Stack {
  let started: Stack | undefined;
  beforeAll(async () => {
    const stack = mode === 'local' ? await startLocalStack({}) : await startDistributedStack({});
    if (!stack) throw new Error('Postgres or redis-server unavailable: run scripts/services.sh');
    started = stack;
    if (mode === 'distributed') await stack.startWorker('default');
  }, 120_000);
  afterAll(async () => {
    await started?.close();
  }, 60_000);
  const current = (): Stack => {
    if (!started) throw new Error(`the ${mode} stack is not started: use it in a test or a hook`);
    return started;
  };
  return {
    mode,
    get url() {
      return current().url;
    },
    get db() {
      return current().db;
    },
    api: (path, init) => current().api(path, init),
    deploy: (yaml) => current().deploy(yaml),
    execute: (namespace, flowId, options) => current().execute(namespace, flowId, options),
    get: (id) => current().get(id),
    waitFor: (id, predicate, timeoutMs) => current().waitFor(id, predicate, timeoutMs),
    startWorker: (group, options) => current().startWorker(group, options),
    ...(mode === 'distributed' ? { restartSchedulers: (between?: () => Promise<void>) => current().restartSchedulers!(between) } : {}),
    close: () => current().close(),
  };
}
