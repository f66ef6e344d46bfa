/**
 * The KV store for the tasks a remote worker runs (`TaskContext.kv`: `kv()`, `kv.*`, `state.*`), over the API's
 * internal routes with the worker token (apps/api routes/internal-kv.ts):
 *
 * - `get` → `GET /api/v1/internal/kv/{namespace}/{key}` (`{status, type?, value?}`);
 * - `set` → `PUT /api/v1/internal/kv/{namespace}/{key}` with `{type, value, ttlMs?, overwrite?}`;
 * - `delete` → `DELETE /api/v1/internal/kv/{namespace}/{key}`;
 * - `list` → `GET /api/v1/internal/kv/{namespace}`.
 *
 * The API's errors come back as the same `SluiceError` (their parameters travel in `details.params`): a value over
 * 1 MiB fails the task with `SLU_KV_VALUE_TOO_LARGE` as it would in `sluice server local`. An API that cannot be
 * reached, or answers something else, is a plain Error naming the request. Nothing is retried: a task whose request
 * failed fails (its `retry` applies).
 */
import { sluiceErrorFromBody } from '@sluice/core';
import type { KvAccess, KvEntryInfo, KvLookup } from '@sluice/plugin-api';

export interface HttpKvAccessOptions {
  /** The API's base URL (`SLUICE_API_URL`), e.g. `http://api:8080`. */
  readonly apiUrl: string;
  /** The worker token (`SLUICE_WORKER_TOKEN`). */
  readonly token: string;
  /** The fetch to use (tests). Default the global one. */
  readonly fetch?: typeof fetch;
  /** Give up on one request after this long. Default 60 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? error.cause : undefined;
    return cause ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}

export function createHttpKvAccess(options: HttpKvAccessOptions): KvAccess {
  const base = `${options.apiUrl.replace(/\/+$/, '')}/api/v1/internal/kv`;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  /** The JSON of a 2xx response; the API's error as a SluiceError; anything else as an Error naming the request. */
  async function request<T>(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${base}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new Error(`cannot reach the Sluice API at ${options.apiUrl} (${method} ${url}): ${describe(error)}`, { cause: error });
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return JSON.parse(text) as T;
    const refused = sluiceErrorFromBody(text);
    if (refused) throw refused;
    throw new Error(`the Sluice API refused ${method} ${url}: HTTP ${response.status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`);
  }

  const at = (namespace: string, key?: string): string => `/${encodeURIComponent(namespace)}${key === undefined ? '' : `/${encodeURIComponent(key)}`}`;

  return {
    get: (namespace, key) => request<KvLookup>('GET', at(namespace, key)),
    async set(namespace, key, value, setOptions = {}) {
      const answer = await request<{ written: boolean }>('PUT', at(namespace, key), {
        type: value.type,
        value: value.value,
        ...(setOptions.ttlMs === undefined ? {} : { ttlMs: setOptions.ttlMs }),
        ...(setOptions.overwrite === undefined ? {} : { overwrite: setOptions.overwrite }),
      });
      return answer.written;
    },
    async delete(namespace, key) {
      return (await request<{ deleted: boolean }>('DELETE', at(namespace, key))).deleted;
    },
    list: (namespace) => request<KvEntryInfo[]>('GET', at(namespace)),
  };
}
