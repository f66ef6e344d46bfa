/** Small parts of the execution page: a ticking clock, copy, live indicator, confirm dialog, files and value trees. */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { api, download, query, request } from '../../api';
import { ErrorMessage } from '../../components/common';
import { formatBytes } from '../../format';
import { seg } from '../../router';
import { fileName, isStorageUri } from './model';
import type { LiveStatus } from './live';

/** `Date.now()`, ticking every `ms` while `active` (a display clock only: the data itself comes from the follow). */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
  return active ? now : Date.now();
}

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // not a secure context, or denied: the old way
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="ghost exec-copy"
      aria-label={`${label}: ${text}`}
      title={label}
      onClick={() => {
        void copyText(text).then(() => setCopied(true));
      }}
    >
      {copied ? (
        '✓ Copied'
      ) : (
        <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="1.5">
          <rect x="5.5" y="5.5" width="8" height="8" rx="1.5" />
          <path d="M10.5 3.5v-.5A1.5 1.5 0 0 0 9 1.5H3A1.5 1.5 0 0 0 1.5 3v6A1.5 1.5 0 0 0 3 10.5h.5" />
        </svg>
      )}
      <span className="exec-sr" aria-live="polite">
        {copied ? 'Copied' : ''}
      </span>
    </button>
  );
}

const STATUS_TEXT: Record<LiveStatus | 'idle', string> = {
  idle: '',
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  ended: '',
  failed: 'disconnected',
};

/** "live" while a follow stream is open, "reconnecting" while it is being opened again. */
export function LiveIndicator({ status, what }: { status: LiveStatus | 'idle'; what: string }) {
  const text = STATUS_TEXT[status];
  if (!text) return null;
  return (
    <span className={`exec-live exec-live-${status}`} role="status" data-testid={`${what}-live`} data-status={status} title={`${what}: ${text}`}>
      <span className="exec-live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** A modal dialog (the native <dialog>: focus stays inside, Escape cancels). */
export function Dialog({
  open,
  title,
  children,
  onClose,
  testId,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  onClose: () => void;
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="exec-dialog" onClose={onClose} aria-labelledby={testId ? `${testId}-title` : undefined} data-testid={testId}>
      {open ? (
        <>
          <h2 id={testId ? `${testId}-title` : undefined}>{title}</h2>
          {children}
        </>
      ) : null}
    </dialog>
  );
}

/** A dialog asking to confirm an action, showing its error if it fails. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  danger,
  pending,
  error,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  pending: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Dialog open={open} title={title} onClose={onCancel} testId="confirm-dialog">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          onConfirm();
        }}
      >
        <div className="exec-dialog-body">{children}</div>
        <ErrorMessage error={error} />
        <div className="exec-dialog-actions">
          {/* A destructive action starts on Cancel: Enter alone never kills. */}
          <button type="button" onClick={onCancel} autoFocus={danger}>
            Cancel
          </button>
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={pending} autoFocus={!danger}>
            {pending ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export const PREVIEW_BYTES = 64 * 1024;

const filePath = (executionId: string, uri: string, metas = false): string => `/executions/${seg(executionId)}/file${metas ? '/metas' : ''}${query({ path: uri })}`;

/** The first {@link PREVIEW_BYTES} of a file as text (the rest is not read); `binary` when it holds a NUL byte. */
async function readPreview(executionId: string, uri: string, signal: AbortSignal): Promise<{ text: string; binary: boolean; truncated: boolean }> {
  const response = await request(filePath(executionId, uri), { signal });
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  if (response.body) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
        if (size >= PREVIEW_BYTES) {
          truncated = size > PREVIEW_BYTES;
          break;
        }
      }
    } finally {
      if (size >= PREVIEW_BYTES) await reader.cancel().catch(() => undefined);
      else reader.releaseLock();
    }
  }
  const bytes = new Uint8Array(Math.min(size, PREVIEW_BYTES));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, Math.min(chunk.length, bytes.length - offset));
    bytes.set(part, offset);
    offset += part.length;
    if (offset >= bytes.length) break;
  }
  const binary = bytes.subarray(0, 8192).includes(0);
  return { text: binary ? '' : new TextDecoder('utf-8', { fatal: false }).decode(bytes), binary, truncated };
}

