/**
 * Kestra 1.x paths: every public route under `/api/v1/{tenant}/...` as well as `/api/v1/...`, the tenant `main` unless
 * the server is given another (`SLUICE_TENANT`); another tenant is a 404 naming it; the internal routes have no tenant
 * form. The OpenAPI document has both forms, the tenant one with a `tenant` path parameter.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { flowYaml, startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const WORKER_TOKEN = 'tenant-test-worker-token';
const a = await startApi({ workerToken: WORKER_TOKEN });
const acme = a ? await startApi({ tenant: 'acme' }) : undefined;

type Operation = { parameters?: { name: string; in: string; required?: boolean }[] };
type OpenApi = { paths: Record<string, Record<string, Operation>> };

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

async function openApi(fixture: ApiFixture): Promise<OpenApi> {
  const response = await fixture.fetch('/docs/json');
  expect(response.status).toBe(200);
  return (await response.json()) as OpenApi;
}

/** A concrete path for an OpenAPI path: `{tenant}` → `tenant`, every other parameter a value no resource has. */
function concrete(path: string, tenant: string): string {
  return path.replace(/\{(\w+)\}/g, (_whole, name: string) => (name === 'tenant' ? tenant : name === 'namespace' ? 'tenant.nothing' : `nothing-${name}`));
}

/**
 * Call `method path` and say what is wrong with the answer, or undefined: the route itself must exist, so a 404 is
 * fine only when its code is a resource's "not found" (a flow, an execution), never no route or no tenant.
 */
async function routeProblem(fixture: ApiFixture, method: string, path: string): Promise<string | undefined> {
  const response = await fixture.fetch(path, { method: method.toUpperCase() });
  const status = response.status;
  if (status !== 404 && status < 500) {
    await response.body?.cancel();
    return undefined;
  }
  const body = (await response.json()) as { code?: string };
  if (status === 404 && typeof body.code === 'string' && /^SLU_(API_\w+|KV)_NOT_FOUND$/.test(body.code) && !['SLU_API_ROUTE_NOT_FOUND', 'SLU_API_TENANT_NOT_FOUND'].includes(body.code)) {
    return undefined;
  }
  return `${method.toUpperCase()} ${path}: ${status} ${body.code}`;
}

