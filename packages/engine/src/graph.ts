/**
 * A flow's topology, in the JSON shape of Kestra's `GET /api/v1/flows/{namespace}/{id}/graph` (Kestra's `FlowGraph`),
 * for a web UI: `nodes`, `edges` and `clusters`. Pure: the flow in, the graph out, the same graph for the same flow.
 *
 * - Nodes: `GraphClusterRoot` / `GraphClusterEnd` (where a cluster, or the flow, starts and ends), `GraphTask` (a task,
 *   with `task` as declared, `disabled` included, and `relationType`), `GraphTrigger` (a trigger, with
 *   `triggerDeclaration`). Type names are Kestra's class names (`io.kestra.core.models.hierarchies.*`).
 * - Every flowable task with child tasks is a cluster: its root, its task node, its children and its end. The flow
 *   itself is the outer level (not listed in `clusters`, as in Kestra); its triggers are one cluster `Triggers` whose
 *   end leads to the flow's root.
 * - Edges carry a relation: `SEQUENTIAL` (one task after another), `PARALLEL` (Parallel's branches, a Dag's
 *   dependencies), `CHOICE` with the branch in `value` (If: `then`/`else`; Switch: the case key or `defaults`), `ERROR`
 *   (an `errors` branch, which starts from the cluster's root, or the flow's), `DYNAMIC` (inside loops: ForEach,
 *   EachSequential, EachParallel, and a Dag). The first edge into a list takes its cluster's relation, as Kestra does;
 *   edges that only close a cluster (into its end) or join the triggers carry an empty relation `{}`.
 * - uids are dotted paths of task ids under `root` (`root.parallel.t1`); a cluster is `cluster_<path>`, its root and
 *   end `<path>._root` and `<path>._end`. Task ids never start with `_`, so these never collide with a task.
 *
 * Where Sluice differs from Kestra, deliberately:
 * - uids are deterministic (Kestra's cluster roots and ends end with a random id); a uid that would repeat (two tasks
 *   with one id under one parent, which validation refuses) gets `~2`, `~3`, ... so uids stay unique.
 * - `branchType: 'ERROR'` is set on every node and cluster of an `errors` branch, nested ones included (Kestra marks
 *   the branch's first level only).
 * - A flowable with no child list at all (a Pause without `tasks`) is a plain task node, not an empty cluster; a
 *   cluster whose main lists are all empty links its task node to its end, so the graph stays connected.
 * - A Dag task with `dependsOn: []` starts from the Dag, like one without `dependsOn` (Kestra leaves it unlinked).
 * - WaitFor is a SEQUENTIAL cluster, as in Kestra (its loop is not drawn), not DYNAMIC.
 * - `finally` and `afterExecution` are SEQUENTIAL lists of their own in their scope, linked like a branch; no task
 *   runs (this is the flow's graph, not an execution's), no subflow expansion.
 */
import type { TaskSpec, TriggerSpec } from '@sluice/core';
import { childLists, dagEntries, flowableKind } from './flowables.js';
import type { ChildList, DagEntry, FlowableKind } from './flowables.js';

const HIERARCHIES = 'io.kestra.core.models.hierarchies.';

/** The `type` of each node and cluster: Kestra's class names. */
export const GRAPH_TYPES = {
  task: `${HIERARCHIES}GraphTask`,
  root: `${HIERARCHIES}GraphClusterRoot`,
  end: `${HIERARCHIES}GraphClusterEnd`,
  trigger: `${HIERARCHIES}GraphTrigger`,
  cluster: `${HIERARCHIES}GraphCluster`,
} as const;

export type GraphRelationType = 'SEQUENTIAL' | 'PARALLEL' | 'CHOICE' | 'ERROR' | 'DYNAMIC';
export type GraphBranchType = 'ERROR';

export interface GraphRelation {
  readonly relationType?: GraphRelationType;
  /** The branch of a CHOICE (and of the edges after it in that branch): `then`, `else`, a case key, `defaults`. */
  readonly value?: string;
}

export interface GraphEdge {
  readonly source: string;
  readonly target: string;
  readonly relation: GraphRelation;
}

