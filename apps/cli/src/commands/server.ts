/**
 * `sluice server local|api|scheduler|worker`.
 *
 * - `local`: API + scheduler + worker in one process — the zero-setup default (DESIGN.md §1). Postgres is
 *   `DATABASE_URL` or an embedded one under `./.sluice/postgres`; the queue is in-process unless `REDIS_URL` is set;
 *   files go to `./.sluice/storage`. Its worker serves every worker group unless `--worker-group` narrows it.
 * - `api`, `scheduler`, `worker`: the distributed apps (Postgres + Redis), one per process.
 *
 * Each resolves when the process is asked to stop (SIGINT / SIGTERM) and everything has shut down.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  buildApi,
  createDbExecutionsAccess,
  createDbFlowStore,
  createDbKvAccess,
  createPublishingExecutionQueue,
  DB_CONNECT_TIMEOUT_MS,
  migrationsDir,
  readEnv,
  startApiProcess,
} from '@sluice/api';
import type { ExecutionStarter } from '@sluice/api';
import { createDb, migrate, startEmbeddedPostgres } from '@sluice/db';
import type { Db, EmbeddedPostgres } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { ALL_WORKER_GROUPS, createBullmqQueue, createInProcessQueue } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import { createScheduler, schedulerEnv, startSchedulerProcess } from '@sluice/scheduler';
import type { Scheduler } from '@sluice/scheduler';
import { LocalFileStorage } from '@sluice/storage';
import { createWorker, PROCESS_RUNNER_TYPE, processRunnerOptions, startWorkerProcess, workerConfig } from '@sluice/worker';
import type { Worker } from '@sluice/worker';
import type { CliEnv } from '../main.js';
import type { CliIO } from '../io.js';

export interface LocalServerOptions {
  readonly port?: number;
  readonly host?: string;
  readonly workerGroup?: string;
  readonly concurrency?: number;
  /** Data folder (embedded Postgres, storage, work dirs). Default `./.sluice`. */
  readonly dataDir?: string;
}

/** Resolves when SIGINT or SIGTERM arrives (or `stop` is called, for tests). */
export function untilSignal(): { promise: Promise<string>; stop(): void } {
  let done: (signal: string) => void = () => undefined;
  const promise = new Promise<string>((resolvePromise) => {
    done = resolvePromise;
  });
  const handler = (signal: string): void => done(signal);
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  void promise.then(() => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  });
  return { promise, stop: () => done('stop') };
}

export interface RunningLocalServer {
  readonly url: string;
  readonly db: Db;
  /** Another in-process worker for `group` (embedding and tests: e.g. a `gpu` worker next to the default one). */
  addWorker(group: string): Promise<Worker>;
  close(): Promise<void>;
}