describe.skipIf(!a || !acme)('tenants in paths (Kestra 1.x /api/v1/{tenant}/...)', () => {
  afterAll(async () => {
    await a?.close();
    await acme?.close();
  });

  it('the OpenAPI document has every public route in both forms, the tenant one with a required tenant path parameter; the internal ones only without', async () => {
    const spec = await openApi(a!);
    const paths = Object.keys(spec.paths);
    const tenanted = paths.filter((p) => p.startsWith('/api/v1/{tenant}/'));
    const internal = paths.filter((p) => p.startsWith('/api/v1/internal/'));
    const plain = paths.filter((p) => p.startsWith('/api/v1/') && !tenanted.includes(p) && !internal.includes(p) && p !== '/api/v1/health');
    expect(internal.length).toBeGreaterThan(0);
    expect(plain).toEqual(expect.arrayContaining(['/api/v1/flows', '/api/v1/flows/search', '/api/v1/flows/{namespace}/{id}', '/api/v1/executions/{id}', '/api/v1/plugins']));
    expect(tenanted.sort()).toEqual(plain.map((p) => p.replace('/api/v1/', '/api/v1/{tenant}/')).sort());
    for (const path of tenanted) {
      expect(Object.keys(spec.paths[path]!).sort(), path).toEqual(Object.keys(spec.paths[path.replace('/{tenant}', '')]!).sort());
      for (const [method, operation] of Object.entries(spec.paths[path]!)) {
        if (!METHODS.includes(method)) continue;
        const pathParameters = (operation.parameters ?? []).filter((p) => p.in === 'path');
        expect(pathParameters.find((p) => p.name === 'tenant'), `${method} ${path}`).toMatchObject({ required: true });
        // Every parameter of the path is documented, not only the tenant.
        expect(pathParameters.map((p) => p.name).sort(), `${method} ${path}`).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort());
      }
    }
    // The routes' own params schemas are shared with the paths without a tenant: they did not get the tenant.
    for (const path of plain) {
      for (const operation of Object.values(spec.paths[path]!)) expect((operation.parameters ?? []).map((p) => p.name), path).not.toContain('tenant');
    }
  });

  it('every route of the OpenAPI document answers under /api/v1/main/ and without a tenant (a 404 only for the resource, never for the route)', async () => {
    const spec = await openApi(a!);
    // Each documented public route as it is documented, and in its tenant form built here (not read from the document).
    const calls = new Set<string>();
    for (const [path, operations] of Object.entries(spec.paths)) {
      if (!path.startsWith('/api/v1/') || path.startsWith('/api/v1/internal/') || path === '/api/v1/health') continue;
      for (const method of Object.keys(operations).filter((m) => METHODS.includes(m))) {
        calls.add(`${method} ${concrete(path, 'main')}`);
        if (!path.startsWith('/api/v1/{tenant}/')) calls.add(`${method} ${concrete(path.replace('/api/v1/', '/api/v1/main/'), 'main')}`);
      }
    }
    expect([...calls].filter((call) => call.includes(' /api/v1/main/')).length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const call of calls) {
      const [method, path] = call.split(' ') as [string, string];
      const problem = await routeProblem(a!, method, path);
      if (problem) problems.push(problem);
    }
    expect(problems).toEqual([]);
  });

  it('paths without a tenant resolve to their own routes, as before: search, a flow, an execution', async () => {
    const created = await a!.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('tenant.plain', 'hello') });
    expect(created.status).toBe(200);
    const search = await a!.fetch('/api/v1/flows/search?namespace=tenant.plain');
    expect(search.status).toBe(200);
    expect(await search.json()).toMatchObject({ total: 1, results: [{ namespace: 'tenant.plain', id: 'hello' }] });
    const flow = await a!.fetch('/api/v1/flows/tenant.plain/hello');
    expect(await flow.json()).toMatchObject({ namespace: 'tenant.plain', id: 'hello', revision: 1 });
    const started = await a!.fetch('/api/v1/executions/tenant.plain/hello', { method: 'POST' });
    const { id } = (await started.json()) as { id: string };
    expect(await (await a!.fetch(`/api/v1/executions/${id}`)).json()).toMatchObject({ id, namespace: 'tenant.plain', flowId: 'hello' });
    // Static segments that a tenant could also be: the routes without a tenant win.
    expect(await (await a!.fetch('/api/v1/flows/flows/search')).json()).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND' });
    expect(await (await a!.fetch('/api/v1/executions/executions')).json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_FOUND' });
  });

  it('a flow created in one form is read, listed, updated and deleted in the other', async () => {
    const created = await a!.fetch('/api/v1/main/flows', { method: 'POST', headers: YAML, body: flowYaml('tenant.flows', 'one') });
    expect(created.status).toBe(200);
    expect(await (await a!.fetch('/api/v1/flows/tenant.flows/one')).json()).toMatchObject({ namespace: 'tenant.flows', id: 'one', revision: 1 });
    const other = await a!.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('tenant.flows', 'two') });
    expect(other.status).toBe(200);
    expect(await (await a!.fetch('/api/v1/main/flows/tenant.flows/two')).json()).toMatchObject({ namespace: 'tenant.flows', id: 'two', revision: 1 });
    for (const prefix of ['/api/v1', '/api/v1/main']) {
      const search = (await (await a!.fetch(`${prefix}/flows/search?namespace=tenant.flows&sort=id:asc`)).json()) as { total: number; results: { id: string }[] };
      expect(search.total, prefix).toBe(2);
      expect(search.results.map((f) => f.id).sort(), prefix).toEqual(['one', 'two']);
    }
    const updated = await a!.fetch('/api/v1/main/flows/tenant.flows/two', { method: 'PUT', headers: YAML, body: flowYaml('tenant.flows', 'two', 'again') });
    expect(updated.status).toBe(200);
    expect(await (await a!.fetch('/api/v1/flows/tenant.flows/two')).json()).toMatchObject({ revision: 2 });
    expect((await a!.fetch('/api/v1/flows/tenant.flows/one', { method: 'DELETE' })).status).toBe(204);
    expect(await (await a!.fetch('/api/v1/main/flows/tenant.flows/one')).json()).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND' });
    expect((await a!.fetch('/api/v1/main/flows/tenant.flows/two', { method: 'DELETE' })).status).toBe(204);
    expect((await a!.fetch('/api/v1/flows/tenant.flows/two')).status).toBe(404);
  });

  it('an execution created in one form is read and killed in the other', async () => {
    const created = await a!.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('tenant.runs', 'run') });
    expect(created.status).toBe(200);
    for (const [create, other] of [
      ['/api/v1/main', '/api/v1'],
      ['/api/v1', '/api/v1/main'],
    ] as const) {
      const started = await a!.fetch(`${create}/executions/tenant.runs/run`, { method: 'POST' });
      expect(started.status, create).toBe(200);
      const { id } = (await started.json()) as { id: string };
      expect(await (await a!.fetch(`${other}/executions/${id}`)).json()).toMatchObject({ id, namespace: 'tenant.runs', flowId: 'run', state: { current: 'CREATED' } });
      const killed = await a!.fetch(`${other}/executions/${id}/kill`, { method: 'DELETE' });
      expect(killed.status, other).toBe(202);
      expect(a!.queue.events.at(-1)).toEqual({ type: 'killRequested', executionId: id });
      expect(await (await a!.fetch(`${create}/executions/${id}`)).json()).toMatchObject({ id, state: { current: 'KILLING' } });
    }
  });

  it('an unknown tenant is a 404 naming it, before the body is read: nothing is stored', async () => {
    const before = await a!.snapshot();
    for (const [method, path] of [
      ['GET', '/api/v1/acme/flows/search'],
      ['POST', '/api/v1/acme/flows'],
      ['GET', '/api/v1/acme/executions/anything'],
      ['GET', '/api/v1/acme/plugins'],
    ] as const) {
      const response = await a!.fetch(path, { method, ...(method === 'POST' ? { headers: YAML, body: flowYaml('tenant.acme', 'x') } : {}) });
      expect(response.status, path).toBe(404);
      const body = (await response.json()) as { code: string; message: string; details: Record<string, unknown> };
      expect(body, path).toMatchObject({ code: 'SLU_API_TENANT_NOT_FOUND', details: { tenant: 'acme', expected: 'main' } });
      expect(body.message).toMatch(/^tenant "acme" not found: this server serves tenant "main"/);
    }
    expect(await a!.snapshot()).toBe(before);
    // A path no route has, with or without a tenant-like segment, is still "no route".
    expect(await (await a!.fetch('/api/v1/main/no-such-route')).json()).toMatchObject({ code: 'SLU_API_ROUTE_NOT_FOUND' });
  });

  it('the internal routes have no tenant form', async () => {
    const worker = { authorization: `Bearer ${WORKER_TOKEN}` };
    // Without a tenant they exist (a 404 of the execution, not of the route)...
    expect(await (await a!.fetch('/api/v1/internal/executions/nothing', { headers: worker })).json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_FOUND' });
    // ...with one they do not.
    for (const [method, path] of [
      ['GET', '/api/v1/main/internal/executions/nothing'],
      ['GET', '/api/v1/main/internal/storage/metas?uri=kestra:///x'],
      ['PUT', '/api/v1/main/internal/workers/w1'],
      ['DELETE', '/api/v1/main/internal/workers/w1'],
    ] as const) {
      const response = await a!.fetch(path, { method, headers: worker });
      expect(response.status, path).toBe(404);
      expect(await response.json(), path).toMatchObject({ code: 'SLU_API_ROUTE_NOT_FOUND' });
    }
    expect(Object.keys((await openApi(a!)).paths).filter((p) => p.startsWith('/api/v1/{tenant}/internal'))).toEqual([]);
  });

  describe('a server whose tenant is acme (SLUICE_TENANT=acme)', () => {
    it('serves /api/v1/acme/... and the paths without a tenant; /api/v1/main/... is a 404 naming main', async () => {
      const created = await acme!.fetch('/api/v1/acme/flows', { method: 'POST', headers: YAML, body: flowYaml('tenant.acme', 'flow') });
      expect(created.status).toBe(200);
      expect(await (await acme!.fetch('/api/v1/flows/tenant.acme/flow')).json()).toMatchObject({ namespace: 'tenant.acme', id: 'flow' });
      expect(await (await acme!.fetch('/api/v1/acme/flows/search?namespace=tenant.acme')).json()).toMatchObject({ total: 1 });
      const main = await acme!.fetch('/api/v1/main/flows/tenant.acme/flow');
      expect(main.status).toBe(404);
      const body = (await main.json()) as { code: string; message: string };
      expect(body).toMatchObject({ code: 'SLU_API_TENANT_NOT_FOUND', details: { tenant: 'main', expected: 'acme' } });
      expect(body.message).toContain('tenant "main" not found');
      expect(body.message).toContain('/api/v1/acme/...');
    });

    it('documents its own tenant', async () => {
      const spec = await openApi(acme!);
      const parameter = spec.paths['/api/v1/{tenant}/flows/search']?.get?.parameters?.find((p) => p.name === 'tenant') as { description?: string } | undefined;
      expect(parameter?.description).toContain('"acme"');
    });
  });
});
