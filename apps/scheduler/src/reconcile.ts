/**
 * Lost jobs and events: Postgres is the truth, the queue may lose what it held (Redis restarted without persistence,
 * a scheduler that died between its commit and its enqueue). Every `intervalMs` the reconciliation looks for what has
 * waited longer than `requeueAfterMs` for a message that should be in the queue, and sends it again:
 * - a top-level task run CREATED, or RETRYING (its retry delay past or not: the job is sent with what is left of it),
 *   whose job (`<taskRunId>-<attempt>`) is not in its group's queue (waiting, delayed or active): its job, rebuilt
 *   under the execution's lock, replacing a finished job of the same id (`replaceFinished`);
 * - a top-level task run RUNNING on a live worker (it heartbeats) that nobody runs any more: its job is not in the
 *   queue and no lease on its attempt is held, on two passes at least `leaseTtlMs` apart (a worker running it renews
 *   its lease every third of that, and takes it again after a Redis restart). Its results were lost with the queue
 *   (Redis restarted before they were applied): the same attempt is sent again, to run again. A run whose worker is
 *   gone is the watchdog's (SLU_TASK_WORKER_LOST);
 * - a CREATED execution due to start, a RESTARTED one, the oldest QUEUED one of a flow: its `created`, `restarted` or
 *   `dequeued` event, with a dedupId, so one at most waits per execution (duplicates are harmless: every step
 *   re-checks the execution under its lock). The API does not wait for an unreachable queue: it stores the execution
 *   and leaves the event to this;
 * - a parent with a subflow result waiting (the wake-up its child's end sent was lost): a `resume` that applies it;
 * - a KILLING execution: its `kill` event, whose handling marks the execution killed in the queue again (a Redis
 *   restart loses the mark), broadcasts the kill to the workers again and cancels what never started; the execution
 *   ends KILLED once its running task runs have reported. A kill requested while Redis was down, or lost with it, is
 *   thus carried out once Redis is back.
 * A job sent again whose first copy did run anyway is not run twice: the task run attempt's lease says it finished
 * (see the worker). While the database is unreachable, and for `requeueAfterMs` after it was last found so, the
 * reconciliation waits: the results queued meanwhile are applied first.
 */
import type { Db } from '@sluice/db';
import { DEFAULT_WORKER_GROUP } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import type { DatabaseStatus } from './database-status.js';

export interface ReconcilerOptions {
  readonly db: Db;
  readonly queue: QueueDriver;
  readonly database: DatabaseStatus;
  /**
   * Send again the jobs of these task runs of one execution (those still waiting, and those RUNNING with `running`);
   * resolves with how many were sent.
   */
  readonly requeueTaskRuns: (executionId: string, taskRunIds: readonly string[], running?: boolean) => Promise<number>;
  /** The workers' task lease TTL: a RUNNING run with no job and no lease for this long is run by nobody. */
  readonly leaseTtlMs: number;
  /** A worker is alive when its last heartbeat is younger than this. */
  readonly workerLivenessMs: number;
  /** How long a task run or an execution waits before its message is looked for. */
  readonly requeueAfterMs: number;
  /** How often to look. */
  readonly intervalMs: number;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/** The event an execution waiting in each state needs (see the top of this file). */
const EVENT_OF_STATE = { CREATED: 'created', RESTARTED: 'restarted', KILLING: 'kill', QUEUED: 'dequeued' } as const;

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** When an execution's event was last logged as sent again (one line a minute each, not one a pass). */
  private readonly logged = new Map<string, number>();
  /** RUNNING attempts (`<taskRunId>-<attempt>`) found with no job and no lease, and since when. */
  private readonly unattended = new Map<string, number>();

  constructor(private readonly options: ReconcilerOptions) {}

