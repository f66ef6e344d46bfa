/**
 * A flow's topology drawn with React Flow, laid out by dagre (topology/layout.ts): task nodes with their id and short
 * type, triggers, group boxes for flowables and for `errors` / `finally` branches, CHOICE branches named on their
 * edges. `states` (taskId → state) colours the nodes live; `onSelect` gets the task id of a clicked (or Enter-pressed)
 * node. Pan, zoom, fit and a minimap keep large flows (hundreds of tasks) usable.
 *
 * React Flow's stylesheet is imported here, so it only loads with this component's chunk.
 */
import '@xyflow/react/dist/style.css';
import { Background, Controls, Handle, MiniMap, Panel, Position, ReactFlow } from '@xyflow/react';
import type { NodeProps, NodeTypes, ReactFlowInstance } from '@xyflow/react';
import { memo, useCallback, useMemo, useRef, useState } from 'react';
import type { CSSProperties, KeyboardEvent } from 'react';
import type { FlowGraph } from '../types';
import type { Direction, Layout, TopologyData, TopologyNode } from './topology/layout';
import { useLayout } from './topology/useLayout';
import './topology/topology.css';

export interface TopologyProps {
  graph: FlowGraph;
  states?: Record<string, string>;
  onSelect?: (taskId: string) => void;
}

const DIRECTION_KEY = 'sluice.topology.direction';
/** Below this zoom a task's id cannot be read: a larger graph opens on its beginning instead of fitting whole. */
const READABLE_ZOOM = 0.55;

/** A number per layout object, so a new layout (another revision, the other direction) remounts the view and gets a first view again. */
const layoutIds = new WeakMap<Layout, number>();
let nextLayoutId = 0;
function layoutId(layout: Layout): number {
  let id = layoutIds.get(layout);
  if (id === undefined) {
    id = ++nextLayoutId;
    layoutIds.set(layout, id);
  }
  return id;
}

function savedDirection(): Direction {
  try {
    return localStorage.getItem(DIRECTION_KEY) === 'LR' ? 'LR' : 'TB';
  } catch {
    return 'TB';
  }
}

function Handles({ direction }: { direction: Direction }) {
  return (
    <>
      <Handle type="target" position={direction === 'TB' ? Position.Top : Position.Left} isConnectable={false} className="topo-handle" />
      <Handle type="source" position={direction === 'TB' ? Position.Bottom : Position.Right} isConnectable={false} className="topo-handle" />
    </>
  );
}

const TaskNode = memo(function TaskNode({ data, selected }: NodeProps<TopologyNode>) {
  const state = data.state;
  return (
    <div
      className={`topo-task${data.error ? ' is-error' : ''}${data.disabled ? ' is-disabled' : ''}${state ? ' has-state' : ''}${selected ? ' is-selected' : ''}`}
      style={state ? ({ '--node-state': `var(--state-${state})` } as CSSProperties) : undefined}
      data-testid="topology-node"
      data-task-id={data.taskId}
      data-state={state}
      title={`${data.label}\n${data.type ?? ''}${state ? `\n${state}` : ''}`}
    >
      <Handles direction={data.direction} />
      <div className="topo-label">{data.label}</div>
      <div className="topo-sub">
        <span className="topo-type">{data.sub}</span>
        {data.disabled ? <span className="topo-tag">disabled</span> : null}
        {state ? <span className="topo-state">{state}</span> : null}
      </div>
    </div>
  );
});

const TriggerNode = memo(function TriggerNode({ data }: NodeProps<TopologyNode>) {
  return (
    <div className={`topo-trigger${data.disabled ? ' is-disabled' : ''}`} data-testid="topology-trigger" data-trigger-id={data.label} title={`${data.label}\n${data.type ?? ''}`}>
      <Handles direction={data.direction} />
      <div className="topo-label">
        <span className="topo-bolt" aria-hidden="true">
          ⚡
        </span>
        {data.label}
      </div>
      <div className="topo-sub">
        <span className="topo-type">{data.sub}</span>
        {data.disabled ? <span className="topo-tag">disabled</span> : null}
      </div>
    </div>
  );
});

const TerminalNode = memo(function TerminalNode({ data }: NodeProps<TopologyNode>) {
  return (
    <div className={`topo-terminal topo-${data.kind}`}>
      <Handles direction={data.direction} />
      {data.label}
    </div>
  );
});

const DotNode = memo(function DotNode({ data }: NodeProps<TopologyNode>) {
  return (
    <div className={`topo-dot${data.error ? ' is-error' : ''}`}>
      <Handles direction={data.direction} />
    </div>
  );
});

const GroupNode = memo(function GroupNode({ data }: NodeProps<TopologyNode>) {
  const state = data.state;
  return (
    <div
      className={`topo-group variant-${data.variant ?? 'cluster'}${data.error ? ' is-error' : ''}`}
      data-testid="topology-group"
      data-group={data.variant}
      data-task-id={data.taskId}
      style={state ? ({ '--node-state': `var(--state-${state})` } as CSSProperties) : undefined}
    >
      <div className="topo-group-label">
        <span>{data.label}</span>
        {data.sub ? <span className="topo-type"> {data.sub}</span> : null}
      </div>
    </div>
  );
});

