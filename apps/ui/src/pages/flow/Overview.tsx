/**
 * The flow's overview: its executions of the last 30 days per day and state (stacked bars drawn in SVG), the
 * success rate, and its last 10 executions.
 */
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api, query } from '../../api';
import { EmptyState, ErrorMessage, Spinner, StateBadge } from '../../components/common';
import { formatDate, formatDuration, stateDuration } from '../../format';
import { Link, seg } from '../../router';
import type { Execution, Flow, Paged } from '../../types';
import { bucketByDay, chartStart, executionStart, STACK_ORDER, summarize } from './chart';
import type { DayBucket } from './chart';

const DAYS = 30;
/** The API's largest page, and how many pages the chart reads at most. */
const PAGE = 500;
const MAX_PAGES = 4;

export function Overview({ flow }: { flow: Flow }) {
  const { namespace, id } = flow;
  const base = `/flows/${seg(namespace)}/${seg(id)}`;
  const exact = { 'filters[namespace][EQUALS]': namespace, flowId: id };

  const recent = useQuery({
    queryKey: ['executions', 'flow-last', namespace, id],
    queryFn: () => api<Paged<Execution>>(`/executions/search${query({ ...exact, size: 10 })}`),
    refetchInterval: 10_000,
  });

  const start = useMemo(() => chartStart(DAYS), []);
  const month = useQuery({
    queryKey: ['executions', 'flow-month', namespace, id, start.toISOString()],
    queryFn: async () => {
      const results: Execution[] = [];
      let total = 0;
      for (let page = 1; page <= MAX_PAGES; page++) {
        const found = await api<Paged<Execution>>(`/executions/search${query({ ...exact, startDate: start.toISOString(), page, size: PAGE })}`);
        total = found.total;
        results.push(...found.results);
        if (found.results.length < PAGE || results.length >= total) break;
      }
      return { results, total };
    },
    refetchInterval: 30_000,
  });

  if (recent.isPending) return <Spinner label="Loading executions…" />;
  if (recent.isError) return <ErrorMessage error={recent.error} title="The executions could not be read" />;

  if (recent.data.total === 0) {
    return (
      <div data-testid="overview-empty">
        <EmptyState
          title="This flow never ran"
          action={
            <Link to={`${base}/execute`} className="button primary">
              ▶ Execute it now
            </Link>
          }
        >
          Run it from here, from a terminal with <code>sluice execute {namespace} {id}</code>, or with <code>POST /api/v1/executions/{namespace}/{id}</code>.
          {flow.triggers && flow.triggers.length > 0 ? ' Its triggers will also start executions.' : ''}
        </EmptyState>
      </div>
    );
  }

  return (
    <div className="overview stack">
      <section className="card" aria-labelledby="overview-chart-title">
        <div className="row overview-head">
          <h2 id="overview-chart-title" className="section-title">
            Executions, last {DAYS} days
          </h2>
        </div>
        {month.isPending ? (
          <Spinner />
        ) : month.isError ? (
          <ErrorMessage error={month.error} title="The executions of the last 30 days could not be read" />
        ) : (
          <MonthView executions={month.data.results} total={month.data.total} />
        )}
      </section>
      <section className="card" aria-labelledby="overview-last-title">
        <div className="row overview-head">
          <h2 id="overview-last-title" className="section-title">
            Last executions
          </h2>
          <Link to={`${base}/executions`} className="small" style={{ marginLeft: 'auto' }}>
            All {recent.data.total} executions →
          </Link>
        </div>
        <table className="list" data-testid="last-executions">
          <thead>
            <tr>
              <th>Execution</th>
              <th>State</th>
              <th>Started</th>
              <th>Duration</th>
              <th>Revision</th>
            </tr>
          </thead>
          <tbody>
            {recent.data.results.map((execution) => (
              <tr key={execution.id}>
                <td>
                  <Link to={`/executions/${seg(execution.id)}`} className="mono">
                    {execution.id}
                  </Link>
                </td>
                <td>
                  <StateBadge state={execution.state.current} />
                </td>
                <td className="nowrap">{formatDate(executionStart(execution))}</td>
                <td className="nowrap">{formatDuration(stateDuration(execution.state))}</td>
                <td>{execution.flowRevision}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

function MonthView({ executions, total }: { executions: Execution[]; total: number }) {
  const buckets = useMemo(() => bucketByDay(executions, DAYS), [executions]);
  const summary = useMemo(() => summarize(executions), [executions]);
  const partial = executions.length < total;
  const oldest = partial ? executions[executions.length - 1] : undefined;
  return (
    <>
      <dl className="overview-stats" data-testid="overview-stats">
        <div>
          <dt>Executions</dt>
          <dd>{total}</dd>
        </div>
        <div>
          <dt>Success rate</dt>
          <dd data-testid="success-rate">
            {summary.successRate === undefined ? '—' : `${Math.round(summary.successRate * 1000) / 10}%`}
            <span className="muted small"> {summary.ended > 0 ? `${summary.succeeded} of ${summary.ended} ended` : 'none ended yet'}</span>
          </dd>
        </div>
        <div>
          <dt>Failed or killed</dt>
          <dd>{summary.failed}</dd>
        </div>
        <div>
          <dt>Not ended</dt>
          <dd>{summary.running}</dd>
        </div>
        <div>
          <dt>Median duration</dt>
          <dd>{summary.medianDuration === undefined ? '—' : formatDuration(summary.medianDuration)}</dd>
        </div>
      </dl>
      {total === 0 ? (
        <p className="muted">No execution in the last {DAYS} days.</p>
      ) : (
        <StackedBars buckets={buckets} />
      )}
      {partial ? (
        <p className="muted small">
          Counted from the newest {executions.length} of {total} executions
          {oldest ? ` (back to ${formatDate(executionStart(oldest))})` : ''}: earlier days are incomplete.
        </p>
      ) : null}
    </>
  );
}

/** Stacked bars, one per day, one segment per state; hovering or focusing a bar tells its counts. */
function StackedBars({ buckets }: { buckets: DayBucket[] }) {
  const [active, setActive] = useState<number | undefined>(undefined);
  const width = 720;
  const height = 160;
  const left = 34;
  const bottom = 22;
  const top = 8;
  const plotH = height - bottom - top;
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const niceMax = niceCeil(max);
  const slot = (width - left) / buckets.length;
  const barW = Math.max(3, slot * 0.7);
  const present = STACK_ORDER.filter((s) => buckets.some((b) => (b.counts[s] ?? 0) > 0));
  const shown = active === undefined ? undefined : buckets[active];

  return (
    <div className="bars">
      <svg viewBox={`0 0 ${width} ${height}`} className="bars-svg" role="img" aria-label={`Executions per day over the last ${buckets.length} days, by state`} data-testid="executions-chart">
        {(Number.isInteger(niceMax / 2) ? [0, 0.5, 1] : [0, 1]).map((f) => {
          const y = top + plotH * (1 - f);
          return (
            <g key={f}>
              <line x1={left} x2={width} y1={y} y2={y} className="bars-grid" />
              <text x={left - 6} y={y + 4} textAnchor="end" className="bars-axis">
                {Math.round(niceMax * f)}
              </text>
            </g>
          );
        })}
        {buckets.map((bucket, i) => {
          const x = left + i * slot + (slot - barW) / 2;
          let y = top + plotH;
          const label = `${bucket.key}: ${bucket.total} execution${bucket.total === 1 ? '' : 's'}${bucket.total ? ' (' + present.filter((s) => bucket.counts[s]).map((s) => `${bucket.counts[s]} ${s}`).join(', ') + ')' : ''}`;
          return (
            <g
              key={bucket.key}
              className={`bars-day${active === i ? ' active' : ''}`}
              tabIndex={0}
              role="img"
              aria-label={label}
              data-day={bucket.key}
              data-total={bucket.total}
              onMouseEnter={() => setActive(i)}
              onMouseLeave={() => setActive(undefined)}
              onFocus={() => setActive(i)}
              onBlur={() => setActive(undefined)}
            >
              <title>{label}</title>
              <rect x={left + i * slot} y={top} width={slot} height={plotH} className="bars-hit" />
              {STACK_ORDER.map((state) => {
                const count = bucket.counts[state] ?? 0;
                if (count === 0) return null;
                const h = (count / niceMax) * plotH;
                y -= h;
                return <rect key={state} x={x} y={y} width={barW} height={Math.max(h, 1)} fill={`var(--state-${state})`} rx={1.5} />;
              })}
              {i % 5 === (buckets.length - 1) % 5 ? (
                <text x={left + i * slot + slot / 2} y={height - 6} textAnchor="middle" className="bars-axis">
                  {bucket.date.getDate()}/{bucket.date.getMonth() + 1}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <div className="row bars-legend small">
        {shown ? (
          <span>
            <strong>{shown.key}</strong>: {shown.total} execution{shown.total === 1 ? '' : 's'}
            {present
              .filter((s) => shown.counts[s])
              .map((s) => (
                <span key={s} className="legend-item">
                  <span className="legend-swatch" style={{ background: `var(--state-${s})` }} /> {shown.counts[s]} {s}
                </span>
              ))}
          </span>
        ) : (
          present.map((s) => (
            <span key={s} className="legend-item">
              <span className="legend-swatch" style={{ background: `var(--state-${s})` }} /> {s}
            </span>
          ))
        )}
      </div>
    </div>
  );
}

/** 1, 2, 5, 10, 20, 50... at or above `n`. */
function niceCeil(n: number): number {
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}
