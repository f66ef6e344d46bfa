/**
 * The topology tab: the flow's graph (`GET /flows/{ns}/{id}/graph`, any revision with `?revision=`), drawn by the
 * Topology component (its own chunk, with React Flow and dagre). Clicking a task shows its declaration beside it
 * (`?task=` in the URL).
 */
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useMemo } from 'react';
import { api, query } from '../../api';
import { ErrorMessage, Spinner } from '../../components/common';
import { seg, useSearchParams } from '../../router';
import type { Flow, FlowGraph, GraphNode } from '../../types';

const Topology = lazy(() => import('../../components/Topology'));

export function TopologyTab({ flow }: { flow: Flow }) {
  const [params, set] = useSearchParams();
  const requested = Number(params.get('revision'));
  const revision = Number.isInteger(requested) && requested > 0 && requested < flow.revision ? requested : undefined;
  const selected = params.get('task') ?? undefined;

  const graph = useQuery({
    queryKey: ['flow', flow.namespace, flow.id, 'graph', revision ?? flow.revision],
    queryFn: () => api<FlowGraph>(`/flows/${seg(flow.namespace)}/${seg(flow.id)}/graph${query({ revision })}`),
  });

  const task = useMemo(() => {
    if (!selected || !graph.data) return undefined;
    return graph.data.nodes.find((n): n is GraphNode & { task: { id: string; type: string } } => n.task?.id === selected)?.task;
  }, [selected, graph.data]);

  return (
    <div className="topology-tab">
      <div className="toolbar">
        <label className="row small">
          Revision
          <select value={revision ?? ''} onChange={(event) => set({ revision: event.target.value || undefined, task: undefined })} aria-label="Revision to draw">
            <option value="">{flow.revision} (latest)</option>
            {Array.from({ length: flow.revision - 1 }, (_, i) => flow.revision - 1 - i).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <span className="muted small">Scroll or pinch to zoom, drag to pan; click a task to see its declaration.</span>
      </div>
      {graph.isPending ? (
        <Spinner label="Loading the topology…" />
      ) : graph.isError ? (
        <ErrorMessage error={graph.error} title="The topology could not be read" />
      ) : (
        <div className={task ? 'topology-with-panel' : ''}>
          <Suspense fallback={<Spinner label="Loading the graph view…" />}>
            <Topology graph={graph.data} onSelect={(taskId) => set({ task: taskId === selected ? undefined : taskId })} />
          </Suspense>
          {task ? (
            <aside className="card task-panel" aria-label={`Task ${task.id}`} data-testid="task-panel">
              <div className="row">
                <h3 className="mono">{task.id}</h3>
                <button type="button" className="ghost" style={{ marginLeft: 'auto' }} onClick={() => set({ task: undefined })} aria-label="Close the task panel">
                  ×
                </button>
              </div>
              <p className="muted small mono">{task.type}</p>
              <pre className="task-json">{JSON.stringify(task, null, 2)}</pre>
            </aside>
          ) : null}
        </div>
      )}
    </div>
  );
}
