/**
 * `/flows`: every flow, searchable by text, namespace (the tree on the side, prefixes nest) and labels, paged. Every
 * filter lives in the query string (`?q=&namespace=&label=k:v&page=&size=&sort=`), so a view can be shared and a
 * reload shows the same rows. The cold-load page: it imports nothing heavy.
 */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { api, query } from '../api';
import { EmptyState, ErrorMessage, PageHeader, Spinner, StateBadge } from '../components/common';
import { formatDate } from '../format';
import { Link, seg, useSearchParams } from '../router';
import type { Execution, Flow, Paged } from '../types';
import { ancestors, namespaceTree } from './flow/namespaces';
import type { NamespaceNode } from './flow/namespaces';
import './flows.css';

const SIZES = [10, 25, 50, 100] as const;
const DEFAULT_SIZE = 25;
const SORTS: readonly { value: string; label: string }[] = [
  { value: '', label: 'Namespace, id' },
  { value: 'id:asc', label: 'Id' },
  { value: 'id:desc', label: 'Id (Z to A)' },
  { value: 'revision:desc', label: 'Most revisions' },
];
/** The namespace tree reads at most this many flows (pages of 500, the API's largest). */
const TREE_MAX = 2000;

function positive(raw: string | null, fallback: number): number {
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** The search's query string: a label `key:value` must match exactly, a bare text is looked for in labels. */
function searchPath(filters: { q: string; namespace: string; labels: readonly string[]; page: number; size: number; sort: string }): string {
  const exact = filters.labels.filter((l) => l.indexOf(':') > 0);
  const contains = filters.labels.filter((l) => l.indexOf(':') <= 0);
  return `/flows/search${query({
    q: filters.q,
    namespace: filters.namespace,
    'filters[labels][EQUALS]': exact,
    'filters[labels][CONTAINS]': contains,
    page: filters.page,
    size: filters.size,
    sort: filters.sort,
  })}`;
}

/** The list's filters as the URL gives them. */
function filtersOf(params: URLSearchParams): { q: string; namespace: string; labels: string[]; page: number; size: number; sort: string } {
  const sizeParam = positive(params.get('size'), DEFAULT_SIZE);
  return {
    q: params.get('q') ?? '',
    namespace: params.get('namespace') ?? '',
    labels: params.getAll('label'),
    page: positive(params.get('page'), 1),
    size: (SIZES as readonly number[]).includes(sizeParam) ? sizeParam : DEFAULT_SIZE,
    sort: SORTS.some((s) => s.value === params.get('sort')) ? (params.get('sort') ?? '') : '',
  };
}

/**
 * The list's query for the filters of `params`. main.tsx starts it before the first render when the page opened is
 * the flows page, so the request does not wait for React.
 */
export function flowsSearchQuery(params: URLSearchParams) {
  const filters = filtersOf(params);
  return { queryKey: ['flows', 'search', filters] as const, queryFn: () => api<Paged<Flow>>(searchPath(filters)) };
}

export default function FlowsPage() {
  const [params, set] = useSearchParams();
  const { q, namespace, labels, page, size, sort } = filtersOf(params);
  const filtered = q !== '' || namespace !== '' || labels.length > 0;

  const search = useQuery({
    ...flowsSearchQuery(params),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });

  const clear = (): void => set({ q: undefined, namespace: undefined, label: undefined, page: undefined });

  return (
    <div className="flows-page">
      <PageHeader
        title="Flows"
        subtitle={search.data ? `${search.data.total} flow${search.data.total === 1 ? '' : 's'}${filtered ? ' match' + (search.data.total === 1 ? 'es' : '') : ''}` : undefined}
        actions={
          <Link to="/flows/new" className="button primary" data-testid="create-flow">
            + Create flow
          </Link>
        }
      />
      <div className="flows-layout">
        <NamespaceTree selected={namespace} onSelect={(ns) => set({ namespace: ns || undefined, page: undefined }, { push: true })} />
        <section className="flows-main" aria-label="Flow list">
          <Filters q={q} labels={labels} namespace={namespace} sort={sort} set={set} onClear={clear} />
          {search.isPending ? (
            <Spinner label="Loading flows…" />
          ) : search.isError ? (
            <ErrorMessage error={search.error} title="The flows could not be listed" />
          ) : search.data.results.length === 0 ? (
            <div data-testid="flows-empty">
              {page > 1 && search.data.total > 0 ? (
                <EmptyState title="No flow on this page" action={<button type="button" onClick={() => set({ page: undefined })}>Back to the first page</button>} />
              ) : filtered ? (
                <EmptyState
                  title="No flow matches these filters"
                  action={
                    <button type="button" onClick={clear} data-testid="clear-filters">
                      Clear the filters
                    </button>
                  }
                >
                  Nothing{namespace ? ` in namespace ${namespace}` : ''}
                  {q ? ` with “${q}” in its id or namespace` : ''}
                  {labels.length > 0 ? ` labelled ${labels.join(', ')}` : ''}. Try fewer filters.
                </EmptyState>
              ) : (
                <EmptyState
                  title="No flows yet"
                  action={
                    <Link to="/flows/new" className="button primary">
                      + Create flow
                    </Link>
                  }
                >
                  A flow is a YAML file of tasks. Write one here, deploy it from a terminal with <code>sluice flow deploy my-flow.yml</code>, or
                  send it to the API: <code>POST /api/v1/flows</code> with the YAML as the body (<code>content-type: application/x-yaml</code>).
                </EmptyState>
              )}
            </div>
          ) : (
            <>
              <FlowTable flows={search.data.results} onNamespace={(ns) => set({ namespace: ns, page: undefined }, { push: true })} onLabel={(label) => !labels.includes(label) && set({ label: [...labels, label], page: undefined }, { push: true })} />
              <Pager page={page} size={size} total={search.data.total} fetching={search.isFetching} set={set} />
            </>
          )}
        </section>
      </div>
    </div>
  );
}

type SetParams = ReturnType<typeof useSearchParams>[1];

function Filters({ q, labels, namespace, sort, set, onClear }: { q: string; labels: string[]; namespace: string; sort: string; set: SetParams; onClear: () => void }) {
  const [text, setText] = useState(q);
  const pushed = useRef(q);
  const [label, setLabel] = useState('');

  // The URL changed from elsewhere (back button, clear): show it.
  useEffect(() => {
    if (q !== pushed.current) {
      pushed.current = q;
      setText(q);
    }
  }, [q]);

  // Typing updates the URL once the user pauses.
  useEffect(() => {
    if (text === pushed.current) return;
    const timer = setTimeout(() => {
      pushed.current = text;
      set({ q: text.trim() || undefined, page: undefined });
    }, 250);
    return () => clearTimeout(timer);
  }, [text, set]);

  const addLabel = (event: FormEvent): void => {
    event.preventDefault();
    const value = label.trim();
    if (!value) return;
    if (!labels.includes(value)) set({ label: [...labels, value], page: undefined }, { push: true });
    setLabel('');
  };

  return (
    <div className="flows-filters">
      <div className="toolbar">
        <input
          type="search"
          data-search
          data-testid="flows-search"
          placeholder="Search id or namespace"
          title="Search flows (press / to come here)"
          aria-label="Search flows by id or namespace"
          value={text}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter') {
              pushed.current = text;
              set({ q: text.trim() || undefined, page: undefined });
            }
          }}
        />
        <form onSubmit={addLabel} className="row label-form">
          <input
            type="text"
            value={label}
            onChange={(event) => setLabel(event.target.value)}
            placeholder="label key:value"
            aria-label="Filter by label: key:value, or a text to find in a label"
            data-testid="label-input"
          />
          <button type="submit" disabled={!label.trim()}>
            Add label filter
          </button>
        </form>
        <label className="row small muted">
          Sort
          <select value={sort} onChange={(event) => set({ sort: event.target.value || undefined, page: undefined })} aria-label="Sort flows">
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {namespace || labels.length > 0 || q ? (
        <div className="row active-filters" data-testid="active-filters">
          <span className="muted small">Filters:</span>
          {namespace ? (
            <FilterChip label={`namespace ${namespace}`} onRemove={() => set({ namespace: undefined, page: undefined })} />
          ) : null}
          {q ? <FilterChip label={`text “${q}”`} onRemove={() => set({ q: undefined, page: undefined })} /> : null}
          {labels.map((l) => (
            <FilterChip key={l} label={l.indexOf(':') > 0 ? `label ${l}` : `label contains “${l}”`} onRemove={() => set({ label: labels.filter((x) => x !== l), page: undefined })} />
          ))}
          <button type="button" className="ghost small" onClick={onClear}>
            Clear all
          </button>
        </div>
      ) : null}
    </div>
  );
}

