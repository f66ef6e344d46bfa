/**
 * The cost budget of a bench phase (issue #20): what each execution cost in SQL statements and transactions
 * (pg_stat_statements, pg_stat_database), Redis commands (`INFO commandstats`) and queue messages (BullMQ jobs
 * finished per queue). Each is a snapshot taken before and after the phase; the tables print the difference divided by
 * the executions of the phase.
 */
import { readdir, readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import pg from 'pg';

/** The /proc clock tick: USER_HZ is 100 on Linux. */
const CLOCK_TICK_MS = 10;

/**
 * CPU time of a process in ms: its own, and that of its children it has waited for (the worker's shells); and the
 * system (kernel) part of each.
 */
export async function cpuMs(pid: number): Promise<{ self: number; children: number; system: number; childrenSystem: number }> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number): number => Number(fields[i] ?? NaN);
    // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    return { self: (n(11) + n(12)) * CLOCK_TICK_MS, children: (n(13) + n(14)) * CLOCK_TICK_MS, system: n(12) * CLOCK_TICK_MS, childrenSystem: n(14) * CLOCK_TICK_MS };
  } catch {
    return { self: NaN, children: NaN, system: NaN, childrenSystem: NaN };
  }
}

/** Processes whose command line contains `needle` (Postgres backends show their database; redis-server its port). */
export async function pidsMatching(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

export interface StatementCounters {
  readonly query: string;
  readonly calls: number;
  readonly ms: number;
  readonly rows: number;
}

/**
 * pg_stat_statements of `database`, by query id; or why it is not available (the module must be in
 * `shared_preload_libraries`: scripts/services.sh starts the test cluster so).
 */
export async function statementsSnapshot(adminUrl: string, database: string): Promise<Map<string, StatementCounters> | string> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const result = await client.query<{ queryid: string; query: string; calls: string; ms: string; rows: string }>(
      'SELECT queryid::text AS queryid, query, calls::text, total_exec_time::text AS ms, rows::text FROM pg_stat_statements s ' +
        'JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1',
      [database],
    );
    return new Map(result.rows.map((row) => [row.queryid, { query: row.query, calls: Number(row.calls), ms: Number(row.ms), rows: Number(row.rows) }]));
  } catch (error) {
    return `pg_stat_statements is not available (${error instanceof Error ? error.message : String(error)}): start Postgres with shared_preload_libraries=pg_stat_statements, as scripts/services.sh does`;
  } finally {
    await client.end();
  }
}

/** Calls and CPU time (µs) of each Redis command since the server started. */
export async function redisCommandStats(redisUrl: string): Promise<Map<string, { calls: number; usec: number }>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const text = await redis.info('commandstats');
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const line of text.split('\n')) {
      const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
      if (match?.[1]) stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
    }
    return stats;
  } finally {
    redis.disconnect();
  }
}

/** The queues Sluice's BullMQ driver uses (packages/queue: prefix `sluice`), the task queue of the default group. */
export const BENCH_QUEUES = ['executions', 'tasks.default', 'results', 'logs'] as const;

/**
 * Jobs of each queue that completed or failed between `from` and `to` (ms since the epoch): the messages of a phase.
 * Read from each queue's BullMQ events stream (its entry ids are the Redis server's ms clock), since a completed job
 * without a dedupId is removed from Redis at once.
 */
export async function queueMessages(redisUrl: string, from: number, to: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const [queue, jobs] of await queueEvents(redisUrl, from, to)) {
    counts.set(queue, [...jobs.values()].filter((job) => job.finished !== undefined).length);
  }
  return counts;
}

/** One job's moments in a queue's events stream (ms since the epoch). */
export interface JobEvents {
  added?: number;
  active?: number;
  finished?: number;
}

/** The jobs of each of {@link BENCH_QUEUES} seen in its BullMQ events stream between `from` and `to`, by job id. */
export async function queueEvents(redisUrl: string, from: number, to: number): Promise<Map<string, Map<string, JobEvents>>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const byQueue = new Map<string, Map<string, JobEvents>>();
    for (const queue of BENCH_QUEUES) {
      const jobs = new Map<string, JobEvents>();
      const entries = await redis.xrange(`sluice:${queue}:events`, String(from), String(to));
      for (const [id, fields] of entries) {
        const at = Number(id.split('-')[0]);
        const field = (name: string): string | undefined => {
          const index = fields.indexOf(name);
          return index >= 0 && index % 2 === 0 ? fields[index + 1] : undefined;
        };
        const event = field('event');
        const jobId = field('jobId');
        if (jobId === undefined) continue;
        const job = jobs.get(jobId) ?? {};
        if (event === 'added') job.added ??= at;
        else if (event === 'active') job.active = at;
        else if (event === 'completed' || event === 'failed') job.finished = at;
        jobs.set(jobId, job);
      }
      byQueue.set(queue, jobs);
    }
    return byQueue;
  } finally {
    redis.disconnect();
  }
}

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');

