/**
 * A virtualised list of log lines (only the visible ones are in the page, so 100,000 lines stay responsive), that
 * follows the tail as lines arrive until the user scrolls up, with a "Jump to latest" button to follow again.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { formatDate } from '../../format';
import type { LogLine } from '../../types';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `12:30:05.123` in the browser's time zone. */
function clock(timestamp: string): string {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function LogRow({ line, showTask = true }: { line: LogLine; showTask?: boolean }) {
  return (
    <>
      <time className="log-time" dateTime={line.timestamp} title={`${formatDate(line.timestamp)} (${line.timestamp})`}>
        {clock(line.timestamp)}
      </time>
      <span className={`log-level log-level-${line.level}`}>{line.level}</span>
      {showTask ? (
        <span className="log-task" title={line.taskId ?? 'the execution'}>
          {line.taskId ?? '—'}
        </span>
      ) : null}
      <span className="log-message">{line.message}</span>
    </>
  );
}

/**
 * `lines` may grow in place: `count` (its length when rendered) drives the list. `tail` starts on when
 * `followTail` is set (a running execution).
 */
export function LogList({
  lines,
  count,
  followTail,
  showTask = true,
  empty,
  className,
  label,
}: {
  lines: readonly LogLine[];
  count: number;
  followTail: boolean;
  showTask?: boolean;
  empty: ReactNode;
  className?: string;
  label: string;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [tail, setTail] = useState(followTail);
  const [atEnd, setAtEnd] = useState(true);
  const lastInput = useRef(0);
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => 22,
    overscan: 20,
  });

  const measureEnd = useCallback((): boolean => {
    const element = scroller.current;
    const end = !element || element.scrollHeight - element.scrollTop - element.clientHeight <= 4;
    setAtEnd(end);
    return end;
  }, []);

  useLayoutEffect(() => {
    if (tail && count > 0) virtualizer.scrollToIndex(count - 1, { align: 'end' });
    else measureEnd();
  }, [tail, count, virtualizer, measureEnd]);

  const onScroll = useCallback(() => {
    if (measureEnd()) setTail(true);
    // Only a scroll the user made stops following (not one the list made itself, nor a row measured taller).
    else if (Date.now() - lastInput.current < 1000) setTail(false);
  }, [measureEnd]);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const mark = (): void => {
      lastInput.current = Date.now();
    };
    const onKey = (event: KeyboardEvent): void => {
      if (['ArrowUp', 'PageUp', 'Home', 'ArrowDown', 'PageDown', 'End', ' '].includes(event.key)) mark();
    };
    element.addEventListener('wheel', mark, { passive: true });
    element.addEventListener('touchmove', mark, { passive: true });
    element.addEventListener('pointerdown', mark);
    element.addEventListener('keydown', onKey);
    return () => {
      element.removeEventListener('wheel', mark);
      element.removeEventListener('touchmove', mark);
      element.removeEventListener('pointerdown', mark);
      element.removeEventListener('keydown', onKey);
    };
  }, []);

  const items = virtualizer.getVirtualItems();
  return (
    <div className={`log-list-wrap ${className ?? ''}`}>
      <div ref={scroller} className="log-list" onScroll={onScroll} tabIndex={0} role="log" aria-label={label} aria-live="off" data-testid="log-list">
        {count === 0 ? (
          <div className="log-empty">{empty}</div>
        ) : (
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative', width: '100%' }}>
            {items.map((item) => {
              const line = lines[item.index];
              if (!line) return null;
              return (
                <div
                  key={item.key}
                  data-index={item.index}
                  ref={virtualizer.measureElement}
                  className={`log-line${showTask ? '' : ' log-line-notask'}`}
                  data-testid="log-line"
                  data-level={line.level}
                  style={{ transform: `translateY(${item.start}px)` }}
                >
                  <LogRow line={line} showTask={showTask} />
                </div>
              );
            })}
          </div>
        )}
      </div>
      {!tail && !atEnd && count > 0 ? (
        <button type="button" className="primary log-jump" onClick={() => setTail(true)} data-testid="log-jump">
          ↓ Jump to latest
        </button>
      ) : null}
    </div>
  );
}
