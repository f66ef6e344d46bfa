/**
 * `/logs`: the log lines of every execution, searched through `GET /logs/search` (text, namespace, flow, minimum
 * level, time range), newest first, paged; every filter lives in the URL query string.
 */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, query } from '../api';
import { EmptyState, ErrorMessage, PageHeader, Spinner } from '../components/common';
import { formatDate } from '../format';
import { Link, seg, useSearchParams } from '../router';
import type { LogLine, Paged } from '../types';
import { DebouncedInput, intParam, NoMatch, Pager, PastTheLastPage, readTimeRange, TimeRangeFilter, timeRangeQuery } from './executions/filters';
import './logs/logs.css';

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
const FILTER_KEYS = ['q', 'namespace', 'flowId', 'minLevel', 'range', 'startDate', 'endDate'] as const;

export default function LogsPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const namespace = params.get('namespace') ?? '';
  const flowId = params.get('flowId') ?? '';
  const minLevel = params.get('minLevel') ?? '';
  const timeRange = readTimeRange(params);
  const page = intParam(params, 'page', 1);
  const size = intParam(params, 'size', 50);
  const hasFilters = FILTER_KEYS.some((key) => params.has(key));

  const search = query({ q, namespace, flowId, minLevel, ...timeRangeQuery(timeRange), page, size });
  const logs = useQuery({
    queryKey: ['logs', 'search', search],
    queryFn: () => api<Paged<LogLine>>(`/logs/search${search}`),
    placeholderData: keepPreviousData,
  });

  const set = (changes: Record<string, string | undefined>): void => setParams({ ...changes, page: undefined });
  const clearFilters = (): void => set(Object.fromEntries(FILTER_KEYS.map((key) => [key, undefined])));
  const rows = logs.data?.results ?? [];
  const total = logs.data?.total ?? 0;

  return (
    <>
      <PageHeader title="Logs" subtitle="The log lines of every execution, newest first." />
      <div className="toolbar lg-filters" role="search">
        <label className="lg-query">
          <span className="xf-sr-only">Search the messages</span>
          <DebouncedInput type="search" data-search placeholder="Search messages (press / to focus)" value={q} onCommit={(value) => set({ q: value })} />
        </label>
        <label>
          <span className="xf-sr-only">Namespace</span>
          <DebouncedInput type="search" placeholder="Namespace" value={namespace} onCommit={(value) => set({ namespace: value })} data-testid="namespace-filter" />
        </label>
        <label>
          <span className="xf-sr-only">Flow</span>
          <DebouncedInput type="search" placeholder="Flow id" value={flowId} onCommit={(value) => set({ flowId: value })} data-testid="flow-filter" />
        </label>
        <label className="row">
          <span className="muted">Level</span>
          <select value={minLevel} onChange={(event) => set({ minLevel: event.target.value })} data-testid="level-filter" aria-label="Minimum level">
            <option value="">Any</option>
            {LEVELS.map((level) => (
              <option key={level} value={level}>
                {level} and above
              </option>
            ))}
          </select>
        </label>
        <TimeRangeFilter value={timeRange} onChange={(changes) => set(changes)} />
        <div className="lg-right">
          {hasFilters ? (
            <button type="button" className="ghost" onClick={clearFilters}>
              Clear filters
            </button>
          ) : null}
          <button type="button" className="ghost" onClick={() => void logs.refetch()} aria-label="Refresh" title="Refresh">
            ⟳
          </button>
        </div>
      </div>

      {logs.isError ? (
        <>
          <ErrorMessage error={logs.error} title="The logs could not be searched" />
          {hasFilters ? (
            <button type="button" onClick={clearFilters}>
              Clear filters
            </button>
          ) : null}
        </>
      ) : logs.isPending ? (
        <Spinner label="Searching the logs…" />
      ) : rows.length === 0 ? (
        total > 0 ? (
          <PastTheLastPage total={total} noun="log lines" onFirstPage={() => setParams({ page: undefined })} />
        ) : hasFilters ? (
          <NoMatch title="No log lines match" onClear={clearFilters}>
            {q ? (
              <>
                No message contains <q>{q}</q> with these filters.{' '}
              </>
            ) : null}
            Try other words, a lower level or a wider time range.
          </NoMatch>
        ) : (
          <EmptyState
            title="No logs yet"
            action={
              <Link to="/flows" className="button primary">
                Go to the flows
              </Link>
            }
          >
            Log lines appear here once executions run: open a flow and click <strong>Execute</strong>.
          </EmptyState>
        )
      ) : (
        <>
          <div className="lg-wrap">
            <table className="list lg-table" data-testid="logs-table" aria-busy={logs.isFetching || undefined}>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Level</th>
                  <th scope="col">Flow</th>
                  <th scope="col">Execution</th>
                  <th scope="col">Task</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((line, index) => (
                  <tr key={`${line.executionId}-${line.timestamp}-${index}`} data-testid="log-row" data-level={line.level}>
                    <td className="lg-nowrap mono small">{formatDate(line.timestamp)}</td>
                    <td>
                      <span className={`lg-level lg-level-${line.level}`}>{line.level}</span>
                    </td>
                    <td className="lg-flow">
                      <Link to={`/flows/${seg(line.namespace)}/${seg(line.flowId)}`} title={`${line.namespace}.${line.flowId}`}>
                        <span className="muted">{line.namespace}.</span>
                        {line.flowId}
                      </Link>
                    </td>
                    <td>
                      <Link to={`/executions/${seg(line.executionId)}/logs`} className="mono" title={line.executionId}>
                        {line.executionId.slice(0, 8)}
                      </Link>
                    </td>
                    <td className="mono small">{line.taskId ?? ''}</td>
                    <td className="lg-message">{line.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            page={page}
            size={size}
            total={total}
            noun={total === 1 ? 'line' : 'lines'}
            onChange={(changes) =>
              setParams({ page: changes.page !== undefined && changes.page > 1 ? String(changes.page) : undefined, ...(changes.size === undefined ? {} : { size: String(changes.size) }) })
            }
          />
        </>
      )}
    </>
  );
}
