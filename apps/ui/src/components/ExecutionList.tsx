/**
 * The executions table: `GET /executions/search` with its filters (namespace, flow, states, time range, labels), paging
 * and sort all in the URL query string, auto-refreshed every 5 s (pausable, `refresh=off` in the URL), with bulk kill
 * and restart of the rows selected (the by-ids routes). The Executions page shows it unfiltered; a flow's executions
 * tab gives it a fixed `namespace` and `flowId` (then those filters and columns are left out).
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { api, ApiError, query } from '../api';
import { formatDate, formatDuration, stateDuration } from '../format';
import { Link, seg, useSearchParams } from '../router';
import type { Execution, Flow, Paged } from '../types';
import { ALL_STATES } from '../types';
import { DebouncedInput, intParam, NoMatch, Pager, PastTheLastPage, readTimeRange, TimeRangeFilter, timeRangeQuery } from '../pages/executions/filters';
import { EmptyState, ErrorMessage, Spinner, StateBadge } from './common';
import '../pages/executions/executions.css';

const REFRESH_MS = 5_000;

/** The URL keys the user filters with (paging, sort and refresh are not filters). */
const FILTER_KEYS = ['q', 'namespace', 'flowId', 'state', 'labels', 'range', 'startDate', 'endDate'] as const;

/** The sortable columns and their API sort keys. */
const SORT_KEYS = {
  state: 'state.current',
  id: 'id',
  namespace: 'namespace',
  flow: 'flowId',
  start: 'state.startDate',
  duration: 'state.duration',
} as const;
type SortColumn = keyof typeof SORT_KEYS;

interface BulkInvalid {
  readonly id: string;
  readonly code?: string;
  readonly message: string;
}

interface BulkOutcome {
  readonly verb: 'kill' | 'restart';
  readonly requested: number;
  readonly count: number;
  readonly invalids: readonly BulkInvalid[];
}

/** `details.invalids` of a by-ids refusal (400), if that is what the error is. */
function invalidsOf(error: unknown): BulkInvalid[] | undefined {
  if (!(error instanceof ApiError) || error.status !== 400) return undefined;
  const details = error.details as { invalids?: unknown } | undefined;
  if (!details || !Array.isArray(details.invalids)) return undefined;
  return details.invalids.filter((i): i is BulkInvalid => typeof i === 'object' && i !== null && typeof (i as BulkInvalid).id === 'string');
}

/**
 * Kill or restart `ids`. The by-ids routes act on none when one of them refuses (400 listing each): the others are
 * then sent again on their own, so the user gets every execution that could be acted on, and the list of those that
 * could not, with the reason.
 */
async function bulkAction(verb: 'kill' | 'restart', ids: readonly string[]): Promise<BulkOutcome> {
  const call = (list: readonly string[]): Promise<{ count: number; invalids?: BulkInvalid[] }> =>
    api(verb === 'kill' ? '/executions/kill/by-ids' : '/executions/restart/by-ids', {
      method: verb === 'kill' ? 'DELETE' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(list),
    });
  try {
    const answer = await call(ids);
    return { verb, requested: ids.length, count: answer.count, invalids: answer.invalids ?? [] };
  } catch (error) {
    const refused = invalidsOf(error);
    if (!refused) throw error;
    const refusedIds = new Set(refused.map((i) => i.id));
    const rest = ids.filter((id) => !refusedIds.has(id));
    if (rest.length === 0) return { verb, requested: ids.length, count: 0, invalids: refused };
    const answer = await call(rest);
    return { verb, requested: ids.length, count: answer.count, invalids: [...refused, ...(answer.invalids ?? [])] };
  }
}

/** `system.correlationId` naming the execution itself says nothing (one naming a parent execution does). */
const isOwnCorrelation = (execution: Execution, label: { key: string; value: string }): boolean => label.key === 'system.correlationId' && label.value === execution.id;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The state filter: a drop-down of checkboxes, one per state. */
function StateFilter({ states, onChange }: { states: readonly string[]; onChange: (states: string[]) => void }) {
  const ref = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    const close = (event: MouseEvent | KeyboardEvent): void => {
      const details = ref.current;
      if (!details?.open) return;
      if (event instanceof KeyboardEvent) {
        if (event.key === 'Escape') {
          details.open = false;
          details.querySelector('summary')?.focus();
        }
        return;
      }
      if (!details.contains(event.target as Node)) details.open = false;
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, []);
  const summary = states.length === 0 ? 'Any state' : states.length <= 2 ? states.join(', ') : `${states.length} states`;
  return (
    <details className="xl-dropdown" ref={ref} data-testid="state-filter">
      <summary aria-label={`State filter: ${summary}`}>
        <span className="muted">State:</span> {summary}
      </summary>
      <div className="xl-dropdown-menu" role="group" aria-label="States">
        {ALL_STATES.map((state) => (
          <label key={state} className="xl-check">
            <input
              type="checkbox"
              checked={states.includes(state)}
              onChange={(event) => onChange(event.target.checked ? [...states, state] : states.filter((s) => s !== state))}
            />
            <StateBadge state={state} />
          </label>
        ))}
        {states.length > 0 ? (
          <button type="button" className="ghost small" onClick={() => onChange([])}>
            Any state
          </button>
        ) : null}
      </div>
    </details>
  );
}

