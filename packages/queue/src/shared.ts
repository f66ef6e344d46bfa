/** What both drivers share: argument checks and defaults, so they accept and refuse the same input. */
import {
  ALL_WORKER_GROUPS,
  TRANSIENT_BACKOFF_MAX_MS,
  TRANSIENT_BACKOFF_MIN_MS,
  TRANSIENT_REPORT_EVERY_MS,
  type ConsumeOptions,
  type TransientStatus,
} from './contract.js';

/**
 * Deliveries of a results, logs or executions message whose handler fails (not transiently: a bug, a bad message)
 * before it is dropped and reported. Transient failures (see `ConsumeOptions.transient`) do not count.
 */
export const DEFAULT_MAX_DELIVERIES = 3;
/** Pause before a failed results, logs or executions message is delivered again. */
export const REDELIVERY_DELAY_MS = 100;
/** How long a completed message's `dedupId` stays known. */
export const COMPLETED_RETENTION_SECONDS = 3600;
/** How long a dropped (failed) message's `dedupId` stays known. */
export const FAILED_RETENTION_SECONDS = 86_400;
/** How long a killed mark lasts. */
export const KILL_MARK_SECONDS = 86_400;

export type ErrorReporter = (error: unknown, context: string) => void;

/** Default `onError`: drivers run in the background, so the error goes to stderr rather than nowhere. */
export const reportToConsole: ErrorReporter = (error, context) => {
  console.error(`[sluice queue] ${context}:`, error);
};

/**
 * Throws unless `group` can name a task queue: a non-empty key without `:` (BullMQ forbids it in queue names).
 * {@link ALL_WORKER_GROUPS} passes only with `allowAll`.
 */
export function assertWorkerGroup(group: string, allowAll = false): void {
  if (typeof group !== 'string' || group === '') {
    throw new Error(`Invalid worker group key ${JSON.stringify(group)}: it must be a non-empty string`);
  }
  if (group.includes(':')) {
    throw new Error(`Invalid worker group key "${group}": it may not contain ':' (BullMQ forbids ':' in queue names)`);
  }
  if (group === ALL_WORKER_GROUPS && !allowAll) {
    throw new Error(`Invalid worker group key "${group}": '${ALL_WORKER_GROUPS}' (every group) is only valid for an in-process task consumer`);
  }
}

/** The consumer's concurrency: a positive integer, default 1. */
export function concurrencyOf(options: { readonly concurrency?: number }): number {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`Invalid consumer concurrency ${String(concurrency)}: it must be a positive integer`);
  }
  return concurrency;
}

/** A positive integer option, or its default. */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 1) throw new Error(`Invalid ${name} ${String(result)}: it must be a positive integer`);
  return result;
}

/** The delay of an enqueue, in whole ms (0 for none); refuses negative or non-finite values. */
export function delayOf(options: { readonly delayMs?: number } | undefined): number {
  const delay = options?.delayMs ?? 0;
  if (!Number.isFinite(delay) || delay < 0) throw new Error(`Invalid delayMs ${String(delay)}: it must be a finite number >= 0`);
  return Math.ceil(delay);
}

/** The Redis key part and in-process key of a task run attempt's lease. */
export function leaseKey(taskRunId: string, attempt: number): string {
  if (typeof taskRunId !== 'string' || taskRunId === '') throw new Error(`Invalid task run id ${JSON.stringify(taskRunId)}: it must be a non-empty string`);
  if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`Invalid attempt ${String(attempt)}: it must be a positive integer`);
  return `${encodeURIComponent(taskRunId)}:${attempt}`;
}

/** A lease holder and TTL as both drivers accept them. */
export function assertLease(holder: string, ttlMs?: number): void {
  if (typeof holder !== 'string' || holder === '' || holder.includes('\n')) throw new Error(`Invalid lease holder ${JSON.stringify(holder)}: it must be a non-empty string without newlines`);
  if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs < 1)) throw new Error(`Invalid lease ttlMs ${String(ttlMs)}: it must be a positive integer`);
}

/** How a transient retry loop ended: the handler resolved, or the consumer closed while it waited. */
export type TransientOutcome = 'handled' | 'closed';

