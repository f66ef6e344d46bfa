/**
 * One execution, live: `/executions/:id/:tab?` with the tabs `gantt` (default), `logs`, `topology` and `outputs`.
 * The execution comes from its follow stream (execution/live.ts), never from polling; the header shows its state,
 * flow, dates, labels, inputs, trigger and lineage, and the actions (kill, restart, replay, resume).
 */
import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useMemo } from 'react';
import { ApiError } from '../api';
import { EmptyState, ErrorMessage, Labels, PageHeader, Spinner, StateBadge, Tabs } from '../components/common';
import { formatDate, formatDuration } from '../format';
import { Link, seg } from '../router';
import { isTerminal } from '../types';
import type { Execution } from '../types';
import { ExecutionActions } from './execution/actions';
import { executionLive, useExecutionLive } from './execution/live';
import { isStorageUri, stateSpan } from './execution/model';
import { CopyButton, FileValue, LiveIndicator, ScalarValue, useNow } from './execution/parts';
import './execution/execution.css';

const GanttTab = lazy(() => import('./execution/GanttTab'));
const LogsTab = lazy(() => import('./execution/LogsTab'));
const TopologyTab = lazy(() => import('./execution/TopologyTab'));
const OutputsTab = lazy(() => import('./execution/OutputsTab'));

const TABS = [
  { id: 'gantt', label: 'Gantt' },
  { id: 'logs', label: 'Logs' },
  { id: 'topology', label: 'Topology' },
  { id: 'outputs', label: 'Outputs' },
] as const;

function Duration({ execution }: { execution: Execution }) {
  const running = !isTerminal(execution.state.current);
  const now = useNow(running);
  const span = stateSpan(execution.state, now);
  return (
    <span data-testid="execution-duration" aria-live="off">
      {formatDuration(span ? span.end - span.start : undefined)}
    </span>
  );
}

function InputValue({ executionId, value }: { executionId: string; value: unknown }) {
  if (isStorageUri(value)) return <FileValue executionId={executionId} uri={value} compact />;
  if (value !== null && typeof value === 'object') {
    const text = JSON.stringify(value);
    return (
      <code className="exec-input-json" title={text.length > 200 ? text.slice(0, 2000) : undefined}>
        {text.length > 200 ? `${text.slice(0, 200)}…` : text}
      </code>
    );
  }
  return <ScalarValue value={value} executionId={executionId} />;
}

