import type pg from 'pg';
import type { LogEntry, PrismaClient } from './generated/prisma/client.js';
import { escapeLike } from './rows.js';
import type { Queryable } from './rows.js';
import { Prisma } from './generated/prisma/client.js';
import { filterConditions, orderBy, prefixCondition } from './search-filters.js';
import type { FilterColumns, SearchFilter, SearchSort } from './search-filters.js';
import { LOG_COLUMNS } from './step-statements.js';

/** Kestra's log levels, least severe first: a `minLevel` keeps its own level and every one after it. */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One log line as a worker sends it. */
export interface NewLogEntry {
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly taskId?: string | null;
  readonly taskRunId?: string | null;
  readonly attemptNumber?: number | null;
  readonly level: LogLevel;
  readonly message: string;
  /** When the line was emitted (stored to the millisecond). */
  readonly timestamp: Date;
}

/** A stored log line; `id` grows with insertion order (a cursor for following), not with `timestamp`. */
export interface StoredLogEntry {
  readonly id: bigint;
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly taskId: string | null;
  readonly taskRunId: string | null;
  readonly attemptNumber: number | null;
  readonly level: string;
  readonly message: string;
  readonly timestamp: Date;
}

export interface LogFilter {
  /** Keep this level and the more severe ones (TRACE < DEBUG < INFO < WARN < ERROR). */
  readonly minLevel?: LogLevel;
  readonly taskId?: string;
  /** Only the lines of these tasks (with `taskId`, of the tasks in both). */
  readonly taskIds?: readonly string[];
  readonly taskRunId?: string;
  /** The attempt number (`attempt_number`) of the task run. */
  readonly attempt?: number;
}

/** Filters of {@link LogRepository.search}: every given one must match. */
export interface LogSearch {
  /** Exact namespace or a parent namespace (`company` matches `company.team`). */
  readonly namespace?: string;
  readonly flowId?: string;
  readonly executionId?: string;
  readonly taskId?: string;
  /** Keep this level and the more severe ones. */
  readonly minLevel?: LogLevel;
  /** Text the message contains, case-insensitively (`%` and `_` are literal). */
  readonly q?: string;
  /** Lines emitted at or after this date. */
  readonly startDate?: Date;
  /** Lines emitted at or before this date. */
  readonly endDate?: Date;
  /** Kestra 1.x's filters (namespace, flowId, executionId, triggerId, level, startDate, endDate, q, scope), all matched. */
  readonly filters?: readonly SearchFilter[];
  /** Sort keys among {@link LOG_SORT_FIELDS}; newest first (timestamp, then id, descending) when absent. */
  readonly sort?: readonly SearchSort[];
  /** 1-based. */
  readonly page: number;
  /** 1 to 1000. */
  readonly size: number;
}

export interface LogSearchResult {
  /** Newest first: by timestamp, then id, descending. */
  readonly results: StoredLogEntry[];
  /** Matching lines over all pages. */
  readonly total: number;
}

export interface LogListOptions extends LogFilter {
  /** Only lines stored after the line with this id (`id > afterId`). */
  readonly afterId?: bigint;
  /**
   * Only lines after this one in the `timestamp` order (a keyset cursor: the last line of the previous page), so a
   * log is paged without OFFSET and a line appended meanwhile that sorts later is not missed.
   */
  readonly after?: { readonly timestamp: Date; readonly id: bigint };
  /** At most this many lines (1 to 10,000; default 10,000). */
  readonly limit?: number;
  /** Leave out the first this many matching lines (OFFSET; for a one-off position, never to page). */
  readonly skip?: number;
  /**
   * `timestamp` (default): by (timestamp, id), the order a log is read in. `id`: insertion order, the one to page
   * with `afterId` when following (a line stored late with an early timestamp is never skipped).
   */
  readonly order?: 'timestamp' | 'id';
}

/** How the logs table answers Kestra's filters. Sluice stores no trigger log lines: triggerId is null on every line. */
const LOG_FILTER_COLUMNS: FilterColumns = {
  text: { namespace: Prisma.sql`namespace`, flowId: Prisma.sql`flow_id`, executionId: Prisma.sql`execution_id`, triggerId: null },
  date: Prisma.sql`"timestamp"`,
  level: Prisma.sql`level`,
  // Served by the trigram index on message (migration 20261206070000_search_indexes).
  query: (text) => Prisma.sql`message ILIKE ${`%${escapeLike(text)}%`}`,
  scope: true,
};

/** The sort keys of a log search and their columns. */
const LOG_SORT_COLUMNS: Readonly<Record<string, Prisma.Sql>> = {
  timestamp: Prisma.sql`"timestamp"`,
  level: Prisma.sql`level`,
  namespace: Prisma.sql`namespace`,
  flowId: Prisma.sql`flow_id`,
  executionId: Prisma.sql`execution_id`,
  taskId: Prisma.sql`task_id`,
};
export const LOG_SORT_FIELDS: readonly string[] = Object.keys(LOG_SORT_COLUMNS);

