/**
 * What a database error means to a caller that must answer a client: the database is unreachable (retry later), or a
 * value held text Postgres refuses to store (the client's fault). Everything else is left alone (undefined).
 *
 * Errors reach callers in three shapes, and the same failure can take any of them depending on the path it took:
 * - `pg`'s own: a `DatabaseError` with the SQLSTATE in `code` (`22021`), a Node socket error (`ECONNREFUSED`), or a
 *   plain `Error` with only a message (`Connection terminated unexpectedly`, `timeout exceeded when trying to
 *   connect`);
 * - Prisma's: a `PrismaClientKnownRequestError` with a `P` code (`P1001` can't reach, `P1017` connection closed,
 *   `P2024` pool timeout) and, through the `pg` driver adapter, `meta.driverAdapterError.cause` holding the SQLSTATE
 *   (`originalCode`) or a `kind` (`DatabaseNotReachable`, `ConnectionClosed`, `SocketTimeout`, `TooManyConnections`);
 * - pg's plain errors passed through Prisma unchanged (the adapter rethrows what it cannot map).
 */

export type DbErrorKind =
  /** The database cannot be reached or dropped the connection: a retry later may succeed. */
  | 'unavailable'
  /** A value holds a character Postgres cannot store: NUL (U+0000), or a lone surrogate in JSON (22P05, 22021, 22P02 json). */
  | 'invalid-text';

export interface DbErrorClass {
  readonly kind: DbErrorKind;
  /** A short reason without host names, SQL or credentials (safe to show a client). */
  readonly reason: string;
  /** The SQLSTATE, Prisma code, Node error code or adapter kind that decided it. */
  readonly cause: string;
}

/** Node socket errors that mean the server is not there (or not answering). */
const SOCKET_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EPIPE: 'the connection was closed',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (temporary)',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  EHOSTDOWN: 'the host is down',
};

/** Prisma's connection-level error codes. */
const PRISMA_CODES: Record<string, string> = {
  P1001: 'the server does not answer',
  P1002: 'the server timed out',
  P1008: 'the operation timed out',
  P1017: 'the server closed the connection',
  P2024: 'no connection became free in time',
};

/** The `pg` driver adapter's error kinds (`meta.driverAdapterError.cause.kind`). */
const ADAPTER_KINDS: Record<string, string> = {
  DatabaseNotReachable: 'the server does not answer',
  ConnectionClosed: 'the server closed the connection',
  SocketTimeout: 'the connection timed out',
  TooManyConnections: 'the server has too many connections',
};

/** `pg`'s messages for errors that carry no code. */
const PG_MESSAGES: readonly [RegExp, string][] = [
  [/^Connection terminated due to connection timeout/, 'the connection timed out'],
  [/^Connection terminated/, 'the server closed the connection'],
  [/^timeout exceeded when trying to connect/, 'no connection became free in time'],
  [/^Client has encountered a connection error/, 'the server closed the connection'],
  [/^Client was closed and is not queryable/, 'the connection was closed'],
  [/^Cannot use a pool after calling end on the pool/, 'the connection pool is closed'],
];

/** SQLSTATEs of an unreachable or stopping server. */
function sqlStateUnavailable(state: string): string | undefined {
  if (state.startsWith('08')) return 'the connection failed';
  switch (state) {
    case '57P01':
      return 'the server is shutting down';
    case '57P02':
      return 'the server crashed';
    case '57P03':
      return 'the server is starting up or shutting down';
    case '53300':
      return 'the server has too many connections';
    default:
      return undefined;
  }
}

const INVALID_TEXT = 'a value holds a character the database cannot store (NUL, U+0000, or a lone UTF-16 surrogate)';

function sqlStateInvalidText(state: string, message: string): boolean {
  if (state === '22P05' || state === '22021') return true;
  // A lone surrogate serialised into JSON ("\ud800") is refused by jsonb as invalid JSON.
  return state === '22P02' && /json|unicode|surrogate/i.test(message);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** One error object, without following causes. */
function classifyOne(error: Record<string, unknown>): DbErrorClass | undefined {
  const code = str(error.code);
  const message = str(error.message) ?? '';
  // The driver adapter's cause, as Prisma attaches it.
  const adapter = record(record(record(error.meta)?.driverAdapterError)?.cause);
  if (adapter) {
    const state = str(adapter.originalCode) ?? (adapter.kind === 'postgres' ? str(adapter.code) : undefined);
    const adapterMessage = str(adapter.originalMessage) ?? str(adapter.message) ?? '';
    if (state && sqlStateInvalidText(state, adapterMessage)) return { kind: 'invalid-text', reason: INVALID_TEXT, cause: state };
    const unavailable = state ? sqlStateUnavailable(state) : undefined;
    if (state && unavailable) return { kind: 'unavailable', reason: unavailable, cause: state };
    const kind = str(adapter.kind);
    if (kind && ADAPTER_KINDS[kind]) return { kind: 'unavailable', reason: ADAPTER_KINDS[kind], cause: kind };
  }
  if (code && /^P\d{4}$/.test(code) && PRISMA_CODES[code]) return { kind: 'unavailable', reason: PRISMA_CODES[code], cause: code };
  if (code && SOCKET_CODES[code]) return { kind: 'unavailable', reason: SOCKET_CODES[code], cause: code };
  // pg's DatabaseError: a five-character SQLSTATE (and a severity).
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    if (sqlStateInvalidText(code, message)) return { kind: 'invalid-text', reason: INVALID_TEXT, cause: code };
    const unavailable = sqlStateUnavailable(code);
    if (unavailable) return { kind: 'unavailable', reason: unavailable, cause: code };
  }
  if (code === undefined) {
    for (const [pattern, reason] of PG_MESSAGES) if (pattern.test(message)) return { kind: 'unavailable', reason, cause: 'pg' };
  }
  return undefined;
}

/**
 * Classify an error thrown by `@sluice/db` (its repositories, `db.prisma`, or the pool), following `cause` and the
 * errors of an `AggregateError` (a host name with several addresses fails with one per address).
 */
export function classifyDbError(error: unknown): DbErrorClass | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const next = record(queue.shift());
    if (!next || seen.has(next) || seen.size > 20) continue;
    seen.add(next);
    const found = classifyOne(next);
    if (found) return found;
    if (next.cause !== undefined) queue.push(next.cause);
    if (Array.isArray(next.errors)) queue.push(...(next.errors as unknown[]));
  }
  return undefined;
}
