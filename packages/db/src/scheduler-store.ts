import type pg from 'pg';
import type { PrismaClient } from './generated/prisma/client.js';
import { TERMINAL_STATES } from './execution-repository.js';
import type { ExecutionTrigger, StateEntry, StoredExecution, StoredTaskRun } from './execution-repository.js';
import { assertLogEntry } from './log-repository.js';
import { asArray, dateLiteral, EXECUTION_SELECT, executionFromRow, jsonLiteral, literal } from './rows.js';
import type { ExecutionRow } from './rows.js';

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
export type SchedulerTaskRun = Omit<StoredTaskRun, 'executionId' | 'value' | 'attempts'> & { readonly attempts: AttemptEntry[] };

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
  readonly startDate: Date;
  readonly taskRuns: SchedulerTaskRun[];
}

/** The writes allowed while an execution is locked. */
export interface ExecutionTx {
  /** Move the execution to `state` (history appended; a terminal state sets the end date). */
  setState(state: string, now: Date): Promise<void>;
  setOutputs(outputs: Record<string, unknown>): Promise<void>;
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
  /** Take the flow's admission lock (after the execution's row lock: always in that order) until commit. */
  lockFlow(): Promise<void>;
  /** Executions of this flow holding a concurrency slot (RUNNING, KILLING, RESTARTED), this one excluded. */
  countActive(): Promise<number>;
}

/** The scheduler's view of a stored task run. */
function toSchedulerRun({ executionId: _execution, value: _value, attempts, ...run }: StoredTaskRun): SchedulerTaskRun {
  return { ...run, attempts: attempts as AttemptEntry[] };
}

export interface TriggerSlot {
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
  readonly nextFireDate: Date | null;
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
    startDate: found.startDate,
    taskRuns: found.taskRuns.map(toSchedulerRun),
  };
}

/**
 * The writes of a locked step. Each write becomes one statement in `pending`; reads first send what is pending, so a
 * step reads its own writes as before.
 */
