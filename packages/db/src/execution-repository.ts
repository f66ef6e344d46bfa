import { CORRELATION_ID_LABEL } from '@sluice/core';
import type pg from 'pg';
import type { PrismaClient } from './generated/prisma/client.js';
import { Prisma } from './generated/prisma/client.js';
import { asArray, dateLiteral, escapeLike, EXECUTION_SELECT, executionFromRow, jsonLiteral, jsonParam, literal, NEW_EXECUTION_VERSION, selectExecution } from './rows.js';
import type { ExecutionRow } from './rows.js';
import { newExecutionId, newTaskRunId } from './ids.js';
import { filterConditions, orderBy, prefixCondition } from './search-filters.js';
import { inlineSql, STEP_STATEMENTS } from './step-statements.js';
import type { StepSql } from './step-statements.js';
import type { FilterColumns, SearchFilter, SearchSort } from './search-filters.js';

/** Kestra's terminated states (KESTRA.md A7): an execution in one of them has an end date and never changes again. */
export const TERMINAL_STATES: readonly string[] = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED'];

/** The states from which a kill moves an execution to KILLING. */
export const KILLABLE_STATES: readonly string[] = ['CREATED', 'QUEUED', 'RUNNING', 'PAUSED', 'RESTARTED', 'RETRYING'];

/** One entry of a state history, as Kestra's `state.histories`: `date` is an ISO-8601 string. */
export interface StateEntry {
  readonly state: string;
  readonly date: string;
}

export interface LabelEntry {
  readonly key: string;
  readonly value: string;
}

export interface StoredTaskRun {
  readonly id: string;
  readonly executionId: string;
  readonly taskId: string;
  readonly parentTaskRunId: string | null;
  /** The loop value this run handles (ForEach and the Each tasks set it on their direct children). */
  readonly value: string | null;
  /** The WaitFor iteration this run belongs to (1-based), if any. */
  readonly iteration: number | null;
  /** The engine's own state of a flowable run (see @sluice/engine's EngineTaskRun.engineState); never shown by the API. */
  readonly engineState: Record<string, unknown> | null;
  readonly state: string;
  readonly stateHistory: StateEntry[];
  /** `[{state: {current, histories}, workerId?}]`, one per attempt. */
  readonly attempts: unknown[];
  readonly outputs: unknown;
  readonly metrics: unknown;
  readonly workerGroup: string | null;
  readonly workerId: string | null;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
}

export interface StoredExecution {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly flowRevision: number;
  readonly state: string;
  readonly stateHistory: StateEntry[];
  readonly inputs: Record<string, unknown>;
  readonly outputs: unknown;
  readonly labels: LabelEntry[];
  readonly parentId: string | null;
  /** The first execution of the chain this one retries (retry behavior CREATE_NEW_EXECUTION; Kestra's `originalId`). */
  readonly restartedFrom: string | null;
  /** Which attempt of its flow run this is (Kestra's `metadata.attemptNumber`): 1 unless a retry started it. */
  readonly attemptNumber: number;
  /** When the first execution of the chain started (Kestra's `metadata.originalCreatedDate`); null on a first attempt. */
  readonly originalCreatedDate: Date | null;
  /** What started it, when a trigger did (Kestra's `execution.trigger`). */
  readonly trigger: ExecutionTrigger | null;
  /** When it is to start, if it was created to start later (Kestra's `scheduleDate`): it stays CREATED until then. */
  readonly scheduleDate: Date | null;
  readonly startDate: Date;
  readonly endDate: Date | null;
  /** Task runs, oldest first (empty in search results only when the execution has none). */
  readonly taskRuns: StoredTaskRun[];
}

/** Kestra's `execution.trigger`: the trigger's id and type, and the variables templates read as `trigger.*`. */
export interface ExecutionTrigger {
  readonly id: string;
  readonly type: string;
  readonly variables: Record<string, unknown>;
}

/**
 * The INSERT of a new execution (its values as literals, so it may go with other statements in one simple query),
 * at version NEW_EXECUTION_VERSION. `stored` may already carry its first step's state change (see
 * SchedulerStore.withExecution), dated `updatedAt`. Inline, or as an EXECUTE of its prepared form (`sql`, see
 * step-statements.ts) on a connection that holds it.
 */