function FilterChip({ label, onRemove }: { label: string; onRemove: () => void }) {
  return (
    <span className="chip filter-chip">
      {label}
      <button type="button" className="chip-remove" onClick={onRemove} aria-label={`Remove filter ${label}`} title="Remove this filter">
        ×
      </button>
    </span>
  );
}

function FlowTable({ flows, onNamespace, onLabel }: { flows: Flow[]; onNamespace: (ns: string) => void; onLabel: (label: string) => void }) {
  return (
    <table className="list flows-table" data-testid="flows-table">
      <thead>
        <tr>
          <th>Flow</th>
          <th>Namespace</th>
          <th>Labels</th>
          <th className="num">Revision</th>
          <th>Last execution</th>
          <th>
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {flows.map((flow) => {
          const base = `/flows/${seg(flow.namespace)}/${seg(flow.id)}`;
          return (
            <tr key={`${flow.namespace}/${flow.id}`} data-testid="flow-row" data-flow={`${flow.namespace}.${flow.id}`}>
              <td className="flow-cell">
                <Link to={base} className="flow-id">
                  {flow.id}
                </Link>
                {flow.disabled ? <span className="chip">disabled</span> : null}
                {flow.description ? <div className="muted small flow-description">{flow.description}</div> : null}
              </td>
              <td>
                <button type="button" className="link-button mono" onClick={() => onNamespace(flow.namespace)} title={`Show only namespace ${flow.namespace}`}>
                  {flow.namespace}
                </button>
              </td>
              <td>
                {(flow.labels ?? []).map((l) => (
                  <button type="button" key={`${l.key}:${l.value}`} className="chip chip-button" onClick={() => onLabel(`${l.key}:${l.value}`)} title="Filter by this label">
                    {l.key}:{l.value}
                  </button>
                ))}
              </td>
              <td className="num">{flow.revision}</td>
              <td>
                <LastExecution namespace={flow.namespace} flowId={flow.id} />
              </td>
              <td className="actions">
                <Link to={`${base}/execute`} className="button small" aria-label={`Execute ${flow.namespace}.${flow.id}`}>
                  ▶ Execute
                </Link>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** False until the frame after the first render has been painted: work that can wait waits for it. */
function useAfterPaint(): boolean {
  const [painted, setPainted] = useState(false);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const frame = requestAnimationFrame(() => {
      timer = setTimeout(() => setPainted(true), 0);
    });
    return () => {
      cancelAnimationFrame(frame);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, []);
  return painted;
}

/** The flow's newest execution: one small request per row, once the list has been painted. */
function LastExecution({ namespace, flowId }: { namespace: string; flowId: string }) {
  const painted = useAfterPaint();
  const last = useQuery({
    enabled: painted,
    queryKey: ['executions', 'last', namespace, flowId],
    queryFn: () => api<Paged<Execution>>(`/executions/search${query({ 'filters[namespace][EQUALS]': namespace, flowId, size: 1 })}`),
    staleTime: 15_000,
  });
  if (last.isPending) return <span className="muted small">…</span>;
  if (last.isError) return <span className="muted small" title={last.error instanceof Error ? last.error.message : ''}>unavailable</span>;
  const execution = last.data.results[0];
  if (!execution) return <span className="muted small">never ran</span>;
  return (
    <Link to={`/executions/${seg(execution.id)}`} className="last-execution" title={`Execution ${execution.id}`}>
      <StateBadge state={execution.state.current} />
      <span className="muted small">{formatDate(execution.state.startDate ?? execution.state.histories?.[0]?.date)}</span>
    </Link>
  );
}

function Pager({ page, size, total, fetching, set }: { page: number; size: number; total: number; fetching: boolean; set: SetParams }) {
  const pages = Math.max(1, Math.ceil(total / size));
  const from = total === 0 ? 0 : (page - 1) * size + 1;
  const to = Math.min(total, page * size);
  return (
    <nav className="pager row" aria-label="Pages">
      <span className="muted small" data-testid="flows-count">
        {from}–{to} of {total}
        {fetching ? ' · refreshing…' : ''}
      </span>
      <span className="pager-buttons row">
        <button type="button" disabled={page <= 1} onClick={() => set({ page: page - 1 > 1 ? String(page - 1) : undefined }, { push: true })}>
          ← Previous
        </button>
        <span className="small">
          Page {page} of {pages}
        </span>
        <button type="button" disabled={page >= pages} onClick={() => set({ page: String(page + 1) }, { push: true })}>
          Next →
        </button>
        <label className="row small muted">
          Per page
          <select value={size} onChange={(event) => set({ size: event.target.value === String(DEFAULT_SIZE) ? undefined : event.target.value, page: undefined })}>
            {SIZES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </span>
    </nav>
  );
}

/** Every namespace that has a flow, as a tree; clicking one filters the list by it (and the namespaces under it). */
function NamespaceTree({ selected, onSelect }: { selected: string; onSelect: (namespace: string) => void }) {
  const namespaces = useQuery({
    queryKey: ['flows', 'namespaces'],
    queryFn: async () => {
      const counts = new Map<string, number>();
      let total = 0;
      let read = 0;
      for (let page = 1; read < TREE_MAX; page++) {
        const found = await api<Paged<Flow>>(`/flows/search${query({ page, size: 500 })}`);
        total = found.total;
        for (const flow of found.results) counts.set(flow.namespace, (counts.get(flow.namespace) ?? 0) + 1);
        read += found.results.length;
        if (found.results.length < 500 || read >= total) break;
      }
      return { tree: namespaceTree(counts), total, read };
    },
    staleTime: 30_000,
    refetchInterval: 60_000,
  });
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const open = useMemo(() => new Set(selected ? ancestors(selected) : []), [selected]);
  const toggle = (path: string): void =>
    setCollapsed((current) => {
      const next = new Set(current);
      if (next.has(path)) next.delete(path);
      else next.add(path);
      return next;
    });

  return (
    <aside className="namespace-tree card" aria-label="Namespaces" data-testid="namespace-tree">
      <h2 className="small">Namespaces</h2>
      {namespaces.isPending ? (
        <Spinner />
      ) : namespaces.isError ? (
        <ErrorMessage error={namespaces.error} title="The namespaces could not be read" />
      ) : namespaces.data.tree.length === 0 ? (
        <p className="muted small">No namespace yet: a flow's namespace appears here once it is deployed.</p>
      ) : (
        <ul className="ns-list">
          <li>
            <button type="button" className={`ns-item${selected === '' ? ' active' : ''}`} onClick={() => onSelect('')} aria-pressed={selected === ''}>
              <span className="ns-name">All namespaces</span>
              <span className="ns-count">{namespaces.data.total}</span>
            </button>
          </li>
          {namespaces.data.tree.map((node) => (
            <NamespaceItem key={node.path} node={node} selected={selected} collapsed={collapsed} open={open} toggle={toggle} onSelect={onSelect} />
          ))}
        </ul>
      )}
      {namespaces.data && namespaces.data.read < namespaces.data.total ? (
        <p className="muted small">Built from the first {namespaces.data.read} of {namespaces.data.total} flows.</p>
      ) : null}
    </aside>
  );
}

function NamespaceItem({
  node,
  selected,
  collapsed,
  open,
  toggle,
  onSelect,
}: {
  node: NamespaceNode;
  selected: string;
  collapsed: ReadonlySet<string>;
  open: ReadonlySet<string>;
  toggle: (path: string) => void;
  onSelect: (namespace: string) => void;
}) {
  const hasChildren = node.children.length > 0;
  const expanded = hasChildren && (!collapsed.has(node.path) || (open.has(node.path) && node.path !== selected));
  const active = node.path === selected;
  return (
    <li>
      <div className="ns-row">
        {hasChildren ? (
          <button type="button" className="ns-toggle ghost" onClick={() => toggle(node.path)} aria-expanded={expanded} aria-label={`${expanded ? 'Collapse' : 'Expand'} ${node.path}`}>
            {expanded ? '▾' : '▸'}
          </button>
        ) : (
          <span className="ns-toggle" aria-hidden="true" />
        )}
        <button type="button" className={`ns-item${active ? ' active' : ''}`} onClick={() => onSelect(node.path)} aria-pressed={active} data-namespace={node.path} title={node.path}>
          <span className="ns-name">{node.name}</span>
          <span className="ns-count" title={`${node.total} flow${node.total === 1 ? '' : 's'} in ${node.path} and under it`}>
            {node.total}
          </span>
        </button>
      </div>
      {expanded ? (
        <ul>
          {node.children.map((child) => (
            <NamespaceItem key={child.path} node={child} selected={selected} collapsed={collapsed} open={open} toggle={toggle} onSelect={onSelect} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}
