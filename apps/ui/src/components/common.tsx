/** Building blocks every page uses: state badges, empty states, error messages, tabs, page headers. */
import type { ReactNode } from 'react';
import { ApiError } from '../api';
import { Link } from '../router';
import type { StateType } from '../types';

/** A state as a coloured badge (the colour comes from `--state-<STATE>` in styles.css). */
export function StateBadge({ state }: { state: StateType | string }) {
  return (
    <span className={`state state-${state}`} data-state={state}>
      {state}
    </span>
  );
}

/** What an empty list shows: what it is, and what to do next. */
export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <h3>{title}</h3>
      {children ? <p>{children}</p> : null}
      {action ? <div className="empty-action">{action}</div> : null}
    </div>
  );
}

/** An error as a readable message: the API's message, its code, and the details it gave. */
export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  const api = error instanceof ApiError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      <strong>{title ?? (api && api.status >= 500 ? 'The server failed' : 'Something went wrong')}</strong>
      <p className="error-message">{message}</p>
      {api && api.code ? (
        <p className="muted small">
          {api.status > 0 ? `HTTP ${api.status} · ` : ''}
          {api.code}
        </p>
      ) : null}
      {api && Array.isArray(api.details) && api.details.length > 0 ? (
        <ul className="error-details">
          {(api.details as unknown[]).slice(0, 20).map((detail, i) => (
            <li key={i}>{typeof detail === 'string' ? detail : JSON.stringify(detail)}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="spinner" role="status" aria-live="polite">
      <span className="spinner-dot" aria-hidden="true" />
      {label}
    </div>
  );
}

export interface TabDef {
  readonly id: string;
  readonly label: string;
}

/** Tabs as links, so every tab has its own URL (`base` + `/` + tab id). */
export function Tabs({ tabs, active, base }: { tabs: readonly TabDef[]; active: string; base: string }) {
  return (
    <nav className="tabs" role="tablist">
      {tabs.map((tab) => (
        <Link key={tab.id} to={`${base}/${tab.id}`} role="tab" aria-selected={tab.id === active} className={tab.id === active ? 'tab active' : 'tab'} data-tab={tab.id}>
          {tab.label}
        </Link>
      ))}
    </nav>
  );
}

export function PageHeader({ title, subtitle, actions, children }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode; children?: ReactNode }) {
  return (
    <header className="page-header">
      <div className="page-title">
        <h1>{title}</h1>
        {subtitle ? <div className="muted">{subtitle}</div> : null}
        {children}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

/** Labels as `key:value` chips. */
export function Labels({ labels }: { labels?: readonly { key: string; value: string }[] | undefined }) {
  if (!labels || labels.length === 0) return null;
  return (
    <span className="labels">
      {labels.map((label) => (
        <span key={`${label.key}=${label.value}`} className="chip">
          {label.key}:{label.value}
        </span>
      ))}
    </span>
  );
}
