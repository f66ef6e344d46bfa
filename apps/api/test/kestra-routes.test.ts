/**
 * Kestra 1.x routes beside the older ones: `actions/kill` and `actions/restart`, the bulk kill and restart (by ids and
 * by query), the flows of a namespace and the executions of a flow; and the older routes still answering as before.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createFlows, flowYaml, seedExecution, startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const api = await startApi();

interface ExecutionBody {
  id: string;
  namespace: string;
  flowId: string;
  state: { current: string; histories: { state: string }[] };
}

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

const JSON_BODY = { 'content-type': 'application/json' };

describe.skipIf(!api)('Kestra 1.x routes on Postgres', () => {
  const a = api as ApiFixture;

  afterAll(async () => {
    await a.close();
  });

  /** A new execution (CREATED) of `namespace`/`flowId`. */
  async function created(namespace: string, flowId: string): Promise<string> {
    const response = await a.fetch(`/api/v1/executions/${namespace}/${flowId}`, { method: 'POST' });
    expect(response.status).toBe(200);
    return ((await response.json()) as ExecutionBody).id;
  }

  async function stateOf(id: string): Promise<string> {
    return ((await (await a.fetch(`/api/v1/executions/${id}`)).json()) as ExecutionBody).state.current;
  }

  async function errorOf(response: Response, status: number): Promise<ErrorBody> {
    const text = await response.text();
    expect(response.status, text).toBe(status);
    return JSON.parse(text) as ErrorBody;
  }

  const flowsReady = createFlows(a, [
    flowYaml('kr.kill', 'plain'),
    flowYaml('kr.restart', 'plain'),
    flowYaml('kr.bulk', 'plain'),
    flowYaml('kr.query', 'plain'),
    flowYaml('kr.query.child', 'plain'),
    flowYaml('kr.query', 'second'),
    flowYaml('kr.filters', 'plain'),
    flowYaml('kr.filters', 'second'),
    flowYaml('kr.filters.child', 'plain'),
    flowYaml('kr.list', 'zeta'),
    flowYaml('kr.list', 'alpha'),
    flowYaml('kr.list', 'gone'),
    flowYaml('kr.list.child', 'nested'),
    flowYaml('kr.runs', 'plain'),
    flowYaml('kr.runs', 'other'),
    flowYaml('kr.runs.child', 'plain'),
  ]);

  describe('actions/kill and actions/restart: the answers of kill and restart', () => {
    it('DELETE /executions/{id}/actions/kill: 202 KILLING and a kill request; again while KILLING 202; ended 409; unknown 404', async () => {
      await flowsReady;
      const id = await created('kr.kill', 'plain');
      const kill = (): Promise<Response> => a.fetch(`/api/v1/executions/${id}/actions/kill`, { method: 'DELETE' });
      const first = await kill();
      expect(first.status).toBe(202);
      const body = (await first.json()) as ExecutionBody;
      expect(body).toMatchObject({ id, namespace: 'kr.kill', flowId: 'plain', state: { current: 'KILLING' } });
      expect(body.state.histories.map((h) => h.state)).toEqual(['CREATED', 'KILLING']);
      expect(a.queue.events.at(-1)).toEqual({ type: 'killRequested', executionId: id });
      expect((await kill()).status).toBe(202);

      await a.db.executions.transition(id, ['KILLING'], 'KILLED');
      const ended = await errorOf(await kill(), 409);
      expect(ended).toMatchObject({ code: 'SLU_API_EXECUTION_ENDED', details: { id, state: 'KILLED' } });
      // The older path answers the same, to the byte.
      const older = await a.fetch(`/api/v1/executions/${id}/kill`, { method: 'DELETE' });
      expect(older.status).toBe(409);
      expect(((await older.json()) as ErrorBody).message).toBe(ended.message);

      expect(await errorOf(await a.fetch('/api/v1/executions/nope/actions/kill', { method: 'DELETE' }), 404)).toMatchObject({
        code: 'SLU_API_EXECUTION_NOT_FOUND',
        details: { id: 'nope' },
      });
    });

    it('DELETE /executions/{id}/kill still answers as before', async () => {
      const id = await created('kr.kill', 'plain');
      const response = await a.fetch(`/api/v1/executions/${id}/kill`, { method: 'DELETE' });
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ id, state: { current: 'KILLING' } });
      expect(a.queue.events.at(-1)).toEqual({ type: 'killRequested', executionId: id });
      expect((await a.fetch('/api/v1/executions/nope/kill', { method: 'DELETE' })).status).toBe(404);
    });

    it('POST /executions/{id}/actions/restart: only FAILED → RESTARTED (handed to the scheduler), else 409; unknown 404', async () => {
      const id = await created('kr.restart', 'plain');
      const restart = (): Promise<Response> => a.fetch(`/api/v1/executions/${id}/actions/restart`, { method: 'POST' });
      expect(await errorOf(await restart(), 409)).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_RESTARTABLE', details: { id, state: 'CREATED' } });

      await a.db.executions.transition(id, ['CREATED'], 'RUNNING');
      await a.db.executions.transition(id, ['RUNNING'], 'FAILED');
      const restarted = await restart();
      expect(restarted.status).toBe(200);
      const body = (await restarted.json()) as ExecutionBody;
      expect(body.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'FAILED', 'RESTARTED']);
      expect(a.queue.events.at(-1)).toEqual({ type: 'executionRestarted', event: { executionId: id, namespace: 'kr.restart', flowId: 'plain' } });

      expect(await errorOf(await restart(), 409)).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_RESTARTABLE', details: { state: 'RESTARTED' } });
      expect((await errorOf(await a.fetch('/api/v1/executions/nope/actions/restart', { method: 'POST' }), 404)).code).toBe('SLU_API_EXECUTION_NOT_FOUND');
    });

    it('POST /executions/{id}/restart still answers as before', async () => {
      const id = await seedExecution(a, 'kr.restart', 'plain', 'FAILED', []);
      const response = await a.fetch(`/api/v1/executions/${id}/restart`, { method: 'POST' });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id, state: { current: 'RESTARTED' } });
      expect((await errorOf(await a.fetch(`/api/v1/executions/${id}/restart`, { method: 'POST' }), 409)).code).toBe('SLU_API_EXECUTION_NOT_RESTARTABLE');
      expect((await a.fetch('/api/v1/executions/nope/restart', { method: 'POST' })).status).toBe(404);
    });
  });

  describe('bulk by ids', () => {
    const killByIds = (body: unknown, query = ''): Promise<Response> =>
      a.fetch(`/api/v1/executions/kill/by-ids${query}`, { method: 'DELETE', headers: JSON_BODY, body: JSON.stringify(body) });
    const restartByIds = (body: unknown): Promise<Response> =>
      a.fetch('/api/v1/executions/restart/by-ids', { method: 'POST', headers: JSON_BODY, body: JSON.stringify(body) });

    it('DELETE /executions/kill/by-ids: {count}, each KILLING with a kill request; a repeated id once; KILLING again accepted', async () => {
      await flowsReady;
      const one = await created('kr.bulk', 'plain');
      const two = await seedExecution(a, 'kr.bulk', 'plain', 'RUNNING', []);
      const before = a.queue.events.length;
      const response = await killByIds([one, two, one]);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ count: 2 });
      expect(await stateOf(one)).toBe('KILLING');
      expect(await stateOf(two)).toBe('KILLING');
      expect(a.queue.events.slice(before)).toEqual([
        { type: 'killRequested', executionId: one },
        { type: 'killRequested', executionId: two },
      ]);
      expect(await (await killByIds([one])).json()).toEqual({ count: 1 });
      expect(await (await killByIds([])).json()).toEqual({ count: 0 });
    });

    it('kill/by-ids: an unknown id or an ended execution is a 400 naming each, and nothing is killed', async () => {
      const running = await seedExecution(a, 'kr.bulk', 'plain', 'RUNNING', []);
      const ended = await seedExecution(a, 'kr.bulk', 'plain', 'SUCCESS', []);
      const before = a.queue.events.length;
      const error = await errorOf(await killByIds([running, ended, 'no-such-execution']), 400);
      expect(error.code).toBe('SLU_API_BAD_REQUEST');
      expect(error.message).toContain('cannot kill 2 of 3 executions');
      expect(error.details.invalids).toEqual([
        { id: ended, code: 'SLU_API_EXECUTION_ENDED', message: expect.stringContaining(`execution ${ended} has already ended (state SUCCESS)`) },
        { id: 'no-such-execution', code: 'SLU_API_EXECUTION_NOT_FOUND', message: 'execution no-such-execution not found' },
      ]);
      expect(await stateOf(running)).toBe('RUNNING');
      expect(a.queue.events.length).toBe(before);
    });

    it('kill/by-ids: a body that is not a list of ids, no body, bad JSON or a query parameter: 400', async () => {
      expect((await errorOf(await killByIds({ ids: ['x'] }), 400)).code).toBe('SLU_API_BAD_REQUEST');
      expect((await errorOf(await killByIds(['']), 400)).code).toBe('SLU_API_BAD_REQUEST');
      expect((await errorOf(await killByIds([1, 2]), 400)).code).toBe('SLU_API_BAD_REQUEST');
      expect((await errorOf(await a.fetch('/api/v1/executions/kill/by-ids', { method: 'DELETE' }), 400)).code).toBe('SLU_API_BAD_REQUEST');
      const badJson = await a.fetch('/api/v1/executions/kill/by-ids', { method: 'DELETE', headers: JSON_BODY, body: '["a",' });
      expect((await errorOf(badJson, 400)).message).toContain('not valid JSON');
      const tooMany = await errorOf(await killByIds(Array.from({ length: 1001 }, (_, i) => `id-${i}`)), 400);
      expect(tooMany.message).toContain('1000');
      expect(await errorOf(await killByIds([], '?force=true'), 400)).toMatchObject({
        code: 'SLU_API_BAD_REQUEST',
        message: expect.stringContaining('unknown query parameter "force"'),
        details: { in: 'query', parameter: 'force' },
      });
    });

    it('POST /executions/restart/by-ids: {count}, each RESTARTED and handed to the scheduler', async () => {
      const one = await seedExecution(a, 'kr.bulk', 'plain', 'FAILED', []);
      const two = await seedExecution(a, 'kr.bulk', 'plain', 'FAILED', []);
      const before = a.queue.events.length;
      const response = await restartByIds([one, two]);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ count: 2 });
      expect(await stateOf(one)).toBe('RESTARTED');
      expect(await stateOf(two)).toBe('RESTARTED');
      expect(a.queue.events.slice(before)).toEqual([
        { type: 'executionRestarted', event: { executionId: one, namespace: 'kr.bulk', flowId: 'plain' } },
        { type: 'executionRestarted', event: { executionId: two, namespace: 'kr.bulk', flowId: 'plain' } },
      ]);
    });

    it('restart/by-ids: one not FAILED or unknown is a 400 naming each, and nothing is restarted', async () => {
      const failed = await seedExecution(a, 'kr.bulk', 'plain', 'FAILED', []);
      const running = await seedExecution(a, 'kr.bulk', 'plain', 'RUNNING', []);
      const error = await errorOf(await restartByIds([failed, running, 'ghost']), 400);
      expect(error.message).toContain('cannot restart 2 of 3 executions');
      expect(error.details.invalids).toEqual([
        { id: running, code: 'SLU_API_EXECUTION_NOT_RESTARTABLE', message: `execution ${running} is RUNNING: only a FAILED execution can be restarted` },
        { id: 'ghost', code: 'SLU_API_EXECUTION_NOT_FOUND', message: 'execution ghost not found' },
      ]);
      expect(await stateOf(failed)).toBe('FAILED');
      expect((await errorOf(await restartByIds('not a list'), 400)).code).toBe('SLU_API_BAD_REQUEST');
    });
  });

  describe('bulk by query', () => {
    const killByQuery = (query: string): Promise<Response> => a.fetch(`/api/v1/executions/kill/by-query?${query}`, { method: 'DELETE' });
    const restartByQuery = (query: string): Promise<Response> => a.fetch(`/api/v1/executions/restart/by-query?${query}`, { method: 'POST' });

    it('DELETE /executions/kill/by-query: the search filters pick the executions; {count}', async () => {
      await flowsReady;
      const one = await seedExecution(a, 'kr.query', 'plain', 'RUNNING', []);
      const two = await seedExecution(a, 'kr.query.child', 'plain', 'RUNNING', []);
      const ended = await seedExecution(a, 'kr.query', 'plain', 'SUCCESS', []);
      // A namespace filter takes its children too, as the search does; state=RUNNING leaves the ended one out.
      const response = await killByQuery('namespace=kr.query&state=RUNNING');
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await response.json()).toEqual({ count: 2 });
      expect([await stateOf(one), await stateOf(two), await stateOf(ended)]).toEqual(['KILLING', 'KILLING', 'SUCCESS']);
      // Nothing matches: nothing to do.
      expect(await (await killByQuery('namespace=kr.query&state=QUEUED')).json()).toEqual({ count: 0 });
    });

    it('kill/by-query: an ended execution among those matched is a 400 naming it, and nothing is killed', async () => {
      const running = await seedExecution(a, 'kr.query', 'plain', 'RUNNING', []);
      const error = await errorOf(await killByQuery('namespace=kr.query&flowId=plain'), 400);
      const invalids = error.details.invalids as { id: string; code: string }[];
      expect(invalids.length).toBeGreaterThan(0);
      expect(invalids.every((i) => i.code === 'SLU_API_EXECUTION_ENDED')).toBe(true);
      expect(invalids.map((i) => i.id)).not.toContain(running);
      expect(await stateOf(running)).toBe('RUNNING');
    });

    it('by-query: an unknown parameter (paging included), a bad state, date or label: 400 naming it', async () => {
      for (const [query, parameter] of [
        ['namespace=kr.query&sate=RUNNING', 'sate'],
        ['page=1', 'page'],
        ['size=10', 'size'],
      ] as const) {
        expect(await errorOf(await killByQuery(query), 400)).toMatchObject({ code: 'SLU_API_BAD_REQUEST', details: { in: 'query', parameter } });
        expect(await errorOf(await restartByQuery(query), 400)).toMatchObject({ details: { parameter } });
      }
      expect((await errorOf(await killByQuery('state=ASLEEP'), 400)).code).toBe('SLU_API_BAD_REQUEST');
      expect(await errorOf(await killByQuery('startDate=yesterday'), 400)).toMatchObject({ details: { in: 'query', parameter: 'startDate' } });
      expect(await errorOf(await restartByQuery('labels=nocolon'), 400)).toMatchObject({ details: { in: 'query', parameter: 'labels' } });
    });

    it("by-query takes Kestra 1.x's filters[field][OP]=value too, under the tenant path; an unknown field or operation is a 400", async () => {
      await flowsReady;
      const one = await seedExecution(a, 'kr.filters', 'plain', 'RUNNING', []);
      const other = await seedExecution(a, 'kr.filters', 'second', 'RUNNING', []);
      const child = await seedExecution(a, 'kr.filters.child', 'plain', 'RUNNING', []);
      const kill = (query: string): Promise<Response> => a.fetch(`/api/v1/main/executions/kill/by-query?${query}`, { method: 'DELETE' });
      // EQUALS on a namespace is that namespace only (the plain parameter would take its children too).
      const response = await kill('filters[namespace][EQUALS]=kr.filters&filters[flowId][EQUALS]=plain&filters[state][IN]=RUNNING,CREATED');
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await response.json()).toEqual({ count: 1 });
      expect([await stateOf(one), await stateOf(other), await stateOf(child)]).toEqual(['KILLING', 'RUNNING', 'RUNNING']);
      // Mixed with a 0.x parameter: both must hold.
      expect(await (await kill('namespace=kr.filters&filters[flowId][NOT_EQUALS]=plain&filters[state][EQUALS]=RUNNING')).json()).toEqual({ count: 1 });
      expect(await stateOf(other)).toBe('KILLING');
      expect(await stateOf(child)).toBe('RUNNING');
      expect(await errorOf(await kill('filters[colour][EQUALS]=red'), 400)).toMatchObject({ code: 'SLU_API_BAD_REQUEST', message: expect.stringContaining('colour') });
      expect(await errorOf(await restartByQuery('filters[state][RESEMBLES]=FAILED'), 400)).toMatchObject({ message: expect.stringContaining('RESEMBLES') });
      expect(await stateOf(child)).toBe('RUNNING');
    });

    it('POST /executions/restart/by-query: FAILED ones matched restart; one not FAILED among them is a 400', async () => {
      const failed = await seedExecution(a, 'kr.query', 'second', 'FAILED', []);
      const response = await restartByQuery('namespace=kr.query&flowId=second&labels=team:none&state=FAILED');
      expect(await response.json()).toEqual({ count: 0 }); // the label filter matches none
      const restarted = await restartByQuery('namespace=kr.query&flowId=second&state=FAILED');
      expect(restarted.status).toBe(200);
      expect(await restarted.json()).toEqual({ count: 1 });
      expect(await stateOf(failed)).toBe('RESTARTED');

      const error = await errorOf(await restartByQuery('namespace=kr.query&flowId=second'), 400);
      expect(error.details.invalids).toEqual([{ id: failed, code: 'SLU_API_EXECUTION_NOT_RESTARTABLE', message: expect.stringContaining('RESTARTED') }]);
    });
  });

  describe('GET /flows/{namespace}', () => {
    it("a namespace's flows by id, without source or deleted flows, children left out; [] for none", async () => {
      await flowsReady;
      expect((await a.fetch('/api/v1/flows/kr.list/gone', { method: 'DELETE' })).status).toBe(204);
      const response = await a.fetch('/api/v1/flows/kr.list');
      expect(response.status).toBe(200);
      const flows = (await response.json()) as Record<string, unknown>[];
      expect(flows.map((f) => [f.namespace, f.id])).toEqual([
        ['kr.list', 'alpha'],
        ['kr.list', 'zeta'],
      ]);
      expect(flows[0]).toMatchObject({ id: 'alpha', namespace: 'kr.list', revision: 1, deleted: false, tasks: [{ id: 'log' }] });
      expect(flows[0]).not.toHaveProperty('source');
      expect(await (await a.fetch('/api/v1/flows/kr.nothing.here')).json()).toEqual([]);
    });

    it('a bad namespace or any query parameter: 400', async () => {
      expect((await errorOf(await a.fetch('/api/v1/flows/bad%20namespace'), 400)).code).toBe('SLU_FLOW_INVALID_NAMESPACE');
      expect(await errorOf(await a.fetch('/api/v1/flows/kr.list?source=true'), 400)).toMatchObject({
        message: expect.stringContaining('unknown query parameter "source"'),
        details: { in: 'query', parameter: 'source' },
      });
    });

    it('GET /flows/search and GET /flows/{namespace}/{id} still answer as before', async () => {
      const search = await a.fetch('/api/v1/flows/search?namespace=kr.list&size=50');
      expect(search.status).toBe(200);
      const found = (await search.json()) as { results: { namespace: string; id: string }[]; total: number };
      expect(found.results.map((f) => `${f.namespace}/${f.id}`)).toEqual(['kr.list/alpha', 'kr.list/zeta', 'kr.list.child/nested']);
      expect(found.total).toBe(3);
      expect((await errorOf(await a.fetch('/api/v1/flows/search?page=0'), 400)).code).toBe('SLU_API_BAD_REQUEST');
      const one = await a.fetch('/api/v1/flows/kr.list/alpha?source=true');
      expect(one.status).toBe(200);
      expect(await one.json()).toMatchObject({ id: 'alpha', namespace: 'kr.list', source: flowYaml('kr.list', 'alpha') });
      expect((await a.fetch('/api/v1/flows/kr.list/gone')).status).toBe(404);
      // Deploying a namespace (POST /flows/{namespace}) is a different method on the same path.
      const deploy = await a.fetch('/api/v1/flows/kr.deploy?delete=false', { method: 'POST', headers: YAML, body: flowYaml('kr.deploy', 'one') });
      expect(deploy.status).toBe(200);
      expect(((await (await a.fetch('/api/v1/flows/kr.deploy')).json()) as { id: string }[]).map((f) => f.id)).toEqual(['one']);
    });
  });

  describe('GET /executions?namespace&flowId', () => {
    it("the flow's executions, newest first, paged; this namespace only", async () => {
      await flowsReady;
      const first = await created('kr.runs', 'plain');
      const second = await created('kr.runs', 'plain');
      const third = await created('kr.runs', 'plain');
      await created('kr.runs', 'other');
      await created('kr.runs.child', 'plain');
      const page = async (query: string): Promise<{ results: ExecutionBody[]; total: number }> => {
        const response = await a.fetch(`/api/v1/executions?${query}`);
        expect(response.status, await response.clone().text()).toBe(200);
        return (await response.json()) as { results: ExecutionBody[]; total: number };
      };
      const all = await page('namespace=kr.runs&flowId=plain');
      expect(all.total).toBe(3);
      expect(new Set(all.results.map((e) => e.id))).toEqual(new Set([first, second, third]));
      expect(all.results.every((e) => e.namespace === 'kr.runs' && e.flowId === 'plain')).toBe(true);
      const paged = await page('namespace=kr.runs&flowId=plain&page=2&size=2');
      expect(paged.total).toBe(3);
      expect(paged.results.map((e) => e.id)).toEqual([all.results[2]!.id]);
      expect(await page('namespace=kr.runs.child&flowId=plain')).toMatchObject({ total: 1 });
      expect(await page('namespace=kr.nothing&flowId=plain')).toEqual({ results: [], total: 0 });
    });

    it('namespace and flowId are required, any other parameter is a 400 naming it', async () => {
      const missingNamespace = await errorOf(await a.fetch('/api/v1/executions?flowId=plain'), 400);
      expect(missingNamespace.code).toBe('SLU_API_BAD_REQUEST');
      expect(missingNamespace.message).toContain("must have required property 'namespace'");
      expect((await errorOf(await a.fetch('/api/v1/executions?namespace=kr.runs'), 400)).message).toContain("must have required property 'flowId'");
      expect((await errorOf(await a.fetch('/api/v1/executions'), 400)).message).toContain('required property');
      expect((await errorOf(await a.fetch('/api/v1/executions?namespace=&flowId=plain'), 400)).message).toContain('namespace');
      expect(await errorOf(await a.fetch('/api/v1/executions?namespace=kr.runs&flowId=plain&state=RUNNING'), 400)).toMatchObject({
        code: 'SLU_API_BAD_REQUEST',
        message: expect.stringContaining('unknown query parameter "state"'),
        details: { in: 'query', parameter: 'state' },
      });
      expect((await errorOf(await a.fetch('/api/v1/executions?namespace=kr.runs&flowId=plain&size=501'), 400)).message).toContain('size');
      expect((await errorOf(await a.fetch('/api/v1/executions?namespace=kr.runs&flowId=plain&page=0'), 400)).message).toContain('page');
    });

    it('GET /executions/search and GET /executions/{id} still answer as before (the search takes child namespaces); an unknown parameter is a 400 now', async () => {
      const search = await a.fetch('/api/v1/executions/search?namespace=kr.runs&flowId=plain');
      expect(search.status).toBe(200);
      expect(((await search.json()) as { total: number }).total).toBe(4);
      // It was ignored (a misspelt filter matched everything): issue #17.
      expect(await errorOf(await a.fetch('/api/v1/executions/search?namespace=kr.runs&flowId=plain&whatever=1'), 400)).toMatchObject({
        details: { in: 'query', parameter: 'whatever' },
      });
      const id = await created('kr.runs', 'other');
      expect(await (await a.fetch(`/api/v1/executions/${id}`)).json()).toMatchObject({ id, state: { current: 'CREATED' } });
      expect((await a.fetch('/api/v1/executions/nope')).status).toBe(404);
    });
  });

  it("the new routes answer under Kestra 1.x's tenant form /api/v1/main/... as well", async () => {
    await flowsReady;
    const running = await seedExecution(a, 'kr.bulk', 'plain', 'RUNNING', []);
    const killed = await a.fetch('/api/v1/main/executions/kill/by-ids', { method: 'DELETE', headers: JSON_BODY, body: JSON.stringify([running]) });
    expect(await killed.json()).toEqual({ count: 1 });
    const failed = await seedExecution(a, 'kr.bulk', 'plain', 'FAILED', []);
    expect((await a.fetch(`/api/v1/main/executions/${failed}/actions/restart`, { method: 'POST' })).status).toBe(200);
    expect(((await (await a.fetch('/api/v1/main/flows/kr.list')).json()) as { id: string }[]).map((f) => f.id)).toEqual(['alpha', 'zeta']);
    expect(await (await a.fetch('/api/v1/main/executions?namespace=kr.runs&flowId=nothing')).json()).toEqual({ results: [], total: 0 });
    expect((await errorOf(await a.fetch('/api/v1/main/executions?flowId=plain'), 400)).message).toContain('namespace');
  });

  it('every new route is in the OpenAPI document with its tag, summary and parameters', async () => {
    const spec = (await (await a.fetch('/docs/json')).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; summary?: string; parameters?: { name: string; in: string; required?: boolean }[]; requestBody?: unknown }>>;
    };
    const op = (path: string, method: string): { tags?: string[]; summary?: string; parameters?: { name: string; in: string; required?: boolean }[]; requestBody?: unknown } => {
      const found = spec.paths[path]?.[method];
      expect(found, `${method} ${path}`).toBeDefined();
      expect(found!.summary).toBeTruthy();
      return found!;
    };
    const names = (operation: { parameters?: { name: string; in: string }[] }): string[] => (operation.parameters ?? []).map((p) => `${p.in}:${p.name}`).sort();
    expect(op('/api/v1/executions/{id}/actions/kill', 'delete').tags).toEqual(['executions']);
    expect(names(op('/api/v1/executions/{id}/actions/restart', 'post'))).toEqual(['path:id']);
    for (const [path, method] of [
      ['/api/v1/executions/kill/by-ids', 'delete'],
      ['/api/v1/executions/restart/by-ids', 'post'],
    ] as const) {
      const operation = op(path, method);
      expect(operation.tags).toEqual(['executions']);
      expect(operation.requestBody).toMatchObject({ content: { 'application/json': { schema: { type: 'array' } } } });
    }
    const searchFilters = ['query:endDate', 'query:flowId', 'query:labels', 'query:namespace', 'query:startDate', 'query:state'];
    expect(names(op('/api/v1/executions/kill/by-query', 'delete'))).toEqual(searchFilters);
    expect(names(op('/api/v1/executions/restart/by-query', 'post'))).toEqual(searchFilters);
    const byFlow = op('/api/v1/executions', 'get');
    expect(names(byFlow)).toEqual(['query:flowId', 'query:namespace', 'query:page', 'query:size']);
    expect(byFlow.parameters!.filter((p) => p.required).map((p) => p.name).sort()).toEqual(['flowId', 'namespace']);
    const list = op('/api/v1/flows/{namespace}', 'get');
    expect(list.tags).toEqual(['flows']);
    expect(names(list)).toEqual(['path:namespace']);
  });
});
