/**
 * The KV store's endpoints, with the paths, bodies and answers of Kestra's KVController, under `/api/v1` and
 * `/api/v1/{tenant}`:
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET /namespaces/{namespace}/kv` | 200 `[{key, creationDate, updateDate, expirationDate?}]`, by key; expired keys left out | 400 namespace |
 * | `GET /namespaces/{namespace}/kv/{key}` | 200 `{type, value}` | 400 key; 404 `SLU_KV_NOT_FOUND`; 410 `SLU_KV_EXPIRED` (the read deletes it) |
 * | `PUT /namespaces/{namespace}/kv/{key}` body: the value as ION text (`application/json` or `text/plain`); header `ttl: <ISO duration>` | 200, no body (the key is replaced) | 400 key or ttl; 413 `SLU_KV_VALUE_TOO_LARGE` (over 1 MiB); 415; 422 `SLU_KV_INVALID_VALUE` |
 * | `DELETE /namespaces/{namespace}/kv/{key}` | 200 `true` (it was there) or `false` | 400 key |
 * | `DELETE /namespaces/{namespace}/kv` JSON `{keys: [...]}` | 200 `{keys: [the deleted ones]}` | 400 body or a key |
 *
 * How a PUT body is typed is core's `parseKvBody` (Kestra parses it as ION): `"hello"` STRING, `1`/`1.5` NUMBER,
 * `true` BOOLEAN, `2021-09-01` DATE, `2021-09-01T01:02:03Z` DATETIME, `"PT5S"` DURATION, `{...}`/`[...]` JSON. Every
 * route answers 400 naming a query parameter it does not take.
 */
import { parseKvBody, parseKvTtl, SluiceError } from '@sluice/core';
import type { KvRepository } from '@sluice/db';
import type { FastifyPluginAsync } from 'fastify';
import { kvEntryJson } from '../kv-access.js';
import { rejectInvalidCharactersDeep } from '../invalid-characters.js';
import { rejectUnknownQueryParameters } from './http.js';

export type KvStore = Pick<KvRepository, 'get' | 'set' | 'delete' | 'deleteMany' | 'list'>;

export interface KvRouteOptions {
  readonly kv: KvStore;
}

/** The content types a PUT body may have (Kestra's KVController consumes both). */
export const KV_CONTENT_TYPES = ['application/json', 'text/plain'] as const;

const tags = ['kv'];
const noQuery = { type: 'object', properties: {} } as const;
const namespaceParams = { type: 'object', required: ['namespace'], properties: { namespace: { type: 'string' } } } as const;
const keyParams = { type: 'object', required: ['namespace', 'key'], properties: { namespace: { type: 'string' }, key: { type: 'string' } } } as const;
const entrySchema = {
  type: 'object',
  description: "Kestra's KVEntry.",
  required: ['key', 'creationDate', 'updateDate'],
  properties: {
    key: { type: 'string' },
    creationDate: { type: 'string', format: 'date-time' },
    updateDate: { type: 'string', format: 'date-time' },
    expirationDate: { type: 'string', format: 'date-time' },
  },
} as const;
const typedValueSchema = {
  type: 'object',
  description: "Kestra's TypedValue: the value as JSON, a text for DATETIME (ISO instant), DATE (yyyy-MM-dd) and DURATION (ISO-8601).",
  required: ['type', 'value'],
  properties: { type: { enum: ['STRING', 'NUMBER', 'BOOLEAN', 'DATETIME', 'DATE', 'DURATION', 'JSON'] }, value: {} },
} as const;
const keysSchema = { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'string' } } } } as const;

function notFound(namespace: string, key: string): SluiceError {
  return new SluiceError('SLU_KV_NOT_FOUND', { key, namespace }, { key, namespace });
}

