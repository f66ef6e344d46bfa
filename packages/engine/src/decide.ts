/**
 * The execution state machine, as a pure function of (flow, execution, now). `decide` reads the execution's state
 * and its task runs and returns what to do next; the scheduler applies the actions and calls it again when anything
 * changes. It keeps no memory, so calling it twice on the same input yields the same actions (fresh ids aside).
 *
 * Execution states:
 * - SUCCESS / WARNING / FAILED / KILLED / CANCELLED / RETRIED: terminal, nothing to do.
 * - QUEUED: waits for the scheduler's concurrency slot ({@link admit}), nothing to do here.
 * - CREATED: → RUNNING, then decided as RUNNING (the first task is dispatched in the same decision).
 * - RESTARTED: → RUNNING; task runs the restart put back to CREATED are enqueued again (`create: false`), then
 *   decided as RUNNING (which treats CREATED runs as in flight, so nothing is dispatched twice).
 * - RETRYING: a task's in-place retry waits for its delay (Kestra shows it on the execution too); decided as
 *   RUNNING, which waits for the RETRYING run. The scheduler moves it back to RUNNING when the attempt starts.
 * - KILLING: runs that never started (CREATED / RETRYING) are cancelled; once no run is RUNNING or KILLING the
 *   execution ends KILLED.
 * - RUNNING: `tasks` are walked in order, one at a time (sequential, as Kestra's top level). For each enabled task,
 *   the latest top-level run decides: none → dispatch it and stop; in flight → stop; SUCCESS / SKIPPED / WARNING →
 *   next; FAILED → retry while the policy allows (in place, or with behavior CREATE_NEW_EXECUTION as a new
 *   execution: this one ends RETRIED), else next with a warning when `allowFailure`, else the `errors` branch;
 *   KILLED / CANCELLED → the execution ends so. The `errors` branch is walked the same way, every task running
 *   whatever the previous one's outcome, and the execution then ends FAILED.
 *
 * Only top-level task runs count: WorkingDirectory children run inside their parent's job.
 */
import { parseDuration } from '@sluice/core';
import type { Flow, RetryPolicy, TaskSpec } from '@sluice/core';
import type {
  DecideOptions,
  Decision,
  EngineAction,
  EngineExecution,
  EngineTaskRun,
  ExecutionStateName,
} from './types.js';

/** Sluice's default when a retry policy sets neither `maxAttempt` nor `maxDuration`: 3 attempts in all. */
export const DEFAULT_MAX_ATTEMPT = 3;
/** Kestra's default `delayFactor` of exponential retries. */
export const DEFAULT_DELAY_FACTOR = 2;

export type TerminalExecutionState = 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'CANCELLED' | 'RETRIED';
export type TerminalTaskRunState = 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'SKIPPED' | 'CANCELLED' | 'RETRIED';

export const TERMINAL_EXECUTION_STATES: readonly TerminalExecutionState[] = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED'];
export const TERMINAL_TASK_RUN_STATES: readonly TerminalTaskRunState[] = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'SKIPPED', 'CANCELLED', 'RETRIED'];

/** Execution states that hold a concurrency slot. */
export const ACTIVE_EXECUTION_STATES: readonly ExecutionStateName[] = ['RUNNING', 'RETRYING', 'KILLING', 'RESTARTED'];

/** Takes any string, so a state read from storage needs no cast. */
export function isTerminalExecutionState(state: string): state is TerminalExecutionState {
  return (TERMINAL_EXECUTION_STATES as readonly string[]).includes(state);
}

/** FAILED is terminal for the run's current attempt; a retry moves it on to RETRYING. */
export function isTerminalTaskRunState(state: string): state is TerminalTaskRunState {
  return (TERMINAL_TASK_RUN_STATES as readonly string[]).includes(state);
}

/** Whether a new execution of `flow` starts, waits in QUEUED, or ends CANCELLED / FAILED at once. */
export type Admission = 'start' | 'queue' | 'cancel' | 'fail';

/**
 * Concurrency admission. `activeCount`: executions of the same flow in an {@link ACTIVE_EXECUTION_STATES} state,
 * not counting the one being admitted.
 */
