/**
 * The Gantt tab: the task-run tree as a light HTML/CSS chart. One row per task run (indented by nesting, loop values
 * shown), its attempts as bars coloured by state on a shared time axis (a running bar grows), virtualised rows (10,000
 * task runs stay responsive). A row's details (attempts, outputs, its log lines, replay from it) open beside it; the
 * selected run is in the URL (`?taskRun=<id>`).
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { KeyboardEvent } from 'react';
import { EmptyState, ErrorMessage, Spinner, StateBadge } from '../../components/common';
import { formatDate, formatDuration } from '../../format';
import { useSearchParams } from '../../router';
import { isTerminal } from '../../types';
import type { Execution, TaskRun } from '../../types';
import { ReplayButton } from './actions';
import { logLive, useLogLive } from './live';
import { LogList } from './loglist';
import { childrenOf, ganttRows, runLabel, runSegments, stateSpan, tickLabel, ticks, timeRange } from './model';
import type { GanttRow, Segment } from './model';
import { useNow, ValueTree } from './parts';

const ROW_HEIGHT = 30;
/** The sticky axis above the rows, inside the scroller (its height is set in execution.css). */
const HEAD_HEIGHT = 30;

const pct = (value: number, range: { start: number; end: number }): number => ((value - range.start) / (range.end - range.start)) * 100;

function Bar({ segment, range, faint }: { segment: Segment; range: { start: number; end: number }; faint?: boolean }) {
  const left = Math.max(0, Math.min(100, pct(segment.start, range)));
  const right = Math.max(left, Math.min(100, pct(segment.end, range)));
  return (
    <span
      className={`gantt-bar${faint ? ' gantt-bar-span' : ''}${segment.running ? ' gantt-bar-running' : ''}`}
      data-state={segment.state}
      style={{ left: `${left}%`, width: `max(3px, ${right - left}%)`, background: `var(--state-${segment.state})` }}
    />
  );
}

interface Tip {
  readonly run: TaskRun;
  readonly x: number;
  readonly y: number;
}

function runDuration(run: TaskRun, now: number): number | undefined {
  const span = stateSpan(run.state, now);
  return span ? span.end - span.start : undefined;
}

