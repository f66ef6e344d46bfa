/**
 * A real API on a loopback port over a fresh, migrated Postgres database (one per test file), through `@sluice/db`.
 *
 * Postgres comes from `scripts/services.sh` (127.0.0.1:5433, override with SLUICE_TEST_DATABASE_URL). When it does
 * not answer, `startApi` returns undefined (the file skips) unless SLUICE_REQUIRE_SERVICES=1, where it throws.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFlowValidator } from '@sluice/core';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { LocalFileStorage } from '@sluice/storage';
import { createDbFlowStore, createRecordingExecutionQueue, createServer } from '../src/index.js';
import type { RecordingExecutionQueue, ServerDeps } from '../src/index.js';

const adminUrl = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://sluice:sluice@127.0.0.1:5433/postgres';
const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));
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

export interface ApiFixtureOptions extends Pick<ServerDeps, 'bodyLimit' | 'uploadLimit'> {
  readonly apiToken?: string;
  /** Basic-auth credentials for user routes. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** The workers' token: the internal routes exist only with it. */
  readonly workerToken?: string;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * CREATE DATABASE copies template1 and fails ("source database is being accessed by other users") when another
 * session creates a database at the same moment, as test files running in parallel do: retry a few times.
 */
async function createDatabase(admin: Db, database: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.prisma.$executeRawUnsafe(`CREATE DATABASE "${database}"`);
      return;
    } catch (error) {
      if (attempt >= 5 || !/being accessed by other users/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

export async function startApi(options: ApiFixtureOptions = {}): Promise<ApiFixture | undefined> {
  const admin = createDb({ databaseUrl: adminUrl, maxConnections: 1 });
  const database = `sluice_api_${randomBytes(6).toString('hex')}`;
  try {
    await createDatabase(admin, database);
  } catch (error) {
    await admin.close();
    const reason = (error instanceof Error ? error.message : String(error)).split('\n').map((l) => l.trim()).filter(Boolean).join(' ') || String((error as { code?: unknown })?.code ?? 'unknown error');
    if (process.env.SLUICE_REQUIRE_SERVICES === '1') {
      throw new Error(`Postgres at ${adminUrl} is required (SLUICE_REQUIRE_SERVICES=1) but unusable: ${reason}. Start it with \`sudo bash scripts/services.sh\`.`, { cause: error });
    }
    return undefined;
  }
  const databaseUrl = withDatabase(adminUrl, database);
  await migrate({ databaseUrl, migrationsDir });
  const db = createDb({ databaseUrl });
  const storageDir = await mkdtemp(join(tmpdir(), 'sluice-api-storage-'));
  const storage = new LocalFileStorage({ root: storageDir });
  const queue = createRecordingExecutionQueue();
  const app = createServer({
    flows: createDbFlowStore(db),
    executions: db.executions,
    logs: db.logs,
    storage,
    queue,
    ...(options.uploadLimit === undefined ? {} : { uploadLimit: options.uploadLimit }),
    registries,
    validator,
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    auth: {
      ...(options.apiToken ? { apiToken: options.apiToken } : {}),
      ...(options.basic ? { basic: options.basic } : {}),
      ...(options.workerToken ? { workerToken: options.workerToken } : {}),
    },
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
      await admin.prisma.$executeRawUnsafe(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.close();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}

/** A valid one-task flow. */
export function flowYaml(namespace: string, id: string, message = 'hello'): string {
  return `id: ${id}\nnamespace: ${namespace}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;
}

export const YAML = { 'content-type': 'application/x-yaml' };
