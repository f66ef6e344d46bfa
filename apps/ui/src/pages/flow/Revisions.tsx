/**
 * The revisions tab: every revision of the flow (oldest first) and a line diff of any two (`?from=&to=` in the URL,
 * previous against latest by default; `?view=split` for side by side).
 */
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api';
import LineDiff from '../../components/LineDiff';
import { EmptyState, ErrorMessage, Spinner } from '../../components/common';
import { formatDate } from '../../format';
import { seg, useSearchParams } from '../../router';
import type { Flow } from '../../types';
import { revisionsKey } from './keys';

export function Revisions({ flow }: { flow: Flow }) {
  const [params, set] = useSearchParams();
  const revisions = useQuery({
    queryKey: [...revisionsKey(flow.namespace, flow.id), flow.revision],
    queryFn: () => api<Flow[]>(`/flows/${seg(flow.namespace)}/${seg(flow.id)}/revisions`),
  });

  if (revisions.isPending) return <Spinner label="Loading revisions…" />;
  if (revisions.isError) return <ErrorMessage error={revisions.error} title="The revisions could not be read" />;

  const list = revisions.data;
  const latest = list[list.length - 1];
  if (!latest) return <EmptyState title="No revision">This flow has no stored revision.</EmptyState>;
  const numbers = list.map((r) => r.revision);
  const pick = (raw: string | null, fallback: number): number => {
    const n = Number(raw);
    return numbers.includes(n) ? n : fallback;
  };
  const to = pick(params.get('to'), latest.revision);
  const previous = numbers.filter((n) => n < to).pop() ?? numbers[0]!;
  const from = pick(params.get('from'), previous);
  const view = params.get('view') === 'split' ? 'split' : 'unified';
  const before = list.find((r) => r.revision === from);
  const after = list.find((r) => r.revision === to);

  const select = (which: 'from' | 'to', value: string): void => set({ [which]: value });

  return (
    <div className="revisions">
      <section className="card stack">
        <div className="toolbar revisions-toolbar">
          <label className="row">
            From
            <select value={from} onChange={(event) => select('from', event.target.value)} data-testid="diff-from" aria-label="Compare from revision">
              {list.map((r) => (
                <option key={r.revision} value={r.revision}>
                  revision {r.revision}
                  {r.deleted ? ' (deleted)' : ''}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="ghost" onClick={() => set({ from: String(to), to: String(from) })} title="Swap the two revisions" aria-label="Swap from and to">
            ⇄
          </button>
          <label className="row">
            To
            <select value={to} onChange={(event) => select('to', event.target.value)} data-testid="diff-to" aria-label="Compare to revision">
              {list.map((r) => (
                <option key={r.revision} value={r.revision}>
                  revision {r.revision}
                  {r.revision === latest.revision ? ' (latest)' : ''}
                  {r.deleted ? ' (deleted)' : ''}
                </option>
              ))}
            </select>
          </label>
          <span className="segmented-buttons" role="group" aria-label="Diff layout">
            <button type="button" aria-pressed={view === 'unified'} className={view === 'unified' ? 'active' : ''} onClick={() => set({ view: undefined })}>
              Unified
            </button>
            <button type="button" aria-pressed={view === 'split'} className={view === 'split' ? 'active' : ''} onClick={() => set({ view: 'split' })}>
              Side by side
            </button>
          </span>
        </div>
        {list.length === 1 ? (
          <p className="muted" data-testid="single-revision">
            This flow has one revision only: deploy a change to compare two. Its source:
          </p>
        ) : null}
        {before && after ? (
          list.length === 1 ? (
            <pre className="revision-source">{after.source ?? ''}</pre>
          ) : (
            <LineDiff before={before.source ?? ''} after={after.source ?? ''} mode={view} beforeLabel={`revision ${from}`} afterLabel={`revision ${to}`} />
          )
        ) : null}
      </section>
      <section className="card">
        <h2 className="section-title">Revisions</h2>
        <table className="list" data-testid="revisions-table">
          <thead>
            <tr>
              <th>Revision</th>
              <th>Saved</th>
              <th>Lines</th>
              <th>Compare</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r, i) => {
              const prior = list[i - 1];
              return (
                <tr key={r.revision} data-revision={r.revision} className={r.revision === from || r.revision === to ? 'selected-row' : ''}>
                  <td>
                    <strong>{r.revision}</strong>
                    {r.revision === latest.revision ? <span className="chip">latest</span> : null}
                    {r.deleted ? <span className="chip chip-warn">deleted</span> : null}
                  </td>
                  <td className="nowrap">{r.updated ? formatDate(r.updated) : <span className="muted">—</span>}</td>
                  <td>{r.source ? r.source.split('\n').length : 0}</td>
                  <td>
                    {prior ? (
                      <button type="button" className="small" onClick={() => set({ from: String(prior.revision), to: String(r.revision) })}>
                        Changes from {prior.revision}
                      </button>
                    ) : (
                      <span className="muted small">first revision</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
    </div>
  );
}
