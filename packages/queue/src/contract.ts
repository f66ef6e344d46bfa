/**
 * The queue contract (DESIGN.md §1): how the API, the scheduler and the workers talk. Two drivers implement it — the
 * BullMQ driver (Redis; every deployment beyond one process) and the in-process driver (`sluice server local`) — and
 * both pass one conformance suite (`@sluice/queue/testing`).
 *
 * Channels:
 * - `tasks.<group>`: task runs for the workers of one worker group. At-least-once: a consumer that dies mid-job
 *   (BullMQ stalled-job detection) has its job delivered again, never to two consumers at the same time.
 * - `results`: what workers report (a task run started, a WorkingDirectory child started, a task run ended).
 * - `logs`: batches of log lines from workers.
 * - `executions`: execution events for the scheduler (created, restarted, kill requested, resume, dequeued).
 * - kill broadcast: fire-and-forget to every worker (pub/sub); plus a durable "killed" mark so a job picked up
 *   after the broadcast is still refused.
 * - execution updates: fire-and-forget to every API instance (pub/sub), for `?wait=true` and live follow.
 *
 * A consumer handler that resolves acknowledges its message; one that rejects fails it, and the message is delivered
 * again up to `maxDeliveries` times (results, logs and execution events are idempotent on the consumer side). A
 * rejection the consumer calls transient (`ConsumeOptions.transient`: its database is unreachable) is not a failed
 * delivery: the message is handled again after a backoff, for as long as it takes, and is never dropped.
 *
 * Task leases (`acquireTaskLease`...) let the worker that runs a task run attempt fence off any other delivery of the
 * same attempt: at most one live run of an attempt, even when the queue delivers its job twice.
 *
 * Compatibility: every message here is JSON on Redis and may be read by a newer or older process during a rolling
 * upgrade: add optional fields, never rename or remove one.
 */
import { createHash } from 'node:crypto';
import type { LogLevel, TaskSpec } from '@sluice/core';
import { ID_ALPHABET, ID_LENGTH } from '@sluice/core';

/** Worker group used when a task has no `workerGroup`. */
export const DEFAULT_WORKER_GROUP = 'default';
/** In-process driver only: a task consumer that takes the tasks of every group (`sluice server local`). */
export const ALL_WORKER_GROUPS = '*';

/** One task run for a worker: everything it needs to run the task, and no secret. */
export interface TaskJob {
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly flowRevision: number;
  readonly taskRunId: string;
  readonly taskId: string;
  /** The flowable task run it runs under, if any (a ForEachItem's merge reads its siblings' children by it). */
  readonly parentTaskRunId?: string;
  /** 1-based attempt number. */
  readonly attempt: number;
  /** The task as written in the flow, pluginDefaults applied, expressions NOT rendered (the worker renders). */
  readonly task: TaskSpec;
  /** Worker group key the job was queued for. */
  readonly workerGroup: string;
  /** Template variables: `inputs`, `outputs` (earlier task runs' outputs by task id), `vars`, `flow`, `execution`, `labels`. */
  readonly variables: Readonly<Record<string, unknown>>;
  /** Values to mask (`******`) in the run's logs and outputs: the execution's SECRET inputs. */
  readonly masked?: readonly string[];
  /** When the scheduler queued it (ISO-8601). */
  readonly queuedAt: string;
  /**
   * The execution as the step that queued the job left it, when that step was taken by a process that does not take
   * the next (the API takes a new execution's first step): opaque here (`@sluice/db`'s `knownToWire`). The worker
   * returns it with the job's results, and the scheduler's step that applies them starts from it instead of reading
   * the execution.
   */
  readonly known?: unknown;
  /**
   * Follow-on tasks: the top-level tasks that come after this one in the flow's `tasks`, in order, each a task a
   * worker of this group runs (not flowable, not a Subflow, no `runIf`, enabled) that has no run yet, plugin defaults
   * applied. When this run ends SUCCESS or WARNING, the worker queues the first of them itself, under the id
   * `followOnRunId(taskRunId, attempt)`, with the rest as its own `next`, and says so in its `ended` result (`next`):
   * the next task starts without waiting for the scheduler's step. The scheduler stores that run when its decision
   * creates the same task, and refuses it otherwise (see the scheduler). At most 16 tasks, and 32 KiB of them after
   * the first (each follow-on job carries the rest of the list).
   */
  readonly next?: readonly TaskSpec[];
  /**
   * Set on a follow-on job (see `next`): the task run it follows. Its reports carry it (`after`): a scheduler that
   * has not applied the end of that run yet (the end whose step stores this run) puts them back in the queue for later
   * (`deferred`), and one that has, but did not store this run (it refused it), ignores them.
   */
  readonly after?: string;
}

