import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowYaml, startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const api = await startApi({ databasePrefix: 'sluice_api_graph' });

interface Graph {
  nodes: { uid: string; type: string; task?: { id: string; type: string; disabled?: boolean }; relationType?: string; branchType?: string; triggerDeclaration?: { id: string } }[];
  edges: { source: string; target: string; relation: { relationType?: string; value?: string } }[];
  clusters: { cluster: { uid: string; type: string; relationType?: string; taskNode?: { uid: string } }; nodes: string[]; parents: string[]; start: string; end: string }[];
}

const H = 'io.kestra.core.models.hierarchies.';

/** Parallel with an If inside, errors on the Parallel and on the flow, a disabled task, a trigger. */
const FLOW = `id: topology
namespace: company.graph
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: check
        type: io.kestra.plugin.core.flow.If
        condition: "{{ true }}"
        then:
          - id: yes
            type: io.kestra.plugin.core.log.Log
            message: "yes"
        else:
          - id: no
            type: io.kestra.plugin.core.log.Log
            message: "no"
      - id: side
        type: io.kestra.plugin.core.log.Log
        message: side
        disabled: true
    errors:
      - id: alert
        type: io.kestra.plugin.core.log.Log
        message: fan failed
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: done
errors:
  - id: notify
    type: io.kestra.plugin.core.log.Log
    message: flow failed
`;

/** WorkingDirectory with its errors. */
const WORKING_DIRECTORY = `id: workdir
namespace: company.graph
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: first
        type: io.kestra.plugin.core.log.Log
        message: one
      - id: second
        type: io.kestra.plugin.core.log.Log
        message: two
    errors:
      - id: wd_failed
        type: io.kestra.plugin.core.log.Log
        message: failed
`;

const edge = (g: Graph, source: string, target: string): Graph['edges'][number] | undefined => g.edges.find((e) => e.source === source && e.target === target);

