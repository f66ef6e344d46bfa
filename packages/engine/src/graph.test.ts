import type { TaskSpec, TriggerSpec } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { buildFlowGraph, GRAPH_TYPES } from './graph.js';
import type { FlowGraph, GraphCluster, GraphTaskNode } from './graph.js';

const FLOW = 'io.kestra.plugin.core.flow.';
const log = (id: string, extra: Record<string, unknown> = {}): TaskSpec => ({ id, type: 'io.kestra.plugin.core.log.Log', message: id, ...extra });
const flowable = (kind: string, id: string, properties: Record<string, unknown>): TaskSpec => ({ id, type: `${FLOW}${kind}`, ...properties });

/** Edges as `source -> target RELATION:value`, relation and value left out when absent. */
function edges(graph: FlowGraph): string[] {
  return graph.edges.map((e) => {
    const relation = [e.relation.relationType, e.relation.value].filter((x) => x !== undefined).join(':');
    return `${e.source} -> ${e.target}${relation ? ` ${relation}` : ''}`;
  });
}

function cluster(graph: FlowGraph, uid: string): GraphCluster {
  const found = graph.clusters.find((c) => c.cluster.uid === uid);
  if (!found) throw new Error(`no cluster ${uid}: ${graph.clusters.map((c) => c.cluster.uid).join(', ')}`);
  return found;
}

function taskNode(graph: FlowGraph, uid: string): GraphTaskNode {
  const found = graph.nodes.find((n) => n.uid === uid);
  if (!found || found.type !== GRAPH_TYPES.task) throw new Error(`no task node ${uid}`);
  return found as GraphTaskNode;
}

/** Every edge joins two nodes of the graph; every uid is unique; every cluster member is a node or a cluster. */
function expectConsistent(graph: FlowGraph): void {
  const uids = graph.nodes.map((n) => n.uid);
  expect(new Set(uids).size).toBe(uids.length);
  const nodes = new Set(uids);
  const clusters = new Set(graph.clusters.map((c) => c.cluster.uid));
  expect(clusters.size).toBe(graph.clusters.length);
  for (const e of graph.edges) {
    expect(nodes.has(e.source), e.source).toBe(true);
    expect(nodes.has(e.target), e.target).toBe(true);
  }
  for (const c of graph.clusters) {
    expect(nodes.has(c.start) && nodes.has(c.end)).toBe(true);
    for (const member of c.nodes) expect(nodes.has(member) || clusters.has(member), member).toBe(true);
    for (const parent of c.parents) expect(clusters.has(parent), parent).toBe(true);
  }
}

