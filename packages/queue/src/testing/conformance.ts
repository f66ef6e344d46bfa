/**
 * The queue conformance suite: ONE set of tests that every `QueueDriver` passes unchanged. A driver's test file is:
 *
 *   queueConformance('in-process', async () => ({ driver: createInProcessQueue() }));
 *
 * The factory runs before every test and must return a fresh, empty driver (for Redis: a new key prefix or a new
 * server) with `maxDeliveries` of at least 3; `cleanup` runs after the test, after `driver.close()`.
 * Timing assertions are one-sided ("not before the delay"): the suite never asserts how fast something happens.
 */
import type { TaskSpec } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_WORKER_GROUP,
  type Consumer,
  type ExecutionMessage,
  type ExecutionUpdate,
  type FlowChange,
  type LogBatch,
  type QueueDriver,
  type ResultMessage,
  type TaskDelivery,
  type TaskJob,
  type TransientStatus,
} from '../contract.js';

export interface QueueUnderTest {
  readonly driver: QueueDriver;
  cleanup?(): Promise<void>;
}

/** Poll `predicate` every 10 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `promise` settles (resolves or rejects) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise to hold handlers on, opened once. */
function gate(): { readonly promise: Promise<void>; open(): void } {
  let open = () => undefined as void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A task job whose `taskRunId` is `id` (the other fields exercise nesting, unicode, nulls and numbers). */
export function sampleTaskJob(id: string, group: string = DEFAULT_WORKER_GROUP): TaskJob {
  const task: TaskSpec = {
    id: 'hello',
    type: 'io.kestra.plugin.core.log.Log',
    message: 'Hello {{ inputs.name }} — ✓',
    retry: { type: 'constant', maxAttempt: 3, interval: 'PT1S' },
    nested: { list: [1, 2.5, 'three', null, { deep: true }] },
  };
  return {
    executionId: 'exec-1',
    namespace: 'company.team',
    flowId: 'hello-world',
    flowRevision: 2,
    taskRunId: id,
    taskId: 'hello',
    attempt: 1,
    task,
    workerGroup: group,
    variables: { inputs: { name: 'world' }, outputs: {}, labels: { team: 'a' }, vars: { n: 0 } },
    queuedAt: '2024-01-01T00:00:00.000Z',
  };
}

const results: ResultMessage[] = [
  { type: 'started', executionId: 'exec-1', taskRunId: 'tr-1', taskId: 'hello', attempt: 1, workerId: 'w-1', startedAt: '2024-01-01T00:00:01.000Z' },
  {
    type: 'child-started',
    executionId: 'exec-1',
    taskRunId: 'tr-2',
    taskId: 'child',
    parentTaskRunId: 'tr-1',
    attempt: 1,
    workerId: 'w-1',
    startedAt: '2024-01-01T00:00:02.000Z',
  },
  {
    type: 'ended',
    executionId: 'exec-1',
    taskRunId: 'tr-1',
    taskId: 'hello',
    attempt: 1,
    workerId: 'w-1',
    state: 'FAILED',
    outputs: { value: 42, list: ['a', { b: null }] },
    error: { code: 'SLU_TEST', message: 'boom', details: { exitCode: 1 } },
    metrics: [{ name: 'duration', type: 'timer', value: 1.5, tags: { k: 'v' }, taskRunId: 'tr-1', taskId: 'hello', timestamp: '2024-01-01T00:00:03.000Z' }],
    startedAt: '2024-01-01T00:00:01.000Z',
    endedAt: '2024-01-01T00:00:03.000Z',
  },
];

const logBatch: LogBatch = {
  executionId: 'exec-1',
  namespace: 'company.team',
  flowId: 'hello-world',
  entries: [
    { taskRunId: 'tr-1', taskId: 'hello', attempt: 1, level: 'INFO', message: 'line 1', timestamp: '2024-01-01T00:00:01.000Z' },
    { taskRunId: 'tr-1', taskId: 'hello', level: 'ERROR', message: 'line 2 ✓\nsecond line', timestamp: '2024-01-01T00:00:02.000Z' },
  ],
};

function execution(executionId: string, type: ExecutionMessage['type'] = 'created'): ExecutionMessage {
  return { type, executionId, namespace: 'company.team', flowId: 'hello-world' };
}

function resultOf(taskRunId: string): ResultMessage {
  return { type: 'started', executionId: 'exec-1', taskRunId, taskId: 'hello', attempt: 1, workerId: 'w-1', startedAt: '2024-01-01T00:00:01.000Z' };
}

export function queueConformance(name: string, factory: () => Promise<QueueUnderTest>): void {
  describe(`queue conformance: ${name}`, () => {
    let sut: QueueUnderTest | undefined;
    let driver: QueueDriver;
    let consumers: Consumer[] = [];

    beforeEach(async () => {
      sut = await factory();
      driver = sut.driver;
      consumers = [];
    });

    afterEach(async () => {
      await Promise.all(consumers.map((consumer) => consumer.close({ force: true })));
      await sut?.driver.close();
      await sut?.cleanup?.();
      sut = undefined;
    });

    /** Consumers registered here are force-closed after the test. */
    const track = (consumer: Consumer): Consumer => {
      consumers.push(consumer);
      return consumer;
    };

    it('says UP once connected (health), and DOWN once closed', async () => {
      // A publish goes through once the connection is up: from then on health says UP.
      await driver.publishExecution({ type: 'resume', executionId: 'health-check' });
      expect(driver.health()).toEqual({ status: 'UP' });
      await driver.close();
      expect(driver.health()).toMatchObject({ status: 'DOWN', error: expect.stringMatching(/closed/) });
    });

    it('round-trips a message on every channel, deep-equal and copied at enqueue', async () => {
      const tasks: [TaskJob, TaskDelivery][] = [];
      const received: { results: ResultMessage[]; logs: LogBatch[]; executions: ExecutionMessage[] } = { results: [], logs: [], executions: [] };
      track(driver.consumeTasks('roundtrip', {}, async (job, delivery) => void tasks.push([job, delivery])));
      track(driver.consumeResults({}, async (message) => void received.results.push(message)));
      track(driver.consumeLogs({}, async (batch) => void received.logs.push(batch)));
      track(driver.consumeExecutions({}, async (message) => void received.executions.push(message)));

      const job = sampleTaskJob('tr-roundtrip', 'roundtrip');
      const expectedJob = structuredClone(job);
      await driver.enqueueTask('roundtrip', job);
      // Mutating what was enqueued must not change what is delivered.
      (job.variables.inputs as Record<string, unknown>).name = 'mutated';
      for (const message of results) await driver.publishResult(message);
      await driver.publishLogs(logBatch);
      await driver.publishExecution(execution('exec-1'));

      await waitFor(
        () => tasks.length === 1 && received.results.length === 3 && received.logs.length === 1 && received.executions.length === 1,
        10_000,
        'one message on every channel',
      );
      expect(tasks[0]?.[0]).toEqual(expectedJob);
      expect(tasks[0]?.[1]).toEqual({ deliveryCount: 1 });
      expect(received.results).toEqual(results);
      expect(received.logs).toEqual([logBatch]);
      expect(received.executions).toEqual([execution('exec-1')]);
    });

    it("delivers a group's tasks in FIFO order with concurrency 1", async () => {
      const seen: string[] = [];
      const ids = Array.from({ length: 20 }, (_, index) => `tr-${index}`);
      for (const id of ids.slice(0, 15)) await driver.enqueueTask('fifo', sampleTaskJob(id, 'fifo'));
      track(
        driver.consumeTasks('fifo', { concurrency: 1 }, async (job) => {
          seen.push(job.taskRunId);
          await sleep(1);
        }),
      );
      for (const id of ids.slice(15)) await driver.enqueueTask('fifo', sampleTaskJob(id, 'fifo'));
      await waitFor(() => seen.length === ids.length, 10_000, 'every task');
      expect(seen).toEqual(ids);
    });

    it('runs up to `concurrency` handlers at once, never more', async () => {
      const concurrency = 3;
      let inFlight = 0;
      let maxInFlight = 0;
      let done = 0;
      const full = gate();
      for (let index = 0; index < concurrency * 3; index += 1) await driver.enqueueTask('parallel', sampleTaskJob(`tr-${index}`, 'parallel'));
      track(
        driver.consumeTasks('parallel', { concurrency }, async () => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          if (inFlight === concurrency) full.open();
          await full.promise;
          await sleep(5);
          inFlight -= 1;
          done += 1;
        }),
      );
      await waitFor(() => done === concurrency * 3, 10_000, 'every task');
      expect(maxInFlight).toBe(concurrency);
    });

    it('keeps worker groups apart', async () => {
      const gpu: string[] = [];
      const fallback: string[] = [];
      track(driver.consumeTasks('gpu', { concurrency: 2 }, async (job) => void gpu.push(job.taskRunId)));
      track(driver.consumeTasks(DEFAULT_WORKER_GROUP, { concurrency: 2 }, async (job) => void fallback.push(job.taskRunId)));
      await driver.enqueueTask(DEFAULT_WORKER_GROUP, sampleTaskJob('d-1'));
      await driver.enqueueTask('gpu', sampleTaskJob('g-1', 'gpu'));
      await driver.enqueueTask(DEFAULT_WORKER_GROUP, sampleTaskJob('d-2'));
      await waitFor(() => gpu.length + fallback.length === 3, 10_000, 'three tasks');
      expect(gpu).toEqual(['g-1']);
      expect(fallback.sort()).toEqual(['d-1', 'd-2']);
    });

    it('delays delivery by delayMs (never earlier)', async () => {
      const seen: { id: string; at: number }[] = [];
      track(driver.consumeTasks('delayed', { concurrency: 2 }, async (job) => void seen.push({ id: job.taskRunId, at: Date.now() })));
      const delayMs = 400;
      const before = Date.now();
      await driver.enqueueTask('delayed', sampleTaskJob('late', 'delayed'), { delayMs });
      await driver.enqueueTask('delayed', sampleTaskJob('now', 'delayed'));
      await waitFor(() => seen.length === 2, 10_000, 'both tasks');
      expect(seen.map((entry) => entry.id)).toEqual(['now', 'late']);
      // A few ms of slack for clock granularity.
      expect((seen[1]?.at ?? 0) - before).toBeGreaterThanOrEqual(delayMs - 5);

      const executions: { id: string; at: number }[] = [];
      track(driver.consumeExecutions({}, async (message) => void executions.push({ id: message.executionId, at: Date.now() })));
      const sent = Date.now();
      await driver.publishExecution(execution('later', 'resume'), { delayMs: 200 });
      await driver.publishExecution(execution('sooner', 'resume'));
      await waitFor(() => executions.length === 2, 10_000, 'both executions');
      expect(executions.map((entry) => entry.id)).toEqual(['sooner', 'later']);
      expect((executions[1]?.at ?? 0) - sent).toBeGreaterThanOrEqual(200 - 5);
    });

    it('ignores a message whose dedupId is still known (waiting, delayed, active or completed)', async () => {
      // Ids with ':' and all-digit ids are valid dedupIds (BullMQ forbids both as job ids: the driver maps them).
      await driver.enqueueTask('dedup', sampleTaskJob('first', 'dedup'), { dedupId: 'exec-1:hello:1' });
      await driver.enqueueTask('dedup', sampleTaskJob('waiting-duplicate', 'dedup'), { dedupId: 'exec-1:hello:1' });
      await driver.enqueueTask('dedup', sampleTaskJob('delayed', 'dedup'), { dedupId: '12345', delayMs: 300 });
      await driver.enqueueTask('dedup', sampleTaskJob('delayed-duplicate', 'dedup'), { dedupId: '12345' });
      expect(await driver.pendingTasks('dedup')).toBe(2);

      const seen: string[] = [];
      const hold = gate();
      track(
        driver.consumeTasks('dedup', { concurrency: 1 }, async (job) => {
          seen.push(job.taskRunId);
          if (job.taskRunId === 'first') await hold.promise;
        }),
      );
      await waitFor(() => seen.length === 1, 10_000, 'the first task');
      await driver.enqueueTask('dedup', sampleTaskJob('active-duplicate', 'dedup'), { dedupId: 'exec-1:hello:1' });
      hold.open();
      await waitFor(() => seen.length === 2, 10_000, 'the delayed task');
      await driver.enqueueTask('dedup', sampleTaskJob('completed-duplicate', 'dedup'), { dedupId: 'exec-1:hello:1' });
      await driver.enqueueTask('dedup', sampleTaskJob('other-id', 'dedup'), { dedupId: 'exec-1:hello:2' });
      await driver.enqueueTask('dedup', sampleTaskJob('marker', 'dedup'));
      // FIFO with concurrency 1: a duplicate let through would arrive before the marker.
      await waitFor(() => seen.includes('marker'), 10_000, 'the marker');
      expect(seen).toEqual(['first', 'delayed', 'other-id', 'marker']);

      // dedupIds are per channel: the same id on executions is a different message.
      const executions: string[] = [];
      await driver.publishExecution(execution('exec-a'), { dedupId: 'exec-1:hello:1' });
      await driver.publishExecution(execution('exec-b'), { dedupId: 'exec-1:hello:1' });
      await driver.publishExecution(execution('exec-marker'));
      track(driver.consumeExecutions({}, async (message) => void executions.push(message.executionId)));
      await waitFor(() => executions.includes('exec-marker'), 10_000, 'the execution marker');
      expect(executions).toEqual(['exec-a', 'exec-marker']);
    });

    it('delivers a results message again when its handler rejects, until one delivery succeeds', async () => {
      const deliveries: ResultMessage[] = [];
      const seen: string[] = [];
      track(
        driver.consumeResults({}, async (message) => {
          seen.push(message.taskRunId);
          if (message.taskRunId !== 'flaky') return;
          deliveries.push(message);
          if (deliveries.length < 3) throw new Error(`transient failure ${deliveries.length}`);
        }),
      );
      await driver.publishResult(resultOf('flaky'));
      await waitFor(() => deliveries.length === 3, 10_000, 'three deliveries');
      for (const delivery of deliveries) expect(delivery).toEqual(resultOf('flaky'));
      await driver.publishResult(resultOf('marker'));
      await waitFor(() => seen.includes('marker'), 10_000, 'the marker');
      // Acknowledged by the third delivery: it never comes back.
      await sleep(300);
      expect(seen.filter((id) => id === 'flaky')).toHaveLength(3);
    });

    it('retries a message whose handler fails transiently beyond maxDeliveries, never dropping it, and reports the outage', async () => {
      const unavailable = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const statuses: TransientStatus[] = [];
      let tries = 0;
      const seen: string[] = [];
      track(
        driver.consumeResults(
          {
            transient: (error) => ((error as { code?: string }).code === 'ECONNREFUSED' ? 'database unreachable: connection refused' : undefined),
            onTransient: (status) => void statuses.push(status),
          },
          async (message) => {
            seen.push(message.taskRunId);
            if (message.taskRunId !== 'outage') return;
            tries += 1;
            // Five transient failures: more than maxDeliveries (3), which would have dropped it.
            if (tries <= 5) throw unavailable;
          },
        ),
      );
      await driver.publishResult(resultOf('outage'));
      await waitFor(() => tries === 6, 20_000, 'the sixth try');
      await waitFor(() => statuses.some((status) => status.recovered), 10_000, 'the recovery report');
      expect(statuses[0]).toMatchObject({ reason: 'database unreachable: connection refused', recovered: false });
      expect(statuses[0]?.waiting).toBeGreaterThanOrEqual(1);
      // At most one report per outage before the recovery (five failures within a few seconds), then the recovery.
      expect(statuses.filter((status) => !status.recovered)).toHaveLength(1);
      expect(statuses.at(-1)).toMatchObject({ recovered: true, reason: 'database unreachable: connection refused' });
      await driver.publishResult(resultOf('marker'));
      await waitFor(() => seen.includes('marker'), 10_000, 'the marker');
      await sleep(300);
      expect(tries).toBe(6);
    }, 30_000);

    it('still drops a message whose handler fails otherwise after maxDeliveries, even with a transient classifier', async () => {
      let tries = 0;
      const seen: string[] = [];
      track(
        driver.consumeResults({ transient: (error) => ((error as Error).message === 'unreachable' ? 'unreachable' : undefined) }, async (message) => {
          seen.push(message.taskRunId);
          if (message.taskRunId !== 'poison') return;
          tries += 1;
          throw new Error('a bug');
        }),
      );
      await driver.publishResult(resultOf('poison'));
      await waitFor(() => tries >= 3, 10_000, 'three deliveries');
      await sleep(500);
      await driver.publishResult(resultOf('marker'));
      await waitFor(() => seen.includes('marker'), 10_000, 'the marker');
      // maxDeliveries is at least 3 for the suite; a bounded number in any case, not an endless retry.
      expect(tries).toBeGreaterThanOrEqual(3);
      expect(tries).toBeLessThanOrEqual(10);
    });

    it('leaves a message that waits for a transient retry in the queue when its consumer closes', async () => {
      let firstTries = 0;
      const first = track(
        driver.consumeExecutions({ transient: () => 'database unreachable' }, async () => {
          firstTries += 1;
          throw new Error('unreachable');
        }),
      );
      await driver.publishExecution(execution('exec-outage'));
      await waitFor(() => firstTries >= 1, 10_000, 'the first try');
      await first.close();
      const received: string[] = [];
      track(driver.consumeExecutions({}, async (message) => void received.push(message.executionId)));
      await waitFor(() => received.length === 1, 20_000, 'the message to come back to the next consumer');
      expect(received).toEqual(['exec-outage']);
    }, 30_000);

    it('says whether a task job is in its queue by dedupId: waiting, delayed or active, not finished', async () => {
      expect(await driver.hasTask('has', 'tr-never-1')).toBe(false);
      await driver.enqueueTask('has', sampleTaskJob('waiting', 'has'), { dedupId: 'tr-w-1' });
      await driver.enqueueTask('has', sampleTaskJob('delayed', 'has'), { dedupId: 'tr-d-1', delayMs: 60_000 });
      expect(await driver.hasTask('has', 'tr-w-1')).toBe(true);
      expect(await driver.hasTask('has', 'tr-d-1')).toBe(true);
      // Per group.
      expect(await driver.hasTask('has-other', 'tr-w-1')).toBe(false);
      const hold = gate();
      const done: string[] = [];
      track(
        driver.consumeTasks('has', {}, async (job) => {
          if (job.taskRunId === 'waiting') await hold.promise;
          done.push(job.taskRunId);
        }),
      );
      await sleep(200);
      expect(await driver.hasTask('has', 'tr-w-1')).toBe(true);
      hold.open();
      await waitFor(() => done.includes('waiting'), 10_000, 'the job to complete');
      await waitFor(async () => !(await driver.hasTask('has', 'tr-w-1')), 10_000, 'the completed job to be no longer pending');
      expect(await driver.hasTask('has', 'tr-d-1')).toBe(true);
    });

    it('lets a finished job be replaced with replaceFinished, never one still pending', async () => {
      const seen: string[] = [];
      track(driver.consumeTasks('replace', {}, async (job) => void seen.push(job.taskRunId)));
      await driver.enqueueTask('replace', sampleTaskJob('first', 'replace'), { dedupId: 'tr-r-1' });
      await waitFor(() => seen.length === 1, 10_000, 'the first run');
      await waitFor(async () => !(await driver.hasTask('replace', 'tr-r-1')), 10_000, 'the job to finish');
      // Without replaceFinished the completed job's id still blocks; with it, the job is sent again.
      await driver.enqueueTask('replace', sampleTaskJob('blocked', 'replace'), { dedupId: 'tr-r-1' });
      await driver.enqueueTask('replace', sampleTaskJob('again', 'replace'), { dedupId: 'tr-r-1', replaceFinished: true });
      await waitFor(() => seen.length === 2, 10_000, 'the second run');
      expect(seen).toEqual(['first', 'again']);
      // A pending job is never replaced.
      await driver.enqueueTask('replace', sampleTaskJob('later', 'replace'), { dedupId: 'tr-r-2', delayMs: 60_000 });
      await driver.enqueueTask('replace', sampleTaskJob('duplicate', 'replace'), { dedupId: 'tr-r-2', replaceFinished: true });
      expect(await driver.pendingTasks('replace')).toBe(1);
      // Executions too.
      const executions: string[] = [];
      track(driver.consumeExecutions({}, async (message) => void executions.push(message.executionId)));
      await driver.publishExecution(execution('exec-r'), { dedupId: 'created:exec-r' });
      await waitFor(() => executions.length === 1, 10_000, 'the first execution message');
      await sleep(100);
      await driver.publishExecution(execution('exec-r'), { dedupId: 'created:exec-r', replaceFinished: true });
      await waitFor(() => executions.length === 2, 10_000, 'the replaced execution message');
    });

    it('says with an acquired lease whether the execution was killed, when asked (one round trip for both)', async () => {
      expect(await driver.acquireTaskLease('tr-lease-kill', 1, 'w1/a', 60_000, { killedExecutionId: 'exec-lease-kill' })).toEqual({ acquired: true, killed: false });
      await driver.killExecution('exec-lease-kill');
      expect(await driver.acquireTaskLease('tr-lease-kill', 2, 'w1/a', 60_000, { killedExecutionId: 'exec-lease-kill' })).toEqual({ acquired: true, killed: true });
      // Not asked: not said. Refused: nothing to say.
      expect(await driver.acquireTaskLease('tr-lease-kill', 3, 'w1/a', 60_000)).toEqual({ acquired: true });
      expect(await driver.acquireTaskLease('tr-lease-kill', 1, 'w2/b', 60_000, { killedExecutionId: 'exec-lease-kill' })).toMatchObject({ acquired: false, holder: 'w1/a' });
    });

    it('leases a task run attempt to one holder at a time; renews, expires, releases, and remembers a finished one', async () => {
      expect(await driver.taskLease('tr-lease', 1)).toBeUndefined();
      expect(await driver.acquireTaskLease('tr-lease', 1, 'w1/a', 60_000)).toEqual({ acquired: true });
      expect(await driver.taskLease('tr-lease', 1)).toMatchObject({ holder: 'w1/a', finished: false });
      // Re-entrant for its holder.
      expect(await driver.acquireTaskLease('tr-lease', 1, 'w1/a', 60_000)).toEqual({ acquired: true });
      const refused = await driver.acquireTaskLease('tr-lease', 1, 'w2/b', 60_000);
      expect(refused).toMatchObject({ acquired: false, holder: 'w1/a', finished: false });
      expect(refused.acquired === false && refused.expiresInMs).toBeGreaterThan(50_000);
      // Other attempts and task runs are other leases.
      expect(await driver.acquireTaskLease('tr-lease', 2, 'w2/b', 60_000)).toEqual({ acquired: true });
      expect(await driver.acquireTaskLease('tr-lease-2', 1, 'w2/b', 60_000)).toEqual({ acquired: true });

      expect(await driver.renewTaskLease('tr-lease', 1, 'w1/a', 60_000)).toBe(true);
      expect(await driver.renewTaskLease('tr-lease', 1, 'w2/b', 60_000)).toBe(false);
      // Releasing someone else's lease does nothing.
      await driver.releaseTaskLease('tr-lease', 1, 'w2/b', false);
      expect(await driver.acquireTaskLease('tr-lease', 1, 'w2/b', 60_000)).toMatchObject({ acquired: false, holder: 'w1/a' });
      await driver.releaseTaskLease('tr-lease', 1, 'w1/a', false);
      expect(await driver.acquireTaskLease('tr-lease', 1, 'w2/b', 60_000)).toEqual({ acquired: true });
      await driver.releaseTaskLease('tr-lease', 1, 'w2/b', true);
      expect(await driver.acquireTaskLease('tr-lease', 1, 'w3/c', 60_000)).toMatchObject({ acquired: false, holder: 'w2/b', finished: true });
      expect(await driver.taskLease('tr-lease', 1)).toMatchObject({ holder: 'w2/b', finished: true });
      expect(await driver.renewTaskLease('tr-lease', 1, 'w2/b', 60_000)).toBe(false);

      // A lease not renewed expires; then another holder takes it, and the first has lost it.
      expect(await driver.acquireTaskLease('tr-expire', 1, 'w1/a', 300)).toEqual({ acquired: true });
      expect(await driver.acquireTaskLease('tr-expire', 1, 'w2/b', 300)).toMatchObject({ acquired: false });
      await sleep(600);
      expect(await driver.taskLease('tr-expire', 1)).toBeUndefined();
      expect(await driver.acquireTaskLease('tr-expire', 1, 'w2/b', 60_000)).toEqual({ acquired: true });
      expect(await driver.renewTaskLease('tr-expire', 1, 'w1/a', 60_000)).toBe(false);
      // Renewing a lease that vanished takes it again.
      expect(await driver.renewTaskLease('tr-vanished', 1, 'w1/a', 60_000)).toBe(true);
      expect(await driver.acquireTaskLease('tr-vanished', 1, 'w2/b', 60_000)).toMatchObject({ acquired: false, holder: 'w1/a' });

      await expect(driver.acquireTaskLease('', 1, 'w1', 1000)).rejects.toThrow(/task run id/);
      await expect(driver.acquireTaskLease('tr', 0, 'w1', 1000)).rejects.toThrow(/attempt/);
      await expect(driver.acquireTaskLease('tr', 1, '', 1000)).rejects.toThrow(/holder/);
      await expect(driver.acquireTaskLease('tr', 1, 'w1', 0)).rejects.toThrow(/ttlMs/);
    });

    it('does not deliver a task job again when its handler rejects (only a dead consumer brings it back)', async () => {
      const seen: string[] = [];
      track(
        driver.consumeTasks('failing', {}, async (job) => {
          seen.push(job.taskRunId);
          if (job.taskRunId === 'broken') throw new Error('handler bug');
        }),
      );
      await driver.enqueueTask('failing', sampleTaskJob('broken', 'failing'));
      await waitFor(() => seen.length === 1, 10_000, 'the failing task');
      await sleep(300);
      await driver.enqueueTask('failing', sampleTaskJob('marker', 'failing'));
      await waitFor(() => seen.includes('marker'), 10_000, 'the marker');
      expect(seen).toEqual(['broken', 'marker']);
    });

    it('broadcasts kills to every subscriber and keeps the killed mark', async () => {
      const first: string[] = [];
      const second: string[] = [];
      const unsubscribeFirst = await driver.subscribeKills((id) => void first.push(id));
      await driver.subscribeKills((id) => void second.push(id));
      expect(await driver.isKilled('exec-kill')).toBe(false);
      await driver.killExecution('exec-kill');
      await waitFor(() => first.length === 1 && second.length === 1, 10_000, 'both subscribers');
      expect(first).toEqual(['exec-kill']);
      expect(second).toEqual(['exec-kill']);
      expect(await driver.isKilled('exec-kill')).toBe(true);
      expect(await driver.isKilled('exec-alive')).toBe(false);

      await unsubscribeFirst();
      await driver.killExecution('exec-kill-2');
      await waitFor(() => second.length === 2, 10_000, 'the remaining subscriber');
      expect(second).toEqual(['exec-kill', 'exec-kill-2']);
      expect(first).toEqual(['exec-kill']);
      expect(await driver.isKilled('exec-kill-2')).toBe(true);
    });

    it('broadcasts execution updates to every subscriber', async () => {
      const first: ExecutionUpdate[] = [];
      const second: ExecutionUpdate[] = [];
      const running: ExecutionUpdate = { executionId: 'exec-1', state: 'RUNNING', ended: false };
      const success: ExecutionUpdate = { executionId: 'exec-1', state: 'SUCCESS', ended: true };
      const unsubscribeFirst = await driver.subscribeExecutionUpdates((update) => void first.push(update));
      const unsubscribeSecond = await driver.subscribeExecutionUpdates((update) => void second.push(update));
      const endsOnly: ExecutionUpdate[] = [];
      const unsubscribeEnds = await driver.subscribeExecutionUpdates((update) => void endsOnly.push(update), { only: 'ends' });
      const stepsOnly: ExecutionUpdate[] = [];
      const unsubscribeSteps = await driver.subscribeExecutionUpdates((update) => void stepsOnly.push(update), { only: 'steps' });
      // Each publish says how many subscribing processes of its kind got it (this one: its three subscriptions).
      expect(await driver.publishExecutionUpdate(running)).toBe(1);
      await waitFor(() => first.length === 1 && second.length === 1, 10_000, 'both subscribers');
      expect(first).toEqual([running]);
      expect(second).toEqual([running]);

      await waitFor(() => stepsOnly.length === 1, 10_000, 'the subscriber to steps');
      await unsubscribeFirst();
      expect(await driver.publishExecutionUpdate(success)).toBe(1);
      await waitFor(() => second.length === 2 && endsOnly.length === 1, 10_000, 'the remaining subscribers');
      expect(second).toEqual([running, success]);
      expect(first).toEqual([running]);
      // A subscriber to ends only got the end, never the step before it.
      expect(endsOnly).toEqual([success]);
      // And one to steps only, the step and never the end.
      expect(stepsOnly).toEqual([running]);
      await unsubscribeSecond();
      await unsubscribeEnds();
      await unsubscribeSteps();
      expect(await driver.publishExecutionUpdate(running)).toBe(0);
      await driver.publishExecutionUpdate({ ...success, executionId: 'exec-2' });
      await sleep(100);
      expect(endsOnly).toEqual([success]);
      expect(second).toEqual([running, success]);
    });

    it("delivers an update's executionJson as its execution, parsed, and never the text itself", async () => {
      const received: ExecutionUpdate[] = [];
      const unsubscribe = await driver.subscribeExecutionUpdates((update) => void received.push(update), { only: 'ends' });
      const execution = { id: 'exec-json', state: 'SUCCESS', startDate: '2026-12-07T00:00:00.000Z', taskRuns: [{ id: 'r1', note: 'a "quoted" }, text' }] };
      await driver.publishExecutionUpdate({ executionId: 'exec-json', state: 'SUCCESS', ended: true, scheduler: 's1', executionJson: JSON.stringify(execution) });
      // Given both, the text wins: it is what the publisher serialized last.
      await driver.publishExecutionUpdate({ executionId: 'exec-both', state: 'FAILED', ended: true, execution: { id: 'stale' }, executionJson: JSON.stringify({ id: 'exec-both' }) });
      // Too big to send (the publisher gives none): the update goes without an execution.
      await driver.publishExecutionUpdate({ executionId: 'exec-none', state: 'KILLED', ended: true });
      await waitFor(() => received.length === 3, 10_000, 'the three ends');
      expect(received).toEqual([
        { executionId: 'exec-json', state: 'SUCCESS', ended: true, scheduler: 's1', execution },
        { executionId: 'exec-both', state: 'FAILED', ended: true, execution: { id: 'exec-both' } },
        { executionId: 'exec-none', state: 'KILLED', ended: true },
      ]);
      await unsubscribe();
    });

    it('broadcasts flow changes to every subscriber, until it unsubscribes', async () => {
      const first: FlowChange[] = [];
      const second: FlowChange[] = [];
      const unsubscribeFirst = await driver.subscribeFlowChanges((change) => void first.push(change));
      const unsubscribeSecond = await driver.subscribeFlowChanges((change) => void second.push(change));
      await driver.publishFlowChange({ namespace: 'company.team', flowId: 'etl' });
      await waitFor(() => first.length === 1 && second.length === 1, 10_000, 'both subscribers');
      expect(first).toEqual([{ namespace: 'company.team', flowId: 'etl' }]);
      await unsubscribeFirst();
      await driver.publishFlowChange({ namespace: 'company.team', flowId: 'load' });
      await waitFor(() => second.length === 2, 10_000, 'the remaining subscriber');
      expect(second).toEqual([
        { namespace: 'company.team', flowId: 'etl' },
        { namespace: 'company.team', flowId: 'load' },
      ]);
      expect(first).toHaveLength(1);
      await unsubscribeSecond();
    });

    it('counts pending tasks (waiting and delayed) per group', async () => {
      expect(await driver.pendingTasks('pending')).toBe(0);
      await driver.enqueueTask('pending', sampleTaskJob('a', 'pending'));
      await driver.enqueueTask('pending', sampleTaskJob('b', 'pending'));
      await driver.enqueueTask('pending', sampleTaskJob('later', 'pending'), { delayMs: 60_000 });
      await driver.enqueueTask('pending-other', sampleTaskJob('c', 'pending-other'));
      expect(await driver.pendingTasks('pending')).toBe(3);
      expect(await driver.pendingTasks('pending-other')).toBe(1);

      const seen: string[] = [];
      track(driver.consumeTasks('pending', { concurrency: 2 }, async (job) => void seen.push(job.taskRunId)));
      await waitFor(() => seen.length === 2, 10_000, 'the two waiting tasks');
      await waitFor(async () => (await driver.pendingTasks('pending')) === 1, 10_000, 'one pending task (the delayed one)');
      expect(seen.sort()).toEqual(['a', 'b']);
      expect(await driver.pendingTasks('pending-other')).toBe(1);
    });

    it('refuses worker group keys with ":" naming the key', async () => {
      await expect(driver.enqueueTask('bad:group', sampleTaskJob('x', 'bad:group'))).rejects.toThrow(/bad:group/);
      expect(() => driver.consumeTasks('bad:group', {}, async () => undefined)).toThrow(/bad:group/);
      await expect(driver.pendingTasks('bad:group')).rejects.toThrow(/bad:group/);
    });

    it('closes a consumer only after its handler in flight has finished (unless forced)', async () => {
      const hold = gate();
      let started = false;
      let finished = false;
      const consumer = driver.consumeTasks('closing', {}, async () => {
        started = true;
        await hold.promise;
        finished = true;
      });
      track(consumer);
      await driver.enqueueTask('closing', sampleTaskJob('held', 'closing'));
      await waitFor(() => started, 10_000, 'the handler to start');
      let closed = false;
      const closing = consumer.close().then(() => {
        closed = true;
      });
      await sleep(200);
      expect(closed).toBe(false);
      hold.open();
      await closing;
      expect(finished).toBe(true);

      // A closed consumer takes nothing more; a new one does.
      await driver.enqueueTask('closing', sampleTaskJob('next', 'closing'));
      const seen: string[] = [];
      const holdForced = gate();
      const second = track(
        driver.consumeTasks('closing', {}, async (job) => {
          seen.push(job.taskRunId);
          await holdForced.promise;
        }),
      );
      await waitFor(() => seen.length === 1, 10_000, 'the next task');
      expect(seen).toEqual(['next']);
      await second.close({ force: true });
      holdForced.open();
    });

    it('closes a consumer at once when forced while a graceful close waits for a handler that never settles', async () => {
      let started = false;
      // The handler holds its message forever (as a worker does with a job it hands back at stop).
      const consumer = driver.consumeTasks('forced', {}, async () => {
        started = true;
        await new Promise<never>(() => undefined);
      });
      track(consumer);
      await driver.enqueueTask('forced', sampleTaskJob('held-forever', 'forced'));
      await waitFor(() => started, 10_000, 'the handler to start');
      let gracefulClosed = false;
      void consumer.close().then(() => {
        gracefulClosed = true;
      });
      await sleep(100);
      expect(gracefulClosed).toBe(false);
      // One-sided bound, far above any driver's close time: "at once" must not mean "when the handler settles".
      expect(await settlesWithin(consumer.close({ force: true }), 5_000)).toBe(true);
      // Nor does the driver's close wait for that handler.
      expect(await settlesWithin(driver.close(), 5_000)).toBe(true);
    });

    it('closes cleanly with consumers and subscriptions open', async () => {
      track(driver.consumeTasks(DEFAULT_WORKER_GROUP, { concurrency: 2 }, async () => undefined));
      track(driver.consumeResults({}, async () => undefined));
      track(driver.consumeLogs({}, async () => undefined));
      track(driver.consumeExecutions({}, async () => undefined));
      await driver.subscribeKills(() => undefined);
      await driver.subscribeExecutionUpdates(() => undefined);
      await driver.enqueueTask(DEFAULT_WORKER_GROUP, sampleTaskJob('t'), { delayMs: 60_000 });
      await driver.close();
      await driver.close();
      await expect(driver.enqueueTask(DEFAULT_WORKER_GROUP, sampleTaskJob('after'))).rejects.toThrow(/closed/);
      await expect(driver.publishResult(resultOf('after'))).rejects.toThrow(/closed/);
    });
  });
}
