/**
 * How the API hands executions to the scheduler (DESIGN.md §1: "enqueue execution created"). The API never runs
 * tasks: it stores the execution, then publishes one of these events; or, given an {@link ExecutionStarter}, it takes
 * a new execution's first step itself and publishes nothing (docs/execution.md, Components). The real implementations (BullMQ, and the
 * in-process driver of `sluice server local`) come with the scheduler (issue 5) and adapt `packages/queue` to this
 * interface; until then `main.ts` uses {@link createLoggingExecutionQueue} and tests use
 * {@link createRecordingExecutionQueue}.
 *
 * Semantics every implementation keeps: a call resolves once the event is durably accepted (for BullMQ: added to
 * Redis), or once it is left to the scheduler's reconciliation: the queue is unreachable (Redis down), and Postgres,
 * where the API stored the execution first, is the truth the reconciliation reads (it sends the `created`,
 * `restarted` or `kill` event again for an execution that waited too long: `SLUICE_REQUEUE_AFTER_MS`). A rejection
 * means the event was refused for another reason, and the API then fails the request (a created execution that could
 * not be enqueued is marked FAILED so it does not sit in CREATED forever).
 */
import type { StoredExecution } from '@sluice/db';
import type { ExecutionSnapshot, QueueHealth } from '@sluice/queue';
import { publishBounded, QUEUE_PUBLISH_TIMEOUT_MS, within } from './queue-handoff.js';

export interface ExecutionEvent {
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
  /** A new execution as stored: the scheduler's first step then skips reading it back (`created` only). */
  readonly snapshot?: ExecutionSnapshot;
  /** Deliver it this much later (`created` of an execution with a `scheduleDate`). */
  readonly delayMs?: number;
}

export interface ExecutionQueue {
  /** A new execution was stored in state CREATED: the scheduler starts it. */
  executionCreated(event: ExecutionEvent): Promise<void>;
  /** A FAILED execution was moved to RESTARTED (its failed task runs back to CREATED): the scheduler resumes it. */
  executionRestarted(event: ExecutionEvent): Promise<void>;
  /** The execution was moved to KILLING: the scheduler and workers stop its task runs, then mark it KILLED. */
  killRequested(executionId: string): Promise<void>;
}

/**
 * A queue that only logs. Nothing consumes the events, so executions stay CREATED (or KILLING) until a scheduler
 * exists: use it only where no scheduler runs yet.
 */
export function createLoggingExecutionQueue(log: (message: string) => void): ExecutionQueue {
  return {
    async executionCreated(event) {
      log(`execution ${event.executionId} of ${event.namespace}.${event.flowId} created (no scheduler connected: it stays CREATED)`);
    },
    async executionRestarted(event) {
      log(`execution ${event.executionId} of ${event.namespace}.${event.flowId} restarted (no scheduler connected)`);
    },
    async killRequested(executionId) {
      log(`kill of execution ${executionId} requested (no scheduler connected: it stays KILLING)`);
    },
  };
}

export type RecordedEvent =
  | { readonly type: 'executionCreated'; readonly event: ExecutionEvent }
  | { readonly type: 'executionRestarted'; readonly event: ExecutionEvent }
  | { readonly type: 'killRequested'; readonly executionId: string };

/** A queue that records every event in order (tests). */
export interface RecordingExecutionQueue extends ExecutionQueue {
  readonly events: RecordedEvent[];
}

export function createRecordingExecutionQueue(): RecordingExecutionQueue {
  const events: RecordedEvent[] = [];
  return {
    events,
    async executionCreated(event) {
      events.push({ type: 'executionCreated', event: { ...event } });
    },
    async executionRestarted(event) {
      events.push({ type: 'executionRestarted', event: { ...event } });
    },
    async killRequested(executionId) {
      events.push({ type: 'killRequested', executionId });
    },
  };
}

/**
 * Takes a new execution's first step in the API's own process, with the scheduler's step code (`Scheduler.startNew`
 * of `@sluice/scheduler`, given by whoever composes the API): the execution is stored together with that step, in one
 * transaction, and no `created` message goes to the scheduler. Where none is given, or it is not `ready`, the API
 * stores the execution and sends the message.
 */
export interface ExecutionStarter {
  /** Whether to start executions now: false while the queue is unreachable (the step's task jobs would wait for it). */
  ready(): boolean;
  /**
   * Store the new execution (ExecutionRepository.prepare) with its first step. Resolves once stored, with what
   * follows the commit (the task jobs queued, an end announced) as `after`; rejects when nothing was stored.
   */
  start(execution: StoredExecution): Promise<{ readonly after: Promise<void> }>;
}

/** Messages the scheduler's queue accepts (the subset of `@sluice/queue`'s driver the API needs). */
export interface ExecutionPublisher {
  publishExecution(
    message: { type: 'created' | 'restarted' | 'kill'; executionId: string; namespace?: string; flowId?: string; snapshot?: ExecutionSnapshot },
    options?: { delayMs?: number },
  ): Promise<void>;
  /** Whether the queue is reachable now (`QueueDriver.health`); without it, every publish is only bounded in time. */
  health?(): QueueHealth;
}