  start(): void {
    this.stopped = false;
    const tick = (): void => {
      this.running = this.check()
        .then(() => undefined)
        .catch((error: unknown) => {
          if (this.options.database.failed(error) === undefined) {
            this.options.log(`scheduler: reconciliation failed: ${error instanceof Error ? error.message : String(error)}`);
          }
        })
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass; returns how many task run jobs and execution events were sent again. */
  async check(): Promise<{ taskRuns: number; executions: number }> {
    const { db, queue, database, requeueAfterMs, log } = this.options;
    // Results queued while the database was away are applied first: until then a task run may look lost and not be.
    if (database.sinceUnavailableMs() < requeueAfterMs) return { taskRuns: 0, executions: 0 };
    const before = new Date(this.options.now().getTime() - requeueAfterMs);

    const missing = new Map<string, string[]>();
    for (const run of await db.scheduler.waitingTaskRuns(before)) {
      if (this.stopped) break;
      const group = run.workerGroup ?? DEFAULT_WORKER_GROUP;
      if (await queue.hasTask(group, `${run.id}-${run.attempt}`)) continue;
      // A worker took it (its lease is held, or it finished lately): its report waits in the results queue, behind a
      // backlog (a loop's thousand children ending together). Sending it again would run it twice. Once the lease
      // expires (reports lost), it is sent again.
      if (await queue.taskLease(run.id, run.attempt)) continue;
      const runs = missing.get(run.executionId) ?? [];
      runs.push(run.id);
      missing.set(run.executionId, runs);
    }
    database.succeeded();
    let taskRuns = 0;
    for (const [executionId, ids] of missing) {
      if (this.stopped) break;
      try {
        const sent = await this.options.requeueTaskRuns(executionId, ids);
        if (sent > 0) log(`scheduler: execution ${executionId}: ${sent} task run job(s) missing from the queue for over ${requeueAfterMs} ms: sent again`);
        taskRuns += sent;
      } catch (error) {
        // One execution that cannot be requeued (its flow revision is gone, say) does not hold the others.
        if (database.failed(error) !== undefined) throw error;
        if (this.shouldLog(executionId)) log(`scheduler: execution ${executionId}: could not send its jobs again: ${error instanceof Error ? error.message : String(error)}`);
      }
    }

    taskRuns += await this.checkRunning(before);

    let executions = 0;
    for (const execution of await db.scheduler.waitingExecutions(before)) {
      if (this.stopped) break;
      const type = EVENT_OF_STATE[execution.state];
      // One at most waiting per execution; a finished one does not block the next pass.
      await queue.publishExecution(
        { type, executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId },
        { dedupId: `reconcile:${type}:${execution.id}`, replaceFinished: true },
      );
      if (type !== 'dequeued' && this.shouldLog(execution.id)) {
        log(`scheduler: execution ${execution.id} ${execution.state} for over ${requeueAfterMs} ms: its ${type} event sent again`);
      }
      executions += 1;
    }

    // Parents of children that ended over `requeueAfterMs` ago with the result still waiting: their wake-up was lost.
    for (const parentId of await db.scheduler.staleSubflowResults(before)) {
      if (this.stopped) break;
      await queue.publishExecution({ type: 'resume', executionId: parentId, subflowResults: true }, { dedupId: `reconcile:subflow:${parentId}`, replaceFinished: true });
      if (this.shouldLog(parentId)) log(`scheduler: execution ${parentId}: a subflow's result waited over ${requeueAfterMs} ms: woken again`);
      executions += 1;
    }
    return { taskRuns, executions };
  }

  /** RUNNING runs nobody runs any more (see the top of this file): sent again. */
  private async checkRunning(before: Date): Promise<number> {
    const { db, queue, log, leaseTtlMs } = this.options;
    const at = this.options.now().getTime();
    const seen = new Set<string>();
    const resend = new Map<string, string[]>();
    for (const run of await db.scheduler.runningTaskRuns(before, new Date(at - this.options.workerLivenessMs))) {
      if (this.stopped) break;
      const key = `${run.id}-${run.attempt}`;
      seen.add(key);
      if ((await queue.hasTask(run.workerGroup ?? DEFAULT_WORKER_GROUP, key)) || (await queue.taskLease(run.id, run.attempt)) !== undefined) {
        this.unattended.delete(key);
        continue;
      }
      const since = this.unattended.get(key);
      if (since === undefined) this.unattended.set(key, at);
      if (since === undefined || at - since < leaseTtlMs) continue;
      this.unattended.delete(key);
      const runs = resend.get(run.executionId) ?? [];
      runs.push(run.id);
      resend.set(run.executionId, runs);
    }
    for (const key of this.unattended.keys()) if (!seen.has(key)) this.unattended.delete(key);
    let sent = 0;
    for (const [executionId, ids] of resend) {
      if (this.stopped) break;
      try {
        const count = await this.options.requeueTaskRuns(executionId, ids, true);
        if (count > 0) log(`scheduler: execution ${executionId}: ${count} RUNNING task run(s) with no job and no lease for ${leaseTtlMs} ms (their results were lost): sent again`);
        sent += count;
      } catch (error) {
        if (this.options.database.failed(error) !== undefined) throw error;
        if (this.shouldLog(executionId)) log(`scheduler: execution ${executionId}: could not send its jobs again: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return sent;
  }

  private shouldLog(executionId: string): boolean {
    const at = this.options.now().getTime();
    if (at - (this.logged.get(executionId) ?? -Infinity) < 60_000) return false;
    if (this.logged.size > 10_000) this.logged.clear();
    this.logged.set(executionId, at);
    return true;
  }
}
