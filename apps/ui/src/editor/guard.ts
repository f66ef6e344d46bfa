/** Keeping unsaved editor text: a warning before the page unloads, and before an in-app link leaves the editor. */
import { useEffect, useRef } from 'react';
import { ApiError } from '../api';
import type { Problem } from './setup';

const LEAVE = 'You have unsaved changes. Leave without saving them?';

export function useUnsavedGuard(dirty: boolean): void {
  useEffect(() => {
    if (!dirty) return;
    const beforeUnload = (event: BeforeUnloadEvent): void => {
      event.preventDefault();
      // Older browsers show the prompt only when returnValue is set.
      event.returnValue = '';
    };
    // In-app links (the router's Link) navigate without unloading: ask before their click reaches React.
    const click = (event: MouseEvent): void => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const anchor = (event.target as Element | null)?.closest?.('a[href]');
      if (!(anchor instanceof HTMLAnchorElement) || anchor.target === '_blank' || anchor.origin !== window.location.origin) return;
      if (anchor.pathname === window.location.pathname && anchor.search === window.location.search) return;
      if (!window.confirm(LEAVE)) {
        event.preventDefault();
        event.stopPropagation();
      }
    };
    window.addEventListener('beforeunload', beforeUnload);
    document.addEventListener('click', click, true);
    return () => {
      window.removeEventListener('beforeunload', beforeUnload);
      document.removeEventListener('click', click, true);
    };
  }, [dirty]);
}

/** Ctrl/Cmd+S anywhere on the page calls `action` (the latest one given). */
export function useSaveShortcut(action: () => void): void {
  const latest = useRef(action);
  useEffect(() => {
    latest.current = action;
  }, [action]);
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && event.key.toLowerCase() === 's') {
        event.preventDefault();
        latest.current();
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, []);
}

/** The problems of a 400 answer to a create or a save (`details.problems`, or the one position it names). */
export function problemsOf(error: unknown): Problem[] {
  if (!(error instanceof ApiError) || error.status !== 400) return [];
  const details = error.details as { problems?: unknown; line?: unknown; column?: unknown; path?: unknown } | undefined;
  if (details && Array.isArray(details.problems)) {
    return (details.problems as Record<string, unknown>[])
      .filter((p) => p && typeof p.message === 'string')
      .map((p) => ({
        message: p.message as string,
        ...(typeof p.code === 'string' ? { code: p.code } : {}),
        ...(typeof p.path === 'string' ? { path: p.path } : {}),
        ...(typeof p.line === 'number' ? { line: p.line } : {}),
        ...(typeof p.column === 'number' ? { column: p.column } : {}),
      }));
  }
  if (details && typeof details.line === 'number') {
    return [{ message: error.message, line: details.line, ...(typeof details.column === 'number' ? { column: details.column } : {}), ...(typeof details.path === 'string' ? { path: details.path } : {}) }];
  }
  return [];
}
