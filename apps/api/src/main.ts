/**
 * `node apps/api/dist/main.js`: read the environment once, apply the migrations, build the server and listen.
 *
 * Listens on `SLUICE_API_HOST` (default 127.0.0.1: auth is off unless SLUICE_API_TOKEN or SLUICE_API_BASIC_AUTH is set, so the API is not
 * exposed to the network by accident; set 0.0.0.0 in a container) and `PORT` (default 8080).
 */
import { fileURLToPath } from 'node:url';
import { createFlowValidator } from '@sluice/core';
import { createDb, migrate } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { LocalFileStorage } from '@sluice/storage';
import { createDbFlowStore } from './db-flow-store.js';
import { readEnv } from './env.js';
import { createLoggingExecutionQueue } from './execution-queue.js';
import { createServer } from './server.js';

const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

export async function main(): Promise<void> {
  const env = readEnv();
  if (!env.databaseUrl) throw new Error('DATABASE_URL is not set: point it at a Postgres database (postgres://user:password@host:port/db)');
  await migrate({ databaseUrl: env.databaseUrl, migrationsDir });
  const db = createDb({ databaseUrl: env.databaseUrl });
  const registries = createDefaultRegistries();
  // TODO(issue 5): the BullMQ / in-process queue of the scheduler. Until it exists, executions are stored CREATED and
  // this queue only logs, so nothing runs them. Storage: ./.sluice/storage until env.ts reads SLUICE_STORAGE_DIR.
  const queue = createLoggingExecutionQueue((message) => app.log.warn(message));
  const storage = new LocalFileStorage({ root: '.sluice/storage' });
  const app = createServer({
    executions: db.executions,
    logs: db.logs,
    storage,
    queue,
    flows: createDbFlowStore(db),
    registries,
    validator: createFlowValidator(registries, { eager: true }),
    bodyLimit: env.bodyLimit,
    uploadLimit: env.uploadLimit,
    auth: {
      ...(env.apiToken ? { apiToken: env.apiToken } : {}),
      ...(env.basicAuth ? { basic: env.basicAuth } : {}),
      ...(env.workerToken ? { workerToken: env.workerToken } : {}),
    },
    logger: true,
  });
  app.addHook('onClose', () => db.close());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
  await app.listen({ port: env.port, host: env.host });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