export function executionInsert(stored: StoredExecution, updatedAt: Date, sql: StepSql = inlineSql): string {
  return sql(STEP_STATEMENTS.insertExecution, [
    literal(stored.id),
    literal(stored.namespace),
    literal(stored.flowId),
    literal(stored.flowRevision),
    literal(stored.state),
    jsonLiteral(stored.stateHistory),
    jsonLiteral(stored.inputs),
    jsonLiteral(stored.labels),
    literal(stored.parentId),
    jsonLiteral(stored.trigger),
    dateLiteral(stored.scheduleDate),
    dateLiteral(stored.startDate),
    dateLiteral(updatedAt),
    dateLiteral(stored.endDate),
    literal(NEW_EXECUTION_VERSION),
  ]);
}

export interface NewExecution {
  /** Defaults to {@link newExecutionId}(); give one when files must be stored under the id before the row exists. */
  readonly id?: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly flowRevision: number;
  /** Typed inputs (FILE inputs as their kestra:/// URI). */
  readonly inputs?: Record<string, unknown>;
  readonly labels?: readonly LabelEntry[];
  readonly parentId?: string;
  /** Set when a trigger starts the execution. */
  readonly trigger?: ExecutionTrigger;
  /** Start it no earlier than this (Kestra's `scheduleDate`). */
  readonly scheduleDate?: Date;
}

export interface ExecutionSearch {
  /** Exact namespace or a parent namespace (`company` matches `company.team`). */
  readonly namespace?: string;
  /** `namespace` matches only itself, not its child namespaces (Kestra's executions of one flow). */
  readonly exactNamespace?: boolean;
  readonly flowId?: string;
  /** Any of these states. */
  readonly states?: readonly string[];
  /** Every one of these labels. */
  readonly labels?: readonly LabelEntry[];
  /** Executions that started at or after this date. */
  readonly startDate?: Date;
  /** Executions that started at or before this date. */
  readonly endDate?: Date;
  /** Kestra 1.x's filters (namespace, flowId, state, labels, startDate, endDate, q, scope, childFilter, triggerExecutionId), all matched. */
  readonly filters?: readonly SearchFilter[];
  /** Sort keys among {@link EXECUTION_SORT_FIELDS}; newest first (start date, then id, descending) when absent. */
  readonly sort?: readonly SearchSort[];
  /** 1-based. */
  readonly page: number;
  /** 1 to 1000. */
  readonly size: number;
}

/**
 * The text `q` searches in an execution: its namespace, flow id and id, in one expression so that one trigram index
 * (migration 20261206070000_search_indexes) serves it. Keep it identical to the index's expression.
 */
const EXECUTION_QUERY_TEXT = Prisma.sql`(namespace || ' ' || flow_id || ' ' || id)`;

/** How the executions table answers Kestra's filters. */
const EXECUTION_FILTER_COLUMNS: FilterColumns = {
  text: { namespace: Prisma.sql`namespace`, flowId: Prisma.sql`flow_id`, triggerExecutionId: Prisma.sql`parent_id` },
  date: Prisma.sql`start_date`,
  state: Prisma.sql`state`,
  labels: {
    has: (label) => Prisma.sql`labels @> ${JSON.stringify([{ key: label.key, value: label.value }])}::jsonb`,
    contains: (text) => Prisma.sql`EXISTS (SELECT 1 FROM jsonb_array_elements(labels) AS l
      WHERE lower(l->>'key') LIKE ${`%${escapeLike(text.toLowerCase())}%`} OR lower(l->>'value') LIKE ${`%${escapeLike(text.toLowerCase())}%`})`,
  },
  query: (text) => Prisma.sql`${EXECUTION_QUERY_TEXT} ILIKE ${`%${escapeLike(text)}%`}`,
  parent: Prisma.sql`parent_id`,
  scope: true,
};

/** The sort keys of an execution search (Kestra's names) and their columns. */
const EXECUTION_SORT_COLUMNS: Readonly<Record<string, Prisma.Sql>> = {
  id: Prisma.sql`id`,
  namespace: Prisma.sql`namespace`,
  flowId: Prisma.sql`flow_id`,
  flowRevision: Prisma.sql`flow_revision`,
  'state.current': Prisma.sql`state`,
  'state.startDate': Prisma.sql`start_date`,
  'state.endDate': Prisma.sql`end_date`,
  'state.duration': Prisma.sql`(COALESCE(end_date, now()) - start_date)`,
};
export const EXECUTION_SORT_FIELDS: readonly string[] = Object.keys(EXECUTION_SORT_COLUMNS);

export interface ExecutionSearchResult {
  /** Newest first (by start date). */
  readonly results: StoredExecution[];
  /** Matching executions over all pages. */
  readonly total: number;
}

