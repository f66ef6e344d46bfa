import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';
import { ExecutionRepository } from './execution-repository.js';
import { FlowRepository } from './flow-repository.js';
import { KvRepository } from './kv-repository.js';
import { LogRepository } from './log-repository.js';
import { MetricRepository } from './metric-repository.js';
import { SchedulerStore } from './scheduler-store.js';
import { TriggerRepository } from './trigger-repository.js';

export interface DbOptions {
  /** Postgres connection string. */
  readonly databaseUrl: string;
  /** Maximum pool connections (pg's default, 10, when absent). */
  readonly maxConnections?: number;
  /**
   * Give up opening a connection, or waiting for a free one, after this long (ms). Without it (pg's default) a
   * database that accepts TCP but never answers (a host gone from the network) holds every query forever; with it the
   * query fails with `Connection terminated due to connection timeout` or `timeout exceeded when trying to connect`,
   * which `classifyDbError` calls unavailable. The API sets it (it answers 503 rather than hang).
   */
  readonly connectTimeoutMs?: number;
}

/** The database handle an app builds once at start and passes down. */
export interface Db {
  /** The generated Prisma client, for what no repository covers yet. */
  readonly prisma: PrismaClient;
  readonly flows: FlowRepository;
  readonly executions: ExecutionRepository;
  readonly logs: LogRepository;
  /** Metric rows (Kestra's MetricEntry); the scheduler writes them in its steps. */
  readonly metrics: MetricRepository;
  /** Execution locking, task runs, the worker registry and triggers: what the scheduler needs. */
  readonly scheduler: SchedulerStore;
  /** Trigger search (the API's `GET /triggers/search`); the scheduler writes triggers through `scheduler`. */
  readonly triggers: TriggerRepository;
  /** The KV store (Kestra's KV): the API's `/namespaces/{ns}/kv` routes and the tasks' `kv()` read and write it. */
  readonly kv: KvRepository;
  /** Close the connection pool. */
  close(): Promise<void>;
}

const IDLE_TIMEOUT_MS = 5 * 60_000;

/** Connect lazily to `databaseUrl` (nothing is opened until the first query). Run `migrate` first. */
export function createDb(options: DbOptions): Db {
  // One pool for both Prisma and the plain `pg` queries of the hot path (rows.ts).
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    // pg's default closes a connection after 10 s idle, so the first query after a pause paid a new connection (TCP,
    // SCRAM, a Postgres backend with cold catalog caches): executions after 12 s without traffic took about 30 ms
    // where back-to-back ones took 17.5 (`npm run bench:e2e`, "after idle"). Like HikariCP's default (10 minutes),
    // idle connections are kept for minutes; one that fails meanwhile is dropped ('error' below) and replaced.
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    // Idle connections never keep a process alive (they did for up to 10 s before, now it would be minutes).
    allowExitOnIdle: true,
    ...(options.connectTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.connectTimeoutMs }),
    ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }),
  });
  // An idle connection that fails (Postgres restarted, a backend terminated) is dropped by the pool, and the next query
  // opens a new one. Without a listener the pool's 'error' event would end the process; Prisma adds its own only once
  // it has connected, and the hot path may run long before it does.
  pool.on('error', () => undefined);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    flows: new FlowRepository(prisma, pool),
    executions: new ExecutionRepository(prisma, pool),
    logs: new LogRepository(prisma, pool),
    metrics: new MetricRepository(prisma, pool),
    scheduler: new SchedulerStore(prisma, pool),
    triggers: new TriggerRepository(prisma),
    kv: new KvRepository(prisma),
    async close() {
      await prisma.$disconnect();
      if (!pool.ended) await pool.end();
    },
  };
}
