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

/** The columns of an execution (alias `e`) and its task runs as one JSON array, oldest first. */
export const EXECUTION_SELECT = `e.id, e.namespace, e.flow_id, e.flow_revision, e.state, e.state_history, e.inputs, e.outputs, e.labels,
       e.parent_id, e.restarted_from, e.trigger, e.start_date, e.end_date,
       COALESCE((SELECT json_agg(tr ORDER BY tr.created_at, tr.id) FROM task_runs tr WHERE tr.execution_id = e.id), '[]'::json) AS task_runs`;

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