/** The bulk DELETE's body: `{keys: [text...]}`, nothing else. */
function keysOf(body: unknown): string[] {
  const bad = (reason: string): SluiceError => new SluiceError('SLU_API_BAD_REQUEST', { reason }, { in: 'body' });
  if (typeof body !== 'string' || body.trim() === '') throw bad('send the keys to delete as JSON {"keys": ["a", "b"]}');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw bad('the body is not valid JSON: send {"keys": ["a", "b"]}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('the body must be a JSON object {"keys": [...]}');
  const unknown = Object.keys(parsed).find((name) => name !== 'keys');
  if (unknown !== undefined) throw bad(`unknown property ${JSON.stringify(unknown)}: the body takes only "keys"`);
  const { keys } = parsed as { keys?: unknown };
  if (!Array.isArray(keys) || keys.some((key) => typeof key !== 'string')) throw bad('"keys" must be a list of keys (texts)');
  return keys as string[];
}

export const kvRoutes: FastifyPluginAsync<KvRouteOptions> = async (app, { kv }) => {
  // Bodies as text here only (encapsulated in this plugin; the API's YAML parsers are not inherited): a PUT body is
  // read as ION whatever its type says, as Kestra does; any other content type is a 415 naming these two.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([...KV_CONTENT_TYPES], { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.addContentTypeParser('*', (request, _payload, done) => {
    done(new SluiceError('SLU_API_UNSUPPORTED_MEDIA_TYPE', { contentType: request.headers['content-type'] ?? 'none', expected: KV_CONTENT_TYPES.join(' or ') }), undefined);
  });

  app.get(
    '/namespaces/:namespace/kv',
    {
      schema: { tags, summary: "A namespace's keys (without their values)", description: 'Sorted by key. Expired keys are left out (and deleted).', params: namespaceParams, querystring: noQuery, response: { 200: { type: 'array', items: entrySchema } } },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace } = request.params as { namespace: string };
      return (await kv.list(namespace)).map(kvEntryJson);
    },
  );

  app.get(
    '/namespaces/:namespace/kv/:key',
    {
      schema: { tags, summary: 'The value of a key, with its type', description: '404 when there is no such key; 410 when it has expired (the read deletes it).', params: keyParams, querystring: noQuery, response: { 200: typedValueSchema } },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace, key } = request.params as { namespace: string; key: string };
      const found = await kv.get(namespace, key);
      if (found.status === 'missing') throw notFound(namespace, key);
      if (found.status === 'expired') throw new SluiceError('SLU_KV_EXPIRED', { key, namespace }, { key, namespace, expirationDate: found.expirationDate.toISOString() });
      return { type: found.entry.type, value: found.entry.value };
    },
  );

  app.put(
    '/namespaces/:namespace/kv/:key',
    {
      schema: {
        tags,
        summary: 'Set a key (its value replaced)',
        description:
          'The body is the value, read as Kestra reads it (ION): `"hello"` is a STRING, `1` or `1.5` a NUMBER, `true` a BOOLEAN, `2021-09-01` a DATE, ' +
          '`2021-09-01T01:02:03Z` a DATETIME, `"PT5S"` a DURATION, a JSON object or list a JSON. Header `ttl` (an ISO-8601 duration): the key expires that long after. ' +
          'A value is at most 1 MiB (413).',
        params: keyParams,
        querystring: noQuery,
        headers: { type: 'object', properties: { ttl: { type: 'string', description: 'ISO-8601 duration (PT5M, P1D)' } } },
      },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request, reply) => {
      const { namespace, key } = request.params as { namespace: string; key: string };
      const ttl = request.headers.ttl;
      const ttlMs = ttl === undefined || ttl === '' ? undefined : parseKvTtl(Array.isArray(ttl) ? ttl.join(',') : ttl);
      const value = parseKvBody(typeof request.body === 'string' ? request.body : '');
      rejectInvalidCharactersDeep(['value'], value.value, 'body');
      await kv.set(namespace, key, value, ttlMs === undefined ? {} : { ttlMs });
      return reply.status(200).send();
    },
  );

  app.delete(
    '/namespaces/:namespace/kv/:key',
    {
      schema: { tags, summary: 'Delete a key', description: '`true` when the key was there, `false` when not (or expired).', params: keyParams, querystring: noQuery, response: { 200: { type: 'boolean' } } },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace, key } = request.params as { namespace: string; key: string };
      return kv.delete(namespace, key);
    },
  );

  app.delete(
    '/namespaces/:namespace/kv',
    {
      schema: { tags, summary: 'Delete some keys', description: 'Body `{"keys": [...]}`; answers the keys that were there.', params: namespaceParams, querystring: noQuery, response: { 200: keysSchema } },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace } = request.params as { namespace: string };
      return { keys: await kv.deleteMany(namespace, keysOf(request.body)) };
    },
  );
};