function lockedWrites(client: pg.PoolClient, execution: StoredExecution, pending: string[]): ExecutionTx {
  const id = literal(execution.id);
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await client.query(pending.splice(0).join(';\n'));
  };
  return {
    async setState(state, now) {
      const endDate = TERMINAL_STATES.includes(state) ? now : null;
      pending.push(
        `UPDATE executions SET state = ${literal(state)}, state_history = state_history || ${jsonLiteral([{ state, date: now.toISOString() }])},
                end_date = ${dateLiteral(endDate)}, updated_at = ${dateLiteral(now)} WHERE id = ${id}`,
      );
    },
    async setOutputs(outputs) {
      pending.push(`UPDATE executions SET outputs = ${jsonLiteral(outputs)}, updated_at = clock_timestamp() WHERE id = ${id}`);
    },
    async saveTaskRun(run) {
      // created_at is the insertion time (clock_timestamp, not the transaction's start): task runs are read back in
      // that order, and one step may insert several.
      pending.push(
        `INSERT INTO task_runs (id, execution_id, task_id, parent_task_run_id, state, state_history, attempts, outputs, metrics,
                                worker_group, worker_id, start_date, end_date, created_at, updated_at)
         VALUES (${literal(run.id)}, ${id}, ${literal(run.taskId)}, ${literal(run.parentTaskRunId)}, ${literal(run.state)},
                 ${jsonLiteral(run.stateHistory)}, ${jsonLiteral(run.attempts)}, ${jsonLiteral(run.outputs)}, ${jsonLiteral(run.metrics)},
                 ${literal(run.workerGroup)}, ${literal(run.workerId)}, ${dateLiteral(run.startDate)}, ${dateLiteral(run.endDate)},
                 clock_timestamp(), clock_timestamp())
         ON CONFLICT (id) DO UPDATE SET
           task_id = EXCLUDED.task_id, parent_task_run_id = EXCLUDED.parent_task_run_id, state = EXCLUDED.state,
           state_history = EXCLUDED.state_history, attempts = EXCLUDED.attempts, outputs = EXCLUDED.outputs,
           metrics = EXCLUDED.metrics, worker_group = EXCLUDED.worker_group, worker_id = EXCLUDED.worker_id,
           start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, updated_at = clock_timestamp()`,
      );
    },
    async flowRevision(namespace, flowId, revision) {
      await flush();
      const { rows } = await client.query<{ parsed: unknown }>('SELECT parsed FROM flows WHERE namespace = $1 AND flow_id = $2 AND revision = $3', [
        namespace,
        flowId,
        revision,
      ]);
      return rows[0]?.parsed;
    },
    async liveWorkerCount(group, since) {
      await flush();
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM workers WHERE worker_group = $1 AND last_heartbeat >= $2', [group, since]);
      return rows[0]?.n ?? 0;
    },
    async appendLogs(entries) {
      const rows = entries.map((entry) => {
        assertLogEntry(entry);
        const values = [id, literal(execution.namespace), literal(execution.flowId), literal(entry.taskId ?? null), literal(entry.taskRunId ?? null)];
        return `(${[...values, literal(entry.attemptNumber ?? null), literal(entry.level), literal(entry.message), dateLiteral(entry.timestamp)].join(', ')})`;
      });
      if (rows.length === 0) return;
      pending.push(`INSERT INTO logs (execution_id, namespace, flow_id, task_id, task_run_id, attempt_number, level, message, "timestamp") VALUES ${rows.join(', ')}`);
    },
    async lockFlow() {
      await flush();
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${execution.namespace}/${execution.flowId}`]);
    },
    async countActive() {
      await flush();
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM executions WHERE namespace = $1 AND flow_id = $2 AND state IN ('RUNNING', 'KILLING', 'RESTARTED') AND id <> $3",
        [execution.namespace, execution.flowId, execution.id],
      );
      return rows[0]?.n ?? 0;
    },
  };
}

export class SchedulerStore {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /**
   * Run `fn` in a transaction that holds the execution's row lock. Returns undefined (without calling `fn`) when the
   * execution does not exist. Plain pg on one pooled connection, in few round trips (loopback round trips are most of
   * a step's cost): BEGIN, the lock and the read of the execution with its task runs go as one multi-statement query;
   * writes are held back and sent together, before the step's next read or with the COMMIT.
   */
  async withExecution<T>(id: string, fn: (execution: LockedExecution, tx: ExecutionTx) => Promise<T>): Promise<T | undefined> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    let open = false;
    try {
      // Under READ COMMITTED each statement reads its own snapshot: the read, a statement after the lock, sees what
      // the previous holder of the lock committed.
      const key = literal(id);
      open = true;
      const results = (await client.query(
        `BEGIN; SELECT 1 FROM executions WHERE id = ${key} FOR UPDATE; SELECT ${EXECUTION_SELECT} FROM executions e WHERE e.id = ${key}`,
      )) as unknown as pg.QueryResult<ExecutionRow>[];
      const row = results[2]?.rows[0];
      if (!row) {
        await client.query('ROLLBACK');
        open = false;
        return undefined;
      }
      const found = executionFromRow(row);
      const pending: string[] = [];
      const result = await fn(toLocked(found), lockedWrites(client, found, pending));
      pending.push('COMMIT');
      await client.query(pending.join(';\n'));
      open = false;
      return result;
    } catch (error) {
      // A failed statement aborts the transaction (the rest of its batch is skipped): roll back, and drop a connection
      // that cannot even do that rather than return it to the pool.
      if (open) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
      }
      throw error;
    } finally {
      client.release(broken);
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
   * Top-level task runs still RUNNING in an unfinished execution whose worker has sent no heartbeat since `liveSince`
   * (or never registered), and that have not changed since `staleBefore`: their worker is gone and nobody took over.
   */
  async lostTaskRuns(liveSince: Date, staleBefore: Date): Promise<{ id: string; executionId: string; taskId: string; attempt: number; workerId: string | null }[]> {
    const rows = await this.prisma.$queryRaw<{ id: string; execution_id: string; task_id: string; attempts: unknown; worker_id: string | null }[]>`
      SELECT tr.id, tr.execution_id, tr.task_id, tr.attempts, tr.worker_id
        FROM task_runs tr JOIN executions e ON e.id = tr.execution_id
       WHERE tr.state = 'RUNNING' AND tr.parent_task_run_id IS NULL AND e.end_date IS NULL AND tr.updated_at < ${staleBefore}
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

  // Triggers.

  /**
   * Make the stored trigger rows match `wanted` (every Schedule trigger of every live flow): new ones get their
   * first fire date, removed ones are deleted, existing ones keep their dates.
   */
  async syncTriggers(wanted: readonly { namespace: string; flowId: string; triggerId: string; firstFireDate: Date | null }[]): Promise<void> {
    const existing = await this.prisma.trigger.findMany({ select: { namespace: true, flowId: true, triggerId: true } });
    const key = (t: { namespace: string; flowId: string; triggerId: string }) => `${t.namespace}\u0000${t.flowId}\u0000${t.triggerId}`;
    const wantedKeys = new Set(wanted.map(key));
    const existingKeys = new Set(existing.map(key));
    for (const t of existing) {
      if (!wantedKeys.has(key(t))) await this.prisma.trigger.deleteMany({ where: { namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId } });
    }
    const missing = wanted.filter((t) => !existingKeys.has(key(t)));
    if (missing.length > 0) {
      await this.prisma.trigger.createMany({
        data: missing.map((t) => ({ namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId, nextFireDate: t.firstFireDate })),
        skipDuplicates: true,
      });
    }
  }

  /** Triggers due at `now`. */
  async dueTriggers(now: Date): Promise<TriggerSlot[]> {
    return this.prisma.trigger.findMany({
      where: { nextFireDate: { lte: now } },
      select: { namespace: true, flowId: true, triggerId: true, nextFireDate: true },
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
