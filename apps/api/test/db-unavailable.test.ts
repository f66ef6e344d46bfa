/**
 * Issue #15: while Postgres is down, every route that needs it answers 503 `SLU_DB_UNAVAILABLE` with `Retry-After`
 * and a JSON body without a stack (it answered 500), `/health` says DOWN, and once Postgres is back the same requests
 * succeed again without restarting the API. The outage is a TCP proxy between the API and the test Postgres that the
 * test closes (connection refused, open connections cut) or turns into a black hole (connections accepted, never
 * answered: the API's connect timeout turns those into 503s too).
 */
import net from 'node:net';
import { testPostgresUrl } from '@sluice/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowYaml, startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

/** A TCP proxy to the test Postgres that can refuse connections, swallow them, or forward them. */
class PostgresProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  private readonly target = new URL(testPostgresUrl());

  /** Forward connections (`forward`) or accept and never answer them (`blackhole`). */
  async listen(mode: 'forward' | 'blackhole'): Promise<void> {
    await this.close();
    const server = net.createServer((client) => {
      this.track(client);
      if (mode === 'blackhole') return;
      const upstream = net.connect(Number(this.target.port || 5432), this.target.hostname);
      this.track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Stop listening (new connections are refused) and cut every open connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

const proxy = new PostgresProxy();
await proxy.listen('forward');
const WORKER_TOKEN = 'worker-token-db-down';
const api = await startApi({
  workerToken: WORKER_TOKEN,
  connectTimeoutMs: 1000,
  connectThrough: (databaseUrl) => {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    return url.toString();
  },
});

describe.skipIf(!api)('the API while Postgres is down', () => {
  let a: ApiFixture;
  let executionId: string;

  beforeAll(async () => {
    a = api!;
    expect((await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('outage.ns', 'hello') })).status).toBe(200);
    const created = await a.fetch('/api/v1/executions/outage.ns/hello', { method: 'POST' });
    expect(created.status).toBe(200);
    executionId = ((await created.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await proxy.listen('forward'); // so that close() can drop the database through a working pool
    await api?.close();
    await proxy.close();
  });

  const worker = { authorization: `Bearer ${WORKER_TOKEN}`, 'content-type': 'application/json' };
  /** Every route that reads or writes the database, reads first. */
  const routes = (): [string, RequestInit][] => [
    ['/api/v1/flows/search', {}],
    ['/api/v1/flows/outage.ns/hello', {}],
    ['/api/v1/flows/outage.ns/hello/revisions', {}],
    ['/api/v1/executions/search', {}],
    [`/api/v1/executions/${executionId}`, {}],
    [`/api/v1/logs/${executionId}`, {}],
    ['/api/v1/logs/search', {}],
    ['/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('outage.ns', 'another') }],
    ['/api/v1/executions/outage.ns/hello', { method: 'POST' }],
    [`/api/v1/executions/${executionId}/kill`, { method: 'DELETE' }],
    // A worker heartbeat.
    ['/api/v1/internal/workers/worker-1', { method: 'PUT', headers: worker, body: JSON.stringify({ group: 'default', concurrency: 1, running: 0 }) }],
  ];

  async function expectAllUnavailable(): Promise<void> {
    for (const [path, init] of routes()) {
      const response = await a.fetch(path, init);
      const text = await response.text();
      expect(response.status, `${init.method ?? 'GET'} ${path}: ${text}`).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = JSON.parse(text) as { code: string; message: string; details: Record<string, unknown> };
      expect(body).toMatchObject({ code: 'SLU_DB_UNAVAILABLE', message: expect.stringMatching(/^cannot reach the database: /), details: { retryAfterSeconds: 5 } });
      // No stack, no SQL, no host, no file of ours.
      expect(text).not.toMatch(/\bat .+:\d+:\d+|\.ts\b|SELECT|127\.0\.0\.1|sluice:sluice/);
    }
    for (const path of ['/health', '/api/v1/health']) {
      const health = await a.fetch(path);
      expect(health.status).toBe(503);
      expect(health.headers.get('retry-after')).toBe('5');
      expect(await health.json()).toMatchObject({ status: 'DOWN', checks: { database: { status: 'DOWN', error: expect.any(String) } } });
    }
  }

  async function expectAllBack(): Promise<void> {
    // The pool dropped its dead connections: the next requests open new ones.
    await expect.poll(async () => (await a.fetch('/health')).status, { timeout: 15_000, interval: 200 }).toBe(200);
    for (const [path, init] of routes()) {
      const response = await a.fetch(path, init);
      const status = response.status;
      // Reads are 200s; a write may now be a 409 (the flow was created the first time round).
      if (init.method === undefined) expect(status, path).toBe(200);
      else expect(status, `${init.method} ${path}: ${await response.clone().text()}`).toBeLessThan(500);
      expect(response.headers.get('retry-after')).toBeNull();
      await response.arrayBuffer();
    }
  }

  it('refused: 503 + Retry-After on every route that needs the database, /health DOWN; then 200s again once it is back', async () => {
    expect((await a.fetch('/health')).status).toBe(200);
    await proxy.close(); // open connections are cut, new ones refused
    await expectAllUnavailable();
    // Routes that need no database still answer.
    expect((await a.fetch('/api/v1/plugins')).status).toBe(200);
    expect((await a.fetch('/api/v1/flows/validate', { method: 'POST', headers: YAML, body: flowYaml('outage.ns', 'x') })).status).toBe(200);
    await proxy.listen('forward');
    await expectAllBack();
  });

  it('a black hole (connections accepted, never answered): 503 after the connect timeout, not a hung request', async () => {
    await proxy.listen('blackhole');
    const started = Date.now();
    await expectAllUnavailable();
    // Eleven routes and two health checks, each bounded by the 1 s connect timeout (a few in flight at once at most).
    expect(Date.now() - started).toBeLessThan(30_000);
    await proxy.listen('forward');
    await expectAllBack();
  });
});
