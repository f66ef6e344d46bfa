/**
 * The scheduler through a Redis restart without persistence: its own `redis-server` on a fixed port, killed and
 * started again empty while task jobs, a delayed retry and execution events wait in it. The test plays the worker.
 *
 * What it proves: the reconciliation finds what the queue lost and sends it again (CREATED task runs, a RETRYING one
 * past its delay, CREATED executions whose `created` event is gone), a task run whose job completed without a
 * result gets its job again although its idempotency key is still known (`replaceFinished`), and a task run RUNNING on
 * a live worker that runs it no more (no job, no lease: its end was lost) runs again: every execution ends SUCCESS.
 */
import { randomBytes } from 'node:crypto';
import { executionSnapshot } from '@sluice/db';
import { createBullmqQueue } from '@sluice/queue';
import type { QueueDriver, ResultMessage, TaskJob } from '@sluice/queue';
import { afterAll, expect, it } from 'vitest';
import { createScheduler } from '../src/index.js';
import { createMigratedDatabase, registries, validator } from './database.js';
import { RestartableRedis, waitFor } from '@sluice/testing';

const testDb = await createMigratedDatabase('sluice_redis_restart');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await testDb?.drop();
});

it('sends again what a Redis restart lost (task jobs, a delayed retry, execution events), and a job whose key is still known', async (context) => {
  if (!testDb) return context.skip('Postgres unavailable');
  const db = testDb.db;
  const redis = await RestartableRedis.start();
  closers.push(() => redis.kill());
  const prefix = `sluice-restart-${process.pid}`;
  const lines: string[] = [];
  const queue = createBullmqQueue({ url: redis.url, prefix, onError: () => undefined });
  const worker: QueueDriver = createBullmqQueue({ url: redis.url, prefix, onError: () => undefined });
  closers.push(() => queue.close());
  closers.push(() => worker.close());
  const scheduler = createScheduler({
    db,
    queue,
    resolveTaskType: (type) => registries.tasks.find(type),
    triggerIntervalMs: 0,
    requeueAfterMs: 2000,
    reconcileIntervalMs: 500,
    workerLeaseTtlMs: 1000,
    log: (line) => lines.push(line),
  });
  await scheduler.start();
  closers.push(() => scheduler.stop());

  const ns = `restart.${randomBytes(3).toString('hex')}`;
  const save = async (id: string, extra: string, group?: string): Promise<number> => {
    const source = `id: ${id}\nnamespace: ${ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hello${extra}${group ? `\n    workerGroup:\n      key: ${group}` : ''}\n`;
    const { flow } = validator.parseFlow(source);
    return (await db.flows.save(ns, id, source, flow)).flow.revision;
  };
  const revisions = {
    lost: await save('lost', '', 'later'),
    retry: await save('retry', '\n    retry:\n      type: constant\n      interval: PT3S\n      maxAttempt: 2'),
    swallow: await save('swallow', ''),
    silent: await save('silent', ''),
  };
  const create = async (flowId: keyof typeof revisions, delayMs?: number): Promise<string> => {
    const execution = await db.executions.create({ namespace: ns, flowId, flowRevision: revisions[flowId] });
    await worker.publishExecution({ type: 'created', executionId: execution.id, namespace: ns, flowId, snapshot: executionSnapshot(execution) }, delayMs ? { delayMs } : undefined);
    return execution.id;
  };
  const ended = (job: TaskJob, state: 'SUCCESS' | 'FAILED'): ResultMessage => {
    const at = new Date().toISOString();
    return { type: 'ended', executionId: job.executionId, taskRunId: job.taskRunId, taskId: job.taskId, attempt: job.attempt, workerId: 'restart-worker', state, outputs: {}, startedAt: at, endedAt: at, reportsStart: true };
  };
  const deliveries: TaskJob[] = [];
  const stateOf = async (id: string): Promise<string | undefined> => (await db.executions.get(id))?.state;

  // The default group's worker, alive (it heartbeats): a retry's first attempt fails; the first delivery of a
  // `swallow` job completes without a result, that of a `silent` job with its start only (as if its end was lost);
  // later ones succeed (a `silent` one starts again first).
  let heartbeating = true;
  const heartbeats = (async () => {
    while (heartbeating) {
      await db.scheduler.heartbeat('restart-worker', 'default');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  closers.push(async () => {
    heartbeating = false;
    await heartbeats;
  });
  worker.consumeTasks('default', { concurrency: 8 }, async (job) => {
    if (job.namespace !== ns) return;
    deliveries.push(job);
    const first = deliveries.filter((d) => d.taskRunId === job.taskRunId).length === 1;
    if (job.flowId === 'swallow' && first) return;
    if (job.flowId === 'silent') {
      const at = new Date().toISOString();
      await worker.publishResult({ type: 'started', executionId: job.executionId, taskRunId: job.taskRunId, taskId: job.taskId, attempt: job.attempt, workerId: 'restart-worker', startedAt: at });
      if (first) return;
    }
    await worker.publishResult(ended(job, job.flowId === 'retry' && job.attempt === 1 ? 'FAILED' : 'SUCCESS'));
  });

  // Before the restart: jobs waiting for a worker group nobody serves yet, retries waiting for their delay, and
  // executions whose `created` event waits too (delayed: as an API's event the scheduler had not taken yet).
  const lost = [await create('lost'), await create('lost'), await create('lost')];
  const retried = [await create('retry'), await create('retry')];
  const unannounced = [await create('lost', 600_000), await create('lost', 600_000)];
  await waitFor(async () => (await Promise.all(lost.map(stateOf))).every((state) => state === 'RUNNING'), 'the lost jobs to be enqueued');
  await waitFor(
    async () => (await Promise.all(retried.map(async (id) => (await db.executions.get(id))?.taskRuns[0]?.state))).every((state) => state === 'RETRYING'),
    'the retries to wait for their delay',
  );
  for (const id of unannounced) expect(await stateOf(id)).toBe('CREATED');

  await redis.kill();
  await redis.startAgain();

  // After it: the group's worker starts; and jobs whose first delivery completes without a result.
  const later: string[] = [];
  worker.consumeTasks('later', { concurrency: 8 }, async (job) => {
    if (job.namespace !== ns) return;
    later.push(job.executionId);
    await worker.publishResult(ended(job, 'SUCCESS'));
  });
  const swallowed = [await create('swallow'), await create('swallow')];
  const silent = [await create('silent'), await create('silent')];

  const all = [...lost, ...retried, ...unannounced, ...swallowed, ...silent];
  await waitFor(
    async () => (await Promise.all(all.map(stateOf))).every((state) => state === 'SUCCESS'),
    'every execution to succeed',
    60_000,
  );
  // Each lost job and event sent again once; the swallowed jobs delivered twice (the key of the completed first one
  // did not block the second); each retry ran its second attempt once.
  expect(later.sort()).toEqual([...lost, ...unannounced].sort());
  for (const id of swallowed) expect(deliveries.filter((job) => job.executionId === id)).toHaveLength(2);
  for (const id of silent) {
    expect(deliveries.filter((job) => job.executionId === id).map((job) => job.attempt)).toEqual([1, 1]);
    // Started twice, RUNNING once.
    expect((await db.executions.get(id))?.taskRuns[0]?.stateHistory.map((entry) => entry.state)).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
  }
  for (const id of retried) {
    const attempts = deliveries.filter((job) => job.executionId === id).map((job) => job.attempt);
    expect(attempts).toEqual([1, 2]);
    const run = (await db.executions.get(id))?.taskRuns[0];
    expect(run?.stateHistory.map((entry) => entry.state)).toEqual(['CREATED', 'RUNNING', 'FAILED', 'RETRYING', 'RUNNING', 'SUCCESS']);
  }
  expect(lines.some((line) => /task run job\(s\) missing from the queue .*: sent again/.test(line))).toBe(true);
  expect(lines.some((line) => /CREATED for over 2000 ms: its created event sent again/.test(line))).toBe(true);
  expect(lines.some((line) => /RUNNING task run\(s\) with no job and no lease for 1000 ms \(their results were lost\): sent again/.test(line))).toBe(true);
}, 120_000);
