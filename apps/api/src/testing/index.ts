/**
 * `@sluice/api/testing`: a real API on a loopback port over a fresh, migrated Postgres database, through `@sluice/db`,
 * for the tests of this app and of the apps that talk to it (the CLI's client commands).
 *
 * Postgres comes from `scripts/services.sh` (127.0.0.1:5433, override with SLUICE_TEST_DATABASE_URL). When it does
 * not answer, `startApi` returns undefined (the file skips) unless SLUICE_REQUIRE_SERVICES=1, where it throws.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlowValidator } from '@sluice/core';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { LocalFileStorage } from '@sluice/storage';
import { createTestDatabase } from '@sluice/testing';
import { createDbFlowStore } from '../db-flow-store.js';
import { createRecordingExecutionQueue } from '../execution-queue.js';
import type { ExecutionStarter, RecordingExecutionQueue } from '../execution-queue.js';
import { migrationsDir } from '../main.js';
import { createServer } from '../server.js';
import type { ServerDeps } from '../server.js';

const registries = createDefaultRegistries();
const validator = createFlowValidator(registries);

export interface ApiFixture {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly db: Db;
  /** The internal storage (a LocalFileStorage in a temporary directory, removed on close). */
  readonly storage: LocalFileStorage;
  /** Records what the API hands to the scheduler. */
  readonly queue: RecordingExecutionQueue;
  /** fetch relative to the server, with the bearer token when the fixture has one. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Every stored flow row, as JSON: compare before and after a request to prove nothing changed. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

export interface ApiFixtureOptions extends Pick<ServerDeps, 'bodyLimit' | 'uploadLimit' | 'tenant' | 'publicUrl' | 'webhookRateLimit'> {
  readonly apiToken?: string;
  /** Basic-auth credentials for user routes. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** The workers' token: the internal routes exist only with it. */
  readonly workerToken?: string;
  /** Serve the OpenAPI docs (default true, as the server does). */
  readonly docs?: boolean;
  /** Name prefix of the test database (default `sluice_api`). */
  readonly databasePrefix?: string;
  /**
   * The URL the API's database client connects with, from the test database's own (which migrations and `drop` keep
   * using): point it at a proxy the test can stop, to see the API with its database down.
   */
  readonly connectThrough?: (databaseUrl: string) => string;
  /** The API's database client gives up opening a connection after this long (`createDb`'s `connectTimeoutMs`). */
  readonly connectTimeoutMs?: number;
  /** New executions take their first step through this starter, made over the API's database client (ServerDeps.starter). */
  readonly starter?: (db: Db) => ExecutionStarter;
}

export async function startApi(options: ApiFixtureOptions = {}): Promise<ApiFixture | undefined> {
  const database = await createTestDatabase(options.databasePrefix ?? 'sluice_api');
  if (!database) return undefined;
  await migrate({ databaseUrl: database.url, migrationsDir });
  const db = createDb({
    databaseUrl: options.connectThrough ? options.connectThrough(database.url) : database.url,
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
  });
  const storageDir = await mkdtemp(join(tmpdir(), 'sluice-api-storage-'));
  const storage = new LocalFileStorage({ root: storageDir });
  const queue = createRecordingExecutionQueue();
  const app = createServer({
    flows: createDbFlowStore(db),
    executions: db.executions,
    logs: db.logs,
    metrics: db.metrics,
    kv: db.kv,
    triggers: db.triggers,
    storage,
    queue,
    ...(options.starter ? { starter: options.starter(db) } : {}),
    workers: db.scheduler,
    ...(options.uploadLimit === undefined ? {} : { uploadLimit: options.uploadLimit }),
    registries,
    validator,
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    auth: {
      ...(options.apiToken ? { apiToken: options.apiToken } : {}),
      ...(options.basic ? { basic: options.basic } : {}),
      ...(options.workerToken ? { workerToken: options.workerToken } : {}),
    },
    ...(options.docs === undefined ? {} : { docs: options.docs }),
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
    ...(options.webhookRateLimit === undefined ? {} : { webhookRateLimit: options.webhookRateLimit }),
    // SLUICE_TEST_API_LOG=1 prints the server's log (every request, and the cause of any 500).
    logger: process.env.SLUICE_TEST_API_LOG === '1',
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    db,
    storage,
    queue,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (options.apiToken && !headers.has('authorization')) headers.set('authorization', `Bearer ${options.apiToken}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    async snapshot() {
      const rows = await db.prisma.flow.findMany({ orderBy: [{ namespace: 'asc' }, { flowId: 'asc' }, { revision: 'asc' }] });
      return JSON.stringify(rows);
    },
    async close() {
      await app.close();
      await db.close();
      await database.drop();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}