/** Start API + scheduler + worker in this process. */
export async function startLocalServer(options: LocalServerOptions, env: CliEnv, io: CliIO): Promise<RunningLocalServer> {
  const dataDir = resolve(options.dataDir ?? env.SLUICE_DATA_DIR ?? '.sluice');
  await mkdir(dataDir, { recursive: true });
  const apiEnv = readEnv({ ...env, SLUICE_STORAGE_DIR: env.SLUICE_STORAGE_DIR ?? join(dataDir, 'storage') } as NodeJS.ProcessEnv);
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) await closer().catch((error: unknown) => io.stderr(`sluice: while stopping: ${error instanceof Error ? error.message : String(error)}`));
  };
  try {
    let databaseUrl = apiEnv.databaseUrl;
    let embedded: EmbeddedPostgres | undefined;
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres') });
      closers.push(() => embedded!.stop());
      databaseUrl = embedded.databaseUrl;
    }
    await migrate({ databaseUrl, migrationsDir });
    const db = createDb({ databaseUrl, connectTimeoutMs: DB_CONNECT_TIMEOUT_MS }); // a database that never answers fails requests (503), never holds them
    closers.push(() => db.close());
    const queue: QueueDriver = apiEnv.redisUrl ? createBullmqQueue({ url: apiEnv.redisUrl }) : createInProcessQueue();
    closers.push(() => queue.close());
    const storage = new LocalFileStorage({ root: apiEnv.storageDir });
    const registries = createDefaultRegistries();
    const group = options.workerGroup ?? ALL_WORKER_GROUPS;
    // The worker's own settings (Docker socket, work dir, concurrency); its connection settings are unused here.
    const config = workerConfig(
      { group: group === ALL_WORKER_GROUPS ? 'default' : group },
      { ...env, REDIS_URL: 'redis://in-process', SLUICE_API_URL: 'http://in-process', SLUICE_WORKER_TOKEN: 'in-process' },
    );
    const groups = new Set<string>([group]);
    const { requeueAfterMs } = schedulerEnv(env);
    const scheduler = createScheduler({
      db,
      queue,
      ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
      resolveTaskType: (type) => registries.tasks.find(type),
      // This process's worker serves its groups; with Redis, remote workers may serve others (the registry says).
      hasLiveWorker: async (key) =>
        groups.has(ALL_WORKER_GROUPS) || groups.has(key) || (apiEnv.redisUrl !== undefined && (await db.scheduler.liveWorkers(key, new Date(Date.now() - 15_000))).length > 0),
      log: (line) => io.stderr(line),
    });
    await scheduler.start();
    closers.push(() => scheduler.stop());
    // Its worker reaches the executions (log.Fetch, execution.Resume) straight through the database and the queue,
    // as the API's internal routes do for remote workers.
    const executions = createDbExecutionsAccess({
      executions: db.executions,
      logs: db.logs,
      flows: createDbFlowStore(db),
      queue: createPublishingExecutionQueue(queue, { log: (line) => io.stderr(`sluice: ${line}`) }),
    });
    const newWorker = (key: string): Worker =>
      createWorker({
        queue,
        group: key,
        concurrency: options.concurrency ?? config.concurrency,
        storage,
        registries,
        runnerOptions: {
          'io.kestra.plugin.scripts.runner.docker.Docker': { socketPath: config.dockerSocket, ...(config.dockerNetworkMode ? { networkMode: config.dockerNetworkMode } : {}) },
          [PROCESS_RUNNER_TYPE]: processRunnerOptions(config),
        },
        secrets: env,
        workRoot: config.workRoot,
        executions,
        kv: createDbKvAccess(db.kv),
        registry: {
          heartbeat: (info) => db.scheduler.heartbeat(info.id, info.group),
          deregister: (id) => db.scheduler.removeWorker(id),
        },
        onError: (error, context) => io.stderr(`sluice: worker: ${context}: ${error instanceof Error ? error.message : String(error)}`),
      });
    const worker = newWorker(group);
    await worker.start();
    closers.push(() => worker.stop({ graceMs: 10_000 }));
    // New executions take their first step in the API's handler, with this process's scheduler (which keeps them).
    const app = buildApi(apiEnv, db, queue, storage, false, schedulerStarter(scheduler, queue, false));
    closers.push(() => app.close());
    const port = options.port ?? apiEnv.port;
    const host = options.host ?? apiEnv.host;
    await app.listen({ port, host });
    const address = app.server.address();
    const boundPort = typeof address === 'object' && address ? address.port : port;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${boundPort}`;
    io.stdout(
      `Sluice is running at ${url}  (open it in a browser for the UI, ${url}/ui/; API ${url}/api/v1, docs ${url}/docs)\n` +
        `  database: ${embedded ? `embedded Postgres in ${embedded.clusterDir}${embedded.clusterDir === embedded.dataDir ? '' : ` (linked from ${embedded.dataDir})`}` : 'DATABASE_URL'}; queue: ${queue.kind}; storage: ${apiEnv.storageDir}\n` +
        `  worker ${worker.id} serves ${group === ALL_WORKER_GROUPS ? 'every worker group' : `worker group "${group}"`}\n` +
        `  try: curl -X POST ${url}/api/v1/main/flows -H 'Content-Type: application/x-yaml' --data-binary @examples/hello.yml\n` +
        `       curl -X POST '${url}/api/v1/main/executions/tutorial/hello?wait=true'`,
    );
    return {
      url,
      db,
      async addWorker(key) {
        const extra = newWorker(key);
        await extra.start();
        groups.add(key);
        closers.push(() => extra.stop({ graceMs: 10_000 }));
        return extra;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export async function serverLocalCommand(options: LocalServerOptions, env: CliEnv, io: CliIO): Promise<number> {
  const signal = untilSignal();
  const server = await startLocalServer(options, env, io);
  const received = await signal.promise;
  io.stderr(`sluice: ${received}: stopping (running tasks get 10 s to finish)`);
  await server.close();
  return 0;
}

/** The API's ExecutionStarter over a scheduler's `startNew` (`handOff`: the scheduler is the API's own, never started). */
function schedulerStarter(scheduler: Scheduler, queue: QueueDriver, handOff: boolean): ExecutionStarter {
  return {
    ready: () => queue.health().status !== 'DOWN',
    start: (execution) => scheduler.startNew(execution, { handOff }),
  };
}

export async function serverApiCommand(options: { port?: number }, env: CliEnv, io: CliIO): Promise<number> {
  const signal = untilSignal();
  const apiEnv = readEnv({ ...env, ...(options.port === undefined ? {} : { PORT: String(options.port) }) } as NodeJS.ProcessEnv);
  // New executions take their first step here, with a scheduler of the API's own that is never started (no consumer,
  // no trigger): the step's task jobs carry the execution to the scheduler that takes the next step.
  const registries = createDefaultRegistries();
  const app = await startApiProcess(apiEnv, (db, queue) =>
    schedulerStarter(
      createScheduler({ db, queue, resolveTaskType: (type) => registries.tasks.find(type), log: (line) => io.stderr(`sluice: ${line}`) }),
      queue,
      true,
    ),
  );
  io.stdout(`Sluice API listening on http://${apiEnv.host}:${apiEnv.port} (UI at /ui/, API at /api/v1, docs at /docs)`);
  await signal.promise;
  await app.close();
  return 0;
}

export async function serverSchedulerCommand(env: CliEnv, io: CliIO): Promise<number> {
  const databaseUrl = env.DATABASE_URL?.trim();
  const redisUrl = env.REDIS_URL?.trim();
  const missing = [databaseUrl ? '' : 'DATABASE_URL', redisUrl ? '' : 'REDIS_URL'].filter(Boolean);
  if (missing.length > 0 || !databaseUrl || !redisUrl) {
    io.stderr(`sluice: the scheduler needs DATABASE_URL and REDIS_URL: missing ${missing.join(', ')}`);
    return 2;
  }
  let settings;
  try {
    // SLUICE_QUEUE_LOCK_MS, SLUICE_REQUEUE_AFTER_MS.
    settings = schedulerEnv(env);
  } catch (error) {
    io.stderr(`sluice: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const signal = untilSignal();
  const running = await startSchedulerProcess({ databaseUrl, redisUrl, ...settings }, (line) => io.stdout(line));
  await signal.promise;
  await running.close();
  return 0;
}

export async function serverWorkerCommand(args: { group?: string; concurrency?: string }, env: CliEnv, io: CliIO): Promise<number> {
  const config = workerConfig(args, env);
  const signal = untilSignal();
  const running = await startWorkerProcess(config, (line) => io.stdout(line), { signals: false });
  await signal.promise;
  await running.close();
  return 0;
}
