/**
 * The worker registry for remote workers, under `/api/v1/internal` (worker token only). Workers have no database
 * credentials: they register and heartbeat here, and the scheduler reads the registry for `workerGroup.fallback`.
 *
 * | Route | Success | Errors |
 * |---|---|---|
 * | `PUT /internal/workers/{id}` JSON `{group, concurrency?, running?}` | 204 (registered or heartbeat recorded) | 400 bad id or group |
 * | `DELETE /internal/workers/{id}` | 204 (also when unknown) | |
 */
import { SluiceError } from '@sluice/core';
import type { FastifyPluginAsync } from 'fastify';

/** What the routes need from `db.scheduler`. */
export interface WorkerRegistryStore {
  heartbeat(id: string, group: string, now?: Date): Promise<void>;
  removeWorker(id: string): Promise<void>;
}

export interface InternalWorkerRouteOptions {
  readonly workers: WorkerRegistryStore;
}

const KEY_PATTERN = '^[A-Za-z0-9._*-]{1,200}$';

export const internalWorkerRoutes: FastifyPluginAsync<InternalWorkerRouteOptions> = async (app, options) => {
  const params = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;
  // JSON bodies here only (the public API speaks YAML and multipart); encapsulated in this plugin.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    try {
      done(null, JSON.parse(String(body)));
    } catch {
      done(new SluiceError('SLU_API_BAD_REQUEST', { reason: 'the body is not valid JSON' }), undefined);
    }
  });
  app.put(
    '/internal/workers/:id',
    {
      schema: {
        tags: ['internal'],
        summary: 'Register a worker or record its heartbeat',
        params,
        body: {
          type: 'object',
          required: ['group'],
          properties: { group: { type: 'string' }, concurrency: { type: 'integer', minimum: 0 }, running: { type: 'integer', minimum: 0 } },
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { group } = request.body as { group: string };
      const pattern = new RegExp(KEY_PATTERN);
      if (!pattern.test(id)) throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `bad worker id ${JSON.stringify(id)}: use letters, digits, ".", "_", "-"` }, { id });
      if (!pattern.test(group)) throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `bad worker group ${JSON.stringify(group)}: use letters, digits, ".", "_", "-"` }, { group });
      await options.workers.heartbeat(id, group);
      return reply.code(204).send();
    },
  );
  app.delete('/internal/workers/:id', { schema: { tags: ['internal'], summary: 'Deregister a worker', params } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    await options.workers.removeWorker(id);
    return reply.code(204).send();
  });
};
