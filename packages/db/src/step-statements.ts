/**
 * The statements a scheduler step sends at every step (issue #20): each is prepared once per connection (SQL
 * `PREPARE`), then sent as `EXECUTE name(literal, ...)` inside the step's one multi-statement query. Postgres then
 * parses the short EXECUTE and runs the kept plan, where an inline INSERT was parsed, analysed, rewritten and planned
 * at every step (a quarter of Postgres' time per execution before this).
 *
 * Arguments are SQL literals (rows.ts: `literal`, `jsonLiteral`, `dateLiteral`), the same with or without preparing, so
 * a step can also be written inline ({@link inlineSql}): the template with its `$n` replaced by the literals. A
 * connection that cannot keep a session's prepared statements (a pooler in transaction mode) uses that; see
 * SchedulerStore.
 */
import { EXECUTION_ROW_COLUMNS } from './rows.js';

export interface StepStatement {
  /** The prepared statement's name in the session. */
  readonly name: string;
  /** The parameters' types, in order. */
  readonly types: readonly string[];
  /** The statement, with `$1`... for the parameters and no `$` anywhere else. */
  readonly sql: string;
}

function statement(name: string, types: readonly string[], sql: string): StepStatement {
  return { name, types, sql };
}

/** The columns of a log line, as a step inserts it (one row prepared, several inline) and insertLogs does. */
export const LOG_COLUMNS = 'execution_id, namespace, flow_id, task_id, task_run_id, attempt_number, level, message, "timestamp"';
/** The columns of a metric, as a step inserts it. */
export const METRIC_COLUMNS = 'execution_id, namespace, flow_id, task_id, task_run_id, attempt_number, type, name, value, tags, "timestamp"';
/** The columns a new execution is inserted with (execution-repository.ts: `executionInsert`). */
export const EXECUTION_INSERT_COLUMNS =
  'id, namespace, flow_id, flow_revision, state, state_history, inputs, labels, parent_id, trigger, schedule_date, start_date, updated_at, end_date, version';

const TEXT = 'text';
const INT = 'integer';
const JSON = 'jsonb';
const DATE = 'timestamptz';

export const STEP_STATEMENTS = {
  /** sluice_set_execution_state (migration 20261206100000_step_functions): the state change, given the version. */
  setState: statement('sluice_step_set_state', [TEXT, INT, TEXT, JSON, DATE, DATE], 'SELECT sluice_set_execution_state($1, $2, $3, $4, $5, $6) AS version'),
  /** The claim of a step that changes no column of the row. */
  claim: statement('sluice_step_claim', [TEXT, INT], 'SELECT sluice_claim_execution($1, $2) AS version'),
  /** sluice_save_task_run: the upsert of one task run. */
  saveTaskRun: statement(
    'sluice_step_save_task_run',
    [TEXT, TEXT, TEXT, TEXT, TEXT, INT, JSON, TEXT, JSON, JSON, JSON, JSON, TEXT, TEXT, DATE, DATE],
    'SELECT sluice_save_task_run($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)',
  ),
  /** An end noted for Flow triggers, when some live flow declares one (migration 20261206093000_flow_trigger_events). */
  noteEnd: statement(
    'sluice_step_note_end',
    [TEXT],
    'INSERT INTO execution_ends (execution_id) SELECT $1 WHERE EXISTS (SELECT 1 FROM flows WHERE flow_trigger AND latest AND NOT deleted) ON CONFLICT (execution_id) DO NOTHING',
  ),
  /** The execution with its task runs. */
  read: statement('sluice_step_read', [TEXT], 'SELECT * FROM sluice_execution_with_runs($1)'),
  /** The execution's own row, without its task runs (a step's read-back: it knows them). */
  readRow: statement('sluice_step_read_row', [TEXT], `SELECT ${EXECUTION_ROW_COLUMNS} FROM executions e WHERE e.id = $1`),
  /** The row lock of a locked step. */
  lock: statement('sluice_step_lock', [TEXT], 'SELECT 1 FROM executions WHERE id = $1 FOR UPDATE'),
  /** The version a locked step moves on. */
  bump: statement('sluice_step_bump', [TEXT], 'UPDATE executions SET version = version + 1 WHERE id = $1 RETURNING version'),
  /** One log line. */
  log: statement('sluice_step_log', [TEXT, TEXT, TEXT, TEXT, TEXT, INT, TEXT, TEXT, DATE], `INSERT INTO logs (${LOG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
  /** One metric. */
  metric: statement(
    'sluice_step_metric',
    [TEXT, TEXT, TEXT, TEXT, TEXT, INT, TEXT, TEXT, 'float8', JSON, DATE],
    `INSERT INTO metrics (${METRIC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
  ),
  /** A new execution (the API's first step). */
  insertExecution: statement(
    'sluice_step_insert_execution',
    [TEXT, TEXT, TEXT, INT, TEXT, JSON, JSON, JSON, TEXT, JSON, DATE, DATE, DATE, DATE, INT],
    `INSERT INTO executions (${EXECUTION_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
  ),
} as const;

const ALL: readonly StepStatement[] = Object.values(STEP_STATEMENTS);

/** Writes one statement of a step given its arguments (SQL literals). */
export type StepSql = (statement: StepStatement, args: readonly string[]) => string;

function checkArity(statement: StepStatement, args: readonly string[]): void {
  if (args.length !== statement.types.length) throw new RangeError(`${statement.name} takes ${statement.types.length} arguments, got ${args.length}`);
}

/** The statement inline: its template with the literals in place of `$1`... (parsed and planned where it runs). */
export const inlineSql: StepSql = (statement, args) => {
  checkArity(statement, args);
  // One pass over the template: a literal that contains `$2` is not read again.
  return statement.sql.replace(/\$(\d+)/g, (_, n: string) => args[Number(n) - 1] as string);
};

/** The statement as an EXECUTE of its prepared form (see {@link prepareStatements}). */
export const preparedSql: StepSql = (statement, args) => {
  checkArity(statement, args);
  return `EXECUTE ${statement.name}(${args.join(', ')})`;
};

/** The names of the step statements (to look for them in `pg_prepared_statements`). */
export const STEP_STATEMENT_NAMES: readonly string[] = ALL.map((s) => s.name);

/** The PREPARE of each statement not in `present` (names a session holds already), as one multi-statement query. */
export function prepareStatements(present: ReadonlySet<string>): string | undefined {
  const missing = ALL.filter((s) => !present.has(s.name));
  if (missing.length === 0) return undefined;
  return missing.map((s) => `PREPARE ${s.name}(${s.types.join(', ')}) AS ${s.sql}`).join(';\n');
}
