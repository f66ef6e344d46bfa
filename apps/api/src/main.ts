/**
 * `sluice server api` (or `node apps/api/dist/main.js`): read the environment once, apply the migrations, build the
 * server and listen. Executions are handed to the scheduler over BullMQ (`REDIS_URL`).
 *
 * Listens on `SLUICE_API_HOST` (default 127.0.0.1: auth is off unless SLUICE_API_TOKEN or SLUICE_API_BASIC_AUTH is set, so the API is not
 * exposed to the network by accident; set 0.0.0.0 in a container) and `PORT` (default 8080).
 */
import { fileURLToPath } from 'node:url';
import { createFlowValidator } from '@sluice/core';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { createBullmqQueue } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import { LocalFileStorage } from '@sluice/storage';
import type { Storage } from '@sluice/storage';
import type { FastifyInstance } from 'fastify';
import { createCachedFlowStore } from './cached-flow-store.js';
import { createDbFlowStore } from './db-flow-store.js';
import { readEnv } from './env.js';
import type { ApiEnv } from './env.js';
import { createExecutionWaiter, createPublishingExecutionQueue } from './execution-queue.js';
import type { ExecutionStarter } from './execution-queue.js';
import { createServer } from './server.js';
import { defaultUiRoot } from './ui.js';

export const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

/**
 * The API's database client gives up opening a connection after this long: a database that accepts TCP but never
 * answers makes requests 503 (`SLU_DB_UNAVAILABLE`, `Retry-After`) instead of hanging them.
 */
export const DB_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Build the API over a database, a queue driver and a storage (shared by `server api` and `server local`). `starter`:
 * new executions take their first step in this process (`sluice server api` and `server local` give the scheduler's;
 * see ExecutionStarter); without it they are handed to the scheduler with a `created` message.
 */
export function buildApi(env: ApiEnv, db: Db, queue: QueueDriver, storage: Storage, logger: boolean | Record<string, unknown> = true, starter?: ExecutionStarter): FastifyInstance {
  const registries = createDefaultRegistries();
  const uiRoot = env.uiDir === false ? undefined : (env.uiDir ?? defaultUiRoot());
  const waiter = createExecutionWaiter(queue);
  // The server's logger, once it exists.
  const log: { warn?: (message: string) => void } = {};
  // While Redis is unreachable, execution events are not waited for: the scheduler's reconciliation sends them.
  const executionQueue = createPublishingExecutionQueue(queue, { log: (line) => log.warn?.(line) });
  const flows = createCachedFlowStore(createDbFlowStore(db), queue, {
    onError: (error) => log.warn?.(`flow cache: ${error instanceof Error ? error.message : String(error)} (other API instances see the change within 30 s)`),
  });
  const app = createServer({
    executions: db.executions,
    logs: db.logs,
    metrics: db.metrics,
    kv: db.kv,
    triggers: db.triggers,
    storage,
    queue: executionQueue,
    ...(starter ? { starter } : {}),
    queueHealth: () => queue.health(),
    waiter,
    workers: db.scheduler,
    flows,
    registries,
    validator: createFlowValidator(registries, { eager: true }),
    bodyLimit: env.bodyLimit,
    uploadLimit: env.uploadLimit,
    tenant: env.tenant,
    ...(env.publicUrl === undefined ? {} : { publicUrl: env.publicUrl }),
    ...(env.webhookRateLimit === undefined ? {} : { webhookRateLimit: env.webhookRateLimit }),
    ...(uiRoot === undefined ? {} : { ui: uiRoot }),
    auth: {
      ...(env.apiToken ? { apiToken: env.apiToken } : {}),
      ...(env.basicAuth ? { basic: env.basicAuth } : {}),
      ...(env.workerToken ? { workerToken: env.workerToken } : {}),
    },
    logger,
  });
  log.warn = (message) => app.log.warn(message);
  app.addHook('onClose', async () => {
    await waiter.close();
    await flows.close();
  });
  return app;
}

/** The distributed API: Postgres (DATABASE_URL) + Redis (REDIS_URL). Resolves once listening. */
export async function startApiProcess(env: ApiEnv = readEnv(), starterFor?: (db: Db, queue: QueueDriver) => ExecutionStarter): Promise<FastifyInstance> {
  if (!env.databaseUrl) throw new Error('DATABASE_URL is not set: point it at a Postgres database (postgres://user:password@host:port/db)');
  if (!env.redisUrl) throw new Error('REDIS_URL is not set: the API hands executions to the scheduler over Redis (redis://host:6379); for one process without Redis use "sluice server local"');
  await migrate({ databaseUrl: env.databaseUrl, migrationsDir });
  const db = createDb({ databaseUrl: env.databaseUrl, connectTimeoutMs: DB_CONNECT_TIMEOUT_MS });
  const queue = createBullmqQueue({ url: env.redisUrl });
  const app = buildApi(env, db, queue, new LocalFileStorage({ root: env.storageDir }), true, starterFor?.(db, queue));
  app.addHook('onClose', async () => {
    await queue.close();
    await db.close();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
  await app.listen({ port: env.port, host: env.host });
  return app;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  startApiProcess().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
