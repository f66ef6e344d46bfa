/**
 * The execution state machine, as a pure function of (flow, execution, now). `decide` reads the execution's state
 * and its task runs and returns what to do next; the caller (the scheduler, `sluice run`) applies the actions and
 * calls it again when anything changes. It keeps no memory: the same input yields the same actions (fresh ids aside).
 *
 * The engine walks a tree of task runs, as Kestra's executor does (docs/execution.md, "Flow control"):
 * - the flow itself is a sequence over its `tasks`, then its `errors` after a failure;
 * - each flowable task run (Sequential, Parallel, If, Switch, ForEach, EachSequential, EachParallel, AllowFailure,
 *   Dag, Pause, WaitFor) is resolved here, never by a worker: the children to create now (one at a time, all at once,
 *   `concurrent` at a time, by dependencies) and, once they ended, its own state;
 * - runnable tasks go to a worker; WorkingDirectory too, as one job with its children;
 * - `Labels` is applied by the caller.
 *
 * Execution states:
 * - SUCCESS / WARNING / FAILED / KILLED / CANCELLED / RETRIED: terminal, nothing to do.
 * - QUEUED: waits for the scheduler's concurrency slot ({@link admit}), nothing to do here.
 * - CREATED: → RUNNING, then decided as RUNNING.
 * - RESTARTED: → RUNNING; task runs the restart put back to CREATED are sent again (flowables resume RUNNING).
 * - RETRYING: a task's in-place retry waits for its delay; decided as RUNNING.
 * - PAUSED: a Pause holds it; only a Pause's own `delay` or `timeout` moves it on (a REST resume does too).
 * - KILLING: runs that never started (CREATED / RETRYING / PAUSED) are cancelled, flowables end KILLED once their
 *   children did; once nothing runs the execution ends KILLED.
 *
 * Cost: every decision reads a {@link RunIndex} (children by parent with their counts) and visits the open flowable
 * runs only, so it does not grow with the runs that ended long ago.
 */