/** A report of a follow-on run put back in the queue until the end that queued its run is applied (TaskJob.after). */
export interface DeferredReport {
  /** When it was first put back: one put back for longer than the scheduler waits is dropped (logged). */
  readonly since: string;
  /** How many times it was: each wait is longer (up to a second). */
  readonly count: number;
}

/**
 * The id of the run a worker queues for the follow-on task of a task run attempt that ended SUCCESS or WARNING
 * (TaskJob.next): derived from the attempt, so a second run of the same attempt queues the same job (the queue keeps
 * one).
 */
export function followOnRunId(taskRunId: string, attempt: number): string {
  const digest = createHash('sha256').update(`${taskRunId}\u0000${attempt}\u0000next`).digest();
  let id = '';
  for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET[(digest[i] as number) % ID_ALPHABET.length];
  return id;
}

/** A task run's state as a worker reports it at the end. */
export type TaskRunEndState = 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'SKIPPED';

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface WireMetric {
  readonly name: string;
  readonly type: string;
  readonly value: number;
  readonly tags?: Readonly<Record<string, string>>;
  readonly taskRunId: string;
  readonly taskId: string;
  readonly timestamp: string;
}

/** Worker → scheduler, on `results`. */
export type ResultMessage =
  | {
      readonly type: 'started';
      readonly executionId: string;
      /** The job's `known`, returned (see TaskJob.known). */
      readonly known?: unknown;
      readonly taskRunId: string;
      readonly taskId: string;
      readonly attempt: number;
      readonly workerId: string;
      readonly startedAt: string;
      /** The job's `after` (a follow-on run: see TaskJob.next). */
      readonly after?: string;
      /** Set by a scheduler that put this report back in the queue (see TaskJob.after). */
      readonly deferred?: DeferredReport;
    }
  | {
      /** A WorkingDirectory child is about to run (its task run is created by this message). */
      readonly type: 'child-started';
      readonly executionId: string;
      /** The job's `known`, returned (see TaskJob.known). */
      readonly known?: unknown;
      readonly taskRunId: string;
      readonly taskId: string;
      readonly parentTaskRunId: string;
      readonly attempt: number;
      readonly workerId: string;
      readonly startedAt: string;
    }
  | {
      /** A task run (top-level or child) ended. For a top-level one this is the last message of the job. */
      readonly type: 'ended';
      readonly executionId: string;
      /** The job's `known`, returned (see TaskJob.known). */
      readonly known?: unknown;
      readonly taskRunId: string;
      readonly taskId: string;
      readonly parentTaskRunId?: string;
      readonly attempt: number;
      readonly workerId: string;
      readonly state: TaskRunEndState;
      readonly outputs: Readonly<Record<string, unknown>>;
      readonly error?: WireError;
      readonly metrics?: readonly WireMetric[];
      readonly startedAt: string;
      readonly endedAt: string;
      /**
       * True when no 'started' was sent for this attempt: the task ended before the worker's start report was due
       * (`startReportDelayMs`), so this message reports its start (RUNNING at `startedAt`) too.
       */
      readonly reportsStart?: boolean;
      /**
       * The task run's last log lines, not sent on `logs`: the scheduler stores them in the transaction that records
       * the end, so an execution that has ended has them. Earlier lines went on `logs` as they came.
       */
      readonly logs?: readonly WireLogEntry[];
      /**
       * The worker queued the job of the follow-on task (TaskJob.next) under this run id, CREATED at `createdAt`
       * (the date its `taskrun.startDate` says): the scheduler stores that run rather than create one of its own.
       */
      readonly next?: { readonly taskRunId: string; readonly taskId: string; readonly createdAt: string };
      /** The job's `after` (a follow-on run: see TaskJob.next), on the end of the job's own run. */
      readonly after?: string;
      /** Set by a scheduler that put this report back in the queue (see TaskJob.after). */
      readonly deferred?: DeferredReport;
    };

