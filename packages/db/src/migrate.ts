/**
 * The migration applier: applies `prisma/migrations/<name>/migration.sql` in name order, the way `prisma migrate deploy`
 * would, because Prisma's migrate engine cannot be downloaded where Sluice is built (DESIGN.md §7).
 *
 * - Each migration runs in ONE transaction together with its `_prisma_migrations` row, so a migration is either fully
 *   applied and recorded or not at all (no half-applied state to repair). Consequence: a migration must not contain
 *   statements Postgres refuses inside a transaction (`CREATE INDEX CONCURRENTLY`, `ALTER TYPE ... ADD VALUE` before
 *   Postgres 12).
 * - The bookkeeping table and its rows are exactly Prisma's (same DDL, `checksum` = sha256 hex of the file,
 *   `applied_steps_count` = 1), so `prisma migrate deploy` and `prisma migrate status` agree wherever the engine exists.
 * - Two processes starting at once are safe: the whole run holds a session advisory lock on Prisma's own key, so appliers
 *   (ours and Prisma's) queue behind each other and the second one finds everything applied.
 * - An applied migration whose file changed since (checksum mismatch), or a migration Prisma recorded as failed, stops
 *   the run with a {@link MigrationError} before anything is applied.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { SluiceError } from '@sluice/core';

/** The advisory lock key Prisma's schema engine takes around `migrate deploy`: sharing it serialises us with Prisma. */
export const MIGRATION_LOCK_KEY = 72707369;

/** `_prisma_migrations` as Prisma's schema engine creates it (Postgres connector). Compatibility: do not change. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateOptions {
  /** Postgres connection string of the database to migrate. */
  readonly databaseUrl: string;
  /** The folder holding one sub-folder per migration (`<timestamp>_<name>/migration.sql`). */
  readonly migrationsDir: string;
  /** Progress messages (one per applied migration, plus warnings); silent when absent. */
  readonly log?: (message: string) => void;
}

export interface MigrateResult {
  /** Names of the migrations this call applied, in order. */
  readonly applied: string[];
  /** Names of the migrations that were already applied. */
  readonly alreadyApplied: string[];
}

/**
 * The database and the migration files disagree, or a migration failed (`SLU_DB_MIGRATION_FAILED`). Nothing is
 * applied after it.
 */
export class MigrationError extends SluiceError {
  /** The migration concerned (folder name). */
  readonly migration: string;

  /** @param reason what happened, read after "migration NAME ": `was modified after it was applied: ...`. */
  constructor(migration: string, reason: string, options?: ErrorOptions) {
    super('SLU_DB_MIGRATION_FAILED', { migration, reason }, { migration }, options);
    this.migration = migration;
  }
}

interface LocalMigration {
  readonly name: string;
  readonly script: string;
  readonly checksum: string;
}

interface AppliedRow {
  readonly migration_name: string;
  readonly checksum: string;
  readonly finished_at: Date | null;
  readonly rolled_back_at: Date | null;
}

/** sha256 hex of the file's bytes: the value Prisma stores in `_prisma_migrations.checksum`. */
export function migrationChecksum(script: string): string {
  return createHash('sha256').update(script, 'utf8').digest('hex');
}

async function readMigrations(migrationsDir: string): Promise<LocalMigration[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const migrations: LocalMigration[] = [];
  for (const name of names) {
    let script: string;
    try {
      script = await readFile(join(migrationsDir, name, 'migration.sql'), 'utf8');
    } catch (error) {
      throw new MigrationError(name, `has no readable migration.sql in ${migrationsDir}`, { cause: error });
    }
    migrations.push({ name, script, checksum: migrationChecksum(script) });
  }
  return migrations;
}

/** Prisma compares checksums ignoring CRLF vs LF, so a checkout with Windows line endings still matches. */
function checksumMatches(migration: LocalMigration, recorded: string): boolean {
  return recorded === migration.checksum || recorded === migrationChecksum(migration.script.replace(/\r\n/g, '\n'));
}

/** Apply every pending migration of `migrationsDir` to the database, in order (see the module comment). */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  const migrations = await readMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await applyPending(client, migrations, log);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function applyPending(client: pg.Client, migrations: LocalMigration[], log: (message: string) => void): Promise<MigrateResult> {
  await client.query(CREATE_MIGRATIONS_TABLE);
  const { rows } = await client.query<AppliedRow>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
  );
  const applied = new Map<string, AppliedRow>();
  for (const row of rows) {
    if (row.rolled_back_at !== null) continue; // rolled back: Prisma applies it again, so do we
    if (row.finished_at === null) {
      throw new MigrationError(
        row.migration_name,
        `is recorded as failed in _prisma_migrations (started, never finished): ` +
          'repair the database, then mark it rolled back (`prisma migrate resolve --rolled-back`) or finished',
      );
    }
    applied.set(row.migration_name, row);
  }

  // Check every applied migration before applying anything: a changed file means the database is not what the code expects.
  const local = new Set(migrations.map((migration) => migration.name));
  for (const migration of migrations) {
    const row = applied.get(migration.name);
    if (row && !checksumMatches(migration, row.checksum)) {
      throw new MigrationError(
        migration.name,
        `was modified after it was applied: the database recorded checksum ${row.checksum}, ` +
          `the file now has ${migration.checksum}. Restore the original migration.sql and put the change in a new migration`,
      );
    }
  }
  for (const name of applied.keys()) {
    if (!local.has(name)) log(`warning: migration ${name} is applied in the database but missing from the migrations folder`);
  }

  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  for (const migration of migrations) {
    if (applied.has(migration.name)) {
      result.alreadyApplied.push(migration.name);
      continue;
    }
    const startedAt = new Date();
    try {
      await client.query('BEGIN');
      await client.query(migration.script);
      await client.query(
        `INSERT INTO "_prisma_migrations"
           (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`,
        [randomUUID(), migration.checksum, migration.name, startedAt],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      const reason = error instanceof Error ? error.message : String(error);
      throw new MigrationError(migration.name, `failed and was rolled back: ${reason}`, {
        cause: error,
      });
    }
    log(`applied migration ${migration.name} in ${Date.now() - startedAt.getTime()} ms`);
    result.applied.push(migration.name);
  }
  return result;
}