import { isTruthy, parseDuration } from '@sluice/core';
import type { Flow, RetryPolicy, TaskSpec } from '@sluice/core';
import { isOpenState, RunIndex } from './run-index.js';
import type { ChildGroup } from './run-index.js';
import { enabled, structureOf } from './structure.js';
import { textOf } from './settle.js';
import type { FlowStructure, TaskNode } from './structure.js';
import type {
  DecideOptions,
  Decision,
  EngineAction,
  EngineExecution,
  EngineRunState,
  EngineTaskRun,
  Evaluation,
  ExecutionStateName,
  TaskRole,
  TaskRunStateName,
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

/** The policy that applies to `task`: its own, else the nearest flowable ancestor's, else the flow's (Kestra's rule). */
function policyOf(flow: Flow, task: TaskSpec): RetryPolicy | undefined {
  return task.retry ?? structureOf(flow).byId.get(task.id)?.retry ?? flow.retry;
}

/**
 * The retry policy that retries `task` inside its execution: its own, else its nearest ancestor's, else the flow's.
 * A policy with behavior CREATE_NEW_EXECUTION never does, so it yields undefined: see {@link newExecutionPolicyOf}.
 */
export function retryPolicyOf(flow: Flow, task: TaskSpec): RetryPolicy | undefined {
  const policy = policyOf(flow, task);
  return policy?.behavior === 'CREATE_NEW_EXECUTION' ? undefined : policy;
}

/** The policy that applies to `task` when its behavior is CREATE_NEW_EXECUTION: retry as a new execution. */
export function newExecutionPolicyOf(flow: Flow, task: TaskSpec): RetryPolicy | undefined {
  const policy = policyOf(flow, task);
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
  const maxAttempt = policy.maxAttempts ?? policy.maxAttempt ?? (maxDuration === undefined ? DEFAULT_MAX_ATTEMPT : undefined);
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

/** What a decision works with. */
interface Context {
  readonly flow: Flow;
  readonly structure: FlowStructure;
  readonly index: RunIndex;
  readonly execution: EngineExecution;
  readonly options: DecideOptions;
  readonly now: number;
  readonly actions: EngineAction[];
}

/** One child to create: a task, and for loops the value it handles. */
interface Planned {
  readonly task: TaskSpec;
  readonly value?: string;
  /** The value's 0-based position in a loop (`taskrun.iteration` of its runs). */
  readonly iteration?: number;
}

/** The children of a branch, in the order they are created. */
interface Plan {
  readonly size: number;
  at(position: number): Planned;
}

function listPlan(tasks: readonly TaskSpec[]): Plan {
  return { size: tasks.length, at: (i) => ({ task: tasks[i] as TaskSpec }) };
}

/** Every value × every task, value first: `v1:t1, v1:t2, v2:t1...` (Kestra's flattened loop plan). */
function loopPlan(values: readonly string[], tasks: readonly TaskSpec[]): Plan {
  const n = tasks.length;
  return { size: values.length * n, at: (i) => ({ task: tasks[i % n] as TaskSpec, value: values[Math.floor(i / n)] as string, iteration: Math.floor(i / n) }) };
}

const EMPTY_PLAN: Plan = listPlan([]);

/** A retry of `run`'s failed attempt, or undefined when its policy allows no more. */
function retryOf(context: Context, task: TaskSpec, run: EngineTaskRun): EngineAction | undefined {
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
function newExecutionOf(context: Context, task: TaskSpec, run: EngineTaskRun): EngineAction | undefined {
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

/** The role of a task: a worker runs it, the engine resolves it, or the caller applies it (Labels). */
export function roleOf(node: TaskNode | undefined): TaskRole {
  if (!node) return 'runnable';
  if (node.kind && node.kind !== 'WorkingDirectory') return 'flowable';
  return node.executor ? 'executor' : 'runnable';
}

/** The expressions the caller renders when it creates a run of `task` (with that run's variables). */
function evaluationsOf(node: TaskNode | undefined, task: TaskSpec): Record<string, unknown> | undefined {
  const evaluate: Record<string, unknown> = {};
  if (task.runIf !== undefined && task.runIf !== true && task.runIf !== 'true') evaluate.runIf = task.runIf;
  const take = (key: string, from: string = key): void => {
    if (task[from] !== undefined) evaluate[key] = task[from];
  };
  switch (node?.kind) {
    case 'If':
      take('condition');
      break;
    case 'Switch':
      take('value');
      break;
    case 'ForEach':
      take('values');
      break;
    case 'EachSequential':
    case 'EachParallel':
      take('values', 'value');
      break;
    case 'Pause':
      take('delay');
      take('timeout');
      break;
    default:
      if (node?.executor === 'Labels') take('labels');
  }
  return Object.keys(evaluate).length > 0 ? evaluate : undefined;
}

function create(context: Context, planned: Planned, parent: EngineTaskRun | undefined, waitForIteration?: number): void {
  const node = context.structure.byId.get(planned.task.id);
  const iteration = waitForIteration ?? planned.iteration;
  const evaluate = evaluationsOf(node, planned.task);
  context.actions.push({
    type: 'create',
    taskRunId: context.options.newTaskRunId(),
    task: planned.task,
    role: roleOf(node),
    ...(parent ? { parentTaskRunId: parent.id } : {}),
    ...(planned.value !== undefined ? { value: planned.value } : {}),
    ...(iteration !== undefined ? { iteration } : {}),
    ...(evaluate ? { evaluate } : {}),
  });
}

/**
 * FAILED children of a group: a retry (in place, or as a new execution), a WorkingDirectory's `errors`, or
 * `allowFailure` (FAILED → WARNING, SUCCESS with `allowWarning`). True when an action was taken: decide again after.
 */
function handleFailures(context: Context, group: ChildGroup): boolean {
  let acted = false;
  for (const id of group.failed) {
    const run = context.index.get(id);
    const node = run ? context.index.node(run) : undefined;
    if (!run || !node) continue;
    if (node.kind && node.kind !== 'WorkingDirectory') continue; // a flowable's failure is its final state
    const retry = retryOf(context, node.task, run) ?? newExecutionOf(context, node.task, run);
    if (retry) {
      context.actions.push(retry);
      return true;
    }
    if (node.kind === 'WorkingDirectory' && node.errors.length > 0 && run.engineState?.errorsPhase !== true) {
      context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, state: 'RUNNING', engineState: { ...run.engineState, errorsPhase: true } });
      acted = true;
      continue;
    }
    if (node.task.allowFailure === true) {
      const state = node.task.allowWarning === true ? 'SUCCESS' : 'WARNING';
      context.actions.push({
        type: 'updateTaskRun',
        taskRunId: run.id,
        state,
        log: { level: 'WARN', message: `task ${run.taskId} failed: ${state} instead, since it has allowFailure: true` },
      });
      acted = true;
    }
  }
  return acted;
}

/** Kestra's guessFinalState over a group's ended children: KILLED > CANCELLED > FAILED > WARNING > SUCCESS. */
function guessFinalState(group: ChildGroup): 'KILLED' | 'CANCELLED' | 'FAILED' | 'WARNING' | 'SUCCESS' {
  if (group.endedCount('KILLED') > 0) return 'KILLED';
  if (group.endedCount('CANCELLED') > 0) return 'CANCELLED';
  if (group.endedCount('FAILED') > 0 || group.endedCount('RETRIED') > 0) return 'FAILED';
  if (group.endedCount('WARNING') > 0) return 'WARNING';
  return 'SUCCESS';
}

/** Children stopped for good by a kill or a cancel: no further child is created in that branch. */
function stopped(group: ChildGroup): boolean {
  return group.endedCount('KILLED') + group.endedCount('CANCELLED') + group.endedCount('RETRIED') > 0;
}

/** SEQ: one child at a time, in plan order (Kestra's sequential strategy). */
function nextSequential(context: Context, group: ChildGroup, plan: Plan, parent: EngineTaskRun | undefined, iteration?: number): void {
  if (group.open > 0 || group.count >= plan.size) return;
  create(context, plan.at(group.count), parent, iteration);
}

/** PAR: every child at once, or `limit` running at a time (0: no limit); nothing while a child is still CREATED. */
function nextParallel(context: Context, group: ChildGroup, plan: Plan, limit: number, parent: EngineTaskRun): void {
  if (group.created > 0 || group.count >= plan.size) return;
  let slots = plan.size - group.count;
  if (limit > 0) slots = Math.min(slots, limit - group.running);
  for (let i = 0; i < slots; i++) create(context, plan.at(group.count + i), parent);
}

/**
 * ForEach with a `concurrencyLimit` other than 1: values run side by side, up to the limit (0: all), and the tasks of
 * one value one after another, as Kestra documents it (its code lets them overlap: docs/execution.md).
 */
function nextConcurrent(context: Context, group: ChildGroup, values: readonly string[], tasks: readonly TaskSpec[], limit: number, parent: EngineTaskRun): void {
  for (const value of [...group.readyValues]) {
    const done = group.perValue.get(value)?.count ?? 0;
    create(context, { task: tasks[done] as TaskSpec, value, iteration: positionOf(values, value) }, parent);
  }
  const started = group.perValue.size;
  const active = started - group.finishedValues;
  const slots = limit > 0 ? Math.max(0, limit - active) : values.length - started;
  for (let i = started; i < Math.min(values.length, started + slots); i++) create(context, { task: tasks[0] as TaskSpec, value: values[i] as string, iteration: i }, parent);
}

const positions = new WeakMap<readonly string[], Map<string, number>>();

/** The position of `value` in a loop's values (they are distinct), from a map built once per values list. */
function positionOf(values: readonly string[], value: string): number {
  let map = positions.get(values);
  if (!map) {
    map = new Map(values.map((v, i) => [v, i]));
    positions.set(values, map);
  }
  return map.get(value) ?? 0;
}

/** DAG: as PAR, creating a task only once each task it depends on has ended. */
function nextDag(context: Context, group: ChildGroup, node: TaskNode, limit: number, parent: EngineTaskRun): void {
  if (group.created > 0) return;
  let slots = limit > 0 ? limit - group.running : Number.MAX_SAFE_INTEGER;
  for (const task of node.main) {
    if (slots <= 0) return;
    if (group.byTask.has(task.id)) continue;
    const ready = (node.dependsOn?.get(task.id) ?? []).every((dependency) => {
      const runId = group.byTask.get(dependency);
      const run = runId ? context.index.get(runId) : undefined;
      // A disabled dependency never runs: it does not hold its dependents back.
      const disabled = !node.main.some((t) => t.id === dependency);
      return disabled || (run !== undefined && !isOpenState(run.state));
    });
    if (!ready) continue;
    create(context, { task }, parent);
    slots--;
  }
}

function evaluation(run: EngineTaskRun, key: string): Evaluation | undefined {
  return run.engineState?.evaluated?.[key];
}

/** A flowable run ends: allowFailure / allowWarning applied, and AllowFailure turns FAILED into WARNING. */
function endFlowable(
  context: Context,
  run: EngineTaskRun,
  node: TaskNode,
  state: 'KILLED' | 'CANCELLED' | 'FAILED' | 'WARNING' | 'SUCCESS',
  extra: { outputs?: Record<string, unknown>; log?: { level: 'INFO' | 'WARN' | 'ERROR'; message: string } } = {},
): void {
  let final: TaskRunStateName = state;
  if (final === 'FAILED' && (node.kind === 'AllowFailure' || node.task.allowFailure === true)) {
    final = node.task.allowFailure === true && node.task.allowWarning === true ? 'SUCCESS' : 'WARNING';
  } else if (final === 'WARNING' && node.task.allowWarning === true) {
    final = 'SUCCESS';
  }
  context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, state: final, ...extra });
}

