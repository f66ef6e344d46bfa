/**
 * The API client: every request goes to `/api/v1/...` on the origin that served the UI, with the signed-in
 * credentials (if any) in the `Authorization` header, never in a URL. Errors become an {@link ApiError} carrying the
 * API's `{code, message, details}` body, which `ErrorMessage` shows as a readable message.
 *
 * Live data: {@link follow} reads a server-sent event stream over `fetch` (an `EventSource` cannot send headers, so it
 * could not carry the credentials), and calls back once per event.
 */

export const API = '/api/v1';

const CREDENTIALS_KEY = 'sluice.credentials';

/** The `Authorization` header value the user signed in with, kept for the browser tab's session only. */
export function credentials(): string | undefined {
  try {
    return sessionStorage.getItem(CREDENTIALS_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function setCredentials(value: string | undefined): void {
  if (value === undefined) sessionStorage.removeItem(CREDENTIALS_KEY);
  else sessionStorage.setItem(CREDENTIALS_KEY, value);
  for (const listener of authListeners) listener();
}

const authListeners = new Set<() => void>();

/** Called when the API answers 401: the app shows the sign-in page. */
export function onAuthChange(listener: () => void): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

let unauthorized = false;
export function isUnauthorized(): boolean {
  return unauthorized;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function headers(extra?: HeadersInit): Headers {
  const result = new Headers(extra);
  // The API then leaves Basic out of a 401's challenge, so the browser shows the UI's sign-in, not its own dialog.
  result.set('x-requested-with', 'sluice-ui');
  const auth = credentials();
  if (auth !== undefined && !result.has('authorization')) result.set('authorization', auth);
  return result;
}

/** An error answer as an {@link ApiError}; a body that is not the API's JSON keeps the status text. */
async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  if (response.status === 401) {
    unauthorized = true;
    for (const listener of authListeners) listener();
  }
  try {
    const body = JSON.parse(text) as { code?: string; message?: string; details?: unknown };
    if (typeof body.message === 'string') return new ApiError(response.status, body.code ?? `HTTP_${response.status}`, body.message, body.details);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, `HTTP_${response.status}`, `${response.status} ${response.statusText || 'error'}${text ? `: ${text.slice(0, 200)}` : ''}`);
}

/** A raw request under `/api/v1` with the credentials; throws an {@link ApiError} on any non-2xx answer. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${API}${path}`, { ...init, headers: headers(init.headers) });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `The Sluice API cannot be reached (${error instanceof Error ? error.message : String(error)}). Is the server running?`);
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status !== 401) unauthorized = false;
  return response;
}

/** A JSON request; `undefined` for a 204. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await request(path, { ...init, headers: { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) } });
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** POST/PUT a YAML body. */
export function yaml<T>(path: string, method: 'POST' | 'PUT', body: string): Promise<T> {
  return api<T>(path, { method, body, headers: { 'content-type': 'application/x-yaml' } });
}

/** A query string from a record, leaving out empty values; arrays repeat the key. */
export function query(params: Record<string, string | number | boolean | readonly string[] | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) for (const item of value) search.append(key, String(item));
    else search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Save a response body as a file the browser downloads (credentials travel in the header, so no plain link). */
export async function download(path: string, fallbackName: string): Promise<void> {
  const response = await request(path);
  const disposition = response.headers.get('content-disposition') ?? '';
  const name = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1];
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name ? decodeURIComponent(name) : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface SseEvent {
  /** Kestra's follow streams put the kind (`progress`, `end`) in the id. */
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string | undefined;
}

/**
 * Follow a server-sent event stream until it ends, `signal` aborts, or an error. `onEvent` gets each event as it
 * arrives. Resolves when the stream ends; rejects with an {@link ApiError} for an error answer or an `error` event.
 */
export async function follow(path: string, onEvent: (event: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const response = await request(path, { headers: { accept: 'text/event-stream' }, signal });
  if (response.status === 204 || !response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let id: string | undefined;
  let event: string | undefined;
  let data: string[] = [];
  const dispatch = (): void => {
    if (id === undefined && event === undefined && data.length === 0) return;
    const payload = data.length > 0 ? data.join('\n') : undefined;
    if (event === 'error') {
      let message = payload ?? 'the stream failed';
      let code = 'STREAM_ERROR';
      try {
        const body = JSON.parse(payload ?? '') as { code?: string; message?: string };
        message = body.message ?? message;
        code = body.code ?? code;
      } catch {
        // keep the raw text
      }
      throw new ApiError(500, code, message);
    }
    onEvent({ id, event, data: payload });
    id = undefined;
    event = undefined;
    data = [];
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          dispatch();
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = text;
        else if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
      }
    }
    dispatch();
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  } finally {
    reader.releaseLock();
  }
}
