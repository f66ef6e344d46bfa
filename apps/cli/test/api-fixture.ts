/**
 * A real Sluice API on a loopback port over a fresh, migrated Postgres database, built from @sluice/api's exports the
 * way apps/api/test/fixture.ts does (one per test file), for the client commands to talk to.
 *
 * Postgres comes from `scripts/services.sh` (127.0.0.1:5433, override with SLUICE_TEST_DATABASE_URL). When it does
 * not answer, `startApi` returns undefined (the tests skip) unless SLUICE_REQUIRE_SERVICES=1, where it throws.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDbFlowStore, createRecordingExecutionQueue, createServer } from '@sluice/api';
import type { RecordingExecutionQueue } from '@sluice/api';
import { createFlowValidator } from '@sluice/core';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { LocalFileStorage } from '@sluice/storage';
import { createTestDatabase } from '@sluice/testing';

const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

export interface ApiFixture {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly db: Db;
  readonly storage: LocalFileStorage;
  readonly queue: RecordingExecutionQueue;
  /** fetch relative to the server, with the bearer token when the fixture has one. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface ApiFixtureOptions {
  readonly apiToken?: string;
}

export async function startApi(options: ApiFixtureOptions = {}): Promise<ApiFixture | undefined> {
  const database = await createTestDatabase('sluice_cli');
  if (!database) return undefined;
  await migrate({ databaseUrl: database.url, migrationsDir });
  const db = createDb({ databaseUrl: database.url });
  const storageDir = await mkdtemp(join(tmpdir(), 'sluice-cli-storage-'));
  const storage = new LocalFileStorage({ root: storageDir });
  const queue = createRecordingExecutionQueue();
  const registries = createDefaultRegistries();
  const app = createServer({
    flows: createDbFlowStore(db),
    executions: db.executions,
    logs: db.logs,
    storage,
    queue,
    registries,
    validator: createFlowValidator(registries),
    auth: options.apiToken ? { apiToken: options.apiToken } : {},
    docs: false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const base = `http://127.0.0.1:${address.port}`;
  return {
    url: base,
    db,
    storage,
    queue,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (options.apiToken && !headers.has('authorization')) headers.set('authorization', `Bearer ${options.apiToken}`);
      return fetch(`${base}${path}`, { ...init, headers });
    },
    async close() {
      await app.close();
      await db.close();
      await database.drop();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}
