/**
 * The topology's layout off the main thread: dagre on a few hundred nodes takes long enough to freeze a page. Gets
 * `{id, graph, direction}`, answers `{id, layout}` or `{id, error}`.
 */
import type { FlowGraph } from '../../types';
import { layoutGraph } from './layout';
import type { Direction } from './layout';

interface WorkerScope {
  onmessage: ((event: MessageEvent<{ id: number; graph: FlowGraph; direction: Direction }>) => void) | null;
  postMessage(message: unknown): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = (event) => {
  const { id, graph, direction } = event.data;
  try {
    scope.postMessage({ id, layout: layoutGraph(graph, direction) });
  } catch (error) {
    scope.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
};
