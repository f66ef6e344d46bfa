/**
 * Whether the scheduler can reach its database, as its own queries found it. Every failure goes through
 * `classifyDbError` (`@sluice/db`, the one place that tells an unreachable database from anything else): an
 * unavailable database marks it DOWN until a query succeeds again. Consumers then retry their messages instead of
 * failing them, the health check reports DOWN, and the watchdog and the reconciliation wait until the database has been
 * back for a while (`sinceUnavailableMs`) before they judge anything from what it holds.
 */
import { classifyDbError } from '@sluice/db';

export interface DatabaseHealth {
  readonly status: 'UP' | 'DOWN';
  /** When it went DOWN (the first failure of this outage). */
  readonly since?: Date;
  /** Why (no host name or credential): `connection refused`, `the server is shutting down`... */
  readonly reason?: string;
}

export class DatabaseStatus {
  #downSince: Date | undefined;
  #reason: string | undefined;
  /** When a query last failed because the database was unreachable (epoch ms). */
  #lastUnavailable: number | undefined;

  constructor(
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A query failed: when the database is unreachable, mark it DOWN and return a short reason for the queue's logs
   * (`database unreachable: connection refused`); otherwise undefined (the error is not the database's absence).
   */
  failed(error: unknown): string | undefined {
    const found = classifyDbError(error);
    if (found?.kind !== 'unavailable') return undefined;
    this.#lastUnavailable = this.now();
    this.#reason = found.reason;
    if (this.#downSince === undefined) {
      this.#downSince = new Date(this.#lastUnavailable);
      this.log(`scheduler: database DOWN (${found.reason}): messages wait in the queue and are applied once it is back`);
    }
    return `database unreachable: ${found.reason}`;
  }

  /** A query succeeded: the database is UP. */
  succeeded(): void {
    if (this.#downSince === undefined) return;
    const seconds = ((this.now() - this.#downSince.getTime()) / 1000).toFixed(1);
    this.#downSince = undefined;
    this.#reason = undefined;
    this.log(`scheduler: database UP again (it was unreachable for ${seconds} s)`);
  }

  get health(): DatabaseHealth {
    return this.#downSince === undefined ? { status: 'UP' } : { status: 'DOWN', since: this.#downSince, ...(this.#reason ? { reason: this.#reason } : {}) };
  }

  /** Ms since a query last found the database unreachable; Infinity when none ever did. */
  sinceUnavailableMs(): number {
    return this.#lastUnavailable === undefined ? Infinity : this.now() - this.#lastUnavailable;
  }
}
