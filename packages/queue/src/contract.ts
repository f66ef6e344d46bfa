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
 * again up to `maxDeliveries` times (results, logs and execution events are idempotent on the consumer side).
 *
 * Compatibility: every message here is JSON on Redis and may be read by a newer or older process during a rolling
 * upgrade: add optional fields, never rename or remove one.
 */
import type { LogLevel, TaskSpec } from '@sluice/core';

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
  /** 1-based attempt number. */
  readonly attempt: number;
  /** The task as written in the flow, pluginDefaults applied, expressions NOT rendered (the worker renders). */
  readonly task: TaskSpec;
  /** Worker group key the job was queued for. */
  readonly workerGroup: string;
  /** Template variables: `inputs`, `outputs` (earlier task runs' outputs by task id), `vars`, `flow`, `execution`, `labels`. */
  readonly variables: Readonly<Record<string, unknown>>;
  /** When the scheduler queued it (ISO-8601). */
  readonly queuedAt: string;
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
      readonly taskRunId: string;
      readonly taskId: string;
      readonly attempt: number;
      readonly workerId: string;
      readonly startedAt: string;
    }
  | {
      /** A WorkingDirectory child is about to run (its task run is created by this message). */
      readonly type: 'child-started';
      readonly executionId: string;
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
}

export interface ConsumeOptions {
  /** Messages handled at the same time by this consumer. Default 1. */
  readonly concurrency?: number;
}

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

export interface QueueDriver {
  /** `bullmq` or `in-process`. */
  readonly kind: string;

  enqueueTask(group: string, job: TaskJob, options?: EnqueueOptions): Promise<void>;
  /**
   * Consume one group's task queue (or every group with {@link ALL_WORKER_GROUPS}, in-process only). The handler's
   * promise holds the job: BullMQ keeps its lock renewed until it settles.
   */
  consumeTasks(group: string, options: ConsumeOptions, handler: (job: TaskJob, delivery: TaskDelivery) => Promise<void>): Consumer;
  /** Number of task jobs waiting or delayed (not yet taken) in a group's queue. */
  pendingTasks(group: string): Promise<number>;

  publishResult(message: ResultMessage): Promise<void>;
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

  publishExecutionUpdate(update: ExecutionUpdate): Promise<void>;
  subscribeExecutionUpdates(handler: (update: ExecutionUpdate) => void): Promise<Unsubscribe>;

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
