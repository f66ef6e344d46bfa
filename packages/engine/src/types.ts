/**
 * Inputs and outputs of the engine (`decide`). The engine is pure: the scheduler (and `sluice run`) read the
 * execution and its task runs, call `decide`, apply the returned actions (write states, enqueue jobs) and call it
 * again when something changes (a task run ended, a retry delay elapsed, a kill was requested).
 */
import type { Flow, TaskSpec } from '@sluice/core';

/** A task run's state as stored (Kestra's task-run states, KESTRA.md A7, plus SKIPPED/CANCELLED). */
export type TaskRunStateName =
  | 'CREATED'
  | 'RUNNING'
  | 'SUCCESS'
  | 'WARNING'
  | 'FAILED'
  | 'RETRYING'
  | 'RETRIED'
  | 'KILLING'
  | 'KILLED'
  | 'SKIPPED'
  | 'CANCELLED';

export type ExecutionStateName =
  | 'CREATED'
  | 'QUEUED'
  | 'RUNNING'
  | 'RETRYING'
  | 'RESTARTED'
  | 'KILLING'
  | 'SUCCESS'
  | 'WARNING'
  | 'FAILED'
  | 'KILLED'
  | 'CANCELLED'
  | 'RETRIED';

export interface EngineTaskRun {
  readonly id: string;
  readonly taskId: string;
  /** Set for WorkingDirectory children: the engine ignores those (their parent's run stands for them). */
  readonly parentTaskRunId?: string;
  readonly state: TaskRunStateName;
  /** 1-based number of the current attempt. */
  readonly attempt: number;
  /** When the first attempt started (ISO-8601), for `retry.maxDuration`; absent until it started. */
  readonly firstStartedAt?: string;
  /** When the current attempt ended (ISO-8601), if it did; the retry delay counts from here. */
  readonly endedAt?: string;
}

export interface EngineExecution {
  readonly id: string;
  readonly state: ExecutionStateName;
  /**
   * 1-based: which attempt of its flow run this execution is (Kestra's `metadata.attemptNumber`), for retries with
   * behavior CREATE_NEW_EXECUTION. Default 1.
   */
  readonly attempt?: number;
  /**
   * When the first execution of that chain started (ISO-8601; Kestra's `metadata.originalCreatedDate`): such a
   * retry's `maxDuration` counts from here. Unknown: `maxDuration` is not applied.
   */
  readonly originalStartDate?: string;
  /** Task runs of this execution, oldest first. */
  readonly taskRuns: readonly EngineTaskRun[];
}

export interface DecideOptions {
  readonly now: Date;
  /** A fresh unique task run id. */
  readonly newTaskRunId: () => string;
  /** In [0, 1): jitter for `random` retries. Default Math.random. */
  readonly random?: () => number;
}

/**
 * What to do next. The scheduler applies actions in order, in one transaction, then enqueues.
 * - `dispatch`: create (when `create`) a task run in CREATED for `task` and enqueue attempt `attempt` for its group.
 * - `retry`: the FAILED task run goes to RETRYING, and a RUNNING execution with it (back to RUNNING when the attempt
 *   starts); attempt `attempt` (previous + 1) is enqueued after `delayMs`.
 * - `retryExecution`: a retry with behavior CREATE_NEW_EXECUTION. The FAILED task run becomes RETRIED and the
 *   execution ends FAILED then RETRIED; a new execution of the same flow revision, inputs and labels, attempt
 *   `attempt`, starts after `delayMs`.
 * - `cancelTaskRun`: a CREATED / RETRYING task run that never started becomes KILLED (kill) — no worker holds it.
 * - `end`: the execution ends in `state`.
 * - `setState`: the execution moves to a non-terminal state (CREATED/RESTARTED → RUNNING).
 */
export type EngineAction =
  | { readonly type: 'dispatch'; readonly taskRunId: string; readonly task: TaskSpec; readonly attempt: number; readonly create: boolean }
  | { readonly type: 'retry'; readonly taskRunId: string; readonly task: TaskSpec; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'retryExecution'; readonly taskRunId: string; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'cancelTaskRun'; readonly taskRunId: string; readonly state: 'KILLED' }
  | { readonly type: 'setState'; readonly state: 'RUNNING' }
  | { readonly type: 'end'; readonly state: 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'CANCELLED' };

export interface Decision {
  readonly actions: readonly EngineAction[];
}

export type { Flow, TaskSpec };
