/**
 * Which errors of a queue driver mean "the queue's server cannot be reached now" (Redis down, restarting, refusing
 * connections, the driver closing), as opposed to a bug or a bad message: the API answers the first kind with a 503
 * (`SLU_QUEUE_UNAVAILABLE`, `Retry-After`), never a 500. One place decides, like `classifyDbError` for Postgres.
 */

/** ioredis' (and the drivers' own) messages for a command that could not reach Redis. */
const UNREACHABLE_MESSAGES: readonly RegExp[] = [
  /^Connection is closed\.?$/,
  /^Stream isn't writeable/,
  /^Reached the max retries per request limit/,
  /^the (BullMQ|in-process) queue driver is closed$/,
];

/** `{reason}` when `error` says the queue cannot be reached (see the top of this file); undefined otherwise. */
export function classifyQueueError(error: unknown): { readonly reason: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name === 'MaxRetriesPerRequestError') return { reason: error.message };
  if (UNREACHABLE_MESSAGES.some((pattern) => pattern.test(error.message))) return { reason: error.message };
  // A network error code alone (ECONNRESET...) is not enough: a client that goes away mid-upload raises those too.
  return undefined;
}
