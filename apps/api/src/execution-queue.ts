/**
 * How the API hands executions to the scheduler (DESIGN.md §1: "enqueue execution created"). The API never runs
 * tasks: it stores the execution, then publishes one of these events. The real implementations (BullMQ, and the
 * in-process driver of `sluice server local`) come with the scheduler (issue 5) and adapt `packages/queue` to this
 * interface; until then `main.ts` uses {@link createLoggingExecutionQueue} and tests use
 * {@link createRecordingExecutionQueue}.
 *
 * Semantics every implementation keeps: a call resolves once the event is durably accepted (for BullMQ: added to
 * Redis); a rejection means it was not, and the API then fails the request (a created execution that could not be
 * enqueued is marked FAILED so it does not sit in CREATED forever).
 */
import type { ExecutionSnapshot } from '@sluice/queue';

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

/** Messages the scheduler's queue accepts (the subset of `@sluice/queue`'s driver the API needs). */
export interface ExecutionPublisher {
  publishExecution(
    message: { type: 'created' | 'restarted' | 'kill'; executionId: string; namespace?: string; flowId?: string; snapshot?: ExecutionSnapshot },
    options?: { delayMs?: number },
  ): Promise<void>;
}

/** The API side of the queue contract: each event becomes one message on the `executions` channel. */
export function createPublishingExecutionQueue(publisher: ExecutionPublisher): ExecutionQueue {
  return {
    executionCreated: ({ delayMs, ...event }) => publisher.publishExecution({ type: 'created', ...event }, delayMs !== undefined && delayMs > 0 ? { delayMs } : undefined),
    executionRestarted: (event) => publisher.publishExecution({ type: 'restarted', ...event }),
    killRequested: (executionId) => publisher.publishExecution({ type: 'kill', executionId }),
  };
}

/** Live execution updates (the scheduler publishes one per change), for `?wait=true`. */
export interface ExecutionUpdateSource {
  subscribeExecutionUpdates(handler: (update: { executionId: string; ended: boolean; execution?: unknown }) => void): Promise<() => Promise<void>>;
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

export function createExecutionWaiter(source: ExecutionUpdateSource): ExecutionWaiter {
  const waiting = new Map<string, Set<(execution: unknown) => void>>();
  let subscription: Promise<() => Promise<void>> | undefined;
  const ensureSubscribed = (): Promise<unknown> =>
    (subscription ??= source.subscribeExecutionUpdates((update) => {
      if (!update.ended) return;
      const resolvers = waiting.get(update.executionId);
      if (!resolvers) return;
      waiting.delete(update.executionId);
      for (const resolve of resolvers) resolve(update.execution);
    }));
  return {
    async watch(executionId) {
      let resolver: (execution: unknown) => void = () => undefined;
      const ended = new Promise<unknown>((resolve) => {
        resolver = resolve;
      });
      const set = waiting.get(executionId) ?? new Set();
      set.add(resolver);
      waiting.set(executionId, set);
      await ensureSubscribed();
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
      const unsubscribe = await subscription;
      await unsubscribe?.();
      subscription = undefined;
    },
  };
}
