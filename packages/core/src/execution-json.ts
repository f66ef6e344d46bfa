/**
 * An execution as Kestra 1.x's API shows it (its Execution, TaskRun, TaskRunAttempt and State models), with the fields
 * Sluice adds (a task run's `workerGroup` and `workerId`). Pure: the API and `sluice run --output json` both print
 * through it, and neither the database nor the engine is needed to call it.
 *
 * As Kestra's JSON does: a null field is left out; an execution's `inputs` and `outputs` and a task run's `outputs`
 * and `attempts` are left out when empty; a state carries `startDate`, `duration` (ISO-8601) and, once it has ended,
 * `endDate`, for an attempt too.
 */
import { isRecord } from './records.js';
import { formatDuration } from './schedule/index.js';

export interface StateHistoryView {
  readonly state: string;
  readonly date: string;
}

/** What a task run's JSON is made from (the database's StoredTaskRun has this shape). */
export interface TaskRunView {
  readonly id: string;
  readonly executionId: string;
  readonly taskId: string;
  readonly parentTaskRunId: string | null;
  readonly value: string | null;
  readonly iteration: number | null;
  readonly state: string;
  readonly stateHistory: readonly StateHistoryView[];
  /** `[{state: {current, histories}, workerId?}]`, one per attempt. */
  readonly attempts: readonly unknown[];
  readonly outputs: unknown;
  readonly workerGroup: string | null;
  readonly workerId: string | null;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
}

/** What an execution's JSON is made from (the database's StoredExecution has this shape). */
export interface ExecutionView {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly flowRevision: number;
  readonly state: string;
  readonly stateHistory: readonly StateHistoryView[];
  readonly inputs: Record<string, unknown>;
  readonly outputs: unknown;
  readonly labels: readonly { readonly key: string; readonly value: string }[];
  readonly parentId: string | null;
  readonly restartedFrom: string | null;
  readonly trigger: unknown;
  readonly scheduleDate: Date | null;
  readonly attemptNumber: number;
  readonly originalCreatedDate: Date | null;
  readonly startDate: Date;
  readonly endDate: Date | null;
  readonly taskRuns: readonly TaskRunView[];
}

/** The states after which nothing more happens to a run or an attempt (Kestra's terminated states). */
const ENDED_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'SKIPPED', 'RETRIED']);

/** Kestra's State: `current`, `histories`, `startDate`, `endDate` once ended, and `duration` (to now while it runs). */
export function stateJson(current: string, histories: readonly StateHistoryView[], startDate: Date | null, endDate: Date | null): Record<string, unknown> {
  const start = startDate?.getTime();
  const end = endDate?.getTime() ?? Date.now();
  return {
    current,
    histories,
    ...(startDate ? { startDate: startDate.toISOString() } : {}),
    ...(endDate ? { endDate: endDate.toISOString() } : {}),
    ...(start !== undefined ? { duration: formatDuration(Math.max(0, end - start)) } : {}),
  };
}

/** A map worth showing: Kestra leaves out null and empty maps. */
function nonEmpty(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && Object.keys(value).length > 0;
}

function dateOf(raw: unknown): Date | null {
  if (typeof raw !== 'string') return null;
  const date = new Date(raw);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** One attempt (`{state: {current, histories}, workerId?}` as stored): its state dated like the task run's. */
export function attemptJson(attempt: unknown): unknown {
  if (!isRecord(attempt) || !isRecord(attempt.state) || typeof attempt.state.current !== 'string') return attempt;
  const current = attempt.state.current;
  const histories = Array.isArray(attempt.state.histories) ? (attempt.state.histories as StateHistoryView[]) : [];
  const first = dateOf(histories[0]?.date);
  const last = ENDED_STATES.has(current) ? dateOf(histories[histories.length - 1]?.date) : null;
  return { ...attempt, state: stateJson(current, histories, first, last) };
}

/** A task run as Kestra returns it, with Sluice's `workerGroup` and `workerId`. */
export function taskRunJson(execution: Pick<ExecutionView, 'namespace' | 'flowId'>, run: TaskRunView): Record<string, unknown> {
  return {
    id: run.id,
    executionId: run.executionId,
    namespace: execution.namespace,
    flowId: execution.flowId,
    taskId: run.taskId,
    ...(run.parentTaskRunId !== null ? { parentTaskRunId: run.parentTaskRunId } : {}),
    ...(run.value !== null ? { value: run.value } : {}),
    ...(run.iteration !== null ? { iteration: run.iteration } : {}),
    state: stateJson(run.state, run.stateHistory, run.startDate, run.endDate),
    ...(run.attempts.length > 0 ? { attempts: run.attempts.map(attemptJson) } : {}),
    ...(nonEmpty(run.outputs) ? { outputs: run.outputs } : {}),
    dynamic: false,
    workerGroup: run.workerGroup,
    workerId: run.workerId,
  };
}

/** An execution as Kestra returns it (`GET /executions/{id}`). */
export function executionJson(execution: ExecutionView): Record<string, unknown> {
  return {
    id: execution.id,
    namespace: execution.namespace,
    flowId: execution.flowId,
    flowRevision: execution.flowRevision,
    ...(nonEmpty(execution.inputs) ? { inputs: execution.inputs } : {}),
    labels: execution.labels,
    state: stateJson(execution.state, execution.stateHistory, execution.startDate, execution.endDate),
    taskRunList: execution.taskRuns.map((run) => taskRunJson(execution, run)),
    ...(nonEmpty(execution.outputs) ? { outputs: execution.outputs } : {}),
    ...(execution.parentId ? { parentId: execution.parentId } : {}),
    ...(execution.restartedFrom ? { originalId: execution.restartedFrom } : {}),
    ...(execution.trigger ? { trigger: execution.trigger } : {}),
    ...(execution.scheduleDate ? { scheduleDate: execution.scheduleDate.toISOString() } : {}),
    deleted: false,
    metadata: { attemptNumber: execution.attemptNumber, originalCreatedDate: (execution.originalCreatedDate ?? execution.startDate).toISOString() },
  };
}
