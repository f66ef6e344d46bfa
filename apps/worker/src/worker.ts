/**
 * The worker loop (DESIGN.md §1): take the task jobs of one worker group from the queue, run each with the task
 * runtime, and report what happens on the `results` and `logs` channels.
 *
 * Per job:
 * 1. `runTask` starts at once, with a per-job AbortController that a kill broadcast for the execution aborts, while
 *    the queue is asked whether the execution was already killed (the durable mark): that round trip overlaps the
 *    task's preparation (context, working directory) instead of delaying it. The task's own code (its processes,
 *    containers, WorkingDirectory children) waits for the answer (runTask's `startGate`).
 * 2. Killed → the job is aborted before its code starts, and it reports only one `ended` KILLED result (no
 *    `started`, no log line), as a task that never ran. Not answered (the queue is down) → it runs: a kill broadcast
 *    still reaches it. Otherwise `started` (see startReportDelayMs), then what the task does: WorkingDirectory
 *    children report `child-started` and their own `ended` (with `parentTaskRunId`).
 * 3. Log lines are buffered and sent as {@link LogBatch}es: every `logFlushMs`, or as soon as `logBatchSize` lines
 *    wait — never one message per line. When the task ends its logs are flushed first, then its `ended` result is
 *    published: that is always the job's last message.
 *
 * Lease: at most one live run of a task run attempt. Before the task's code starts, the worker takes the attempt's
 * lease in the queue (`acquireTaskLease`: one round trip when nobody holds it, which overlaps the task's preparation
 * and answers the kill check too), renews it every third of `leaseTtlMs` while the task runs, and releases it at the
 * end, as finished once the `ended` result is out. A delivery of an attempt whose lease another delivery holds (the
 * queue delivered the job twice: its first consumer was taken for dead) gives up that preparation unseen, waits,
 * asking again, until that lease is released or expires, and never runs meanwhile; one whose attempt has finished is
 * not run at all (nothing is published: the first delivery's result stands). A worker that loses its lease while the
 * task runs (another delivery took it: this worker could not renew it in time) stops the task and publishes nothing.
 *
 * Results of one job are published in order (one chain per job). A publish that fails is reported to `onError` and
 * retried a few times with a short backoff. A task failure never rejects the job handler (it is a FAILED result);
 * only failing to publish the final `ended` result does (after the retries), so the queue records the job failed
 * and reports it rather than the worker pretending it completed.
 *
 * Stopping: the consumer stops taking jobs and the jobs in flight may finish for `graceMs`. Jobs still running then
 * are handed back: they are aborted (their processes and containers stopped), nothing more is published for them,
 * their handlers never settle (settling would complete or fail the job) and the consumer is closed with `force`, so
 * the queue sees a dead consumer (BullMQ: the lock expires, the job is stalled) and gives the job to another worker.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isRecord, mergeRecords, SluiceError } from '@sluice/core';
import type { ExecutionsAccess, KvAccess, PluginRegistries, TaskDefinition } from '@sluice/plugin-api';
import type {
  Consumer,
  LogBatch,
  QueueDriver,
  ResultMessage,
  TaskDelivery,
  TaskJob,
  TaskRunEndState,
  Unsubscribe,
  WireLogEntry,
  WireMetric,
} from '@sluice/queue';
import { followOnRunId } from '@sluice/queue';
import type { Storage } from '@sluice/storage';
import { createWorkingDirectoryPool, runTask } from '@sluice/task-runtime';
import type { TaskMetricEntry, TaskRunOutcome, TaskVariables } from '@sluice/task-runtime';
import type { WorkerRegistryClient } from './registry-client.js';

/** Something that happened to a job, for observability (metrics, debug logs). */
export type WorkerJobEvent =
  | { readonly type: 'taken'; readonly job: TaskJob; readonly deliveryCount: number }
  | { readonly type: 'ended'; readonly job: TaskJob; readonly state: TaskRunEndState; readonly durationMs: number }
  /** The worker stopped before the job finished: it was aborted and left to the queue for another worker. */
  | { readonly type: 'handed-back'; readonly job: TaskJob }
  /** Another delivery of the same attempt holds its lease: this one waits for it (emitted once per job). */
  | { readonly type: 'lease-waiting'; readonly job: TaskJob; readonly holder: string }
  /** Another delivery of the same attempt already ran it to its end: this one did not run it, and published nothing. */
  | { readonly type: 'duplicate'; readonly job: TaskJob; readonly holder: string }
  /** The attempt's lease was taken by another delivery while this one ran it: the task was stopped, nothing published. */
  | { readonly type: 'lease-lost'; readonly job: TaskJob };

