/**
 * Real Postgres for the db tests: `scripts/services.sh` starts a cluster on 127.0.0.1:5433. Each test file gets its
 * own fresh databases (`CREATE DATABASE sluice_test_<random>`), dropped after the file.
 *
 * `SLUICE_TEST_DATABASE_URL` points at the server (any existing database, used for CREATE/DROP DATABASE; default
 * postgres://sluice:sluice@127.0.0.1:5433/postgres). When the server does not answer, the suite fails loudly with
 * `SLUICE_REQUIRE_SERVICES=1` (CI, scripts/test.sh) and is otherwise skipped with one test naming the reason.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { afterAll, describe, it } from 'vitest';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

const adminUrl = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://sluice:sluice@127.0.0.1:5433/postgres';

async function probe(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `Postgres at ${new URL(adminUrl).host} does not answer (${(error as Error).message}); start it with \`sudo bash scripts/services.sh\``;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface PostgresTest {
  /** Create an empty database and return its URL; it is dropped after the test file. */
  createDatabase(): Promise<string>;
  /** A fresh database with every migration applied, and its client; closed and dropped after the test file. */
  migratedDb(): Promise<Db>;
}

/**
 * Register `factory`'s tests with a Postgres helper, or (no server, SLUICE_REQUIRE_SERVICES unset) one skipped test
 * saying why. Call with top-level await: `await describeWithPostgres('...', (pgt) => { ... })`.
 */
export async function describeWithPostgres(name: string, factory: (postgres: PostgresTest) => void): Promise<void> {
  const missing = await probe();
  if (missing !== undefined) {
    if (process.env.SLUICE_REQUIRE_SERVICES === '1') throw new Error(`SLUICE_REQUIRE_SERVICES=1 but ${missing}`);
    describe(name, () => {
      it.skip(`skipped: ${missing}`, () => undefined);
    });
    return;
  }
  const created: string[] = [];
  const clients: Db[] = [];
  const postgres: PostgresTest = {
    async createDatabase() {
      const database = `sluice_test_${randomBytes(6).toString('hex')}`;
      await admin((client) => client.query(`CREATE DATABASE "${database}"`));
      created.push(database);
      const url = new URL(adminUrl);
      url.pathname = `/${database}`;
      return url.toString();
    },
    async migratedDb() {
      const databaseUrl = await postgres.createDatabase();
      await migrate({ databaseUrl, migrationsDir: MIGRATIONS_DIR });
      const db = createDb({ databaseUrl });
      clients.push(db);
      return db;
    },
  };
  describe(name, () => {
    afterAll(async () => {
      await Promise.all(clients.map((db) => db.close()));
      await admin(async (client) => {
        for (const database of created) await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      });
    });
    factory(postgres);
  });
}
