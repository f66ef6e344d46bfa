/**
 * The KV store for tasks that run on remote workers (`kv()`, `kv.*`, `state.*`), under `/api/v1/internal`: only the
 * worker token (`SLUICE_WORKER_TOKEN`) opens these routes (see auth.ts), and they are registered only when it is
 * configured. The work is kv-access.ts's (over KvRepository); these routes only carry it.
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET /internal/kv/{namespace}` | 200 `[{key, creationDate, updateDate, expirationDate?}]` | 400 |
 * | `GET /internal/kv/{namespace}/{key}` | 200 `{status: 'found', type, value}`, `{status: 'missing'}` or `{status: 'expired'}` | 400 |
 * | `PUT /internal/kv/{namespace}/{key}` JSON `{type, value, ttlMs?, overwrite?}` | 200 `{written}` (false: `overwrite` false and the key is there) | 400; 413 `SLU_KV_VALUE_TOO_LARGE`; 422 |
 * | `DELETE /internal/kv/{namespace}/{key}` | 200 `{deleted}` | 400 |
 *
 * Errors carry their parameters in `details.params`, so the worker's client rebuilds the same `SluiceError`.
 */
import { KV_TYPES, KV_VALUE_MAX_BYTES, SluiceError } from '@sluice/core';
import type { KvValue } from '@sluice/core';
import type { KvAccess } from '@sluice/plugin-api';
import type { FastifyPluginAsync } from 'fastify';
import { remotable } from './http.js';

export interface InternalKvRouteOptions {
  readonly access: KvAccess;
}

const tags = ['internal'];
const namespaceParams = { type: 'object', required: ['namespace'], properties: { namespace: { type: 'string', minLength: 1 } } } as const;
const keyParams = { type: 'object', required: ['namespace', 'key'], properties: { namespace: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } } } as const;
/**
 * Room for a value of 1 MiB in its JSON envelope: a larger body is still read (up to twice that) so that the value's
 * size is what refuses it, with `SLU_KV_VALUE_TOO_LARGE`, as on every other path.
 */
const BODY_LIMIT = 2 * KV_VALUE_MAX_BYTES + 64 * 1024;

export const internalKvRoutes: FastifyPluginAsync<InternalKvRouteOptions> = async (app, { access }) => {
  // JSON bodies here only; encapsulated in this plugin.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
    try {
      done(null, JSON.parse(String(body)));
    } catch {
      done(new SluiceError('SLU_API_BAD_REQUEST', { reason: 'the body is not valid JSON' }), undefined);
    }
  });

  app.get('/internal/kv/:namespace', { schema: { tags, summary: "A namespace's KV keys (workers: kv.GetKeys)", params: namespaceParams } }, async (request) => {
    const { namespace } = request.params as { namespace: string };
    return remotable(() => access.list(namespace));
  });

  app.get('/internal/kv/:namespace/:key', { schema: { tags, summary: 'A KV value, or why there is none (workers: kv(), kv.Get)', params: keyParams } }, async (request) => {
    const { namespace, key } = request.params as { namespace: string; key: string };
    return remotable(() => access.get(namespace, key));
  });

  app.put(
    '/internal/kv/:namespace/:key',
    {
      schema: {
        tags,
        summary: 'Set a KV key (workers: kv.Set, state.Set)',
        params: keyParams,
        body: {
          type: 'object',
          required: ['type', 'value'],
          additionalProperties: false,
          properties: { type: { enum: [...KV_TYPES] }, value: {}, ttlMs: { type: 'integer', minimum: 1 }, overwrite: { type: 'boolean' } },
        },
      },
    },
    async (request) => {
      const { namespace, key } = request.params as { namespace: string; key: string };
      const body = request.body as KvValue & { ttlMs?: number; overwrite?: boolean };
      const written = await remotable(() =>
        access.set(namespace, key, { type: body.type, value: body.value }, { ...(body.ttlMs === undefined ? {} : { ttlMs: body.ttlMs }), ...(body.overwrite === undefined ? {} : { overwrite: body.overwrite }) }),
      );
      return { written };
    },
  );

  app.delete('/internal/kv/:namespace/:key', { schema: { tags, summary: 'Delete a KV key (workers: kv.Delete, state.Delete)', params: keyParams } }, async (request) => {
    const { namespace, key } = request.params as { namespace: string; key: string };
    return { deleted: await remotable(() => access.delete(namespace, key)) };
  });
};