export interface WireLogEntry {
  readonly taskRunId: string;
  readonly taskId: string;
  readonly attempt?: number;
  readonly level: LogLevel;
  /** Already masked by the worker. */
  readonly message: string;
  readonly timestamp: string;
}

/** Worker → scheduler, on `logs`: many lines of one execution in one message. */
export interface LogBatch {
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly entries: readonly WireLogEntry[];
}

/** API / scheduler → scheduler, on `executions`. */
export interface ExecutionMessage {
  /**
   * created: a new CREATED execution; restarted: FAILED → RESTARTED; kill: moved to KILLING; resume: re-evaluate
   * (a retry delay elapsed, a worker-group wait ended...); dequeued: a QUEUED execution may start (concurrency).
   */
  readonly type: 'created' | 'restarted' | 'kill' | 'resume' | 'dequeued';
  readonly executionId: string;
  readonly namespace?: string;
  readonly flowId?: string;
  /** `resume` only: a child it waits for (Subflow) ended, its result is stored: apply it. */
  readonly subflowResults?: boolean;
  /**
   * `created` only: the execution as the API stored it, so the scheduler's first step need not read it back. The
   * scheduler trusts it only while the stored version is still `version` (see `SchedulerStore.withExecution`).
   */
  readonly snapshot?: ExecutionSnapshot;
}

/** A new execution as stored (its task runs: none yet). */
export interface ExecutionSnapshot {
  readonly version: number;
  readonly flowRevision: number;
  readonly state: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly labels: readonly { readonly key: string; readonly value: string }[];
  readonly trigger: { readonly id: string; readonly type: string; readonly variables: Readonly<Record<string, unknown>> } | null;
  /** ISO-8601. */
  readonly startDate: string;
}

/** Scheduler → every API instance: an execution changed (state, task runs). */
export interface ExecutionUpdate {
  readonly executionId: string;
  readonly state: string;
  /** True when `state` is terminal. */
  readonly ended: boolean;
  /**
   * With `ended`: the execution as stored at its end, in JSON form (`@sluice/db`'s `executionToWire`), so an API
   * answering `?wait=true` need not read it back. Absent when it was too big to send.
   */
  readonly execution?: Readonly<Record<string, unknown>>;
  /**
   * The same execution already as JSON text (`@sluice/db`'s `executionWireJson`), given by the publisher instead of
   * `execution`: the driver sends it as the message's `execution` without parsing it. Subscribers never see this
   * field, only `execution`.
   */
  readonly executionJson?: string;
  /** The scheduler that made the change: the others drop their copy of the execution (it is stale now). */
  readonly scheduler?: string;
}

/** API → every API instance: a flow changed (saved, deleted). */
export interface FlowChange {
  readonly namespace: string;
  readonly flowId: string;
}

export interface EnqueueOptions {
  /** Deliver no sooner than this many ms from now (retry backoff). */
  readonly delayMs?: number;
  /**
   * Idempotency key: while a message with this id is known to the queue (waiting, delayed, active, or completed
   * within the retention window), adding another with the same id does nothing.
   */
  readonly dedupId?: string;
  /**
   * With `dedupId`: a message with this id that has finished (completed, or failed for good) no longer blocks this
   * one: it is forgotten and this one is added. One still waiting, delayed or active does (nothing is added). For a
   * reconciliation that sends again what the queue lost: a legitimate re-send is not blocked for the retention window.
   */
  readonly replaceFinished?: boolean;
}

/** Where a consumer stands while its handler fails transiently (see {@link ConsumeOptions.transient}). */
export interface TransientStatus {
  /** The reason `transient` gave for the last failure ("database unreachable: connection refused"). */
  readonly reason: string;
  /** Messages of the channel not handled yet: waiting, delayed and active (those being retried included). */
  readonly waiting: number;
  /** When the first transient failure of this outage happened. */
  readonly since: Date;
  /** True on the call that ends an outage: a message that had failed transiently was handled. */
  readonly recovered: boolean;
}