/** The labels filter: `key:value` entries, each one a chip; every one must match. */
function LabelsFilter({ labels, onChange }: { labels: readonly string[]; onChange: (labels: string[]) => void }) {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const id = useId();
  const add = (): void => {
    const value = text.trim();
    if (value === '') return;
    const colon = value.indexOf(':');
    if (colon <= 0) {
      setProblem('Write a label as key:value');
      return;
    }
    setProblem(undefined);
    setText('');
    if (!labels.includes(value)) onChange([...labels, value]);
  };
  return (
    <div className="xl-labels-filter">
      <label className="xf-sr-only" htmlFor={id}>
        Label filter (key:value)
      </label>
      <input
        id={id}
        type="text"
        placeholder="Label key:value ↵"
        value={text}
        data-testid="labels-filter"
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? `${id}-problem` : undefined}
        onChange={(event) => {
          setText(event.target.value);
          setProblem(undefined);
        }}
        onKeyDown={(event) => {
          if (event.key === 'Enter') {
            event.preventDefault();
            add();
          }
        }}
      />
      {problem ? (
        <span id={`${id}-problem`} className="field-error">
          {problem}
        </span>
      ) : null}
    </div>
  );
}

/** Distinct namespaces and flow ids, for the filters' suggestions (best effort: nothing on error). */
function useFlowSuggestions(enabled: boolean): { namespaces: string[]; flows: string[] } {
  const { data } = useQuery({
    queryKey: ['flows', 'suggestions'],
    queryFn: () => api<Paged<Flow>>(`/flows/search${query({ size: 500 })}`),
    enabled,
    staleTime: 60_000,
    retry: false,
  });
  return useMemo(() => {
    const flows = data?.results ?? [];
    return {
      namespaces: [...new Set(flows.map((f) => f.namespace))].sort(),
      flows: [...new Set(flows.map((f) => f.id))].sort(),
    };
  }, [data]);
}

