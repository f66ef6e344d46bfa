/**
 * The layout of a graph, computed in a Web Worker (layout.worker.ts) so a large flow does not freeze the page; where
 * workers are not available, on the main thread. Undefined until the first layout is ready; the previous layout stays
 * shown while a new one is computed.
 */
import { useEffect, useRef, useState } from 'react';
import type { FlowGraph } from '../../types';
import type { Direction, Layout } from './layout';

type Answer = { id: number; layout: Layout; error?: undefined } | { id: number; error: string; layout?: undefined };

export function useLayout(graph: FlowGraph, direction: Direction): { layout: Layout | undefined; error: string | undefined; pending: boolean } {
  const [result, setResult] = useState<{ layout?: Layout; error?: string; for?: FlowGraph; direction?: Direction }>({});
  const worker = useRef<Worker | undefined>(undefined);
  const sequence = useRef(0);

  useEffect(() => {
    return () => {
      worker.current?.terminate();
      worker.current = undefined;
    };
  }, []);

  useEffect(() => {
    const id = ++sequence.current;
    let cancelled = false;
    const done = (answer: { layout?: Layout; error?: string }): void => {
      if (cancelled || id !== sequence.current) return;
      setResult({ ...answer, for: graph, direction });
    };
    const onMainThread = (): void => {
      void import('./layout')
        .then(({ layoutGraph }) => done({ layout: layoutGraph(graph, direction) }))
        .catch((error: unknown) => done({ error: error instanceof Error ? error.message : String(error) }));
    };
    let detach = (): void => undefined;
    if (typeof Worker === 'undefined') {
      onMainThread();
    } else {
      try {
        worker.current ??= new Worker(new URL('./layout.worker.ts', import.meta.url), { type: 'module', name: 'topology-layout' });
        const current = worker.current;
        const onMessage = (event: MessageEvent<Answer>): void => {
          if (event.data.id !== id) return;
          done(event.data.error === undefined ? { layout: event.data.layout } : { error: event.data.error });
        };
        // A worker that cannot start (a blocked script): lay out here instead.
        const onError = (): void => {
          worker.current?.terminate();
          worker.current = undefined;
          onMainThread();
        };
        current.addEventListener('message', onMessage);
        current.addEventListener('error', onError);
        detach = () => {
          current.removeEventListener('message', onMessage);
          current.removeEventListener('error', onError);
        };
        current.postMessage({ id, graph, direction });
      } catch {
        onMainThread();
      }
    }
    return () => {
      cancelled = true;
      detach();
    };
  }, [graph, direction]);

  return { layout: result.layout, error: result.error, pending: result.for !== graph || result.direction !== direction };
}
