/**
 * The workers' internal storage endpoints, through `HttpStorage` (the client a remote worker uses) against the real
 * server on a loopback port with real Postgres.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createFlowValidator, SluiceError } from '@sluice/core';
import { createDefaultRegistries } from '@sluice/plugins';
import { HttpStorage, taskRunFileUri } from '@sluice/storage';
import { afterAll, describe, expect, it } from 'vitest';
import { createDbFlowStore, createServer } from '../src/index.js';
import { flowYaml, startApi, YAML } from './fixture.js';

const API_TOKEN = 'user-token';
const WORKER_TOKEN = 'worker-token';
const api = await startApi({ apiToken: API_TOKEN, workerToken: WORKER_TOKEN, basic: { username: 'admin', password: 'pw' } });

const MiB = 1024 * 1024;

/** `total` bytes of a deterministic pattern in 64 KiB chunks, never all in memory; `hash` is filled as it streams. */
function pattern(total: number, digest: { hash?: string } = {}): AsyncGenerator<Uint8Array> {
  return (async function* () {
    const hash = createHash('sha256');
    for (let sent = 0, n = 0; sent < total; n++) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, total - sent), n % 251);
      chunk.writeUInt32LE(n, 0);
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
    digest.hash = hash.digest('hex');
  })();
}

async function sha256(stream: Readable): Promise<{ hash: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), size };
}