export function admit(flow: Flow, activeCount: number): Admission {
  const concurrency = flow.concurrency;
  if (!concurrency || activeCount < concurrency.limit) return 'start';
  switch (concurrency.behavior ?? 'QUEUE') {
    case 'CANCEL':
      return 'cancel';
    case 'FAIL':
      return 'fail';
    default:
      return 'queue';
  }
}

/** The worker group a task's jobs go to: `default` when the task names none; fallback WAIT, as in Kestra. */
export function workerGroupOf(task: TaskSpec): { key: string; fallback: 'WAIT' | 'FAIL' | 'CANCEL' } {
  return { key: task.workerGroup?.key || 'default', fallback: task.workerGroup?.fallback ?? 'WAIT' };
}

/**
 * The task's `timeout` in ms, or undefined. The worker enforces it; the scheduler only keeps books.
 * @throws SluiceError `SLU_FLOW_INVALID_DURATION` when it is not a duration (validated flows never are).
 */
export function taskTimeoutMs(task: TaskSpec): number | undefined {
  return task.timeout === undefined ? undefined : parseDuration(task.timeout);
}

/**
 * The retry policy that retries `task` inside its execution: its own, else the flow's. A policy with behavior
 * CREATE_NEW_EXECUTION (at either level) never does, so it yields undefined: see {@link newExecutionPolicyOf}.
 */
export function retryPolicyOf(flow: Flow, task: TaskSpec): RetryPolicy | undefined {
  const policy = task.retry ?? flow.retry;
  return policy?.behavior === 'CREATE_NEW_EXECUTION' ? undefined : policy;
}

/** The policy (the task's own, else the flow's) when its behavior is CREATE_NEW_EXECUTION: retry as a new execution. */
export function newExecutionPolicyOf(flow: Flow, task: TaskSpec): RetryPolicy | undefined {
  const policy = task.retry ?? flow.retry;
  return policy?.behavior === 'CREATE_NEW_EXECUTION' ? policy : undefined;
}

function durationMs(value: string | undefined): number {
  return value === undefined ? 0 : parseDuration(value);
}

function timeMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The delay (ms) before the attempt after `attempt` (1-based, the one that just failed), Kestra's way:
 * constant → `interval`; exponential → `interval` × `delayFactor`^(attempt-1) capped at `maxInterval`; random →
 * uniform in [`minInterval`, `maxInterval`) from `random` (in [0, 1)). Whole milliseconds.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const n = Math.max(1, Math.floor(attempt));
  switch (policy.type) {
    case 'exponential': {
      const factor = policy.delayFactor ?? DEFAULT_DELAY_FACTOR;
      const delay = durationMs(policy.interval) * factor ** (n - 1);
      const capped = policy.maxInterval === undefined ? delay : Math.min(delay, parseDuration(policy.maxInterval));
      return Math.floor(Math.min(capped, Number.MAX_SAFE_INTEGER));
    }
    case 'random': {
      const min = durationMs(policy.minInterval);
      const max = policy.maxInterval === undefined ? min : Math.max(min, parseDuration(policy.maxInterval));
      const r = Math.min(Math.max(random(), 0), 1);
      return Math.min(min + Math.floor(r * (max - min)), max);
    }
    default:
      return durationMs(policy.interval);
  }
}

/**
 * Whether `run` (whose current attempt failed) gets another attempt starting in `delayMs` from `now`. `maxAttempt`
 * counts every attempt, the first included. `maxDuration` refuses an attempt that would start later than
 * `firstStartedAt` + `maxDuration`; it is ignored while `firstStartedAt` is unknown. When neither limit applies,
 * {@link DEFAULT_MAX_ATTEMPT} does, so a policy never retries forever.
 */
export function canRetry(policy: RetryPolicy, run: EngineTaskRun, now: Date, delayMs: number): boolean {
  const startedAt = timeMs(run.firstStartedAt);
  const maxDuration = policy.maxDuration !== undefined && startedAt !== undefined ? parseDuration(policy.maxDuration) : undefined;
  const maxAttempt = policy.maxAttempt ?? (maxDuration === undefined ? DEFAULT_MAX_ATTEMPT : undefined);
  if (maxAttempt !== undefined && run.attempt >= maxAttempt) return false;
  if (maxDuration !== undefined && startedAt !== undefined && now.getTime() + delayMs > startedAt + maxDuration) return false;
  return true;
}

