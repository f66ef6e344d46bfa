/** Executions counted per day and state, for the overview's chart. Pure. */
import { stateDuration } from '../../format';
import type { Execution } from '../../types';

/** The order states stack in, bottom up: the good ones first, then the bad ones, then those not ended. */
export const STACK_ORDER = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED', 'KILLING', 'RUNNING', 'RETRYING', 'PAUSED', 'RESTARTED', 'QUEUED', 'CREATED'] as const;

export const ENDED = new Set(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED']);

export interface DayBucket {
  /** Local midnight of the day. */
  readonly date: Date;
  /** `YYYY-MM-DD`, local time. */
  readonly key: string;
  readonly counts: Record<string, number>;
  total: number;
}

const pad = (n: number): string => String(n).padStart(2, '0');
export const dayKey = (date: Date): string => `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;

/** Local midnight `days - 1` days before today: where a `days`-day chart starts. */
export function chartStart(days: number, now: Date = new Date()): Date {
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  start.setDate(start.getDate() - (days - 1));
  return start;
}

export function executionStart(execution: Execution): string | undefined {
  return execution.state.startDate ?? execution.state.histories?.[0]?.date;
}

/** One bucket per day from {@link chartStart} to today, each execution counted on the day it started. */
export function bucketByDay(executions: readonly Execution[], days: number, now: Date = new Date()): DayBucket[] {
  const start = chartStart(days, now);
  const buckets: DayBucket[] = [];
  const byKey = new Map<string, DayBucket>();
  for (let i = 0; i < days; i++) {
    const date = new Date(start.getFullYear(), start.getMonth(), start.getDate() + i);
    const bucket: DayBucket = { date, key: dayKey(date), counts: {}, total: 0 };
    buckets.push(bucket);
    byKey.set(bucket.key, bucket);
  }
  for (const execution of executions) {
    const started = executionStart(execution);
    if (!started) continue;
    const bucket = byKey.get(dayKey(new Date(started)));
    if (!bucket) continue;
    const state = execution.state.current;
    bucket.counts[state] = (bucket.counts[state] ?? 0) + 1;
    bucket.total++;
  }
  return buckets;
}

export interface Summary {
  readonly total: number;
  readonly ended: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly running: number;
  /** Succeeded out of ended, 0 to 1; undefined when none ended. */
  readonly successRate: number | undefined;
  /** Median duration of the ended executions, ms. */
  readonly medianDuration: number | undefined;
}

export function summarize(executions: readonly Execution[]): Summary {
  let ended = 0;
  let succeeded = 0;
  let failed = 0;
  let running = 0;
  const durations: number[] = [];
  for (const e of executions) {
    const state = e.state.current;
    if (ENDED.has(state)) {
      ended++;
      const d = stateDuration(e.state);
      if (d !== undefined && Number.isFinite(d)) durations.push(d);
    } else running++;
    if (state === 'SUCCESS') succeeded++;
    if (state === 'FAILED' || state === 'KILLED') failed++;
  }
  durations.sort((a, b) => a - b);
  const mid = durations.length >> 1;
  const median = durations.length === 0 ? undefined : durations.length % 2 ? durations[mid] : (durations[mid - 1]! + durations[mid]!) / 2;
  return { total: executions.length, ended, succeeded, failed, running, successRate: ended > 0 ? succeeded / ended : undefined, medianDuration: median };
}
