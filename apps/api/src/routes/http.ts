/**
 * What several route files share: accepted YAML media types, the paging of search endpoints, date parameters, the
 * refusal of unknown query parameters.
 */
import { isSluiceError, SluiceError } from '@sluice/core';
import type { preValidationHookHandler } from 'fastify';

/** Media types accepted for YAML bodies. */
export const YAML_CONTENT_TYPES = ['application/x-yaml', 'application/yaml', 'text/yaml', 'text/x-yaml'] as const;

/** Largest page a search endpoint returns. */
export const SEARCH_PAGE_MAX = 500;

/**
 * Largest integer query parameter (a revision, an attempt, a page): Postgres's `integer`. A larger one was a 500 (the
 * database refused it); with this bound it is a 400 naming the parameter.
 */
export const INTEGER_PARAMETER_MAX = 2_147_483_647;

/** The `page` and `size` query parameters of every search endpoint (Kestra's paging). */
export const pagingQueryProperties = {
  page: { type: 'integer', minimum: 1, maximum: INTEGER_PARAMETER_MAX, default: 1 },
  size: { type: 'integer', minimum: 1, maximum: SEARCH_PAGE_MAX, default: 10 },
} as const;

/** A date query parameter (ISO-8601); absent or empty is undefined. @throws SluiceError SLU_API_BAD_REQUEST naming the parameter. */
export function parseDate(name: string, raw: string | undefined): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `${name} must be an ISO-8601 date-time, got ${JSON.stringify(raw)}` }, { in: 'query', parameter: name });
  }
  return new Date(ms);
}

/**
 * A preValidation hook answering 400 `SLU_API_BAD_REQUEST` for a query parameter that is not one of the route's
 * `properties` (nor one `accepts` lets through), naming it in the message and in `details.parameter`. (Fastify's
 * validation lets unknown parameters through, or drops them silently with `additionalProperties: false`: a misspelt
 * filter would match everything.)
 */
export function rejectUnknownQueryParameters(
  querystring: { readonly properties?: Readonly<Record<string, unknown>> },
  accepts: (name: string) => boolean = () => false,
): preValidationHookHandler {
  const known = Object.keys(querystring.properties ?? {});
  return (request, _reply, done) => {
    const given = Object.keys((request.query ?? {}) as Record<string, unknown>);
    const unknown = given.find((name) => !known.includes(name) && !accepts(name));
    if (unknown === undefined) {
      done();
      return;
    }
    const takes = known.length === 0 ? 'this route takes no query parameter' : `this route takes ${known.join(', ')}`;
    done(new SluiceError('SLU_API_BAD_REQUEST', { reason: `unknown query parameter ${JSON.stringify(unknown)}: ${takes}` }, { in: 'query', parameter: unknown }));
  };
}

/**
 * The internal routes' errors, with their parameters kept in `details.params`, so that a worker's client rebuilds the
 * same `SluiceError` (`sluiceErrorFromBody`).
 */
export async function remotable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isSluiceError(error)) throw new SluiceError(error.code, error.params, { ...error.details, params: error.params }, { cause: error });
    throw error;
  }
}
