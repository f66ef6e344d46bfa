/**
 * Issue #15: the API while Redis is down or stalled. The API, a scheduler and a worker (played by the test) share a
 * Postgres database and a `redis-server` that the test kills and starts again empty, or stalls through a proxy in
 * front of the API's connections (a Redis that stopped answering without closing them).
 *
 * What it proves:
 * - while Redis is down, creating, restarting and killing executions, saving a flow and every read answer as usual
 *   (no hang, no 5xx), `/health` says the queue is DOWN with a 503 and `Retry-After`, and once Redis is back (empty)
 *   the scheduler's reconciliation carries out what was asked: the new executions run once each, the restarted one
 *   runs its failed task again, the killed one ends KILLED (its running task stopped), and `?wait=true` answers with
 *   the end;
 * - while Redis stalls, a creation answers once the API stopped waiting for the queue (a bound, not a hang), and the
 *   publish it gave up on, delivered when Redis answers again next to the reconciliation's own event, does not run
 *   the execution twice.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createBullmqQueue } from '@sluice/queue';
import { createDefaultRegistries } from '@sluice/plugins';
import type { ExecutionMessage, QueueDriver, ResultMessage, TaskJob } from '@sluice/queue';
import { createScheduler } from '@sluice/scheduler';
import { LocalFileStorage } from '@sluice/storage';
import { createTestDatabase, RestartableRedis, servicesRequired, StallingProxy, waitFor } from '@sluice/testing';
import type { TestDatabase } from '@sluice/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, migrationsDir, readEnv } from '../src/index.js';

const closers: (() => Promise<void>)[] = [];
const database: TestDatabase | undefined = await createTestDatabase('sluice_api_queue_down');
if (!database && servicesRequired()) throw new Error('Postgres is not running: sudo bash scripts/services.sh');

interface Stack {
  readonly url: string;
  readonly db: Db;
  readonly redis: RestartableRedis;
  readonly proxy: StallingProxy;
  readonly worker: QueueDriver;
  /** The API's log lines at warn level and above (pino JSON). */
  readonly apiLog: string[];
  /** Task jobs the worker took: `<executionId> <attempt>`. */
  readonly deliveries: string[];
  /** Execution events the scheduler handled. */
  readonly handled: ExecutionMessage[];
}

const ns = `queue.down.${randomBytes(3).toString('hex')}`;

