/**
 * A flow graph (`GET /flows/{ns}/{id}/graph`, Kestra's FlowGraph as packages/engine/src/graph.ts builds it) laid out
 * by dagre as a compound graph: tasks, triggers and the start/end points are nodes; every flowable's cluster, the
 * `Triggers` cluster and each `errors` / `finally` branch are group boxes around their members. The result is in
 * React Flow's terms (children positioned inside their parent box, parents listed before their children).
 */
import dagre from '@dagrejs/dagre';
import type { Edge, Node } from '@xyflow/react';
import type { FlowGraph, GraphNode } from '../../types.js';
import { shortType } from './shortType.js';

const HIERARCHIES = 'io.kestra.core.models.hierarchies.';
const TYPES = {
  task: `${HIERARCHIES}GraphTask`,
  root: `${HIERARCHIES}GraphClusterRoot`,
  end: `${HIERARCHIES}GraphClusterEnd`,
  trigger: `${HIERARCHIES}GraphTrigger`,
};

export type Direction = 'TB' | 'LR';

export type TopologyKind = 'task' | 'trigger' | 'start' | 'end' | 'dot' | 'group';

export type GroupVariant = 'cluster' | 'triggers' | 'errors' | 'finally';

export interface TopologyData extends Record<string, unknown> {
  readonly kind: TopologyKind;
  readonly label: string;
  /** The short type (`Log`, `Schedule`), the full one in `type`. */
  readonly sub?: string;
  readonly type?: string;
  /** The task id a task node (or a flowable's box) stands for. */
  readonly taskId?: string;
  readonly variant?: GroupVariant;
  /** Part of an `errors` branch. */
  readonly error?: boolean;
  readonly disabled?: boolean;
  readonly direction: Direction;
  /** Set later, from the `states` prop. */
  readonly state?: string;
}

export type TopologyNode = Node<TopologyData>;

export interface Layout {
  readonly nodes: TopologyNode[];
  readonly edges: Edge[];
  readonly width: number;
  readonly height: number;
}

const SIZE: Record<Exclude<TopologyKind, 'group'>, { w: number; h: number }> = {
  task: { w: 200, h: 54 },
  trigger: { w: 200, h: 54 },
  start: { w: 64, h: 26 },
  end: { w: 64, h: 26 },
  dot: { w: 12, h: 12 },
};


interface Declared {
  id?: unknown;
  type?: unknown;
  disabled?: unknown;
  errors?: unknown;
  finally?: unknown;
}

function declaredIds(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => (item && typeof item === 'object' && typeof (item as Declared).id === 'string' ? [(item as { id: string }).id] : []));
}

/**
 * The group boxes of the `errors` and `finally` branches, and who goes in them: `parent` (member → its box) is
 * changed in place, the boxes are returned.
 */