export interface GraphTaskNode {
  readonly uid: string;
  readonly type: typeof GRAPH_TYPES.task;
  /** The task as declared (its child tasks included, as Kestra shows it). */
  readonly task: TaskSpec;
  /** The list's relation for a plain task (SEQUENTIAL, PARALLEL, ERROR); the cluster's for a flowable's own node. */
  readonly relationType: GraphRelationType;
  readonly branchType?: GraphBranchType;
}

export interface GraphBoundaryNode {
  readonly uid: string;
  readonly type: typeof GRAPH_TYPES.root | typeof GRAPH_TYPES.end;
  readonly branchType?: GraphBranchType;
}

export interface GraphTriggerNode {
  readonly uid: string;
  readonly type: typeof GRAPH_TYPES.trigger;
  readonly triggerDeclaration: TriggerSpec;
}

export type GraphNode = GraphTaskNode | GraphBoundaryNode | GraphTriggerNode;

export interface GraphClusterNode {
  readonly uid: string;
  readonly type: typeof GRAPH_TYPES.cluster;
  /** The flowable's relation (absent for `Triggers`). */
  readonly relationType?: GraphRelationType;
  /** The flowable's own node (absent for `Triggers`). */
  readonly taskNode?: GraphTaskNode;
  readonly branchType?: GraphBranchType;
}

export interface GraphCluster {
  readonly cluster: GraphClusterNode;
  /** uids of the cluster's own nodes (root, end, task node, children) and of the clusters directly inside it. */
  readonly nodes: readonly string[];
  /** uids of the enclosing clusters, outermost first. */
  readonly parents: readonly string[];
  /** uid of the cluster's root node. */
  readonly start: string;
  /** uid of the cluster's end node. */
  readonly end: string;
}

export interface FlowGraph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  /** Outer clusters before the clusters inside them. */
  readonly clusters: readonly GraphCluster[];
}

/** What the graph reads of a flow. */
export interface GraphFlow {
  readonly tasks?: readonly TaskSpec[];
  readonly errors?: readonly TaskSpec[];
  readonly finally?: readonly TaskSpec[];
  readonly afterExecution?: readonly TaskSpec[];
  readonly triggers?: readonly TriggerSpec[];
}

/** The relation of the cluster a flowable kind draws. */
const CLUSTER_RELATION: Readonly<Record<FlowableKind, GraphRelationType>> = {
  Sequential: 'SEQUENTIAL',
  Parallel: 'PARALLEL',
  If: 'CHOICE',
  Switch: 'CHOICE',
  ForEach: 'DYNAMIC',
  EachSequential: 'DYNAMIC',
  EachParallel: 'DYNAMIC',
  ForEachItem: 'SEQUENTIAL',
  AllowFailure: 'SEQUENTIAL',
  Dag: 'DYNAMIC',
  Pause: 'SEQUENTIAL',
  WaitFor: 'SEQUENTIAL',
  WorkingDirectory: 'SEQUENTIAL',
};

type ListRelation = 'SEQUENTIAL' | 'PARALLEL' | 'ERROR';

/** One level being filled: the flow or a cluster. */
interface Scope {
  /** uid prefix of what it holds. */
  readonly path: string;
  readonly root: string;
  readonly end: string;
  /** Where main lists start: the flowable's node, or the flow's root. */
  readonly entry: string;
  /** The cluster's relation; undefined for the flow. */
  readonly relationType: GraphRelationType | undefined;
  /** The cluster's `nodes`. */
  readonly members: string[];
  /** Cluster uids from the outermost down to this one: the `parents` of clusters inside it. */
  readonly parents: readonly string[];
  /** Inside an `errors` branch. */
  readonly error: boolean;
}

/** Where edges into and out of a placed task attach: the task's node, or its cluster's root and end. */
interface Placed {
  readonly in: string;
  readonly out: string;
}

const asList = <T>(value: readonly T[] | undefined): readonly T[] => (Array.isArray(value) ? value : []);