/**
 * What a conditional state change did: `changed` (the execution was in one of the expected states and moved),
 * `refused` (it exists but was in another state, given as it is now), `not-found`.
 */
export type TransitionResult =
  | { readonly status: 'changed'; readonly execution: StoredExecution }
  | { readonly status: 'refused'; readonly execution: StoredExecution }
  | { readonly status: 'not-found' };

/**
 * What resuming does to the first PAUSED task run (see {@link ExecutionRepository.resume}): the state it takes, SUCCESS
 * for a Pause without legacy `tasks` and RUNNING otherwise, and, when the Pause declares `onResume` inputs, its outputs.
 */
export interface ResumePlan {
  readonly state: 'SUCCESS' | 'RUNNING';
  /** Merged into the run's outputs (`{onResume: {...}}`); the outputs stay as they are without it. */
  readonly outputs?: Record<string, unknown>;
}

/**
 * What a resume did: `resumed` (the execution was PAUSED; `taskRun` is the run that left PAUSED, as stored now, or
 * undefined when none was PAUSED), `refused` (not PAUSED, given as it is now), `not-found`.
 */
export type ResumeResult =
  | { readonly status: 'resumed'; readonly execution: StoredExecution; readonly taskRun: StoredTaskRun | undefined }
  | { readonly status: 'refused'; readonly execution: StoredExecution }
  | { readonly status: 'not-found' };

/**
 * Which task runs of the original a replay copies (see {@link ExecutionRepository.replay}), by id: `copied` as they are,
 * `reopened` in state RUNNING (the flowables holding the run replayed from, so the scheduler goes on inside them).
 */
export interface ReplayPlan {
  readonly copied: ReadonlySet<string>;
  readonly reopened: ReadonlySet<string>;
}

export interface ReplayOptions {
  /** The new execution's id; defaults to {@link newExecutionId}(). */
  readonly id?: string;
  /** The flow revision the new execution runs; defaults to the original's. */
  readonly flowRevision?: number;
  /** Extra labels of the new execution (replacing an inherited label of the same key). */
  readonly labels?: readonly LabelEntry[];
  /**
   * Which task runs to copy, decided while the original is locked (it cannot be restarted meanwhile); without it, none
   * (the new execution starts from the beginning). What it throws rolls everything back and is rethrown.
   */
  readonly plan?: (original: StoredExecution) => ReplayPlan;
}

/**
 * What a replay did: `replayed` (the new execution, as stored, and the original as read under the lock), `refused`
 * (the original has not ended, given as it is now), `not-found`.
 */
export type ReplayResult =
  | { readonly status: 'replayed'; readonly execution: StoredExecution; readonly original: StoredExecution }
  | { readonly status: 'refused'; readonly execution: StoredExecution }
  | { readonly status: 'not-found' };

/**
 * Executions and their task runs. State changes are conditional updates (`UPDATE ... WHERE state IN (...)`), so two
 * concurrent requests (a kill and the scheduler ending the run) cannot both win: exactly one changes the row, the
 * other sees `refused` with the state that won.
 */
