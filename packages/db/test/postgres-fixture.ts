/**
 * Real Postgres for the db tests: `scripts/services.sh` starts a cluster on 127.0.0.1:5433. Each test file gets its
 * own fresh databases (`CREATE DATABASE sluice_test_<random>`), dropped after the file.
 *
 * `SLUICE_TEST_DATABASE_URL` points at the server (any existing database, used for CREATE/DROP DATABASE; default
 * postgres://sluice:sluice@127.0.0.1:5433/postgres). When the server does not answer, the suite fails loudly with
 * `SLUICE_REQUIRE_SERVICES=1` (CI, scripts/test.sh) and is otherwise skipped with one test naming the reason.
 */
import { fileURLToPath } from 'node:url';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createTestDatabase, postgresUnavailable, servicesRequired } from '@sluice/testing';
import type { TestDatabase } from '@sluice/testing';
import { afterAll, describe, it } from 'vitest';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

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
  const missing = await postgresUnavailable();
  if (missing !== undefined) {
    if (servicesRequired()) throw new Error(`SLUICE_REQUIRE_SERVICES=1 but ${missing}`);
    describe(name, () => {
      it.skip(`skipped: ${missing}`, () => undefined);
    });
    return;
  }
  const created: TestDatabase[] = [];
  const clients: Db[] = [];
  const postgres: PostgresTest = {
    async createDatabase() {
      const database = await createTestDatabase('sluice_test');
      // Postgres answered the probe above: undefined here means it stopped answering since.
      if (!database) throw new Error('Postgres stopped answering; start it with `sudo bash scripts/services.sh`');
      created.push(database);
      return database.url;
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
      for (const database of created) await database.drop();
    });
    factory(postgres);
  });
}