export interface ConsumeOptions {
  /** Messages handled at the same time by this consumer. Default 1. */
  readonly concurrency?: number;
  /**
   * Whether a handler's rejection is transient: a short reason (`database unreachable: connection refused`) when a
   * dependency is away and a later try will succeed, undefined for any other failure (a bug, a bad message), which
   * counts as a failed delivery as usual. A message that fails transiently keeps its slot and is handled again after
   * a backoff shared by the consumer (doubling from {@link TRANSIENT_BACKOFF_MIN_MS} up to
   * {@link TRANSIENT_BACKOFF_MAX_MS}), without limit of time: it is never dropped for it. A consumer closed meanwhile
   * leaves the message in the queue (BullMQ: delayed) for the next one.
   */
  readonly transient?: (error: unknown) => string | undefined;
  /**
   * Told about an outage: at the first transient failure, then at most every {@link TRANSIENT_REPORT_EVERY_MS} while
   * it lasts, and once when it ends (`recovered`). Default: the driver's `onError`.
   */
  readonly onTransient?: (status: TransientStatus) => void;
}

/** First pause before a transiently failed message is handled again; doubled after each transient failure. */
export const TRANSIENT_BACKOFF_MIN_MS = 100;
/** Longest pause between two tries of a transiently failed message. */
export const TRANSIENT_BACKOFF_MAX_MS = 5000;
/** A consumer reports an outage at most this often. */
export const TRANSIENT_REPORT_EVERY_MS = 10_000;

/** The answer to {@link QueueDriver.acquireTaskLease}. */
export type TaskLeaseAnswer =
  | {
      readonly acquired: true;
      /** Asked for with `killedExecutionId`: whether that execution was killed ({@link QueueDriver.isKilled}). */
      readonly killed?: boolean;
    }
  | {
      readonly acquired: false;
      /** Who holds it (the holder given to acquire), or who finished the attempt. */
      readonly holder: string;
      /** The holder released it as finished: the attempt has run to its end (its result is published). */
      readonly finished: boolean;
      /** When the holder's lease expires unless renewed (ms from now). */
      readonly expiresInMs: number;
    };

/** How long a finished attempt's lease stays known (a later delivery of the attempt is then not run). */
export const FINISHED_LEASE_SECONDS = 3600;

/** What a task handler receives besides the job. */
export interface TaskDelivery {
  /** 1 on first delivery; more when a consumer died mid-job and the job came back (stalled). */
  readonly deliveryCount: number;
}

export interface Consumer {
  /** Stop taking messages; resolves when the handlers in flight have finished (or `force`: at once). */
  close(options?: { readonly force?: boolean }): Promise<void>;
}

export type Unsubscribe = () => Promise<void>;

/** Whether the queue's server is reachable now (see {@link QueueDriver.health}). */
export interface QueueHealth {
  readonly status: 'UP' | 'DOWN';
  /** Why it is DOWN: the connection's last error (`connect ECONNREFUSED 127.0.0.1:6379`), or its state. */
  readonly error?: string;
}

export interface QueueDriver {
  /** `bullmq` or `in-process`. */
  readonly kind: string;

  /**
   * Whether the queue can take messages now, without a round trip: BullMQ says DOWN while its connection to Redis is
   * not ready (Redis down, restarting, unreachable; its commands then wait for it to come back); the in-process
   * driver is UP until closed. A caller that must not wait for Redis (the API) checks it before it publishes.
   */
  health(): QueueHealth;

  enqueueTask(group: string, job: TaskJob, options?: EnqueueOptions): Promise<void>;
  /**
   * Consume one group's task queue (or every group with {@link ALL_WORKER_GROUPS}, in-process only). The handler's
   * promise holds the job: BullMQ keeps its lock renewed until it settles.
   */
  consumeTasks(group: string, options: ConsumeOptions, handler: (job: TaskJob, delivery: TaskDelivery) => Promise<void>): Consumer;
  /** Number of task jobs waiting or delayed (not yet taken) in a group's queue. */
  pendingTasks(group: string): Promise<number>;
  /**
   * Whether a task job enqueued with `dedupId` is in the group's queue and not finished: waiting, delayed or active
   * (taken by a consumer that is alive or not yet known dead). False once it completed or failed, and for an id the
   * queue never had or lost (Redis restarted without persistence).
   */
  hasTask(group: string, dedupId: string): Promise<boolean>;