async function rejection(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

const scope = { namespace: 'company.team', flowId: 'f', executionId: 'exec1', taskId: 't', taskRunId: 'run1' };

describe.skipIf(!api)('internal storage for workers (HttpStorage against the real API)', () => {
  afterAll(async () => api?.close());
  const storage = (): HttpStorage => new HttpStorage({ apiUrl: `${api!.url}/`, workerToken: WORKER_TOKEN });
  const raw = (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${api!.url}${path}`, init);

  it('round-trips a 20 MB stream: put, stat, list, get (same bytes), delete', async () => {
    const remote = storage();
    const uri = taskRunFileUri(scope, 'out/big file.bin');
    const sent: { hash?: string } = {};
    const stored = await remote.put(uri, pattern(20 * MiB, sent));
    expect(stored).toMatchObject({ uri, size: 20 * MiB });
    expect(stored.lastModified).toBeInstanceOf(Date);
    // What the API's own storage holds is what was sent.
    expect((await api!.storage.stat(uri))?.size).toBe(20 * MiB);
    expect((await remote.stat(uri))?.size).toBe(20 * MiB);
    expect((await remote.list('kestra:///company/team/f/')).map((o) => o.uri)).toEqual([uri]);
    const got = await sha256(await remote.get(uri));
    expect(got).toEqual({ hash: sent.hash, size: 20 * MiB });
    expect(await remote.delete(uri)).toBe(true);
    expect(await remote.delete(uri)).toBe(false);
    expect(await remote.stat(uri)).toBeUndefined();
  });

  it('stores strings, bytes, Node streams and empty files', async () => {
    const remote = storage();
    for (const [name, content, size] of [
      ['a.txt', 'héllo', 6],
      ['b.bin', new Uint8Array([1, 2, 3]), 3],
      ['c.txt', Readable.from([Buffer.from('abc'), Buffer.from('def')]), 6],
      ['empty', '', 0],
    ] as const) {
      const uri = taskRunFileUri(scope, name);
      expect((await remote.put(uri, content)).size).toBe(size);
      expect((await sha256(await remote.get(uri))).size).toBe(size);
    }
    expect(await (await api!.storage.get(taskRunFileUri(scope, 'a.txt'))).toArray()).toEqual([Buffer.from('héllo')]);
    for (const name of ['a.txt', 'b.bin', 'c.txt', 'empty']) expect(await remote.delete(taskRunFileUri(scope, name))).toBe(true);
  });

  it('a missing file: get rejects SLU_STORAGE_NOT_FOUND, stat is undefined, list is empty', async () => {
    const remote = storage();
    expect((await rejection(remote.get('kestra:///nothing/here.txt'))).code).toBe('SLU_STORAGE_NOT_FOUND');
    expect(await remote.stat('kestra:///nothing/here.txt')).toBeUndefined();
    expect(await remote.list('kestra:///nothing/')).toEqual([]);
    const response = await raw('/api/v1/internal/storage?uri=kestra:///nothing/here.txt', { headers: { authorization: `Bearer ${WORKER_TOKEN}` } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'SLU_STORAGE_NOT_FOUND' });
  });

  it('confinement: traversal, other schemes and hosts are 400 SLU_STORAGE_INVALID_URI, nothing written', async () => {
    const headers = { authorization: `Bearer ${WORKER_TOKEN}` };
    for (const uri of ['kestra:///a/../../etc/passwd', 'kestra:///a/%2e%2e/%2e%2e/x', 'file:///etc/passwd', 'kestra://host/x', 'kestra:///a/%2Fetc', 'kestra:///a\\..\\b', '/etc/passwd', 'kestra:///a/.sluice-tmp-x']) {
      for (const [method, path] of [['PUT', ''], ['GET', ''], ['GET', '/metas'], ['DELETE', '']] as const) {
        const response = await raw(`/api/v1/internal/storage${path}?uri=${encodeURIComponent(uri)}`, { method, headers, ...(method === 'PUT' ? { body: 'x' } : {}) });
        expect(response.status, `${method} ${path} ${uri}`).toBe(400);
        expect(await response.json()).toMatchObject({ code: 'SLU_STORAGE_INVALID_URI' });
      }
    }
    expect((await raw('/api/v1/internal/storage/list?prefix=kestra:///../x', { headers })).status).toBe(400);
    // The client refuses them before any request, with the same code.
    expect((await rejection(storage().put('kestra:///a/../b', 'x'))).code).toBe('SLU_STORAGE_INVALID_URI');
    expect((await rejection(storage().get('file:///etc/passwd'))).code).toBe('SLU_STORAGE_INVALID_URI');
    expect(await api!.storage.list('kestra:///')).toEqual([]);
  });

  it('a wrong worker token is 401 SLU_API_UNAUTHORIZED with a Bearer challenge, nothing stored', async () => {
    const wrong = new HttpStorage({ apiUrl: api!.url, workerToken: 'not-the-token' });
    const error = await rejection(wrong.put(taskRunFileUri(scope, 'x.txt'), pattern(2 * MiB)));
    expect(error.code).toBe('SLU_API_UNAUTHORIZED');
    expect(error.message).toMatch(/worker token/);
    expect((await rejection(wrong.get(taskRunFileUri(scope, 'x.txt')))).code).toBe('SLU_API_UNAUTHORIZED');
    for (const authorization of [undefined, 'Bearer not-the-token', `Bearer ${WORKER_TOKEN}x`, `Basic ${Buffer.from(`x:${WORKER_TOKEN}`).toString('base64')}`]) {
      const response = await raw(`/api/v1/internal/storage?uri=${encodeURIComponent(taskRunFileUri(scope, 'y.txt'))}`, {
        method: 'PUT',
        body: 'data',
        headers: authorization ? { authorization } : {},
      });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.json()).toMatchObject({ code: 'SLU_API_UNAUTHORIZED', details: { scope: 'internal' } });
    }
    expect(await api!.storage.list('kestra:///')).toEqual([]);
  });

  it('user credentials are refused on the internal routes, and the worker token on user routes', async () => {
    const uri = encodeURIComponent(taskRunFileUri(scope, 'z.txt'));
    const basic = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
    for (const authorization of [`Bearer ${API_TOKEN}`, basic]) {
      expect((await raw(`/api/v1/internal/storage?uri=${uri}`, { method: 'PUT', body: 'x', headers: { authorization } })).status).toBe(401);
      expect((await raw(`/api/v1/internal/storage/list?prefix=kestra:///`, { headers: { authorization } })).status).toBe(401);
      // ... while they do open the user routes.
      expect((await raw('/api/v1/flows/search', { headers: { authorization } })).status).toBe(200);
    }
    const asWorker = await raw('/api/v1/flows/search', { headers: { authorization: `Bearer ${WORKER_TOKEN}` } });
    expect(asWorker.status).toBe(401);
    expect(await asWorker.json()).toMatchObject({ code: 'SLU_API_UNAUTHORIZED', details: { scope: 'user' } });
    expect(await api!.storage.list('kestra:///')).toEqual([]);
  });

  it('a failing source rejects put with its own error and stores nothing', async () => {
    const boom = new Error('source broke');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(256 * 1024, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw boom;
    }
    await expect(storage().put(taskRunFileUri(scope, 'broken.bin'), failing())).rejects.toBe(boom);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the server notices the aborted request
    expect(await api!.storage.list('kestra:///')).toEqual([]);
  });

  it('the upload limit (not the YAML body limit) applies: 20 MB passes a 5 MiB body limit; over the limit is 413', async () => {
    const registries = createDefaultRegistries();
    const small = createServer({
      flows: createDbFlowStore(api!.db),
      registries,
      validator: createFlowValidator(registries),
      storage: api!.storage,
      auth: { workerToken: WORKER_TOKEN },
      uploadLimit: MiB,
      docs: false,
    });
    await small.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = small.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const remote = new HttpStorage({ apiUrl: url, workerToken: WORKER_TOKEN });
      const uri = taskRunFileUri(scope, 'limit.bin');
      expect((await remote.put(uri, pattern(MiB))).size).toBe(MiB);
      const streamed = await rejection(remote.put(uri, pattern(3 * MiB)));
      expect(streamed.code).toBe('SLU_API_BODY_TOO_LARGE');
      // Declared too large: refused before reading.
      const declared = await fetch(`${url}/api/v1/internal/storage?uri=${encodeURIComponent(uri)}`, {
        method: 'PUT',
        body: Buffer.alloc(MiB + 1),
        headers: { authorization: `Bearer ${WORKER_TOKEN}` },
      });
      expect(declared.status).toBe(413);
      expect(await declared.json()).toMatchObject({ code: 'SLU_API_BODY_TOO_LARGE', details: { limit: MiB } });
      // The earlier complete file is intact; no temporary file is left behind.
      expect((await remote.stat(uri))?.size).toBe(MiB);
      expect(await remote.delete(uri)).toBe(true);
      const dir = api!.storage.root;
      const leftovers = (await readdir(dir, { recursive: true })).filter((name) => name.includes('.sluice-tmp-'));
      expect(leftovers).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('GET /executions/{id}/file/metas gives the size of a file a worker uploaded, with the download\'s confinement', async () => {
    expect((await api!.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('company.team', 'f') })).status).toBe(200);
    const execution = (await (await api!.fetch('/api/v1/executions/company.team/f', { method: 'POST' })).json()) as { id: string };
    const other = (await (await api!.fetch('/api/v1/executions/company.team/f', { method: 'POST' })).json()) as { id: string };
    const uri = taskRunFileUri({ ...scope, executionId: execution.id }, 'result.csv');
    await storage().put(uri, 'a,b\n1,2\n');
    const metas = (path: string, id = execution.id): Promise<Response> => api!.fetch(`/api/v1/executions/${id}/file/metas?path=${encodeURIComponent(path)}`);

    const ok = await metas(uri);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ size: 8 });
    const download = await api!.fetch(`/api/v1/executions/${execution.id}/file?path=${encodeURIComponent(uri)}`);
    expect(await download.text()).toBe('a,b\n1,2\n');

    for (const [path, id, status, code] of [
      [`${uri.slice(0, uri.lastIndexOf('/'))}/../../../../../../../../etc/passwd`, execution.id, 400, 'SLU_STORAGE_INVALID_URI'],
      ['../../etc/passwd', execution.id, 400, 'SLU_STORAGE_INVALID_URI'],
      [uri, other.id, 400, 'SLU_STORAGE_INVALID_URI'], // another execution's file
      [taskRunFileUri({ ...scope, executionId: execution.id }, 'missing.csv'), execution.id, 404, 'SLU_STORAGE_NOT_FOUND'],
      [uri, 'no-such-execution', 404, 'SLU_API_EXECUTION_NOT_FOUND'],
    ] as const) {
      const response = await metas(path, id);
      expect(response.status, path).toBe(status);
      expect(await response.json()).toMatchObject({ code });
    }
    expect((await fetch(`${api!.url}/api/v1/executions/${execution.id}/file/metas?path=${encodeURIComponent(uri)}`)).status).toBe(401);
  });
});