function branchGroups(graph: FlowGraph, parent: Map<string, string>, nodeByUid: Map<string, GraphNode>): { uid: string; parent?: string; variant: 'errors' | 'finally'; label: string }[] {
  const groups: { uid: string; parent?: string; variant: 'errors' | 'finally'; label: string }[] = [];
  const clusterByStart = new Map<string, { uid: string; end: string }>();
  const clusterByUid = new Map<string, FlowGraph['clusters'][number]>();
  for (const c of graph.clusters) {
    if (c.start && c.end) clusterByStart.set(c.start, { uid: c.cluster.uid, end: c.end });
    clusterByUid.set(c.cluster.uid, c);
  }
  const isError = (uid: string): boolean => (nodeByUid.get(uid)?.branchType ?? clusterByUid.get(uid)?.cluster.branchType) === 'ERROR';

  // The flow's own level: the members without a parent.
  const topLevel = [...graph.nodes.map((n) => n.uid), ...graph.clusters.map((c) => c.cluster.uid)].filter((uid) => !parent.has(uid));
  const topErrors = topLevel.filter(isError);
  if (topErrors.length > 0) {
    const uid = 'branch:root:errors';
    groups.push({ uid, variant: 'errors', label: 'errors' });
    for (const member of topErrors) parent.set(member, uid);
  }
  // `finally` (and `afterExecution`) at the flow's level: the lists, after the first one (the tasks), that start from
  // the flow's root and are not an `errors` branch. Each is a chain from the root to the flow's end.
  const root = graph.nodes.find((n) => n.type === TYPES.root && !parent.has(n.uid) && n.uid.startsWith('root.'));
  const end = graph.nodes.find((n) => n.type === TYPES.end && !parent.has(n.uid) && n.uid.startsWith('root.'));
  if (root && end) {
    const out = new Map<string, string[]>();
    for (const e of graph.edges) out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
    const starts = graph.edges.filter((e) => e.source === root.uid && e.relation?.relationType !== 'ERROR' && !isError(e.target) && !isError(clusterByStart.get(e.target)?.uid ?? ''));
    const names = starts.length > 2 ? ['finally', 'afterExecution'] : ['finally'];
    starts.slice(1).forEach((start, index) => {
      const members: string[] = [];
      const seen = new Set<string>();
      let at: string | undefined = start.target;
      while (at !== undefined && at !== end.uid && !seen.has(at)) {
        seen.add(at);
        const cluster = clusterByStart.get(at);
        const member = cluster ? cluster.uid : at;
        if (parent.has(member)) break;
        members.push(member);
        at = out.get(cluster ? cluster.end : at)?.[0];
      }
      if (members.length === 0) return;
      const label = names[index] ?? 'finally';
      const uid = `branch:root:${label}:${index}`;
      groups.push({ uid, variant: 'finally', label });
      for (const member of members) parent.set(member, uid);
    });
  }

  // Inside a flowable: its declaration names the tasks of its `errors` and `finally` lists.
  for (const c of graph.clusters) {
    const taskNode = c.cluster.taskNode;
    const task = taskNode?.task as Declared | undefined;
    if (!taskNode || !task) continue;
    const members = new Set(c.nodes);
    for (const variant of ['errors', 'finally'] as const) {
      const inBranch = declaredIds(task[variant]).flatMap((id) => {
        const path = `${taskNode.uid}.${id}`;
        if (members.has(`cluster_${path}`)) return [`cluster_${path}`];
        if (members.has(path)) return [path];
        return [];
      });
      if (inBranch.length === 0) continue;
      const uid = `branch:${c.cluster.uid}:${variant}`;
      groups.push({ uid, parent: c.cluster.uid, variant, label: variant });
      for (const member of inBranch) parent.set(member, uid);
    }
  }
  return groups;
}

