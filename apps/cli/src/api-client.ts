/**
 * The few things the client commands (`flow deploy`, `execute`) need to talk to a running Sluice server: where it is
 * (`--server`, `SLUICE_SERVER_URL`, default http://localhost:8080), the bearer token (`SLUICE_API_TOKEN`), one JSON
 * request helper, and how its two failures are reported: an unreachable server is exit 2, an API error is exit 1.
 */
import { SluiceError } from '@sluice/core';
import type { CliIO } from './io.js';

export const DEFAULT_SERVER_URL = 'http://localhost:8080';

export interface ServerOptions {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly token?: string;
}

/** The server from `--server`, else `SLUICE_SERVER_URL`, else the default; a URL that is not http(s) is a usage error. */
export function serverOptions(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): ServerOptions {
  const raw = flag ?? (env.SLUICE_SERVER_URL || DEFAULT_SERVER_URL);
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw new SluiceError('SLU_CLI_USAGE', { reason: `the server URL must look like http://host:port, got "${raw}"` });
  }
  const token = env.SLUICE_API_TOKEN;
  return { url: raw.replace(/\/+$/, ''), ...(token ? { token } : {}) };
}

/** The server answered with an error body `{code, message, details}` (or something else that is not a success). */
export class ApiError extends Error {
  /** What the command was doing, printed before the code (a file being deployed). */
  context?: string;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** No HTTP answer at all. */
export class ServerUnreachable extends Error {
  constructor(url: string, reason: string) {
    super(`cannot reach the Sluice server at ${url}: ${reason} (start one with "sluice server local" or pass --server)`);
    this.name = 'ServerUnreachable';
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** fetch's `TypeError: fetch failed` hides the reason in `cause` (an AggregateError when the host has several addresses). */
function reasonOf(error: unknown): string {
  let cause = (error as { cause?: unknown }).cause ?? error;
  if (cause instanceof AggregateError) cause = cause.errors[0] ?? cause;
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string') return REASONS[code] ?? code;
  return cause instanceof Error ? cause.message : String(cause);
}

export interface RequestOptions {
  readonly body?: string | FormData;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export class ApiClient {
  constructor(private readonly server: ServerOptions) {}

  /** `method path` (path with its query), the JSON answer; undefined for 204. Throws ApiError or ServerUnreachable. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.server.token) headers.authorization = `Bearer ${this.server.token}`;
    if (options.contentType) headers['content-type'] = options.contentType;
    let response: Response;
    try {
      response = await fetch(`${this.server.url}${path}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: options.body }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new ServerUnreachable(this.server.url, reasonOf(error));
    }
    const text = await response.text();
    const body = parseJson(text);
    if (!response.ok) {
      const error = body as { code?: unknown; message?: unknown; details?: unknown } | undefined;
      if (typeof error?.code === 'string' && typeof error.message === 'string') {
        throw new ApiError(response.status, error.code, error.message, (error.details ?? {}) as Record<string, unknown>);
      }
      throw new ApiError(response.status, `HTTP_${response.status}`, text.trim().split('\n')[0] || response.statusText, {});
    }
    return body as T;
  }

  /** `request`, but undefined when the server answers 404. */
  async find<T>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `/a/b` with every segment encoded. */
export function apiPath(...segments: string[]): string {
  return segments.map((s) => `/${encodeURIComponent(s)}`).join('');
}

/** Run a client command: an unreachable server is one line and exit 2; an API error its code, message, details and exit 1. */
export async function reportingApiErrors(io: CliIO, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ServerUnreachable) {
      io.stderr(`sluice: ${error.message}`);
      return 2;
    }
    if (!(error instanceof ApiError)) throw error;
    io.stderr(`sluice: ${error.context ? `${error.context}: ` : ''}${error.code}: ${error.message}`);
    for (const line of detailLines(error.details)) io.stderr(`  ${line}`);
    return 1;
  }
}

interface ProblemDetail {
  readonly code?: string;
  readonly message?: string;
  readonly path?: string;
  readonly line?: number;
  readonly column?: number;
  readonly document?: number;
  readonly input?: string;
}

/** One line per problem of a flow error (`details.problems`, or the error's own position) or of an input error. */
function detailLines(details: Record<string, unknown>): string[] {
  const problems = Array.isArray(details.problems) ? (details.problems as ProblemDetail[]) : details.line === undefined ? [] : [details as ProblemDetail];
  return problems.map((p) => {
    if (p.input !== undefined) return `${p.input}: ${p.message ?? ''}`;
    const where = `${p.document === undefined ? '' : `document ${p.document}, `}line ${p.line ?? '?'}, column ${p.column ?? '?'}`;
    return [where, p.path, p.message].filter(Boolean).join(': ') + (p.code ? ` [${p.code}]` : '');
  });
}