export default function ExecutionList({ namespace: fixedNamespace, flowId: fixedFlowId }: { namespace?: string; flowId?: string }) {
  const [params, setParams] = useSearchParams();
  const queryClient = useQueryClient();
  const listId = useId();

  const text = params.get('q') ?? '';
  const namespace = fixedNamespace ?? params.get('namespace') ?? '';
  const flowId = fixedFlowId ?? params.get('flowId') ?? '';
  const states = params.getAll('state');
  const labels = params.getAll('labels');
  const timeRange = readTimeRange(params);
  const page = intParam(params, 'page', 1);
  const size = intParam(params, 'size', 25);
  const sort = params.get('sort') ?? '';
  const autoRefresh = params.get('refresh') !== 'off';

  const userFilterKeys = FILTER_KEYS.filter((key) => !(key === 'namespace' && fixedNamespace !== undefined) && !(key === 'flowId' && fixedFlowId !== undefined));
  const hasFilters = userFilterKeys.some((key) => params.getAll(key).length > 0);

  const search = query({
    // A flow's own executions: exactly its namespace (the plain parameter also matches child namespaces).
    ...(fixedNamespace !== undefined ? { 'filters[namespace][EQUALS]': fixedNamespace } : { namespace }),
    flowId,
    // Kestra 1.x's text search: in the namespace, the flow id and the execution id.
    'filters[q][EQUALS]': text,
    state: states,
    labels,
    ...timeRangeQuery(timeRange),
    page,
    size,
    sort,
  });

  const executions = useQuery({
    queryKey: ['executions', 'search', search],
    queryFn: () => api<Paged<Execution>>(`/executions/search${search}`),
    placeholderData: keepPreviousData,
    refetchInterval: autoRefresh ? REFRESH_MS : false,
    staleTime: 0,
  });
  const suggestions = useFlowSuggestions(fixedNamespace === undefined || fixedFlowId === undefined);

  // Selection: cleared when the filters or the page change (what is selected is what the user sees).
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const viewKey = search;
  useEffect(() => setSelected(new Set()), [viewKey]);

  const [confirming, setConfirming] = useState<'kill' | 'restart' | undefined>();
  const [outcome, setOutcome] = useState<BulkOutcome | undefined>();
  const confirmButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  const bulk = useMutation({
    mutationFn: ({ verb, ids }: { verb: 'kill' | 'restart'; ids: readonly string[] }) => bulkAction(verb, ids),
    onSuccess: (result) => {
      setOutcome(result);
      setSelected(new Set());
    },
    onSettled: () => {
      setConfirming(undefined);
      void queryClient.invalidateQueries({ queryKey: ['executions'] });
    },
  });

  const set = (changes: Record<string, string | readonly string[] | undefined>): void => setParams({ ...changes, page: undefined });
  const clearFilters = (): void => set(Object.fromEntries(userFilterKeys.map((key) => [key, undefined])));

  const rows = executions.data?.results ?? [];
  const total = executions.data?.total ?? 0;
  const pageIds = rows.map((e) => e.id);
  const allSelected = pageIds.length > 0 && pageIds.every((id) => selected.has(id));
  const someSelected = pageIds.some((id) => selected.has(id));
  const selectAll = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (selectAll.current) selectAll.current.indeterminate = someSelected && !allSelected;
  }, [someSelected, allSelected]);

  const [sortField = '', sortDir = ''] = sort.split(':');
  const sortHeader = (column: SortColumn, label: string) => {
    const key = SORT_KEYS[column];
    const active = sortField === key;
    const dir = active ? (sortDir === 'desc' ? 'desc' : 'asc') : undefined;
    const next = active ? (dir === 'desc' ? 'asc' : 'desc') : column === 'start' || column === 'duration' ? 'desc' : 'asc';
    return (
      <th aria-sort={dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none'} scope="col">
        <button type="button" className="xl-sort" onClick={() => setParams({ sort: `${key}:${next}`, page: undefined })} title={`Sort by ${label.toLowerCase()}`}>
          {label}
          <span aria-hidden="true" className="xl-sort-mark">
            {dir === 'asc' ? '▲' : dir === 'desc' ? '▼' : '↕'}
          </span>
        </button>
      </th>
    );
  };

  const showNamespace = fixedNamespace === undefined;
  const showFlow = fixedFlowId === undefined;
  const selectedCount = selected.size;

  return (
    <section className="xl" aria-label="Executions" data-testid="execution-list">
      <div className="toolbar xl-filters">
        <label className="xl-filter">
          <span className="xf-sr-only">Search executions</span>
          <DebouncedInput
            type="search"
            placeholder="Search id, namespace, flow (/)"
            value={text}
            data-search
            data-testid="text-filter"
            onCommit={(value) => set({ q: value })}
          />
        </label>
        {showNamespace ? (
          <label className="xl-filter">
            <span className="xf-sr-only">Namespace</span>
            <DebouncedInput
              type="search"
              placeholder="Namespace"
              value={namespace}
              list={`${listId}-namespaces`}
              data-testid="namespace-filter"
              onCommit={(value) => set({ namespace: value })}
            />
            <datalist id={`${listId}-namespaces`}>
              {suggestions.namespaces.map((ns) => (
                <option key={ns} value={ns} />
              ))}
            </datalist>
          </label>
        ) : null}
        {showFlow ? (
          <label className="xl-filter">
            <span className="xf-sr-only">Flow</span>
            <DebouncedInput
              type="search"
              placeholder="Flow id"
              value={flowId}
              list={`${listId}-flows`}
              data-testid="flow-filter"
              onCommit={(value) => set({ flowId: value })}
            />
            <datalist id={`${listId}-flows`}>
              {suggestions.flows.map((id) => (
                <option key={id} value={id} />
              ))}
            </datalist>
          </label>
        ) : null}
        <StateFilter states={states} onChange={(next) => set({ state: next })} />
        <TimeRangeFilter value={timeRange} onChange={(changes) => set(changes)} />
        <LabelsFilter labels={labels} onChange={(next) => set({ labels: next })} />
        <div className="xl-refresh">
          <label className="row small" title="Reload the list every 5 seconds">
            <input
              type="checkbox"
              checked={autoRefresh}
              data-testid="auto-refresh"
              onChange={(event) => setParams({ refresh: event.target.checked ? undefined : 'off' })}
            />
            Auto-refresh
          </label>
          <button type="button" className="ghost" onClick={() => void executions.refetch()} aria-label="Refresh now" title="Refresh now">
            ⟳
          </button>
        </div>
      </div>

      {labels.length > 0 || hasFilters ? (
        <div className="filter-chips xl-active" aria-label="Active filters">
          {labels.map((label) => (
            <span key={label} className="filter-chip" data-testid="label-chip">
              {label}
              <button type="button" aria-label={`Remove the label filter ${label}`} onClick={() => set({ labels: labels.filter((l) => l !== label) })}>
                ×
              </button>
            </span>
          ))}
          {hasFilters ? (
            <button type="button" className="ghost small" onClick={clearFilters} data-testid="clear-filters-inline">
              Clear filters
            </button>
          ) : null}
        </div>
      ) : null}

      {selectedCount > 0 || confirming || bulk.isPending ? (
        <div className="xl-bulk" role="region" aria-label="Bulk actions" data-testid="bulk-bar">
          {confirming ? (
            <div role="alertdialog" aria-labelledby={`${listId}-confirm`} className="row">
              <strong id={`${listId}-confirm`}>
                {confirming === 'kill' ? 'Kill' : 'Restart'} {plural(selectedCount, 'execution')}?
              </strong>
              <span className="muted small">{confirming === 'kill' ? 'Running tasks are stopped; this cannot be undone.' : 'Only FAILED executions can be restarted.'}</span>
              <button
                ref={confirmButton}
                type="button"
                className={confirming === 'kill' ? 'danger' : 'primary'}
                disabled={bulk.isPending}
                data-testid="confirm-bulk"
                onClick={() => bulk.mutate({ verb: confirming, ids: [...selected] })}
              >
                {bulk.isPending ? 'Working…' : `${confirming === 'kill' ? 'Kill' : 'Restart'} ${plural(selectedCount, 'execution')}`}
              </button>
              <button type="button" onClick={() => setConfirming(undefined)} disabled={bulk.isPending}>
                Cancel
              </button>
            </div>
          ) : (
            <div className="row">
              <strong data-testid="selected-count">{selectedCount} selected</strong>
              <button type="button" className="danger" onClick={() => setConfirming('kill')} data-testid="bulk-kill">
                Kill
              </button>
              <button type="button" onClick={() => setConfirming('restart')} data-testid="bulk-restart">
                Restart
              </button>
              <button type="button" className="ghost" onClick={() => setSelected(new Set())}>
                Clear selection
              </button>
            </div>
          )}
        </div>
      ) : null}

      {bulk.error ? <ErrorMessage error={bulk.error} title="The bulk action failed" /> : null}
      {outcome ? <BulkResult outcome={outcome} onDismiss={() => setOutcome(undefined)} /> : null}

      {executions.isError ? (
        <div>
          <ErrorMessage error={executions.error} title="The executions could not be loaded" />
          {hasFilters ? (
            <button type="button" onClick={clearFilters}>
              Clear filters
            </button>
          ) : null}
        </div>
      ) : executions.isPending ? (
        <Spinner label="Loading executions…" />
      ) : rows.length === 0 ? (
        total > 0 ? (
          <PastTheLastPage total={total} noun="executions" onFirstPage={() => setParams({ page: undefined })} />
        ) : hasFilters ? (
          <NoMatch title="No executions match these filters" onClear={clearFilters}>
            Nothing matches{namespace && showNamespace ? ` in namespace ${namespace}` : ''}. Widen the time range or remove a filter.
          </NoMatch>
        ) : fixedNamespace !== undefined && fixedFlowId !== undefined ? (
          <EmptyState
            title="This flow has not run yet"
            action={
              <Link to={`/flows/${seg(fixedNamespace)}/${seg(fixedFlowId)}/execute`} className="button primary">
                Execute it
              </Link>
            }
          >
            Its executions appear here once it is executed, by hand or by one of its triggers.
          </EmptyState>
        ) : (
          <EmptyState
            title="No executions yet"
            action={
              <Link to="/flows" className="button primary">
                Go to the flows
              </Link>
            }
          >
            To start one, open a flow and click <strong>Execute</strong> on its page; its triggers (schedules, webhooks…) start executions too.
          </EmptyState>
        )
      ) : (
        <>
          <div className="xl-table-wrap">
            <table className="list xl-table" data-testid="executions-table" aria-busy={executions.isFetching || undefined}>
              <thead>
                <tr>
                  <th scope="col" className="xl-check-col">
                    <input
                      ref={selectAll}
                      type="checkbox"
                      aria-label="Select every execution on this page"
                      checked={allSelected}
                      data-testid="select-all"
                      onChange={(event) => {
                        const next = new Set(selected);
                        for (const id of pageIds) {
                          if (event.target.checked) next.add(id);
                          else next.delete(id);
                        }
                        setSelected(next);
                      }}
                    />
                  </th>
                  {sortHeader('state', 'State')}
                  {sortHeader('id', 'Id')}
                  {showNamespace ? sortHeader('namespace', 'Namespace') : null}
                  {showFlow ? sortHeader('flow', 'Flow') : null}
                  {sortHeader('start', 'Start date')}
                  {sortHeader('duration', 'Duration')}
                  <th scope="col">Labels</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((execution) => (
                  <tr
                    key={execution.id}
                    data-testid="execution-row"
                    data-execution-id={execution.id}
                    data-state={execution.state.current}
                    className={selected.has(execution.id) ? 'selected' : undefined}
                  >
                    <td className="xl-check-col">
                      <input
                        type="checkbox"
                        aria-label={`Select execution ${execution.id}`}
                        checked={selected.has(execution.id)}
                        onChange={(event) => {
                          const next = new Set(selected);
                          if (event.target.checked) next.add(execution.id);
                          else next.delete(execution.id);
                          setSelected(next);
                        }}
                      />
                    </td>
                    <td>
                      <StateBadge state={execution.state.current} />
                    </td>
                    <td>
                      <Link to={`/executions/${seg(execution.id)}`} className="mono" title={execution.id}>
                        {execution.id.slice(0, 8)}
                      </Link>
                    </td>
                    {showNamespace ? <td className="xl-ns">{execution.namespace}</td> : null}
                    {showFlow ? (
                      <td>
                        <Link to={`/flows/${seg(execution.namespace)}/${seg(execution.flowId)}`}>{execution.flowId}</Link>
                      </td>
                    ) : null}
                    <td className="xl-nowrap">
                      {formatDate(execution.state.startDate ?? execution.state.histories?.[0]?.date)}
                      {execution.scheduleDate && execution.state.current === 'CREATED' ? (
                        <div className="muted small">scheduled for {formatDate(execution.scheduleDate)}</div>
                      ) : null}
                    </td>
                    <td className="xl-nowrap">{formatDuration(stateDuration(execution.state))}</td>
                    <td>
                      {(execution.labels ?? []).filter((label) => !isOwnCorrelation(execution, label)).map((label) => {
                        const text = `${label.key}:${label.value}`;
                        return (
                          <button
                            key={text}
                            type="button"
                            className="chip xl-label"
                            title={`Show only executions labelled ${text}`}
                            onClick={() => {
                              if (!labels.includes(text)) set({ labels: [...labels, text] });
                            }}
                          >
                            {text}
                          </button>
                        );
                      })}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            page={page}
            size={size}
            total={total}
            noun={total === 1 ? 'execution' : 'executions'}
            onChange={(changes) => setParams({ page: changes.page !== undefined && changes.page > 1 ? String(changes.page) : undefined, ...(changes.size === undefined ? {} : { size: String(changes.size) }) })}
          />
        </>
      )}
    </section>
  );
}

/** What a bulk action did: how many executions it acted on, and each one it could not, with the reason. */
function BulkResult({ outcome, onDismiss }: { outcome: BulkOutcome; onDismiss: () => void }) {
  const done = outcome.verb === 'kill' ? 'Killed' : 'Restarted';
  const failed = outcome.invalids.length;
  return (
    <div className={`xl-result ${failed > 0 ? 'xl-result-partial' : ''}`} role="status" data-testid="bulk-result">
      <div className="row">
        <strong>
          {done} {outcome.count} of {plural(outcome.requested, 'execution')}.
        </strong>
        {outcome.verb === 'kill' && outcome.count > 0 ? <span className="muted small">They show KILLED once their tasks have stopped.</span> : null}
        <button type="button" className="ghost small xl-dismiss" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      </div>
      {failed > 0 ? (
        <>
          <p className="small">
            {plural(failed, 'execution')} could not be {outcome.verb === 'kill' ? 'killed' : 'restarted'}:
          </p>
          <ul className="xl-invalids">
            {outcome.invalids.map((invalid) => (
              <li key={invalid.id}>
                <Link to={`/executions/${seg(invalid.id)}`} className="mono">
                  {invalid.id.slice(0, 8)}
                </Link>{' '}
                {invalid.message}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}