/**
 * A flowable run's children (and `errors`) ended in `state`: its `finally` tasks run now, one after another, whatever
 * that state; the run ends once they did, FAILED if one of them failed (WARNING or SUCCESS by its allowFailure). Without
 * `finally` it ends at once.
 */
function finish(
  context: Context,
  run: EngineTaskRun,
  node: TaskNode,
  iteration: number | undefined,
  state: 'KILLED' | 'CANCELLED' | 'FAILED' | 'WARNING' | 'SUCCESS',
  extra: { outputs?: Record<string, unknown>; log?: { level: 'INFO' | 'WARN' | 'ERROR'; message: string } } = {},
): void {
  if (node.finally.length === 0) return endFlowable(context, run, node, state, extra);
  const group = context.index.group(run.id, 'finally', iteration);
  if (handleFailures(context, group)) return;
  nextSequential(context, group, listPlan(node.finally), run, iteration);
  if (group.count < node.finally.length || group.open > 0) return;
  endFlowable(context, run, node, worst(state, guessFinalState(group)), extra);
}

/** The worse of two end states (Kestra's order: KILLED > CANCELLED > FAILED > WARNING > SUCCESS). */
function worst<S extends 'KILLED' | 'CANCELLED' | 'FAILED' | 'WARNING' | 'SUCCESS'>(a: S, b: S): S {
  const order = ['SUCCESS', 'WARNING', 'FAILED', 'CANCELLED', 'KILLED'];
  return order.indexOf(a) >= order.indexOf(b) ? a : b;
}

