/**
 * The internal storage for workers (DESIGN.md §1, §5), under `/api/v1/internal`. Only the worker token
 * (`SLUICE_WORKER_TOKEN`) opens these routes (see auth.ts); they are registered only when it is configured.
 *
 * | route | success | errors |
 * |---|---|---|
 * | `PUT /internal/storage?uri=kestra:///...` (any content type; the raw body) | 201 `{uri, size, lastModified}` | 400 `SLU_STORAGE_INVALID_URI`; 413 over the upload limit |
 * | `GET /internal/storage?uri=` | 200 the bytes, streamed | 400; 404 `SLU_STORAGE_NOT_FOUND` |
 * | `GET /internal/storage/metas?uri=` | 200 `{uri, size, lastModified}` | 400; 404 |
 * | `GET /internal/storage/list?prefix=kestra:///...` | 200 `{files: [{uri, size, lastModified}]}` | 400 |
 * | `DELETE /internal/storage?uri=` | 200 `{deleted}` | 400 |
 *
 * The body of a PUT is streamed into `storage.put` as it arrives, never buffered; the upload limit (not the YAML body
 * limit) applies, checked against `Content-Length` first and then on the bytes actually received. Confinement is the
 * storage's: every URI goes through `parseStorageUri`. Storage errors carry their parameters in `details.params`, so
 * `HttpStorage` on the worker rebuilds the same `SluiceError`.
 */
import { Readable } from 'node:stream';
import { isSluiceError, SluiceError } from '@sluice/core';
import type { Storage, StorageObject } from '@sluice/storage';
import { parseStorageUri } from '@sluice/storage';
import type { FastifyPluginAsync } from 'fastify';

export interface InternalStorageRouteOptions {
  readonly storage: Storage;
  /** Largest upload in bytes. */
  readonly uploadLimit: number;
}

function objectJson(object: StorageObject): Record<string, unknown> {
  return { uri: object.uri, size: object.size, lastModified: object.lastModified.toISOString() };
}

/** Storage errors with their parameters kept, for the remote client. */
async function remotable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isSluiceError(error)) throw new SluiceError(error.code, error.params, { ...error.details, params: error.params }, { cause: error });
    throw error;
  }
}

async function* limitedBytes(body: AsyncIterable<Buffer>, limit: number, error: () => Error): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.length;
    if (seen > limit) throw error();
    yield chunk;
  }
}

const uriQuery = { type: 'object', required: ['uri'], properties: { uri: { type: 'string' } } } as const;
const tags = ['internal'];

export const internalStorageRoutes: FastifyPluginAsync<InternalStorageRouteOptions> = async (app, options) => {
  const { storage, uploadLimit } = options;
  // Encapsulated: only these routes take any content type, as a stream nobody reads until storage.put pulls it.
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const tooLarge = (): SluiceError => new SluiceError('SLU_API_BODY_TOO_LARGE', { limit: uploadLimit }, { in: 'body', limit: uploadLimit });

  app.put('/internal/storage', { schema: { tags, summary: 'Store a file (workers)', querystring: uriQuery } }, async (request, reply) => {
    const { uri } = request.query as { uri: string };
    try {
      const object = await remotable(async () => {
        parseStorageUri(uri); // 400 before a byte is read
        const declared = Number(request.headers['content-length']);
        if (Number.isFinite(declared) && declared > uploadLimit) throw tooLarge();
        const body = request.body;
        const source = body instanceof Readable ? limitedBytes(body, uploadLimit, tooLarge) : new Uint8Array(0);
        return storage.put(uri, source);
      });
      return await reply.status(201).send(objectJson(object));
    } catch (error) {
      // The body may be partly unread: do not reuse this connection for another request.
      void reply.header('connection', 'close');
      throw error;
    }
  });

  app.get(
    '/internal/storage',
    { exposeHeadRoute: false, schema: { tags, summary: 'Read a file, streamed (workers)', querystring: uriQuery } },
    async (request, reply) => {
      const { uri } = request.query as { uri: string };
      const { info, stream } = await remotable(async () => {
        const info = await storage.stat(uri);
        if (!info) throw new SluiceError('SLU_STORAGE_NOT_FOUND', { uri });
        return { info, stream: await storage.get(uri) };
      });
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(info.size))
        .header('last-modified', info.lastModified.toUTCString())
        .send(stream);
    },
  );

  app.get('/internal/storage/metas', { schema: { tags, summary: "A file's size and date (workers)", querystring: uriQuery } }, async (request) => {
    const { uri } = request.query as { uri: string };
    const info = await remotable(async () => storage.stat(uri));
    if (!info) throw new SluiceError('SLU_STORAGE_NOT_FOUND', { uri }, { params: { uri } });
    return objectJson(info);
  });

  app.get(
    '/internal/storage/list',
    { schema: { tags, summary: 'Every file under a prefix (workers)', querystring: { type: 'object', required: ['prefix'], properties: { prefix: { type: 'string' } } } } },
    async (request) => {
      const { prefix } = request.query as { prefix: string };
      const files = await remotable(async () => storage.list(prefix));
      return { files: files.map(objectJson) };
    },
  );

  app.delete('/internal/storage', { schema: { tags, summary: 'Delete a file (workers)', querystring: uriQuery } }, async (request) => {
    const { uri } = request.query as { uri: string };
    return { deleted: await remotable(async () => storage.delete(uri)) };
  });
};
