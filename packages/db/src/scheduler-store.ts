import type pg from 'pg';
import type { PrismaClient } from './generated/prisma/client.js';
import { executionInsert, TERMINAL_STATES } from './execution-repository.js';
import type { ExecutionTrigger, StateEntry, StoredExecution, StoredTaskRun } from './execution-repository.js';
import { assertLogEntry } from './log-repository.js';
import { insertMetricsStatement, metricValues } from './metric-repository.js';
import type { NewMetricEntry } from './metric-repository.js';
import { copyRuns, upsertRun } from './run-list.js';
import { asArray, asStoredJson, dateLiteral, executionFromRow, jsonLiteral, literal, NEW_EXECUTION_VERSION } from './rows.js';
import type { ExecutionRow } from './rows.js';
import { inlineSql, LOG_COLUMNS, prepareStatements, preparedSql, STEP_STATEMENT_NAMES, STEP_STATEMENTS as STEP } from './step-statements.js';
import type { StepSql } from './step-statements.js';

/**
 * What the scheduler reads and writes. Every change to one execution happens inside {@link SchedulerStore.withExecution},
 * a transaction holding that execution's row lock (`SELECT ... FOR UPDATE`): several scheduler replicas may handle
 * messages of the same execution at once, and the lock makes them take turns, each seeing the other's writes.
 */

/**
 * A task run as the scheduler works with it: a stored task run without what the scheduler never sets (its execution
 * is the locked one; `value` belongs to flowable tasks), with `attempts` in Kestra's shape:
 * `[{state: {current, histories}, workerId?}]`.
 */
export type SchedulerTaskRun = Omit<StoredTaskRun, 'executionId' | 'attempts'> & { readonly attempts: AttemptEntry[] };

export interface AttemptEntry {
  readonly state: { readonly current: string; readonly histories: StateEntry[] };
  readonly workerId?: string;
}

export interface LockedExecution {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly flowRevision: number;
  readonly state: string;
  readonly inputs: Record<string, unknown>;
  readonly labels: { key: string; value: string }[];
  /** What started it, when a trigger did: `trigger.*` in templates. */
  readonly trigger: ExecutionTrigger | null;
  /** Not to start before this (Kestra's `scheduleDate`), if set. */
  readonly scheduleDate: Date | null;
  /** The first execution of the chain this one retries (retry behavior CREATE_NEW_EXECUTION), if it is a retry. */
  readonly restartedFrom: string | null;
  /** The execution that waits for this one to end (it started it with a Subflow task, `wait: true`), if any. */
  readonly parentId?: string | null;
  /** Which attempt of its flow run this is: 1 unless a retry with behavior CREATE_NEW_EXECUTION started it. */
  readonly attemptNumber: number;
  /** When the chain's first execution started; null on a first attempt (then it is `startDate`). */
  readonly originalCreatedDate: Date | null;
  readonly startDate: Date;
  readonly taskRuns: SchedulerTaskRun[];
}

/** The execution a retry with behavior CREATE_NEW_EXECUTION starts: CREATED, to start at `scheduleDate`. */
export interface RetryExecution {
  readonly id: string;
  readonly attemptNumber: number;
  readonly scheduleDate: Date;
}

/** A child execution a Subflow task starts: CREATED, to be started once the step committed. */
export interface ChildExecution {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly flowRevision: number;
  readonly inputs: Record<string, unknown>;
  readonly labels: readonly { key: string; value: string }[];
  /** Kestra's link from child to parent: `{id: <task id>, type: <task type>, variables: {executionId, namespace, flowId, flowRevision}}`. */
  readonly trigger: ExecutionTrigger;
  /** Set when the parent waits for its end (a result is then written for it when it ends). */
  readonly parentId: string | null;
  /** The parent's task run that waits for it. */
  readonly parentTaskRunId?: string | null;
  readonly scheduleDate: Date | null;
}

/** The end of a child execution its parent waits for (see {@link ExecutionTx.takeSubflowResults}). */
export interface SubflowResult {
  /** The execution the parent created. */
  readonly childId: string;
  /** The execution that ended: the child, or the one that retried it as a new execution. */
  readonly executionId: string;
  /** The parent's task run that waits for it, when the child was started with it (ForEachItem). */
  readonly parentTaskRunId: string | null;
  readonly state: string;
  readonly outputs: Record<string, unknown> | null;
}

/** One execution of a subflow chain, from the locked execution up to its first ancestor. */
export interface ChainLink {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
}

/** The writes allowed while an execution is locked. */
export interface ExecutionTx {
  /** Move the execution to `state` (history appended; a terminal state sets the end date). */
  setState(state: string, now: Date): Promise<void>;
  setOutputs(outputs: Record<string, unknown>): Promise<void>;
  /** Replace the execution's labels (the Labels task). */
  setLabels(labels: readonly { key: string; value: string }[]): Promise<void>;
  /** Insert or replace a task run (all fields written). */
  saveTaskRun(run: SchedulerTaskRun): Promise<void>;
  /**
   * Reads and writes on the same connection as the lock. Everything a locked step needs goes through here: a query
   * through the pool while holding a connection can deadlock once every pooled connection holds a lock.
   */
  flowRevision(namespace: string, flowId: string, revision: number): Promise<unknown>;
  /** Workers of `group` with a heartbeat at or after `since`. */
  liveWorkerCount(group: string, since: Date): Promise<number>;
  /** Log lines of the execution, written with the step's other writes (at COMMIT). */
  appendLogs(
    entries: readonly { taskId?: string | null; taskRunId?: string | null; attemptNumber?: number | null; level: string; message: string; timestamp: Date }[],
  ): Promise<void>;
  /**
   * Metric rows of the execution's task runs (see {@link taskRunMetricRows}), written with the step's other writes (one
   * INSERT, at COMMIT); the execution's namespace and flow are the locked one's.
   */
  appendMetrics(rows: readonly Omit<NewMetricEntry, 'executionId' | 'namespace' | 'flowId'>[]): Promise<void>;
  /**
   * The execution as this step leaves it, read in the step's last round trip (no extra one): resolves once the step
   * committed, with undefined if it did not (its attempt was abandoned or failed). Keep it for after the step: the
   * step awaiting it would wait for its own commit.
   */
  readBack(): Promise<StoredExecution | undefined>;
  /**
   * Store the execution that retries this one (behavior CREATE_NEW_EXECUTION): same flow revision, inputs, labels and
   * trigger, in CREATED with `scheduleDate`; its `restartedFrom` names the chain's first execution and its
   * `originalCreatedDate` that one's start. Written with the step (at COMMIT).
   */
  createRetryExecution(retry: RetryExecution, now: Date): Promise<void>;
  /**
   * Store a child execution (a Subflow task), CREATED, written with the step (at COMMIT); the caller publishes its
   * `created` message after the commit.
   */
  createChildExecution(child: ChildExecution, now: Date): Promise<void>;
  /** Take (read and delete, with the step) the results of this execution's children that ended. Needs the lock. */
  takeSubflowResults(): Promise<SubflowResult[]>;
  /**
   * The locked execution and its ancestors through parents that wait for them (`parentId`), nearest first, at most
   * `limit` of them. Needs the lock.
   */
  subflowChain(limit: number): Promise<ChainLink[]>;
  /** The latest revision of a flow that is not deleted: its number and parsed flow. Needs the lock. */
  latestFlowRevision(namespace: string, flowId: string): Promise<{ revision: number; parsed: unknown } | undefined>;
  /** Take the flow's admission lock (after the execution's row lock: always in that order) until commit. */
  lockFlow(): Promise<void>;
  /** Executions of this flow holding a concurrency slot (RUNNING, RETRYING, KILLING, RESTARTED), this one excluded. */
  countActive(): Promise<number>;
}