export interface BudgetInput {
  readonly executions: number;
  readonly statementsBefore?: Map<string, StatementCounters> | string;
  readonly statementsAfter?: Map<string, StatementCounters> | string;
  readonly transactions?: number;
  readonly redisBefore?: Map<string, { calls: number; usec: number }>;
  readonly redisAfter?: Map<string, { calls: number; usec: number }>;
  readonly messages?: Map<string, number>;
}

export interface BudgetTotals {
  statements?: number;
  transactions?: number;
  redisCommands?: number;
  messages?: number;
}

/** Print the budget of a phase; returns its per-execution totals. */
export function printBudget(input: BudgetInput, log: (line: string) => void): BudgetTotals {
  const totals: BudgetTotals = {};
  const n = input.executions;
  if (typeof input.statementsAfter === 'string' || typeof input.statementsBefore === 'string') {
    log(`\nSQL statements: ${typeof input.statementsAfter === 'string' ? input.statementsAfter : input.statementsBefore}`);
  } else if (input.statementsAfter && input.statementsBefore) {
    const before = input.statementsBefore;
    const rows = [...input.statementsAfter].map(([id, after]) => {
      const was = before.get(id);
      return { query: after.query, calls: after.calls - (was?.calls ?? 0), ms: after.ms - (was?.ms ?? 0), rows: after.rows - (was?.rows ?? 0) };
    });
    const active = rows.filter((row) => row.calls > 0).sort((a, b) => b.calls - a.calls);
    const calls = active.reduce((sum, row) => sum + row.calls, 0);
    const ms = active.reduce((sum, row) => sum + row.ms, 0);
    totals.statements = calls / n;
    log(`\nSQL statements per execution (pg_stat_statements, BEGIN and COMMIT included): ${f2(calls / n)}, ${f3(ms / n)} ms of execution time; the most frequent:\n`);
    log('| statement | calls per execution | ms per call | rows per call |');
    log('|---|---|---|---|');
    for (const row of active.slice(0, 15)) {
      const text = row.query.replace(/\s+/g, ' ').slice(0, 110).replaceAll('|', '\\|');
      log(`| \`${text}\` | ${f2(row.calls / n)} | ${f3(row.ms / row.calls)} | ${f2(row.rows / row.calls)} |`);
    }
  }
  if (input.transactions !== undefined) {
    totals.transactions = input.transactions / n;
    log(`\ntransactions per execution (pg_stat_database: commits and rollbacks): ${f2(input.transactions / n)}`);
  }
  if (input.redisBefore && input.redisAfter) {
    const before = input.redisBefore;
    const rows = [...input.redisAfter]
      .map(([name, after]) => ({ name, calls: after.calls - (before.get(name)?.calls ?? 0), usec: after.usec - (before.get(name)?.usec ?? 0) }))
      // The two INFO calls of the snapshots themselves are not the stack's.
      .map((row) => (row.name === 'info' ? { ...row, calls: row.calls - 1 } : row))
      .filter((row) => row.calls > 0)
      .sort((a, b) => b.calls - a.calls);
    const calls = rows.reduce((sum, row) => sum + row.calls, 0);
    const usec = rows.reduce((sum, row) => sum + row.usec, 0);
    totals.redisCommands = calls / n;
    log(`\nRedis commands per execution (INFO commandstats; a Lua script's inner calls count as commands too): ${f2(calls / n)}, ${f3(usec / 1000 / n)} ms of Redis CPU:\n`);
    log('| command | calls per execution | µs per call |');
    log('|---|---|---|');
    for (const row of rows.slice(0, 15)) log(`| ${row.name} | ${f2(row.calls / n)} | ${f2(row.usec / row.calls)} |`);
  }
  if (input.messages) {
    const total = [...input.messages.values()].reduce((sum, count) => sum + count, 0);
    totals.messages = total / n;
    log(`\nqueue messages per execution (BullMQ jobs finished in the phase): ${f2(total / n)}: ${[...input.messages].map(([queue, count]) => `${queue} ${f2(count / n)}`).join(', ')}`);
  }
  return totals;
}
