import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpWorkerRegistry, WorkerRegistryError } from '../src/index.js';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise((resolve) => s.close(resolve));
});

/** A real HTTP server that records each request and answers with `respond`. */
async function listen(respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      respond(req, res);
    });
  });
  const s = server;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, requests };
}

/** The URL of a port nothing listens on (a server bound it, then closed). */
async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const noContent = (_req: IncomingMessage, res: ServerResponse): void => {
  res.statusCode = 204;
  res.end();
};

describe('createHttpWorkerRegistry', () => {
  it('PUTs a heartbeat and DELETEs on deregistration, with the worker token', async () => {
    const { url, requests } = await listen(noContent);
    const registry = createHttpWorkerRegistry({ apiUrl: `${url}/`, token: 'tok-123' });
    await registry.heartbeat({ id: 'host-1-ab12', group: 'gpu', concurrency: 4, running: 2 });
    await registry.deregister('host-1-ab12');
    expect(requests).toEqual([
      {
        method: 'PUT',
        url: '/api/v1/internal/workers/host-1-ab12',
        authorization: 'Bearer tok-123',
        contentType: 'application/json',
        body: JSON.stringify({ group: 'gpu', concurrency: 4, running: 2 }),
      },
      { method: 'DELETE', url: '/api/v1/internal/workers/host-1-ab12', authorization: 'Bearer tok-123', contentType: undefined, body: '' },
    ]);
  });

  it('encodes the worker id in the path', async () => {
    const { url, requests } = await listen(noContent);
    await createHttpWorkerRegistry({ apiUrl: url, token: 't' }).deregister('a b/c');
    expect(requests[0]?.url).toBe('/api/v1/internal/workers/a%20b%2Fc');
  });

  it('turns a 401 into an error with the status and the API message', async () => {
    const { url } = await listen((_req, res) => {
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: 'SLU_API_UNAUTHORIZED', message: 'a valid worker token is required', details: {} }));
    });
    const registry = createHttpWorkerRegistry({ apiUrl: url, token: 'wrong' });
    const error = await registry.heartbeat({ id: 'w', group: 'default', concurrency: 1, running: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkerRegistryError);
    expect((error as WorkerRegistryError).status).toBe(401);
    expect((error as Error).message).toBe(`the Sluice API refused PUT ${url}/api/v1/internal/workers/w: HTTP 401: a valid worker token is required`);
  });

  it('keeps a non-JSON error body short', async () => {
    const { url } = await listen((_req, res) => {
      res.statusCode = 502;
      res.end('bad gateway');
    });
    await expect(createHttpWorkerRegistry({ apiUrl: url, token: 't' }).deregister('w')).rejects.toThrow(/HTTP 502: bad gateway$/);
  });

  it('names the API URL when it cannot be reached', async () => {
    const apiUrl = await closedPortUrl();
    const registry = createHttpWorkerRegistry({ apiUrl, token: 't' });
    const error = await registry.deregister('w').then(
      () => undefined,
      (e: unknown) => e as WorkerRegistryError,
    );
    expect(error).toBeInstanceOf(WorkerRegistryError);
    expect(error?.status).toBeUndefined();
    expect(error?.message.startsWith(`cannot reach the Sluice API at ${apiUrl} (DELETE ${apiUrl}/api/v1/internal/workers/w): `)).toBe(true);
    expect(error?.message).toContain('ECONNREFUSED');
  });
});
