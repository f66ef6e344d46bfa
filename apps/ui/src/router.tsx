/**
 * A small router over the History API: paths are written without the `/ui` base (`/flows/ns/id/editor`), every page
 * and tab has its own URL, and list filters live in the query string so a view can be shared.
 */
import { useCallback, useSyncExternalStore } from 'react';
import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from 'react';

export const BASE = '/ui';

const listeners = new Set<() => void>();
function notify(): void {
  for (const listener of listeners) listener();
}
window.addEventListener('popstate', notify);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The path under the base, and the query string. */
function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** The current path without the base (`/flows`), always starting with `/`. */
export function currentPath(): string {
  const path = window.location.pathname;
  const rest = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  return rest === '' ? '/' : rest;
}

export function href(to: string): string {
  return to.startsWith('/') ? BASE + to : to;
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = href(to);
  if (url === snapshot()) return;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  notify();
}

/** Re-renders on every navigation; returns the path (without base) and the query parameters. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const current = useSyncExternalStore(subscribe, snapshot);
  const [, queryString = ''] = current.split('?');
  return { path: currentPath(), search: new URLSearchParams(queryString) };
}

/**
 * Query-string state: `params` as read from the URL, and `set` to change some keys (empty values removed). Changes
 * replace the history entry, so typing in a filter does not fill the back button.
 */
export function useSearchParams(): [URLSearchParams, (changes: Record<string, string | readonly string[] | undefined>, options?: { push?: boolean }) => void] {
  const { search } = useLocation();
  const set = useCallback((changes: Record<string, string | readonly string[] | undefined>, options: { push?: boolean } = {}) => {
    const next = new URLSearchParams(window.location.search);
    for (const [key, value] of Object.entries(changes)) {
      next.delete(key);
      if (value === undefined) continue;
      if (typeof value === 'string') {
        if (value !== '') next.set(key, value);
      } else for (const item of value) next.append(key, item);
    }
    const text = next.toString();
    navigate(currentPath() + (text ? `?${text}` : ''), { replace: !options.push });
  }, []);
  return [search, set];
}

/**
 * Match `pattern` (`/flows/:namespace/:id/:tab?`) against `path`; the parameters (decoded) or undefined. A trailing
 * `?` makes a segment optional.
 */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const parts = pattern.split('/').filter(Boolean);
  const segments = path.split('/').filter(Boolean);
  const params: Record<string, string> = {};
  if (segments.length > parts.length) return undefined;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const segment = segments[i];
    const optional = part.endsWith('?');
    const name = optional ? part.slice(1, -1) : part.slice(1);
    if (segment === undefined) {
      if (optional) continue;
      return undefined;
    }
    if (part.startsWith(':')) {
      try {
        params[name] = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
    } else if (part !== segment) return undefined;
  }
  return params;
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; replace?: boolean; children?: ReactNode };

/** An anchor that navigates in the app (a plain click), or opens a tab as usual (ctrl/meta/middle click). */
export function Link({ to, replace, onClick, children, ...rest }: LinkProps) {
  const handle = (event: MouseEvent<HTMLAnchorElement>): void => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to, replace === undefined ? {} : { replace });
  };
  return (
    <a href={href(to)} onClick={handle} {...rest}>
      {children}
    </a>
  );
}

/** `encodeURIComponent` for path segments. */
export const seg = (value: string): string => encodeURIComponent(value);
