/**
 * Lost task runs: a worker that dies mid-task normally has its job re-delivered by the queue (BullMQ's stalled-job
 * check) to another worker of its group. When that does not happen — the job stalled too often, or the queue lost it
 * — the task run would stay RUNNING forever. The watchdog fails such runs (`SLU_TASK_WORKER_LOST`) through the normal
 * result path, so retry policies and `errors` tasks apply; a late result from the lost attempt is then ignored.
 *
 * Heartbeats reach Postgres through the API: while the database is unreachable none is stored, and every worker
 * would look gone once it is back. So the watchdog judges nothing until the liveness window has passed since this
 * scheduler last found the database unreachable (by then every live worker has sent a heartbeat again).
 */
import { SluiceError } from '@sluice/core';
import type { Db } from '@sluice/db';
import type { QueueDriver } from '@sluice/queue';
import type { DatabaseStatus } from './database-status.js';

export interface WatchdogOptions {
  readonly db: Db;
  readonly queue: QueueDriver;
  /** How often to look. */
  readonly intervalMs: number;
  /** A worker is gone when its last heartbeat is older than this. */
  readonly workerLivenessMs: number;
  /** And the task run has not changed for this long. */
  readonly lostAfterMs: number;
  /** What the scheduler knows of its database: no run is judged lost until `workerLivenessMs` after an outage. */
  readonly database?: DatabaseStatus;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: WatchdogOptions) {}

  start(): void {
    const tick = (): void => {
      this.running = this.check()
        .then(() => undefined)
        .catch((error: unknown) => {
          if (this.options.database?.failed(error) !== undefined) return;
          this.options.log(`scheduler: lost-task check failed: ${error instanceof Error ? error.message : String(error)}`);
        })
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass; returns how many task runs were failed. */
  async check(): Promise<number> {
    const now = this.options.now();
    // Heartbeats could not be stored during a database outage: wait until every live worker had time to send one.
    if (this.options.database && this.options.database.sinceUnavailableMs() < this.options.workerLivenessMs) return 0;
    const lost = await this.options.db.scheduler.lostTaskRuns(new Date(now.getTime() - this.options.workerLivenessMs), new Date(now.getTime() - this.options.lostAfterMs));
    this.options.database?.succeeded();
    for (const run of lost) {
      const error = new SluiceError('SLU_TASK_WORKER_LOST', { workerId: run.workerId ?? '(unknown)', taskId: run.taskId });
      this.options.log(`scheduler: execution ${run.executionId}: ${error.message}`);
      await this.options.queue.publishResult({
        type: 'ended',
        executionId: run.executionId,
        taskRunId: run.id,
        taskId: run.taskId,
        attempt: run.attempt,
        workerId: run.workerId ?? 'unknown',
        state: 'FAILED',
        outputs: {},
        error: error.toJSON(),
        startedAt: now.toISOString(),
        endedAt: now.toISOString(),
      });
    }
    return lost.length;
  }
}
