/**
 * What the scheduler's test files share: a fresh, migrated database on the test Postgres (`scripts/services.sh`,
 * 127.0.0.1:5433, or SLUICE_TEST_DATABASE_URL), and the flow validator of the default plugins.
 */
import { fileURLToPath } from 'node:url';
import { createFlowValidator } from '@sluice/core';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { createTestDatabase } from '@sluice/testing';

const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));
export const registries = createDefaultRegistries();
export const validator = createFlowValidator(registries);

export interface MigratedDatabase {
  readonly db: Db;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh migrated database, or undefined (skip) when Postgres does not answer and services are not required. */
export async function createMigratedDatabase(prefix = 'sluice_scheduler'): Promise<MigratedDatabase | undefined> {
  const database = await createTestDatabase(prefix);
  if (!database) return undefined;
  await migrate({ databaseUrl: database.url, migrationsDir });
  const db = createDb({ databaseUrl: database.url });
  return {
    db,
    url: database.url,
    async drop() {
      await db.close();
      await database.drop();
    },
  };
}
