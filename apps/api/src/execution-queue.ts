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
export interface ExecutionEvent {
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
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