/**
 * Whether execution attempt `attempt` (1-based, the one failing) gets a successor starting in `delayMs` from `now`,
 * under a CREATE_NEW_EXECUTION policy: `maxAttempt` counts executions, the first included, and `maxDuration` counts
 * from `originalStartDate` (Kestra's `metadata.originalCreatedDate`), when known. When neither limit applies,
 * {@link DEFAULT_MAX_ATTEMPT} does.
 */
export function canRetryExecution(policy: RetryPolicy, attempt: number, originalStartDate: string | undefined, now: Date, delayMs: number): boolean {
  return canRetry(policy, { id: '', taskId: '', state: 'FAILED', attempt, ...(originalStartDate ? { firstStartedAt: originalStartDate } : {}) }, now, delayMs);
}

/** Top-level task runs (no parent), oldest first. */
function topLevelRuns(execution: EngineExecution): EngineTaskRun[] {
  return execution.taskRuns.filter((run) => run.parentTaskRunId === undefined);
}

/** The latest top-level run of each task id. */
function latestRuns(runs: readonly EngineTaskRun[]): Map<string, EngineTaskRun> {
  const latest = new Map<string, EngineTaskRun>();
  for (const run of runs) latest.set(run.taskId, run);
  return latest;
}

/** How walking a branch went. */
type BranchOutcome =
  /** A task was dispatched or retried, or one is in flight (`action` absent): wait for it. */
  | { readonly kind: 'wait'; readonly action?: EngineAction }
  /** Every task is done; `warning` when one ended WARNING, failed with `allowFailure`, or succeeded after a retry. */
  | { readonly kind: 'done'; readonly warning: boolean }
  /** A task failed for good (main branch only). */
  | { readonly kind: 'failed' }
  /** A task was killed or cancelled (main branch only). */
  | { readonly kind: 'ended'; readonly state: 'KILLED' | 'CANCELLED' };

interface WalkContext {
  readonly flow: Flow;
  readonly execution: EngineExecution;
  readonly latest: ReadonlyMap<string, EngineTaskRun>;
  readonly options: DecideOptions;
}

/** A retry of `run`'s failed attempt, or undefined when its policy allows no more. */
function retryOf(context: WalkContext, task: TaskSpec, run: EngineTaskRun): EngineAction | undefined {
  const policy = retryPolicyOf(context.flow, task);
  if (!policy) return undefined;
  const now = context.options.now;
  const delay = retryDelayMs(policy, run.attempt, context.options.random ?? Math.random);
  const endedAt = timeMs(run.endedAt);
  const delayMs = endedAt === undefined ? delay : Math.max(0, endedAt + delay - now.getTime());
  if (!canRetry(policy, run, now, delayMs)) return undefined;
  return { type: 'retry', taskRunId: run.id, task, attempt: run.attempt + 1, delayMs };
}

/** A retry of the whole execution for `run`'s failure (behavior CREATE_NEW_EXECUTION), or undefined when none is left. */
function newExecutionOf(context: WalkContext, task: TaskSpec, run: EngineTaskRun): EngineAction | undefined {
  const policy = newExecutionPolicyOf(context.flow, task);
  if (!policy) return undefined;
  const now = context.options.now;
  const attempt = Math.max(1, Math.floor(context.execution.attempt ?? 1));
  const delay = retryDelayMs(policy, attempt, context.options.random ?? Math.random);
  const endedAt = timeMs(run.endedAt);
  const delayMs = endedAt === undefined ? delay : Math.max(0, endedAt + delay - now.getTime());
  if (!canRetryExecution(policy, attempt, context.execution.originalStartDate, now, delayMs)) return undefined;
  return { type: 'retryExecution', taskRunId: run.id, attempt: attempt + 1, delayMs };
}

/**
 * Walk `tasks` in order. In the main branch a task that fails for good or is killed stops the walk; in the errors
 * branch every task runs whatever the outcome of the previous one.
 */
