/**
 * The webhook's rate limit (`SLUICE_WEBHOOK_RATE_LIMIT`): at most `limit` calls per `period` for one flow and key,
 * counted in fixed windows, in this API process (behind several API replicas, each counts its own calls).
 *
 * Only calls whose key matched a Webhook trigger are counted: a wrong key is answered 404 before, so random keys
 * cannot fill the table, which holds at most one entry per Webhook trigger called in the current window.
 */

export interface RateLimit {
  readonly limit: number;
  readonly period: 'second' | 'minute';
}

const PERIOD_MS: Readonly<Record<RateLimit['period'], number>> = { second: 1000, minute: 60_000 };

/**
 * `SLUICE_WEBHOOK_RATE_LIMIT`: `N` (per minute), `N/s`, `N/second`, `N/m` or `N/minute`; unset or empty: no limit.
 * Throws naming the variable for anything else, so a typo stops the server at start-up rather than lifting the limit.
 */
export function parseRateLimit(name: string, raw: string | undefined): RateLimit | undefined {
  const text = raw?.trim();
  if (!text) return undefined;
  const match = /^(\d+)\s*(?:\/\s*(s|sec|second|m|min|minute))?$/i.exec(text);
  const limit = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(limit) || limit < 1) {
    throw new Error(`${name} must be a number of calls per minute, or N/second or N/minute (e.g. 60/minute), got ${JSON.stringify(raw)}`);
  }
  return { limit, period: match[2]?.toLowerCase().startsWith('s') ? 'second' : 'minute' };
}

/** The decision for one call: allowed, or refused with the seconds until the window ends (`Retry-After`). */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly periodMs: number;

  constructor(
    readonly rate: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    this.periodMs = PERIOD_MS[rate.period];
  }

  /** Count one call for `key`. */
  take(key: string): RateDecision {
    const now = this.now();
    const start = now - (now % this.periodMs);
    if (this.windows.size > 10_000) this.prune(start);
    const window = this.windows.get(key);
    if (window === undefined || window.start !== start) {
      this.windows.set(key, { start, count: 1 });
      return { allowed: true };
    }
    if (window.count >= this.rate.limit) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((start + this.periodMs - now) / 1000)) };
    window.count += 1;
    return { allowed: true };
  }

  /** Drop the windows that ended. */
  private prune(current: number): void {
    for (const [key, window] of this.windows) if (window.start !== current) this.windows.delete(key);
  }
}
