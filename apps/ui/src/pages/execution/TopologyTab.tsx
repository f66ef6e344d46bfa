/**
 * The Topology tab: the graph of the flow revision the execution runs, each task node coloured by the state of its
 * latest task run (live, as the follow sends the execution). Clicking a task opens its latest run in the Gantt tab.
 */
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useCallback, useMemo } from 'react';
import { api, query } from '../../api';
import { ErrorMessage, Spinner } from '../../components/common';
import { navigate, seg } from '../../router';
import type { Execution, FlowGraph } from '../../types';
import { latestStates } from './model';

const Topology = lazy(() => import('../../components/Topology'));

export default function TopologyTab({ execution }: { execution: Execution }) {
  const { namespace, flowId, flowRevision } = execution;
  const graph = useQuery({
    queryKey: ['flow-graph', namespace, flowId, flowRevision],
    queryFn: () => api<FlowGraph>(`/flows/${seg(namespace)}/${seg(flowId)}/graph${query({ revision: flowRevision })}`),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const states = useMemo(() => latestStates(execution), [execution]);
  const onSelect = useCallback(
    (taskId: string) => {
      const runs = execution.taskRunList ?? [];
      let latest: string | undefined;
      for (const run of runs) if (run.taskId === taskId) latest = run.id;
      navigate(`/executions/${seg(execution.id)}/gantt${latest ? query({ taskRun: latest }) : ''}`);
    },
    [execution.id, execution.taskRunList],
  );
  if (graph.isPending) return <Spinner label="Drawing the flow…" />;
  if (graph.error) return <ErrorMessage error={graph.error} title={`The graph of ${namespace}.${flowId} revision ${flowRevision} could not be read`} />;
  return (
    <section aria-label="Topology" className="exec-topology">
      <p className="muted small">
        Revision {flowRevision} of the flow. Each task shows the state of its latest task run; select one to see it in the Gantt chart.
      </p>
      <Suspense fallback={<Spinner label="Loading the topology…" />}>
        <Topology graph={graph.data} states={states} onSelect={onSelect} />
      </Suspense>
    </section>
  );
}