describe('buildFlowGraph', () => {
  it('a flat flow: root, tasks in sequence, end; Kestra type names; the task as declared', () => {
    const graph = buildFlowGraph({ tasks: [log('a'), log('b', { disabled: true }), log('c')] });
    expect(graph.nodes.map((n) => [n.uid, n.type])).toEqual([
      ['root._root', GRAPH_TYPES.root],
      ['root._end', GRAPH_TYPES.end],
      ['root.a', GRAPH_TYPES.task],
      ['root.b', GRAPH_TYPES.task],
      ['root.c', GRAPH_TYPES.task],
    ]);
    expect(GRAPH_TYPES.task).toBe('io.kestra.core.models.hierarchies.GraphTask');
    expect(edges(graph)).toEqual(['root._root -> root.a', 'root.a -> root.b SEQUENTIAL', 'root.b -> root.c SEQUENTIAL', 'root.c -> root._end']);
    expect(taskNode(graph, 'root.a')).toEqual({ uid: 'root.a', type: GRAPH_TYPES.task, task: log('a'), relationType: 'SEQUENTIAL' });
    // Disabled tasks are shown, their flag in the task as Kestra has it.
    expect(taskNode(graph, 'root.b').task).toMatchObject({ id: 'b', disabled: true });
    expect(graph.clusters).toEqual([]);
    expectConsistent(graph);
  });

  it('flow errors start from the root with ERROR edges and are marked branchType ERROR', () => {
    const graph = buildFlowGraph({ tasks: [log('a')], errors: [log('e1'), log('e2')] });
    expect(edges(graph)).toEqual([
      'root._root -> root.a',
      'root.a -> root._end',
      'root._root -> root.e1 ERROR',
      'root.e1 -> root.e2 ERROR',
      'root.e2 -> root._end',
    ]);
    expect(taskNode(graph, 'root.e1')).toMatchObject({ relationType: 'ERROR', branchType: 'ERROR' });
    expect(taskNode(graph, 'root.a')).not.toHaveProperty('branchType');
    expectConsistent(graph);
  });

  it('triggers are nodes of a Triggers cluster whose end leads to the flow root', () => {
    const triggers: TriggerSpec[] = [
      { id: 'daily', type: 'io.kestra.plugin.core.trigger.Schedule', cron: '0 0 * * *' },
      { id: 'hourly', type: 'io.kestra.plugin.core.trigger.Schedule', cron: '0 * * * *', disabled: true },
    ];
    const graph = buildFlowGraph({ tasks: [log('a')], triggers });
    expect(graph.nodes.filter((n) => n.type === GRAPH_TYPES.trigger)).toEqual([
      { uid: 'root.Triggers.daily', type: GRAPH_TYPES.trigger, triggerDeclaration: triggers[0] },
      { uid: 'root.Triggers.hourly', type: GRAPH_TYPES.trigger, triggerDeclaration: triggers[1] },
    ]);
    expect(graph.clusters).toEqual([
      {
        cluster: { uid: 'cluster_root.Triggers', type: GRAPH_TYPES.cluster },
        nodes: ['root.Triggers._root', 'root.Triggers._end', 'root.Triggers.daily', 'root.Triggers.hourly'],
        parents: [],
        start: 'root.Triggers._root',
        end: 'root.Triggers._end',
      },
    ]);
    expect(edges(graph)).toEqual([
      'root.Triggers._root -> root.Triggers.daily',
      'root.Triggers.daily -> root.Triggers._end',
      'root.Triggers._root -> root.Triggers.hourly',
      'root.Triggers.hourly -> root.Triggers._end',
      'root.Triggers._end -> root._root',
      'root._root -> root.a',
      'root.a -> root._end',
    ]);
    expectConsistent(graph);
  });

  it('Sequential: a SEQUENTIAL cluster (root, task node, children, end) between its neighbours', () => {
    const graph = buildFlowGraph({ tasks: [log('before'), flowable('Sequential', 'seq', { tasks: [log('s1'), log('s2')] }), log('after')] });
    expect(edges(graph)).toEqual([
      'root._root -> root.before',
      'root.before -> root.seq._root SEQUENTIAL',
      'root.seq._root -> root.seq',
      'root.seq -> root.seq.s1 SEQUENTIAL',
      'root.seq.s1 -> root.seq.s2 SEQUENTIAL',
      'root.seq.s2 -> root.seq._end',
      'root.seq._end -> root.after SEQUENTIAL',
      'root.after -> root._end',
    ]);
    const seq = cluster(graph, 'cluster_root.seq');
    expect(seq).toMatchObject({
      cluster: { type: GRAPH_TYPES.cluster, relationType: 'SEQUENTIAL', taskNode: { uid: 'root.seq', relationType: 'SEQUENTIAL', task: { id: 'seq' } } },
      nodes: ['root.seq._root', 'root.seq._end', 'root.seq', 'root.seq.s1', 'root.seq.s2'],
      parents: [],
      start: 'root.seq._root',
      end: 'root.seq._end',
    });
    expect(graph.nodes.find((n) => n.uid === 'root.seq._root')?.type).toBe(GRAPH_TYPES.root);
    expect(graph.nodes.find((n) => n.uid === 'root.seq._end')?.type).toBe(GRAPH_TYPES.end);
    expectConsistent(graph);
  });

  it('Parallel: every branch starts from the task node (PARALLEL) and leads to the end', () => {
    const graph = buildFlowGraph({ tasks: [flowable('Parallel', 'par', { concurrent: 2, tasks: [log('p1'), log('p2'), log('p3')] })] });
    expect(edges(graph)).toEqual([
      'root._root -> root.par._root',
      'root.par._root -> root.par',
      'root.par -> root.par.p1 PARALLEL',
      'root.par.p1 -> root.par._end',
      'root.par -> root.par.p2 PARALLEL',
      'root.par.p2 -> root.par._end',
      'root.par -> root.par.p3 PARALLEL',
      'root.par.p3 -> root.par._end',
      'root.par._end -> root._end',
    ]);
    expect(cluster(graph, 'cluster_root.par').cluster.relationType).toBe('PARALLEL');
    expect(taskNode(graph, 'root.par.p1').relationType).toBe('PARALLEL');
    expectConsistent(graph);
  });

  it('If: then and else are CHOICE branches with their name as value', () => {
    const graph = buildFlowGraph({
      tasks: [flowable('If', 'check', { condition: '{{ inputs.x }}', then: [log('t1'), log('t2')], else: [log('e1')] })],
    });
    expect(edges(graph)).toEqual([
      'root._root -> root.check._root',
      'root.check._root -> root.check',
      'root.check -> root.check.t1 CHOICE:then',
      'root.check.t1 -> root.check.t2 SEQUENTIAL:then',
      'root.check.t2 -> root.check._end',
      'root.check -> root.check.e1 CHOICE:else',
      'root.check.e1 -> root.check._end',
      'root.check._end -> root._end',
    ]);
    expect(cluster(graph, 'cluster_root.check').cluster).toMatchObject({ relationType: 'CHOICE', taskNode: { relationType: 'CHOICE' } });
    expectConsistent(graph);
  });

  it('Switch: one CHOICE branch per case key, then defaults', () => {
    const graph = buildFlowGraph({
      tasks: [flowable('Switch', 'sw', { value: '{{ inputs.x }}', cases: { A: [log('a1')], B: [log('b1'), log('b2')] }, defaults: [log('d1')] })],
    });
    expect(edges(graph)).toEqual([
      'root._root -> root.sw._root',
      'root.sw._root -> root.sw',
      'root.sw -> root.sw.a1 CHOICE:A',
      'root.sw.a1 -> root.sw._end',
      'root.sw -> root.sw.b1 CHOICE:B',
      'root.sw.b1 -> root.sw.b2 SEQUENTIAL:B',
      'root.sw.b2 -> root.sw._end',
      'root.sw -> root.sw.d1 CHOICE:defaults',
      'root.sw.d1 -> root.sw._end',
      'root.sw._end -> root._end',
    ]);
    expectConsistent(graph);
  });

  it('ForEach, EachSequential and EachParallel are DYNAMIC clusters: every edge inside is DYNAMIC', () => {
    for (const [kind, values] of [
      ['ForEach', { values: ['x', 'y'] }],
      ['EachSequential', { value: ['x', 'y'] }],
      ['EachParallel', { value: ['x', 'y'] }],
    ] as const) {
      const graph = buildFlowGraph({ tasks: [flowable(kind, 'loop', { ...values, tasks: [log('l1'), log('l2')] })] });
      expect(cluster(graph, 'cluster_root.loop').cluster.relationType, kind).toBe('DYNAMIC');
      // The edges from the loop's node and between its children (not the structural ones into its root and end).
      const inside = graph.edges.filter((e) => e.target.startsWith('root.loop.l'));
      expect(inside.length, kind).toBeGreaterThan(0);
      for (const e of inside) expect(e.relation.relationType, `${kind} ${e.source} -> ${e.target}`).toBe('DYNAMIC');
      if (kind === 'EachParallel') {
        // Each child starts from the loop's node and leads to the end.
        expect(edges(graph)).toContain('root.loop -> root.loop.l2 DYNAMIC');
        expect(edges(graph)).toContain('root.loop.l1 -> root.loop._end');
      } else {
        expect(edges(graph)).toContain('root.loop.l1 -> root.loop.l2 DYNAMIC');
        expect(edges(graph)).not.toContain('root.loop.l1 -> root.loop._end');
      }
      expectConsistent(graph);
    }
  });

  it('Dag: edges follow dependsOn (PARALLEL); tasks depending on nothing start from the Dag, those nothing depends on lead to the end', () => {
    const graph = buildFlowGraph({
      tasks: [
        flowable('Dag', 'dag', {
          tasks: [
            { task: log('extract'), dependsOn: [] },
            { task: log('transform_a'), dependsOn: ['extract'] },
            { task: log('transform_b'), dependsOn: ['extract'] },
            { task: log('load'), dependsOn: ['transform_a', 'transform_b'] },
            { task: log('audit') },
          ],
        }),
      ],
    });
    expect(edges(graph)).toEqual([
      'root._root -> root.dag._root',
      'root.dag._root -> root.dag',
      'root.dag -> root.dag.extract PARALLEL',
      'root.dag.extract -> root.dag.transform_a PARALLEL',
      'root.dag.extract -> root.dag.transform_b PARALLEL',
      'root.dag.transform_a -> root.dag.load PARALLEL',
      'root.dag.transform_b -> root.dag.load PARALLEL',
      'root.dag -> root.dag.audit PARALLEL',
      'root.dag.load -> root.dag._end',
      'root.dag.audit -> root.dag._end',
      'root.dag._end -> root._end',
    ]);
    expect(cluster(graph, 'cluster_root.dag')).toMatchObject({
      cluster: { relationType: 'DYNAMIC' },
      nodes: ['root.dag._root', 'root.dag._end', 'root.dag', 'root.dag.extract', 'root.dag.transform_a', 'root.dag.transform_b', 'root.dag.load', 'root.dag.audit'],
    });
    expect(taskNode(graph, 'root.dag.load').task).toEqual(log('load'));
    expectConsistent(graph);
  });

  it('Dag: a dependency that is itself a cluster links from its end; a dependency declared later still links', () => {
    const graph = buildFlowGraph({
      tasks: [
        flowable('Dag', 'dag', {
          tasks: [
            { task: log('last'), dependsOn: ['group'] },
            { task: flowable('Sequential', 'group', { tasks: [log('g1')] }) },
          ],
        }),
      ],
    });
    expect(edges(graph)).toContain('root.dag.group._end -> root.dag.last PARALLEL');
    expect(edges(graph)).toContain('root.dag -> root.dag.group._root PARALLEL');
    expect(edges(graph)).toContain('root.dag.last -> root.dag._end');
    expect(edges(graph)).not.toContain('root.dag.group._end -> root.dag._end');
    expect(cluster(graph, 'cluster_root.dag.group').parents).toEqual(['cluster_root.dag']);
    expectConsistent(graph);
  });

  it('AllowFailure, WorkingDirectory, WaitFor and a legacy Pause with tasks are SEQUENTIAL clusters', () => {
    for (const task of [
      flowable('AllowFailure', 'x', { tasks: [log('c1'), log('c2')] }),
      flowable('WorkingDirectory', 'x', { tasks: [log('c1'), log('c2')] }),
      flowable('WaitFor', 'x', { condition: '{{ false }}', tasks: [log('c1'), log('c2')] }),
      { id: 'x', type: 'io.kestra.core.tasks.flows.Pause', delay: 'PT1S', tasks: [log('c1'), log('c2')] },
      { id: 'x', type: 'io.kestra.core.tasks.flows.Worker', tasks: [log('c1'), log('c2')] },
    ]) {
      const graph = buildFlowGraph({ tasks: [task] });
      expect(cluster(graph, 'cluster_root.x').cluster.relationType, task.type).toBe('SEQUENTIAL');
      expect(edges(graph), task.type).toEqual([
        'root._root -> root.x._root',
        'root.x._root -> root.x',
        'root.x -> root.x.c1 SEQUENTIAL',
        'root.x.c1 -> root.x.c2 SEQUENTIAL',
        'root.x.c2 -> root.x._end',
        'root.x._end -> root._end',
      ]);
      expectConsistent(graph);
    }
  });

  it('a Pause without tasks is a plain task node', () => {
    const graph = buildFlowGraph({ tasks: [flowable('Pause', 'wait', { delay: 'PT1M' }), log('after')] });
    expect(graph.clusters).toEqual([]);
    expect(taskNode(graph, 'root.wait')).toMatchObject({ relationType: 'SEQUENTIAL', task: { id: 'wait' } });
    expect(edges(graph)).toEqual(['root._root -> root.wait', 'root.wait -> root.after SEQUENTIAL', 'root.after -> root._end']);
  });

  it('errors of a flowable start from its cluster root; every node of the branch, nested ones too, is marked ERROR', () => {
    const graph = buildFlowGraph({
      tasks: [
        flowable('Parallel', 'par', {
          tasks: [log('p1')],
          errors: [log('alert'), flowable('Sequential', 'cleanup', { tasks: [log('c1')] })],
        }),
      ],
    });
    expect(edges(graph)).toEqual([
      'root._root -> root.par._root',
      'root.par._root -> root.par',
      'root.par -> root.par.p1 PARALLEL',
      'root.par.p1 -> root.par._end',
      'root.par._root -> root.par.alert ERROR',
      'root.par.alert -> root.par.cleanup._root ERROR',
      'root.par.cleanup._root -> root.par.cleanup',
      'root.par.cleanup -> root.par.cleanup.c1 SEQUENTIAL',
      'root.par.cleanup.c1 -> root.par.cleanup._end',
      'root.par.cleanup._end -> root.par._end',
      'root.par._end -> root._end',
    ]);
    expect(taskNode(graph, 'root.par.alert')).toMatchObject({ relationType: 'ERROR', branchType: 'ERROR' });
    expect(taskNode(graph, 'root.par.cleanup.c1')).toMatchObject({ relationType: 'SEQUENTIAL', branchType: 'ERROR' });
    const cleanup = cluster(graph, 'cluster_root.par.cleanup');
    expect(cleanup).toMatchObject({ cluster: { branchType: 'ERROR', taskNode: { branchType: 'ERROR' } }, parents: ['cluster_root.par'] });
    expect(graph.nodes.find((n) => n.uid === 'root.par.cleanup._root')).toMatchObject({ branchType: 'ERROR' });
    expect(taskNode(graph, 'root.par.p1')).not.toHaveProperty('branchType');
    expect(cluster(graph, 'cluster_root.par').cluster).not.toHaveProperty('branchType');
    expect(cluster(graph, 'cluster_root.par').nodes).toEqual(['root.par._root', 'root.par._end', 'root.par', 'root.par.p1', 'root.par.alert', 'cluster_root.par.cleanup']);
    expectConsistent(graph);
  });

  it('nested flowables: dotted uids, clusters listed outer first with their parents', () => {
    const graph = buildFlowGraph({
      tasks: [
        flowable('Sequential', 'outer', {
          tasks: [flowable('If', 'branch', { condition: 'true', then: [flowable('Parallel', 'fan', { tasks: [log('leaf')] })] })],
        }),
      ],
    });
    expect(graph.clusters.map((c) => [c.cluster.uid, c.parents])).toEqual([
      ['cluster_root.outer', []],
      ['cluster_root.outer.branch', ['cluster_root.outer']],
      ['cluster_root.outer.branch.fan', ['cluster_root.outer', 'cluster_root.outer.branch']],
    ]);
    expect(taskNode(graph, 'root.outer.branch.fan.leaf').task.id).toBe('leaf');
    expect(edges(graph)).toContain('root.outer.branch -> root.outer.branch.fan._root CHOICE:then');
    expect(edges(graph)).toContain('root.outer.branch.fan._end -> root.outer.branch._end');
    expect(cluster(graph, 'cluster_root.outer').nodes).toContain('cluster_root.outer.branch');
    expectConsistent(graph);
  });

  it('a disabled flowable keeps its cluster; old type names work', () => {
    const graph = buildFlowGraph({ tasks: [{ id: 'old', type: 'io.kestra.core.tasks.flows.Parallel', disabled: true, tasks: [log('a')] }] });
    expect(cluster(graph, 'cluster_root.old').cluster.taskNode?.task).toMatchObject({ disabled: true });
    expect(edges(graph)).toContain('root.old -> root.old.a PARALLEL');
  });

  it('a cluster with empty branches still links its task node to its end', () => {
    const graph = buildFlowGraph({ tasks: [flowable('If', 'maybe', { condition: 'x', then: [] })] });
    expect(edges(graph)).toEqual(['root._root -> root.maybe._root', 'root.maybe._root -> root.maybe', 'root.maybe -> root.maybe._end', 'root.maybe._end -> root._end']);
  });

  it('uids stay unique and deterministic when ids repeat (which validation refuses)', () => {
    const flow = { tasks: [flowable('If', 'i', { condition: 'x', then: [log('a')], else: [log('a')] }), log('i')] };
    const graph = buildFlowGraph(flow);
    expect(graph.nodes.map((n) => n.uid)).toEqual(['root._root', 'root._end', 'root.i._root', 'root.i._end', 'root.i', 'root.i.a', 'root.i.a~2', 'root.i~2']);
    expect(buildFlowGraph(flow)).toEqual(graph);
    expectConsistent(graph);
  });

  it('a flow with no tasks links its root to its end', () => {
    expect(edges(buildFlowGraph({ tasks: [] }))).toEqual(['root._root -> root._end']);
  });
});