export default function GanttTab({ execution }: { execution: Execution }) {
  const runs = useMemo(() => execution.taskRunList ?? [], [execution.taskRunList]);
  const running = !isTerminal(execution.state.current);
  const now = useNow(running);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const rows = useMemo(() => ganttRows(runs, collapsed), [runs, collapsed]);
  const parents = useMemo(() => [...childrenOf(runs).children.keys()], [runs]);
  const range = useMemo(() => timeRange(execution, now), [execution, now]);
  const axis = useMemo(() => ticks(range.end - range.start), [range]);
  const [params, setParams] = useSearchParams();
  const selectedId = params.get('taskRun') ?? undefined;
  const selected = selectedId ? runs.find((run) => run.id === selectedId) : undefined;
  const [tip, setTip] = useState<Tip | undefined>();

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    scrollMargin: HEAD_HEIGHT,
    scrollPaddingStart: HEAD_HEIGHT,
    getItemKey: (index) => rows[index]?.run.id ?? index,
  });

  // A run selected from elsewhere (a link, the topology) is scrolled into view.
  const selectedIndex = selectedId ? rows.findIndex((row) => row.run.id === selectedId) : -1;
  useEffect(() => {
    if (selectedIndex >= 0) virtualizer.scrollToIndex(selectedIndex, { align: 'auto' });
    // Only when the selection changes (or its row first appears), not as rows move.
  }, [selectedId, selectedIndex >= 0]);

  const toggle = useCallback((id: string, open?: boolean) => {
    setCollapsed((before) => {
      const next = new Set(before);
      const isOpen = !next.has(id);
      if (open ?? !isOpen) next.delete(id);
      else next.add(id);
      return next;
    });
  }, []);

  const select = (run: TaskRun | undefined): void => setParams({ taskRun: run?.id });

  const focusRow = (index: number): void => {
    const target = Math.max(0, Math.min(rows.length - 1, index));
    virtualizer.scrollToIndex(target);
    requestAnimationFrame(() => {
      scroller.current?.querySelector<HTMLButtonElement>(`[data-row-index="${target}"] .gantt-select`)?.focus();
    });
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>, index: number, row: GanttRow): void => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      focusRow(index + (event.key === 'ArrowDown' ? 1 : -1));
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      focusRow(event.key === 'Home' ? 0 : rows.length - 1);
    } else if ((event.key === 'ArrowRight' || event.key === 'ArrowLeft') && row.childCount > 0) {
      event.preventDefault();
      toggle(row.run.id, event.key === 'ArrowRight');
    } else if (event.key === 'Escape' && selected) {
      select(undefined);
    }
  };

  if (runs.length === 0) {
    return running ? (
      <EmptyState title="No task has started yet">The execution is {execution.state.current}: its task runs appear here as they start.</EmptyState>
    ) : (
      <EmptyState title="No task run">This execution ended ({execution.state.current}) before any task ran. Its logs may tell why.</EmptyState>
    );
  }

  return (
    <div className={`gantt-layout${selected ? ' with-details' : ''}`}>
      <section className="gantt card" aria-label="Task runs over time">
        <div className="toolbar gantt-toolbar">
          <span className="muted small" data-testid="gantt-count">
            {runs.length} task run{runs.length === 1 ? '' : 's'}
          </span>
          {parents.length > 0 ? (
            <>
              <button type="button" className="ghost" onClick={() => setCollapsed(new Set())} disabled={collapsed.size === 0}>
                Expand all
              </button>
              <button type="button" className="ghost" onClick={() => setCollapsed(new Set(parents))} disabled={collapsed.size === parents.length}>
                Collapse all
              </button>
            </>
          ) : null}
          <span className="exec-spacer" />
          <span className="muted small">
            {formatDate(range.start)} → {running ? 'now' : formatDate(range.end)} · {formatDuration(range.end - range.start)}
          </span>
        </div>
        <div className="gantt-scroll" ref={scroller} onScroll={() => setTip(undefined)}>
          <div className="gantt-head" aria-hidden="true">
            <span className="gantt-head-label">Task</span>
            <span className="gantt-axis">
              {axis.map((t) => (
                <span key={t} className="gantt-tick" style={{ left: `${(t / (range.end - range.start)) * 100}%` }}>
                  {tickLabel(t)}
                </span>
              ))}
            </span>
            <span className="gantt-head-duration">Duration</span>
          </div>
          <div className="gantt-rows" role="list" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((item) => {
              const row = rows[item.index];
              if (!row) return null;
              const { run, depth, childCount } = row;
              const { span, attempts } = runSegments(run, now);
              const duration = runDuration(run, now);
              const isSelected = run.id === selectedId;
              const label = runLabel(run);
              const open = !collapsed.has(run.id);
              return (
                <div
                  key={item.key}
                  role="listitem"
                  className={`gantt-row${isSelected ? ' selected' : ''}`}
                  data-row-index={item.index}
                  data-testid="gantt-row"
                  data-task-id={run.taskId}
                  data-state={run.state.current}
                  style={{ transform: `translateY(${item.start - HEAD_HEIGHT}px)`, height: ROW_HEIGHT }}
                  onKeyDown={(event) => onKeyDown(event, item.index, row)}
                  onClick={() => select(isSelected ? undefined : run)}
                  onMouseMove={(event) => setTip({ run, x: event.clientX, y: event.clientY })}
                  onMouseLeave={() => setTip(undefined)}
                >
                  <span className="gantt-label-cell" style={{ paddingLeft: 8 + depth * 16 }}>
                    {childCount > 0 ? (
                      <button
                        type="button"
                        className="gantt-toggle"
                        aria-expanded={open}
                        aria-label={`${open ? 'Collapse' : 'Expand'} ${label} (${childCount} task run${childCount === 1 ? '' : 's'} inside)`}
                        onClick={(event) => {
                          event.stopPropagation();
                          toggle(run.id);
                        }}
                        tabIndex={-1}
                      >
                        {open ? '▾' : '▸'}
                      </button>
                    ) : (
                      <span className="gantt-toggle-space" />
                    )}
                    <button
                      type="button"
                      className="gantt-select"
                      aria-pressed={isSelected}
                      aria-label={`${label}: ${run.state.current}, started ${formatDate(span?.start)}, ${formatDuration(duration)}${attempts.length > 1 ? `, ${attempts.length} attempts` : ''}${childCount > 0 ? `, ${childCount} task runs inside (${open ? 'expanded' : 'collapsed'}: left and right arrows)` : ''}`}
                      onClick={(event) => {
                        event.stopPropagation();
                        select(isSelected ? undefined : run);
                      }}
                      onFocus={(event) => {
                        const rect = event.currentTarget.getBoundingClientRect();
                        setTip({ run, x: rect.left + 24, y: rect.bottom });
                      }}
                      onBlur={() => setTip(undefined)}
                    >
                      <span className="gantt-dot" style={{ background: `var(--state-${run.state.current})` }} aria-hidden="true" />
                      <span className="gantt-task">{run.taskId}</span>
                      {run.value !== undefined && run.value !== null && run.value !== '' ? (
                        <span className="gantt-value" title={`value: ${run.value}`}>
                          {run.value}
                        </span>
                      ) : typeof run.iteration === 'number' ? (
                        <span className="gantt-value">#{run.iteration}</span>
                      ) : null}
                    </button>
                  </span>
                  <span className="gantt-track" aria-hidden="true">
                    {span ? <Bar segment={span} range={range} faint /> : null}
                    {attempts.map((segment) => (
                      <Bar key={`${segment.attempt ?? 0}-${segment.start}`} segment={segment} range={range} />
                    ))}
                  </span>
                  <span className="gantt-duration" aria-hidden="true">
                    {formatDuration(duration)}
                  </span>
                </div>
              );
            })}
          </div>
        </div>
        {tip ? <GanttTip tip={tip} now={now} /> : null}
      </section>
      {selected ? <RunDetails execution={execution} run={selected} onClose={() => select(undefined)} /> : selectedId ? <MissingRun id={selectedId} onClose={() => select(undefined)} /> : null}
    </div>
  );
}

