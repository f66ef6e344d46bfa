import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowYaml, startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const api = await startApi();

describe.skipIf(!api)('flows API on Postgres', () => {
  let a: ApiFixture;
  beforeAll(() => {
    a = api!;
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = (path: string, body: string, headers: Record<string, string> = YAML): Promise<Response> => a.fetch(path, { method: 'POST', headers, body });
  const put = (path: string, body: string): Promise<Response> => a.fetch(path, { method: 'PUT', headers: YAML, body });

  it('POST /flows creates revision 1 and returns the flow with its source; a second create is 409', async () => {
    const source = `# my flow\n${flowYaml('company.team', 'hello')}`;
    const created = await post('/api/v1/flows', source);
    expect(created.status).toBe(200);
    const body = (await created.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: 'hello', namespace: 'company.team', revision: 1, deleted: false, source });
    expect(body.tasks).toEqual([{ id: 'log', type: 'io.kestra.plugin.core.log.Log', message: 'hello' }]);

    const again = await post('/api/v1/flows', source);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'SLU_API_FLOW_EXISTS', details: { namespace: 'company.team', id: 'hello' } });
  });

  it('GET /flows/{ns}/{id} returns the latest revision; ?source=true adds the YAML verbatim', async () => {
    const plain = await a.fetch('/api/v1/flows/company.team/hello');
    expect(plain.status).toBe(200);
    const body = (await plain.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: 'hello', namespace: 'company.team', revision: 1 });
    expect(body).not.toHaveProperty('source');
    const withSource = (await (await a.fetch('/api/v1/flows/company.team/hello?source=true')).json()) as Record<string, unknown>;
    expect(withSource.source).toBe(`# my flow\n${flowYaml('company.team', 'hello')}`);
  });

  it('PUT updates (new revision only when the source changes), checks id and namespace, 404 when absent', async () => {
    const changed = flowYaml('company.team', 'hello', 'changed');
    const updated = await put('/api/v1/flows/company.team/hello', changed);
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ revision: 2, source: changed, tasks: [{ message: 'changed' }] });

    const same = await put('/api/v1/flows/company.team/hello', changed);
    expect(((await same.json()) as { revision: number }).revision).toBe(2);

    const wrongId = await put('/api/v1/flows/company.team/hello', flowYaml('company.team', 'other'));
    expect(wrongId.status).toBe(400);
    expect(await wrongId.json()).toMatchObject({ code: 'SLU_API_FLOW_MISMATCH', message: expect.stringContaining('id "other"') });
    const wrongNamespace = await put('/api/v1/flows/company.team/hello', flowYaml('company.other', 'hello'));
    expect(wrongNamespace.status).toBe(400);
    expect(await wrongNamespace.json()).toMatchObject({ code: 'SLU_API_FLOW_MISMATCH', message: expect.stringContaining('namespace') });

    const absent = await put('/api/v1/flows/company.team/nope', flowYaml('company.team', 'nope'));
    expect(absent.status).toBe(404);
    expect(await absent.json()).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND', details: { namespace: 'company.team', id: 'nope' } });
    expect((await a.fetch('/api/v1/flows/company.team/nope')).status).toBe(404);
  });

  it('GET ?revision=N returns that revision; GET /revisions lists every revision with its source', async () => {
    const first = (await (await a.fetch('/api/v1/flows/company.team/hello?revision=1&source=true')).json()) as Record<string, unknown>;
    expect(first).toMatchObject({ revision: 1, tasks: [{ message: 'hello' }] });
    expect(first.source).toContain('# my flow');
    const missing = await a.fetch('/api/v1/flows/company.team/hello?revision=99');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND', details: { revision: 99 } });
    const bad = await a.fetch('/api/v1/flows/company.team/hello?revision=zero');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });

    const revisions = (await (await a.fetch('/api/v1/flows/company.team/hello/revisions')).json()) as { revision: number; source: string }[];
    expect(revisions.map((r) => r.revision)).toEqual([1, 2]);
    expect(revisions[1]!.source).toBe(flowYaml('company.team', 'hello', 'changed'));
    expect((await a.fetch('/api/v1/flows/company.team/nope/revisions')).status).toBe(404);
  });

  it('GET /flows/search filters by namespace (and sub-namespaces) and text, paged as {results, total}', async () => {
    for (const [ns, id] of [['company.team', 'alpha'], ['company.team.sub', 'beta'], ['other', 'gamma']] as const) {
      expect((await post('/api/v1/flows', flowYaml(ns, id))).status).toBe(200);
    }
    const all = (await (await a.fetch('/api/v1/flows/search?size=100')).json()) as { results: { id: string }[]; total: number };
    expect(all.total).toBe(4);
    expect(all.results.map((r) => r.id).sort()).toEqual(['alpha', 'beta', 'gamma', 'hello']);
    expect(all.results[0]).not.toHaveProperty('source');

    const team = (await (await a.fetch('/api/v1/flows/search?namespace=company.team')).json()) as { results: { id: string }[]; total: number };
    expect(team.total).toBe(3);
    const text = (await (await a.fetch('/api/v1/flows/search?q=AMM')).json()) as { results: { id: string }[]; total: number };
    expect(text.results.map((r) => r.id)).toEqual(['gamma']);
    const page2 = (await (await a.fetch('/api/v1/flows/search?page=2&size=3')).json()) as { results: unknown[]; total: number };
    expect(page2).toMatchObject({ total: 4 });
    expect(page2.results).toHaveLength(1);
    const tooBig = await a.fetch('/api/v1/flows/search?size=100000');
    expect(tooBig.status).toBe(400);
    expect(await tooBig.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST', details: { cause: 'FST_ERR_VALIDATION' } });
  });

  it('DELETE answers 204 then 404; the flow is gone from reads and search; creating it again continues the revisions', async () => {
    const deleted = await a.fetch('/api/v1/flows/other/gamma', { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect((await a.fetch('/api/v1/flows/other/gamma')).status).toBe(404);
    expect((await a.fetch('/api/v1/flows/other/gamma', { method: 'DELETE' })).status).toBe(404);
    const search = (await (await a.fetch('/api/v1/flows/search?namespace=other')).json()) as { total: number };
    expect(search.total).toBe(0);
    const revived = await post('/api/v1/flows', flowYaml('other', 'gamma'));
    expect(revived.status).toBe(200);
    expect(await revived.json()).toMatchObject({ revision: 3 });
  });

  it('POST /flows with an invalid flow is 400 with the first problem\'s path, line and column, every problem in details', async () => {
    const before = await a.snapshot();
    const source = 'id: bad\nnamespace: company.team\ntasks:\n  - id: run\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [echo]\n    runner: DOCKERS\n    nope: 1\n';
    const response = await post('/api/v1/flows', source);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; details: { path: string; line: number; column: number; problems: unknown[] } };
    expect(body.code).toBe('SLU_FLOW_INVALID_ENUM');
    expect(body.details).toMatchObject({ path: 'tasks[0].runner', line: 7, column: 13 });
    expect(body.details.problems).toEqual([
      expect.objectContaining({ code: 'SLU_FLOW_INVALID_ENUM', path: 'tasks[0].runner', line: 7 }),
      expect.objectContaining({ code: 'SLU_FLOW_UNKNOWN_PROPERTY', path: 'tasks[0].nope', line: 8 }),
    ]);
    expect(await a.snapshot()).toBe(before);
  });

  it('POST /flows/validate answers one entry per document with constraints and problems', async () => {
    const source = `${flowYaml('company.team', 'ok')}---\nid: broken\nnamespace: company.team\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n---\nid: [unclosed\n`;
    const before = await a.snapshot();
    const response = await post('/api/v1/flows/validate', source);
    expect(response.status).toBe(200);
    const entries = (await response.json()) as { index: number; flow?: string; namespace?: string; constraints?: string; problems: { code: string; line: number }[] }[];
    expect(entries).toHaveLength(3);
    expect(entries[0]).toEqual({ index: 0, flow: 'ok', namespace: 'company.team', problems: [] });
    expect(entries[1]).toMatchObject({ index: 1, flow: 'broken', namespace: 'company.team', problems: [{ code: 'SLU_FLOW_UNKNOWN_TASK_TYPE', line: 12 }] });
    expect(entries[1]!.constraints).toMatch(/^tasks\[0\]\.type: unknown task type "io\.kestra\.plugin\.core\.log\.Nope"/);
    expect(entries[2]).toMatchObject({ index: 2, problems: [{ code: 'SLU_FLOW_YAML_SYNTAX' }] });
    expect(entries[2]).not.toHaveProperty('flow');
    expect(await a.snapshot()).toBe(before);
  });

  it('POST /flows/validate lists warnings and deprecation paths (an input\'s legacy name key) on a valid flow', async () => {
    const response = await post('/api/v1/flows/validate', 'id: legacy\nnamespace: company.team\ninputs:\n  - name: who\n    type: STRING\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n');
    const [entry] = (await response.json()) as { problems: unknown[]; warnings?: string[]; deprecationPaths?: string[] }[];
    expect(entry?.problems).toEqual([]);
    expect(entry?.deprecationPaths).toEqual(['inputs[0].name']);
    expect(entry?.warnings?.[0]).toMatch(/^inputs\[0\]\.name: /);
  });

  describe('POST /flows/{namespace} (deploy a namespace)', () => {
    const ns = 'deploy.ns';
    const names = async (): Promise<string[]> => {
      const found = (await (await a.fetch(`/api/v1/flows/search?namespace=${ns}&size=100`)).json()) as { results: { id: string; namespace: string }[] };
      return found.results.filter((f) => f.namespace === ns).map((f) => f.id).sort();
    };

    it('creates and updates every flow of the body; delete=true (default) removes the others', async () => {
      const first = await post(`/api/v1/flows/${ns}`, [flowYaml(ns, 'a'), flowYaml(ns, 'b'), flowYaml(ns, 'c')].join('---\n'));
      expect(first.status).toBe(200);
      const list = (await first.json()) as { id: string; revision: number; source: string }[];
      expect(list.map((f) => [f.id, f.revision])).toEqual([['a', 1], ['b', 1], ['c', 1]]);
      expect(list[1]!.source).toContain('id: b');
      expect((await post('/api/v1/flows', flowYaml(`${ns}.child`, 'kept'))).status).toBe(200);

      const second = await post(`/api/v1/flows/${ns}`, [flowYaml(ns, 'a', 'new'), flowYaml(ns, 'b')].join('---\n'));
      expect(second.status).toBe(200);
      expect(((await second.json()) as { revision: number }[]).map((f) => f.revision)).toEqual([2, 1]);
      expect(await names()).toEqual(['a', 'b']);
      // A sub-namespace is another namespace: untouched.
      expect((await a.fetch(`/api/v1/flows/${ns}.child/kept`)).status).toBe(200);
    });

    it('delete=false keeps flows missing from the body', async () => {
      const response = await post(`/api/v1/flows/${ns}?delete=false`, flowYaml(ns, 'd'));
      expect(response.status).toBe(200);
      expect(await names()).toEqual(['a', 'b', 'd']);
    });

    it('changes nothing when one document is invalid, a namespace differs, or an id repeats (400)', async () => {
      const before = await a.snapshot();
      const invalid = await post(`/api/v1/flows/${ns}`, `${flowYaml(ns, 'e')}---\nid: f\nnamespace: ${ns}\ntasks: []\n`);
      expect(invalid.status).toBe(400);
      expect(await invalid.json()).toMatchObject({ code: 'SLU_FLOW_INVALID_VALUE', details: { document: 1, problems: [expect.objectContaining({ document: 1, path: 'tasks' })] } });

      const mismatch = await post(`/api/v1/flows/${ns}`, `${flowYaml(ns, 'e')}---\n${flowYaml('elsewhere', 'f')}`);
      expect(mismatch.status).toBe(400);
      expect(await mismatch.json()).toMatchObject({ code: 'SLU_API_FLOW_MISMATCH', details: { document: 1, id: 'f' } });

      const duplicate = await post(`/api/v1/flows/${ns}`, `${flowYaml(ns, 'e')}---\n${flowYaml(ns, 'e', 'twice')}`);
      expect(duplicate.status).toBe(400);
      expect(await duplicate.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST', message: expect.stringContaining('documents 0 and 1') });

      const empty = await post(`/api/v1/flows/${ns}`, '');
      expect(empty.status).toBe(400);
      expect(await empty.json()).toMatchObject({ code: 'SLU_FLOW_EMPTY' });

      expect(await a.snapshot()).toBe(before);
      expect(await names()).toEqual(['a', 'b', 'd']);
    });
  });
});