class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly edges: GraphEdge[] = [];
  readonly clusters: GraphCluster[] = [];
  private readonly used = new Set<string>();

  /** `base`, or `base~2`, `base~3`, ... when taken. */
  unique(base: string): string {
    let uid = base;
    for (let n = 2; this.used.has(uid); n++) uid = `${base}~${n}`;
    this.used.add(uid);
    return uid;
  }

  edge(source: string, target: string, relationType?: GraphRelationType, value?: string): void {
    const relation: GraphRelation = { ...(relationType === undefined ? {} : { relationType }), ...(value === undefined ? {} : { value }) };
    this.edges.push({ source, target, relation });
  }

  boundary(path: string, which: 'root' | 'end', error: boolean): string {
    const uid = this.unique(`${path}._${which}`);
    this.nodes.push({ uid, type: GRAPH_TYPES[which], ...(error ? { branchType: 'ERROR' as const } : {}) });
    return uid;
  }

  flow(flow: GraphFlow): void {
    this.used.add('root');
    const root = this.boundary('root', 'root', false);
    const end = this.boundary('root', 'end', false);
    const scope: Scope = { path: 'root', root, end, entry: root, relationType: undefined, members: [], parents: [], error: false };
    const triggers = asList(flow.triggers).filter((t) => typeof t === 'object' && t !== null);
    if (triggers.length > 0) this.triggers(scope, triggers);
    if (!this.list(scope, asList(flow.tasks), 'SEQUENTIAL')) this.edge(root, end);
    this.list(scope, asList(flow.errors), 'ERROR');
    // Kestra 0.24's `finally`: shown as a sequence of its own, like a branch of the cluster.
    this.list(scope, asList(flow.finally), 'SEQUENTIAL');
    // Kestra 0.24's `afterExecution`: after the execution's end, in a sequence of its own too.
    this.list(scope, asList(flow.afterExecution), 'SEQUENTIAL');
  }

  /** The `Triggers` cluster: each trigger between its root and its end, which leads to the flow's root. */
  private triggers(flow: Scope, triggers: readonly TriggerSpec[]): void {
    const path = this.unique(`${flow.path}.Triggers`);
    const uid = `cluster_${path}`;
    const root = this.boundary(path, 'root', false);
    const end = this.boundary(path, 'end', false);
    const members = [root, end];
    this.clusters.push({ cluster: { uid, type: GRAPH_TYPES.cluster }, nodes: members, parents: [...flow.parents], start: root, end });
    flow.members.push(uid);
    for (const trigger of triggers) {
      const node = this.unique(`${path}.${String(trigger.id)}`);
      this.nodes.push({ uid: node, type: GRAPH_TYPES.trigger, triggerDeclaration: trigger });
      members.push(node);
      this.edge(root, node);
      this.edge(node, end);
    }
    this.edge(end, flow.root);
  }

  /**
   * One list of tasks in a scope. A sequential list (and an errors list) chains its tasks and its last one leads to
   * the scope's end; a parallel list starts every task from the entry and leads each to the end. False when empty.
   */
  private list(scope: Scope, tasks: readonly TaskSpec[], relation: ListRelation, value?: string): boolean {
    let previous = relation === 'ERROR' ? scope.root : scope.entry;
    let last: Placed | undefined;
    tasks.forEach((task, index) => {
      let edgeRelation: GraphRelationType | undefined;
      if (relation === 'ERROR') edgeRelation = 'ERROR';
      else if (index === 0 || relation === 'PARALLEL' || scope.relationType === 'DYNAMIC') edgeRelation = scope.relationType;
      else edgeRelation = relation;
      const from = previous;
      const placed = this.task(scope, task, relation, scope.error || relation === 'ERROR', (target) => this.edge(from, target, edgeRelation, value));
      if (relation === 'PARALLEL') this.edge(placed.out, scope.end);
      else previous = placed.out;
      last = placed;
    });
    if (last && relation !== 'PARALLEL') this.edge(last.out, scope.end);
    return last !== undefined;
  }

  /**
   * A task node, or for a flowable with children its cluster (which comes before the clusters inside it). `enter`
   * draws the edge into it, before the edges inside a cluster.
   */
  private task(scope: Scope, task: TaskSpec, relation: ListRelation, error: boolean, enter?: (target: string) => void): Placed {
    const path = this.unique(`${scope.path}.${String(task.id)}`);
    const branch = error ? { branchType: 'ERROR' as const } : {};
    const kind = flowableKind(String(task.type));
    const lists = kind ? childLists(task) : [];
    if (!kind || lists.length === 0) {
      this.nodes.push({ uid: path, type: GRAPH_TYPES.task, task, relationType: relation, ...branch });
      scope.members.push(path);
      enter?.(path);
      return { in: path, out: path };
    }

    const relationType = CLUSTER_RELATION[kind];
    const uid = `cluster_${path}`;
    const root = this.boundary(path, 'root', error);
    const end = this.boundary(path, 'end', error);
    const taskNode: GraphTaskNode = { uid: path, type: GRAPH_TYPES.task, task, relationType, ...branch };
    this.nodes.push(taskNode);
    const members = [root, end, path];
    this.clusters.push({ cluster: { uid, type: GRAPH_TYPES.cluster, relationType, taskNode, ...branch }, nodes: members, parents: [...scope.parents], start: root, end });
    scope.members.push(uid);
    const inner: Scope = { path, root, end, entry: path, relationType, members, parents: [...scope.parents, uid], error };

    enter?.(root);
    this.edge(root, path);
    let connected = false;
    if (kind === 'Dag') {
      connected = this.dag(inner, dagEntries(task));
    } else {
      const listRelation: ListRelation = kind === 'Parallel' || kind === 'EachParallel' ? 'PARALLEL' : 'SEQUENTIAL';
      for (const list of lists) {
        if (list.branch === 'main' && this.list(inner, list.tasks, listRelation, choiceValue(kind, list))) connected = true;
      }
    }
    if (!connected) this.edge(path, end);
    for (const list of lists) if (list.branch === 'errors') this.list(inner, list.tasks, 'ERROR');
    for (const list of lists) if (list.branch === 'finally') this.list(inner, list.tasks, 'SEQUENTIAL');
    return { in: root, out: end };
  }

  /**
   * A Dag's tasks: each starts from the Dag's node when it depends on nothing, else from each task it depends on;
   * the tasks nothing depends on lead to the end. Unknown ids in `dependsOn` are ignored (validation refuses them).
   */
  private dag(scope: Scope, entries: readonly DagEntry[]): boolean {
    const placed = entries.map((entry) => this.task(scope, entry.task, 'SEQUENTIAL', scope.error));
    const byId = new Map<string, Placed>();
    entries.forEach((entry, i) => {
      const id = String(entry.task.id);
      if (!byId.has(id)) byId.set(id, placed[i]!);
    });
    const dependedOn = new Set(entries.flatMap((entry) => entry.dependsOn));
    entries.forEach((entry, i) => {
      const sources = entry.dependsOn.flatMap((id) => {
        const source = byId.get(id);
        return source ? [source.out] : [];
      });
      if (sources.length === 0) sources.push(scope.entry);
      for (const source of new Set(sources)) this.edge(source, placed[i]!.in, 'PARALLEL');
    });
    entries.forEach((entry, i) => {
      if (!dependedOn.has(String(entry.task.id))) this.edge(placed[i]!.out, scope.end);
    });
    return entries.length > 0;
  }
}

/** The branch an If's or a Switch's list is: `then`, `else`, the case key, `defaults`. */
function choiceValue(kind: FlowableKind, list: ChildList): string | undefined {
  if (kind === 'If') return list.property;
  if (kind === 'Switch') return list.path[0] === 'cases' ? String(list.path[1]) : list.property;
  return undefined;
}

/** The graph of a flow: its triggers, tasks and errors, clusters for its flowable tasks. */
export function buildFlowGraph(flow: GraphFlow): FlowGraph {
  const builder = new GraphBuilder();
  builder.flow(flow);
  return { nodes: builder.nodes, edges: builder.edges, clusters: builder.clusters };
}