  /**
   * Take the lease of a task run attempt for `holder` (unique per delivery), for `ttlMs`. Acquired when nobody holds
   * it, or `holder` already does (then extended); otherwise says who holds it, for how long, or that the attempt has
   * finished. A worker runs an attempt's code only while it holds its lease. With `killedExecutionId`, an acquired
   * answer also says whether that execution was killed, in the same round trip (the worker's check before it starts).
   */
  acquireTaskLease(taskRunId: string, attempt: number, holder: string, ttlMs: number, options?: { readonly killedExecutionId?: string }): Promise<TaskLeaseAnswer>;
  /** Who holds the attempt's lease now, whether as finished, and for how long; undefined when nobody does. */
  taskLease(taskRunId: string, attempt: number): Promise<{ readonly holder: string; readonly finished: boolean; readonly expiresInMs: number } | undefined>;
  /**
   * Extend `holder`'s lease to `ttlMs` from now. When the lease vanished (Redis restarted without persistence) it is
   * taken again; when another holder has it (or finished the attempt) it is not touched, and the answer is false:
   * `holder` lost it.
   */
  renewTaskLease(taskRunId: string, attempt: number, holder: string, ttlMs: number): Promise<boolean>;
  /**
   * Give the lease up, if `holder` has it (or nobody does). `finished`: the attempt ran to its end and its result is
   * published: the lease stays, as finished, for {@link FINISHED_LEASE_SECONDS}, so a late second delivery of the
   * attempt is not run. Otherwise it is deleted (a handed-back attempt may run again at once).
   */
  releaseTaskLease(taskRunId: string, attempt: number, holder: string, finished: boolean): Promise<void>;

  /** `options.delayMs` only: a scheduler puts a report back for later (see TaskJob.after). */
  publishResult(message: ResultMessage, options?: EnqueueOptions): Promise<void>;
  consumeResults(options: ConsumeOptions, handler: (message: ResultMessage) => Promise<void>): Consumer;

  publishLogs(batch: LogBatch): Promise<void>;
  consumeLogs(options: ConsumeOptions, handler: (batch: LogBatch) => Promise<void>): Consumer;

  publishExecution(message: ExecutionMessage, options?: EnqueueOptions): Promise<void>;
  consumeExecutions(options: ConsumeOptions, handler: (message: ExecutionMessage) => Promise<void>): Consumer;

  /** Mark the execution killed (durable for at least a day) and broadcast it to every kill subscriber. */
  killExecution(executionId: string): Promise<void>;
  /** Whether {@link killExecution} was called for it. */
  isKilled(executionId: string): Promise<boolean>;
  /** Live kill broadcasts (only those published after the subscription is ready). */
  subscribeKills(handler: (executionId: string) => void): Promise<Unsubscribe>;

  /**
   * Resolves with how many subscribing processes of the update's kind received it (as Redis PUBLISH counts its
   * connections; a driver's subscriptions share one): 0 or 1 in one process.
   */
  publishExecutionUpdate(update: ExecutionUpdate): Promise<number>;
  /**
   * Live execution updates. `only: 'ends'`: those that end an execution (`ended`); `only: 'steps'`: the others. The
   * kind not asked for is not even delivered (over Redis each kind has a channel of their own): an API waiting for
   * ends does not read the steps in between, and a scheduler watching its peers' steps does not read the ends.
   */
  subscribeExecutionUpdates(handler: (update: ExecutionUpdate) => void, options?: { readonly only?: 'ends' | 'steps' }): Promise<Unsubscribe>;

  /** A flow was saved or deleted: every API instance drops what it cached of it. Live only, like the others. */
  publishFlowChange(change: FlowChange): Promise<void>;
  subscribeFlowChanges(handler: (change: FlowChange) => void): Promise<Unsubscribe>;

  /** Close every connection and consumer. */
  close(): Promise<void>;
}

/** BullMQ queue name of a worker group's tasks. Group keys may not contain `:` (BullMQ forbids it in names). */
export function taskQueueName(group: string): string {
  return `tasks.${group}`;
}

export const QUEUE_PREFIX = 'sluice';
export const RESULTS_QUEUE = 'results';
export const LOGS_QUEUE = 'logs';
export const EXECUTIONS_QUEUE = 'executions';