/** The main branch of a flowable run, as it stands: null for Kestra's "no task found" (a Switch with no match). */
function mainPlan(run: EngineTaskRun, node: TaskNode): { plan: Plan; mode: 'seq' | 'par' | 'conc' | 'dag'; limit: number } | null {
  const task = node.task;
  const limitOf = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback);
  switch (node.kind) {
    case 'If': {
      const result = evaluation(run, 'condition');
      const branch = result && 'value' in result && isTruthy(result.value) ? task.then : task.else;
      return { plan: listPlan(enabled(branch as TaskSpec[] | undefined)), mode: 'seq', limit: 1 };
    }
    case 'Switch': {
      const result = evaluation(run, 'value');
      const key = result && 'value' in result ? textOf(result.value) : '';
      const cases = (task.cases ?? {}) as Record<string, TaskSpec[]>;
      const chosen = Object.prototype.hasOwnProperty.call(cases, key) ? cases[key] : task.defaults;
      if (!Array.isArray(chosen)) return null;
      return { plan: listPlan(enabled(chosen as TaskSpec[])), mode: 'seq', limit: 1 };
    }
    case 'ForEach': {
      const limit = limitOf(task.concurrencyLimit, 1);
      return { plan: loopPlan(run.engineState?.values ?? [], node.main), mode: limit === 1 ? 'seq' : 'conc', limit };
    }
    case 'EachSequential':
      return { plan: loopPlan(run.engineState?.values ?? [], node.main), mode: 'seq', limit: 1 };
    case 'EachParallel':
      return { plan: loopPlan(run.engineState?.values ?? [], node.main), mode: 'par', limit: limitOf(task.concurrent, 0) };
    case 'Parallel':
      return { plan: listPlan(node.main), mode: 'par', limit: limitOf(task.concurrent, 0) };
    case 'Dag':
      return { plan: listPlan(node.main), mode: 'dag', limit: limitOf(task.concurrent, 0) };
    case 'Sequential':
      return task.tasks === undefined ? null : { plan: listPlan(node.main), mode: 'seq', limit: 1 };
    case 'WorkingDirectory':
      // Its worker ran the main tasks; only its `errors` are the engine's.
      return { plan: EMPTY_PLAN, mode: 'seq', limit: 1 };
    default:
      // AllowFailure, Pause (its legacy `tasks`), WaitFor.
      return { plan: listPlan(node.main), mode: 'seq', limit: 1 };
  }
}