const MAX_LIMIT = 10_000;
const MAX_SEARCH_SIZE = 1_000;
const DEFAULT_PAGE = 1_000;

/** The levels at or above `minLevel` (all of them when absent). */
export function levelsFrom(minLevel: LogLevel | undefined): LogLevel[] {
  return minLevel === undefined ? [...LOG_LEVELS] : LOG_LEVELS.slice(LOG_LEVELS.indexOf(minLevel));
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

function toEntry(row: LogEntry): StoredLogEntry {
  return {
    id: row.id,
    executionId: row.executionId,
    namespace: row.namespace,
    flowId: row.flowId,
    taskId: row.taskId,
    taskRunId: row.taskRunId,
    attemptNumber: row.attemptNumber,
    level: row.level,
    message: row.message,
    timestamp: row.timestamp,
  };
}

function whereOf(executionId: string, filter: LogFilter): Prisma.LogEntryWhereInput {
  return {
    executionId,
    ...(filter.minLevel === undefined || filter.minLevel === 'TRACE' ? {} : { level: { in: levelsFrom(filter.minLevel) } }),
    ...(filter.taskId === undefined && filter.taskIds === undefined
      ? {}
      : { taskId: { ...(filter.taskId === undefined ? {} : { equals: filter.taskId }), ...(filter.taskIds === undefined ? {} : { in: [...filter.taskIds] }) } }),
    ...(filter.taskRunId === undefined ? {} : { taskRunId: filter.taskRunId }),
    ...(filter.attempt === undefined ? {} : { attemptNumber: filter.attempt }),
  };
}

/** A `logs` row read by raw SQL, with the columns aliased to the model's field names. */
const SEARCH_COLUMNS = Prisma.sql`id, execution_id AS "executionId", namespace, flow_id AS "flowId", task_id AS "taskId",
  task_run_id AS "taskRunId", attempt_number AS "attemptNumber", level, message, "timestamp"`;

/** Refuse a log line Postgres would store wrongly: an unknown level, or a timestamp that is not a valid Date. */
export function assertLogEntry(entry: { readonly level: string; readonly timestamp: Date }): void {
  if (!isLogLevel(entry.level)) throw new RangeError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(entry.level)}`);
  if (!(entry.timestamp instanceof Date) || Number.isNaN(entry.timestamp.getTime())) throw new RangeError('log timestamp must be a valid Date');
}

/**
 * Insert log lines in one statement (plain pg: the scheduler stores every batch a worker sends). Returns the count.
 * Throws a RangeError, before writing anything, on an unknown level or an invalid date.
 */
export async function insertLogs(db: Queryable, entries: readonly NewLogEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  entries.forEach(assertLogEntry);
  const column = <T>(pick: (entry: NewLogEntry) => T): T[] => entries.map(pick);
  const result = await db.query(
    `INSERT INTO logs (${LOG_COLUMNS})
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::timestamptz[])`,
    [
      column((e) => e.executionId),
      column((e) => e.namespace),
      column((e) => e.flowId),
      column((e) => e.taskId ?? null),
      column((e) => e.taskRunId ?? null),
      column((e) => e.attemptNumber ?? null),
      column((e) => e.level),
      column((e) => e.message),
      column((e) => e.timestamp.toISOString()),
    ],
  );
  return result.rowCount ?? 0;
}

/**
 * Execution logs: written in batches, read and deleted per execution through the (execution_id, timestamp) index.
 */
export class LogRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /**
   * Store a batch of lines with ONE statement, whatever its size: the columns go as eight arrays through
   * `unnest`, so there is no per-line statement and no bind-parameter limit (65,535) to split on. Returns the count.
   */
  async append(entries: readonly NewLogEntry[]): Promise<number> {
    return insertLogs(this.pool, entries);
  }

  /** The execution's lines matching the filter, by (timestamp, id) unless `order: 'id'`. */
  async list(executionId: string, options: LogListOptions = {}): Promise<StoredLogEntry[]> {
    const limit = options.limit ?? MAX_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new RangeError(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`);
    const { after } = options;
    const rows = await this.prisma.logEntry.findMany({
      where: {
        ...whereOf(executionId, options),
        ...(options.afterId === undefined ? {} : { id: { gt: options.afterId } }),
        ...(after === undefined ? {} : { OR: [{ timestamp: { gt: after.timestamp } }, { timestamp: after.timestamp, id: { gt: after.id } }] }),
      },
      orderBy: options.order === 'id' ? [{ id: 'asc' }] : [{ timestamp: 'asc' }, { id: 'asc' }],
      take: limit,
      ...(options.skip ? { skip: options.skip } : {}),
    });
    return rows.map(toEntry);
  }

  /**
   * Every matching line by (timestamp, id), read a page at a time with a keyset cursor on (timestamp, id): a
   * million-line log never sits in memory, and lines appended while reading are picked up if they sort later.
   */
  async *stream(executionId: string, filter: LogFilter & { readonly pageSize?: number } = {}): AsyncGenerator<StoredLogEntry> {
    const pageSize = filter.pageSize ?? DEFAULT_PAGE;
    const where = whereOf(executionId, filter);
    let cursor: { timestamp: Date; id: bigint } | undefined;
    for (;;) {
      const rows = await this.prisma.logEntry.findMany({
        where: cursor === undefined ? where : { ...where, OR: [{ timestamp: { gt: cursor.timestamp } }, { timestamp: cursor.timestamp, id: { gt: cursor.id } }] },
        orderBy: [{ timestamp: 'asc' }, { id: 'asc' }],
        take: pageSize,
      });
      for (const row of rows) yield toEntry(row);
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < pageSize) return;
      cursor = { timestamp: last.timestamp, id: last.id };
    }
  }

  /**
   * Lines matching every given filter, newest first (timestamp, then id, descending), paged, with the total count.
   * Raw SQL because Prisma does not escape LIKE wildcards. Indexes (migration 20261206070000_search_indexes): by
   * execution (execution_id, timestamp), by namespace and flow (namespace text_pattern_ops, flow_id, timestamp), by
   * level (level, timestamp), by date and for the default order (timestamp, id), and a trigram index for `q`.
   */
  async search(search: LogSearch): Promise<LogSearchResult> {
    if (!Number.isInteger(search.page) || search.page < 1) throw new RangeError(`page must be an integer >= 1, got ${search.page}`);
    if (!Number.isInteger(search.size) || search.size < 1 || search.size > MAX_SEARCH_SIZE) {
      throw new RangeError(`size must be an integer from 1 to ${MAX_SEARCH_SIZE}, got ${search.size}`);
    }
    if (search.minLevel !== undefined && !isLogLevel(search.minLevel)) {
      throw new RangeError(`minLevel must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(search.minLevel)}`);
    }
    for (const [name, date] of [['startDate', search.startDate], ['endDate', search.endDate]] as const) {
      if (date !== undefined && (!(date instanceof Date) || Number.isNaN(date.getTime()))) throw new RangeError(`${name} must be a valid Date`);
    }
    const conditions: Prisma.Sql[] = [Prisma.sql`TRUE`];
    if (search.executionId !== undefined) conditions.push(Prisma.sql`execution_id = ${search.executionId}`);
    if (search.namespace !== undefined) {
      conditions.push(prefixCondition(Prisma.sql`namespace`, search.namespace));
    }
    if (search.flowId !== undefined) conditions.push(Prisma.sql`flow_id = ${search.flowId}`);
    if (search.taskId !== undefined) conditions.push(Prisma.sql`task_id = ${search.taskId}`);
    if (search.minLevel !== undefined && search.minLevel !== 'TRACE') conditions.push(Prisma.sql`level IN (${Prisma.join(levelsFrom(search.minLevel))})`);
    if (search.q !== undefined && search.q !== '') conditions.push(Prisma.sql`message ILIKE ${`%${escapeLike(search.q)}%`}`);
    if (search.startDate !== undefined) conditions.push(Prisma.sql`"timestamp" >= ${search.startDate}`);
    if (search.endDate !== undefined) conditions.push(Prisma.sql`"timestamp" <= ${search.endDate}`);
    conditions.push(...filterConditions(search.filters, LOG_FILTER_COLUMNS));
    const where = Prisma.join(conditions, ' AND ');
    const order = orderBy(search.sort, LOG_SORT_COLUMNS, Prisma.sql`"timestamp" DESC, id DESC`, Prisma.sql`id DESC`);
    const offset = (search.page - 1) * search.size;
    const [rows, counts] = await Promise.all([
      this.prisma.$queryRaw<LogEntry[]>`
        SELECT ${SEARCH_COLUMNS} FROM logs WHERE ${where} ORDER BY ${order} LIMIT ${search.size} OFFSET ${offset}`,
      this.prisma.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS total FROM logs WHERE ${where}`,
    ]);
    return { results: rows.map(toEntry), total: Number(counts[0]?.total ?? 0) };
  }

  /** Delete the execution's lines matching the filter (every line without one); returns how many were deleted. */
  async deleteByExecution(executionId: string, filter: LogFilter = {}): Promise<number> {
    if (filter.minLevel !== undefined && !isLogLevel(filter.minLevel)) {
      throw new RangeError(`minLevel must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(filter.minLevel)}`);
    }
    const { count } = await this.prisma.logEntry.deleteMany({ where: whereOf(executionId, filter) });
    return count;
  }
}
