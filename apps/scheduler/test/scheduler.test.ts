/**
 * The scheduler on a real Postgres (a fresh, migrated database for this file) with the in-process queue and no
 * worker: the test plays the worker. It takes the task jobs off the queue and answers with the result messages a
 * worker would send (`started`, `ended`), in the orders and repetitions at-least-once delivery allows.
 *
 * Postgres comes from `scripts/services.sh` (127.0.0.1:5433, override with SLUICE_TEST_DATABASE_URL). When it does
 * not answer the file skips, unless SLUICE_REQUIRE_SERVICES=1, where it fails.
 *
 * Every test uses its own namespace and its own queue. The database is shared by the file, so a scheduler that starts
 * resumes the unfinished executions of earlier tests too: jobs are always filtered by namespace.
 */
import { randomBytes } from 'node:crypto';
import { createDb, executionFromWire, executionSnapshot } from '@sluice/db';
import type { StoredExecution } from '@sluice/db';
import { createInProcessQueue, followOnRunId } from '@sluice/queue';
import type { ExecutionUpdate, QueueDriver, ResultMessage, TaskJob, TaskRunEndState } from '@sluice/queue';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createScheduler } from '../src/index.js';
import type { Scheduler, SchedulerOptions } from '../src/index.js';
import { createMigratedDatabase, registries, validator } from './database.js';
import type { MigratedDatabase } from './database.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `predicate` every 20 ms until it holds; throws after `timeoutMs`. */
async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

const testDb = await createMigratedDatabase();

/** A result message a scheduler handled, and whether its handler resolved. */
interface Handled {
  readonly by: string;
  readonly message: ResultMessage;
  readonly ok: boolean;
}

/**
 * `queue` as one scheduler sees it: the results it handles are recorded in `handled` once its handler settled, so a
 * test can wait until a message was processed (ignored ones included) instead of sleeping.
 */