export interface WorkerOptions {
  readonly queue: QueueDriver;
  /** The worker group to serve (a group key such as `default` or `gpu`), or `ALL_WORKER_GROUPS` (`*`: every group, in-process driver only). */
  readonly group: string;
  /** Jobs run at the same time. Default 4. */
  readonly concurrency?: number;
  /** Unique among live workers. Default `<hostname>-<pid>-<4 hex digits>`. */
  readonly workerId?: string;
  readonly storage: Storage;
  readonly registries: PluginRegistries;
  /** The worker's settings per runner type (socket path, network mode...), as `runTask`'s `runners.options`. */
  readonly runnerOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The worker's environment, for `secret()` (`SECRET_X` base64, `SLUICE_SECRET_X` plain). */
  readonly secrets: Readonly<Record<string, string | undefined>>;
  /** Where task working directories are created (created at start if missing). Default the OS temporary directory. */
  readonly workRoot?: string;
  /** The API's registry of live workers: heartbeats while running, deregistration on stop. */
  readonly registry?: WorkerRegistryClient;
  /**
   * The execution store, for the tasks that act on executions (`log.Fetch`, `execution.Resume`): the API's internal
   * routes for a remote worker, the database itself in `sluice server local`. Absent: those tasks fail, saying so.
   */
  readonly executions?: ExecutionsAccess;
  /**
   * The KV store, for `kv()` and the `kv.*`/`state.*` tasks: the API's internal routes for a remote worker, the
   * database itself in `sluice server local`. Absent: those fail with `SLU_KV_UNAVAILABLE`.
   */
  readonly kv?: KvAccess;
  /** Default 3000. */
  readonly heartbeatIntervalMs?: number;
  /** Longest a log line waits before it is sent. Default 100. */
  readonly logFlushMs?: number;
  /** Lines that trigger a send at once. Default 500. */
  readonly logBatchSize?: number;
  /**
   * How long after a task starts its 'started' result is sent. A task that ends sooner reports its start with its
   * end, which saves the scheduler one locked transaction per short task. Default 50; 0 sends it at once.
   */
  readonly startReportDelayMs?: number;
  /** How long a killed or timed-out task may take to stop before its outcome is reported anyway (runTask's default: 60 s). */
  readonly abortGracePeriodMs?: number;
  /**
   * TTL of a task run attempt's lease (see the top of this file); renewed every third of it. A delivery of an attempt
   * whose holder died waits this long at most. Default 15 s: after a Redis restart, the holder's next renewal (at most
   * 5 s later) takes the lease again, well before the scheduler's reconciliation (15 s) sends the job again.
   */
  readonly leaseTtlMs?: number;
  /** Problems that do not stop the worker (a publish that failed, a missed heartbeat). Default: printed on stderr. */
  readonly onError?: (error: unknown, context: string) => void;
  readonly onJob?: (event: WorkerJobEvent) => void;
}

