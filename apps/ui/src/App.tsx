/**
 * The shell: the navigation, the theme switch, keyboard shortcuts, the sign-in gate, and the routes. Every page but the
 * flows page (the landing page, in the entry chunk) is its own chunk (React.lazy), so the flows page loads none of the
 * editor's, the topology's or the Gantt chart's code.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState, useSyncExternalStore } from 'react';
import type { ComponentType } from 'react';
import { api, credentials, isUnauthorized, onAuthChange, setCredentials } from './api';
import { ErrorBoundary } from './components/ErrorBoundary';
import { Spinner } from './components/common';
import { Link, match, navigate, useLocation } from './router';
import { toggleTheme } from './theme';
import { SignIn } from './pages/SignIn';
// The landing page is in the entry chunk: a first visit then waits on one script, not two in a row.
import FlowsPage from './pages/Flows';

const FlowPage = lazy(() => import('./pages/Flow'));
const NewFlowPage = lazy(() => import('./pages/NewFlow'));
const ExecutePage = lazy(() => import('./pages/Execute'));
const ExecutionsPage = lazy(() => import('./pages/Executions'));
const ExecutionPage = lazy(() => import('./pages/Execution'));
const LogsPage = lazy(() => import('./pages/Logs'));

interface Route {
  readonly pattern: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly page: ComponentType<any>;
  readonly section: 'flows' | 'executions' | 'logs';
}

/** First match wins: static segments (`new`) before parameters. */
const ROUTES: readonly Route[] = [
  { pattern: '/flows', page: FlowsPage, section: 'flows' },
  { pattern: '/flows/new', page: NewFlowPage, section: 'flows' },
  { pattern: '/flows/:namespace/:id/execute', page: ExecutePage, section: 'flows' },
  { pattern: '/flows/:namespace/:id/:tab?', page: FlowPage, section: 'flows' },
  { pattern: '/executions', page: ExecutionsPage, section: 'executions' },
  { pattern: '/executions/:id/:tab?', page: ExecutionPage, section: 'executions' },
  { pattern: '/logs', page: LogsPage, section: 'logs' },
  // Kestra's UI paths (an execution's `url` with SLUICE_PUBLIC_URL set, bookmarks from Kestra): sent to the same page here.
  { pattern: '/:tenant/executions/:namespace/:flowId/:id/:tab?', page: KestraExecutionRedirect, section: 'executions' },
  { pattern: '/:tenant/flows/edit/:namespace/:id/:tab?', page: KestraFlowRedirect, section: 'flows' },
];

function KestraExecutionRedirect({ id, tab }: { id: string; tab?: string }) {
  useEffect(() => navigate(`/executions/${encodeURIComponent(id)}${tab ? `/${encodeURIComponent(tab)}` : ''}`, { replace: true }), [id, tab]);
  return <Spinner />;
}

function KestraFlowRedirect({ namespace, id, tab }: { namespace: string; id: string; tab?: string }) {
  useEffect(() => navigate(`/flows/${encodeURIComponent(namespace)}/${encodeURIComponent(id)}${tab ? `/${encodeURIComponent(tab)}` : ''}`, { replace: true }), [namespace, id, tab]);
  return <Spinner />;
}

function useUnauthorized(): boolean {
  return useSyncExternalStore(onAuthChange, isUnauthorized);
}

/** `g f`, `g e`, `g l`: go to flows, executions, logs; `/`: focus the page's search; `t`: switch the theme. */
function useShortcuts(): void {
  useEffect(() => {
    let pendingG = 0;
    const onKey = (event: KeyboardEvent): void => {
      const target = event.target as HTMLElement | null;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
      if (event.key === '/') {
        const search = document.querySelector<HTMLInputElement>('[data-search]');
        if (search) {
          event.preventDefault();
          search.focus();
        }
        return;
      }
      if (event.key === 't') {
        toggleTheme();
        return;
      }
      if (event.key === 'g') {
        pendingG = Date.now();
        return;
      }
      if (Date.now() - pendingG < 1000) {
        const to = { f: '/flows', e: '/executions', l: '/logs' }[event.key];
        pendingG = 0;
        if (to) navigate(to);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

export function App() {
  const { path } = useLocation();
  const unauthorized = useUnauthorized();
  const queryClient = useQueryClient();
  const [signedIn, setSignedIn] = useState(credentials() !== undefined);
  useShortcuts();
  // One light request at start, so a server with auth on shows the sign-in page whatever page was opened.
  useQuery({ queryKey: ['auth-probe'], queryFn: () => api<unknown>('/flows/search?size=1'), staleTime: Infinity, retry: false });

  useEffect(() => {
    if (path === '/' || path === '') navigate('/flows', { replace: true });
  }, [path]);

  if (unauthorized) {
    return (
      <SignIn
        onSignedIn={() => {
          setSignedIn(true);
          void queryClient.resetQueries();
        }}
      />
    );
  }

  let found: { route: Route; params: Record<string, string> } | undefined;
  for (const route of ROUTES) {
    const params = match(route.pattern, path);
    if (params) {
      found = { route, params };
      break;
    }
  }
  const section = found?.route.section;
  const Page = found?.route.page;

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/flows" className="brand" aria-label="Sluice home">
          <span className="brand-mark" aria-hidden="true" />
          Sluice
        </Link>
        <nav className="mainnav" aria-label="Main">
          <Link to="/flows" className={section === 'flows' ? 'active' : ''} aria-current={section === 'flows' ? 'page' : undefined} title="Flows (g f)">
            Flows
          </Link>
          <Link to="/executions" className={section === 'executions' ? 'active' : ''} aria-current={section === 'executions' ? 'page' : undefined} title="Executions (g e)">
            Executions
          </Link>
          <Link to="/logs" className={section === 'logs' ? 'active' : ''} aria-current={section === 'logs' ? 'page' : undefined} title="Logs (g l)">
            Logs
          </Link>
        </nav>
        <div className="topbar-actions">
          <a href="/docs" className="muted" target="_blank" rel="noreferrer">
            API docs
          </a>
          <button type="button" className="ghost" onClick={() => toggleTheme()} title="Switch theme (t)" aria-label="Switch between light and dark theme">
            ◐
          </button>
          {signedIn ? (
            <button
              type="button"
              className="ghost"
              onClick={() => {
                setCredentials(undefined);
                setSignedIn(false);
                queryClient.clear();
                window.location.reload();
              }}
            >
              Sign out
            </button>
          ) : null}
        </div>
      </header>
      <main id="main" className="main">
        {/* A new page (not a new tab of the same one) starts with a fresh error boundary: a tab switch keeps the page mounted. */}
        <ErrorBoundary key={found ? `${found.route.pattern}|${Object.entries(found.params).filter(([name]) => name !== 'tab').map(([name, value]) => `${name}=${value}`).join('&')}` : path}>
          <Suspense fallback={<Spinner />}>
            {Page && found ? (
              <Page {...found.params} />
            ) : path === '/' ? (
              <Spinner />
            ) : (
              <div className="empty">
                <h3>No page here</h3>
                <p>
                  <code>{path}</code> is not a page of the Sluice UI. Go to the <Link to="/flows">flows</Link> or the <Link to="/executions">executions</Link>.
                </p>
              </div>
            )}
          </Suspense>
        </ErrorBoundary>
      </main>
    </div>
  );
}
