/**
 * The execution store for the tasks a remote worker runs (`TaskContext.executions`: `log.Fetch`,
 * `execution.Resume`), over the API's internal routes with the worker token (apps/api routes/internal-executions.ts):
 *
 * - `get` → `GET /api/v1/internal/executions/{id}` (404: undefined);
 * - `fetchLogs` → `GET /api/v1/internal/executions/{id}/logs`, page after page, each read once the previous one was
 *   handed over (a log of millions of lines never sits in the worker's memory);
 * - `resume` → `POST /api/v1/internal/executions/{id}/resume` with `{inputs}`.
 *
 * The API's errors come back as the same `SluiceError` (their parameters travel in `details.params`); an API that
 * cannot be reached, or answers something else, is a plain Error naming the request. Nothing is retried: a task
 * whose request failed fails (its `retry` applies).
 */
import { SluiceError, sluiceErrorFromBody } from '@sluice/core';
import type { ChildExecutionOutputs, ExecutionInfo, ExecutionLogLine, ExecutionsAccess } from '@sluice/plugin-api';

export interface HttpExecutionsAccessOptions {
  /** The API's base URL (`SLUICE_API_URL`), e.g. `http://api:8080`. */
  readonly apiUrl: string;
  /** The worker token (`SLUICE_WORKER_TOKEN`). */
  readonly token: string;
  /** The fetch to use (tests). Default the global one. */
  readonly fetch?: typeof fetch;
  /** Give up on one request after this long. Default 60 s. */
  readonly timeoutMs?: number;
  /** Log lines asked for per page. Default 1000. */
  readonly pageSize?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_PAGE_SIZE = 1000;

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? error.cause : undefined;
    return cause ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}

export function createHttpExecutionsAccess(options: HttpExecutionsAccessOptions): ExecutionsAccess {
  const base = `${options.apiUrl.replace(/\/+$/, '')}/api/v1/internal/executions`;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;

  /** A 2xx response; the API's error as a SluiceError; anything else as an Error naming the request. */
  async function request(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const url = `${base}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new Error(`cannot reach the Sluice API at ${options.apiUrl} (${method} ${url}): ${describe(error)}`, { cause: error });
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    const refused = sluiceErrorFromBody(text);
    if (refused) throw refused;
    throw new Error(`the Sluice API refused ${method} ${url}: HTTP ${response.status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`);
  }

  const at = (executionId: string): string => `/${encodeURIComponent(executionId)}`;

  return {
    async get(executionId) {
      try {
        return (await (await request('GET', at(executionId))).json()) as ExecutionInfo;
      } catch (error) {
        if (error instanceof SluiceError && error.code === 'SLU_API_EXECUTION_NOT_FOUND') return undefined;
        throw error;
      }
    },

    async fetchLogs(executionId, query, onPage, signal) {
      const fixed = new URLSearchParams({ minLevel: query.minLevel, size: String(pageSize) });
      for (const taskId of query.taskIds ?? []) fixed.append('taskId', taskId);
      let after: string | undefined;
      do {
        if (signal?.aborted) throw signal.reason;
        const search = new URLSearchParams(fixed);
        if (after !== undefined) search.set('after', after);
        const response = await request('GET', `${at(executionId)}/logs?${search.toString()}`, undefined, signal);
        const page = (await response.json()) as { results: ExecutionLogLine[]; next?: string };
        if (page.results.length > 0) await onPage(page.results);
        after = page.next;
      } while (after !== undefined);
    },

    async childOutputs(executionId, taskRunId, onPage, signal) {
      let after: number | undefined = 0;
      do {
        if (signal?.aborted) throw signal.reason;
        const response = await request('GET', `${at(executionId)}/children/${encodeURIComponent(taskRunId)}?after=${after}`, undefined, signal);
        const page = (await response.json()) as { results: ChildExecutionOutputs[]; next?: number };
        if (page.results.length > 0) await onPage(page.results);
        after = page.next;
      } while (after !== undefined);
    },

    async resume(executionId, inputs) {
      const response = await request('POST', `${at(executionId)}/resume`, inputs === undefined ? {} : { inputs });
      await response.arrayBuffer().catch(() => undefined);
    },
  };
}
