/**
 * The reconciliation of KILLING executions (issue #15): a kill whose `kill` event never reached the queue (the API
 * stored KILLING while Redis was down, and does not wait for it) or was lost with it (a Redis restart without
 * persistence also loses the kill mark) is sent again once the execution has been KILLING for `requeueAfterMs`. The
 * test stores KILLING itself, as the API does, and publishes no event; it plays the worker, which stops its running
 * task once the execution is marked killed in the queue.
 */
import { randomBytes } from 'node:crypto';
import { executionSnapshot, KILLABLE_STATES } from '@sluice/db';
import { createInProcessQueue } from '@sluice/queue';
import type { TaskJob } from '@sluice/queue';
import { afterAll, expect, it } from 'vitest';
import { createScheduler } from '../src/index.js';
import { createMigratedDatabase, registries, validator } from './database.js';
import { waitFor } from '@sluice/testing';

const testDb = await createMigratedDatabase('sluice_reconcile_kill');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await testDb?.drop();
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

it('sends the kill event of a KILLING execution again: marked killed, a waiting task run cancelled, a running one stopped, KILLED', async (context) => {
  if (!testDb) return context.skip('Postgres unavailable');
  const db = testDb.db;
  const queue = createInProcessQueue({ onError: () => undefined });
  closers.push(() => queue.close());
  const lines: string[] = [];
  const scheduler = createScheduler({
    db,
    queue,
    resolveTaskType: (type) => registries.tasks.find(type),
    triggerIntervalMs: 0,
    requeueAfterMs: 1000,
    reconcileIntervalMs: 200,
    log: (line) => lines.push(line),
  });
  await scheduler.start();
  closers.push(() => scheduler.stop());

  const ns = `kill.${randomBytes(3).toString('hex')}`;
  const save = async (id: string, group?: string): Promise<number> => {
    const source = `id: ${id}\nnamespace: ${ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hello${group ? `\n    workerGroup:\n      key: ${group}` : ''}\n`;
    const { flow } = validator.parseFlow(source);
    return (await db.flows.save(ns, id, source, flow)).flow.revision;
  };
  const revisions = { waiting: await save('waiting', 'nobody'), running: await save('running') };
  const create = async (flowId: keyof typeof revisions): Promise<string> => {
    const execution = await db.executions.create({ namespace: ns, flowId, flowRevision: revisions[flowId] });
    await queue.publishExecution({ type: 'created', executionId: execution.id, namespace: ns, flowId, snapshot: executionSnapshot(execution) });
    return execution.id;
  };

  // The worker of the default group: it reports the start, then runs until the execution is marked killed (it does
  // not listen to kill broadcasts: the durable mark is what the reconciliation must re-create).
  const stopped: string[] = [];
  let closing = false;
  closers.push(async () => {
    closing = true;
  });
  queue.consumeTasks('default', { concurrency: 4 }, async (job: TaskJob) => {
    if (job.namespace !== ns) return;
    const at = (): string => new Date().toISOString();
    const startedAt = at();
    await queue.publishResult({ type: 'started', executionId: job.executionId, taskRunId: job.taskRunId, taskId: job.taskId, attempt: job.attempt, workerId: 'kill-worker', startedAt });
    while (!closing && !(await queue.isKilled(job.executionId))) await sleep(50);
    stopped.push(job.executionId);
    await queue.publishResult({
      type: 'ended',
      executionId: job.executionId,
      taskRunId: job.taskRunId,
      taskId: job.taskId,
      attempt: job.attempt,
      workerId: 'kill-worker',
      state: 'KILLED',
      outputs: {},
      startedAt,
      endedAt: at(),
    });
  });

  const waiting = await create('waiting');
  const running = await create('running');
  const taskRunState = async (id: string): Promise<string | undefined> => (await db.executions.get(id))?.taskRuns[0]?.state;
  await waitFor(async () => (await taskRunState(waiting)) === 'CREATED', 'the waiting task run to be created');
  await waitFor(async () => (await taskRunState(running)) === 'RUNNING', 'the running task run to start');

  // Killed as the API does while the queue is unreachable: KILLING stored, no event published.
  for (const id of [waiting, running]) expect((await db.executions.transition(id, KILLABLE_STATES, 'KILLING')).status).toBe('changed');

  await waitFor(async () => (await db.executions.get(waiting))?.state === 'KILLED' && (await db.executions.get(running))?.state === 'KILLED', 'both executions to end KILLED');
  expect(await queue.isKilled(waiting)).toBe(true);
  expect(stopped).toEqual([running]);
  expect((await db.executions.get(waiting))?.taskRuns.map((run) => run.state)).toEqual(['KILLED']);
  expect((await db.executions.get(running))?.taskRuns.map((run) => run.state)).toEqual(['KILLED']);
  expect((await db.executions.get(running))?.stateHistory.map((entry) => entry.state)).toEqual(['CREATED', 'RUNNING', 'KILLING', 'KILLED']);
  expect(lines.filter((line) => /KILLING for over 1000 ms: its kill event sent again/.test(line))).toHaveLength(2);
}, 60_000);