describe.skipIf(!database)('the API while Redis is down', () => {
  let stack: Stack;

  beforeAll(async () => {
    const url = database!.url;
    await migrate({ databaseUrl: url, migrationsDir });
    const db = createDb({ databaseUrl: url });
    closers.push(() => db.close());
    const redis = await RestartableRedis.start();
    closers.push(() => redis.kill());
    const proxy = await StallingProxy.start(redis.port);
    closers.push(() => proxy.close());
    const prefix = `sluice-api-down-${process.pid}`;
    const quiet = { prefix, onError: () => undefined };

    // The scheduler and the worker reach Redis directly; the API through the proxy.
    const schedulerQueue = createBullmqQueue({ url: redis.url, ...quiet });
    const worker = createBullmqQueue({ url: redis.url, ...quiet });
    const apiQueue = createBullmqQueue({ url: proxy.url, ...quiet });
    closers.push(() => schedulerQueue.close(), () => worker.close(), () => apiQueue.close());
    // What the scheduler handled on the executions channel (once its handler resolved).
    const handled: ExecutionMessage[] = [];
    const observed = new Proxy(schedulerQueue, {
      get(target, property) {
        if (property !== 'consumeExecutions') {
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        }
        const consume: QueueDriver['consumeExecutions'] = (options, handler) =>
          target.consumeExecutions(options, async (message) => {
            await handler(message);
            handled.push(message);
          });
        return consume;
      },
    });
    const registries = createDefaultRegistries();
    const scheduler = createScheduler({
      db,
      queue: observed,
      resolveTaskType: (type) => registries.tasks.find(type),
      triggerIntervalMs: 0,
      requeueAfterMs: 1000,
      reconcileIntervalMs: 250,
    });
    await scheduler.start();
    closers.push(() => scheduler.stop());

    const storageDir = await mkdtemp(join(tmpdir(), 'sluice-api-queue-down-'));
    closers.push(() => rm(storageDir, { recursive: true, force: true }));
    const apiLog: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        apiLog.push(chunk.toString('utf8'));
        done();
      },
    });
    const app: FastifyInstance = buildApi(readEnv({}), db, apiQueue, new LocalFileStorage({ root: storageDir }), { level: 'warn', stream });
    closers.push(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');

    // The worker of the default group: `hello` succeeds; `flaky` fails its first attempt; `hold` runs until its
    // execution is marked killed in the queue, then reports KILLED.
    const deliveries: string[] = [];
    let closing = false;
    closers.push(async () => {
      closing = true;
    });
    const result = (job: TaskJob, state: 'SUCCESS' | 'FAILED' | 'KILLED', startedAt: string, reportsStart: boolean): ResultMessage => ({
      type: 'ended',
      executionId: job.executionId,
      taskRunId: job.taskRunId,
      taskId: job.taskId,
      attempt: job.attempt,
      workerId: 'api-test-worker',
      state,
      outputs: {},
      startedAt,
      endedAt: new Date().toISOString(),
      ...(reportsStart ? { reportsStart } : {}),
    });
    worker.consumeTasks('default', { concurrency: 8 }, async (job) => {
      if (job.namespace !== ns) return;
      deliveries.push(`${job.executionId} ${job.attempt}`);
      const startedAt = new Date().toISOString();
      if (job.flowId === 'hold') {
        await worker.publishResult({ type: 'started', executionId: job.executionId, taskRunId: job.taskRunId, taskId: job.taskId, attempt: job.attempt, workerId: 'api-test-worker', startedAt });
        while (!closing && !(await worker.isKilled(job.executionId))) await new Promise((resolve) => setTimeout(resolve, 50));
        await worker.publishResult(result(job, 'KILLED', startedAt, false));
        return;
      }
      await worker.publishResult(result(job, job.flowId === 'flaky' && job.attempt === 1 ? 'FAILED' : 'SUCCESS', startedAt, true));
    });

    stack = { url: `http://127.0.0.1:${address.port}`, db, redis, proxy, worker, apiLog, deliveries, handled };
    for (const id of ['hello', 'hold', 'flaky']) {
      const yaml = `id: ${id}\nnamespace: ${ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: ${id}\n`;
      const saved = await fetch(`${stack.url}/api/v1/flows`, { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: yaml });
      expect(saved.status).toBe(200);
    }
  }, 60_000);

  afterAll(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await database?.drop();
  });

  const api = (path: string, init?: RequestInit): Promise<Response> => fetch(`${stack.url}${path}`, init);
  const create = async (flowId: string, query = ''): Promise<{ status: number; body: { id: string; state: { current: string } } }> => {
    const response = await api(`/api/v1/executions/${ns}/${flowId}${query}`, { method: 'POST' });
    return { status: response.status, body: (await response.json()) as { id: string; state: { current: string } } };
  };
  const stateOf = async (id: string): Promise<string | undefined> => (await stack.db.executions.get(id))?.state;
  const health = async (): Promise<{ status: number; retryAfter: string | null; body: { status: string; checks: Record<string, { status: string; error?: string }> } }> => {
    const response = await api('/health');
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as never };
  };

  it('answers while Redis is down, reports the queue DOWN, and carries out every request once Redis is back', async () => {
    await waitFor(async () => (await health()).status === 200, '/health to be UP');
    expect((await health()).body).toEqual({ status: 'UP', checks: { database: { status: 'UP' }, queue: { status: 'UP' } } });

    // Before the outage: one execution running (it holds its task until killed), one FAILED (to restart).
    const held = (await create('hold')).body.id;
    const failed = (await create('flaky')).body.id;
    await waitFor(async () => (await stack.db.executions.get(held))?.taskRuns[0]?.state === 'RUNNING', 'the held task to run');
    await waitFor(async () => (await stateOf(failed)) === 'FAILED', 'the flaky execution to fail');

    await stack.redis.kill();
    await waitFor(async () => (await health()).status === 503, '/health to say DOWN');
    const down = await health();
    expect(down.retryAfter).toBe('5');
    expect(down.body).toMatchObject({ status: 'DOWN', checks: { database: { status: 'UP' }, queue: { status: 'DOWN', error: expect.any(String) } } });

    // Every request answers while Redis is still down (a hang would hold the test until its timeout).
    const created = await create('hello');
    expect(created.status).toBe(200);
    expect(created.body.state.current).toBe('CREATED');
    const waiting = api(`/api/v1/executions/${ns}/hello?wait=true`, { method: 'POST' });
    const killed = await api(`/api/v1/executions/${held}/kill`, { method: 'DELETE' });
    expect(killed.status).toBe(202);
    expect(((await killed.json()) as { state: { current: string } }).state.current).toBe('KILLING');
    const restarted = await api(`/api/v1/executions/${failed}/restart`, { method: 'POST' });
    expect(restarted.status).toBe(200);
    expect(((await restarted.json()) as { state: { current: string } }).state.current).toBe('RESTARTED');
    const yaml = `id: hello\nnamespace: ${ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hello again\n`;
    expect((await api(`/api/v1/flows/${ns}/hello`, { method: 'PUT', headers: { 'content-type': 'application/x-yaml' }, body: yaml })).status).toBe(200);
    expect((await api(`/api/v1/executions/${created.body.id}`)).status).toBe(200);
    expect((await api(`/api/v1/executions/search?namespace=${ns}`)).status).toBe(200);
    expect((await api(`/api/v1/flows/${ns}/hello`)).status).toBe(200);
    // Nothing was handed over yet: the executions wait in Postgres.
    expect(await stateOf(created.body.id)).toBe('CREATED');
    expect(stack.apiLog.join('')).toContain(`queue unreachable: execution ${created.body.id} will start when it is back`);
    expect(stack.apiLog.join('')).toContain(`queue unreachable: execution ${held} will be killed when it is back`);
    expect(stack.apiLog.join('')).toContain(`queue unreachable: execution ${failed} will restart when it is back`);

    await stack.redis.startAgain();
    await waitFor(async () => (await health()).status === 200, '/health to be UP again');

    const answered = await waiting;
    expect(answered.status).toBe(200);
    const waited = (await answered.json()) as { id: string; state: { current: string } };
    expect(waited.state.current).toBe('SUCCESS');
    await waitFor(async () => (await stateOf(created.body.id)) === 'SUCCESS', 'the execution created while Redis was down to succeed');
    await waitFor(async () => (await stateOf(held)) === 'KILLED', 'the execution killed while Redis was down to end KILLED');
    await waitFor(async () => (await stateOf(failed)) === 'SUCCESS', 'the execution restarted while Redis was down to succeed');
    // Each ran once (the restarted one: its second attempt once).
    expect(stack.deliveries.filter((d) => d.startsWith(`${created.body.id} `))).toEqual([`${created.body.id} 1`]);
    expect(stack.deliveries.filter((d) => d.startsWith(`${waited.id} `))).toEqual([`${waited.id} 1`]);
    expect(stack.deliveries.filter((d) => d.startsWith(`${failed} `))).toEqual([`${failed} 1`, `${failed} 2`]);
    expect(stack.deliveries.filter((d) => d.startsWith(`${held} `))).toEqual([`${held} 1`]);
    expect((await stack.db.executions.get(held))?.taskRuns[0]?.state).toBe('KILLED');
  }, 120_000);

  it('bounds a creation while Redis stalls; the publish it gave up on, delivered later, does not run the execution twice', async () => {
    await waitFor(async () => (await health()).status === 200, '/health to be UP');
    stack.proxy.stall();
    try {
      const created = await create('hello');
      expect(created.status).toBe(200);
      expect(created.body.state.current).toBe('CREATED');
      expect(stack.apiLog.join('')).toMatch(new RegExp(`queue unreachable: execution ${created.body.id} will start when it is back \\(it did not take the message within 2000 ms\\)`));
      // The reconciliation starts it meanwhile (the scheduler reaches Redis).
      await waitFor(async () => (await stateOf(created.body.id)) === 'SUCCESS', 'the execution to succeed');
      const history = (await stack.db.executions.get(created.body.id))?.stateHistory.map((entry) => entry.state);
      expect(history).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
      expect(stack.handled.some((m) => m.executionId === created.body.id && m.snapshot !== undefined)).toBe(false);

      // Redis answers the API again: its `created` (the one with the snapshot) reaches the scheduler, late.
      stack.proxy.resume();
      await waitFor(() => stack.handled.some((m) => m.type === 'created' && m.executionId === created.body.id && m.snapshot !== undefined), 'the late created event to be handled');
      expect(await stateOf(created.body.id)).toBe('SUCCESS');
      // Nothing changed: the same history, the same one task run (a second start would have stored a new one).
      const after = await stack.db.executions.get(created.body.id);
      expect(after?.stateHistory.map((entry) => entry.state)).toEqual(history);
      expect(after?.taskRuns).toHaveLength(1);
      expect(stack.deliveries.filter((d) => d.startsWith(`${created.body.id} `))).toEqual([`${created.body.id} 1`]);
    } finally {
      stack.proxy.resume();
    }
  }, 60_000);
});