/** Preview (the first 64 KiB, as text) and Download of an internal-storage file of the execution. */
export function FileValue({ executionId, uri, compact }: { executionId: string; uri: string; compact?: boolean }) {
  const [open, setOpen] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>();
  const [downloading, setDownloading] = useState(false);
  const name = fileName(uri);
  const metas = useQuery({
    queryKey: ['execution-file-metas', executionId, uri],
    queryFn: () => api<{ size: number }>(filePath(executionId, uri, true)),
    enabled: open,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const preview = useQuery({
    queryKey: ['execution-file-preview', executionId, uri],
    queryFn: ({ signal }) => readPreview(executionId, uri, signal),
    enabled: open,
    staleTime: Number.POSITIVE_INFINITY,
  });
  return (
    <span className="exec-file" data-testid="file-value" data-uri={uri}>
      <span className="mono exec-file-name" title={uri}>
        {compact ? name : uri}
      </span>
      {compact ? null : (
        <button type="button" className="exec-small-button" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="file-preview-button">
          {open ? 'Hide preview' : 'Preview'}
        </button>
      )}
      <button
        type="button"
        className="exec-small-button"
        disabled={downloading}
        data-testid="file-download-button"
        aria-label={`Download ${name}`}
        onClick={() => {
          setDownloading(true);
          setDownloadError(undefined);
          download(filePath(executionId, uri), name)
            .catch((error: unknown) => setDownloadError(error))
            .finally(() => setDownloading(false));
        }}
      >
        {downloading ? 'Downloading…' : 'Download'}
      </button>
      {downloadError ? <ErrorMessage error={downloadError} title="The download failed" /> : null}
      {open ? (
        <span className="exec-preview">
          {preview.isPending ? (
            <span className="muted small">Reading {name}…</span>
          ) : preview.error ? (
            <ErrorMessage error={preview.error} title="The preview failed" />
          ) : preview.data?.binary ? (
            <span className="muted small">A binary file: download it to open it.</span>
          ) : (
            <>
              <span className="muted small">
                {metas.data ? formatBytes(metas.data.size) : ''}
                {preview.data && (preview.data.truncated || (metas.data && metas.data.size > PREVIEW_BYTES)) ? ' · showing the first 64 KiB' : ''}
                {preview.data && preview.data.text === '' ? ' · empty file' : ''}
              </span>
              <pre data-testid="file-preview">{preview.data?.text}</pre>
            </>
          )}
        </span>
      ) : null}
    </span>
  );
}

const STRING_CUT = 240;
const CHILDREN_PAGE = 100;

function LongString({ text }: { text: string }) {
  const [all, setAll] = useState(false);
  if (text.length <= STRING_CUT || all) {
    return (
      <span className="exec-value exec-value-string">
        {text}
        {all ? (
          <button type="button" className="exec-link-button" onClick={() => setAll(false)}>
            show less
          </button>
        ) : null}
      </span>
    );
  }
  return (
    <span className="exec-value exec-value-string">
      {text.slice(0, STRING_CUT)}…
      <button type="button" className="exec-link-button" onClick={() => setAll(true)}>
        show all {text.length.toLocaleString()} characters
      </button>
    </span>
  );
}

/** A scalar value: strings (long ones cut, files with preview and download), numbers, booleans, null. */
export function ScalarValue({ value, executionId }: { value: unknown; executionId: string }) {
  if (isStorageUri(value)) return <FileValue executionId={executionId} uri={value} />;
  if (value === null || value === undefined) return <span className="exec-value muted">null</span>;
  if (typeof value === 'string') return <LongString text={value} />;
  return <span className={`exec-value exec-value-${typeof value}`}>{String(value)}</span>;
}

const isBranch = (value: unknown): value is Record<string, unknown> | unknown[] => value !== null && typeof value === 'object';

function summary(value: Record<string, unknown> | unknown[]): string {
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? '' : 's'}]`;
  const n = Object.keys(value).length;
  return `{${n} key${n === 1 ? '' : 's'}}`;
}

/** Branches this deep (0: the top level) and this small open by themselves. */
const AUTO_OPEN_DEPTH = 1;
const AUTO_OPEN_SIZE = 20;

/** One entry of a value tree: `name: value`, objects and arrays collapsible (small ones near the top open). */
export function TreeEntry({
  name,
  value,
  executionId,
  defaultOpen,
  depth = 0,
}: {
  name: ReactNode;
  value: unknown;
  executionId: string;
  defaultOpen?: boolean;
  depth?: number;
}) {
  const [open, setOpen] = useState(
    () => defaultOpen ?? (isBranch(value) && depth <= AUTO_OPEN_DEPTH && (Array.isArray(value) ? value.length : Object.keys(value).length) <= AUTO_OPEN_SIZE),
  );
  const [shown, setShown] = useState(CHILDREN_PAGE);
  if (!isBranch(value)) {
    return (
      <li className="exec-tree-leaf">
        <span className="exec-tree-key">{name}</span>
        <ScalarValue value={value} executionId={executionId} />
      </li>
    );
  }
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  return (
    <li className="exec-tree-branch">
      <button type="button" className="exec-tree-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className="exec-caret" aria-hidden="true">
          {open ? '▾' : '▸'}
        </span>
        <span className="exec-tree-key">{name}</span>
        <span className="muted small">{summary(value)}</span>
      </button>
      {open ? (
        entries.length === 0 ? (
          <div className="muted small exec-tree-empty">empty</div>
        ) : (
          <ul className="exec-tree" role="group">
            {entries.slice(0, shown).map(([key, child]) => (
              <TreeEntry key={key} name={key} value={child} executionId={executionId} depth={depth + 1} />
            ))}
            {entries.length > shown ? (
              <li>
                <button type="button" className="exec-link-button" onClick={() => setShown(shown + CHILDREN_PAGE)}>
                  show {Math.min(CHILDREN_PAGE, entries.length - shown)} more of {entries.length - shown}
                </button>
              </li>
            ) : null}
          </ul>
        )
      ) : null}
    </li>
  );
}

/** A browsable tree of `value`'s keys (objects and arrays collapse; the top level is open). */
export function ValueTree({ value, executionId, empty }: { value: Record<string, unknown> | undefined; executionId: string; empty?: ReactNode }) {
  const entries = Object.entries(value ?? {});
  if (entries.length === 0) return <div className="muted small">{empty ?? 'No outputs.'}</div>;
  return (
    <ul className="exec-tree exec-tree-root">
      {entries.map(([key, child]) => (
        <TreeEntry key={key} name={key} value={child} executionId={executionId} />
      ))}
    </ul>
  );
}
