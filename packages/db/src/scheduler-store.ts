import type { PrismaClient, TaskRun } from './generated/prisma/client.js';
import { Prisma } from './generated/prisma/client.js';
import { TERMINAL_STATES } from './execution-repository.js';
import type { StateEntry } from './execution-repository.js';

/**
 * What the scheduler reads and writes. Every change to one execution happens inside {@link SchedulerStore.withExecution},
 * a transaction holding that execution's row lock (`SELECT ... FOR UPDATE`): several scheduler replicas may handle
 * messages of the same execution at once, and the lock makes them take turns, each seeing the other's writes.
 */

/** A task run as the scheduler works with it. `attempts` is Kestra's shape: `[{state: {current, histories}, workerId?}]`. */
export interface SchedulerTaskRun {
  readonly id: string;
  readonly taskId: string;
  readonly parentTaskRunId: string | null;
  readonly state: string;
  readonly stateHistory: StateEntry[];
  readonly attempts: AttemptEntry[];
  readonly outputs: unknown;
  readonly metrics: unknown;
  readonly workerGroup: string | null;
  readonly workerId: string | null;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
}

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
  appendLogs(entries: readonly { taskId?: string | null; taskRunId?: string | null; level: string; message: string; timestamp: Date }[]): Promise<void>;
  /** Take the flow's admission lock (after the execution's row lock: always in that order) until commit. */
  lockFlow(): Promise<void>;
  /** Executions of this flow holding a concurrency slot (RUNNING, KILLING, RESTARTED), this one excluded. */
  countActive(): Promise<number>;
}

function asArray<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function toTaskRun(row: TaskRun): SchedulerTaskRun {
  return {
    id: row.id,
    taskId: row.taskId,
    parentTaskRunId: row.parentTaskRunId,
    state: row.state,
    stateHistory: asArray<StateEntry>(row.stateHistory),
    attempts: asArray<AttemptEntry>(row.attempts),
    outputs: row.outputs,
    metrics: row.metrics,
    workerGroup: row.workerGroup,
    workerId: row.workerId,
    startDate: row.startDate,
    endDate: row.endDate,
  };
}

const json = (value: unknown): Prisma.InputJsonValue | typeof Prisma.DbNull =>
  value === null || value === undefined ? Prisma.DbNull : (value as Prisma.InputJsonValue);

export interface TriggerSlot {
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
  readonly nextFireDate: Date | null;
}

export class SchedulerStore {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Run `fn` in a transaction that holds the execution's row lock. Returns undefined (without calling `fn`) when the
   * execution does not exist.
   */
  async withExecution<T>(id: string, fn: (execution: LockedExecution, tx: ExecutionTx) => Promise<T>): Promise<T | undefined> {
    return this.prisma.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<
          { id: string; namespace: string; flow_id: string; flow_revision: number; state: string; inputs: unknown; labels: unknown; start_date: Date }[]
        >`SELECT id, namespace, flow_id, flow_revision, state, inputs, labels, start_date FROM executions WHERE id = ${id} FOR UPDATE`;
        const row = rows[0];
        if (!row) return undefined;
        const taskRuns = await tx.taskRun.findMany({ where: { executionId: id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
        const execution: LockedExecution = {
          id: row.id,
          namespace: row.namespace,
          flowId: row.flow_id,
          flowRevision: row.flow_revision,
          state: row.state,
          inputs: (row.inputs && typeof row.inputs === 'object' && !Array.isArray(row.inputs) ? row.inputs : {}) as Record<string, unknown>,
          labels: asArray(row.labels),
          startDate: row.start_date,
          taskRuns: taskRuns.map(toTaskRun),
        };
        const writes: ExecutionTx = {
          async setState(state, now) {
            const entry = JSON.stringify([{ state, date: now.toISOString() }]);
            const endDate = TERMINAL_STATES.includes(state) ? now : null;
            await tx.$executeRaw`
              UPDATE executions SET state = ${state}, state_history = state_history || ${entry}::jsonb, end_date = ${endDate}, updated_at = ${now}
               WHERE id = ${id}`;
          },
          async setOutputs(outputs) {
            await tx.execution.update({ where: { id }, data: { outputs: outputs as Prisma.InputJsonValue } });
          },
          async saveTaskRun(run) {
            const data = {
              taskId: run.taskId,
              parentTaskRunId: run.parentTaskRunId,
              state: run.state,
              stateHistory: run.stateHistory as unknown as Prisma.InputJsonValue,
              attempts: run.attempts as unknown as Prisma.InputJsonValue,
              outputs: json(run.outputs),
              metrics: json(run.metrics),
              workerGroup: run.workerGroup,
              workerId: run.workerId,
              startDate: run.startDate,
              endDate: run.endDate,
            };
            await tx.taskRun.upsert({ where: { id: run.id }, create: { id: run.id, executionId: id, ...data }, update: data });
          },
          async flowRevision(namespace, flowId, revision) {
            const found = await tx.flow.findUnique({ where: { namespace_flowId_revision: { namespace, flowId, revision } }, select: { parsed: true } });
            return found?.parsed;
          },
          async liveWorkerCount(group, since) {
            return tx.worker.count({ where: { group, lastHeartbeat: { gte: since } } });
          },
          async appendLogs(entries) {
            if (entries.length === 0) return;
            await tx.logEntry.createMany({
              data: entries.map((entry) => ({
                executionId: id,
                namespace: execution.namespace,
                flowId: execution.flowId,
                taskId: entry.taskId ?? null,
                taskRunId: entry.taskRunId ?? null,
                level: entry.level,
                message: entry.message,
                timestamp: entry.timestamp,
              })),
            });
          },
          async lockFlow() {
            await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`${execution.namespace}/${execution.flowId}`}))`;
          },
          async countActive() {
            return tx.execution.count({
              where: { namespace: execution.namespace, flowId: execution.flowId, state: { in: ['RUNNING', 'KILLING', 'RESTARTED'] }, id: { not: id } },
            });
          },
        };
        return fn(execution, writes);
      },
      { timeout: 30_000, maxWait: 30_000 },
    );
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