export interface PublishingExecutionQueueOptions {
  /** Longest wait for the queue to take an event. Default {@link QUEUE_PUBLISH_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** One line per event left to the reconciliation (`queue unreachable: execution X will start when it is back`). */
  readonly log?: (line: string) => void;
}

/**
 * The API side of the queue contract: each event becomes one message on the `executions` channel. While the queue
 * is unreachable (see {@link publishBounded}) the event is not sent: the execution, already stored, gets it from the
 * scheduler's reconciliation once Redis is back, and the request is answered as usual (a client that retried a
 * creation on a 5xx would create a second execution).
 */
export function createPublishingExecutionQueue(publisher: ExecutionPublisher, options: PublishingExecutionQueueOptions = {}): ExecutionQueue {
  const health = publisher.health ? () => publisher.health!() : undefined;
  const send = async (publish: () => Promise<void>, executionId: string, what: string): Promise<void> => {
    const handoff = await publishBounded(publish, health, options.timeoutMs);
    if (!handoff.sent) options.log?.(`queue unreachable: execution ${executionId} will ${what} when it is back (${handoff.reason})`);
  };
  return {
    executionCreated: ({ delayMs, ...event }) =>
      send(() => publisher.publishExecution({ type: 'created', ...event }, delayMs !== undefined && delayMs > 0 ? { delayMs } : undefined), event.executionId, 'start'),
    executionRestarted: (event) => send(() => publisher.publishExecution({ type: 'restarted', ...event }), event.executionId, 'restart'),
    killRequested: (executionId) => send(() => publisher.publishExecution({ type: 'kill', executionId }), executionId, 'be killed'),
  };
}

/** Live execution updates (the scheduler publishes one per change), for `?wait=true`. */
export interface ExecutionUpdateSource {
  subscribeExecutionUpdates(
    handler: (update: { executionId: string; ended: boolean; execution?: unknown }) => void,
    options?: { readonly only?: 'ends' | 'steps' },
  ): Promise<() => Promise<void>>;
  health?(): QueueHealth;
}

export interface ExecutionWaiterOptions {
  /**
   * Longest wait for the subscription to be ready before a `watch` goes on without it (the waiter then polls the
   * database, as it does besides live updates anyway). Default {@link QUEUE_PUBLISH_TIMEOUT_MS}.
   */
  readonly readyTimeoutMs?: number;
}

/** Waits for executions to end. One subscription serves every waiter of the server. */
export interface ExecutionWaiter {
  /**
   * Start watching `executionId` (before enqueueing it, so no update is missed). `ended` resolves with the execution
   * the update carried (`@sluice/db`'s wire form), if it carried one.
   */
  watch(executionId: string): Promise<{ readonly ended: Promise<unknown>; cancel(): void }>;
  close(): Promise<void>;
}

export function createExecutionWaiter(source: ExecutionUpdateSource, options: ExecutionWaiterOptions = {}): ExecutionWaiter {
  const readyTimeoutMs = options.readyTimeoutMs ?? QUEUE_PUBLISH_TIMEOUT_MS;
  const waiting = new Map<string, Set<(execution: unknown) => void>>();
  let subscription: Promise<() => Promise<void>> | undefined;
  const ensureSubscribed = (): Promise<unknown> => {
    if (subscription) return subscription;
    const subscribing = source.subscribeExecutionUpdates((update) => {
      if (!update.ended) return;
      const resolvers = waiting.get(update.executionId);
      if (!resolvers) return;
      waiting.delete(update.executionId);
      for (const resolve of resolvers) resolve(update.execution);
    }, { only: 'ends' });
    subscription = subscribing;
    // A subscription that failed is tried again by the next watch, not kept failed for good.
    subscribing.catch(() => {
      if (subscription === subscribing) subscription = undefined;
    });
    return subscribing;
  };
  /**
   * Subscribed, or gone on without it: the queue is DOWN, the subscription failed, or it is not ready within
   * `readyTimeoutMs` (Redis does not answer). The waiter's database polls then see the end, a poll interval later.
   */
  const subscribed = async (): Promise<void> => {
    const pending = ensureSubscribed().catch(() => undefined);
    if (source.health?.().status === 'DOWN') return;
    await within(pending, readyTimeoutMs);
  };
  return {
    async watch(executionId) {
      let resolver: (execution: unknown) => void = () => undefined;
      const ended = new Promise<unknown>((resolve) => {
        resolver = resolve;
      });
      const set = waiting.get(executionId) ?? new Set();
      set.add(resolver);
      waiting.set(executionId, set);
      await subscribed();
      return {
        ended,
        cancel() {
          const current = waiting.get(executionId);
          current?.delete(resolver);
          if (current?.size === 0) waiting.delete(executionId);
        },
      };
    },
    async close() {
      const pending = subscription;
      subscription = undefined;
      // A subscription or an unsubscription waiting for Redis does not hold the close (closing the driver ends it).
      const unsubscribe = await within(pending?.catch(() => undefined), readyTimeoutMs);
      await within(unsubscribe?.().catch(() => undefined), readyTimeoutMs);
    },
  };
}