function Facts({ execution, status }: { execution: Execution; status: Parameters<typeof LiveIndicator>[0]['status'] }) {
  const inputs = Object.entries(execution.inputs ?? {});
  const trigger = execution.trigger;
  const start = execution.state.startDate ?? execution.state.histories?.[0]?.date;
  return (
    <section className="card exec-facts-card" aria-label="Execution details">
      <dl className="exec-facts exec-facts-row">
        <div>
          <dt>State</dt>
          <dd className="row">
            <span data-testid="execution-state" data-state={execution.state.current}>
              <StateBadge state={execution.state.current} />
            </span>
            <LiveIndicator status={status} what="execution" />
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{start ? <time dateTime={start}>{formatDate(start)}</time> : '—'}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>
            <Duration execution={execution} />
          </dd>
        </div>
        {execution.state.endDate ? (
          <div>
            <dt>Ended</dt>
            <dd>
              <time dateTime={execution.state.endDate}>{formatDate(execution.state.endDate)}</time>
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Trigger</dt>
          <dd>
            {trigger ? (
              <span title={trigger.type}>
                {trigger.id} <span className="muted small">{trigger.type.split('.').pop()}</span>
              </span>
            ) : (
              <span className="muted">manual or API</span>
            )}
          </dd>
        </div>
        {execution.parentId ? (
          <div>
            <dt>Parent execution</dt>
            <dd>
              <Link to={`/executions/${seg(execution.parentId)}`} className="mono" data-testid="parent-link">
                {execution.parentId}
              </Link>
            </dd>
          </div>
        ) : null}
        {execution.originalId && execution.originalId !== execution.id ? (
          <div>
            <dt>Replay of</dt>
            <dd>
              <Link to={`/executions/${seg(execution.originalId)}`} className="mono" data-testid="original-link">
                {execution.originalId}
              </Link>
            </dd>
          </div>
        ) : null}
        {execution.labels && execution.labels.length > 0 ? (
          <div className="exec-facts-wide">
            <dt>Labels</dt>
            <dd>
              <Labels labels={execution.labels} />
            </dd>
          </div>
        ) : null}
      </dl>
      {inputs.length > 0 ? (
        <details className="exec-inputs" open={inputs.length <= 6}>
          <summary>
            Inputs <span className="muted small">({inputs.length})</span>
          </summary>
          <table className="list exec-inputs-table" data-testid="execution-inputs">
            <tbody>
              {inputs.map(([key, value]) => (
                <tr key={key}>
                  <th scope="row" className="mono">
                    {key}
                  </th>
                  <td>
                    <InputValue executionId={execution.id} value={value} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </section>
  );
}

export default function ExecutionPage({ id, tab }: { id: string; tab?: string }) {
  const queryClient = useQueryClient();
  const store = useMemo(() => executionLive(id, queryClient), [id, queryClient]);
  const { execution, error, status } = useExecutionLive(store);
  const active = tab ?? 'gantt';

  useEffect(() => {
    const before = document.title;
    document.title = execution ? `${execution.flowId} ${execution.state.current} · ${id} · Sluice` : `Execution ${id} · Sluice`;
    return () => {
      document.title = before;
    };
  }, [id, execution]);

  if (!execution) {
    if (error instanceof ApiError && error.status === 404) {
      return (
        <div data-testid="execution-error">
          <ErrorMessage error={error} title="Execution not found" />
          <EmptyState title={`No execution ${id}`} action={<Link to="/executions">See all executions</Link>}>
            It may have been deleted, or the link is wrong. Find it in the executions list.
          </EmptyState>
        </div>
      );
    }
    if (error) {
      return (
        <div data-testid="execution-error">
          <ErrorMessage error={error} title={`Execution ${id} could not be read`} />
          <p className="row">
            <LiveIndicator status={status} what="execution" />
            {status === 'failed' ? (
              <button type="button" onClick={() => store.update()}>
                Try again
              </button>
            ) : null}
          </p>
        </div>
      );
    }
    return <Spinner label="Loading the execution…" />;
  }

  const base = `/executions/${seg(id)}`;
  const known = TABS.some((t) => t.id === active);
  return (
    <div className="exec-page" data-testid="execution-page">
      <PageHeader
        title={
          <span className="exec-title">
            <span data-testid="execution-id">{execution.id}</span>
            <CopyButton text={execution.id} label="Copy the execution id" />
          </span>
        }
        subtitle={
          <>
            <Link to={`/flows/${seg(execution.namespace)}/${seg(execution.flowId)}`} data-testid="flow-link">
              {execution.namespace}.{execution.flowId}
            </Link>{' '}
            · revision {execution.flowRevision}
          </>
        }
        actions={<ExecutionActions execution={execution} onChanged={(updated) => store.update(updated)} />}
      />
      {error && status === 'reconnecting' ? <ErrorMessage error={error} title="The live updates were interrupted: reconnecting" /> : null}
      <Facts execution={execution} status={status} />
      <Tabs tabs={TABS} active={active} base={base} />
      <Suspense fallback={<Spinner />}>
        {active === 'gantt' ? (
          <GanttTab execution={execution} />
        ) : active === 'logs' ? (
          <LogsTab execution={execution} />
        ) : active === 'topology' ? (
          <TopologyTab execution={execution} />
        ) : active === 'outputs' ? (
          <OutputsTab execution={execution} />
        ) : null}
      </Suspense>
      {!known ? (
        <EmptyState title={`No tab “${active}”`} action={<Link to={`${base}/gantt`}>Open the Gantt chart</Link>}>
          An execution has the tabs {TABS.map((t) => t.id).join(', ')}.
        </EmptyState>
      ) : null}
    </div>
  );
}