export class ExecutionRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /** Store a new execution in state CREATED (one history entry, start date now). One INSERT through plain pg. */
  async create(execution: NewExecution): Promise<StoredExecution> {
    const stored = this.prepare(execution);
    await this.pool.query(executionInsert(stored, stored.startDate));
    return stored;
  }

  /**
   * A new execution as {@link create} would store it, not stored: a caller that takes the execution's first step
   * stores it in the step's transaction (`SchedulerStore.withExecution`'s `insert`).
   */
  prepare(execution: NewExecution): StoredExecution {
    const now = new Date();
    const id = execution.id ?? newExecutionId();
    const labels = (execution.labels ?? []).map((l) => ({ key: l.key, value: l.value }));
    // Kestra's system label, on every execution: its own id unless it was given one (a subflow gets its parent's).
    if (!labels.some((l) => l.key === CORRELATION_ID_LABEL)) labels.push({ key: CORRELATION_ID_LABEL, value: id });
    const stored: StoredExecution = {
      id,
      namespace: execution.namespace,
      flowId: execution.flowId,
      flowRevision: execution.flowRevision,
      state: 'CREATED',
      stateHistory: [{ state: 'CREATED', date: now.toISOString() }],
      inputs: { ...execution.inputs },
      outputs: null,
      labels,
      parentId: execution.parentId ?? null,
      restartedFrom: null,
      attemptNumber: 1,
      originalCreatedDate: null,
      trigger: execution.trigger ?? null,
      scheduleDate: execution.scheduleDate ?? null,
      startDate: now,
      endDate: null,
      taskRuns: [],
    };
    return stored;
  }

  /** The execution with its task runs (one statement through plain pg), or undefined. */
  async get(id: string): Promise<StoredExecution | undefined> {
    return selectExecution(this.pool, id);
  }

  /** The execution's state alone (no task runs read: a poll of a large execution stays cheap), or undefined. */
  async stateOf(id: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ state: string }>('SELECT state FROM executions WHERE id = $1', [id]);
    return rows[0]?.state;
  }

  /**
   * The children that the task runs under task run `taskRunId` of execution `parentId` started and wait for (a
   * ForEachItem run: its `_items` child started them), after batch `afterIteration`, `size` of them by batch number:
   * their state and flow outputs. A batch started again (a restart) counts by its latest execution.
   */
  async childOutputsPage(
    parentId: string,
    taskRunId: string,
    afterIteration: number,
    size: number,
  ): Promise<{ iteration: number; executionId: string; state: string; outputs: Record<string, unknown> | null }[]> {
    const { rows } = await this.pool.query<{ iteration: number; id: string; state: string; outputs: Record<string, unknown> | null }>(
      `SELECT DISTINCT ON ((e.trigger->'variables'->>'iteration')::int) (e.trigger->'variables'->>'iteration')::int AS iteration, e.id, e.state, e.outputs
         FROM executions e
        WHERE e.parent_id = $1
          AND e.parent_task_run_id IN (SELECT tr.id FROM task_runs tr WHERE tr.execution_id = $1 AND tr.parent_task_run_id = $2)
          AND (e.trigger->'variables'->>'iteration')::int > $3
        ORDER BY (e.trigger->'variables'->>'iteration')::int, e.start_date DESC, e.id DESC LIMIT $4`,
      [parentId, taskRunId, afterIteration, size],
    );
    return rows.map((row) => ({ iteration: row.iteration, executionId: row.id, state: row.state, outputs: row.outputs }));
  }

  /** Executions matching every given filter, newest first, paged; each with its task runs. */
  async search(search: ExecutionSearch): Promise<ExecutionSearchResult> {
    if (!Number.isInteger(search.page) || search.page < 1) throw new RangeError(`page must be an integer >= 1, got ${search.page}`);
    if (!Number.isInteger(search.size) || search.size < 1 || search.size > 1000) {
      throw new RangeError(`size must be an integer from 1 to 1000, got ${search.size}`);
    }
    // Raw SQL for the page of ids: LIKE with escaped wildcards, and jsonb containment served by the labels GIN index.
    const conditions: Prisma.Sql[] = [Prisma.sql`TRUE`];
    if (search.namespace !== undefined && search.exactNamespace === true) conditions.push(Prisma.sql`namespace = ${search.namespace}`);
    else if (search.namespace !== undefined) {
      conditions.push(prefixCondition(Prisma.sql`namespace`, search.namespace));
    }
    if (search.flowId !== undefined) conditions.push(Prisma.sql`flow_id = ${search.flowId}`);
    if (search.states !== undefined && search.states.length > 0) conditions.push(Prisma.sql`state IN (${Prisma.join([...search.states])})`);
    if (search.labels !== undefined && search.labels.length > 0) {
      const labels = JSON.stringify(search.labels.map((l) => ({ key: l.key, value: l.value })));
      conditions.push(Prisma.sql`labels @> ${labels}::jsonb`);
    }
    if (search.startDate !== undefined) conditions.push(Prisma.sql`start_date >= ${search.startDate}`);
    if (search.endDate !== undefined) conditions.push(Prisma.sql`start_date <= ${search.endDate}`);
    conditions.push(...filterConditions(search.filters, EXECUTION_FILTER_COLUMNS));
    const where = Prisma.join(conditions, ' AND ');
    const order = orderBy(search.sort, EXECUTION_SORT_COLUMNS, Prisma.sql`start_date DESC, id DESC`, Prisma.sql`id DESC`);
    const offset = (search.page - 1) * search.size;
    const [ids, counts] = await Promise.all([
      this.prisma.$queryRaw<{ id: string }[]>`
        SELECT id FROM executions WHERE ${where} ORDER BY ${order} LIMIT ${search.size} OFFSET ${offset}`,
      this.prisma.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS total FROM executions WHERE ${where}`,
    ]);
    const rows =
      ids.length === 0
        ? []
        : (await this.pool.query<ExecutionRow>(`SELECT ${EXECUTION_SELECT} FROM executions e WHERE e.id = ANY($1::text[])`, [ids.map((r) => r.id)])).rows;
    const byId = new Map(rows.map((row) => [row.id, row]));
    return {
      results: ids.flatMap((r) => {
        const row = byId.get(r.id);
        return row ? [executionFromRow(row)] : []; // deleted between the two queries
      }),
      total: Number(counts[0]?.total ?? 0),
    };
  }

  /**
   * Move the execution to `toState` if, and only if, it is in one of `fromStates` (one atomic UPDATE). The new
   * state is appended to the history; entering a terminal state sets the end date, leaving one clears it.
   */
  async transition(id: string, fromStates: readonly string[], toState: string): Promise<TransitionResult> {
    const changed = await this.updateState(this.prisma, id, fromStates, toState, new Date());
    const execution = await this.get(id);
    if (!execution) return { status: 'not-found' };
    return changed ? { status: 'changed', execution } : { status: 'refused', execution };
  }

  /**
   * Restart a FAILED execution (Kestra's FAILED → RESTARTED): in one transaction the execution moves to RESTARTED
   * and each FAILED or KILLED task run goes back to CREATED with a new attempt appended (earlier attempts are kept),
   * ready for the scheduler to dispatch again. Refused for any other state.
   *
   * `errorsTaskIds`, the ids of the flow's top-level `errors` tasks: their task runs (and their WorkingDirectory
   * children) are removed, so the error handling starts over. If the restarted tasks fail again the handlers run
   * again; if they succeed, none runs. Their log lines stay.
   */
  async restart(id: string, options: { readonly errorsTaskIds?: readonly string[] } = {}): Promise<TransitionResult> {
    const now = new Date();
    const date = now.toISOString();
    const errorsTaskIds = new Set(options.errorsTaskIds ?? []);
    const changed = await this.prisma.$transaction(async (tx) => {
      if (!(await this.updateState(tx, id, ['FAILED'], 'RESTARTED', now))) return false;
      const runs = await tx.taskRun.findMany({ where: { executionId: id } });
      const handlers = errorsBranchRuns(runs, errorsTaskIds);
      if (handlers.size > 0) await tx.taskRun.deleteMany({ where: { id: { in: [...handlers] } } });
      const failed = runs.filter((run) => !handlers.has(run.id) && (run.state === 'FAILED' || run.state === 'KILLED'));
      for (const run of failed) {
        const attempt = { state: { current: 'CREATED', histories: [{ state: 'CREATED', date }] } };
        await tx.taskRun.update({
          where: { id: run.id },
          data: {
            state: 'CREATED',
            stateHistory: [...asArray<Prisma.InputJsonValue>(run.stateHistory), { state: 'CREATED', date }],
            attempts: [...asArray<Prisma.InputJsonValue>(run.attempts), attempt],
            endDate: null,
            workerId: null,
          },
        });
      }
      return true;
    });
    const execution = await this.get(id);
    if (!execution) return { status: 'not-found' };
    return changed ? { status: 'changed', execution } : { status: 'refused', execution };
  }

  /**
   * Resume a PAUSED execution (Kestra's manual resume, KESTRA-FLOW.md §2.10), in one transaction holding the
   * execution's row lock (`SELECT ... FOR UPDATE`, as the scheduler's locked steps take it):
   * - the first task run in state PAUSED (oldest first; see {@link firstPaused}) takes the state `planFor` gives it (a history entry appended,
   *   the same on its last attempt, one attempt created if it had none; SUCCESS sets its end date), and the plan's
   *   outputs; its ancestors that are not RUNNING (and not ended) go back to RUNNING;
   * - if no other task run is still PAUSED the execution moves to RESTARTED (history appended, as a restart does; the
   *   scheduler then takes it on), otherwise it stays PAUSED. Its row is updated either way, so its version moves on.
   *
   * `planFor` runs while the lock is held, on the run it applies to; what it throws rolls everything back and is
   * rethrown. An execution that is PAUSED without any PAUSED task run only moves to RESTARTED. Refused for any other
   * state.
   */
  async resume(id: string, planFor: (paused: StoredTaskRun, execution: StoredExecution) => ResumePlan): Promise<ResumeResult> {
    const client = await this.pool.connect();
    let outcome: 'resumed' | 'refused' | 'not-found';
    let resumedRunId: string | undefined;
    try {
      await client.query('BEGIN');
      const locked = await client.query('SELECT 1 FROM executions WHERE id = $1 FOR UPDATE', [id]);
      // Read after the lock: under READ COMMITTED this statement sees what the previous holder of the lock committed.
      const execution = locked.rowCount === 0 ? undefined : await selectExecution(client, id);
      if (!execution || execution.state !== 'PAUSED') {
        await client.query('ROLLBACK');
        outcome = execution ? 'refused' : 'not-found';
      } else {
        const now = new Date();
        const date = now.toISOString();
        const paused = firstPaused(execution.taskRuns);
        const leftPaused = new Set<string>();
        if (paused) {
          const plan = planFor(paused, execution);
          await client.query(
            `UPDATE task_runs
                SET state = $2, state_history = state_history || $3::jsonb, attempts = $4::jsonb,
                    outputs = CASE WHEN $5::boolean THEN $6::jsonb ELSE outputs END, end_date = $7, updated_at = $8
              WHERE id = $1`,
            [
              paused.id,
              plan.state,
              JSON.stringify([{ state: plan.state, date }]),
              JSON.stringify(withAttemptState(paused.attempts, plan.state, date)),
              plan.outputs !== undefined,
              jsonParam(plan.outputs === undefined ? null : { ...asRecordOrEmpty(paused.outputs), ...plan.outputs }),
              plan.state === 'SUCCESS' ? now : null,
              now,
            ],
          );
          leftPaused.add(paused.id);
          resumedRunId = paused.id;
          for (const ancestor of ancestorsOf(paused, execution.taskRuns)) {
            if (ancestor.state === 'RUNNING' || TERMINAL_STATES.includes(ancestor.state)) continue;
            await client.query(
              `UPDATE task_runs SET state = 'RUNNING', state_history = state_history || $2::jsonb, attempts = $3::jsonb, updated_at = $4 WHERE id = $1`,
              [ancestor.id, JSON.stringify([{ state: 'RUNNING', date }]), JSON.stringify(withAttemptState(ancestor.attempts, 'RUNNING', date, false)), now],
            );
            leftPaused.add(ancestor.id);
          }
        }
        const stillPaused = execution.taskRuns.some((run) => run.state === 'PAUSED' && !leftPaused.has(run.id));
        if (stillPaused) {
          // A change to its task runs must move the execution's version on (the version trigger does on any UPDATE).
          await client.query('UPDATE executions SET updated_at = $2 WHERE id = $1', [id, now]);
        } else {
          await client.query(
            `UPDATE executions SET state = 'RESTARTED', state_history = state_history || $2::jsonb, end_date = NULL, updated_at = $3 WHERE id = $1`,
            [id, JSON.stringify([{ state: 'RESTARTED', date }]), now],
          );
        }
        await client.query('COMMIT');
        outcome = 'resumed';
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    if (outcome === 'not-found') return { status: 'not-found' };
    const execution = await this.get(id);
    if (!execution) return { status: 'not-found' };
    if (outcome === 'refused') return { status: 'refused', execution };
    return { status: 'resumed', execution, taskRun: execution.taskRuns.find((run) => run.id === resumedRunId) };
  }

  /**
   * Replay an ended execution (Kestra's replay): a new execution of the same flow (another revision with
   * `flowRevision`), with the original's inputs, trigger and labels, whose `restartedFrom` (Kestra's `originalId`) is
   * the first execution of the original's chain (the original itself, unless it was a retry or a replay). In ONE
   * transaction, holding a share lock on the original's row (a restart cannot move it meanwhile):
   * - without kept runs (no `plan`, or a plan that keeps nothing) the new execution is CREATED, as a new one;
   * - otherwise it is RESTARTED (history CREATED, RESTARTED) with copies of the runs the plan names, in the original's
   *   order: new ids, parents remapped, states, attempts, outputs, metrics and dates as they were; the `reopened` ones
   *   in state RUNNING (history and last attempt appended, no end date, no worker).
   *
   * Labels: the original's, but for `system.correlationId` when it is the original's own id (the new execution then
   * gets its own, as a new one does; one inherited from a parent is kept), with `labels` over them. The new execution
   * has no parent (a replayed subflow child does not report to the parent that waited for the original), no
   * schedule date, and is its chain's attempt 1. Refused unless the original is in a terminal state.
   */
  async replay(id: string, options: ReplayOptions = {}): Promise<ReplayResult> {
    const newId = options.id ?? newExecutionId();
    const client = await this.pool.connect();
    let outcome: 'replayed' | 'refused' | 'not-found';
    let original: StoredExecution | undefined;
    try {
      await client.query('BEGIN');
      const locked = await client.query('SELECT 1 FROM executions WHERE id = $1 FOR SHARE', [id]);
      original = locked.rowCount === 0 ? undefined : await selectExecution(client, id);
      if (!original || !TERMINAL_STATES.includes(original.state)) {
        await client.query('ROLLBACK');
        outcome = original ? 'refused' : 'not-found';
      } else {
        const plan = options.plan?.(original);
        const kept = plan ? original.taskRuns.filter((run) => plan.copied.has(run.id) || plan.reopened.has(run.id)) : [];
        const now = new Date();
        const date = now.toISOString();
        const history = kept.length > 0 ? [{ state: 'CREATED', date }, { state: 'RESTARTED', date }] : [{ state: 'CREATED', date }];
        const correlation = original.labels.find((l) => l.key === CORRELATION_ID_LABEL);
        const inherited = original.labels.filter((l) => !(l.key === CORRELATION_ID_LABEL && l.value === original?.id));
        const extra = options.labels ?? [];
        const labels = [...inherited.filter((l) => !extra.some((e) => e.key === l.key)), ...extra].map((l) => ({ key: l.key, value: l.value }));
        if (!correlation || correlation.value === original.id) labels.push({ key: CORRELATION_ID_LABEL, value: newId });
        await client.query(
          `INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, inputs, labels, parent_id, restarted_from, trigger,
                                   attempt_number, start_date, updated_at, version)
           SELECT $1, namespace, flow_id, $3, $4, $5::jsonb, inputs, $6::jsonb, NULL, COALESCE(restarted_from, id), trigger, 1, $7, $7, ${NEW_EXECUTION_VERSION}
             FROM executions WHERE id = $2`,
          [newId, id, options.flowRevision ?? original.flowRevision, kept.length > 0 ? 'RESTARTED' : 'CREATED', JSON.stringify(history), JSON.stringify(labels), now],
        );
        if (kept.length > 0) {
          const ids = new Map(kept.map((run) => [run.id, newTaskRunId()]));
          const rows = kept.map((run) => {
            const reopen = plan?.reopened.has(run.id) === true;
            return {
              id: ids.get(run.id),
              task_id: run.taskId,
              parent_task_run_id: run.parentTaskRunId === null ? null : (ids.get(run.parentTaskRunId) ?? null),
              value: run.value,
              iteration: run.iteration,
              engine_state: run.engineState,
              state: reopen ? 'RUNNING' : run.state,
              state_history: reopen ? [...run.stateHistory, { state: 'RUNNING', date }] : run.stateHistory,
              attempts: reopen ? withAttemptState(run.attempts, 'RUNNING', date, false) : run.attempts,
              outputs: run.outputs ?? null,
              metrics: run.metrics ?? null,
              worker_group: run.workerGroup,
              worker_id: reopen ? null : run.workerId,
              start_date: run.startDate?.toISOString() ?? null,
              end_date: reopen ? null : (run.endDate?.toISOString() ?? null),
            };
          });
          // One statement, rows inserted in the original's order (their seq, the order task runs are listed in).
          await client.query(
            `INSERT INTO task_runs (id, execution_id, task_id, parent_task_run_id, value, iteration, engine_state, state, state_history, attempts, outputs,
                                    metrics, worker_group, worker_id, start_date, end_date, created_at, updated_at)
             SELECT r.id, $1, r.task_id, r.parent_task_run_id, r.value, r.iteration, r.engine_state, r.state, r.state_history, r.attempts, r.outputs,
                    r.metrics, r.worker_group, r.worker_id, r.start_date, r.end_date, clock_timestamp(), clock_timestamp()
               FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (id text, task_id text, parent_task_run_id text, value text, iteration int,
                    engine_state jsonb, state text, state_history jsonb, attempts jsonb, outputs jsonb, metrics jsonb, worker_group text, worker_id text,
                    start_date timestamptz, end_date timestamptz)) WITH ORDINALITY
                    AS r(id, task_id, parent_task_run_id, value, iteration, engine_state, state, state_history, attempts, outputs, metrics, worker_group,
                         worker_id, start_date, end_date, ord)
              ORDER BY r.ord`,
            [newId, JSON.stringify(rows)],
          );
        }
        await client.query('COMMIT');
        outcome = 'replayed';
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    if (outcome === 'not-found' || !original) return { status: 'not-found' };
    if (outcome === 'refused') return { status: 'refused', execution: original };
    const execution = await this.get(newId);
    if (!execution) return { status: 'not-found' };
    return { status: 'replayed', execution, original };
  }

  /** The task run {@link resume} applies to, among an execution's runs (oldest first): for who reads it beforehand. */
  static pausedRunToResume<T extends Pick<StoredTaskRun, 'id' | 'parentTaskRunId' | 'state'>>(runs: readonly T[]): T | undefined {
    return firstPaused(runs);
  }

  /** The conditional UPDATE behind transition and restart; true when a row changed. */
  private async updateState(
    client: PrismaClient | Prisma.TransactionClient,
    id: string,
    fromStates: readonly string[],
    toState: string,
    now: Date,
  ): Promise<boolean> {
    if (fromStates.length === 0) return false;
    const entry = JSON.stringify([{ state: toState, date: now.toISOString() }]);
    const endDate = TERMINAL_STATES.includes(toState) ? now : null;
    const count = await client.$executeRaw`
      UPDATE executions
         SET state = ${toState}, state_history = state_history || ${entry}::jsonb, end_date = ${endDate}, updated_at = ${now}
       WHERE id = ${id} AND state IN (${Prisma.join([...fromStates])})`;
    return count === 1;
  }
}

/**
 * `attempts` (`[{state: {current, histories}, workerId?}]`) with the last attempt moved to `state` at `date`; with no
 * attempt at all, one in that state is created (unless `create` is false: then there stays none).
 */
function withAttemptState(attempts: readonly unknown[], state: string, date: string, create = true): unknown[] {
  const entry = { state, date };
  const last = attempts[attempts.length - 1];
  if (last === undefined || last === null || typeof last !== 'object') {
    return create ? [...attempts.slice(0, -1), { state: { current: state, histories: [entry] } }] : [...attempts];
  }
  const previous = (last as { state?: { histories?: unknown } }).state;
  const histories = Array.isArray(previous?.histories) ? previous.histories : [];
  return [...attempts.slice(0, -1), { ...last, state: { ...previous, current: state, histories: [...histories, entry] } }];
}

function asRecordOrEmpty(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * The task run a resume applies to: the first PAUSED one (oldest first, Kestra's `findFirstByState(PAUSED)`), passing
 * over a PAUSED run that has a PAUSED run below it (the Pause itself is resumed, never only a flowable above it).
 */
function firstPaused<T extends Pick<StoredTaskRun, 'id' | 'parentTaskRunId' | 'state'>>(runs: readonly T[]): T | undefined {
  const paused = runs.filter((run) => run.state === 'PAUSED');
  if (paused.length <= 1) return paused[0];
  const byId = new Map(runs.map((run) => [run.id, run]));
  const abovePaused = new Set<string>();
  for (const run of paused) {
    const seen = new Set<string>([run.id]);
    for (let parent = run.parentTaskRunId; parent !== null && !seen.has(parent); parent = byId.get(parent)?.parentTaskRunId ?? null) {
      seen.add(parent);
      abovePaused.add(parent);
    }
  }
  return paused.find((run) => !abovePaused.has(run.id));
}

/** The run's parent, grand-parent... (nearest first), through `parentTaskRunId`. */
function ancestorsOf(run: StoredTaskRun, runs: readonly StoredTaskRun[]): StoredTaskRun[] {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const found: StoredTaskRun[] = [];
  const seen = new Set<string>([run.id]);
  for (let parent = run.parentTaskRunId; parent !== null && !seen.has(parent); ) {
    const next = byId.get(parent);
    if (!next) break;
    seen.add(parent);
    found.push(next);
    parent = next.parentTaskRunId;
  }
  return found;
}

/** Ids of the runs of `errors` tasks (the flow's and flowables') and of everything below them. */
function errorsBranchRuns(runs: readonly { id: string; taskId: string; parentTaskRunId: string | null }[], errorsTaskIds: ReadonlySet<string>): Set<string> {
  const found = new Set(runs.filter((run) => errorsTaskIds.has(run.taskId)).map((run) => run.id));
  for (let grown = found.size > 0; grown; ) {
    grown = false;
    for (const run of runs) {
      if (run.parentTaskRunId !== null && found.has(run.parentTaskRunId) && !found.has(run.id)) {
        found.add(run.id);
        grown = true;
      }
    }
  }
  return found;
}
