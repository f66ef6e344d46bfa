/**
 * `sluice server scheduler`: the distributed scheduler. Needs DATABASE_URL (Postgres) and REDIS_URL (BullMQ);
 * applies the migrations, then consumes executions, results and logs. Several replicas may run at once.
 */
import { fileURLToPath } from 'node:url';
import { createDb, migrate } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import { createBullmqQueue } from '@sluice/queue';
import { createScheduler } from './scheduler.js';
import type { Scheduler } from './scheduler.js';

const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

export interface SchedulerProcessConfig {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** BullMQ stalled-job detection (ms); shorter finds a dead worker's job sooner. Default 30 s. */
  readonly lockDurationMs?: number;
  readonly triggerIntervalMs?: number;
  readonly workerLivenessMs?: number;
}

/** Start a scheduler process; `close()` stops it and releases its connections. */
export async function startSchedulerProcess(config: SchedulerProcessConfig, log: (line: string) => void): Promise<{ scheduler: Scheduler; close(): Promise<void> }> {
  await migrate({ databaseUrl: config.databaseUrl, migrationsDir });
  const db = createDb({ databaseUrl: config.databaseUrl });
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
  });
  await scheduler.start();
  log(`scheduler ${scheduler.id} started (Postgres ${redact(config.databaseUrl)}, Redis ${redact(config.redisUrl)})`);
  return {
    scheduler,
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