/**
 * One consumer's handling of transient failures (`ConsumeOptions.transient`): a message whose handler fails
 * transiently is handled again after a pause, as long as it takes, while the consumer keeps its slot. The pause is
 * shared by the consumer's messages: it doubles with each transient failure (from TRANSIENT_BACKOFF_MIN_MS, with
 * ±20 % jitter) up to TRANSIENT_BACKOFF_MAX_MS, and starts over once a message gets through, so a consumer tries at
 * most `concurrency` messages per pause while its dependency is away. The outage is reported at its first failure,
 * then at most every TRANSIENT_REPORT_EVERY_MS, and when it ends.
 */
export class TransientRetry {
  readonly #classify: ((error: unknown) => string | undefined) | undefined;
  readonly #onStatus: (status: TransientStatus) => void;
  readonly #countWaiting: () => Promise<number>;
  readonly #report: ErrorReporter;
  #failures = 0;
  #since: Date | undefined;
  #reason = '';
  #lastReport = 0;
  #closed = false;
  readonly #sleepers = new Set<() => void>();
  /** Messages being retried now. */
  retrying = 0;

  constructor(options: ConsumeOptions, context: string, countWaiting: () => Promise<number>, report: ErrorReporter) {
    this.#classify = options.transient;
    this.#countWaiting = countWaiting;
    this.#report = report;
    this.#onStatus =
      options.onTransient ??
      ((status) =>
        report(
          new Error(status.recovered ? `${status.reason}: recovered` : `${status.reason}: ${status.waiting} messages waiting, retrying`),
          `${context}: transient failure since ${status.since.toISOString()}`,
        ));
  }

  /** The pause before the next try (ms). */
  delayMs(): number {
    const base = Math.min(TRANSIENT_BACKOFF_MAX_MS, TRANSIENT_BACKOFF_MIN_MS * 2 ** Math.min(20, Math.max(0, this.#failures - 1)));
    return Math.max(1, Math.round(base * (0.8 + Math.random() * 0.4)));
  }

  /**
   * Call `handle` until it resolves ('handled'), rejects with a failure that is not transient (rethrown), or the
   * consumer closes while a retry waits ('closed': the message must go back to the queue, not counted as a delivery).
   */
  async run(handle: () => Promise<void>): Promise<TransientOutcome> {
    let retried = false;
    try {
      for (;;) {
        try {
          await handle();
          if (this.#since !== undefined) this.#recovered();
          else this.#failures = 0;
          return 'handled';
        } catch (error) {
          const reason = this.#classify?.(error);
          if (reason === undefined || this.#closed) throw error;
          if (!retried) {
            retried = true;
            this.retrying += 1;
          }
          this.#failed(reason);
          if (!(await this.#sleep(this.delayMs()))) return 'closed';
        }
      }
    } finally {
      if (retried) this.retrying -= 1;
    }
  }

  /** The consumer is closing: retries waiting now end at once ('closed'); later transient failures are not retried. */
  close(): void {
    this.#closed = true;
    for (const wake of [...this.#sleepers]) wake();
  }

  #failed(reason: string): void {
    this.#failures += 1;
    this.#reason = reason;
    const now = Date.now();
    const first = this.#since === undefined;
    this.#since ??= new Date(now);
    if (!first && now - this.#lastReport < TRANSIENT_REPORT_EVERY_MS) return;
    this.#lastReport = now;
    this.#tell(false);
  }

  #recovered(): void {
    this.#failures = 0;
    this.#tell(true);
    this.#since = undefined;
  }

  #tell(recovered: boolean): void {
    const since = this.#since ?? new Date();
    const reason = this.#reason;
    void this.#countWaiting()
      .catch(() => -1)
      .then((waiting) => {
        try {
          this.#onStatus({ reason, waiting: Math.max(waiting, this.retrying), since, recovered });
        } catch (error) {
          this.#report(error, 'onTransient observer failed');
        }
      });
  }

  /** Resolves true after `ms`, or false at once when the consumer closes. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.#sleepers.delete(wake);
        resolve(true);
      }, ms);
      this.#sleepers.add(wake);
    });
  }
}