/** The scheduler's view of a stored task run. */
function toSchedulerRun({ executionId: _execution, attempts, ...run }: StoredTaskRun): SchedulerTaskRun {
  return { ...run, attempts: attempts as AttemptEntry[] };
}

export interface TriggerSlot {
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
  readonly nextFireDate: Date | null;
  /** When the trigger's row was made (the trigger was first seen). */
  readonly createdAt: Date;
}

function toLocked(found: StoredExecution): LockedExecution {
  return {
    id: found.id,
    namespace: found.namespace,
    flowId: found.flowId,
    flowRevision: found.flowRevision,
    state: found.state,
    inputs: found.inputs,
    labels: found.labels,
    trigger: found.trigger,
    scheduleDate: found.scheduleDate,
    restartedFrom: found.restartedFrom,
    parentId: found.parentId,
    attemptNumber: found.attemptNumber,
    originalCreatedDate: found.originalCreatedDate,
    startDate: found.startDate,
    taskRuns: found.taskRuns.map(toSchedulerRun),
  };
}

/**
 * A known execution: the scheduler's copy of what Postgres holds at `version`. Values are kept as a read would
 * return them (jsonb key order, see {@link asStoredJson}), so a step decided from memory sees what it would have read.
 */
export interface KnownExecution {
  readonly version: number;
  readonly execution: LockedExecution;
}

/** A new execution, stored or about to be (ExecutionRepository.prepare), as a step from memory starts from it. */
export function knownNew(stored: StoredExecution): KnownExecution {
  return { version: NEW_EXECUTION_VERSION, execution: toLocked(stored) };
}

/**
 * A known execution as JSON (dates as ISO-8601 strings): a process that takes a step and leaves the next to another
 * (the API, which takes a new execution's first step) sends it with the task jobs it queues, and the worker returns it
 * with its results, so the scheduler's next step starts from it instead of reading the execution. Read back with
 * {@link knownFromWire}; a copy that is stale by then costs that step one round trip (its claim fails, it reads).
 */
export function knownToWire(known: KnownExecution): unknown {
  return { version: known.version, execution: known.execution };
}

/**
 * A known execution from {@link knownToWire}'s JSON, or undefined for anything else (the step then reads the
 * execution). Its content is trusted as far as the version goes: the step's claim holds only if the execution is
 * still at that version, and workers are trusted with their results anyway.
 */
