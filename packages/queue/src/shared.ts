/** What both drivers share: argument checks and defaults, so they accept and refuse the same input. */
import { ALL_WORKER_GROUPS } from './contract.js';

/** Deliveries of a results, logs or executions message before it is dropped. */
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