/** Pause a Pause run: the run and the execution become PAUSED, and a `delay` or `timeout` sets a wake-up. */
function pause(context: Context, run: EngineTaskRun): void {
  const delay = durationOf(evaluation(run, 'delay'));
  const timeout = durationOf(evaluation(run, 'timeout'));
  const engineState: EngineRunState = {
    ...run.engineState,
    pausedAt: context.now,
    ...(delay !== undefined ? { resumeAt: context.now + delay } : timeout !== undefined ? { failAt: context.now + timeout } : {}),
  };
  const how =
    delay !== undefined
      ? `resumes by itself in ${delay / 1000} s`
      : timeout !== undefined
        ? `fails unless resumed within ${timeout / 1000} s`
        : 'waits for a resume (sluice resume, or POST /api/v1/executions/{id}/resume)';
  context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, state: 'PAUSED', engineState, log: { level: 'INFO', message: `task ${run.taskId} paused the execution: it ${how}` } });
  if (!context.actions.some((action) => action.type === 'setState' && action.state === 'PAUSED')) context.actions.push({ type: 'setState', state: 'PAUSED' });
  const wake = delay ?? timeout;
  if (wake !== undefined) context.actions.push({ type: 'wake', delayMs: wake });
}

function durationOf(result: Evaluation | undefined): number | undefined {
  if (!result || !('value' in result) || result.value === null || result.value === undefined || result.value === '') return undefined;
  return parseDuration(String(result.value));
}

/** WaitFor: after an iteration whose children all succeeded, check the condition, the maximums, then wait and loop. */
function waitForNext(context: Context, run: EngineTaskRun, node: TaskNode, group: ChildGroup, iteration: number): void {
  const task = node.task;
  const outputs = { iterationCount: iteration };
  if (group.endedCount('WARNING') > 0) return finish(context, run, node, iteration, 'WARNING', { outputs });
  const key = `condition:${iteration}`;
  const result = evaluation(run, key);
  if (!result) {
    context.actions.push({ type: 'evaluate', taskRunId: run.id, key, expression: task.condition });
    return;
  }
  if ('error' in result) return finish(context, run, node, iteration, 'FAILED', { outputs, log: { level: 'ERROR', message: `task ${run.taskId}: condition: ${result.error}` } });
  if (isTruthy(result.value)) return finish(context, run, node, iteration, 'SUCCESS', { outputs });
  const frequency = (task.checkFrequency ?? {}) as { maxIterations?: number; maxDuration?: string; interval?: string };
  const maxIterations = frequency.maxIterations ?? 100;
  const maxDurationMs = parseDuration(frequency.maxDuration ?? 'PT1H');
  const createdAt = run.engineState?.createdAt ?? context.now;
  if (iteration >= maxIterations || context.now - createdAt > maxDurationMs) {
    const why = iteration >= maxIterations ? `${maxIterations} iterations` : `its maxDuration ${frequency.maxDuration ?? 'PT1H'}`;
    const failed = task.failOnMaxReached === true;
    return finish(context, run, node, iteration, failed ? 'FAILED' : 'SUCCESS', {
      outputs,
      log: { level: failed ? 'ERROR' : 'WARN', message: `task ${run.taskId}: the condition was still false after ${why}` },
    });
  }
  const waitUntil = run.engineState?.waitUntil;
  const interval = parseDuration(frequency.interval ?? 'PT1S');
  if (waitUntil === undefined) {
    context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, engineState: { ...run.engineState, waitUntil: context.now + interval } });
    context.actions.push({ type: 'wake', delayMs: interval });
    return;
  }
  // Woken before the time (a timer may fire a millisecond early by the wall clock): wake again for what is left, or
  // nothing would decide again (unless the wait began at this very instant, with its own wake-up).
  if (context.now < waitUntil) {
    if (context.now !== waitUntil - interval) context.actions.push({ type: 'wake', delayMs: waitUntil - context.now });
    return;
  }
  const { waitUntil: _done, ...rest } = run.engineState ?? {};
  context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, iteration: iteration + 1, outputs: { iterationCount: iteration + 1 }, engineState: rest });
}