export interface Worker {
  readonly id: string;
  /** Register with the API (when a registry is given), subscribe to kills and start taking jobs. */
  start(): Promise<void>;
  /**
   * Stop taking jobs and let those in flight finish, for at most `graceMs` (default 30 s); jobs still running then are
   * aborted and handed back to the queue without a result. Then unsubscribe from kills and deregister.
   */
  stop(options?: { readonly graceMs?: number }): Promise<void>;
  /** Jobs in flight. */
  readonly running: number;
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_HEARTBEAT_MS = 3000;
const DEFAULT_LOG_FLUSH_MS = 100;
const DEFAULT_LOG_BATCH_SIZE = 500;
const DEFAULT_START_REPORT_DELAY_MS = 50;
const DEFAULT_STOP_GRACE_MS = 30_000;
const DEFAULT_LEASE_TTL_MS = 15_000;
/** Attempts per publish, and the first backoff (doubled after each failure). */
const PUBLISH_ATTEMPTS = 4;
const PUBLISH_BACKOFF_MS = 100;
/**
 * Heartbeat failures (the API answering 503 while its database is down, or unreachable) are transient: the next
 * heartbeat retries. They are reported at most this often, so an outage prints a line every 30 s, not every 3.
 */
const HEARTBEAT_REPORT_INTERVAL_MS = 30_000;
/** After a hand back, how long to wait for the aborted tasks to stop their processes before returning. */
const HAND_BACK_CLEANUP_MS = 5000;
/** How long a forced consumer close may take before stop() goes on without it. */
const FORCE_CLOSE_TIMEOUT_MS = 5000;

const KILLED_BEFORE_START = {
  code: 'SLU_TASK_KILLED',
  message: 'the execution was killed before this task started',
  details: {},
} as const;

/** The job handler's rejection for a job handed back at stop: the queue must deliver it again. */
class HandedBackError extends Error {
  constructor(job: TaskJob) {
    super(`task run ${job.taskRunId} was handed back: the worker stopped before it finished`);
    this.name = 'HandedBackError';
  }
}

/** `<hostname>-<pid>-<4 hex digits>`: unique among live workers. */
export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when `promise` settles within `ms`, false otherwise (never rejects). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true as const,
        () => true as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`createWorker: ${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Log lines of one job, sent in batches. Sends are chained so batches leave in order; a send never rejects (the
 * sender retries and reports).
 */
class LogBuffer {
  readonly #head: Omit<LogBatch, 'entries'>;
  readonly #batchSize: number;
  readonly #flushMs: number;
  readonly #send: (batch: LogBatch) => Promise<unknown>;
  #entries: WireLogEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #dropped = false;

  constructor(head: Omit<LogBatch, 'entries'>, batchSize: number, flushMs: number, send: (batch: LogBatch) => Promise<unknown>) {
    this.#head = head;
    this.#batchSize = batchSize;
    this.#flushMs = flushMs;
    this.#send = send;
  }

  add(entry: WireLogEntry): void {
    if (this.#dropped) return;
    this.#entries.push(entry);
    if (this.#entries.length >= this.#batchSize) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#flushMs);
  }

  /** Send what is buffered; resolves when every batch so far has been sent (or given up on). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#entries.length > 0 && !this.#dropped) {
      const batch: LogBatch = { ...this.#head, entries: this.#entries };
      this.#entries = [];
      this.#chain = this.#chain.then(() => this.#send(batch)).then(
        () => undefined,
        () => undefined,
      );
    }
    return this.#chain;
  }

  /**
   * What is buffered, taken out instead of sent: the job's last lines, which travel with its end result. Resolves
   * once the batches sent before have been, so the lines keep their order.
   */
  async take(): Promise<WireLogEntry[]> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#chain;
    const entries = this.#dropped ? [] : this.#entries;
    this.#entries = [];
    return entries;
  }

  /** Forget what is buffered and ignore later lines (a handed-back job). */
  drop(): void {
    this.#dropped = true;
    this.#entries = [];
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** What taking a task run attempt's lease came to (see acquireLease). */
type LeaseAnswer = 'acquired' | 'finished' | 'stopped';

/** One job in flight. */
interface ActiveJob {
  readonly job: TaskJob;
  readonly controller: AbortController;
  readonly logs: LogBuffer;
  /** Set at stop when the grace period ran out: publish nothing more. */
  handedBack: boolean;
  /** Results of this job, published in order. */
  results: Promise<void>;
  /** This delivery's name as a lease holder: `<workerId>/<random>` (two deliveries on one worker differ). */
  readonly holder: string;
  /** none: not (yet) taken; held: taken and renewed; lost: another delivery took it (publish nothing). */
  lease: 'none' | 'held' | 'lost';
  renewTimer?: NodeJS.Timeout;
  /** Ends a wait for the lease at once (hand back). */
  wake?: () => void;
  /** Whether the execution was killed, as the lease's acquisition said (asked in the same round trip). */
  killedAtLease?: boolean;
}

export function createWorker(options: WorkerOptions): Worker {
  const { queue, group, registry } = options;
  if (group.trim() === '') throw new Error('createWorker: group must not be empty');
  const id = options.workerId ?? defaultWorkerId();
  // A lease holder is this worker's id, a nonce drawn once per process and a count: two handles of one attempt, in
  // this process or across a restart under the same id, never share a holder, and no random draw is made per task
  // (one `randomBytes` a task was 2.5 % of the worker's time under load, issue #20).
  const holderPrefix = `${id}/${randomBytes(6).toString('hex')}-`;
  let holders = 0;
  const concurrency = positiveInteger('concurrency', options.concurrency, DEFAULT_CONCURRENCY);
  const heartbeatMs = positiveInteger('heartbeatIntervalMs', options.heartbeatIntervalMs, DEFAULT_HEARTBEAT_MS);
  const logFlushMs = positiveInteger('logFlushMs', options.logFlushMs, DEFAULT_LOG_FLUSH_MS);
  const logBatchSize = positiveInteger('logBatchSize', options.logBatchSize, DEFAULT_LOG_BATCH_SIZE);
  const leaseTtlMs = positiveInteger('leaseTtlMs', options.leaseTtlMs, DEFAULT_LEASE_TTL_MS);
  const startReportDelayMs = options.startReportDelayMs ?? DEFAULT_START_REPORT_DELAY_MS;
  if (!Number.isInteger(startReportDelayMs) || startReportDelayMs < 0) {
    throw new Error(`createWorker: startReportDelayMs must be an integer >= 0, got ${startReportDelayMs}`);
  }

  const active = new Set<ActiveJob>();
  const handlers = new Set<Promise<void>>();
  // Tasks' working directories: one a task leaves empty is kept for a later task, not removed and made again.
  const workingDirectories = createWorkingDirectoryPool(options.workRoot !== undefined ? { root: options.workRoot } : {});
  let consumer: Consumer | undefined;
  let unsubscribeKills: Unsubscribe | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let started = false;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let heartbeatsOff = false;

  const report = (error: unknown, context: string): void => {
    try {
      if (options.onError) options.onError(error, context);
      else console.error(`worker ${id}: ${context}: ${message(error)}`);
    } catch {
      // An observer that throws must not break the worker.
    }
  };
  const emit = (event: WorkerJobEvent): void => {
    try {
      options.onJob?.(event);
    } catch (error) {
      report(error, 'onJob observer failed');
    }
  };

  /**
   * The job of the follow-on task (TaskJob.next) of a top-level run that ended with `outputs` at `endedAt`: its
   * variables are the scheduler's for that run (variables.ts): this run's outputs added under its task id (merged
   * into what earlier runs of the task left), the execution RUNNING, and its own `taskrun`, CREATED at `endedAt`.
   */
  function followOnJob(job: TaskJob, outputs: Readonly<Record<string, unknown>>, endedAt: string): TaskJob | undefined {
    const [task, ...rest] = job.next ?? [];
    if (!task || job.parentTaskRunId !== undefined) return undefined;
    const taskRunId = followOnRunId(job.taskRunId, job.attempt);
    const earlier = isRecord(job.variables.outputs) ? job.variables.outputs : {};
    const previous = earlier[job.taskId];
    const merged = Object.keys(outputs).length > 0 ? { ...earlier, [job.taskId]: mergeRecords(isRecord(previous) ? { ...previous } : {}, outputs) } : earlier;
    const execution = job.variables.execution;
    return {
      executionId: job.executionId,
      namespace: job.namespace,
      flowId: job.flowId,
      flowRevision: job.flowRevision,
      taskRunId,
      taskId: task.id,
      attempt: 1,
      task,
      workerGroup: job.workerGroup,
      variables: {
        ...job.variables,
        outputs: merged,
        ...(isRecord(execution) ? { execution: { ...execution, state: 'RUNNING' } } : {}),
        taskrun: { id: taskRunId, startDate: endedAt },
      },
      ...(job.masked ? { masked: job.masked } : {}),
      queuedAt: endedAt,
      ...(rest.length > 0 ? { next: rest } : {}),
      after: job.taskRunId,
    };
  }

  /** Queue a follow-on job (see followOnJob); false when the queue failed each time. */
  function queueFollowOn(followOn: TaskJob): Promise<boolean> {
    return withRetry(`queuing follow-on task ${followOn.taskId} (task run ${followOn.taskRunId}) of execution ${followOn.executionId}`, () =>
      queue.enqueueTask(followOn.workerGroup, followOn, { dedupId: `${followOn.taskRunId}-${followOn.attempt}` }),
    );
  }

  /** Run `action` until it succeeds, at most PUBLISH_ATTEMPTS times. Resolves false when it never did. */
  async function withRetry(context: string, action: () => Promise<void>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await action();
        return true;
      } catch (error) {
        const last = attempt >= PUBLISH_ATTEMPTS;
        report(error, `${context} failed (attempt ${attempt} of ${PUBLISH_ATTEMPTS}${last ? ', giving up' : ', retrying'})`);
        if (last) return false;
        await delay(PUBLISH_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
  }

  function publishResult(entry: ActiveJob, result: ResultMessage): Promise<boolean> {
    if (entry.handedBack) return Promise.resolve(false);
    // The execution as the job's step left it goes back with each result (see TaskJob.known).
    const message: ResultMessage = entry.job.known === undefined ? result : { ...result, known: entry.job.known };
    return withRetry(`publishing the ${result.type} result of task run ${result.taskRunId}`, () => queue.publishResult(message));
  }

  /** Publish after the job's earlier results (keeps child-started → ended order). */
  function enqueueResult(entry: ActiveJob, produce: () => Promise<ResultMessage | undefined>): void {
    entry.results = entry.results.then(async () => {
      const result = await produce();
      if (result) await publishResult(entry, result);
    });
  }

  function onKill(executionId: string): void {
    for (const entry of active) {
      if (entry.job.executionId !== executionId || entry.controller.signal.aborted) continue;
      entry.controller.abort(new SluiceError('SLU_TASK_KILLED', { taskId: entry.job.taskId, reason: '' }));
    }
  }

  function endedMessage(job: TaskJob, outcome: TaskRunOutcome, metrics: readonly WireMetric[] | undefined): ResultMessage {
    return {
      type: 'ended',
      executionId: job.executionId,
      taskRunId: outcome.taskRunId,
      taskId: outcome.taskId,
      ...(outcome.parentTaskRunId !== undefined ? { parentTaskRunId: outcome.parentTaskRunId } : {}),
      attempt: outcome.attempt,
      workerId: id,
      state: outcome.state,
      outputs: outcome.outputs,
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(metrics && metrics.length > 0 ? { metrics } : {}),
      startedAt: outcome.startedAt,
      endedAt: outcome.endedAt,
      ...(job.after !== undefined && outcome.taskRunId === job.taskRunId ? { after: job.after } : {}),
    };
  }

  /**
   * Take the attempt's lease for this delivery: 'acquired' (renewed from then on), 'finished' (another delivery ran
   * the attempt to its end), or 'stopped' (handed back while waiting). While another delivery holds it, asks again
   * every third of the TTL, or when that holder's lease is due to expire, whichever comes first. A queue that does not
   * answer is asked again too: the task never starts without the lease. `once`: asks one time only, and answers 'busy'
   * where it would wait or ask again (another delivery holds it, the queue did not answer), saying nothing of it.
   */
  async function acquireLease(entry: ActiveJob, once = false): Promise<LeaseAnswer | 'busy'> {
    const { job } = entry;
    let waiting = false;
    let failures = 0;
    for (;;) {
      if (entry.handedBack) return 'stopped';
      let pause = Math.ceil(leaseTtlMs / 3);
      try {
        const answer = await queue.acquireTaskLease(job.taskRunId, job.attempt, entry.holder, leaseTtlMs, { killedExecutionId: job.executionId });
        failures = 0;
        if (answer.acquired) {
          entry.killedAtLease = answer.killed;
          if (entry.handedBack) {
            await queue.releaseTaskLease(job.taskRunId, job.attempt, entry.holder, false).catch(() => undefined);
            return 'stopped';
          }
          entry.lease = 'held';
          entry.renewTimer = setInterval(() => void renewLease(entry), Math.max(1, Math.floor(leaseTtlMs / 3)));
          return 'acquired';
        }
        if (answer.finished) {
          emit({ type: 'duplicate', job, holder: answer.holder });
          return 'finished';
        }
        if (once) return 'busy';
        if (!waiting) {
          waiting = true;
          emit({ type: 'lease-waiting', job, holder: answer.holder });
          report(
            new Error(`another delivery (${answer.holder}) holds the lease of task run ${job.taskRunId} attempt ${job.attempt}: waiting until it is released or expires`),
            `task run ${job.taskRunId}`,
          );
        }
        pause = Math.min(pause, Math.max(50, answer.expiresInMs + 10));
      } catch (error) {
        if (once) return 'busy';
        failures++;
        if (failures === 1 || failures % 20 === 0) report(error, `taking the lease of task run ${job.taskRunId} (retrying)`);
        pause = Math.min(pause, 100 * 2 ** Math.min(failures, 5));
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pause);
        function done(): void {
          clearTimeout(timer);
          entry.wake = undefined;
          resolve();
        }
        entry.wake = done;
      });
    }
  }

  /** Renew the lease; when another delivery took it, stop the task and publish nothing more for it. */
  async function renewLease(entry: ActiveJob): Promise<void> {
    const { job } = entry;
    if (entry.lease !== 'held') return;
    let kept: boolean;
    try {
      kept = await queue.renewTaskLease(job.taskRunId, job.attempt, entry.holder, leaseTtlMs);
    } catch (error) {
      // The queue is away: nobody else can take the lease meanwhile, and the next renewal takes it again if it vanished.
      report(error, `renewing the lease of task run ${job.taskRunId}`);
      return;
    }
    if (kept || entry.lease !== 'held') return;
    entry.lease = 'lost';
    stopRenewing(entry);
    entry.handedBack = true;
    entry.logs.drop();
    report(new Error(`task run ${job.taskRunId} attempt ${job.attempt}: another delivery took its lease: stopping this run, publishing nothing`), `task run ${job.taskRunId}`);
    emit({ type: 'lease-lost', job });
    if (!entry.controller.signal.aborted) {
      entry.controller.abort(new SluiceError('SLU_TASK_KILLED', { taskId: job.taskId, reason: ': another delivery of this attempt took its lease' }));
    }
  }

  function stopRenewing(entry: ActiveJob): void {
    if (entry.renewTimer) clearInterval(entry.renewTimer);
    entry.renewTimer = undefined;
  }

  /** At the job's end: release the lease it holds, as finished once its `ended` result is out. Never rejects. */
  async function releaseLease(entry: ActiveJob, finished: boolean): Promise<void> {
    stopRenewing(entry);
    if (entry.lease !== 'held') return;
    entry.lease = 'none';
    await queue.releaseTaskLease(entry.job.taskRunId, entry.job.attempt, entry.holder, finished).catch((error: unknown) => {
      // It expires by itself; a finished one not marked so lets a late duplicate delivery run the attempt again.
      report(error, `releasing the lease of task run ${entry.job.taskRunId}`);
    });
  }

  async function runJob(entry: ActiveJob, delivery: TaskDelivery): Promise<void> {
    let removal: Promise<void> | undefined;
    let published = false;
    try {
      published = await runAndReport(entry, delivery, (promise) => {
        // Two when a preparation was given up (see runAndReport): both are waited for.
        removal = removal ? Promise.all([removal, promise]).then(() => undefined) : promise;
      });
    } finally {
      // After the task's processes have stopped (runTask returned): the attempt may run elsewhere from now on.
      await releaseLease(entry, published);
      // The task's working directory is removed (or kept for a later task when left empty) once its result is out
      // (runTask's onCleanup); the WARN line of a removal that failed leaves in a batch of its own.
      if (removal) {
        await removal;
        await entry.logs.flush();
      }
    }
  }

  /**
   * Run the job and report it; resolves true once its `ended` result is published, false when it published none.
   *
   * The lease's first ask overlaps the task's preparation (its context, working directory, command): the task's code
   * waits for it (runTask's `startGate`), so it never starts without the lease. When the ask does not take the lease
   * (another delivery of the attempt holds it, or the queue did not answer), that preparation is given up unseen (no
   * line logged, nothing published, its working directory removed) and the job waits for the lease as before, then
   * prepares the task again: a wait for another delivery never counts toward the task's timeout.
   */
  async function runAndReport(entry: ActiveJob, delivery: TaskDelivery, onCleanup: (removal: Promise<void>) => void): Promise<boolean> {
    const { job } = entry;
    const began = Date.now();
    emit({ type: 'taken', job, deliveryCount: delivery.deliveryCount });

    const overlapped = await runLeased(entry, acquireLease(entry, true), onCleanup, began);
    if (overlapped !== 'busy') return overlapped;
    const lease = await acquireLease(entry);
    if (lease === 'stopped') throw new HandedBackError(job);
    // Another delivery of this attempt ran it to its end and published its result: this one completes silently.
    if (lease === 'finished') return false;
    const run = await runLeased(entry, Promise.resolve(lease), onCleanup, began);
    if (run === 'busy') throw new Error(`task run ${job.taskRunId}: its lease was taken, yet its run was given up`);
    return run;
  }

  /**
   * Run the job once `lease` answers 'acquired' (see runAndReport); given up when it answers otherwise: 'busy' then
   * (wait for the lease), false (another delivery finished the attempt), or HandedBackError (stopped meanwhile).
   */
  async function runLeased(
    entry: ActiveJob,
    lease: Promise<LeaseAnswer | 'busy'>,
    onCleanup: (removal: Promise<void>) => void,
    began: number,
  ): Promise<boolean | 'busy'> {
    const { job } = entry;
    // What the lease answered when it was not taken: the preparation is then given up.
    let notTaken: Exclude<LeaseAnswer, 'acquired'> | 'busy' | undefined;
    // Set when the lease is taken: the task may start from then on.
    let startedAt = '';

    // The kill check runs while runTask prepares the task, which holds the task's code until it is done (startGate).
    // Never rejects. Unknown (the queue did not answer): run it; a kill broadcast still reaches it.
    let refused = false;
    // Lines logged before the answer are runTask's, not the task's (it has not started): the KILLED a kill broadcast
    // ends it with, a setup failure. They wait for the answer, so that a refused job logs nothing, as before.
    let held: WireLogEntry[] | undefined = [];
    const checked = (async () => {
      const answer = await lease;
      if (answer !== 'acquired') {
        notTaken = answer;
        held = undefined;
        return;
      }
      startedAt = new Date().toISOString();
      // The lease's acquisition answered it (one round trip for both); a driver that did not is asked.
      let killed = entry.killedAtLease ?? false;
      const answered =
        entry.killedAtLease !== undefined ||
        (await withRetry(`checking whether execution ${job.executionId} was killed`, async () => {
          killed = await queue.isKilled(job.executionId);
        }));
      if (!answered || !killed) {
        for (const line of held ?? []) entry.logs.add(line);
        held = undefined;
        return;
      }
      refused = true;
      // Before the gate opens: runTask then sees an aborted signal and does not start the task.
      if (!entry.controller.signal.aborted) {
        entry.controller.abort(new SluiceError('SLU_TASK_KILLED', { taskId: job.taskId, reason: `: ${KILLED_BEFORE_START.message}` }));
      }
    })();
    // The task's code waits for the lease and the kill check; a lease not taken keeps it from starting (FAILED, unseen).
    const gate = checked.then(() => {
      if (notTaken !== undefined) throw new Error(`task run ${job.taskRunId}: the lease of attempt ${job.attempt} was not taken`);
    });

    // The start is reported after startReportDelayMs, or before anything else this job reports, or with the end.
    let startReported = false;
    let startTimer: NodeJS.Timeout | undefined;
    const reportStart = (): void => {
      if (startReported) return;
      startReported = true;
      clearTimeout(startTimer);
      enqueueResult(entry, () =>
        Promise.resolve<ResultMessage>({
          type: 'started',
          executionId: job.executionId,
          taskRunId: job.taskRunId,
          taskId: job.taskId,
          attempt: job.attempt,
          workerId: id,
          startedAt,
          ...(job.after !== undefined ? { after: job.after } : {}),
        }),
      );
    };
    // The task starts when the kill check lets it (startGate), so the delay counts from then; a job the check
    // refuses never reports its start. Registered before runTask waits for the check: armed before the task starts.
    void checked.then(() => {
      if (refused || notTaken !== undefined) return;
      if (startReportDelayMs === 0) reportStart();
      else startTimer = setTimeout(reportStart, startReportDelayMs);
    });

    const metrics = new Map<string, WireMetric[]>();
    const takeMetrics = (taskRunId: string): WireMetric[] | undefined => {
      const found = metrics.get(taskRunId);
      metrics.delete(taskRunId);
      return found;
    };
    const log = (entryLog: Omit<WireLogEntry, 'attempt'>): void => {
      // A refused job never ran: the KILLED line runTask logs as it refuses to start it is not the task's. Neither did
      // a preparation given up (its FAILED line says the lease was not taken).
      if (refused || notTaken !== undefined) return;
      if (held) held.push({ ...entryLog, attempt: job.attempt });
      else entry.logs.add({ ...entryLog, attempt: job.attempt });
    };

    let definition: TaskDefinition | undefined;
    let unknownType: SluiceError | undefined;
    try {
      definition = options.registries.tasks.get(job.task.type);
    } catch (error) {
      // An unknown type (a newer flow on an older worker, a plugin this worker lacks) is the task's failure.
      unknownType =
        error instanceof SluiceError ? error : new SluiceError('SLU_TASK_FAILED', { taskId: job.taskId, reason: message(error) }, {}, { cause: error });
    }
    let outcome: TaskRunOutcome | undefined;
    if (definition) {
      outcome = await runTask({
        definition,
        task: job.task,
        taskRunId: job.taskRunId,
        ...(job.parentTaskRunId ? { parentTaskRunId: job.parentTaskRunId } : {}),
        attempt: job.attempt,
        execution: { id: job.executionId, namespace: job.namespace, flowId: job.flowId, flowRevision: job.flowRevision },
        variables: job.variables as TaskVariables,
        ...(job.masked && job.masked.length > 0 ? { masked: job.masked } : {}),
        storage: options.storage,
        runners: { registry: options.registries.runners, ...(options.runnerOptions ? { options: options.runnerOptions } : {}) },
        tasks: options.registries.tasks,
        secrets: options.secrets,
        ...(options.executions ? { executions: options.executions } : {}),
        ...(options.kv ? { kv: options.kv } : {}),
        workingDirectories,
        ...(options.abortGracePeriodMs !== undefined ? { abortGracePeriodMs: options.abortGracePeriodMs } : {}),
        signal: entry.controller.signal,
        startGate: gate,
        onCleanup,
        onLog: log,
        onChildStart: (child) => {
          reportStart();
          enqueueResult(entry, () =>
            Promise.resolve<ResultMessage>({
              type: 'child-started',
              executionId: job.executionId,
              taskRunId: child.taskRunId,
              taskId: child.taskId,
              parentTaskRunId: child.parentTaskRunId,
              attempt: child.attempt,
              workerId: id,
              startedAt: child.startedAt,
            }),
          );
        },
        onChildEnd: (child) => {
          reportStart();
          const childMetrics = takeMetrics(child.taskRunId);
          enqueueResult(entry, async () => {
            await entry.logs.flush();
            return endedMessage(job, child, childMetrics);
          });
        },
        onMetric: (metric: TaskMetricEntry) => {
          const list = metrics.get(metric.taskRunId) ?? [];
          list.push({
            name: metric.name,
            type: metric.type,
            value: metric.value,
            ...(metric.tags ? { tags: metric.tags } : {}),
            taskRunId: metric.taskRunId,
            taskId: metric.taskId,
            timestamp: metric.timestamp,
          });
          metrics.set(metric.taskRunId, list);
        },
      });
    }
    // Settled already when runTask waited for it; not when the run ended before (a disabled task, a setup failure) or
    // there is no definition: a killed execution still takes precedence then, as it did when checked first.
    await checked;
    // The lease was not taken: nothing of this run is seen; its working directory goes back (onCleanup).
    if (notTaken === 'stopped') throw new HandedBackError(job);
    if (notTaken === 'finished') return false;
    if (notTaken === 'busy') return 'busy';
    if (refused) {
      await entry.results;
      if (entry.handedBack) throw new HandedBackError(job);
      const at = new Date().toISOString();
      const killed = { taskRunId: job.taskRunId, taskId: job.taskId, attempt: job.attempt, state: 'KILLED', outputs: {}, error: KILLED_BEFORE_START, startedAt: at, endedAt: at } as const;
      const ended = endedMessage(job, killed, undefined);
      if (!(await publishResult(entry, ended))) {
        if (entry.handedBack) throw new HandedBackError(job);
        throw new Error(`could not publish the result of task run ${job.taskRunId}`);
      }
      emit({ type: 'ended', job, state: 'KILLED', durationMs: Date.now() - began });
      return true;
    }
    if (!outcome) {
      const failure = unknownType ?? new SluiceError('SLU_TASK_FAILED', { taskId: job.taskId, reason: 'no task definition' });
      const at = new Date().toISOString();
      log({ taskRunId: job.taskRunId, taskId: job.taskId, level: 'ERROR', message: failure.message, timestamp: at });
      outcome = {
        taskRunId: job.taskRunId,
        taskId: job.taskId,
        attempt: job.attempt,
        state: 'FAILED',
        outputs: {},
        error: failure.toJSON(),
        startedAt,
        endedAt: at,
      };
    }

    // The job's earlier results, then its final result, which carries its last log lines.
    clearTimeout(startTimer);
    const reportsStart = !startReported;
    startReported = true;
    await entry.results;
    // The last lines go with the end result, so that they are stored with it (see ResultMessage 'ended').
    const lastLines = await entry.logs.take();
    if (entry.handedBack) throw new HandedBackError(job);
    const end = endedMessage(job, outcome, takeMetrics(job.taskRunId));
    // A SUCCESS or WARNING (the execution goes on after either) with a follow-on task queues it (see TaskJob.next);
    // this end names it.
    const goesOn = end.type === 'ended' && (end.state === 'SUCCESS' || end.state === 'WARNING');
    const followOn = goesOn && entry.lease === 'held' ? followOnJob(job, end.outputs, end.endedAt) : undefined;
    const ended: ResultMessage = {
      ...end,
      ...(reportsStart ? { reportsStart: true } : {}),
      ...(lastLines.length > 0 ? { logs: lastLines } : {}),
      ...(followOn ? { next: { taskRunId: followOn.taskRunId, taskId: followOn.taskId, createdAt: followOn.queuedAt } } : {}),
    };
    // The follow-on job goes out first, the end right behind it, neither waiting for the other's answer: the next task
    // of a chain is on its way while the end is still being written (the end, with its log lines, is the bigger
    // message). Its reports may be applied before that end (they come a spawn later at the soonest; another consumer
    // or replica may take them first, or the end may be sent again after a failure): they name the run they follow
    // (`after`), and the scheduler puts them back until that end is applied. Not queued (the queue failed each time):
    // the scheduler's reconciliation queues the CREATED run it stored.
    const queued = followOn && !entry.handedBack ? queueFollowOn(followOn) : undefined;
    const published = publishResult(entry, ended);
    const [sent] = await Promise.all([published, queued]);
    if (!sent) {
      if (entry.handedBack) throw new HandedBackError(job);
      throw new Error(`could not publish the result of task run ${job.taskRunId}: the queue will deliver the job again`);
    }
    emit({ type: 'ended', job, state: outcome.state, durationMs: Date.now() - began });
    return true;
  }

  function handle(job: TaskJob, delivery: TaskDelivery): Promise<void> {
    const entry: ActiveJob = {
      job,
      controller: new AbortController(),
      logs: new LogBuffer({ executionId: job.executionId, namespace: job.namespace, flowId: job.flowId }, logBatchSize, logFlushMs, (batch) =>
        entry.handedBack
          ? Promise.resolve(false)
          : withRetry(`publishing ${batch.entries.length} log lines of execution ${batch.executionId}`, () => queue.publishLogs(batch)),
      ),
      handedBack: false,
      results: Promise.resolve(),
      holder: `${holderPrefix}${(++holders).toString(36)}`,
      lease: 'none',
    };
    // Tracked before the killed check, so a kill broadcast arriving meanwhile still aborts it.
    active.add(entry);
    const running = runJob(entry, delivery).finally(() => {
      active.delete(entry);
      entry.logs.drop();
    });
    const settled = running.then(
      () => undefined,
      () => undefined,
    );
    handlers.add(settled);
    void settled.finally(() => handlers.delete(settled));
    return running.catch((error: unknown) => {
      // A job whose lease another delivery took completes silently: that delivery runs the attempt and reports it.
      if (error instanceof HandedBackError && entry.lease === 'lost') return;
      // A handed-back job is left to the queue: settling it would tell the queue it completed or failed. It stays
      // pending; the consumer is force-closed, so the queue sees a dead consumer and delivers the job again.
      if (error instanceof HandedBackError) return new Promise<never>(() => undefined);
      report(error, `task run ${job.taskRunId}`);
      throw error;
    });
  }

  async function sendHeartbeat(): Promise<void> {
    await registry?.heartbeat({ id, group, concurrency, running: active.size });
  }

  /** Failed heartbeats in a row, and when the last report of one was made. */
  let heartbeatFailures = 0;
  let heartbeatReportedAt: number | undefined;
  function heartbeatFailed(error: unknown): void {
    heartbeatFailures++;
    const now = Date.now();
    if (heartbeatReportedAt !== undefined && now - heartbeatReportedAt < HEARTBEAT_REPORT_INTERVAL_MS) return;
    heartbeatReportedAt = now;
    const failures = heartbeatFailures === 1 ? 'first failure' : `${heartbeatFailures} failures in a row`;
    report(error, `heartbeat to the Sluice API failed (transient, ${failures}: retrying every ${heartbeatMs} ms, reported at most every ${HEARTBEAT_REPORT_INTERVAL_MS / 1000} s)`);
  }

  function scheduleHeartbeat(): void {
    if (!registry || heartbeatsOff) return;
    heartbeatTimer = setTimeout(() => {
      void sendHeartbeat()
        .then(() => {
          // Back: the next outage is reported at once.
          heartbeatFailures = 0;
          heartbeatReportedAt = undefined;
        }, heartbeatFailed)
        .finally(scheduleHeartbeat);
    }, heartbeatMs);
    heartbeatTimer.unref();
  }

  async function start(): Promise<void> {
    if (started) throw new Error(`worker ${id} was already started`);
    started = true;
    if (registry) {
      try {
        await sendHeartbeat();
      } catch (error) {
        throw new Error(`worker ${id} could not register with the Sluice API: ${message(error)}. Check SLUICE_API_URL and SLUICE_WORKER_TOKEN`, {
          cause: error,
        });
      }
    }
    if (options.workRoot !== undefined) {
      try {
        await mkdir(options.workRoot, { recursive: true });
      } catch (error) {
        throw new Error(`worker ${id} cannot create its work root ${options.workRoot}: ${message(error)}`, { cause: error });
      }
    }
    unsubscribeKills = await queue.subscribeKills(onKill);
    if (stopping) {
      // stop() was called while starting: take no job.
      await unsubscribeKills().catch((error: unknown) => report(error, 'unsubscribing from kill broadcasts'));
      return;
    }
    consumer = queue.consumeTasks(group, { concurrency }, handle);
    scheduleHeartbeat();
  }

  async function handBack(): Promise<void> {
    const left = [...active];
    for (const entry of left) {
      entry.handedBack = true;
      entry.wake?.();
      entry.logs.drop();
      entry.controller.abort(new SluiceError('SLU_TASK_KILLED', { taskId: entry.job.taskId, reason: ': the worker stopped (handed back to the queue)' }));
    }
    if (consumer) {
      const forced = consumer.close({ force: true });
      forced.catch((error: unknown) => report(error, 'closing the task consumer (force)'));
      if (!(await settlesWithin(forced, FORCE_CLOSE_TIMEOUT_MS))) {
        // A driver that cannot escalate a pending graceful close to a forced one: the jobs come back to the queue
        // when this process exits (its locks are no longer renewed).
        report(new Error(`the task consumer did not close within ${FORCE_CLOSE_TIMEOUT_MS} ms of close({force: true})`), 'closing the task consumer (force)');
      }
    }
    for (const entry of left) emit({ type: 'handed-back', job: entry.job });
    // The aborted tasks stop their processes and containers; do not leave them behind when the process exits.
    await settlesWithin(Promise.all([...handlers]), HAND_BACK_CLEANUP_MS);
  }

  async function doStop(graceMs: number): Promise<void> {
    stopping = true;
    if (consumer) {
      const closing = consumer.close();
      const drained = await settlesWithin(closing, graceMs);
      closing.catch((error: unknown) => report(error, 'closing the task consumer'));
      if (!drained || active.size > 0) await handBack();
    }
    heartbeatsOff = true;
    if (heartbeatTimer) clearTimeout(heartbeatTimer);
    heartbeatTimer = undefined;
    if (unsubscribeKills) {
      await unsubscribeKills().catch((error: unknown) => report(error, 'unsubscribing from kill broadcasts'));
    }
    if (registry && started) {
      await registry.deregister(id).catch((error: unknown) => report(error, 'deregistering from the Sluice API'));
    }
    await workingDirectories.close().catch((error: unknown) => report(error, 'removing the kept working directories'));
  }

  return {
    id,
    start,
    stop(stopOptions = {}) {
      stopped ??= doStop(stopOptions.graceMs ?? DEFAULT_STOP_GRACE_MS);
      return stopped;
    },
    get running() {
      return active.size;
    },
  };
}

