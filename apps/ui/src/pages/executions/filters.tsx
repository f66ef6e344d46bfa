/**
 * Filter controls shared by the executions list and the logs search: a text field that writes the URL after a short
 * pause, the time range (presets or custom from/to), the pager, and the date conversions between the URL (ISO-8601
 * instants) and `datetime-local` inputs (the browser's local time).
 */
import { useEffect, useId, useRef, useState } from 'react';
import type { InputHTMLAttributes, ReactNode } from 'react';
import { EmptyState } from '../../components/common';
import './filters.css';

/** `2026-01-02T10:00:00.000Z` as the `datetime-local` value of the browser's zone (`2026-01-02T11:00:00`); '' if not a date. */
export function isoToLocalInput(iso: string | undefined | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A `datetime-local` value (the browser's zone) as an ISO-8601 instant; undefined if empty or not a date. */
export function localInputToIso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

type DebouncedProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'> & {
  value: string;
  onCommit: (value: string) => void;
  delayMs?: number;
};

/**
 * A text input that reports its value after `delayMs` without typing (or at once on Enter or blur), so every key
 * stroke does not become a request. It follows `value` when that changes from outside (filters cleared).
 */
export function DebouncedInput({ value, onCommit, delayMs = 300, onKeyDown, onBlur, ...rest }: DebouncedProps) {
  const [text, setText] = useState(value);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const committed = useRef(value);
  useEffect(() => {
    committed.current = value;
    setText(value);
  }, [value]);
  useEffect(() => () => clearTimeout(timer.current), []);
  const commit = (next: string): void => {
    clearTimeout(timer.current);
    if (next.trim() === committed.current) return;
    committed.current = next.trim();
    onCommit(next.trim());
  };
  return (
    <input
      {...rest}
      value={text}
      onChange={(event) => {
        const next = event.target.value;
        setText(next);
        clearTimeout(timer.current);
        timer.current = setTimeout(() => commit(next), delayMs);
      }}
      onKeyDown={(event) => {
        if (event.key === 'Enter') commit(text);
        onKeyDown?.(event);
      }}
      onBlur={(event) => {
        commit(text);
        onBlur?.(event);
      }}
    />
  );
}

/** The time range presets (ISO-8601 durations, sent as Kestra's `filters[timeRange][EQUALS]`). */
export const TIME_RANGES: readonly { readonly value: string; readonly label: string }[] = [
  { value: 'PT1H', label: 'Last hour' },
  { value: 'PT24H', label: 'Last 24 hours' },
  { value: 'P7D', label: 'Last 7 days' },
  { value: 'P30D', label: 'Last 30 days' },
];

export interface TimeRangeValue {
  /** A preset of {@link TIME_RANGES}, or undefined. */
  readonly range: string | undefined;
  /** Custom bounds, ISO-8601 (as given in the URL: passed through unchanged, so the API judges them). */
  readonly startDate: string | undefined;
  readonly endDate: string | undefined;
}

/** The time range as the URL holds it: `range`, or `startDate`/`endDate`. */
export function readTimeRange(params: URLSearchParams): TimeRangeValue {
  return { range: params.get('range') ?? undefined, startDate: params.get('startDate') ?? undefined, endDate: params.get('endDate') ?? undefined };
}

/** The API parameters of a time range: a preset as `filters[timeRange][EQUALS]`, custom bounds as startDate/endDate. */
export function timeRangeQuery(value: TimeRangeValue): Record<string, string | undefined> {
  if (value.startDate || value.endDate) return { startDate: value.startDate, endDate: value.endDate };
  if (value.range) return { 'filters[timeRange][EQUALS]': value.range };
  return {};
}

/**
 * Any time / a preset / custom from–to. `onChange` gets the URL changes (`range`, `startDate`, `endDate`): choosing a
 * preset clears custom bounds and the other way round (the API refuses both at once).
 */
export function TimeRangeFilter({ value, onChange }: { value: TimeRangeValue; onChange: (changes: Record<string, string | undefined>) => void }) {
  const id = useId();
  const hasCustom = Boolean(value.startDate || value.endDate);
  const [customOpen, setCustomOpen] = useState(hasCustom);
  useEffect(() => {
    if (hasCustom) setCustomOpen(true);
  }, [hasCustom]);
  const known = value.range === undefined || TIME_RANGES.some((r) => r.value === value.range);
  const selected = customOpen || hasCustom ? 'custom' : (value.range ?? '');
  return (
    <div className="time-range" data-testid="time-range">
      <label className="xf-sr-only" htmlFor={`${id}-range`}>
        Time range
      </label>
      <select
        id={`${id}-range`}
        value={selected}
        onChange={(event) => {
          const next = event.target.value;
          if (next === 'custom') {
            setCustomOpen(true);
            onChange({ range: undefined });
            return;
          }
          setCustomOpen(false);
          onChange({ range: next || undefined, startDate: undefined, endDate: undefined });
        }}
      >
        <option value="">Any time</option>
        {TIME_RANGES.map((r) => (
          <option key={r.value} value={r.value}>
            {r.label}
          </option>
        ))}
        {!known && value.range ? <option value={value.range}>Last {value.range}</option> : null}
        <option value="custom">Custom range…</option>
      </select>
      {selected === 'custom' ? (
        <>
          <label className="time-bound">
            <span className="muted small">From</span>
            <input
              type="datetime-local"
              step={1}
              aria-label="From"
              value={isoToLocalInput(value.startDate)}
              onChange={(event) => onChange({ range: undefined, startDate: localInputToIso(event.target.value) })}
            />
          </label>
          <label className="time-bound">
            <span className="muted small">To</span>
            <input
              type="datetime-local"
              step={1}
              aria-label="To"
              value={isoToLocalInput(value.endDate)}
              onChange={(event) => onChange({ range: undefined, endDate: localInputToIso(event.target.value) })}
            />
          </label>
        </>
      ) : null}
    </div>
  );
}

/** A positive integer from the URL, or the fallback. */
export function intParam(params: URLSearchParams, key: string, fallback: number): number {
  const raw = params.get(key);
  if (raw === null) return fallback;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

export const PAGE_SIZES: readonly number[] = [10, 25, 50, 100];

/** `1–25 of 230`, previous/next, and the page size. */
export function Pager({
  page,
  size,
  total,
  onChange,
  noun = 'items',
}: {
  page: number;
  size: number;
  total: number;
  onChange: (changes: { page?: number; size?: number }) => void;
  noun?: string;
}) {
  const pages = Math.max(1, Math.ceil(total / size));
  const first = total === 0 ? 0 : (page - 1) * size + 1;
  const last = Math.min(total, page * size);
  return (
    <nav className="pager" aria-label="Pages" data-testid="pager">
      <span className="muted small" data-testid="pager-range">
        {first}–{last} of {total} {noun}
      </span>
      <button type="button" onClick={() => onChange({ page: page - 1 })} disabled={page <= 1} aria-label="Previous page">
        ‹ Previous
      </button>
      <span className="small">
        Page {page} of {pages}
      </span>
      <button type="button" onClick={() => onChange({ page: page + 1 })} disabled={page >= pages} aria-label="Next page">
        Next ›
      </button>
      <label className="row small">
        <span className="muted">Per page</span>
        <select value={size} onChange={(event) => onChange({ size: Number(event.target.value), page: 1 })}>
          {(PAGE_SIZES.includes(size) ? PAGE_SIZES : [...PAGE_SIZES, size].sort((a, b) => a - b)).map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
    </nav>
  );
}

/** A page past the last one (the list shrank, or a shared URL): how many there are, and the way back to the first. */
export function PastTheLastPage({ total, noun, onFirstPage }: { total: number; noun: string; onFirstPage: () => void }) {
  return (
    <EmptyState
      title={`No ${noun} on this page`}
      action={
        <button type="button" onClick={onFirstPage}>
          Go to the first page
        </button>
      }
    >
      There are {total} matching {noun}, on earlier pages.
    </EmptyState>
  );
}

/** Nothing matches the filters: `children` says why, and the button clears them. */
export function NoMatch({ title, onClear, children }: { title: string; onClear: () => void; children: ReactNode }) {
  return (
    <EmptyState
      title={title}
      action={
        <button type="button" className="primary" onClick={onClear} data-testid="clear-filters">
          Clear filters
        </button>
      }
    >
      {children}
    </EmptyState>
  );
}
