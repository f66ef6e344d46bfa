/**
 * How a worker tells the API it is alive (DESIGN.md §1): `PUT /api/v1/internal/workers/{id}` every few seconds with
 * its group, concurrency and number of running task runs, and `DELETE` of the same path when it stops. Both with the
 * worker token (`Authorization: Bearer <SLUICE_WORKER_TOKEN>`); both answer 204.
 */

/** What a worker reports on each heartbeat. */
export interface WorkerHeartbeat {
  readonly id: string;
  readonly group: string;
  readonly concurrency: number;
  readonly running: number;
}

/** The API's registry of live workers, as the worker sees it. */
export interface WorkerRegistryClient {
  heartbeat(info: WorkerHeartbeat): Promise<void>;
  deregister(id: string): Promise<void>;
}

export interface HttpWorkerRegistryOptions {
  /** The API's base URL (`SLUICE_API_URL`), e.g. `http://api:8080`. */
  readonly apiUrl: string;
  /** The worker token (`SLUICE_WORKER_TOKEN`). */
  readonly token: string;
  /** The fetch to use (tests). Default the global one. */
  readonly fetch?: typeof fetch;
  /** Give up on one request after this long. Default 10 s. */
  readonly timeoutMs?: number;
}

/** A failed registry request: the API answered with a non-2xx status, or could not be reached (`status` undefined). */
export class WorkerRegistryError extends Error {
  readonly status: number | undefined;
  readonly url: string;

  constructor(message: string, url: string, status: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WorkerRegistryError';
    this.url = url;
    this.status = status;
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? error.cause : undefined;
    const code = cause && 'code' in cause && typeof cause.code === 'string' && !cause.message.includes(cause.code) ? ` (${cause.code})` : '';
    return cause ? `${error.message}: ${cause.message}${code}` : error.message;
  }
  return String(error);
}

/** The worker registry over the API's internal endpoints. */
export function createHttpWorkerRegistry(options: HttpWorkerRegistryOptions): WorkerRegistryClient {
  const base = `${options.apiUrl.replace(/\/+$/, '')}/api/v1/internal/workers`;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function request(method: 'PUT' | 'DELETE', id: string, body?: unknown): Promise<void> {
    const url = `${base}/${encodeURIComponent(id)}`;
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new WorkerRegistryError(`cannot reach the Sluice API at ${options.apiUrl} (${method} ${url}): ${describe(error)}`, url, undefined, {
        cause: error,
      });
    }
    if (response.ok) {
      // Drain the body (204 has none) so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      return;
    }
    const text = await response.text().catch(() => '');
    let message: string | undefined;
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      message = undefined;
    }
    const reason = message ?? (text.trim().slice(0, 200) || response.statusText);
    throw new WorkerRegistryError(`the Sluice API refused ${method} ${url}: HTTP ${response.status}${reason ? `: ${reason}` : ''}`, url, response.status);
  }

  return {
    heartbeat: (info) => request('PUT', info.id, { group: info.group, concurrency: info.concurrency, running: info.running }),
    deregister: (id) => request('DELETE', id),
  };
}