/** One pass over a RUNNING flowable run: its failures, its next children, and its state once they ended. */
function resolveFlowable(context: Context, run: EngineTaskRun): void {
  const node = context.index.node(run);
  if (!node?.kind) return;
  if (node.kind === 'Pause' && run.engineState?.pausedAt === undefined) return pause(context, run);
  const iteration = node.kind === 'WaitFor' ? (run.iteration ?? 1) : undefined;
  const main = context.index.group(run.id, 'main', iteration);
  const errors = context.index.group(run.id, 'errors', iteration);
  if (handleFailures(context, main) || handleFailures(context, errors)) return;
  const planned = mainPlan(run, node);
  if (planned === null) {
    return finish(context, run, node, iteration, 'FAILED', { log: { level: 'ERROR', message: `task ${run.taskId}: no task found to run (no case matched and no defaults)` } });
  }
  const erroring = node.kind === 'WorkingDirectory' || main.failed.size > 0 || errors.count > 0;
  if (erroring) {
    const plan = listPlan(node.errors);
    if (node.kind === 'Parallel' || node.kind === 'EachParallel' || node.kind === 'Dag') nextParallel(context, errors, plan, 0, run);
    else nextSequential(context, errors, plan, run, iteration);
    if (plan.size === 0 || (errors.count >= plan.size && errors.open === 0)) {
      // The errors branch decides when the flowable ends; its state comes from the main children (Kestra's rule).
      finish(context, run, node, iteration, node.kind === 'WorkingDirectory' ? 'FAILED' : guessFinalState(main));
    }
    return;
  }
  if (stopped(main)) {
    if (main.open === 0) finish(context, run, node, iteration, guessFinalState(main));
    return;
  }
  const { plan, mode, limit } = planned;
  switch (mode) {
    case 'seq':
      nextSequential(context, main, plan, run, iteration);
      break;
    case 'par':
      nextParallel(context, main, plan, limit, run);
      break;
    case 'conc':
      nextConcurrent(context, main, run.engineState?.values ?? [], node.main, limit, run);
      break;
    case 'dag':
      nextDag(context, main, node, limit, run);
      break;
  }
  if (main.count < plan.size || main.open > 0) return;
  if (node.kind === 'WaitFor' && iteration !== undefined) return waitForNext(context, run, node, main, iteration);
  finish(context, run, node, iteration, guessFinalState(main));
}

type FinalState = 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'CANCELLED';

/**
 * The flow's own level: its `tasks` one after another, its `errors` after a failure, its `finally` once everything else
 * ended. Returns the state the execution ends in once that is known, and undefined while it is not; the runs to create
 * meanwhile are pushed as actions. `quiet`: nothing runs any more (a flowable may end before its children: Kestra's
 * rule).
 */
