import { fileURLToPath } from 'node:url';
import { SluiceError } from '@sluice/core';
import { migrate, MigrationError } from '@sluice/db';
import type { CliIO } from '../io.js';

/** `prisma/migrations` of this checkout (same depth from src/commands and dist/commands). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../prisma/migrations', import.meta.url));

export interface DbMigrateOptions {
  readonly databaseUrl: string;
  /** Default {@link MIGRATIONS_DIR}. */
  readonly migrationsDir?: string;
}

/** Seconds to wait for the server to accept the connection (pg reads `connect_timeout` from the URL). */
const CONNECT_TIMEOUT_SECONDS = 10;

/** Errors (or their `code`s) that mean "no database to talk to" rather than "the migrations are wrong". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  '28P01', // invalid_password
  '28000', // invalid_authorization_specification (pg_hba refuses)
  '3D000', // invalid_catalog_name: the database does not exist
  '57P03', // cannot_connect_now: starting up / shutting down
  '53300', // too_many_connections
]);

/** `postgres://user:***@host:port/db`: the URL as it may be printed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function withConnectTimeout(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('connect_timeout')) parsed.searchParams.set('connect_timeout', String(CONNECT_TIMEOUT_SECONDS));
  return parsed.toString();
}

function unreachableReason(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  // Node reports a host with several addresses (localhost → ::1, 127.0.0.1) as an AggregateError with the code.
  const inner = error instanceof AggregateError ? (error.errors[0] as Error | undefined) : undefined;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return inner?.message ?? (error.message || code);
  if (/timeout expired|Connection terminated/i.test(error.message)) return error.message;
  return undefined;
}

/** `sluice db migrate`: apply pending migrations. 0 on success, 1 when a migration is wrong or failed. */
export async function dbMigrateCommand(options: DbMigrateOptions, io: CliIO): Promise<number> {
  if (!/^postgres(ql)?:\/\//.test(options.databaseUrl)) {
    throw new SluiceError('SLU_CLI_USAGE', {
      reason: `the database URL must look like postgres://user:password@host:port/database, got ${redactUrl(options.databaseUrl)}`,
    });
  }
  try {
    const result = await migrate({
      databaseUrl: withConnectTimeout(options.databaseUrl),
      migrationsDir: options.migrationsDir ?? MIGRATIONS_DIR,
      log: (message) => {
        if (message.startsWith('warning')) io.stderr(`sluice: ${message}`);
      },
    });
    if (result.applied.length === 0) io.stdout('database is up to date');
    for (const name of result.applied) io.stdout(`applied ${name}`);
    return 0;
  } catch (error) {
    if (error instanceof MigrationError) {
      io.stderr(`sluice: ${error.message}`);
      return 1;
    }
    const reason = unreachableReason(error);
    if (reason !== undefined) {
      throw new SluiceError('SLU_DB_UNAVAILABLE', { reason: `${reason} (${redactUrl(options.databaseUrl)})` }, {}, { cause: error });
    }
    throw error;
  }
}
