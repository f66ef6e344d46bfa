import { Writable } from 'node:stream';
import { createFlowValidator } from '@sluice/core';
import { createDb } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { afterAll, describe, expect, it } from 'vitest';
import { createDbFlowStore, createServer } from '../src/index.js';
import { flowYaml, startApi, YAML } from './fixture.js';

const api = await startApi();
const TOKEN = 's3cret-token';
const secured = api ? await startApi({ apiToken: TOKEN }) : undefined;

describe.skipIf(!api || !secured)('health, plugins, docs and auth', () => {
  afterAll(async () => {
    await api?.close();
    await secured?.close();
  });

  it('GET /health and /api/v1/health report UP with the database check', async () => {
    for (const path of ['/health', '/api/v1/health']) {
      const response = await api!.fetch(path);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'UP', checks: { database: { status: 'UP' } } });
    }
  });

  it('health reports DOWN with 503 when the database does not answer', async () => {
    const registries = createDefaultRegistries();
    // A real @sluice/db client pointed at a port where nothing listens.
    const db = createDb({ databaseUrl: 'postgres://nobody:nothing@127.0.0.1:1/none' });
    const app = createServer({ flows: createDbFlowStore(db), registries, validator: createFlowValidator(registries), docs: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ status: 'DOWN', checks: { database: { status: 'DOWN', error: expect.any(String) } } });
    } finally {
      await app.close();
      await db.close();
    }
  });

  it('logs one line per request, when it is answered, with its method, url, status and time', async () => {
    const registries = createDefaultRegistries();
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    const db = createDb({ databaseUrl: 'postgres://nobody:nothing@127.0.0.1:1/none' });
    const app = createServer({ flows: createDbFlowStore(db), registries, validator: createFlowValidator(registries), docs: false, logger: { level: 'info', stream } });
    try {
      expect((await app.inject({ method: 'GET', url: '/api/v1/plugins' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/api/v1/nothing?x=1' })).statusCode).toBe(404);
      const requests = lines.filter((line) => line.msg !== 'Server listening at');
      expect(requests).toEqual([
        expect.objectContaining({ msg: 'request', method: 'GET', url: '/api/v1/plugins', statusCode: 200, responseTime: expect.any(Number) }),
        expect.objectContaining({ msg: 'request', method: 'GET', url: '/api/v1/nothing?x=1', statusCode: 404, responseTime: expect.any(Number) }),
      ]);
    } finally {
      await app.close();
      await db.close();
    }
  });

  it('GET /api/v1/plugins lists every task, runner and trigger with aliases and JSON Schema', async () => {
    const registries = createDefaultRegistries();
    const listing = (await (await api!.fetch('/api/v1/plugins')).json()) as Record<'tasks' | 'runners' | 'triggers', { type: string; aliases: string[]; schema: { properties: Record<string, unknown>; required: string[] } }[]>;
    expect(listing.tasks.map((t) => t.type)).toEqual(registries.tasks.list().map((t) => t.type));
    expect(listing.runners.map((t) => t.type)).toEqual(registries.runners.list().map((t) => t.type));
    expect(listing.triggers.map((t) => t.type)).toEqual(registries.triggers.list().map((t) => t.type));
    const log = listing.tasks.find((t) => t.type === 'io.kestra.plugin.core.log.Log');
    expect(log?.aliases).toContain('io.kestra.core.tasks.log.Log');
    expect(log?.schema.properties).toHaveProperty('message');
    expect(log?.schema.properties).toHaveProperty('timeout');
    expect(log?.schema.required).toEqual(expect.arrayContaining(['id', 'type']));
    const wd = listing.tasks.find((t) => t.type === 'io.kestra.plugin.core.flow.WorkingDirectory');
    expect(wd?.aliases).toEqual(expect.arrayContaining(['io.kestra.core.tasks.flows.WorkingDirectory', 'io.kestra.core.tasks.flows.Worker']));
    expect(listing.triggers.some((t) => /Schedule$/.test(t.type))).toBe(true);
  });

  it('serves the OpenAPI document at /docs/json and the UI at /docs', async () => {
    const spec = (await (await api!.fetch('/docs/json')).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/api/v1/flows', '/api/v1/flows/validate', '/api/v1/flows/search', '/api/v1/flows/{namespace}/{id}', '/api/v1/flows/{namespace}/{id}/revisions', '/api/v1/flows/{namespace}', '/api/v1/plugins', '/health']),
    );
    const ui = await api!.fetch('/docs');
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });

  describe('with SLUICE_API_TOKEN', () => {
    const anonymous = (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${secured!.url}${path}`, init);

    it('every /api route needs the bearer token: 401 JSON without it or with a wrong one, nothing stored', async () => {
      const before = await secured!.snapshot();
      const attempts: [string, RequestInit][] = [
        ['/api/v1/flows/search', {}],
        ['/api/v1/plugins', {}],
        ['/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('company.team', 'x') }],
        ['/api/v1/flows/company.team/x', { method: 'DELETE' }],
        ['/api/v1/no-such-route', {}],
        ['/%61pi/v1/plugins', {}],
      ];
      for (const authorization of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer ']) {
        for (const [path, init] of attempts) {
          const response = await anonymous(path, { ...init, headers: { ...(init.headers as Record<string, string>), ...(authorization ? { authorization } : {}) } });
          expect(response.status, `${path} with ${authorization}`).toBe(401);
          expect(await response.json()).toMatchObject({ code: 'SLU_API_UNAUTHORIZED', message: expect.stringContaining('Bearer') });
        }
      }
      expect(await secured!.snapshot()).toBe(before);
    });

    it('the right token passes; health stays open', async () => {
      expect((await secured!.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('company.team', 'x') })).status).toBe(200);
      expect((await anonymous('/api/v1/flows/company.team/x', { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
      expect((await anonymous('/health')).status).toBe(200);
      expect((await anonymous('/api/v1/health')).status).toBe(200);
    });
  });
});