function walk(context: WalkContext, tasks: readonly TaskSpec[], branch: 'main' | 'errors'): BranchOutcome {
  let warning = false;
  for (const task of tasks) {
    if (task.disabled === true) continue;
    const run = context.latest.get(task.id);
    if (!run) {
      const action: EngineAction = { type: 'dispatch', taskRunId: context.options.newTaskRunId(), task, attempt: 1, create: true };
      return { kind: 'wait', action };
    }
    switch (run.state) {
      case 'CREATED':
      case 'RUNNING':
      case 'RETRYING':
      case 'KILLING':
        return { kind: 'wait' };
      case 'SUCCESS':
        if (run.attempt > 1 && retryPolicyOf(context.flow, task)?.warningOnRetry === true) warning = true;
        break;
      case 'SKIPPED':
        break;
      case 'WARNING':
        warning = true;
        break;
      case 'FAILED': {
        const retry = retryOf(context, task, run) ?? newExecutionOf(context, task, run);
        if (retry) return { kind: 'wait', action: retry };
        if (branch === 'main') {
          if (task.allowFailure !== true) return { kind: 'failed' };
          warning = true;
        }
        break;
      }
      case 'KILLED':
      case 'CANCELLED':
        if (branch === 'main') return { kind: 'ended', state: run.state };
        break;
      case 'RETRIED':
        // Only in an execution that ended RETRIED (a new execution took over): a failure for good here.
        if (branch === 'main') return { kind: 'failed' };
        break;
    }
  }
  return { kind: 'done', warning };
}

/** The actions of a RUNNING execution. */
function decideRunning(flow: Flow, execution: EngineExecution, runs: readonly EngineTaskRun[], options: DecideOptions): EngineAction[] {
  const context: WalkContext = { flow, execution, latest: latestRuns(runs), options };
  const main = walk(context, flow.tasks, 'main');
  switch (main.kind) {
    case 'wait':
      return main.action ? [main.action] : [];
    case 'done':
      return [{ type: 'end', state: main.warning ? 'WARNING' : 'SUCCESS' }];
    case 'ended':
      return [{ type: 'end', state: main.state }];
    case 'failed': {
      const errors = walk(context, flow.errors ?? [], 'errors');
      if (errors.kind === 'wait') return errors.action ? [errors.action] : [];
      return [{ type: 'end', state: 'FAILED' }];
    }
  }
}

/** The actions of a KILLING execution: cancel what never started, end once nothing runs. */
function decideKilling(runs: readonly EngineTaskRun[]): EngineAction[] {
  const actions: EngineAction[] = runs
    .filter((run) => run.state === 'CREATED' || run.state === 'RETRYING')
    .map((run) => ({ type: 'cancelTaskRun', taskRunId: run.id, state: 'KILLED' }));
  const running = runs.some((run) => run.state === 'RUNNING' || run.state === 'KILLING');
  return running ? actions : [...actions, { type: 'end', state: 'KILLED' }];
}

/** What to do next for `execution` of `flow`. Pure; see the state machine at the top of this file. */
export function decide(flow: Flow, execution: EngineExecution, options: DecideOptions): Decision {
  const runs = topLevelRuns(execution);
  switch (execution.state) {
    case 'CREATED':
      return { actions: [{ type: 'setState', state: 'RUNNING' }, ...decideRunning(flow, execution, runs, options)] };
    case 'RESTARTED': {
      const redispatch: EngineAction[] = [];
      for (const run of runs) {
        const task = run.state === 'CREATED' ? findTask(flow, run.taskId) : undefined;
        if (task) redispatch.push({ type: 'dispatch', taskRunId: run.id, task, attempt: run.attempt, create: false });
      }
      return { actions: [{ type: 'setState', state: 'RUNNING' }, ...redispatch, ...decideRunning(flow, execution, runs, options)] };
    }
    case 'RUNNING':
    case 'RETRYING':
      return { actions: decideRunning(flow, execution, runs, options) };
    case 'KILLING':
      return { actions: decideKilling(runs) };
    default:
      // QUEUED (admitted by the scheduler) and the terminal states.
      return { actions: [] };
  }
}

/** The top-level task `taskId` in `tasks` or `errors`. */
function findTask(flow: Flow, taskId: string): TaskSpec | undefined {
  return flow.tasks.find((task) => task.id === taskId) ?? flow.errors?.find((task) => task.id === taskId);
}