describe('buildFlowGraph: finally', () => {
  it("shows the flow's and a flowable's finally tasks", () => {
    const graph = buildFlowGraph({
      tasks: [{ id: 'seq', type: 'io.kestra.plugin.core.flow.Sequential', tasks: [{ id: 'a', type: 'io.kestra.plugin.core.log.Log' }], finally: [{ id: 'inner_f', type: 'io.kestra.plugin.core.log.Log' }] }],
      finally: [{ id: 'flow_f', type: 'io.kestra.plugin.core.log.Log' }],
    } as never);
    const ids = graph.nodes.flatMap((n) => ('task' in n && n.task ? [(n.task as { id: string }).id] : []));
    expect(ids).toEqual(expect.arrayContaining(['inner_f', 'flow_f']));
  });
});

describe('buildFlowGraph: afterExecution', () => {
  it("shows the flow's afterExecution tasks in a sequence of their own", () => {
    const graph = buildFlowGraph({ tasks: [{ id: 'a', type: 'io.kestra.plugin.core.log.Log' }], afterExecution: [{ id: 'x', type: 'io.kestra.plugin.core.log.Log' }, { id: 'y', type: 'io.kestra.plugin.core.log.Log' }] } as never);
    const ids = graph.nodes.flatMap((n) => ('task' in n && n.task ? [(n.task as { id: string }).id] : []));
    expect(ids).toEqual(['a', 'x', 'y']);
    expect(edges(graph)).toEqual(expect.arrayContaining(['root._root -> root.x', 'root.x -> root.y SEQUENTIAL', 'root.y -> root._end']));
  });
});
