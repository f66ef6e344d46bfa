/**
 * Inputs and outputs of the engine (`decide`). The engine is pure: the scheduler (and `sluice run`) read the
 * execution and its task runs, call `decide`, apply the returned actions (write states, enqueue jobs) and call it
 * again when something changes (a task run ended, a retry delay elapsed, a kill was requested).
 */
import type { Flow, TaskSpec } from '@sluice/core';
import type { RunIndex } from './run-index.js';

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
  | 'CANCELLED'
  | 'PAUSED';

export type ExecutionStateName =
  | 'CREATED'
  | 'QUEUED'
  | 'RUNNING'
  | 'RETRYING'
  | 'RESTARTED'
  | 'PAUSED'
  | 'KILLING'
  | 'SUCCESS'
  | 'WARNING'
  | 'FAILED'
  | 'KILLED'
  | 'CANCELLED'
  | 'RETRIED';

/** The result of rendering one expression for the engine: its value, or why it could not be rendered. */
export type Evaluation = { readonly value: unknown } | { readonly error: string };

/**
 * The engine's own state of a task run, stored with it (never shown by the API). Written by the engine's actions
 * (through {@link settleCreated} and `updateTaskRun`), read back on every decision.
 */
export interface EngineRunState {
  /** Rendered expressions of the task (`condition`, `value`, `runIf`, `condition:<iteration>`...). */
  readonly evaluated?: Readonly<Record<string, Evaluation>>;
  /** A loop's values, rendered and parsed once when the loop run was created (ForEach, EachSequential, EachParallel). */
  readonly values?: readonly string[];
  /** Pause: when the run was paused, and when it resumes by itself (`delay`) or fails (`timeout`), epoch ms. */
  readonly pausedAt?: number;
  readonly resumeAt?: number;
  readonly failAt?: number;
  /** WaitFor: when the run was created (for `maxDuration`), and the end of the wait before its next iteration. */
  readonly createdAt?: number;
  readonly waitUntil?: number;
  /** WorkingDirectory whose worker job failed: its `errors` branch is running (the scheduler's part). */
  readonly errorsPhase?: boolean;
}

export interface EngineTaskRun {
  readonly id: string;
  readonly taskId: string;
  /** The flowable task run that created this one; WorkingDirectory children are reported by its worker. */
  readonly parentTaskRunId?: string;
  /** The loop value (ForEach, EachSequential, EachParallel set it on their direct children). */
  readonly value?: string;
  /** WaitFor: the iteration (1-based) the run belongs to, or the WaitFor run's current one. */
  readonly iteration?: number;
  readonly state: TaskRunStateName;
  /** 1-based number of the current attempt. */
  readonly attempt: number;
  /** When the first attempt started (ISO-8601), for `retry.maxDuration`; absent until it started. */
  readonly firstStartedAt?: string;
  /** When the current attempt ended (ISO-8601), if it did; the retry delay counts from here. */
  readonly endedAt?: string;
  readonly engineState?: EngineRunState;
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
  /**
   * The execution's task runs, indexed (see {@link RunIndex}): a caller that keeps one across decisions (updating it
   * with every run it writes) makes a decision cost what changed, not the execution's history. Built from
   * `execution.taskRuns` when absent.
   */
  readonly index?: RunIndex;
  /** A fresh unique task run id. */
  readonly newTaskRunId: () => string;
  /** In [0, 1): jitter for `random` retries. Default Math.random. */
  readonly random?: () => number;
}

/** What kind of work a new task run is: sent to a worker, resolved by the engine, or applied by the scheduler. */
export type TaskRole = 'runnable' | 'flowable' | 'executor';

/**
 * What to do next. The caller applies actions in order, in one transaction, then enqueues, and decides again while
 * an action asked it to (`create`, `evaluate`, `updateTaskRun` change what the engine sees).
 * - `create`: a new task run of `task` under `parentTaskRunId` (top level when absent), with the loop `value` and
 *   `iteration`. The caller renders each `evaluate` entry with the new run's variables, then calls
 *   {@link settleCreated} for its first state (SKIPPED by `runIf`, RUNNING for a flowable, CREATED for a runnable,
 *   whose attempt 1 it enqueues), outputs and engine state.
 * - `dispatch`: enqueue attempt `attempt` of an existing CREATED run again (after a restart).
 * - `retry`: the FAILED task run goes to RETRYING, and a RUNNING execution with it (back to RUNNING when the attempt
 *   starts); attempt `attempt` (previous + 1) is enqueued after `delayMs`.
 * - `retryExecution`: a retry with behavior CREATE_NEW_EXECUTION. The FAILED task run becomes RETRIED and the
 *   execution ends FAILED then RETRIED; a new execution of the same flow revision, inputs and labels, attempt
 *   `attempt`, starts after `delayMs`.
 * - `updateTaskRun`: a run moves to `state` (a flowable ends, a Pause pauses or resumes, allowFailure turns a
 *   failure into WARNING), and/or its outputs, iteration or engine state change.
 * - `evaluate`: render `expression` with the variables of run `taskRunId` and store it in its engine state under
 *   `key` (WaitFor's condition after an iteration).
 * - `cancelTaskRun`: a CREATED / RETRYING / PAUSED task run that never started becomes KILLED (kill).
 * - `wake`: decide again in `delayMs` (a Pause's delay or timeout, a WaitFor's interval).
 * - `end`: the execution ends in `state`.
 * - `setState`: the execution moves to a non-terminal state (CREATED/RESTARTED → RUNNING, RUNNING ↔ PAUSED).
 */
export type EngineAction =
  | {
      readonly type: 'create';
      readonly taskRunId: string;
      readonly task: TaskSpec;
      readonly role: TaskRole;
      readonly parentTaskRunId?: string;
      readonly value?: string;
      readonly iteration?: number;
      readonly evaluate?: Readonly<Record<string, unknown>>;
    }
  | { readonly type: 'dispatch'; readonly taskRunId: string; readonly task: TaskSpec; readonly attempt: number; readonly create: false }
  | { readonly type: 'retry'; readonly taskRunId: string; readonly task: TaskSpec; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'retryExecution'; readonly taskRunId: string; readonly attempt: number; readonly delayMs: number }
  | {
      readonly type: 'updateTaskRun';
      readonly taskRunId: string;
      readonly state?: TaskRunStateName;
      readonly outputs?: Readonly<Record<string, unknown>>;
      readonly iteration?: number;
      readonly engineState?: EngineRunState;
      /** A line for the execution's logs about this run (why it failed, paused...). */
      readonly log?: { readonly level: 'INFO' | 'WARN' | 'ERROR'; readonly message: string };
    }
  | { readonly type: 'evaluate'; readonly taskRunId: string; readonly key: string; readonly expression: unknown }
  | { readonly type: 'cancelTaskRun'; readonly taskRunId: string; readonly state: 'KILLED' }
  | { readonly type: 'wake'; readonly delayMs: number }
  | { readonly type: 'setState'; readonly state: 'RUNNING' | 'PAUSED' }
  | { readonly type: 'end'; readonly state: 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'CANCELLED' };

export interface Decision {
  readonly actions: readonly EngineAction[];
}

export type { Flow, TaskSpec };
