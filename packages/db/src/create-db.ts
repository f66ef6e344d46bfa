import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.js';
import { ExecutionRepository } from './execution-repository.js';
import { FlowRepository } from './flow-repository.js';
import { LogRepository } from './log-repository.js';
import { SchedulerStore } from './scheduler-store.js';

export interface DbOptions {
  /** Postgres connection string. */
  readonly databaseUrl: string;
  /** Maximum pool connections (pg's default, 10, when absent). */
  readonly maxConnections?: number;
}

/** The database handle an app builds once at start and passes down. */
export interface Db {
  /** The generated Prisma client, for what no repository covers yet. */
  readonly prisma: PrismaClient;
  readonly flows: FlowRepository;
  readonly executions: ExecutionRepository;
  readonly logs: LogRepository;
  /** Execution locking, task runs, the worker registry and triggers: what the scheduler needs. */
  readonly scheduler: SchedulerStore;
  /** Close the connection pool. */
  close(): Promise<void>;
}

/** Connect lazily to `databaseUrl` (nothing is opened until the first query). Run `migrate` first. */
export function createDb(options: DbOptions): Db {
  const adapter = new PrismaPg({
    connectionString: options.databaseUrl,
    ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }),
  });
  const prisma = new PrismaClient({ adapter });
  return {
    prisma,
    flows: new FlowRepository(prisma),
    executions: new ExecutionRepository(prisma),
    logs: new LogRepository(prisma),
    scheduler: new SchedulerStore(prisma),
    close: () => prisma.$disconnect(),
  };
}