/** Lay out `graph`: dagre positions, React Flow nodes and edges. */
export function layoutGraph(graph: FlowGraph, direction: Direction): Layout {
  const nodeByUid = new Map(graph.nodes.map((n) => [n.uid, n]));
  // Who is inside which box: clusters list their own nodes and the clusters directly inside them.
  const parent = new Map<string, string>();
  for (const c of graph.clusters) for (const member of c.nodes) if (member !== c.cluster.uid) parent.set(member, c.cluster.uid);
  const branches = branchGroups(graph, parent, nodeByUid);
  for (const b of branches) if (b.parent) parent.set(b.uid, b.parent);

  const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: direction, nodesep: direction === 'TB' ? 28 : 22, ranksep: direction === 'TB' ? 42 : 56, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));

  const data = new Map<string, TopologyData>();
  const groupUids: string[] = [];

  for (const c of graph.clusters) {
    const taskNode = c.cluster.taskNode;
    const task = taskNode?.task;
    const triggers = !taskNode;
    data.set(c.cluster.uid, {
      kind: 'group',
      label: triggers ? 'Triggers' : (task?.id ?? c.cluster.uid),
      sub: triggers ? '' : shortType(task?.type),
      ...(task?.type ? { type: task.type } : {}),
      ...(task?.id ? { taskId: task.id } : {}),
      variant: triggers ? 'triggers' : 'cluster',
      error: c.cluster.branchType === 'ERROR',
      direction,
    });
    groupUids.push(c.cluster.uid);
  }
  for (const b of branches) {
    data.set(b.uid, { kind: 'group', label: b.label, variant: b.variant, error: b.variant === 'errors', direction });
    groupUids.push(b.uid);
  }
  for (const uid of groupUids) g.setNode(uid, {});

  for (const n of graph.nodes) {
    let d: TopologyData;
    if (n.type === TYPES.trigger) {
      const t = n.triggerDeclaration ?? n.trigger;
      d = { kind: 'trigger', label: t?.id ?? n.uid, sub: shortType(t?.type), ...(t?.type ? { type: t.type } : {}), disabled: (t as Declared | undefined)?.disabled === true, direction };
    } else if (n.type === TYPES.root || n.type === TYPES.end) {
      const isRoot = n.type === TYPES.root;
      d = /^root\._(root|end)$/.test(n.uid) ? { kind: isRoot ? 'start' : 'end', label: isRoot ? 'start' : 'end', direction } : { kind: 'dot', label: '', error: n.branchType === 'ERROR', direction };
    } else {
      const task = n.task as (Declared & { id?: string; type?: string }) | undefined;
      d = {
        kind: 'task',
        label: task?.id ?? n.uid,
        sub: shortType(task?.type),
        ...(task?.type ? { type: task.type } : {}),
        ...(task?.id ? { taskId: task.id } : {}),
        error: n.branchType === 'ERROR',
        disabled: task?.disabled === true,
        direction,
      };
    }
    data.set(n.uid, d);
    const size = SIZE[d.kind as Exclude<TopologyKind, 'group'>];
    g.setNode(n.uid, { width: size.w, height: size.h });
  }
  for (const [child, box] of parent) if (g.hasNode(child) && g.hasNode(box)) g.setParent(child, box);

  const labelled = new Map<string, string>();
  graph.edges.forEach((e, index) => {
    if (!g.hasNode(e.source) || !g.hasNode(e.target)) return;
    const name = String(index);
    const label = e.relation?.relationType === 'CHOICE' && e.relation.value ? e.relation.value : undefined;
    if (label) labelled.set(name, label);
    g.setEdge(e.source, e.target, label ? { width: Math.min(160, label.length * 7 + 12), height: 18, labelpos: 'c' } : {}, name);
  });

  dagre.layout(g);

  // Absolute top-left corners, then positions inside the parent box.
  const abs = new Map<string, { x: number; y: number; w: number; h: number }>();
  for (const uid of g.nodes()) {
    const n = g.node(uid) as { x: number; y: number; width: number; height: number } | undefined;
    if (!n) continue;
    abs.set(uid, { x: n.x - n.width / 2, y: n.y - n.height / 2, w: n.width, h: n.height });
  }
  // Boxes a little larger than dagre makes them, so the members do not touch the border; parents grow with them.
  const depth = (uid: string): number => {
    let d = 0;
    for (let at = parent.get(uid); at !== undefined && d < 100; at = parent.get(at)) d++;
    return d;
  };
  const boxes = groupUids.filter((uid) => abs.has(uid)).sort((a, b) => depth(b) - depth(a));
  for (const uid of boxes) {
    const box = abs.get(uid)!;
    const pad = 8;
    box.x -= pad;
    box.y -= pad + 6;
    box.w += pad * 2;
    box.h += pad * 2 + 6;
    const p = parent.get(uid);
    const outer = p ? abs.get(p) : undefined;
    if (outer) {
      const right = Math.max(outer.x + outer.w, box.x + box.w + pad);
      const bottom = Math.max(outer.y + outer.h, box.y + box.h + pad);
      outer.x = Math.min(outer.x, box.x - pad);
      outer.y = Math.min(outer.y, box.y - pad);
      outer.w = right - outer.x;
      outer.h = bottom - outer.y;
    }
  }

  const order = [...abs.keys()].sort((a, b) => depth(a) - depth(b));
  const nodes: TopologyNode[] = [];
  let width = 0;
  let height = 0;
  for (const uid of order) {
    const box = abs.get(uid)!;
    const d = data.get(uid);
    if (!d) continue;
    const p = parent.get(uid);
    const outer = p ? abs.get(p) : undefined;
    width = Math.max(width, box.x + box.w);
    height = Math.max(height, box.y + box.h);
    const node: TopologyNode = {
      id: uid,
      type: d.kind === 'group' ? 'box' : d.kind,
      position: outer ? { x: box.x - outer.x, y: box.y - outer.y } : { x: box.x, y: box.y },
      data: d,
      width: box.w,
      height: box.h,
      draggable: false,
      connectable: false,
      selectable: d.kind === 'task' || d.kind === 'trigger',
      focusable: d.kind === 'task' || d.kind === 'trigger',
      ...(outer && p ? { parentId: p } : {}),
      ...(d.kind === 'group' ? { zIndex: -1 } : {}),
      ariaLabel:
        d.kind === 'task' ? `Task ${d.label}${d.type ? `, ${d.type}` : ''}` : d.kind === 'trigger' ? `Trigger ${d.label}${d.type ? `, ${d.type}` : ''}` : d.kind === 'group' ? `${d.label} group` : d.label,
    };
    nodes.push(node);
  }

  const edges: Edge[] = [];
  graph.edges.forEach((e, index) => {
    if (!abs.has(e.source) || !abs.has(e.target)) return;
    const relation = e.relation?.relationType;
    const label = labelled.get(String(index));
    edges.push({
      id: `e${index}`,
      source: e.source,
      target: e.target,
      ...(label ? { label } : {}),
      className: relation ? `rel-${relation}` : 'rel-none',
      focusable: false,
      selectable: false,
    });
  });
  return { nodes, edges, width, height };
}
