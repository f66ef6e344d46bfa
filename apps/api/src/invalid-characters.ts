/**
 * NUL characters and lone surrogates at the API's edges: Postgres cannot store them (22021, 22P05), so a request that
 * carries one in a path segment, a query parameter, a label or an execution input is a 400
 * `SLU_API_INVALID_CHARACTER` naming the field, before anything reads the database with it. Flows are checked by the
 * validator (`SLU_FLOW_INVALID_CHARACTER`, with the YAML path, line and column).
 */
import { findInvalidCharacter, formatPath, SluiceError } from '@sluice/core';
import type { PathSegment } from '@sluice/core';
import type { FastifyRequest } from 'fastify';

/** Throw `SLU_API_INVALID_CHARACTER` for `field` when `value` holds a NUL or a lone surrogate. */
export function rejectInvalidCharacters(field: string, value: string, where?: 'path' | 'query' | 'body'): void {
  const invalid = findInvalidCharacter(value);
  if (!invalid) return;
  throw new SluiceError('SLU_API_INVALID_CHARACTER', { field, character: invalid.description }, { field, ...(where ? { in: where } : {}) });
}

/** The same through every string and key of a value (a JSON input), naming the field by its path (`inputs.cfg.a`). */
export function rejectInvalidCharactersDeep(path: readonly PathSegment[], value: unknown, where?: 'path' | 'query' | 'body'): void {
  const walk = (node: unknown, at: PathSegment[], depth: number): void => {
    if (depth > 1000) return;
    if (typeof node === 'string') return rejectInvalidCharacters(formatPath(at), node, where);
    if (Array.isArray(node)) return node.forEach((item, i) => walk(item, [...at, i], depth + 1));
    if (typeof node === 'object' && node !== null && !(node instanceof Date)) {
      for (const [key, item] of Object.entries(node)) {
        rejectInvalidCharacters(formatPath(at), key, where);
        walk(item, [...at, key], depth + 1);
      }
    }
  };
  walk(value, [...path], 0);
}

/**
 * The name a path parameter is known by in errors: `executionId`, `flowId`, `workerId` for the routes' `:id`
 * (`/executions/:id`, `/flows/:namespace/:id`, `/executions/:namespace/:id`, `/internal/workers/:id`).
 */
function paramName(routeUrl: string | undefined, name: string): string {
  if (name !== 'id') return name === '*' ? 'path' : name;
  if (routeUrl === undefined) return name;
  if (/\/executions\/:id(\/|$)/.test(routeUrl)) return 'executionId';
  if (/\/workers\/:id(\/|$)/.test(routeUrl)) return 'workerId';
  if (/\/(flows|executions)\/:namespace\/:id(\/|$)/.test(routeUrl)) return 'flowId';
  return name;
}

/** A `labels` query value (`key:value`): named `labels.<key>` when the key itself is clean. */
function labelField(text: string): string {
  const colon = text.indexOf(':');
  const key = colon < 0 ? '' : text.slice(0, colon).trim();
  return key !== '' && !findInvalidCharacter(key) ? `labels.${key}` : 'labels';
}

/** Reject a request whose path parameters or query parameters (names or values) hold a NUL or a lone surrogate. */
export function rejectInvalidRequestCharacters(request: FastifyRequest): void {
  const params = request.params;
  if (typeof params === 'object' && params !== null) {
    for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
      if (typeof value === 'string') rejectInvalidCharacters(`path.${paramName(request.routeOptions.url, name)}`, value, 'path');
    }
  }
  const query = request.query;
  if (typeof query === 'object' && query !== null) {
    for (const [name, raw] of Object.entries(query as Record<string, unknown>)) {
      rejectInvalidCharacters(`query.${name}`, name, 'query');
      for (const value of Array.isArray(raw) ? raw : [raw]) {
        if (typeof value !== 'string') continue;
        rejectInvalidCharacters(name === 'labels' ? labelField(value) : `query.${name}`, value, 'query');
      }
    }
  }
}
