/**
 * Maps every error that reaches the API's error handler to `{code, message, details}` with its status. The API's own
 * errors are `SluiceError`s from core's table (`SLU_API_*`); Fastify's own are translated by HTTP status.
 */
import { isSluiceError, SluiceError } from '@sluice/core';

/** What every error body is: `{code, message, details}` with its HTTP status. */
export interface ErrorResponse {
  readonly status: number;
  readonly body: { code: string; message: string; details: Record<string, unknown> };
}

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

/** One mapping for every error that reaches the handler: SluiceError, Fastify's, anything else (500). */
export function toErrorResponse(error: unknown, bodyLimit: number, requestId: string): ErrorResponse {
  if (isSluiceError(error)) return { status: error.status, body: error.toJSON() };
  const fastify = typeof error === 'object' && error !== null ? fromFastify(error as FastifyLikeError, bodyLimit) : undefined;
  // An unexpected error's message may hold internals (SQL, paths): the log has it, the client gets the request id.
  const mapped = fastify ?? new SluiceError('SLU_API_INTERNAL', { requestId });
  return { status: mapped.status, body: mapped.toJSON() };
}
