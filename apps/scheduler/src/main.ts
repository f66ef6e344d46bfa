/**
 * `sluice server scheduler`: the distributed scheduler. Needs DATABASE_URL (Postgres) and REDIS_URL (BullMQ);
 * applies the migrations, then consumes executions, results and logs. Several replicas may run at once.
 *
 * A database unreachable at start is waited for (the migrations are retried, with a line every 10 s); so is Redis
 * (its commands wait for it). Settings from the environment: {@link schedulerEnv}.
 */
import { fileURLToPath } from 'node:url';
import { classifyDbError, createDb, migrate } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { createBullmqQueue } from '@sluice/queue';
import { createScheduler } from './scheduler.js';
import type { Scheduler, SchedulerHealth } from './scheduler.js';

const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

export interface SchedulerProcessConfig {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** BullMQ stalled-job detection (ms); shorter finds a dead worker's job sooner. Default 30 s. */
  readonly lockDurationMs?: number;
  readonly triggerIntervalMs?: number;
  readonly workerLivenessMs?: number;
  /** See SchedulerOptions.requeueAfterMs (`SLUICE_REQUEUE_AFTER_MS`). Default 15 s. */
  readonly requeueAfterMs?: number;
}

/** A query that finds no connection within this long fails (as unreachable) rather than hang on a silent host. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Scheduler settings from the environment (`sluice server scheduler` and `sluice server local`). */
export interface SchedulerEnv {
  /** `SLUICE_QUEUE_LOCK_MS`: BullMQ job lock (ms). */
  readonly lockDurationMs?: number;
  /** `SLUICE_REQUEUE_AFTER_MS`: see SchedulerOptions.requeueAfterMs. */
  readonly requeueAfterMs?: number;
}

/** Reads {@link SchedulerEnv}; throws, naming the variable, on a value that is not a whole number of ms in range. */
export function schedulerEnv(env: Readonly<Record<string, string | undefined>>): SchedulerEnv {
  const read = (name: string, min: number, max: number): number | undefined => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) throw new Error(`${name} must be a number of milliseconds (${min}..${max}), got ${JSON.stringify(raw)}`);
    return value;
  };
  const lockDurationMs = read('SLUICE_QUEUE_LOCK_MS', 500, 600_000);
  const requeueAfterMs = read('SLUICE_REQUEUE_AFTER_MS', 100, 86_400_000);
  return { ...(lockDurationMs === undefined ? {} : { lockDurationMs }), ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }) };
}

/** Apply the migrations, waiting (with a line every 10 s) while the database is unreachable. */
async function migrateWhenReachable(databaseUrl: string, log: (line: string) => void): Promise<void> {
  let delay = 100;
  let reported = 0;
  for (;;) {
    try {
      await migrate({ databaseUrl, migrationsDir });
      return;
    } catch (error) {
      const found = classifyDbError(error);
      if (found?.kind !== 'unavailable') throw error;
      if (Date.now() - reported >= 10_000) {
        reported = Date.now();
        log(`scheduler: database unreachable at start (${found.reason}): waiting for it`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(5000, delay * 2);
    }
  }
}

/** Start a scheduler process; `close()` stops it and releases its connections. */
export async function startSchedulerProcess(
  config: SchedulerProcessConfig,
  log: (line: string) => void,
): Promise<{ scheduler: Scheduler; health(): Promise<SchedulerHealth>; close(): Promise<void> }> {
  await migrateWhenReachable(config.databaseUrl, log);
  const db = createDb({ databaseUrl: config.databaseUrl, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  const queue = createBullmqQueue({
    url: config.redisUrl,
    ...(config.lockDurationMs === undefined ? {} : { lockDurationMs: config.lockDurationMs, stalledIntervalMs: Math.max(250, Math.floor(config.lockDurationMs / 2)) }),
    onError: (error, context) => log(`scheduler: queue error in ${context}: ${error instanceof Error ? error.message : String(error)}`),
  });
  const registries = createDefaultRegistries();
  const scheduler = createScheduler({
    db,
    queue,
    resolveTaskType: (type) => registries.tasks.find(type),
    log,
    ...(config.triggerIntervalMs === undefined ? {} : { triggerIntervalMs: config.triggerIntervalMs }),
    ...(config.workerLivenessMs === undefined ? {} : { workerLivenessMs: config.workerLivenessMs }),
    ...(config.requeueAfterMs === undefined ? {} : { requeueAfterMs: config.requeueAfterMs }),
  });
  await scheduler.start();
  log(`scheduler ${scheduler.id} started (Postgres ${redact(config.databaseUrl)}, Redis ${redact(config.redisUrl)})`);
  return {
    scheduler,
    health: () => scheduler.health(),
    async close() {
      await scheduler.stop();
      await queue.close();
      await db.close();
    },
  };
}

/** A connection URL without its password, for logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