const EMPTY: Layout = { nodes: [], edges: [], width: 0, height: 0 };

const NODE_TYPES: NodeTypes = { task: TaskNode, trigger: TriggerNode, start: TerminalNode, end: TerminalNode, dot: DotNode, box: GroupNode };

export default function Topology({ graph, states, onSelect }: TopologyProps) {
  const [direction, setDirection] = useState<Direction>(savedDirection);
  const computed = useLayout(graph, direction);
  const layout = computed.layout ?? EMPTY;
  const nodes = useMemo(() => {
    if (!states) return layout.nodes;
    return layout.nodes.map((node) => {
      const state = node.data.taskId ? states[node.data.taskId] : undefined;
      return state && (node.data.kind === 'task' || node.data.kind === 'group') ? { ...node, data: { ...node.data, state } } : node;
    });
  }, [layout, states]);
  const taskCount = useMemo(() => layout.nodes.filter((n) => n.data.kind === 'task').length, [layout]);

  const box = useRef<HTMLDivElement>(null);
  /**
   * The first view: the whole graph when it fits at a readable zoom; otherwise (hundreds of tasks) its beginning at a
   * readable zoom, the minimap and panning to reach the rest.
   */
  const onInit = useCallback(
    (instance: ReactFlowInstance<TopologyNode>) => {
      const rect = box.current?.getBoundingClientRect();
      if (!rect || layout.width === 0 || layout.height === 0) return;
      const pad = 24;
      const fit = Math.min((rect.width - pad * 2) / layout.width, (rect.height - pad * 2) / layout.height, 1.1);
      if (fit >= READABLE_ZOOM) {
        void instance.fitView({ padding: 0.08, maxZoom: 1.1 });
        return;
      }
      const zoom = READABLE_ZOOM;
      const x = direction === 'TB' ? Math.max(pad, (rect.width - layout.width * zoom) / 2) : pad;
      const y = direction === 'LR' ? Math.max(pad, (rect.height - layout.height * zoom) / 2) : pad;
      void instance.setViewport({ x, y, zoom });
    },
    [layout, direction],
  );

  const select = useCallback(
    (data: TopologyData | undefined) => {
      if (data?.kind === 'task' && data.taskId) onSelect?.(data.taskId);
    },
    [onSelect],
  );
  const byId = useMemo(() => new Map(nodes.map((n) => [n.id, n])), [nodes]);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>): void => {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    const target = event.target as HTMLElement;
    const id = target.classList.contains('react-flow__node') ? target.getAttribute('data-id') : null;
    if (!id) return;
    event.preventDefault();
    select(byId.get(id)?.data);
  };

  const switchDirection = (): void => {
    const next: Direction = direction === 'TB' ? 'LR' : 'TB';
    setDirection(next);
    try {
      localStorage.setItem(DIRECTION_KEY, next);
    } catch {
      // private mode: the choice lasts this page only
    }
  };

  if (graph.nodes.length === 0) {
    return <p className="muted">This flow has nothing to draw.</p>;
  }
  if (computed.error !== undefined) {
    return (
      <div className="error" role="alert">
        <strong>The topology could not be laid out</strong>
        <p className="error-message">{computed.error}</p>
      </div>
    );
  }
  if (!computed.layout) {
    return (
      <div className="topology topology-pending" data-testid="topology" role="status" aria-live="polite">
        <span className="spinner-dot" aria-hidden="true" /> Laying out {graph.nodes.length} nodes…
      </div>
    );
  }

  return (
    <div className="topology" data-testid="topology" ref={box} onKeyDown={onKeyDown} style={{ height: Math.max(360, Math.min(760, (direction === 'TB' ? layout.height : layout.width / 2) + 80)) }}>
      <ReactFlow
        key={layoutId(layout)}
        nodes={nodes}
        edges={layout.edges}
        nodeTypes={NODE_TYPES}
        onInit={onInit}
        minZoom={0.05}
        maxZoom={2.5}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        onlyRenderVisibleElements={layout.nodes.length > 150}
        onNodeClick={(_, node) => select(node.data)}
        defaultEdgeOptions={{ type: 'smoothstep' }}
        panOnScroll={false}
        zoomOnDoubleClick={false}
      >
        <Background gap={18} size={1} />
        <Controls showInteractive={false} />
        {taskCount > 25 || layout.width * READABLE_ZOOM > 1100 || layout.height * READABLE_ZOOM > 700 ? <MiniMap pannable zoomable nodeStrokeWidth={2} ariaLabel="Minimap of the topology" /> : null}
        <Panel position="top-right">
          <button type="button" className="topo-direction" onClick={switchDirection} title="Switch between top-to-bottom and left-to-right" aria-label={`Layout: ${direction === 'TB' ? 'top to bottom' : 'left to right'}; switch`}>
            {direction === 'TB' ? '↓ Top to bottom' : '→ Left to right'}
          </button>
        </Panel>
      </ReactFlow>
    </div>
  );
}
