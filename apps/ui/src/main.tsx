import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError } from './api';
import { App } from './App';
import { flowsSearchQuery } from './pages/Flows';
import { BASE } from './router';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      refetchOnWindowFocus: false,
      // A 4xx will not get better by asking again.
      retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
    },
  },
});

// The landing page's list is asked for now, while React starts: its answer is then often there for the first render.
const opened = window.location.pathname.slice(BASE.length).replace(/\/+$/, '');
if (opened === '' || opened === '/flows') {
  void queryClient.prefetchQuery(flowsSearchQuery(new URLSearchParams(window.location.search))).catch(() => undefined);
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