describe.skipIf(!api)('GET /api/v1/flows/{namespace}/{id}/graph', () => {
  let a: ApiFixture;
  beforeAll(async () => {
    a = api!;
    // Revision 1: one Log task; revision 2: the flow above.
    expect((await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('company.graph', 'topology') })).status).toBe(200);
    const updated = await a.fetch('/api/v1/flows/company.graph/topology', { method: 'PUT', headers: YAML, body: FLOW });
    expect(updated.status, await updated.clone().text()).toBe(200);
    const wd = await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: WORKING_DIRECTORY });
    expect(wd.status, await wd.clone().text()).toBe(200);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('returns the latest revision as nodes, edges and clusters: Parallel, If branches, errors, triggers', async () => {
    const response = await a.fetch('/api/v1/flows/company.graph/topology/graph');
    expect(response.status).toBe(200);
    const g = (await response.json()) as Graph;

    const types = new Map(g.nodes.map((n) => [n.uid, n.type]));
    expect(new Set(g.nodes.map((n) => n.uid)).size).toBe(g.nodes.length);
    expect(types.get('root._root')).toBe(`${H}GraphClusterRoot`);
    expect(types.get('root._end')).toBe(`${H}GraphClusterEnd`);
    expect(types.get('root.Triggers.nightly')).toBe(`${H}GraphTrigger`);
    for (const uid of ['root.fan', 'root.fan.check', 'root.fan.check.yes', 'root.fan.check.no', 'root.fan.side', 'root.fan.alert', 'root.done', 'root.notify']) {
      expect(types.get(uid), uid).toBe(`${H}GraphTask`);
    }
    const node = (uid: string): Graph['nodes'][number] => g.nodes.find((n) => n.uid === uid)!;
    expect(node('root.fan').task).toMatchObject({ id: 'fan', type: 'io.kestra.plugin.core.flow.Parallel' });
    expect(node('root.fan.side').task).toMatchObject({ id: 'side', disabled: true });
    expect(node('root.fan.alert')).toMatchObject({ relationType: 'ERROR', branchType: 'ERROR' });
    expect(node('root.notify')).toMatchObject({ relationType: 'ERROR', branchType: 'ERROR' });
    expect(node('root.Triggers.nightly').triggerDeclaration).toMatchObject({ id: 'nightly', cron: '0 2 * * *' });

    expect(g.clusters.map((c) => [c.cluster.uid, c.cluster.relationType, c.parents])).toEqual([
      ['cluster_root.Triggers', undefined, []],
      ['cluster_root.fan', 'PARALLEL', []],
      ['cluster_root.fan.check', 'CHOICE', ['cluster_root.fan']],
    ]);
    const fan = g.clusters.find((c) => c.cluster.uid === 'cluster_root.fan')!;
    expect(fan).toMatchObject({ cluster: { type: `${H}GraphCluster`, taskNode: { uid: 'root.fan' } }, start: 'root.fan._root', end: 'root.fan._end' });
    expect(fan.nodes).toEqual(['root.fan._root', 'root.fan._end', 'root.fan', 'cluster_root.fan.check', 'root.fan.side', 'root.fan.alert']);

    expect(edge(g, 'root.Triggers._end', 'root._root')?.relation).toEqual({});
    expect(edge(g, 'root._root', 'root.fan._root')?.relation).toEqual({});
    expect(edge(g, 'root.fan', 'root.fan.check._root')?.relation).toEqual({ relationType: 'PARALLEL' });
    expect(edge(g, 'root.fan', 'root.fan.side')?.relation).toEqual({ relationType: 'PARALLEL' });
    expect(edge(g, 'root.fan.check', 'root.fan.check.yes')?.relation).toEqual({ relationType: 'CHOICE', value: 'then' });
    expect(edge(g, 'root.fan.check', 'root.fan.check.no')?.relation).toEqual({ relationType: 'CHOICE', value: 'else' });
    expect(edge(g, 'root.fan.check._end', 'root.fan._end')).toBeDefined();
    expect(edge(g, 'root.fan._root', 'root.fan.alert')?.relation).toEqual({ relationType: 'ERROR' });
    expect(edge(g, 'root.fan._end', 'root.done')?.relation).toEqual({ relationType: 'SEQUENTIAL' });
    expect(edge(g, 'root.done', 'root._end')).toBeDefined();
    expect(edge(g, 'root._root', 'root.notify')?.relation).toEqual({ relationType: 'ERROR' });
    const uids = new Set(g.nodes.map((n) => n.uid));
    for (const e of g.edges) expect(uids.has(e.source) && uids.has(e.target), `${e.source} -> ${e.target}`).toBe(true);
  });

  it('?revision=N returns that revision\'s graph', async () => {
    const response = await a.fetch('/api/v1/flows/company.graph/topology/graph?revision=1');
    expect(response.status).toBe(200);
    const g = (await response.json()) as Graph;
    expect(g.nodes.map((n) => n.uid)).toEqual(['root._root', 'root._end', 'root.log']);
    expect(g.edges.map((e) => `${e.source} -> ${e.target}`)).toEqual(['root._root -> root.log', 'root.log -> root._end']);
    expect(g.clusters).toEqual([]);
  });

  it('a WorkingDirectory is a SEQUENTIAL cluster with its errors branch', async () => {
    const g = (await (await a.fetch('/api/v1/flows/company.graph/workdir/graph')).json()) as Graph;
    expect(g.clusters.map((c) => [c.cluster.uid, c.cluster.relationType])).toEqual([['cluster_root.wd', 'SEQUENTIAL']]);
    expect(edge(g, 'root.wd', 'root.wd.first')?.relation).toEqual({ relationType: 'SEQUENTIAL' });
    expect(edge(g, 'root.wd.first', 'root.wd.second')?.relation).toEqual({ relationType: 'SEQUENTIAL' });
    expect(edge(g, 'root.wd._root', 'root.wd.wd_failed')?.relation).toEqual({ relationType: 'ERROR' });
    expect(g.nodes.find((n) => n.uid === 'root.wd.wd_failed')).toMatchObject({ branchType: 'ERROR' });
  });

  it('Switch, ForEach and Dag flows as Kestra writes them: CHOICE and DYNAMIC clusters, Dag edges along dependsOn', async () => {
    const source = `id: kinds
namespace: company.graph
tasks:
  - id: route
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ 'a' }}"
    cases:
      a:
        - id: in_a
          type: io.kestra.plugin.core.log.Log
          message: a
    defaults:
      - id: otherwise
        type: io.kestra.plugin.core.log.Log
        message: other
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - id: each
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: extract
          type: io.kestra.plugin.core.log.Log
          message: extract
      - task:
          id: load
          type: io.kestra.plugin.core.log.Log
          message: load
        dependsOn:
          - extract
`;
    const created = await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: source });
    expect(created.status, await created.clone().text()).toBe(200);
    const g = (await (await a.fetch('/api/v1/flows/company.graph/kinds/graph')).json()) as Graph;
    expect(g.clusters.map((c) => [c.cluster.uid, c.cluster.relationType])).toEqual([
      ['cluster_root.route', 'CHOICE'],
      ['cluster_root.loop', 'DYNAMIC'],
      ['cluster_root.dag', 'DYNAMIC'],
    ]);
    expect(edge(g, 'root.route', 'root.route.in_a')?.relation).toEqual({ relationType: 'CHOICE', value: 'a' });
    expect(edge(g, 'root.route', 'root.route.otherwise')?.relation).toEqual({ relationType: 'CHOICE', value: 'defaults' });
    expect(edge(g, 'root.loop', 'root.loop.each')?.relation).toEqual({ relationType: 'DYNAMIC' });
    expect(edge(g, 'root.dag', 'root.dag.extract')?.relation).toEqual({ relationType: 'PARALLEL' });
    expect(edge(g, 'root.dag.extract', 'root.dag.load')?.relation).toEqual({ relationType: 'PARALLEL' });
    expect(edge(g, 'root.dag', 'root.dag.load')).toBeUndefined();
  });

  it('404 with the JSON error for an unknown flow or revision; 400 for a bad revision or id', async () => {
    const unknown = await a.fetch('/api/v1/flows/company.graph/nope/graph');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND', details: { namespace: 'company.graph', id: 'nope' } });

    const revision = await a.fetch('/api/v1/flows/company.graph/topology/graph?revision=99');
    expect(revision.status).toBe(404);
    expect(await revision.json()).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND', details: { namespace: 'company.graph', id: 'topology', revision: 99 } });

    const bad = await a.fetch('/api/v1/flows/company.graph/topology/graph?revision=zero');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });
    const badId = await a.fetch('/api/v1/flows/company.graph/bad%20id/graph');
    expect(badId.status).toBe(400);
    expect(await badId.json()).toMatchObject({ code: 'SLU_FLOW_INVALID_ID' });
  });

  it('is in the OpenAPI document', async () => {
    const spec = (await (await a.fetch('/docs/json')).json()) as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };
    const operation = spec.paths['/api/v1/flows/{namespace}/{id}/graph']?.get;
    expect(operation).toBeDefined();
    expect(operation!.parameters?.map((p) => `${p.in}:${p.name}`).sort()).toEqual(['path:id', 'path:namespace', 'query:revision']);
  });
});