function rootOutcome(context: Context, quiet: boolean): FinalState | undefined {
  const { index, structure } = context;
  const main = index.group(undefined, 'main');
  const errors = index.group(undefined, 'errors');
  if (handleFailures(context, main) || handleFailures(context, errors)) return undefined;
  /** End in `state` after the flow's `finally` tasks: they start once every other run ended, and one that fails makes the execution FAILED. */
  const endWith = (state: FinalState): FinalState | undefined => {
    if (structure.finally.length === 0) return quiet ? state : undefined;
    const group = index.group(undefined, 'finally');
    if (handleFailures(context, group)) return undefined;
    if (group.count === 0 && !quiet) return undefined;
    nextSequential(context, group, listPlan(structure.finally), undefined);
    return group.count >= structure.finally.length && group.open === 0 && quiet ? worst(state, guessFinalState(group)) : undefined;
  };
  if (main.failed.size > 0 || errors.count > 0) {
    const plan = listPlan(structure.errors);
    nextSequential(context, errors, plan, undefined);
    return errors.count >= plan.size && errors.open === 0 ? endWith('FAILED') : undefined;
  }
  if (stopped(main)) {
    if (main.open > 0) return undefined;
    const state = guessFinalState(main);
    return endWith(state === 'SUCCESS' || state === 'WARNING' ? 'FAILED' : state);
  }
  const plan = listPlan(structure.main);
  nextSequential(context, main, plan, undefined);
  return main.count >= plan.size && main.open === 0 ? endWith(guessFinalState(main)) : undefined;
}

/**
 * The state an execution in its `afterExecution` phase ends in: that of its other tasks, which all ended. Its
 * afterExecution tasks read it as `{{ execution.state }}` (the execution itself stays RUNNING until they ended).
 */
function settledOutcome(context: Context): FinalState | undefined {
  return rootOutcome({ ...context, actions: [] }, true);
}

/**
 * The execution's end: once its final state is known, its `afterExecution` tasks (Kestra 0.24+) run one after
 * another, whatever the state and whatever theirs; then the execution ends in that state.
 */
function resolveRoot(context: Context): void {
  const { index, structure } = context;
  if (structure.afterExecution.length === 0) {
    const state = rootOutcome(context, index.open.size === 0);
    if (state !== undefined) context.actions.push({ type: 'end', state });
    return;
  }
  const after = index.group(undefined, 'afterExecution');
  const plan = listPlan(structure.afterExecution);
  if (after.count === 0) {
    if (rootOutcome(context, index.open.size === 0) !== undefined) nextSequential(context, after, plan, undefined);
    return;
  }
  if (handleFailures(context, after)) return;
  nextSequential(context, after, plan, undefined);
  if (after.count < plan.size || index.open.size > 0) return;
  const state = settledOutcome(context);
  if (state !== undefined) context.actions.push({ type: 'end', state });
}

/**
 * The value of `{{ execution.state }}` for the runs of `execution`: its final state while its `afterExecution` tasks
 * run, its own state otherwise.
 */
export function executionStateFor(flow: Flow, execution: EngineExecution, options: DecideOptions): string {
  const structure = structureOf(flow);
  if (structure.afterExecution.length === 0) return execution.state;
  const index = options.index ?? RunIndex.build(structure, execution.taskRuns);
  if (index.group(undefined, 'afterExecution').count === 0) return execution.state;
  return settledOutcome({ flow, structure, index, execution, options, now: options.now.getTime(), actions: [] }) ?? execution.state;
}

function decideRunning(context: Context): void {
  for (const id of [...context.index.flowables]) {
    const run = context.index.get(id);
    if (run) resolveFlowable(context, run);
  }
  resolveRoot(context);
}

/** PAUSED: a Pause whose `delay` elapsed resumes, one whose `timeout` elapsed fails; the execution runs again once none is paused. */
function decidePaused(context: Context): void {
  let left = 0;
  for (const id of context.index.paused) {
    const run = context.index.get(id);
    const node = run ? context.index.node(run) : undefined;
    if (!run || !node) continue;
    const state = run.engineState;
    if (state?.resumeAt !== undefined && state.resumeAt <= context.now) {
      const legacy = node.main.length > 0;
      context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, state: legacy ? 'RUNNING' : 'SUCCESS', log: { level: 'INFO', message: `task ${run.taskId}: its delay elapsed, the execution resumes` } });
    } else if (state?.failAt !== undefined && state.failAt <= context.now) {
      context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, state: 'FAILED', log: { level: 'ERROR', message: `task ${run.taskId}: not resumed within its timeout` } });
    } else {
      left++;
      // Not due yet: woken early (a timer may fire a millisecond early by the wall clock), or by something else. Wake
      // again when it is due, or nothing would decide again (the decision that paused it set its own wake-up).
      const due = state?.resumeAt ?? state?.failAt;
      if (due !== undefined && state?.pausedAt !== context.now) context.actions.push({ type: 'wake', delayMs: due - context.now });
    }
  }
  if (left === 0) context.actions.push({ type: 'setState', state: 'RUNNING' });
}

