/**
 * How the API hands a message to the queue without waiting for an unreachable Redis (issue #15): the BullMQ driver's
 * commands wait for Redis to come back (`maxRetriesPerRequest: null`), which would hold a request for as long as
 * Redis is down. Everything the API publishes is either sent again by the scheduler's reconciliation (execution
 * events: Postgres holds the execution) or only speeds things up (flow change announcements, live updates), so it
 * checks the queue's health first and bounds the wait.
 */
import { classifyQueueError } from '@sluice/queue';
import type { QueueHealth } from '@sluice/queue';

/** How long the API waits for the queue to take a message before it leaves it to the reconciliation. */
export const QUEUE_PUBLISH_TIMEOUT_MS = 2000;

/** `promise`'s value, or undefined once `ms` have passed without it settling. */
export async function within<T>(promise: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  if (promise === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** What became of a message: taken by the queue, or not (the queue is unreachable: why). */
export type Handoff = { readonly sent: true } | { readonly sent: false; readonly reason: string };

/**
 * Publish without waiting for an unreachable queue: not at all when `health` says it is DOWN (a publish would wait
 * for Redis to come back, and pile up in the client's memory meanwhile), and at most `timeoutMs` otherwise (a Redis
 * that stopped answering but whose connection still looks up). A publish given up on goes on unobserved: it reaches
 * the queue when Redis is back, or never; every message the API publishes is idempotent on the scheduler's side, so a
 * late one next to the reconciliation's is harmless. A rejection while the queue is DOWN, or one that says it cannot
 * reach Redis, is not sent either; any other rejection is thrown.
 */
export async function publishBounded(publish: () => Promise<void>, health: (() => QueueHealth) | undefined, timeoutMs = QUEUE_PUBLISH_TIMEOUT_MS): Promise<Handoff> {
  const before = health?.();
  if (before?.status === 'DOWN') return { sent: false, reason: before.error ?? 'the queue is down' };
  let timer: NodeJS.Timeout | undefined;
  let pending: Promise<void>;
  try {
    pending = publish();
  } catch (error) {
    pending = Promise.reject(error);
  }
  const late = new Promise<Handoff>((resolve) => {
    timer = setTimeout(() => resolve({ sent: false, reason: `it did not take the message within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([pending.then((): Handoff => ({ sent: true })), late]);
  } catch (error) {
    const now = health?.();
    if (now?.status === 'DOWN') return { sent: false, reason: now.error ?? 'the queue is down' };
    const unreachable = classifyQueueError(error);
    if (unreachable) return { sent: false, reason: unreachable.reason };
    throw error;
  } finally {
    clearTimeout(timer);
    pending.catch(() => undefined); // given up on: nobody waits for its outcome
  }
}