function observed(queue: QueueDriver, by: string, handled: Handled[]): QueueDriver {
  return new Proxy(queue, {
    get(target, property) {
      if (property === 'consumeResults') {
        const consume: QueueDriver['consumeResults'] = (options, handler) =>
          target.consumeResults(options, async (message) => {
            try {
              await handler(message);
            } catch (error) {
              handled.push({ by, message, ok: false });
              throw error;
            }
            handled.push({ by, message, ok: true });
          });
        return consume;
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.skipIf(!testDb)('scheduler on Postgres with the in-process queue', () => {
  const db = (testDb as MigratedDatabase).db;
  const cleanups: (() => Promise<void>)[] = [];
  let namespaces = 0;

  afterEach(async () => {
    // Schedulers first (they may still be enqueueing), then the queues.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  /** A namespace no other test uses. */
  function freshNamespace(): string {
    return `sched.t${++namespaces}.${randomBytes(3).toString('hex')}`;
  }

  /** A queue, the task jobs of `groups` taken off it (acknowledged at once, never answered), and what the schedulers did. */
  function harness(groups: readonly string[] = ['default']) {
    const errors: string[] = [];
    const queue = createInProcessQueue({ onError: (error, context) => void errors.push(`${context}: ${String(error)}`) });
    const jobs: TaskJob[] = [];
    const handled: Handled[] = [];
    const updates: ExecutionUpdate[] = [];
    const schedulers: Scheduler[] = [];
    let onJob: ((job: TaskJob) => void) | undefined;
    for (const group of groups) {
      queue.consumeTasks(group, { concurrency: 64 }, async (job) => {
        jobs.push(job);
        onJob?.(job);
      });
    }
    void queue.subscribeExecutionUpdates((update) => void updates.push(update));
    cleanups.push(() => queue.close());
    return {
      queue,
      jobs,
      handled,
      updates,
      errors,
      /** Called for every job taken (a worker's behavior). */
      onJob(handler: (job: TaskJob) => void) {
        onJob = handler;
      },
      jobsOf(namespace: string): TaskJob[] {
        return jobs.filter((job) => job.namespace === namespace);
      },
      /** Results of `executionId` handled so far. */
      handledFor(executionId: string): Handled[] {
        return handled.filter((h) => h.message.executionId === executionId);
      },
      async startScheduler(options: Partial<SchedulerOptions> = {}): Promise<Scheduler> {
        const id = options.id ?? `scheduler-${schedulers.length + 1}`;
        const scheduler = createScheduler({
          db,
          queue: observed(queue, id, handled),
          resolveTaskType: (type) => registries.tasks.find(type),
          triggerIntervalMs: 0,
          ...options,
          id,
        });
        await scheduler.start();
        schedulers.push(scheduler);
        cleanups.push(async () => {
          const index = schedulers.indexOf(scheduler);
          if (index >= 0) {
            schedulers.splice(index, 1);
            await scheduler.stop();
          }
        });
        return scheduler;
      },
      async stopScheduler(scheduler: Scheduler): Promise<void> {
        const index = schedulers.indexOf(scheduler);
        if (index >= 0) schedulers.splice(index, 1);
        await scheduler.stop();
      },
    };
  }

  /** Validate and store a flow; its revision. */
  async function saveFlow(source: string): Promise<number> {
    const { flow } = validator.parseFlow(source);
    const saved = await db.flows.save(flow.namespace, flow.id, source, flow);
    return saved.flow.revision;
  }

  /** Create an execution of the latest revision and tell the scheduler (as the API does). */
  async function startExecution(
    queue: QueueDriver,
    namespace: string,
    flowId: string,
    extra: { inputs?: Record<string, unknown>; labels?: { key: string; value: string }[] } = {},
  ): Promise<string> {
    const latest = await db.flows.latest(namespace, flowId);
    if (!latest) throw new Error(`no flow ${namespace}.${flowId}`);
    const execution = await db.executions.create({ namespace, flowId, flowRevision: latest.revision, ...extra });
    // With the snapshot, as the API sends it: the first step starts from it instead of reading the execution.
    await queue.publishExecution({ type: 'created', executionId: execution.id, namespace, flowId, snapshot: executionSnapshot(execution) });
    return execution.id;
  }

  async function execution(id: string): Promise<StoredExecution> {
    const found = await db.executions.get(id);
    if (!found) throw new Error(`no execution ${id}`);
    return found;
  }

  async function stateOf(id: string): Promise<string> {
    return (await execution(id)).state;
  }

  function started(job: TaskJob, attempt = job.attempt): ResultMessage {
    const at = new Date().toISOString();
    return { type: 'started', executionId: job.executionId, taskRunId: job.taskRunId, taskId: job.taskId, attempt, workerId: 'test-worker', startedAt: at, ...(job.after !== undefined ? { after: job.after } : {}) };
  }

  function ended(job: TaskJob, state: TaskRunEndState, outputs: Record<string, unknown> = {}, attempt = job.attempt): ResultMessage {
    const at = new Date().toISOString();
    return {
      type: 'ended',
      executionId: job.executionId,
      taskRunId: job.taskRunId,
      taskId: job.taskId,
      attempt,
      workerId: 'test-worker',
      state,
      outputs,
      startedAt: at,
      endedAt: at,
      ...(job.after !== undefined ? { after: job.after } : {}),
    };
  }

  /** The end of a short task, which a worker sends with its start (no 'started' message). */
  function endedWithStart(job: TaskJob, state: TaskRunEndState): ResultMessage {
    return { ...(ended(job, state) as Extract<ResultMessage, { type: 'ended' }>), reportsStart: true };
  }

  /** A constant in-place retry policy for task `a`, as twoTasks' `extra`. */
  function retryOfA(interval: string, maxAttempt: number): string {
    return `\n    retry:\n      type: constant\n      interval: ${interval}\n      maxAttempt: ${maxAttempt}`;
  }

  /** Two sequential Log tasks `a` then `b`. */
  function twoTasks(namespace: string, id: string, extra = ''): string {
    return `id: ${id}
namespace: ${namespace}
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: first${extra}
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: second
`;
  }

  it('sends a job with pluginDefaults applied, the inputs and earlier outputs, and no secret', async () => {
    const secretValue = `s3cr3t-${randomBytes(4).toString('hex')}`;
    const previous = process.env.SECRET_API_KEY;
    process.env.SECRET_API_KEY = Buffer.from(secretValue).toString('base64');
    try {
      const h = harness();
      await h.startScheduler();
      const ns = freshNamespace();
      const revision = await saveFlow(`id: job-content
namespace: ${ns}
labels:
  team: data
inputs:
  - id: name
    type: STRING
variables:
  greeting: hello
pluginDefaults:
  - type: io.kestra.plugin.core.log
    values:
      level: WARN
  - type: io.kestra.plugin.scripts
    values:
      containerImage: python:3.12-slim
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.greeting }} {{ inputs.name }}"
  - id: second
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: "{{ outputs.first.count }} {{ secret('API_KEY') }}"
`);
      const id = await startExecution(h.queue, ns, 'job-content', { inputs: { name: 'world' }, labels: [{ key: 'run', value: 'manual' }] });
      await waitFor(() => h.jobsOf(ns).length === 1, 'the first job');
      const first = h.jobsOf(ns)[0] as TaskJob;
      expect(first).toMatchObject({
        executionId: id,
        namespace: ns,
        flowId: 'job-content',
        flowRevision: revision,
        taskId: 'first',
        attempt: 1,
        workerGroup: 'default',
        task: { id: 'first', type: 'io.kestra.plugin.core.log.Log', message: '{{ vars.greeting }} {{ inputs.name }}', level: 'WARN' },
      });
      // Only the matching entry applies.
      expect(first.task).not.toHaveProperty('containerImage');
      expect(Object.keys(first.variables).sort()).toEqual(['execution', 'flow', 'inputs', 'labels', 'outputs', 'taskrun', 'vars']);
      expect(first.variables).toMatchObject({
        inputs: { name: 'world' },
        outputs: {},
        vars: { greeting: 'hello' },
        flow: { id: 'job-content', namespace: ns, revision },
        execution: { id },
        labels: { team: 'data', run: 'manual', 'system.correlationId': id, system: { correlationId: id } },
        taskrun: { id: first.taskRunId },
      });
      expect(Number.isNaN(Date.parse(first.queuedAt))).toBe(false);
      expect(await stateOf(id)).toBe('RUNNING');

      await h.queue.publishResult(started(first));
      await h.queue.publishResult(ended(first, 'SUCCESS', { count: 3 }));
      await waitFor(() => h.jobsOf(ns).length === 2, 'the second job');
      const second = h.jobsOf(ns)[1] as TaskJob;
      // The task's own level wins over the default; expressions stay unrendered (the worker renders).
      expect(second.task).toMatchObject({ id: 'second', level: 'ERROR', message: "{{ outputs.first.count }} {{ secret('API_KEY') }}" });
      expect(second.variables).toMatchObject({ inputs: { name: 'world' }, outputs: { first: { count: 3 } } });
      for (const job of [first, second]) {
        const text = JSON.stringify(job);
        expect(text).not.toContain(secretValue);
        expect(text).not.toContain(process.env.SECRET_API_KEY);
        expect(job.variables).not.toHaveProperty('secrets');
      }

      await h.queue.publishResult(ended(second, 'SUCCESS'));
      await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to succeed');
      // The update is published after the commit.
      await waitFor(() => h.updates.some((u) => u.executionId === id && u.ended), 'the final execution update');
      expect(h.updates.filter((u) => u.executionId === id && u.ended)).toEqual([{ executionId: id, state: 'SUCCESS', ended: true, execution: expect.anything(), scheduler: expect.any(String) }]);
    } finally {
      if (previous === undefined) delete process.env.SECRET_API_KEY;
      else process.env.SECRET_API_KEY = previous;
    }
  });

  it("ignores a duplicate 'ended': the next task is dispatched once", async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'dup-ended'));
    const id = await startExecution(h.queue, ns, 'dup-ended');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the job of a');
    const a = h.jobsOf(ns)[0] as TaskJob;
    await h.queue.publishResult(started(a));
    await waitFor(() => h.handledFor(id).length === 1, 'the start to be handled');
    const end = ended(a, 'SUCCESS', { n: 1 });
    // At-least-once: the same message three times, handled concurrently.
    await Promise.all([h.queue.publishResult(end), h.queue.publishResult(end), h.queue.publishResult(end)]);
    await waitFor(() => h.handledFor(id).length === 4, 'the four results to be handled');
    expect(h.handledFor(id).every((x) => x.ok)).toBe(true);

    expect(h.jobsOf(ns).map((j) => j.taskId)).toEqual(['a', 'b']);
    const runs = (await execution(id)).taskRuns;
    expect(runs.map((r) => r.taskId)).toEqual(['a', 'b']);
    const runA = runs.find((r) => r.taskId === 'a');
    expect(runA?.stateHistory.map((s) => s.state)).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);

    const b = h.jobsOf(ns)[1] as TaskJob;
    await h.queue.publishResult(ended(b, 'SUCCESS'));
    await h.queue.publishResult(ended(b, 'SUCCESS'));
    await waitFor(() => h.handledFor(id).length === 6, 'the results of b to be handled');
    expect(await stateOf(id)).toBe('SUCCESS');
    const final = await execution(id);
    expect(final.stateHistory.filter((s) => s.state === 'SUCCESS')).toHaveLength(1);
    expect(final.taskRuns).toHaveLength(2);
    expect(h.jobsOf(ns)).toHaveLength(2);
  });

  it('fences off a second delivery of an attempt that already ended: its start and end are ignored, idempotently', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'fenced'));
    const id = await startExecution(h.queue, ns, 'fenced');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the job of a');
    const a = h.jobsOf(ns)[0] as TaskJob;
    await h.queue.publishResult({ ...started(a), workerId: 'worker-1' });
    await h.queue.publishResult({ ...(ended(a, 'SUCCESS', { v: 1 }) as Extract<ResultMessage, { type: 'ended' }>), workerId: 'worker-1' });
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of b');
    const before = (await execution(id)).taskRuns.find((r) => r.taskId === 'a');

    // The same attempt delivered again (its job came back) ran on another worker and reports, later: start, then a
    // different end, twice.
    const second = { ...(ended(a, 'FAILED', { v: 2 }) as Extract<ResultMessage, { type: 'ended' }>), workerId: 'worker-2', endedAt: new Date(Date.now() + 1000).toISOString() };
    await h.queue.publishResult({ ...started(a), workerId: 'worker-2', startedAt: new Date(Date.now() + 500).toISOString() });
    await h.queue.publishResult(second);
    await h.queue.publishResult(second);
    await waitFor(() => h.handledFor(id).length === 5, 'the second delivery to be handled');
    expect(h.handledFor(id).every((x) => x.ok)).toBe(true);
    const after = (await execution(id)).taskRuns.find((r) => r.taskId === 'a');
    expect(after).toEqual(before);
    expect(after).toMatchObject({ state: 'SUCCESS', outputs: { v: 1 }, workerId: 'worker-1' });
    expect(h.jobsOf(ns).map((j) => j.taskId)).toEqual(['a', 'b']);
    expect(await stateOf(id)).toBe('RUNNING');
    await h.queue.publishResult(ended(h.jobsOf(ns)[1] as TaskJob, 'SUCCESS'));
    await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to succeed');
  });

  it("records the start an 'ended' reports for a short task that sent no 'started'", async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'coalesced'));
    const id = await startExecution(h.queue, ns, 'coalesced');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the job of a');
    const a = h.jobsOf(ns)[0] as TaskJob;
    const startedAt = new Date(Date.now() - 20).toISOString();
    const endedAt = new Date().toISOString();
    await h.queue.publishResult({
      type: 'ended',
      executionId: a.executionId,
      taskRunId: a.taskRunId,
      taskId: a.taskId,
      attempt: a.attempt,
      workerId: 'test-worker',
      state: 'SUCCESS',
      outputs: {},
      startedAt,
      endedAt,
      reportsStart: true,
    });
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of b');
    const runA = (await execution(id)).taskRuns.find((r) => r.taskId === 'a');
    expect(runA?.stateHistory).toEqual([expect.objectContaining({ state: 'CREATED' }), { state: 'RUNNING', date: startedAt }, { state: 'SUCCESS', date: endedAt }]);
    expect(runA?.attempts).toEqual([{ state: { current: 'SUCCESS', histories: [{ state: 'RUNNING', date: startedAt }, { state: 'SUCCESS', date: endedAt }] }, workerId: 'test-worker' }]);
    expect(runA?.startDate?.toISOString()).toBe(startedAt);

    // Without the flag (a worker killed the task before it started), no RUNNING is made up.
    const b = h.jobsOf(ns)[1] as TaskJob;
    await h.queue.publishResult(ended(b, 'KILLED'));
    await waitFor(async () => (await stateOf(id)) === 'KILLED' || (await stateOf(id)) === 'FAILED', 'the execution to end');
    const runB = (await execution(id)).taskRuns.find((r) => r.taskId === 'b');
    expect(runB?.stateHistory.map((e) => e.state)).toEqual(['CREATED', 'KILLED']);
  });

  it("ignores an 'ended' (and a 'started') of an older attempt after a retry", async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'retried', retryOfA('PT0.2S', 3)));
    const id = await startExecution(h.queue, ns, 'retried');
    await waitFor(() => h.jobsOf(ns).length === 1, 'attempt 1');
    const first = h.jobsOf(ns)[0] as TaskJob;
    await h.queue.publishResult(started(first));
    await waitFor(() => h.handledFor(id).length === 1, "attempt 1's start to be handled");
    await h.queue.publishResult(ended(first, 'FAILED'));
    await waitFor(() => h.handledFor(id).length === 2, "attempt 1's end to be handled");
    const runOf = async () => (await execution(id)).taskRuns.find((r) => r.id === first.taskRunId);
    expect((await runOf())?.state).toBe('RETRYING');

    // Attempt 1's messages again, late, while the retry waits for its delay: neither reopens nor ends the run.
    await h.queue.publishResult(started(first, 1));
    await h.queue.publishResult(ended(first, 'SUCCESS', { late: true }, 1));
    await waitFor(() => h.handledFor(id).length === 4, 'the late messages to be handled');
    let run = await runOf();
    expect(run?.state).toBe('RETRYING');
    expect(run?.attempts).toHaveLength(1);
    expect(run?.attempts[0]).toMatchObject({ state: { current: 'FAILED' } });
    // The execution shows the wait, as in Kestra.
    expect(await stateOf(id)).toBe('RETRYING');

    await waitFor(() => h.jobsOf(ns).length === 2, 'attempt 2');
    const second = h.jobsOf(ns)[1] as TaskJob;
    expect(second).toMatchObject({ taskRunId: first.taskRunId, taskId: 'a', attempt: 2 });
    await h.queue.publishResult(started(second));
    await waitFor(() => h.handledFor(id).length === 5, "attempt 2's start to be handled");
    expect(await stateOf(id)).toBe('RUNNING');
    // Attempt 1 ends (late) while attempt 2 runs: ignored.
    await h.queue.publishResult(ended(first, 'SUCCESS', { late: true }, 1));
    await waitFor(() => h.handledFor(id).length === 6, 'the late end to be handled');
    run = await runOf();
    expect(run?.state).toBe('RUNNING');
    expect(run?.outputs).toBeNull();
    expect(h.jobsOf(ns).map((j) => j.taskId)).toEqual(['a', 'a']);

    await h.queue.publishResult(ended(second, 'SUCCESS', { attempt: 2 }));
    await waitFor(() => h.jobsOf(ns).length === 3, 'the job of b');
    expect(h.jobsOf(ns)[2]?.variables).toMatchObject({ outputs: { a: { attempt: 2 } } });
    await h.queue.publishResult(ended(h.jobsOf(ns)[2] as TaskJob, 'SUCCESS'));
    await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to succeed');
    run = await runOf();
    expect(run?.attempts.map((a) => (a as { state: { current: string } }).state.current)).toEqual(['FAILED', 'SUCCESS']);
    expect((await execution(id)).stateHistory.map((s) => s.state)).toEqual(['CREATED', 'RUNNING', 'RETRYING', 'RUNNING', 'SUCCESS']);
    expect(run?.outputs).toEqual({ attempt: 2 });
  });

  it('a retry attempt that reports its start with its end moves the execution from RETRYING to RUNNING, then on', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'quick_retry', retryOfA('PT0.1S', 2)));
    const id = await startExecution(h.queue, ns, 'quick_retry');
    await waitFor(() => h.jobsOf(ns).length === 1, 'attempt 1');
    await h.queue.publishResult(endedWithStart(h.jobsOf(ns)[0] as TaskJob, 'FAILED'));
    await waitFor(async () => (await stateOf(id)) === 'RETRYING', 'the execution to wait for the retry');
    await waitFor(() => h.jobsOf(ns).length === 2, 'attempt 2');
    await h.queue.publishResult(endedWithStart(h.jobsOf(ns)[1] as TaskJob, 'SUCCESS'));
    await waitFor(() => h.jobsOf(ns).length === 3, 'the job of b');
    expect(await stateOf(id)).toBe('RUNNING');
    await h.queue.publishResult(ended(h.jobsOf(ns)[2] as TaskJob, 'SUCCESS'));
    await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to succeed');
    expect((await execution(id)).stateHistory.map((s) => s.state)).toEqual(['CREATED', 'RUNNING', 'RETRYING', 'RUNNING', 'SUCCESS']);
  });

  it("does not reopen a run when its 'started' arrives after its 'ended', and still records that it ran (RUNNING)", async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'late-start'));
    const id = await startExecution(h.queue, ns, 'late-start');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the job of a');
    const a = h.jobsOf(ns)[0] as TaskJob;
    await h.queue.publishResult(ended(a, 'SUCCESS', { v: 1 }));
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of b');
    await h.queue.publishResult(started(a));
    await waitFor(() => h.handledFor(id).length === 2, 'the late start to be handled');
    const runA = (await execution(id)).taskRuns.find((r) => r.taskId === 'a');
    expect(runA).toMatchObject({ state: 'SUCCESS', outputs: { v: 1 } });
    expect(runA?.endDate).not.toBeNull();
    // The end came first (the start waited in the queue): the history still shows the run RUNNING, at its real start.
    expect(runA?.stateHistory.map((s) => s.state)).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
    const attemptA = (runA?.attempts as { state: { histories: { state: string; date: string }[] } }[] | undefined)?.[0];
    expect(attemptA?.state.histories.map((h) => h.state)).toEqual(['RUNNING', 'SUCCESS']);

    const b = h.jobsOf(ns)[1] as TaskJob;
    await h.queue.publishResult(ended(b, 'SUCCESS'));
    await h.queue.publishResult(started(b));
    await waitFor(() => h.handledFor(id).length === 4, 'the results of b to be handled');
    expect(await stateOf(id)).toBe('SUCCESS');
    expect((await execution(id)).taskRuns.every((r) => r.state === 'SUCCESS')).toBe(true);
    expect(h.jobsOf(ns)).toHaveLength(2);
  });

  it('puts off an execution to start later (scheduleDate) that reached it early, until its date', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    const revision = await saveFlow(twoTasks(ns, 'later'));
    const scheduleDate = new Date(Date.now() + 1500);
    const created = await db.executions.create({ namespace: ns, flowId: 'later', flowRevision: revision, scheduleDate });
    // Early, as a restarted scheduler resumes every CREATED execution: no snapshot, as the API sends it.
    await h.queue.publishExecution({ type: 'created', executionId: created.id, namespace: ns, flowId: 'later' });
    await sleep(700);
    expect(h.jobsOf(ns)).toEqual([]);
    expect(await stateOf(created.id)).toBe('CREATED');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the first task job, once the date has come');
    expect(Date.now()).toBeGreaterThanOrEqual(scheduleDate.getTime());
    expect(await execution(created.id)).toMatchObject({ state: 'RUNNING', scheduleDate });
  });

  it('retries a failed flow as a new execution (behavior CREATE_NEW_EXECUTION) until maxAttempt, then fails', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(`id: again
namespace: ${ns}
labels:
  team: data
retry:
  type: constant
  interval: PT0.3S
  maxAttempt: 2
  behavior: CREATE_NEW_EXECUTION
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: flaky
errors:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: cleaning up
`);
    const first = await startExecution(h.queue, ns, 'again', { inputs: { day: 'monday' }, labels: [{ key: 'run', value: 'nightly' }] });
    await waitFor(() => h.jobsOf(ns).length === 1, 'the job of a (attempt 1)');
    const failedAt = Date.now();
    await h.queue.publishResult(ended(h.jobsOf(ns)[0] as TaskJob, 'FAILED'));
    await waitFor(async () => (await stateOf(first)) === 'RETRIED', 'the first execution to end RETRIED');

    const original = await execution(first);
    expect(original.stateHistory.map((s) => s.state)).toEqual(['CREATED', 'RUNNING', 'FAILED', 'RETRIED']);
    expect(original.endDate).not.toBeNull();
    // The errors branch waits for the last attempt: nothing but `a` ran here.
    expect(original.taskRuns.map((r) => [r.taskId, r.state])).toEqual([['a', 'RETRIED']]);
    expect(original.attemptNumber).toBe(1);
    const logs = await db.logs.search({ executionId: first, page: 1, size: 50 });
    const retryLine = logs.results.find((l) => l.level === 'WARN' && l.message.includes('retrying the flow as a new execution'));
    expect(retryLine?.message).toMatch(/^task a failed: retrying the flow as a new execution, ([0-9A-Za-z]+) \(attempt 2\), at /);
    const second = /execution, ([0-9A-Za-z]+) /.exec(retryLine?.message ?? '')?.[1] ?? '';
    const update = h.updates.find((u) => u.executionId === first && u.ended);
    expect(update).toMatchObject({ state: 'RETRIED', ended: true });

    // The new execution: same revision, inputs and labels, attempt 2, linked to the first; it starts after the delay.
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of a (attempt 2, a new execution)');
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(300);
    const retried = await execution(second);
    expect(retried).toMatchObject({
      flowRevision: original.flowRevision,
      inputs: { day: 'monday' },
      labels: original.labels,
      restartedFrom: first,
      attemptNumber: 2,
      originalCreatedDate: original.startDate,
      state: 'RUNNING',
    });
    const secondJob = h.jobsOf(ns)[1] as TaskJob;
    expect(secondJob).toMatchObject({ executionId: second, taskId: 'a', attempt: 1 });

    // maxAttempt 2 counts executions: this one fails for good, through its errors branch.
    await h.queue.publishResult(ended(secondJob, 'FAILED'));
    await waitFor(() => h.jobsOf(ns).length === 3, 'the errors branch');
    expect(h.jobsOf(ns)[2]).toMatchObject({ executionId: second, taskId: 'cleanup' });
    await h.queue.publishResult(ended(h.jobsOf(ns)[2] as TaskJob, 'SUCCESS'));
    await waitFor(async () => (await stateOf(second)) === 'FAILED', 'the second execution to fail');
    await sleep(500);
    const all = await db.executions.search({ namespace: ns, page: 1, size: 10 });
    expect(all.total).toBe(2);
  });

  it('drops a result for an unknown execution without error', async () => {
    const h = harness();
    await h.startScheduler();
    const ghost: TaskJob = {
      executionId: `ghost-${randomBytes(4).toString('hex')}`,
      namespace: 'nowhere',
      flowId: 'none',
      flowRevision: 1,
      taskRunId: 'tr-ghost',
      taskId: 'a',
      attempt: 1,
      task: { id: 'a', type: 'io.kestra.plugin.core.log.Log', message: 'x' },
      workerGroup: 'default',
      variables: {},
      queuedAt: new Date().toISOString(),
    };
    await h.queue.publishResult(started(ghost));
    await h.queue.publishResult(ended(ghost, 'SUCCESS', { x: 1 }));
    await waitFor(() => h.handledFor(ghost.executionId).length === 2, 'both results to be handled');
    expect(h.handledFor(ghost.executionId).map((x) => x.ok)).toEqual([true, true]);
    expect(h.errors).toEqual([]);
    expect(await db.prisma.taskRun.count({ where: { executionId: ghost.executionId } })).toBe(0);
    expect(h.updates.filter((u) => u.executionId === ghost.executionId)).toEqual([]);
  });

  it('two schedulers on one database and queue run a burst of 20 executions, each once', async () => {
    const h = harness();
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'burst'));
    // The worker: every job starts and ends (its 'ended' delivered twice, as at-least-once allows).
    h.onJob((job) => {
      if (job.namespace !== ns) return;
      void (async () => {
        await h.queue.publishResult(started(job));
        const end = ended(job, 'SUCCESS', { task: job.taskId });
        await Promise.all([h.queue.publishResult(end), h.queue.publishResult(end)]);
      })();
    });
    // Each with its own database client, as replicas are: each keeps its own copies of the executions it advanced,
    // so a step often finds its copy stale (the other one made the step before) and must run locked.
    const replicaDb = createDb({ databaseUrl: (testDb as MigratedDatabase).url });
    cleanups.push(() => replicaDb.close());
    const before = { a: { ...db.scheduler.steps }, b: { ...replicaDb.scheduler.steps } };
    await h.startScheduler({ id: 'scheduler-a' });
    await h.startScheduler({ id: 'scheduler-b', db: replicaDb });

    const ids = await Promise.all(Array.from({ length: 20 }, () => startExecution(h.queue, ns, 'burst')));
    await waitFor(
      async () => (await db.prisma.execution.count({ where: { namespace: ns, state: { in: ['SUCCESS', 'FAILED', 'KILLED', 'CANCELLED', 'WARNING'] } } })) === 20,
      'the 20 executions to end',
      60_000,
    );
    // Every result (3 per task run) handled, so nothing is still in flight.
    await waitFor(() => ids.every((id) => h.handledFor(id).length === 6), 'every result to be handled', 30_000);

    const jobs = h.jobsOf(ns);
    expect(jobs).toHaveLength(40);
    expect(new Set(jobs.map((j) => j.taskRunId)).size).toBe(40);
    for (const id of ids) {
      const found = await execution(id);
      expect(found.state).toBe('SUCCESS');
      expect(found.stateHistory.filter((s) => s.state === 'SUCCESS')).toHaveLength(1);
      expect(found.taskRuns.map((r) => [r.taskId, r.state])).toEqual([
        ['a', 'SUCCESS'],
        ['b', 'SUCCESS'],
      ]);
      expect(jobs.filter((j) => j.executionId === id).map((j) => j.taskId)).toEqual(['a', 'b']);
      const endUpdates = h.updates.filter((u) => u.executionId === id && u.ended);
      expect(endUpdates).toHaveLength(1);
      // It carries the execution exactly as a read returns it.
      expect(executionFromWire(endUpdates[0]?.execution)).toEqual(found);
    }
    expect(h.handled.every((x) => x.ok)).toBe(true);
    // Both took part; steps were taken from memory, and locked where a replica's copy was missing or stale.
    expect(new Set(h.handled.filter((x) => ids.includes(x.message.executionId)).map((x) => x.by))).toEqual(new Set(['scheduler-a', 'scheduler-b']));
    const taken = (kind: 'fromMemory' | 'locked'): number =>
      db.scheduler.steps[kind] - before.a[kind] + replicaDb.scheduler.steps[kind] - before.b[kind];
    expect(taken('fromMemory')).toBeGreaterThan(0);
    expect(taken('locked')).toBeGreaterThan(0);
    expect(h.errors).toEqual([]);
  }, 90_000);

  it("takes a new execution's first step in an API's scheduler, which hands it over: its jobs carry the execution, and the scheduler applies their results from memory", async () => {
    const h = harness();
    const ns = freshNamespace();
    const revision = await saveFlow(twoTasks(ns, 'handed'));
    // The worker: a short task's end, with its start, and the job's `known` returned as a worker returns it.
    h.onJob((job) => {
      if (job.namespace !== ns) return;
      void h.queue.publishResult({ ...endedWithStart(job, 'SUCCESS'), ...(job.known === undefined ? {} : { known: job.known }) });
    });
    // The scheduler, with its own database client (its own copies), as in its own process.
    const schedulerDb = createDb({ databaseUrl: (testDb as MigratedDatabase).url });
    cleanups.push(() => schedulerDb.close());
    await h.startScheduler({ db: schedulerDb, id: 'the-scheduler' });
    const before = { ...schedulerDb.scheduler.steps };
    // The API's: never started; what it sends on the executions channel is recorded.
    const sent: unknown[] = [];
    const apiQueue = new Proxy(h.queue, {
      get: (target, property, receiver) => {
        if (property === 'publishExecution') return async (message: unknown) => void sent.push(message);
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const api = createScheduler({ db, queue: apiQueue, resolveTaskType: (type) => registries.tasks.find(type), triggerIntervalMs: 0, id: 'api' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const prepared = db.executions.prepare({ namespace: ns, flowId: 'handed', flowRevision: revision, inputs: { i } });
      const { after } = await api.startNew(prepared, { handOff: true });
      // Stored with its first step by the time startNew resolves.
      const stored = await execution(prepared.id);
      expect(stored.state).toBe('RUNNING');
      expect(stored.taskRuns.map((r) => [r.taskId, r.state])).toEqual([['a', 'CREATED']]);
      await after;
      // The API keeps no copy of it.
      expect(db.scheduler.knownVersion(prepared.id)).toBeUndefined();
      ids.push(prepared.id);
    }
    for (const id of ids) await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to end');
    expect(sent).toEqual([]);
    for (const id of ids) {
      const found = await execution(id);
      expect(found.taskRuns.map((r) => [r.taskId, r.state])).toEqual([
        ['a', 'SUCCESS'],
        ['b', 'SUCCESS'],
      ]);
      const jobs = h.jobsOf(ns).filter((job) => job.executionId === id);
      expect(jobs.map((job) => [job.taskId, job.known !== undefined])).toEqual([
        ['a', true],
        ['b', false],
      ]);
      // Its end went out once, from the scheduler (an API waits for it).
      expect(h.updates.filter((u) => u.executionId === id && u.ended).map((u) => u.scheduler)).toEqual(['the-scheduler']);
    }
    // Each execution's two results were applied from memory: the first from the copy its job carried.
    expect(schedulerDb.scheduler.steps.fromMemory - before.fromMemory).toBeGreaterThanOrEqual(2 * ids.length);
    expect(schedulerDb.scheduler.steps.locked - before.locked).toBe(0);
    expect(schedulerDb.scheduler.steps.stale - before.stale).toBe(0);
    expect(h.errors).toEqual([]);
  });

  it('publishes its steps for other replicas only while another process listens to them; its ends always', async () => {
    const h = harness();
    const published: { executionId: string; ended: boolean; receivers: number }[] = [];
    const counting = new Proxy(h.queue, {
      get: (target, property, receiver) => {
        if (property === 'publishExecutionUpdate') {
          return async (update: ExecutionUpdate) => {
            const receivers = await target.publishExecutionUpdate(update);
            published.push({ executionId: update.executionId, ended: update.ended, receivers });
            return receivers;
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    h.onJob((job) => {
      void (async () => {
        await h.queue.publishResult(started(job));
        await h.queue.publishResult(ended(job, 'SUCCESS'));
      })();
    });
    await h.startScheduler({ queue: counting });
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'alone'));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await startExecution(h.queue, ns, 'alone');
      ids.push(id);
      await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to end');
    }
    // Those of this test (the scheduler also resumes what earlier tests left unfinished in the database).
    const mine = published.filter((p) => ids.includes(p.executionId));
    // Every end went out (an API may wait for it).
    expect(mine.filter((p) => p.ended).map((p) => p.executionId)).toEqual(ids);
    // The first step it published reached this process only (one process here): the steps after it, for a second,
    // were not sent. Each two-task execution makes at least four steps before its end (two runs start and end).
    expect(published.find((p) => !p.ended)?.receivers).toBe(1);
    expect(mine.filter((p) => !p.ended).length).toBeLessThan(6);
  });

  it('drops its copy of an execution another scheduler advanced, and keeps those it advanced itself', async () => {
    const h = harness();
    // A replica: its own database client, so its own copies of executions.
    const replicaDb = createDb({ databaseUrl: (testDb as MigratedDatabase).url });
    cleanups.push(() => replicaDb.close());
    const lines: string[] = [];
    const replica = await h.startScheduler({ db: replicaDb, id: 'replica', log: (line) => lines.push(line) });
    const ns = freshNamespace();
    const [mine, theirs] = await Promise.all([0, 1].map(async () => (await db.executions.create({ namespace: ns, flowId: 'f', flowRevision: 1 })).id));
    for (const id of [mine, theirs]) {
      await replicaDb.scheduler.withExecution(id as string, async () => undefined);
      expect(replicaDb.scheduler.knownVersion(id as string)).toBeDefined();
    }
    await h.queue.publishExecutionUpdate({ executionId: mine as string, state: 'CREATED', ended: false, scheduler: 'replica' });
    await h.queue.publishExecutionUpdate({ executionId: theirs as string, state: 'CREATED', ended: false, scheduler: 'another' });
    await waitFor(() => replicaDb.scheduler.knownVersion(theirs as string) === undefined, 'the copy of the execution another scheduler advanced to go');
    expect(replicaDb.scheduler.knownVersion(mine as string)).toBeDefined();
    // As it stops, it says how its steps went (the two above were locked ones: it knew neither execution).
    await h.stopScheduler(replica);
    const stopped = lines.map((line) => /^scheduler replica stopped: (\d+) steps from memory, (\d+) locked, (\d+) from a stale copy \(then locked\)$/.exec(line)).find(Boolean);
    expect(Number(stopped?.[2])).toBeGreaterThanOrEqual(2);
  });

  it('ends the execution CANCELLED when a task group has no live worker and fallback CANCEL', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    const group = `nobody-${randomBytes(3).toString('hex')}`;
    await saveFlow(`id: no-worker
namespace: ${ns}
tasks:
  - id: gpu
    type: io.kestra.plugin.core.log.Log
    message: never
    workerGroup:
      key: ${group}
      fallback: CANCEL
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never either
`);
    const id = await startExecution(h.queue, ns, 'no-worker');
    await waitFor(async () => (await stateOf(id)) === 'CANCELLED', 'the execution to be cancelled');
    const found = await execution(id);
    expect(found.taskRuns).toHaveLength(1);
    expect(found.taskRuns[0]).toMatchObject({ taskId: 'gpu', state: 'CANCELLED', workerGroup: group, outputs: { error: { code: 'SLU_TASK_NO_WORKER' } } });
    expect(await h.queue.pendingTasks(group)).toBe(0);
    expect(h.jobsOf(ns)).toEqual([]);
    const logs = await db.prisma.logEntry.findMany({ where: { executionId: id } });
    expect(logs.map((l) => [l.level, l.taskId])).toEqual([['ERROR', 'gpu']]);
    await waitFor(() => h.updates.some((u) => u.executionId === id && u.ended), 'the final execution update');
    const endUpdates = h.updates.filter((u) => u.executionId === id && u.ended);
    expect(endUpdates).toEqual([{ executionId: id, state: 'CANCELLED', ended: true, execution: expect.anything(), scheduler: expect.any(String) }]);
    expect(executionFromWire(endUpdates[0]?.execution)).toEqual(await execution(id));
  });

  it("reads the workers table by default: a group's recent heartbeat makes it live", async () => {
    const group = `gpu-${randomBytes(3).toString('hex')}`;
    const h = harness([group]);
    await h.startScheduler({ workerLivenessMs: 10_000 });
    const ns = freshNamespace();
    await saveFlow(`id: needs-gpu
namespace: ${ns}
tasks:
  - id: gpu
    type: io.kestra.plugin.core.log.Log
    message: on a gpu
    workerGroup:
      key: ${group}
      fallback: FAIL
`);
    // No worker of the group: FAIL.
    const none = await startExecution(h.queue, ns, 'needs-gpu');
    await waitFor(async () => (await stateOf(none)) === 'FAILED', 'the execution without a worker to fail');
    expect((await execution(none)).taskRuns[0]).toMatchObject({ state: 'FAILED', outputs: { error: { code: 'SLU_TASK_NO_WORKER' } } });

    // A heartbeat older than workerLivenessMs does not count.
    await db.scheduler.heartbeat(`worker-stale-${group}`, group, new Date(Date.now() - 60_000));
    const stale = await startExecution(h.queue, ns, 'needs-gpu');
    await waitFor(async () => (await stateOf(stale)) === 'FAILED', 'the execution with a stale worker to fail');

    // A worker of another group does not count either; a recent one of the group does.
    await db.scheduler.heartbeat(`worker-other-${group}`, `other-${group}`);
    await db.scheduler.heartbeat(`worker-live-${group}`, group);
    const live = await startExecution(h.queue, ns, 'needs-gpu');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the job for the live group');
    expect(h.jobsOf(ns)[0]).toMatchObject({ executionId: live, workerGroup: group, taskId: 'gpu' });
    expect(await stateOf(live)).toBe('RUNNING');
    const run = (await execution(live)).taskRuns[0];
    expect(run).toMatchObject({ state: 'CREATED', workerGroup: group });
    await h.queue.publishResult(ended(h.jobsOf(ns)[0] as TaskJob, 'SUCCESS'));
    await waitFor(async () => (await stateOf(live)) === 'SUCCESS', 'the execution to succeed');
  });

  it('after a restart, enqueues again a CREATED task run whose job was lost', async () => {
    const ns = freshNamespace();
    await saveFlow(twoTasks(ns, 'resumed'));
    const before = harness();
    const first = await before.startScheduler({ id: 'scheduler-before' });
    const id = await startExecution(before.queue, ns, 'resumed');
    // The job is taken and acknowledged, but nobody runs it (a worker crashed with an in-memory queue, say).
    await waitFor(() => before.jobsOf(ns).length === 1, 'the first job');
    const lost = before.jobsOf(ns)[0] as TaskJob;
    await before.stopScheduler(first);
    await before.queue.close();
    const stored = await execution(id);
    expect(stored.state).toBe('RUNNING');
    expect(stored.taskRuns.map((r) => [r.id, r.state])).toEqual([[lost.taskRunId, 'CREATED']]);

    // A new scheduler on a new (empty) queue: start() resumes the execution.
    const after = harness();
    await after.startScheduler({ id: 'scheduler-after' });
    await waitFor(() => after.jobsOf(ns).length === 1, 'the job to be enqueued again');
    const again = after.jobsOf(ns)[0] as TaskJob;
    expect(again).toMatchObject({ executionId: id, taskRunId: lost.taskRunId, taskId: 'a', attempt: 1, task: lost.task });
    // Still one task run: it was enqueued again, not dispatched anew.
    expect((await execution(id)).taskRuns).toHaveLength(1);

    await after.queue.publishResult(started(again));
    await after.queue.publishResult(ended(again, 'SUCCESS'));
    await waitFor(() => after.jobsOf(ns).length === 2, 'the job of b');
    await after.queue.publishResult(ended(after.jobsOf(ns)[1] as TaskJob, 'SUCCESS'));
    await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to succeed');
    expect(after.jobsOf(ns).map((j) => j.taskId)).toEqual(['a', 'b']);
  });

  /** A flow whose main list holds plain tasks a, b, (disabled), c, then an If, then d. */
  function followOnFlow(namespace: string, id: string): string {
    return `id: ${id}
namespace: ${namespace}
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: a
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: b
  - id: off
    type: io.kestra.plugin.core.log.Log
    message: never
    disabled: true
  - id: c
    type: io.kestra.plugin.core.log.Log
    message: c
  - id: choose
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: inside
        type: io.kestra.plugin.core.log.Log
        message: inside
  - id: d
    type: io.kestra.plugin.core.log.Log
    message: d
`;
  }

  /** The end of `job` as a worker that queued its follow-on sends it (TaskJob.next). */
  function endedWithFollowOn(job: TaskJob, taskId: string): { message: ResultMessage; followOn: TaskJob } {
    const end = ended(job, 'SUCCESS') as Extract<ResultMessage, { type: 'ended' }>;
    const taskRunId = followOnRunId(job.taskRunId, job.attempt);
    const [task, ...rest] = job.next ?? [];
    if (task?.id !== taskId) throw new Error(`${job.taskId} is not followed by ${taskId}`);
    const followOn: TaskJob = { ...job, taskRunId, taskId, task, attempt: 1, queuedAt: end.endedAt, next: rest.length > 0 ? rest : undefined, after: job.taskRunId };
    return { message: { ...end, next: { taskRunId, taskId, createdAt: end.endedAt } }, followOn };
  }

  it('sends the follow-on tasks with a job, stores the run a worker queued for the next one, and queues no job for it', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(followOnFlow(ns, 'follow'));
    const id = await startExecution(h.queue, ns, 'follow');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the first job');
    const a = h.jobsOf(ns)[0] as TaskJob;
    // The enabled tasks after a, up to the flowable If (the disabled one is not in the list, as the engine skips it).
    expect(a.next?.map((task) => task.id)).toEqual(['b', 'c']);

    const { message, followOn: b } = endedWithFollowOn(a, 'b');
    await h.queue.publishResult(message);
    await waitFor(() => h.handledFor(id).length === 1, 'the end of a');
    const runs = (await execution(id)).taskRuns;
    expect(runs.map((r) => [r.taskId, r.id, r.state])).toEqual([
      ['a', a.taskRunId, 'SUCCESS'],
      ['b', b.taskRunId, 'CREATED'],
    ]);
    expect(runs[1]?.stateHistory).toEqual([{ state: 'CREATED', date: b.queuedAt }]);
    // The worker queued b: the scheduler did not.
    expect(h.jobsOf(ns)).toHaveLength(1);

    // b runs, and its worker queues c in turn; c's end queues nothing (the If is next): the scheduler goes on.
    await h.queue.publishResult(started(b));
    const { message: endB, followOn: c } = endedWithFollowOn(b, 'c');
    await h.queue.publishResult(endB);
    await waitFor(() => h.handledFor(id).length === 3, 'the results of b');
    expect(c.next).toBeUndefined();
    await h.queue.publishResult(ended(c, 'SUCCESS'));
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of the If child');
    h.onJob((job) => {
      if (job.namespace === ns) void h.queue.publishResult(ended(job, 'SUCCESS'));
    });
    await h.queue.publishResult(ended(h.jobsOf(ns)[1] as TaskJob, 'SUCCESS'));
    await waitFor(async () => (await stateOf(id)) === 'SUCCESS', 'the execution to succeed');
    expect(h.jobsOf(ns).map((j) => [j.taskId, (j.next ?? []).map((t) => t.id)])).toEqual([
      ['a', ['b', 'c']],
      ['inside', []],
      ['d', []],
    ]);
    const final = (await execution(id)).taskRuns;
    expect(final.map((r) => [r.taskId, r.state])).toEqual([
      ['a', 'SUCCESS'],
      ['b', 'SUCCESS'],
      ['c', 'SUCCESS'],
      ['choose', 'SUCCESS'],
      ['inside', 'SUCCESS'],
      ['d', 'SUCCESS'],
    ]);
    expect(final.find((r) => r.taskId === 'c')?.id).toBe(c.taskRunId);
  });

  it('sends at most 16 follow-on tasks with a job, and no more than 32 KiB of them after the first', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    const logs = (prefix: string, count: number, message: string): string =>
      Array.from({ length: count }, (_, i) => `  - id: ${prefix}${i + 1}\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`).join('');
    await saveFlow(`id: many\nnamespace: ${ns}\ntasks:\n${logs('t', 20, 'small')}`);
    await saveFlow(`id: big\nnamespace: ${ns}\ntasks:\n${logs('b', 4, 'x'.repeat(20_000))}`);
    await startExecution(h.queue, ns, 'many');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the first job of many');
    expect(h.jobsOf(ns)[0]?.next?.map((task) => task.id)).toEqual(Array.from({ length: 16 }, (_, i) => `t${i + 2}`));
    await startExecution(h.queue, ns, 'big');
    await waitFor(() => h.jobsOf(ns).length === 2, 'the first job of big');
    expect(h.jobsOf(ns)[1]?.next?.map((task) => task.id)).toEqual(['b2']);
  });

  it('applies the reports of a follow-on run that arrive with the end that queued it in a later step', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(followOnFlow(ns, 'follow-batch'));
    const id = await startExecution(h.queue, ns, 'follow-batch');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the first job');
    const a = h.jobsOf(ns)[0] as TaskJob;
    const { message, followOn: b } = endedWithFollowOn(a, 'b');
    // A fast follow-on: its end (which reports its start too, as a short task's does) is queued right behind the end
    // of a, and is handled while the step of that end runs: it must wait for the step that stores b.
    await Promise.all([h.queue.publishResult(message), h.queue.publishResult(endedWithStart(b, 'SUCCESS'))]);
    await waitFor(() => h.handledFor(id).length === 2, 'the two results');
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of c');
    const runs = (await execution(id)).taskRuns;
    expect(runs.map((r) => [r.taskId, r.id, r.state])).toEqual([
      ['a', a.taskRunId, 'SUCCESS'],
      ['b', b.taskRunId, 'SUCCESS'],
      ['c', (h.jobsOf(ns)[1] as TaskJob).taskRunId, 'CREATED'],
    ]);
    expect(runs[1]?.stateHistory.map((entry) => entry.state)).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
  });

  it('puts back the reports of a follow-on run that come before the end that queued it, and applies them after that end stored the run', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(followOnFlow(ns, 'follow-early'));
    const id = await startExecution(h.queue, ns, 'follow-early');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the first job');
    const a = h.jobsOf(ns)[0] as TaskJob;
    const { message, followOn: b } = endedWithFollowOn(a, 'b');
    // b's reports first (another replica took the end of a, or its step started later); b's end has a log line.
    const line = { taskRunId: b.taskRunId, taskId: 'b', attempt: 1, level: 'INFO' as const, message: 'b says hello', timestamp: new Date().toISOString() };
    await h.queue.publishResult(started(b));
    await h.queue.publishResult({ ...(ended(b, 'SUCCESS') as Extract<ResultMessage, { type: 'ended' }>), logs: [line] });
    const putBack = (): Handled[] => h.handledFor(id).filter((x) => x.message.taskRunId === b.taskRunId && (x.message as { deferred?: unknown }).deferred !== undefined);
    await waitFor(() => putBack().some((x) => x.message.type === 'started') && putBack().some((x) => x.message.type === 'ended'), 'the reports of b to come back');
    // Nothing of b is stored while a has not ended: not its run, not its log line.
    expect((await execution(id)).taskRuns.map((r) => [r.taskId, r.state])).toEqual([['a', 'CREATED']]);
    expect((await db.logs.search({ executionId: id, page: 1, size: 50 })).results.map((l) => l.message)).toEqual([]);
    expect(h.jobsOf(ns)).toHaveLength(1);

    await h.queue.publishResult(message);
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of c');
    expect((h.jobsOf(ns)[1] as TaskJob).taskId).toBe('c');
    const runs = (await execution(id)).taskRuns;
    expect(runs.map((r) => [r.taskId, r.id, r.state])).toEqual([
      ['a', a.taskRunId, 'SUCCESS'],
      ['b', b.taskRunId, 'SUCCESS'],
      ['c', (h.jobsOf(ns)[1] as TaskJob).taskRunId, 'CREATED'],
    ]);
    expect(runs[1]?.stateHistory.map((entry) => entry.state)).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
    expect((await db.logs.search({ executionId: id, page: 1, size: 50 })).results.map((l) => l.message)).toEqual(['b says hello']);
    // Nothing was refused: b's attempt is finished by its worker only (here, nobody took its lease).
    expect(await h.queue.acquireTaskLease(b.taskRunId, 1, 'probe', 1000)).toEqual({ acquired: true });
    expect(h.errors).toEqual([]);
  });

  it('refuses a follow-on the execution does not run next: its attempt is marked finished, and the scheduler queues the right task', async () => {
    const h = harness();
    await h.startScheduler();
    const ns = freshNamespace();
    await saveFlow(followOnFlow(ns, 'follow-refused'));
    const id = await startExecution(h.queue, ns, 'follow-refused');
    await waitFor(() => h.jobsOf(ns).length === 1, 'the first job');
    const a = h.jobsOf(ns)[0] as TaskJob;
    // A worker that claims to have queued c after a (b comes next).
    const stray = followOnRunId(a.taskRunId, 1);
    const end = ended(a, 'SUCCESS') as Extract<ResultMessage, { type: 'ended' }>;
    await h.queue.publishResult({ ...end, next: { taskRunId: stray, taskId: 'c', createdAt: end.endedAt } });
    await waitFor(() => h.jobsOf(ns).length === 2, 'the job of b');
    expect((h.jobsOf(ns)[1] as TaskJob).taskId).toBe('b');
    expect((await execution(id)).taskRuns.map((r) => r.taskId)).toEqual(['a', 'b']);
    await waitFor(async () => {
      const lease = await h.queue.acquireTaskLease(stray, 1, 'probe', 1000);
      return !lease.acquired && lease.finished === true;
    }, 'the stray follow-on to be refused');
    // The stray run's reports (its worker had taken it before the refusal) are ignored: no run, nothing put back.
    const strayJob: TaskJob = { ...a, taskRunId: stray, taskId: 'c', attempt: 1, after: a.taskRunId };
    await h.queue.publishResult(started(strayJob));
    await h.queue.publishResult(ended(strayJob, 'SUCCESS'));
    await waitFor(() => h.handledFor(id).filter((x) => x.message.taskRunId === stray).length === 2, 'the stray reports to be handled');
    expect((await execution(id)).taskRuns.map((r) => [r.taskId, r.state])).toEqual([
      ['a', 'SUCCESS'],
      ['b', 'CREATED'],
    ]);
    expect(h.handledFor(id).filter((x) => (x.message as { deferred?: unknown }).deferred !== undefined)).toEqual([]);
    expect(h.jobsOf(ns)).toHaveLength(2);
  });
});