/** KILLING: cancel what never started, end flowables whose children all ended, end the execution once nothing runs. */
function decideKilling(context: Context): void {
  const { index } = context;
  const open = [...index.open];
  const openChildren = new Map<string, number>();
  const closeOne = (run: EngineTaskRun): void => {
    closed++;
    if (run.parentTaskRunId !== undefined) openChildren.set(run.parentTaskRunId, (openChildren.get(run.parentTaskRunId) ?? 1) - 1);
  };
  let closed = 0;
  for (const id of open) {
    const run = index.get(id);
    if (run?.parentTaskRunId !== undefined) openChildren.set(run.parentTaskRunId, (openChildren.get(run.parentTaskRunId) ?? 0) + 1);
  }
  for (const id of open) {
    const run = index.get(id);
    if (run && (run.state === 'CREATED' || run.state === 'RETRYING' || run.state === 'PAUSED')) {
      context.actions.push({ type: 'cancelTaskRun', taskRunId: run.id, state: 'KILLED' });
      closeOne(run);
    }
  }
  // Children were created after their parents: from the newest, a flowable whose children all ended ends KILLED.
  for (const id of open.reverse()) {
    const run = index.get(id);
    if (!run || run.state === 'CREATED' || run.state === 'RETRYING' || run.state === 'PAUSED') continue;
    const resolvedHere = roleOf(index.node(run)) === 'flowable' || run.engineState?.errorsPhase === true;
    if (resolvedHere && (openChildren.get(run.id) ?? 0) === 0) {
      context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, state: 'KILLED' });
      closeOne(run);
    }
  }
  if (closed === open.length) context.actions.push({ type: 'end', state: 'KILLED' });
}

/** After a restart: runs put back to CREATED are sent again; flowables put back go on RUNNING. */
function redispatch(context: Context): void {
  for (const id of context.index.open) {
    const run = context.index.get(id);
    if (!run || run.state !== 'CREATED') continue;
    const node = context.index.node(run);
    if (!node) continue;
    if (roleOf(node) === 'flowable') context.actions.push({ type: 'updateTaskRun', taskRunId: run.id, state: 'RUNNING' });
    else context.actions.push({ type: 'dispatch', taskRunId: run.id, task: node.task, attempt: run.attempt, create: false });
  }
}

/** What to do next for `execution` of `flow`. Pure; see the state machine at the top of this file. */
export function decide(flow: Flow, execution: EngineExecution, options: DecideOptions): Decision {
  const structure = structureOf(flow);
  const index = options.index ?? RunIndex.build(structure, execution.taskRuns);
  const context: Context = { flow, structure, index, execution, options, now: options.now.getTime(), actions: [] };
  switch (execution.state) {
    case 'CREATED':
      context.actions.push({ type: 'setState', state: 'RUNNING' });
      decideRunning(context);
      break;
    case 'RESTARTED':
      context.actions.push({ type: 'setState', state: 'RUNNING' });
      redispatch(context);
      if (context.actions.every((action) => action.type !== 'updateTaskRun')) decideRunning(context);
      break;
    case 'RUNNING':
    case 'RETRYING':
      decideRunning(context);
      break;
    case 'PAUSED':
      decidePaused(context);
      break;
    case 'KILLING':
      decideKilling(context);
      break;
    default:
      // QUEUED (admitted by the scheduler) and the terminal states.
      break;
  }
  return { actions: context.actions };
}

/** Actions after which the engine must decide again (what it sees changed). */
export function needsAnotherDecision(action: EngineAction): boolean {
  return action.type === 'create' || action.type === 'updateTaskRun' || action.type === 'evaluate' || (action.type === 'setState' && action.state === 'RUNNING');
}