function GanttTip({ tip, now }: { tip: Tip; now: number }) {
  const { run } = tip;
  const span = stateSpan(run.state, now);
  const attempts = run.attempts?.length ?? 0;
  return (
    <div className="gantt-tip" role="tooltip" style={{ left: Math.min(tip.x + 14, window.innerWidth - 300), top: tip.y + 14 }} data-testid="gantt-tip">
      <strong>{runLabel(run)}</strong> <StateBadge state={run.state.current} />
      <div className="small">Started {formatDate(span?.start)}</div>
      <div className="small">
        {span?.running ? 'Running for' : 'Took'} {formatDuration(span ? span.end - span.start : undefined)}
        {attempts > 1 ? ` · ${attempts} attempts` : ''}
      </div>
    </div>
  );
}

function MissingRun({ id, onClose }: { id: string; onClose: () => void }) {
  return (
    <aside className="gantt-details card">
      <EmptyState title="No such task run" action={<button onClick={onClose}>Close</button>}>
        Task run <code>{id}</code> is not (or not yet) part of this execution.
      </EmptyState>
    </aside>
  );
}

/** A task run's details: attempts, outputs, its log lines, and replay from it. */
function RunDetails({ execution, run, onClose }: { execution: Execution; run: TaskRun; onClose: () => void }) {
  const running = !isTerminal(execution.state.current);
  const now = useNow(!isTerminal(run.state.current));
  const store = useMemo(() => logLive(execution.id), [execution.id]);
  const snapshot = useLogLive(store, running);
  const cache = useRef<{ id: string; upto: number; out: typeof store.lines } | undefined>(undefined);
  // This run's lines, tested incrementally as lines arrive.
  if (!cache.current || cache.current.id !== run.id || cache.current.upto > store.lines.length) cache.current = { id: run.id, upto: 0, out: [] };
  const own = cache.current;
  for (let i = own.upto; i < store.lines.length; i++) if (store.lines[i]!.taskRunId === run.id) own.out.push(store.lines[i]!);
  own.upto = store.lines.length;
  void snapshot.version;

  return (
    <aside className="gantt-details card" aria-label={`Task run ${runLabel(run)}`} data-testid="run-details">
      <header className="gantt-details-head">
        <h2>
          {runLabel(run)} <StateBadge state={run.state.current} />
        </h2>
        <button type="button" className="ghost" onClick={onClose} aria-label="Close the task run details">
          ✕
        </button>
      </header>
      <dl className="exec-facts">
        <dt>Task run</dt>
        <dd className="mono">{run.id}</dd>
        <dt>Started</dt>
        <dd>{formatDate(stateSpan(run.state, now)?.start)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(runDuration(run, now))}</dd>
        {run.workerGroup ? (
          <>
            <dt>Worker group</dt>
            <dd>{run.workerGroup}</dd>
          </>
        ) : null}
      </dl>
      <div className="row">
        <ReplayButton execution={execution} taskRunId={run.id} label="⟲ Replay from this task" />
      </div>
      <h3>Attempts</h3>
      {(run.attempts ?? []).length === 0 ? (
        <p className="muted small">No attempt yet{isTerminal(run.state.current) ? ': this task run never ran on a worker.' : '.'}</p>
      ) : (
        <table className="list exec-attempts">
          <thead>
            <tr>
              <th>#</th>
              <th>State</th>
              <th>Started</th>
              <th>Duration</th>
              <th>Worker</th>
            </tr>
          </thead>
          <tbody>
            {(run.attempts ?? []).map((attempt, index) => {
              const span = stateSpan(attempt.state, now);
              return (
                <tr key={index}>
                  <td>{index + 1}</td>
                  <td>
                    <StateBadge state={attempt.state.current} />
                  </td>
                  <td>{formatDate(span?.start)}</td>
                  <td>{formatDuration(span ? span.end - span.start : undefined)}</td>
                  <td className="mono small">{attempt.workerId ?? '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <h3>Outputs</h3>
      <ValueTree value={run.outputs} executionId={execution.id} empty={isTerminal(run.state.current) ? 'This task run has no outputs.' : 'Outputs appear once the task run ends.'} />
      <h3>Logs</h3>
      {snapshot.error ? <ErrorMessage error={snapshot.error} title="The log could not be read" /> : null}
      {!snapshot.loaded ? (
        snapshot.error ? null : <Spinner label="Reading the log…" />
      ) : (
        <LogList
          key={run.id}
          lines={own.out}
          count={own.out.length}
          followTail={!isTerminal(run.state.current)}
          showTask={false}
          label={`Log of task run ${runLabel(run)}`}
          className="gantt-details-logs"
          empty={isTerminal(run.state.current) ? 'This task run logged nothing.' : 'No log line yet.'}
        />
      )}
    </aside>
  );
}