export function knownFromWire(value: unknown): KnownExecution | undefined {
  if (!isObject(value) || !Number.isSafeInteger(value.version) || !isObject(value.execution)) return undefined;
  const e = value.execution;
  const strings = ['id', 'namespace', 'flowId', 'state'] as const;
  if (strings.some((key) => typeof e[key] !== 'string') || !Number.isSafeInteger(e.flowRevision) || !Number.isSafeInteger(e.attemptNumber)) return undefined;
  if (!isObject(e.inputs) || !Array.isArray(e.labels) || !Array.isArray(e.taskRuns)) return undefined;
  const startDate = wireDate(e.startDate);
  const scheduleDate = e.scheduleDate === null || e.scheduleDate === undefined ? null : wireDate(e.scheduleDate);
  const originalCreatedDate = e.originalCreatedDate === null || e.originalCreatedDate === undefined ? null : wireDate(e.originalCreatedDate);
  if (!startDate || scheduleDate === undefined || originalCreatedDate === undefined) return undefined;
  const taskRuns: SchedulerTaskRun[] = [];
  for (const run of e.taskRuns as unknown[]) {
    if (!isObject(run) || typeof run.id !== 'string' || typeof run.taskId !== 'string' || typeof run.state !== 'string') return undefined;
    if (!Array.isArray(run.stateHistory) || !Array.isArray(run.attempts)) return undefined;
    const runStart = run.startDate === null ? null : wireDate(run.startDate);
    const runEnd = run.endDate === null ? null : wireDate(run.endDate);
    if (runStart === undefined || runEnd === undefined) return undefined;
    taskRuns.push({ ...(run as unknown as SchedulerTaskRun), startDate: runStart, endDate: runEnd });
  }
  const execution: LockedExecution = {
    ...(e as unknown as LockedExecution),
    scheduleDate,
    originalCreatedDate,
    startDate,
    taskRuns,
  };
  return { version: value.version as number, execution };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A date from an ISO-8601 string (or a Date: a queue that passes objects as they are), or undefined. */
function wireDate(value: unknown): Date | undefined {
  if (typeof value !== 'string' && !(value instanceof Date)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Raised (SQLSTATE) by `sluice_claim_execution` when the execution is no longer at the expected version. */
const VERSION_CHANGED = 'SL409';
/** Raised when an EXECUTE names a statement the session does not hold. */
const NO_PREPARED_STATEMENT = '26000';
/** Raised (with "cached plan must not change result type") when a prepared statement's result columns changed. */
const PLAN_CHANGED = '0A000';
/** Connections whose session holds the step statements (see SchedulerStore.#sqlFor). */
const preparedSessions = new WeakSet<pg.PoolClient>();
/** Executions kept in memory per store; the oldest are dropped past it. */
const KNOWN_LIMIT = 10_000;
/**
 * Log lines or metrics of one step up to this many go as EXECUTEs of their prepared one-row statement, one each;
 * more as one multi-row INSERT, which Postgres parses and plans at each step but runs once.
 */
const FEW_ROWS = 4;

/** A step decided from memory needs something only a held lock gives (a flow's admission lock): take the lock. */
class NeedsLock extends Error {}

/**
 * The writes of a step. Each write becomes one statement in `pending`, and is applied to `shadow` (the execution as
 * the step leaves it, for the next step from memory). With a lock held (`locked`), reads first send what is pending,
 * so a step reads its own writes; without one (a step from memory), reads that need no lock go straight to Postgres
 * and those that do throw {@link NeedsLock}.
 */
function stepWrites(client: pg.PoolClient, execution: LockedExecution, step: StepState, locked: boolean, sql: StepSql): ExecutionTx {
  const { pending, shadow } = step;
  const id = literal(execution.id);
  const flush = async (): Promise<void> => {
    if (!locked) throw new NeedsLock();
    if (pending.length === 0) return;
    await client.query(pending.splice(0).join(';\n'));
  };
  const read = async (): Promise<void> => {
    if (locked) await flush();
  };
  /** A change of the execution's row (see RowChange). */
  const updateRow = (change: RowChange): void => {
    step.rowUpdates++;
    if (!step.firstRowUpdate && !locked) step.firstRowUpdate = { index: pending.length, ...change };
    pending.push('set' in change ? `UPDATE executions SET ${change.set} WHERE id = ${id}` : change.call('NULL'));
  };
  return {
    async setState(state, now) {
      const endDate = TERMINAL_STATES.includes(state) ? now : null;
      shadow.state = state;
      // sluice_set_execution_state (migration 20261206100000_step_functions): the UPDATE, its plan kept by the session.
      const args = [literal(state), jsonLiteral([{ state, date: now.toISOString() }]), dateLiteral(endDate), dateLiteral(now)];
      updateRow({ call: (expected) => sql(STEP.setState, [id, expected, ...args]), state: { state, at: now, endDate } });
      // An end that Flow triggers may listen to: noted for them in the same transaction, when some live flow declares
      // one (one probe of a partial index; see migration 20261206093000_flow_trigger_events).
      if (endDate) {
        pending.push(sql(STEP.noteEnd, [id]));
      }
      // A child its parent waits for: its end is the parent's result, in the same transaction (after the outputs, set
      // before the end). RETRIED is not an end for the parent: the execution that retries it carries the same parent.
      if (endDate && state !== 'RETRIED' && execution.parentId) {
        pending.push(
          `INSERT INTO subflow_results (child_id, execution_id, parent_id, parent_task_run_id, state, outputs)
           SELECT COALESCE(restarted_from, id), id, parent_id, parent_task_run_id, state, outputs FROM executions WHERE id = ${id} AND parent_id IS NOT NULL
           ON CONFLICT (child_id) DO UPDATE SET execution_id = EXCLUDED.execution_id, parent_id = EXCLUDED.parent_id,
             parent_task_run_id = EXCLUDED.parent_task_run_id, state = EXCLUDED.state, outputs = EXCLUDED.outputs, created_at = clock_timestamp()`,
        );
      }
    },
    async setLabels(labels) {
      shadow.labels = labels.map((label) => ({ key: label.key, value: label.value }));
      updateRow({ set: `labels = ${jsonLiteral(shadow.labels)}, updated_at = clock_timestamp()` });
    },
    async setOutputs(outputs) {
      updateRow({ set: `outputs = ${jsonLiteral(outputs)}, updated_at = clock_timestamp()` });
    },
    async saveTaskRun(run) {
      upsertRun(shadow.taskRuns, storedTaskRun(run));
      // One call of sluice_save_task_run (its plan kept by the session; see migration 20261206100000_step_functions):
      // an upsert whose created_at is the insertion time (task runs are read back in that order).
      pending.push(
        sql(STEP.saveTaskRun, [
          literal(run.id),
          id,
          literal(run.taskId),
          literal(run.parentTaskRunId),
          literal(run.value),
          literal(run.iteration),
          jsonLiteral(run.engineState),
          literal(run.state),
          jsonLiteral(run.stateHistory),
          jsonLiteral(run.attempts),
          jsonLiteral(run.outputs),
          jsonLiteral(run.metrics),
          literal(run.workerGroup),
          literal(run.workerId),
          dateLiteral(run.startDate),
          dateLiteral(run.endDate),
        ]),
      );
    },
    async flowRevision(namespace, flowId, revision) {
      await read();
      const { rows } = await client.query<{ parsed: unknown }>('SELECT parsed FROM flows WHERE namespace = $1 AND flow_id = $2 AND revision = $3', [
        namespace,
        flowId,
        revision,
      ]);
      return rows[0]?.parsed;
    },
    async liveWorkerCount(group, since) {
      await read();
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM workers WHERE worker_group = $1 AND last_heartbeat >= $2', [group, since]);
      return rows[0]?.n ?? 0;
    },
    async appendLogs(entries) {
      const rows = entries.map((entry) => {
        assertLogEntry(entry);
        const values = [id, literal(execution.namespace), literal(execution.flowId), literal(entry.taskId ?? null), literal(entry.taskRunId ?? null)];
        return [...values, literal(entry.attemptNumber ?? null), literal(entry.level), literal(entry.message), dateLiteral(entry.timestamp)];
      });
      // A few lines (most steps that log) as EXECUTEs of the prepared statement; a bigger batch as one INSERT.
      if (rows.length <= FEW_ROWS) for (const row of rows) pending.push(sql(STEP.log, row));
      else pending.push(`INSERT INTO logs (${LOG_COLUMNS}) VALUES (${rows.map((row) => row.join(', ')).join('), (')})`);
    },
    async appendMetrics(rows) {
      const entries = rows.map((row) => ({ ...row, executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId }));
      // A script task's two (its duration and exit code) and a few of its own as EXECUTEs; more as one INSERT.
      if (entries.length <= FEW_ROWS) {
        for (const entry of entries) pending.push(sql(STEP.metric, metricValues(entry)));
        return;
      }
      const statement = insertMetricsStatement(entries);
      if (statement !== undefined) pending.push(statement);
    },
    readBack() {
      return new Promise<StoredExecution | undefined>((resolve) => step.readBacks.push(resolve));
    },
    async createRetryExecution(retry, now) {
      const history = [{ state: 'CREATED', date: now.toISOString() }];
      pending.push(
        `INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, inputs, labels, parent_id, restarted_from, trigger,
                                 schedule_date, attempt_number, original_created_date, start_date, updated_at, version)
         SELECT ${literal(retry.id)}, namespace, flow_id, flow_revision, 'CREATED', ${jsonLiteral(history)}, inputs, labels, parent_id,
                COALESCE(restarted_from, id), trigger, ${dateLiteral(retry.scheduleDate)}, ${literal(retry.attemptNumber)},
                COALESCE(original_created_date, start_date), ${dateLiteral(now)}, ${dateLiteral(now)}, ${NEW_EXECUTION_VERSION}
           FROM executions WHERE id = ${id}`,
      );
    },
    async createChildExecution(child, now) {
      pending.push(insertExecutionStatement(child, now));
    },
    async takeSubflowResults() {
      await flush();
      const { rows } = await client.query<{ child_id: string; execution_id: string; parent_task_run_id: string | null; state: string; outputs: Record<string, unknown> | null }>(
        'DELETE FROM subflow_results WHERE parent_id = $1 RETURNING child_id, execution_id, parent_task_run_id, state, outputs',
        [execution.id],
      );
      return rows.map((row) => ({ childId: row.child_id, executionId: row.execution_id, parentTaskRunId: row.parent_task_run_id, state: row.state, outputs: row.outputs }));
    },
    async subflowChain(limit) {
      await flush();
      const { rows } = await client.query<{ id: string; namespace: string; flow_id: string }>(
        `WITH RECURSIVE chain AS (
           SELECT id, namespace, flow_id, parent_id, 1 AS depth FROM executions WHERE id = $1
           UNION ALL
           SELECT e.id, e.namespace, e.flow_id, e.parent_id, c.depth + 1 FROM executions e JOIN chain c ON e.id = c.parent_id WHERE c.depth < $2
         )
         SELECT id, namespace, flow_id FROM chain ORDER BY depth`,
        [execution.id, limit],
      );
      return rows.map((row) => ({ id: row.id, namespace: row.namespace, flowId: row.flow_id }));
    },
    async latestFlowRevision(namespace, flowId) {
      await read();
      const { rows } = await client.query<{ revision: number; parsed: unknown }>(
        'SELECT revision, parsed FROM flows WHERE namespace = $1 AND flow_id = $2 AND latest AND NOT deleted LIMIT 1',
        [namespace, flowId],
      );
      return rows[0];
    },
    async lockFlow() {
      await flush();
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${execution.namespace}/${execution.flowId}`]);
    },
    async countActive() {
      await flush();
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM executions WHERE namespace = $1 AND flow_id = $2 AND state IN ('RUNNING', 'RETRYING', 'KILLING', 'RESTARTED') AND id <> $3",
        [execution.namespace, execution.flowId, execution.id],
      );
      return rows[0]?.n ?? 0;
    },
  };
}

/** The INSERT of a new CREATED execution a scheduler starts (a Subflow's child, a Flow trigger's execution). */
function insertExecutionStatement(execution: ChildExecution, now: Date): string {
  const history = [{ state: 'CREATED', date: now.toISOString() }];
  return `INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, inputs, labels, parent_id, parent_task_run_id, trigger,
                                  schedule_date, start_date, updated_at, version)
          VALUES (${literal(execution.id)}, ${literal(execution.namespace)}, ${literal(execution.flowId)}, ${literal(execution.flowRevision)}, 'CREATED',
                  ${jsonLiteral(history)}, ${jsonLiteral(execution.inputs)}, ${jsonLiteral(execution.labels)}, ${literal(execution.parentId)},
                  ${literal(execution.parentTaskRunId ?? null)},
                  ${jsonLiteral(execution.trigger)}, ${dateLiteral(execution.scheduleDate)}, ${dateLiteral(now)}, ${dateLiteral(now)}, ${NEW_EXECUTION_VERSION})`;
}

/** An ended execution as Flow triggers see it. */
export interface EndedExecution {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly flowRevision: number;
  readonly state: string;
  readonly inputs: Record<string, unknown>;
  readonly outputs: Record<string, unknown> | null;
  readonly labels: { key: string; value: string }[];
  readonly trigger: ExecutionTrigger | null;
  readonly startDate: Date;
  readonly endDate: Date | null;
}

/** A live flow that declares a Flow trigger (its latest revision). */
export interface FlowWithFlowTrigger {
  readonly namespace: string;
  readonly flowId: string;
  readonly revision: number;
  readonly parsed: unknown;
  /** Ids of its triggers disabled over the API (the flow's YAML may say otherwise). */
  readonly disabledTriggers?: readonly string[];
}

/** Which window of a Flow trigger's MultipleCondition or `preconditions`. */
export interface FlowTriggerWindowKey {
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
  /** The MultipleCondition's `id`, or the `preconditions`' `id`. */
  readonly conditionId: string;
}

/** A stored window: its bounds and the sub-conditions satisfied in it (name → true). */
export interface FlowTriggerWindow extends FlowTriggerWindowKey {
  readonly start: Date;
  readonly end: Date;
  readonly results: Readonly<Record<string, boolean>>;
}

/**
 * The windows of Flow triggers, as {@link SchedulerStore.takeExecutionEnds} hands them to its `evaluate`: on that
 * transaction, so what the evaluation writes commits (or rolls back) with the ends it took.
 */
export interface FlowTriggerWindowStore {
  /** Lock these windows until the transaction ends (in key order, whatever the order given: no deadlock). */
  lock(keys: readonly FlowTriggerWindowKey[]): Promise<void>;
  /** The stored window, if any (expired or not). */
  get(key: FlowTriggerWindowKey): Promise<FlowTriggerWindow | undefined>;
  /** Store the window, replacing the one of its key. */
  save(window: FlowTriggerWindow): Promise<void>;
  delete(key: FlowTriggerWindowKey): Promise<void>;
  /** Delete every window that ended before `now`. */
  deleteExpired(now: Date): Promise<void>;
}

/** The text a window's key is locked by (also its sort order). */
export function windowLockKey(key: FlowTriggerWindowKey): string {
  return JSON.stringify(['flow-trigger-window', key.namespace, key.flowId, key.triggerId, key.conditionId]);
}

/** {@link FlowTriggerWindowStore} on one transaction's client. */
function windowStoreOn(client: pg.PoolClient): FlowTriggerWindowStore {
  const locked = new Set<string>();
  const where = 'namespace = $1 AND flow_id = $2 AND trigger_id = $3 AND condition_id = $4';
  const params = (key: FlowTriggerWindowKey): string[] => [key.namespace, key.flowId, key.triggerId, key.conditionId];
  return {
    async lock(keys) {
      // A transaction-scoped advisory lock per key, taken in one order by every scheduler: it holds whether or not
      // the row exists yet (a row lock could not), and the reads after it see what the previous holder committed.
      const wanted = [...new Set(keys.map(windowLockKey))].filter((k) => !locked.has(k)).sort();
      for (const k of wanted) {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [k]);
        locked.add(k);
      }
    },
    async get(key) {
      const { rows } = await client.query<{ start_date: Date; end_date: Date; results: Record<string, boolean> | null }>(
        `SELECT start_date, end_date, results FROM flow_trigger_windows WHERE ${where}`,
        params(key),
      );
      const row = rows[0];
      if (!row) return undefined;
      return { ...key, start: row.start_date, end: row.end_date, results: row.results ?? {} };
    },
    async save(window) {
      await client.query(
        `INSERT INTO flow_trigger_windows (namespace, flow_id, trigger_id, condition_id, start_date, end_date, results, updated_at)
              VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now())
         ON CONFLICT (namespace, flow_id, trigger_id, condition_id)
         DO UPDATE SET start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, results = EXCLUDED.results, updated_at = now()`,
        [...params(window), window.start, window.end, JSON.stringify(window.results)],
      );
    },
    async delete(key) {
      await client.query(`DELETE FROM flow_trigger_windows WHERE ${where}`, params(key));
    },
    async deleteExpired(now) {
      // Rows another scheduler holds are skipped (it or a later evaluation deletes them): a delete never waits.
      await client.query(
        `DELETE FROM flow_trigger_windows w USING (
           SELECT namespace, flow_id, trigger_id, condition_id FROM flow_trigger_windows WHERE end_date < $1 FOR UPDATE SKIP LOCKED
         ) expired
         WHERE (w.namespace, w.flow_id, w.trigger_id, w.condition_id) = (expired.namespace, expired.flow_id, expired.trigger_id, expired.condition_id)`,
        [now],
      );
    },
  };
}

/** An execution as a read returns it (see {@link asStoredJson}). */
function storedExecution(execution: LockedExecution): LockedExecution {
  return {
    ...execution,
    inputs: asStoredJson(execution.inputs) as Record<string, unknown>,
    labels: asStoredJson(execution.labels) as { key: string; value: string }[],
    trigger: asStoredJson(execution.trigger) as ExecutionTrigger | null,
    taskRuns: execution.taskRuns.map(storedTaskRun),
  };
}

/** What one attempt at a step collects: its writes, the execution as they leave it, and who waits for a read-back. */
interface StepState {
  readonly pending: string[];
  readonly shadow: { taskRuns: SchedulerTaskRun[]; state: string; labels?: { key: string; value: string }[] };
  readonly readBacks: ((execution: StoredExecution | undefined) => void)[];
  /** UPDATEs of the execution's row in `pending`: the version trigger moves the version on once for each. */
  rowUpdates: number;
  /**
   * The first UPDATE of the execution's row: its place in `pending`, and its SET list or the function call that makes
   * it. A step from memory makes it its claim (one UPDATE where the claim and the change made two; see #fromMemory).
   */
  firstRowUpdate?: { readonly index: number } & RowChange;
}

/**
 * A change of the execution's row: `set`, its SET list; or `call`, a function call that makes it, given the version
 * the change is conditional on (a literal, or NULL for none; see StepState.firstRowUpdate). `state`: the change is
 * this state change alone, so a new execution's INSERT can carry it instead (see SchedulerStore.withExecution).
 */
type RowChange = ({ readonly set: string } | { readonly call: (expected: string) => string }) & {
  readonly state?: { readonly state: string; readonly at: Date; readonly endDate: Date | null };
};

function newStep(execution: LockedExecution): StepState {
  return { pending: [], shadow: { state: execution.state, taskRuns: copyRuns(execution.taskRuns) }, readBacks: [], rowUpdates: 0 };
}

/**
 * The statements that end a step: the read-back when asked for (the execution's row alone: its task runs are the
 * step's shadow, which holds every task run as a read returns it), then `last` if given, then COMMIT.
 */
function closingStatements(step: StepState, key: string, sql: StepSql, last?: string): string[] {
  return [...(step.readBacks.length > 0 ? [sql(STEP.readRow, [key])] : []), ...(last ? [last] : []), 'COMMIT'];
}

/**
 * After the closing statements ran: the read-back handed to who asked. Returns the `version` that `last` returned,
 * when `last` was given.
 */
function closeStep(step: StepState, results: pg.QueryResult[], withLast: boolean): number | undefined {
  const commit = results.length - 1;
  const version = withLast ? (results[commit - 1]?.rows[0] as { version?: number } | undefined)?.version : undefined;
  const row = step.readBacks.length > 0 ? (results[commit - (withLast ? 2 : 1)]?.rows[0] as Omit<ExecutionRow, 'task_runs'> | undefined) : undefined;
  // The task runs as the step left them, in their stored order: json_agg'ing them again in Postgres and parsing that
  // cost more than the rest of the step's end (issue #20's ninth pass).
  const read = row ? { ...executionFromRow({ ...row, task_runs: [] }), taskRuns: step.shadow.taskRuns.map((run) => ({ ...run, executionId: row.id })) } : undefined;
  for (const resolve of step.readBacks.splice(0)) resolve(read);
  return version;
}

/** An attempt that did not commit: who waits for its read-back gets undefined. */
function abandon(step: StepState): void {
  for (const resolve of step.readBacks.splice(0)) resolve(undefined);
}

/** A task run as a read returns it: its jsonb values in Postgres' key order. */
function storedTaskRun(run: SchedulerTaskRun): SchedulerTaskRun {
  return {
    ...run,
    stateHistory: asStoredJson(run.stateHistory) as StateEntry[],
    attempts: asStoredJson(run.attempts) as AttemptEntry[],
    outputs: asStoredJson(run.outputs),
    engineState: asStoredJson(run.engineState) as Record<string, unknown> | null,
    metrics: asStoredJson(run.metrics),
  };
}

export class SchedulerStore {
  /** Executions this store advanced (or was told about), at their last known version: see withExecution. */
  readonly #known = new Map<string, KnownExecution>();
  /** Steps so far: decided from memory and written in one round trip, locked, and from memory but stale (then locked). */
  readonly steps = { fromMemory: 0, locked: 0, stale: 0 };
  /** Whether steps use the prepared step statements (step-statements.ts); see #sqlFor. */
  #prepare = true;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /**
   * Run `fn` as one step of the execution: no other step of it (in any scheduler) interleaves, and `fn` sees what the
   * step before it wrote. Returns undefined (without calling `fn`) when the execution does not exist.
   *
   * Two ways, in as few round trips as possible (loopback round trips are most of a step's cost):
   * - **From memory**, when this store knows the execution (it made the step before, or `hint` is a snapshot the API
   *   took at creation; the store works on its own copy of it): `fn` runs on that copy without a lock, then ONE multi-statement query sends BEGIN, the claim
   *   (the row lock, and the next version only if the version is still the known one: the step's first change to the
   *   row made conditional, else `sluice_claim_execution`), the writes and COMMIT. If anything changed the execution meanwhile, the claim aborts the transaction and the step
   *   runs again the locked way; `fn` must therefore do nothing but decide and write through `tx` (it may run twice).
   *   A step that writes nothing only checks the version.
   * - **Locked**: BEGIN, the row lock and the read of the execution with its task runs as one query; writes are held
   *   back and sent together, before the step's next read or with the COMMIT.
   *
   * `insert` (with `hint` made from it, {@link knownNew}): an execution not stored yet (ExecutionRepository.prepare),
   * whose INSERT opens the step's transaction, so the execution is stored with its first step or not at all. When the
   * step's first change of the row is a state change, the INSERT carries it (the row is written once, not inserted
   * then updated). A step that writes nothing sends the INSERT alone.
   */
  async withExecution<T>(id: string, fn: (execution: LockedExecution, tx: ExecutionTx) => Promise<T>, hint?: KnownExecution, insert?: StoredExecution): Promise<T | undefined> {
    if (insert !== undefined && (insert.id !== id || hint?.execution.id !== id || this.#known.has(id))) throw new Error(`withExecution: an insert needs the new execution ${id} as its hint`);
    const attempt = await this.#attempt(id, fn, hint, insert);
    if ('result' in attempt) return attempt.result;
    // The step failed on a prepared statement the session lacks or can no longer run (see #notePrepared) and was
    // rolled back: it is taken again, inline (the store writes inline from now on).
    const again = await this.#attempt(id, fn, hint, insert, false);
    if ('result' in again) return again.result;
    throw new Error(`withExecution: the step of execution ${id} was to be retried twice`);
  }

  /**
   * One attempt of {@link withExecution} on one pooled connection. Resolves with the step's result, or with `{
   * unprepared }` when the step failed on a prepared statement and may be retried inline (`retry`), once rolled back
   * and the connection released.
   */
  async #attempt<T>(
    id: string,
    fn: (execution: LockedExecution, tx: ExecutionTx) => Promise<T>,
    hint: KnownExecution | undefined,
    insert: StoredExecution | undefined,
    retry = true,
  ): Promise<{ result: T | undefined } | { unprepared: true }> {
    const known = this.#known.get(id) ?? (hint?.execution.id === id ? { version: hint.version, execution: storedExecution(hint.execution) } : undefined);
    const client = await this.pool.connect();
    // Whether a transaction may be open on the connection; a connection that cannot even roll back is dropped rather
    // than returned to the pool.
    let open = false;
    let broken: Error | undefined;
    let sql: StepSql | undefined;
    try {
      sql = await this.#sqlFor(client);
      if (known) {
        const attempt = await this.#fromMemory(client, sql, id, known, fn, () => (open = true), insert);
        if ('result' in attempt) return attempt;
        open = attempt.aborted;
      }
      // The aborted transaction of a stale attempt is rolled back in the locked attempt's first round trip.
      const aborted = open;
      open = true;
      return { result: await this.#locked(id, fn, client, sql, aborted, insert) };
    } catch (error) {
      this.#known.delete(id);
      if (open) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
      }
      if (sql === preparedSql && this.#notePrepared(client, error) && retry && !broken) return { unprepared: true };
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * The step decided from the known copy and written in one round trip. Resolves with the result, or says the step
   * must run locked (the copy was stale, or the step needs a lock), with `aborted` when the connection holds the
   * aborted transaction of the claim that failed. `opening` is called before a transaction is opened.
   */
  async #fromMemory<T>(
    client: pg.PoolClient,
    sql: StepSql,
    id: string,
    known: KnownExecution,
    fn: (execution: LockedExecution, tx: ExecutionTx) => Promise<T>,
    opening: () => void,
    insert?: StoredExecution,
  ): Promise<{ result: T | undefined } | { aborted: boolean }> {
    const key = literal(id);
    const step = newStep(known.execution);
    try {
      let result: T;
      try {
        result = await fn(known.execution, stepWrites(client, known.execution, step, false, sql));
      } catch (error) {
        if (error instanceof NeedsLock) return { aborted: false };
        this.#forget(id, known);
        throw error;
      }
      if (step.pending.length === 0 && step.readBacks.length === 0 && insert !== undefined) {
        // A new execution's step that writes nothing: store the execution as it is.
        await client.query(executionInsert(insert, insert.startDate, sql));
        this.#remember(id, known.version, known.execution);
        this.steps.fromMemory++;
        return { result };
      }
      if (step.pending.length === 0 && step.readBacks.length === 0) {
        // Nothing to write: the step holds if the execution is still at the known version.
        const { rows } = await client.query<{ version: number }>(`SELECT version FROM executions WHERE id = ${key}`);
        if (rows[0]?.version === known.version) {
          this.steps.fromMemory++;
          return { result };
        }
        this.steps.stale++;
        this.#forget(id, known);
        return { aborted: false };
      }
      opening();
      let results: pg.QueryResult[];
      // Where the claim's result is in `results`: after BEGIN, and the INSERT if any (none when the INSERT carries it).
      let claimAt: number | undefined = 1;
      // The step's first change to the row claims it (its UPDATE sets the version itself, so the trigger leaves it);
      // a step that changes only task runs, logs... claims with an UPDATE of the version alone. When the change claimed
      // no row, the version moved on: sluice_claim_execution tries the same claim and raises SL409 (versions only grow,
      // so it cannot claim what the UPDATE could not; COALESCE evaluates it only then). A state change is a call of
      // sluice_set_execution_state, which does the same given the version.
      const change = step.firstRowUpdate;
      const expected = literal(known.version);
      // A new execution whose step starts with a state change: its INSERT carries the change, and claims nothing (the
      // row is new); the version moves on once for each later UPDATE of the row.
      const folded = insert !== undefined && change?.state !== undefined ? change.state : undefined;
      try {
        const claim = !change
          ? sql(STEP.claim, [key, expected])
          : 'call' in change
            ? change.call(expected)
            : `WITH claimed AS (UPDATE executions SET ${change.set}, version = version + 1 WHERE id = ${key} AND version = ${expected} RETURNING version) ` +
              `SELECT COALESCE((SELECT version FROM claimed), sluice_claim_execution(${key}, ${expected})) AS version`;
        const writes = change ? step.pending.filter((_, index) => index !== change.index) : step.pending;
        let opened: string[];
        if (!insert) opened = ['BEGIN', claim];
        else if (folded) {
          const started: StoredExecution = {
            ...insert,
            state: folded.state,
            stateHistory: [...insert.stateHistory, { state: folded.state, date: folded.at.toISOString() }],
            endDate: folded.endDate,
          };
          opened = ['BEGIN', executionInsert(started, folded.at, sql)];
          claimAt = undefined;
        } else opened = ['BEGIN', executionInsert(insert, insert.startDate, sql), claim];
        results = (await client.query([...opened, ...writes, ...closingStatements(step, key, sql)].join(';\n'))) as unknown as pg.QueryResult[];
        if (claimAt !== undefined) claimAt = opened.length - 1;
      } catch (error) {
        this.#forget(id, known);
        if ((error as { code?: unknown }).code !== VERSION_CHANGED) throw error;
        this.steps.stale++;
        return { aborted: true };
      }
      closeStep(step, results, false);
      // The claim's version, moved on once more by the version trigger for each UPDATE of the row the step made.
      const claimed = claimAt === undefined ? known.version : (results[claimAt]?.rows[0] as { version?: number } | undefined)?.version;
      if (claimed !== undefined) this.#remember(id, claimed + step.rowUpdates - (change ? 1 : 0), { ...known.execution, ...step.shadow });
      this.steps.fromMemory++;
      return { result };
    } finally {
      abandon(step);
    }
  }

  /**
   * How this connection's steps write the step statements: as EXECUTEs of their prepared forms, prepared here at the
   * connection's first step (one round trip in its life: the names it holds, then the PREPAREs missing), or inline
   * once a session was found without them (see #notePrepared).
   */
  async #sqlFor(client: pg.PoolClient): Promise<StepSql> {
    if (!this.#prepare) return inlineSql;
    if (preparedSessions.has(client)) return preparedSql;
    const { rows } = await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements WHERE name = ANY($1::text[])', [STEP_STATEMENT_NAMES]);
    const prepare = prepareStatements(new Set(rows.map((row) => row.name)));
    if (prepare !== undefined) await client.query(prepare);
    preparedSessions.add(client);
    return preparedSql;
  }

  /**
   * Whether `error` came from a prepared step statement the session cannot run, and if so, this store writes its
   * steps inline from then on (what it did before they were prepared; nothing else changes):
   * - SQLSTATE 26000, the session does not hold it: the connection is not one session (a pooler in transaction mode
   *   hands each transaction to any server connection);
   * - "cached plan must not change result type" (0A000): the schema changed under a running process (a newer
   *   version's migration), so that a statement would now return other columns than it was prepared with.
   */
  #notePrepared(client: pg.PoolClient, error: unknown): boolean {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const unprepared = code === NO_PREPARED_STATEMENT || (code === PLAN_CHANGED && typeof message === 'string' && message.includes('cached plan must not change result type'));
    if (!unprepared) return false;
    preparedSessions.delete(client);
    this.#prepare = false;
    return true;
  }

  /** Whether this store's steps use the prepared step statements (false once a session lacked them). */
  get prepared(): boolean {
    return this.#prepare;
  }

  /**
   * Forget what this store knows of one execution, or of all (no id): another scheduler advanced it, so the copy here
   * is stale, and trying it would cost a round trip for nothing.
   */
  forget(id?: string): void {
    if (id === undefined) this.#known.clear();
    else this.#known.delete(id);
  }

  /** This store's copy of an execution, if it has one (see {@link knownToWire}). */
  known(id: string): KnownExecution | undefined {
    return this.#known.get(id);
  }

  /** The version this store knows an execution at, if it knows it (tests, observability). */
  knownVersion(id: string): number | undefined {
    return this.#known.get(id)?.version;
  }

  #remember(id: string, version: number, execution: LockedExecution): void {
    const current = this.#known.get(id);
    if (current && current.version >= version) return;
    this.#known.delete(id);
    if (TERMINAL_STATES.includes(execution.state)) return;
    if (this.#known.size >= KNOWN_LIMIT) {
      const oldest = this.#known.keys().next().value;
      if (oldest !== undefined) this.#known.delete(oldest);
    }
    this.#known.set(id, { version, execution });
  }

  #forget(id: string, known: KnownExecution): void {
    if (this.#known.get(id) === known) this.#known.delete(id);
  }

  /**
   * The locked step. `aborted`: the connection holds the aborted transaction of a stale step from memory, rolled back
   * in the same round trip. A failure leaves the transaction open for withExecution to roll back (it rethrows).
   */
  async #locked<T>(
    id: string,
    fn: (execution: LockedExecution, tx: ExecutionTx) => Promise<T>,
    client: pg.PoolClient,
    sql: StepSql,
    aborted: boolean,
    insert?: StoredExecution,
  ): Promise<T | undefined> {
    // Under READ COMMITTED each statement reads its own snapshot: the read, a statement after the lock, sees what
    // the previous holder of the lock committed.
    const key = literal(id);
    const results = (await client.query(
      [
        ...(aborted ? ['ROLLBACK'] : []),
        'BEGIN',
        ...(insert === undefined ? [] : [executionInsert(insert, insert.startDate, sql)]),
        sql(STEP.lock, [key]),
        sql(STEP.read, [key]),
      ].join(';\n'),
    )) as unknown as pg.QueryResult<ExecutionRow>[];
    const row = results[results.length - 1]?.rows[0];
    if (!row) {
      await client.query('ROLLBACK');
      return undefined;
    }
    this.steps.locked++;
    const execution = toLocked(executionFromRow(row));
    const step = newStep(execution);
    try {
      const result = await fn(execution, stepWrites(client, execution, step, true, sql));
      // Every step moves the version on, so a scheduler that knows the execution from before knows it is stale.
      const bump = sql(STEP.bump, [key]);
      const results = (await client.query([...step.pending, ...closingStatements(step, key, sql, bump)].join(';\n'))) as unknown as pg.QueryResult[];
      const version = closeStep(step, results, true);
      if (version !== undefined) this.#remember(id, version, { ...execution, ...step.shadow });
      return result;
    } finally {
      abandon(step);
    }
  }

  /** The parsed flow of one revision (deleted revisions included: a running execution keeps its flow). */
  async flowRevision(namespace: string, flowId: string, revision: number): Promise<unknown> {
    const row = await this.prisma.flow.findUnique({ where: { namespace_flowId_revision: { namespace, flowId, revision } }, select: { parsed: true } });
    return row?.parsed;
  }

  /** The oldest QUEUED execution of the flow, if any. */
  async oldestQueued(namespace: string, flowId: string): Promise<string | undefined> {
    const row = await this.prisma.execution.findFirst({ where: { namespace, flowId, state: 'QUEUED' }, orderBy: { startDate: 'asc' }, select: { id: true } });
    return row?.id;
  }

  /**
   * Take up to `limit` execution ends noted for Flow triggers (the oldest first, skipping those another scheduler holds)
   * and let `evaluate` say which executions they start; those are stored and the ends deleted in one transaction, so
   * each end is evaluated once. `evaluate` reads and writes the windows of MultipleConditions and `preconditions` on
   * the same transaction. Resolves with the executions created (to start after the commit), or undefined when there
   * was no end to take. A failure rolls everything back, windows included: the ends are taken again later.
   */
  async takeExecutionEnds(
    limit: number,
    evaluate: (ends: readonly EndedExecution[], flows: readonly FlowWithFlowTrigger[], windows: FlowTriggerWindowStore) => Promise<ChildExecution[]>,
    now: () => Date,
  ): Promise<ChildExecution[] | undefined> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const { rows: taken } = await client.query<{ execution_id: string }>(
          'SELECT execution_id FROM execution_ends ORDER BY created_at, execution_id LIMIT $1 FOR UPDATE SKIP LOCKED',
          [limit],
        );
        if (taken.length === 0) {
          await client.query('COMMIT');
          return undefined;
        }
        const ids = taken.map((row) => row.execution_id);
        const { rows } = await client.query<{
          id: string; namespace: string; flow_id: string; flow_revision: number; state: string; inputs: Record<string, unknown>;
          outputs: Record<string, unknown> | null; labels: unknown; trigger: ExecutionTrigger | null; start_date: Date; end_date: Date | null;
        }>(
          `SELECT id, namespace, flow_id, flow_revision, state, inputs, outputs, labels, trigger, start_date, end_date
             FROM executions WHERE id = ANY($1::text[]) ORDER BY end_date, id`,
          [ids],
        );
        // With the triggers disabled over the API (`PUT /triggers`, `sluice trigger disable`).
        const { rows: flows } = await client.query<{ namespace: string; flow_id: string; revision: number; parsed: unknown; disabled: string[] }>(
          `SELECT f.namespace, f.flow_id, f.revision, f.parsed,
                  COALESCE((SELECT array_agg(t.trigger_id) FROM triggers t WHERE t.namespace = f.namespace AND t.flow_id = f.flow_id AND t.disabled), '{}') AS disabled
             FROM flows f WHERE f.flow_trigger AND f.latest AND NOT f.deleted ORDER BY f.namespace, f.flow_id`,
        );
        const ends = rows.map((row) => ({
          id: row.id,
          namespace: row.namespace,
          flowId: row.flow_id,
          flowRevision: row.flow_revision,
          state: row.state,
          inputs: row.inputs,
          outputs: row.outputs,
          labels: asArray(row.labels) as { key: string; value: string }[],
          trigger: row.trigger,
          startDate: row.start_date,
          endDate: row.end_date,
        }));
        const created = await evaluate(
          ends,
          flows.map((flow) => ({ namespace: flow.namespace, flowId: flow.flow_id, revision: flow.revision, parsed: flow.parsed, disabledTriggers: flow.disabled })),
          windowStoreOn(client),
        );
        const at = now();
        const statements = [...created.map((execution) => insertExecutionStatement(execution, at)), `DELETE FROM execution_ends WHERE execution_id = ANY(ARRAY[${ids.map(literal).join(', ')}]::text[])`, 'COMMIT'];
        await client.query(statements.join(';\n'));
        return created;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  /**
   * Whether some execution end waits for Flow triggers (a cheap probe, so an idle scheduler opens no transaction), and
   * whether any live flow declares a Flow trigger (no end is noted while none does), in one query.
   */
  async executionEndsState(): Promise<{ ends: boolean; listening: boolean }> {
    const { rows } = await this.pool.query<{ ends: boolean; listening: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM execution_ends) AS ends, EXISTS (SELECT 1 FROM flows WHERE flow_trigger AND latest AND NOT deleted) AS listening',
    );
    return { ends: rows[0]?.ends === true, listening: rows[0]?.listening !== false };
  }

  /** Children of `parentId` that it waits for and that have not ended (a kill of the parent kills them). */
  async waitingChildren(parentId: string): Promise<string[]> {
    const rows = await this.prisma.execution.findMany({ where: { parentId, state: { notIn: [...TERMINAL_STATES] } }, select: { id: true } });
    return rows.map((row) => row.id);
  }

  /**
   * Subflow results older than `before` (their parent's wake-up was lost): the parents to wake. Results of parents that
   * ended meanwhile (a parent killed before its child's end arrived) are deleted instead: nothing will take them.
   */
  async staleSubflowResults(before: Date): Promise<string[]> {
    await this.pool.query(
      `DELETE FROM subflow_results r USING executions p WHERE p.id = r.parent_id AND r.created_at < $1 AND p.state = ANY($2::text[])`,
      [before, [...TERMINAL_STATES]],
    );
    const { rows } = await this.pool.query<{ parent_id: string }>('SELECT DISTINCT parent_id FROM subflow_results WHERE created_at < $1 LIMIT 1000', [before]);
    return rows.map((row) => row.parent_id);
  }

  /** Ids of executions that have not ended (to resume after a scheduler restart). */
  async unfinishedExecutionIds(): Promise<{ id: string; state: string }[]> {
    return this.prisma.execution.findMany({
      where: { state: { notIn: [...TERMINAL_STATES] } },
      select: { id: true, state: true },
      orderBy: { startDate: 'asc' },
    });
  }

  // Worker registry.

  /** Record a worker's heartbeat (registering it on the first one). */
  async heartbeat(id: string, group: string, now: Date = new Date()): Promise<void> {
    await this.prisma.worker.upsert({ where: { id }, create: { id, group, lastHeartbeat: now }, update: { group, lastHeartbeat: now } });
  }

  async removeWorker(id: string): Promise<void> {
    await this.prisma.worker.deleteMany({ where: { id } });
  }

  /** Workers of `group` whose last heartbeat is at or after `since`. */
  async liveWorkers(group: string, since: Date): Promise<{ id: string; lastHeartbeat: Date }[]> {
    return this.prisma.worker.findMany({ where: { group, lastHeartbeat: { gte: since } }, select: { id: true, lastHeartbeat: true } });
  }

  /**
   * Task runs a worker ran (not a flowable, which no worker runs, nor a WorkingDirectory's child, which its parent's
   * job stands for) still RUNNING in an unfinished execution whose worker has sent no heartbeat since `liveSince`
   * (or never registered), and that have not changed since `staleBefore`: their worker is gone and nobody took over.
   */
  async lostTaskRuns(liveSince: Date, staleBefore: Date): Promise<{ id: string; executionId: string; taskId: string; attempt: number; workerId: string | null }[]> {
    const rows = await this.prisma.$queryRaw<{ id: string; execution_id: string; task_id: string; attempts: unknown; worker_id: string | null }[]>`
      SELECT tr.id, tr.execution_id, tr.task_id, tr.attempts, tr.worker_id
        FROM task_runs tr JOIN executions e ON e.id = tr.execution_id
       WHERE tr.state = 'RUNNING' AND tr.worker_id IS NOT NULL AND (tr.parent_task_run_id IS NULL OR NOT EXISTS (SELECT 1 FROM task_runs p WHERE p.id = tr.parent_task_run_id AND p.worker_id IS NOT NULL AND COALESCE(p.engine_state->>'errorsPhase', 'false') <> 'true'))
         AND e.end_date IS NULL AND tr.updated_at < ${staleBefore}
         AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = tr.worker_id AND w.last_heartbeat >= ${liveSince})
       LIMIT 100`;
    return rows.map((row) => ({
      id: row.id,
      executionId: row.execution_id,
      taskId: row.task_id,
      attempt: Math.max(1, asArray(row.attempts).length),
      workerId: row.worker_id,
    }));
  }

  // Reconciliation: what the queue should hold, from what Postgres (the truth) says.

  /**
   * Task runs waiting for a worker (not a WorkingDirectory's child), unchanged since `before`: CREATED (attempt: the last one, at least 1) or
   * RETRYING (attempt: the next one), in a RUNNING or RETRYING execution. Their jobs should be in their group's queue;
   * the reconciliation sends again those that are not. `retryAfter` (RETRYING only): the failed attempt's end.
   */
  async waitingTaskRuns(
    before: Date,
    limit = 500,
  ): Promise<{ id: string; executionId: string; taskId: string; state: 'CREATED' | 'RETRYING'; attempt: number; workerGroup: string | null; endDate: Date | null }[]> {
    const rows = await this.prisma.$queryRaw<
      { id: string; execution_id: string; task_id: string; state: 'CREATED' | 'RETRYING'; attempts: number; worker_group: string | null; end_date: Date | null }[]
    >`
      SELECT tr.id, tr.execution_id, tr.task_id, tr.state, jsonb_array_length(tr.attempts)::int AS attempts, tr.worker_group, tr.end_date
        FROM executions e JOIN task_runs tr ON tr.execution_id = e.id
       WHERE e.state IN ('RUNNING', 'RETRYING') AND tr.state IN ('CREATED', 'RETRYING')
         AND (tr.parent_task_run_id IS NULL OR NOT EXISTS (SELECT 1 FROM task_runs p WHERE p.id = tr.parent_task_run_id AND p.worker_id IS NOT NULL AND COALESCE(p.engine_state->>'errorsPhase', 'false') <> 'true'))
         AND tr.updated_at < ${before}
       ORDER BY tr.updated_at
       LIMIT ${limit}`;
    return rows.map((row) => ({
      id: row.id,
      executionId: row.execution_id,
      taskId: row.task_id,
      state: row.state,
      attempt: row.state === 'RETRYING' ? row.attempts + 1 : Math.max(1, row.attempts),
      workerGroup: row.worker_group,
      endDate: row.end_date,
    }));
  }

  /**
   * Task runs a worker runs (not a WorkingDirectory's child) RUNNING in a RUNNING or RETRYING execution, unchanged since `before`, whose worker is alive (a
   * heartbeat at or after `liveSince`). The reconciliation checks that someone still runs them (their job is in the
   * queue, or a lease is held): a live worker that runs none of them lost its results with the queue.
   */
  async runningTaskRuns(
    before: Date,
    liveSince: Date,
    limit = 500,
  ): Promise<{ id: string; executionId: string; attempt: number; workerGroup: string | null; workerId: string | null }[]> {
    const rows = await this.prisma.$queryRaw<{ id: string; execution_id: string; attempts: number; worker_group: string | null; worker_id: string | null }[]>`
      SELECT tr.id, tr.execution_id, jsonb_array_length(tr.attempts)::int AS attempts, tr.worker_group, tr.worker_id
        FROM executions e JOIN task_runs tr ON tr.execution_id = e.id
       WHERE e.state IN ('RUNNING', 'RETRYING') AND tr.state = 'RUNNING' AND tr.updated_at < ${before} AND (tr.parent_task_run_id IS NULL OR NOT EXISTS (SELECT 1 FROM task_runs p WHERE p.id = tr.parent_task_run_id AND p.worker_id IS NOT NULL AND COALESCE(p.engine_state->>'errorsPhase', 'false') <> 'true'))
         AND EXISTS (SELECT 1 FROM workers w WHERE w.id = tr.worker_id AND w.last_heartbeat >= ${liveSince})
       ORDER BY tr.updated_at
       LIMIT ${limit}`;
    return rows.map((row) => ({
      id: row.id,
      executionId: row.execution_id,
      attempt: Math.max(1, row.attempts),
      workerGroup: row.worker_group,
      workerId: row.worker_id,
    }));
  }

  /**
   * Executions waiting for an event on the `executions` channel, unchanged since `before`: CREATED ones due to start
   * (no schedule date, or one before `before`), RESTARTED ones, KILLING ones (their `kill` event, which also marks
   * them killed in the queue), and the oldest QUEUED one of each flow (a `dequeued` event lets it start if a slot is
   * free).
   */
  async waitingExecutions(before: Date, limit = 500): Promise<{ id: string; namespace: string; flowId: string; state: 'CREATED' | 'RESTARTED' | 'KILLING' | 'QUEUED' }[]> {
    const rows = await this.prisma.$queryRaw<{ id: string; namespace: string; flow_id: string; state: 'CREATED' | 'RESTARTED' | 'KILLING' | 'QUEUED' }[]>`
      (SELECT id, namespace, flow_id, state FROM executions
        WHERE (state IN ('RESTARTED', 'KILLING') OR (state = 'CREATED' AND (schedule_date IS NULL OR schedule_date < ${before})))
          AND updated_at < ${before}
        ORDER BY start_date LIMIT ${limit})
      UNION ALL
      (SELECT DISTINCT ON (namespace, flow_id) id, namespace, flow_id, state FROM executions
        WHERE state = 'QUEUED' AND updated_at < ${before}
        ORDER BY namespace, flow_id, start_date LIMIT ${limit})`;
    return rows.map((row) => ({ id: row.id, namespace: row.namespace, flowId: row.flow_id, state: row.state }));
  }

  // Triggers.

  /**
   * Make the stored trigger rows match `wanted` (every Schedule trigger of every live flow): new ones get their
   * first fire date and `now` as their creation date, removed ones are deleted, existing ones keep their dates, except
   * one without a next fire date that has a `resumeFireDate` (a row the API made or re-enabled: trigger-repository.ts).
   */
  async syncTriggers(
    wanted: readonly { namespace: string; flowId: string; triggerId: string; firstFireDate: Date | null; resumeFireDate?: Date | null }[],
    now: Date = new Date(),
  ): Promise<void> {
    const existing = await this.prisma.trigger.findMany({ select: { namespace: true, flowId: true, triggerId: true, nextFireDate: true } });
    const key = (t: { namespace: string; flowId: string; triggerId: string }) => `${t.namespace}\u0000${t.flowId}\u0000${t.triggerId}`;
    const wantedKeys = new Set(wanted.map(key));
    const existingKeys = new Set(existing.map(key));
    for (const t of existing) {
      if (!wantedKeys.has(key(t))) await this.prisma.trigger.deleteMany({ where: { namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId } });
    }
    const unscheduled = new Set(existing.filter((t) => t.nextFireDate === null).map(key));
    for (const t of wanted) {
      if (!t.resumeFireDate || !unscheduled.has(key(t))) continue;
      await this.prisma.trigger.updateMany({ where: { namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId, nextFireDate: null }, data: { nextFireDate: t.resumeFireDate } });
    }
    const missing = wanted.filter((t) => !existingKeys.has(key(t)));
    if (missing.length > 0) {
      await this.prisma.trigger.createMany({
        data: missing.map((t) => ({ namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId, nextFireDate: t.firstFireDate, createdAt: now })),
        skipDuplicates: true,
      });
    }
  }

  /** Triggers due at `now`; those disabled over the API are not. */
  async dueTriggers(now: Date): Promise<TriggerSlot[]> {
    return this.prisma.trigger.findMany({
      where: { nextFireDate: { lte: now }, disabled: false },
      select: { namespace: true, flowId: true, triggerId: true, nextFireDate: true, createdAt: true },
      orderBy: { nextFireDate: 'asc' },
    });
  }

  /**
   * Claim one tick of a trigger: moves `nextFireDate` from `due` to `next` only if it still is `due`. Exactly one
   * caller wins per tick across replicas (the UPDATE is conditional); the winner fires it.
   */
  async claimTick(slot: TriggerSlot, due: Date, next: Date | null, owner: string): Promise<boolean> {
    const count = await this.prisma.trigger.updateMany({
      where: { namespace: slot.namespace, flowId: slot.flowId, triggerId: slot.triggerId, nextFireDate: due },
      data: { nextFireDate: next, lastFireDate: due, lockOwner: owner },
    });
    return count.count === 1;
  }
}
