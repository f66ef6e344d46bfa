/**
 * `/flows/:namespace/:id/:tab?`: one flow. The header (namespace.id, description, labels, revision, Execute), then a
 * tab per URL: overview (executions per day, success rate, the last executions), topology, editor, revisions (with a
 * line diff of any two), executions, triggers (enable/disable). The editor, the execution list and the topology are
 * their own chunks, loaded when their tab opens.
 */
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { api, ApiError } from '../api';
import { EmptyState, ErrorMessage, Labels, PageHeader, Spinner, Tabs } from '../components/common';
import type { TabDef } from '../components/common';
import { formatDate } from '../format';
import { Link, seg } from '../router';
import type { Flow } from '../types';
import { flowKey } from './flow/keys';
import { Overview } from './flow/Overview';
import { Revisions } from './flow/Revisions';
import { TopologyTab } from './flow/TopologyTab';
import { Triggers } from './flow/Triggers';
import './flow/flow.css';

const FlowEditor = lazy(() => import('./FlowEditor'));
const ExecutionList = lazy(() => import('../components/ExecutionList'));

const TABS: readonly TabDef[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'topology', label: 'Topology' },
  { id: 'editor', label: 'Editor' },
  { id: 'revisions', label: 'Revisions' },
  { id: 'executions', label: 'Executions' },
  { id: 'triggers', label: 'Triggers' },
];

export default function FlowPage({ namespace, id, tab = 'overview' }: { namespace: string; id: string; tab?: string }) {
  const base = `/flows/${seg(namespace)}/${seg(id)}`;
  const flow = useQuery({
    queryKey: flowKey(namespace, id),
    queryFn: () => api<Flow>(`/flows/${seg(namespace)}/${seg(id)}`),
  });

  if (flow.isPending) return <Spinner label="Loading the flow…" />;
  if (flow.isError) return <FlowError namespace={namespace} id={id} error={flow.error} />;

  const data = flow.data;
  const known = TABS.some((t) => t.id === tab);
  const triggerCount = data.triggers?.length ?? 0;

  return (
    <div className="flow-page" data-testid="flow-page">
      <PageHeader
        title={
          <>
            <Link to={`/flows?namespace=${encodeURIComponent(data.namespace)}`} className="flow-namespace" title={`Flows of namespace ${data.namespace}`}>
              {data.namespace}
            </Link>
            <span className="muted">.</span>
            <span data-testid="flow-title">{data.id}</span>
          </>
        }
        subtitle={data.description}
        actions={
          <>
            <Link to={`${base}/editor`} className="button">
              Edit
            </Link>
            <Link to={`${base}/execute`} className="button primary" data-testid="execute-flow">
              ▶ Execute
            </Link>
          </>
        }
      >
        <div className="row flow-meta small">
          <span className="chip" data-testid="flow-revision">
            revision {data.revision}
          </span>
          {data.disabled ? <span className="chip chip-warn">disabled</span> : null}
          {data.updated ? <span className="muted">updated {formatDate(data.updated)}</span> : null}
          <Labels labels={data.labels} />
        </div>
      </PageHeader>
      <Tabs tabs={TABS.map((t) => (t.id === 'triggers' && triggerCount > 0 ? { ...t, label: `Triggers (${triggerCount})` } : t))} active={tab} base={base} />
      <div className="flow-tab" role="tabpanel" data-active-tab={tab}>
        {!known ? (
          <EmptyState title={`No tab named “${tab}”`} action={<Link to={base}>Go to the overview</Link>}>
            This flow's tabs are {TABS.map((t) => t.id).join(', ')}.
          </EmptyState>
        ) : tab === 'overview' ? (
          <Overview flow={data} />
        ) : tab === 'topology' ? (
          <TopologyTab flow={data} />
        ) : tab === 'editor' ? (
          <Suspense fallback={<Spinner label="Loading the editor…" />}>
            <FlowEditor namespace={namespace} id={id} />
          </Suspense>
        ) : tab === 'revisions' ? (
          <Revisions flow={data} />
        ) : tab === 'executions' ? (
          <Suspense fallback={<Spinner label="Loading executions…" />}>
            <ExecutionList namespace={namespace} flowId={id} />
          </Suspense>
        ) : (
          <Triggers flow={data} />
        )}
      </div>
    </div>
  );
}

/** A flow that could not be read: a 404 says so plainly, anything else is shown as the API's error. */
function FlowError({ namespace, id, error }: { namespace: string; id: string; error: unknown }) {
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <div className="flow-page" data-testid="flow-error">
      <PageHeader
        title={
          <>
            <span className="muted">{namespace}.</span>
            {id}
          </>
        }
      />
      {notFound ? (
        <EmptyState
          title="Flow not found"
          action={
            <span className="row" style={{ justifyContent: 'center' }}>
              <Link to={`/flows?namespace=${encodeURIComponent(namespace)}`} className="button">
                Flows of {namespace}
              </Link>
              <Link to="/flows" className="button">
                All flows
              </Link>
              <Link to="/flows/new" className="button primary">
                Create a flow
              </Link>
            </span>
          }
        >
          There is no flow <code>{id}</code> in namespace <code>{namespace}</code>: it was never deployed, or it was deleted. Check the
          spelling, or look for it in the list.
        </EmptyState>
      ) : (
        <ErrorMessage error={error} title={`Flow ${namespace}.${id} could not be read`} />
      )}
    </div>
  );
}
