/**
 * Plain `pg` reads and writes for the hot path of an execution (create, read, the scheduler's locked steps). Prisma
 * stays the client for everything else; these queries share its connection pool (createDb hands one `pg.Pool` to both).
 * Measured (docs/benchmarks.md, issue #5): the Prisma runtime cost about 10 ms of CPU per one-task execution, most of
 * it building queries and mapping results; the same statements through `pg` cost a fraction of that.
 *
 * An execution and its task runs are read in one statement: the task runs come back as one JSON array
 * (`json_agg` of the rows, oldest first), so dates in it are ISO strings that the mappers turn into Dates.
 */
import pg from 'pg';
import type { StateEntry, StoredExecution, StoredTaskRun } from './execution-repository.js';

/** A pool or a checked-out client: anything that runs a query. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** The columns of an execution's own row (alias `e`), without its task runs: {@link EXECUTION_SELECT} but `task_runs`. */
export const EXECUTION_ROW_COLUMNS = `e.id, e.namespace, e.flow_id, e.flow_revision, e.state, e.state_history, e.inputs, e.outputs, e.labels,
       e.parent_id, e.restarted_from, e.trigger, e.schedule_date, e.attempt_number, e.original_created_date, e.start_date, e.end_date`;

/**
 * The columns of an execution (alias `e`) and its task runs as one JSON array, oldest first. The function
 * sluice_execution_with_runs (migration 20261206100000_step_functions) returns the same columns: change both.
 */
export const EXECUTION_SELECT = `${EXECUTION_ROW_COLUMNS},
       COALESCE((SELECT json_agg(tr ORDER BY tr.seq) FROM task_runs tr WHERE tr.execution_id = e.id), '[]'::json) AS task_runs`;

export interface ExecutionRow {
  id: string;
  namespace: string;
  flow_id: string;
  flow_revision: number;
  state: string;
  state_history: unknown;
  inputs: unknown;
  outputs: unknown;
  labels: unknown;
  parent_id: string | null;
  restarted_from: string | null;
  trigger: unknown;
  schedule_date: Date | null;
  attempt_number: number;
  original_created_date: Date | null;
  start_date: Date;
  end_date: Date | null;
  task_runs: unknown;
}

/** A task run as `json_agg` renders it: column names, dates as strings. */
interface TaskRunJson {
  id: string;
  execution_id: string;
  task_id: string;
  parent_task_run_id: string | null;
  value: string | null;
  iteration: number | null;
  engine_state: unknown;
  attempts: unknown;
  state: string;
  state_history: unknown;
  worker_group: string | null;
  worker_id: string | null;
  outputs: unknown;
  metrics: unknown;
  start_date: string | null;
  end_date: string | null;
}

/** The version of a newly created execution (executions.version; every change moves it on). */
export const NEW_EXECUTION_VERSION = 0;

/** `text` for a LIKE pattern, matched literally (`\`, `%` and `_` escaped with the default escape character). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function asArray<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function asRecord(value: unknown): Record<string, unknown> {
  return (value && typeof value === 'object' && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
}

const dateOrNull = (value: string | null): Date | null => (value === null ? null : new Date(value));

export function taskRunFromJson(run: TaskRunJson): StoredTaskRun {
  return {
    id: run.id,
    executionId: run.execution_id,
    taskId: run.task_id,
    parentTaskRunId: run.parent_task_run_id,
    value: run.value,
    iteration: run.iteration ?? null,
    engineState: run.engine_state && typeof run.engine_state === 'object' ? (run.engine_state as Record<string, unknown>) : null,
    state: run.state,
    stateHistory: asArray<StateEntry>(run.state_history),
    attempts: asArray<unknown>(run.attempts),
    outputs: run.outputs,
    metrics: run.metrics,
    workerGroup: run.worker_group,
    workerId: run.worker_id,
    startDate: dateOrNull(run.start_date),
    endDate: dateOrNull(run.end_date),
  };
}

export function executionFromRow(row: ExecutionRow): StoredExecution {
  return {
    id: row.id,
    namespace: row.namespace,
    flowId: row.flow_id,
    flowRevision: row.flow_revision,
    state: row.state,
    stateHistory: asArray<StateEntry>(row.state_history),
    inputs: asRecord(row.inputs),
    outputs: row.outputs,
    labels: asArray(row.labels),
    parentId: row.parent_id,
    restartedFrom: row.restarted_from,
    scheduleDate: row.schedule_date,
    attemptNumber: row.attempt_number,
    originalCreatedDate: row.original_created_date,
    trigger: (row.trigger ?? null) as StoredExecution['trigger'],
    startDate: row.start_date,
    endDate: row.end_date,
    taskRuns: asArray<TaskRunJson>(row.task_runs).map(taskRunFromJson),
  };
}

/** The execution with its task runs (one statement), or undefined. */
export async function selectExecution(db: Queryable, id: string): Promise<StoredExecution | undefined> {
  const result = await db.query<ExecutionRow>(`SELECT ${EXECUTION_SELECT} FROM executions e WHERE e.id = $1`, [id]);
  const row = result.rows[0];
  return row ? executionFromRow(row) : undefined;
}

