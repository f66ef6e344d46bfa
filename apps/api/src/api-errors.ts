/**
 * Maps every error that reaches the API's error handler to `{code, message, details}` with its status. The API's own
 * errors are `SluiceError`s from core's table (`SLU_API_*`); Fastify's own are translated by HTTP status. Database
 * errors that are not bugs are a safety net behind the checks at the edges: the database unreachable is a 503
 * `SLU_DB_UNAVAILABLE` with `Retry-After`, a value it cannot store (NUL, lone surrogate) a 400
 * `SLU_API_INVALID_CHARACTER`. The queue unreachable is a 503 `SLU_QUEUE_UNAVAILABLE` with `Retry-After`. No body ever holds a stack trace or an unexpected error's message.
 */
import { isSluiceError, SluiceError } from '@sluice/core';
import { classifyDbError } from '@sluice/db';
import { classifyQueueError } from '@sluice/queue';

/** What every error body is: `{code, message, details}` with its HTTP status (and headers, `Retry-After` for 503). */
export interface ErrorResponse {
  readonly status: number;
  readonly body: { code: string; message: string; details: Record<string, unknown> };
  readonly headers: Record<string, string>;
}

/** Seconds a client is told to wait (`Retry-After`) when a dependency is down. */
export const RETRY_AFTER_SECONDS = 5;

interface FastifyLikeError {
  readonly code?: unknown;
  readonly statusCode?: unknown;
  readonly message?: unknown;
  readonly validation?: unknown;
  readonly validationContext?: unknown;
}

/**
 * Fastify's own errors (`FST_ERR_*`, schema validation) by HTTP status. Their code is kept in `details.cause` so a
 * client can still tell `FST_ERR_CTP_BODY_TOO_LARGE` from another 413.
 */
function fromFastify(error: FastifyLikeError, bodyLimit: number): SluiceError | undefined {
  const status = typeof error.statusCode === 'number' ? error.statusCode : undefined;
  const cause = typeof error.code === 'string' ? error.code : undefined;
  const message = typeof error.message === 'string' ? error.message : 'bad request';
  const details: Record<string, unknown> = cause ? { cause } : {};
  if (Array.isArray(error.validation)) {
    details.validation = error.validation.map((v: { instancePath?: string; message?: string; params?: unknown }) => ({
      in: error.validationContext,
      path: v.instancePath,
      message: v.message,
    }));
  }
  switch (status) {
    case 413:
      return new SluiceError('SLU_API_BODY_TOO_LARGE', { limit: bodyLimit }, details);
    case 415:
      return new SluiceError('SLU_API_UNSUPPORTED_MEDIA_TYPE', { contentType: contentTypeOf(message), expected: 'application/x-yaml' }, details);
    default:
      if (status !== undefined && status >= 400 && status < 500) return new SluiceError('SLU_API_BAD_REQUEST', { reason: message }, details);
      return undefined;
  }
}

function contentTypeOf(message: string): string {
  return /Unsupported Media Type:?\s*(.*)$/i.exec(message)?.[1]?.trim() || 'none';
}

/** A database error that is not a bug: the database unreachable (503), or a value it cannot store (400). */
function fromDatabase(error: unknown): SluiceError | undefined {
  const found = classifyDbError(error);
  if (found?.kind === 'unavailable') return new SluiceError('SLU_DB_UNAVAILABLE', { reason: found.reason }, { cause: found.cause, retryAfterSeconds: RETRY_AFTER_SECONDS });
  if (found?.kind === 'invalid-text') {
    return new SluiceError(
      'SLU_API_INVALID_CHARACTER',
      { field: 'a value of the request', character: 'a character the database cannot store (NUL or a lone surrogate)' },
      { cause: found.cause },
    );
  }
  return undefined;
}

/**
 * The queue unreachable (Redis down, the driver closing): a 503 `SLU_QUEUE_UNAVAILABLE`. A safety net: the routes that
 * publish do not wait for an unreachable queue (see queue-handoff.ts), so this is for what slips past them.
 */
function fromQueue(error: unknown): SluiceError | undefined {
  const found = classifyQueueError(error);
  return found ? new SluiceError('SLU_QUEUE_UNAVAILABLE', { reason: found.reason }, { retryAfterSeconds: RETRY_AFTER_SECONDS }) : undefined;
}

/**
 * The multipart parser's (busboy's) errors for a body that is not well-formed multipart: plain `Error`s without a code
 * or status. Everything else from a multipart route (a storage that failed) stays a 500.
 */
const MULTIPART_SYNTAX = [
  /^Unexpected end of (multipart data|form)$/,
  /terminated early due to unexpected end of multipart data$/,
  /^Malformed part header$/,
  /^Multipart: Boundary not found$/,
  /^Boundary required$/,
  /^The needle cannot (be an empty String\/Buffer|have a length bigger than \d+)\.$/,
];

function fromMultipart(error: unknown): SluiceError | undefined {
  if (!(error instanceof Error) || 'code' in error || 'statusCode' in error) return undefined;
  if (!MULTIPART_SYNTAX.some((pattern) => pattern.test(error.message))) return undefined;
  return new SluiceError('SLU_API_BAD_REQUEST', { reason: `the multipart body is malformed: ${error.message}` }, { in: 'body' });
}

/**
 * One mapping for every error that reaches the handler: SluiceError, database, multipart and Fastify errors, anything
 * else (500, logged with its cause; the client gets the request id).
 */
export function toErrorResponse(error: unknown, bodyLimit: number, requestId: string): ErrorResponse {
  const mapped =
    (isSluiceError(error) ? error : undefined) ??
    fromDatabase(error) ??
    fromQueue(error) ??
    fromMultipart(error) ??
    (typeof error === 'object' && error !== null ? fromFastify(error as FastifyLikeError, bodyLimit) : undefined) ??
    // An unexpected error's message may hold internals (SQL, paths): the log has it, the client gets the request id.
    new SluiceError('SLU_API_INTERNAL', { requestId });
  return { status: mapped.status, body: mapped.toJSON(), headers: mapped.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {} };
}
