/**
 * Fresh databases on the test Postgres that `scripts/services.sh` starts (127.0.0.1:5433).
 *
 * `SLUICE_TEST_DATABASE_URL` points at the server: any existing database, used only for CREATE/DROP DATABASE
 * (default postgres://sluice:sluice@127.0.0.1:5433/postgres). When the server is unusable, `createTestDatabase`
 * returns undefined (the caller skips) unless `SLUICE_REQUIRE_SERVICES=1`, where it throws an error naming the URL
 * and how to start it.
 *
 * This talks to Postgres through `pg` directly, never through `@sluice/db` (whose own tests use this package), so
 * migrations stay with the caller: `migrate({ databaseUrl: database.url, migrationsDir })`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { servicesRequired } from './docker.js';

const DEFAULT_ADMIN_URL = 'postgres://sluice:sluice@127.0.0.1:5433/postgres';

/** The URL CREATE/DROP DATABASE go through: `SLUICE_TEST_DATABASE_URL`, or the server of `scripts/services.sh`. */
export function testPostgresUrl(): string {
  return process.env.SLUICE_TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
}

export interface TestDatabase {
  /** Connection URL of the new, empty database (the admin URL with its database name replaced). */
  readonly url: string;
  /** Drop the database (`DROP DATABASE IF EXISTS ... WITH (FORCE)`, so connections still open to it do not block). */
  drop(): Promise<void>;
}

/** Run `work` on a short-lived connection to the admin database. */
async function withAdmin<T>(work: (client: pg.Client) => Promise<T>, connectionTimeoutMillis?: number): Promise<T> {
  const client = new pg.Client({ connectionString: testPostgresUrl(), ...(connectionTimeoutMillis === undefined ? {} : { connectionTimeoutMillis }) });
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Why the test Postgres cannot be used (it does not answer within 3 s, or refuses the admin URL), or undefined when
 * it answers. For suites that register skipped tests instead of creating a database up front.
 */
export async function postgresUnavailable(): Promise<string | undefined> {
  try {
    await withAdmin((client) => client.query('SELECT 1'), 3000);
    return undefined;
  } catch (error) {
    return `Postgres at ${new URL(testPostgresUrl()).host} does not answer (${(error as Error).message}); start it with \`sudo bash scripts/services.sh\``;
  }
}

/**
 * CREATE DATABASE copies template1 and fails ("source database is being accessed by other users") when another
 * session creates a database at the same moment, as test files running in parallel do: retry a few times.
 */
async function createDatabase(client: pg.Client, database: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(`CREATE DATABASE "${database}"`);
      return;
    } catch (error) {
      if (attempt >= 5 || !/being accessed by other users/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/**
 * Create an empty database named `<prefix>_<12 random hex digits>` on the test Postgres. Returns undefined when
 * Postgres is unusable (no connection within 10 s included) and `SLUICE_REQUIRE_SERVICES` is not `1`; with it,
 * throws an error naming the URL and `scripts/services.sh`. The caller drops the database when done (`drop()`).
 */
export async function createTestDatabase(prefix: string): Promise<TestDatabase | undefined> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`createTestDatabase: the prefix must be a lower-case SQL identifier, got ${JSON.stringify(prefix)}`);
  const adminUrl = testPostgresUrl();
  const database = `${prefix}_${randomBytes(6).toString('hex')}`;
  try {
    await withAdmin((client) => createDatabase(client, database), 10_000);
  } catch (error) {
    if (servicesRequired()) {
      const reason =
        (error instanceof Error ? error.message : String(error))
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean)
          .join(' ') || String((error as { code?: unknown } | undefined)?.code ?? 'unknown error');
      throw new Error(`Postgres at ${adminUrl} is required (SLUICE_REQUIRE_SERVICES=1) but unusable: ${reason}. Start it with \`sudo bash scripts/services.sh\`.`, {
        cause: error,
      });
    }
    return undefined;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return {
    url: url.toString(),
    async drop() {
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
    },
  };
}