/** A JSON parameter: pg would send a JS array as a Postgres array, so JSON values are stringified explicitly. */
export const jsonParam = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

// Literals for statements sent several at a time (the simple query protocol takes no parameters): a locked step sends
// BEGIN, its lock and its read in one round trip, and its writes with COMMIT in another. Strings go through pg's
// escapeLiteral (quotes and backslashes doubled, E'' when needed), so no value can end its literal.

/** A text or integer literal, or NULL. */
export function literal(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
    return String(value);
  }
  return pg.escapeLiteral(value);
}

/** A jsonb literal, or NULL for null/undefined. */
export const jsonLiteral = (value: unknown): string => (value === null || value === undefined ? 'NULL' : `${pg.escapeLiteral(JSON.stringify(value))}::jsonb`);

/** A timestamptz literal, or NULL. */
export const dateLiteral = (value: Date | null): string => (value === null ? 'NULL' : `${pg.escapeLiteral(value.toISOString())}::timestamptz`);

/**
 * `value` as a jsonb column gives it back: through JSON (undefined members dropped, dates as strings) with object
 * keys in jsonb's order (shorter keys first, then by their UTF-8 bytes). A copy kept in memory then matches a read.
 */
export function asStoredJson(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return reorderKeys(JSON.parse(JSON.stringify(value)) as unknown);
}

function reorderKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorderKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compareJsonbKeys(a, b));
  const ordered: Record<string, unknown> = {};
  for (const [key, member] of entries) ordered[key] = reorderKeys(member);
  return ordered;
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;

function compareJsonbKeys(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length - y.length || Buffer.compare(x, y);
}

/** Largest execution (as JSON) sent along with an update; a bigger one is read back by whoever needs it. */
const WIRE_LIMIT = 256 * 1024;

/**
 * An execution as a message carries it (JSON: dates as ISO strings), or undefined when it is too big to send to every
 * API instance (over {@link WIRE_LIMIT} as JSON). {@link executionFromWire} turns it back.
 */
export function executionToWire(execution: StoredExecution): Record<string, unknown> | undefined {
  const json = executionWireJson(execution);
  return json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>);
}

/**
 * {@link executionToWire}'s form as JSON text, for a message that is sent as text anyway (`ExecutionUpdate`'s
 * `executionJson`): the execution is serialized once, not serialized, parsed and serialized again.
 */
export function executionWireJson(execution: StoredExecution): string | undefined {
  const json = JSON.stringify(execution);
  return json.length > WIRE_LIMIT ? undefined : json;
}

/** The execution a message carried ({@link executionToWire}), or undefined when it does not look like one. */
export function executionFromWire(value: unknown): StoredExecution | undefined {
  const wire = asRecord(value);
  if (typeof wire.id !== 'string' || typeof wire.state !== 'string' || typeof wire.startDate !== 'string' || !Array.isArray(wire.taskRuns)) return undefined;
  const date = (x: unknown): Date | null => (typeof x === 'string' ? new Date(x) : null);
  return {
    ...(wire as unknown as StoredExecution),
    scheduleDate: date(wire.scheduleDate),
    attemptNumber: typeof wire.attemptNumber === 'number' ? wire.attemptNumber : 1,
    originalCreatedDate: date(wire.originalCreatedDate),
    startDate: new Date(wire.startDate),
    endDate: date(wire.endDate),
    taskRuns: (wire.taskRuns as Record<string, unknown>[]).map((run) => ({ ...(run as unknown as StoredTaskRun), startDate: date(run.startDate), endDate: date(run.endDate) })),
  };
}

/**
 * A new execution as the scheduler's first step needs it (the `created` message's snapshot, `@sluice/queue`'s
 * ExecutionSnapshot): with it, that step need not read the execution back.
 */
export function executionSnapshot(execution: StoredExecution): {
  version: number;
  flowRevision: number;
  state: string;
  inputs: Record<string, unknown>;
  labels: { key: string; value: string }[];
  trigger: StoredExecution['trigger'];
  startDate: string;
} {
  return {
    version: NEW_EXECUTION_VERSION,
    flowRevision: execution.flowRevision,
    state: execution.state,
    inputs: execution.inputs,
    labels: execution.labels,
    trigger: execution.trigger,
    startDate: execution.startDate.toISOString(),
  };
}
