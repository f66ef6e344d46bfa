/**
 * Lost task runs: a worker that dies mid-task normally has its job re-delivered by the queue (BullMQ's stalled-job
 * check) to another worker of its group. When that does not happen — the job stalled too often, or the queue lost it
 * — the task run would stay RUNNING forever. The watchdog fails such runs (`SLU_TASK_WORKER_LOST`) through the normal
 * result path, so retry policies and `errors` tasks apply; a late result from the lost attempt is then ignored.
 */
import { SluiceError } from '@sluice/core';
import type { Db } from '@sluice/db';
import type { QueueDriver } from '@sluice/queue';

export interface WatchdogOptions {
  readonly db: Db;
  readonly queue: QueueDriver;
  /** How often to look. */
  readonly intervalMs: number;
  /** A worker is gone when its last heartbeat is older than this. */
  readonly workerLivenessMs: number;
  /** And the task run has not changed for this long. */
  readonly lostAfterMs: number;
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
        .catch((error: unknown) => this.options.log(`scheduler: lost-task check failed: ${error instanceof Error ? error.message : String(error)}`))
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
    const lost = await this.options.db.scheduler.lostTaskRuns(new Date(now.getTime() - this.options.workerLivenessMs), new Date(now.getTime() - this.options.lostAfterMs));
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
