/**
 * The Logs tab: every log line of the execution, live while it runs, filtered on the client (minimum level, task,
 * text) with the filters in the URL (`?level=WARN&task=build&q=timeout`), and a download of the whole log.
 */
import { useMemo, useRef, useState } from 'react';
import { download } from '../../api';
import { ErrorMessage, Spinner } from '../../components/common';
import { seg, useSearchParams } from '../../router';
import { isTerminal } from '../../types';
import type { Execution, LogLine } from '../../types';
import { logLive, useLogLive } from './live';
import { LogList } from './loglist';
import { levelRank, LOG_LEVELS } from './model';
import { LiveIndicator } from './parts';

export interface LogFilter {
  readonly level: string;
  readonly task: string;
  readonly q: string;
}

/**
 * The lines matching `filter`, kept across renders: when only new lines were appended, only those are tested (a
 * batch of 50 new lines costs 50 tests, not 100,000). No filter: `lines` itself.
 */
export function useFilteredLines(lines: LogLine[], version: number, filter: LogFilter): { items: LogLine[]; count: number } {
  const cache = useRef<{ key: string; source: LogLine[]; upto: number; out: LogLine[] } | undefined>(undefined);
  const key = `${filter.level}\u0000${filter.task}\u0000${filter.q}`;
  void version; // `lines` grows in place; `version` is what tells a render it did
  if (!filter.level && !filter.task && !filter.q) return { items: lines, count: lines.length };
  let current = cache.current;
  if (!current || current.key !== key || current.source !== lines || current.upto > lines.length) {
    current = { key, source: lines, upto: 0, out: [] };
    cache.current = current;
  }
  if (current.upto < lines.length) {
    const min = filter.level ? levelRank(filter.level) : 0;
    const needle = filter.q.toLowerCase();
    for (let i = current.upto; i < lines.length; i++) {
      const line = lines[i]!;
      if (min > 0 && levelRank(line.level) < min) continue;
      if (filter.task && line.taskId !== filter.task) continue;
      if (needle && !line.message.toLowerCase().includes(needle)) continue;
      current.out.push(line);
    }
    current.upto = lines.length;
  }
  return { items: current.out, count: current.out.length };
}

export default function LogsTab({ execution }: { execution: Execution }) {
  const running = !isTerminal(execution.state.current);
  const store = useMemo(() => logLive(execution.id), [execution.id]);
  const snapshot = useLogLive(store, running);
  const [params, setParams] = useSearchParams();
  const filter: LogFilter = { level: params.get('level') ?? '', task: params.get('task') ?? '', q: params.get('q') ?? '' };
  const { items, count } = useFilteredLines(store.lines, snapshot.version, filter);
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>();
  const taskIds = useMemo(() => {
    const ids = new Set<string>();
    for (const run of execution.taskRunList ?? []) ids.add(run.taskId);
    if (filter.task) ids.add(filter.task);
    return [...ids];
  }, [execution.taskRunList, filter.task]);
  const filtered = Boolean(filter.level || filter.task || filter.q);
  const total = store.lines.length;

  return (
    <section className="exec-logs" aria-label="Logs">
      <div className="toolbar exec-logs-toolbar">
        <label className="exec-inline-field">
          <span>Level</span>
          <select value={filter.level} onChange={(event) => setParams({ level: event.target.value })} data-testid="log-level">
            <option value="">all</option>
            {LOG_LEVELS.map((level) => (
              <option key={level} value={level}>
                {level} and above
              </option>
            ))}
          </select>
        </label>
        <label className="exec-inline-field">
          <span>Task</span>
          <select value={filter.task} onChange={(event) => setParams({ task: event.target.value })} data-testid="log-task">
            <option value="">all tasks</option>
            {taskIds.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </label>
        <input
          type="search"
          data-search
          placeholder="Search the messages (/)"
          aria-label="Search the log messages"
          value={filter.q}
          onChange={(event) => setParams({ q: event.target.value })}
          data-testid="log-search"
        />
        {filtered ? (
          <button type="button" className="ghost" onClick={() => setParams({ level: undefined, task: undefined, q: undefined })}>
            Clear filters
          </button>
        ) : null}
        {snapshot.loaded ? (
          <span className="muted small" aria-live="polite">
            <span data-testid="log-count">{count}</span> {count === 1 ? 'line' : 'lines'}
            {filtered ? ` of ${total}` : ''}
          </span>
        ) : null}
        <LiveIndicator status={snapshot.status} what="logs" />
        <span className="exec-spacer" />
        <button
          type="button"
          disabled={downloading}
          onClick={() => {
            setDownloading(true);
            setDownloadError(undefined);
            download(`/logs/${seg(execution.id)}/download`, `${execution.id}.log`)
              .catch((error: unknown) => setDownloadError(error))
              .finally(() => setDownloading(false));
          }}
          data-testid="log-download"
        >
          ⤓ {downloading ? 'Downloading…' : 'Download'}
        </button>
      </div>
      <ErrorMessage error={downloadError} title="The log could not be downloaded" />
      {snapshot.error ? (
        <div>
          <ErrorMessage error={snapshot.error} title="The log could not be read" />
          <button type="button" onClick={() => store.retry()}>
            Try again
          </button>
        </div>
      ) : null}
      {!snapshot.loaded && !snapshot.error ? (
        <Spinner label="Reading the log…" />
      ) : snapshot.loaded ? (
        <LogList
          lines={items}
          count={count}
          followTail={running}
          label={`Log of execution ${execution.id}`}
          className="exec-logs-list"
          empty={
            total === 0 ? (
              running ? (
                <>
                  <strong>No log line yet.</strong> Lines appear here as the tasks write them.
                </>
              ) : (
                <>
                  <strong>No log line.</strong> The tasks of this execution logged nothing.
                </>
              )
            ) : (
              <>
                <strong>No line matches the filters.</strong>{' '}
                <button type="button" className="exec-link-button" onClick={() => setParams({ level: undefined, task: undefined, q: undefined })}>
                  Clear the filters
                </button>{' '}
                to see all {total} lines.
              </>
            )
          }
        />
      ) : null}
    </section>
  );
}
