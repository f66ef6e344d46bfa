import type pg from 'pg';
import type { PrismaClient } from './generated/prisma/client.js';
import { Prisma } from './generated/prisma/client.js';
import { dateLiteral, jsonLiteral, literal } from './rows.js';
import type { Queryable } from './rows.js';
import { METRIC_COLUMNS } from './step-statements.js';

/** Kestra's metric types. */
export const METRIC_TYPES = ['counter', 'timer', 'gauge'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** A metric as a task reports it (a worker's `ended` report carries these): a timer's value is in seconds. */
export interface ReportedMetric {
  readonly name: string;
  readonly type: string;
  readonly value: number;
  readonly tags?: Readonly<Record<string, string>>;
  /** ISO-8601: when the task recorded it. */
  readonly timestamp: string;
}

/** One `metrics` row to write: what Kestra's MetricEntry holds, plus the attempt. A timer's value is in milliseconds. */
export interface NewMetricEntry {
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly taskId: string | null;
  readonly taskRunId: string | null;
  readonly attemptNumber: number | null;
  readonly type: MetricType;
  readonly name: string;
  readonly value: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly timestamp: Date;
}

/** What a metric row measures, apart from where it comes from. */
type MeasureField = 'type' | 'name' | 'value' | 'tags' | 'timestamp';

export interface StoredMetricEntry extends NewMetricEntry {
  readonly id: bigint;
}

/** The columns `GET /metrics/{executionId}` sorts by, under Kestra's names (`taskrunId` is Kestra's spelling). */
export const METRIC_SORT_FIELDS = {
  namespace: 'namespace',
  flowId: 'flow_id',
  taskId: 'task_id',
  executionId: 'execution_id',
  taskrunId: 'task_run_id',
  taskRunId: 'task_run_id',
  name: 'name',
  timestamp: '"timestamp"',
  value: 'value',
} as const;
export type MetricSortField = keyof typeof METRIC_SORT_FIELDS;

export interface MetricSearch {
  readonly executionId: string;
  readonly taskId?: string;
  readonly taskRunId?: string;
  /** In order; `timestamp` ascending when empty. Ties are always broken by insertion order. */
  readonly sort?: readonly { readonly field: MetricSortField; readonly direction: 'asc' | 'desc' }[];
  /** 1-based. */
  readonly page: number;
  /** 1 to 1000. */
  readonly size: number;
}

export interface MetricSearchResult {
  readonly results: StoredMetricEntry[];
  /** Matching rows over all pages. */
  readonly total: number;
}

export type MetricAggregation = 'sum' | 'avg' | 'min' | 'max';
/** Postgres `date_trunc` units the aggregates group by (Kestra's groupBy values). */
export type MetricGroupBy = 'minute' | 'hour' | 'day' | 'week' | 'month';

export interface MetricAggregateQuery {
  readonly namespace: string;
  readonly flowId: string;
  readonly name: string;
  readonly taskId?: string;
  /** Rows recorded at or after it. */
  readonly startDate: Date;
  /** Rows recorded at or before it. */
  readonly endDate: Date;
  readonly aggregation: MetricAggregation;
  /** Buckets: `date_trunc(groupBy)` of the timestamp, in UTC (weeks start on Monday). */
  readonly groupBy: MetricGroupBy;
}

const MAX_SEARCH_SIZE = 1_000;
const AGGREGATES: Record<MetricAggregation, Prisma.Sql> = {
  sum: Prisma.sql`sum(value)`,
  avg: Prisma.sql`avg(value)`,
  min: Prisma.sql`min(value)`,
  max: Prisma.sql`max(value)`,
};
const GROUP_BY: readonly MetricGroupBy[] = ['minute', 'hour', 'day', 'week', 'month'];

// Postgres refuses NUL in text and jsonb, and a lone surrogate in jsonb: a script may print either, and the row must not
// fail the scheduler step that writes it.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const storable = (text: string): string => text.replace(UNSTORABLE, '\uFFFD');

function isMetricType(type: string): type is MetricType {
  return (METRIC_TYPES as readonly string[]).includes(type);
}

/** Tags as one key: the same tags in another key order are the same tags. */
function tagsKey(tags: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The rows of one task run's metrics, as Kestra's RunContext keeps them: one per (type, name, tags), a counter's and a
 * timer's values summed, a gauge at its last value, each at the time it was first recorded. A timer's seconds become
 * milliseconds (Kestra stores `Duration.toMillis()`). An entry of an unknown type, or with a value or date that is not
 * finite, is left out.
 */
export function taskRunMetricRows<W extends Partial<Omit<NewMetricEntry, MeasureField>>>(metrics: readonly ReportedMetric[], where: W): (W & Pick<NewMetricEntry, MeasureField>)[] {
  const rows = new Map<string, W & { -readonly [K in MeasureField]: NewMetricEntry[K] }>();
  for (const metric of metrics) {
    const timestamp = new Date(metric.timestamp);
    if (!isMetricType(metric.type) || !Number.isFinite(metric.value) || Number.isNaN(timestamp.getTime())) continue;
    const name = storable(metric.name);
    const tags = Object.fromEntries(Object.entries(metric.tags ?? {}).map(([key, value]) => [storable(key), storable(String(value))]));
    const key = JSON.stringify([metric.type, name, tagsKey(tags)]);
    // Milliseconds, computed from microseconds so that 0.29 s is 290 ms and not 289.99...
    const value = metric.type === 'timer' ? Math.round(metric.value * 1e6) / 1e3 : metric.value;
    const row = rows.get(key);
    if (!row) rows.set(key, { ...where, type: metric.type, name, value, tags, timestamp });
    else row.value = metric.type === 'gauge' ? value : row.value + value;
  }
  return [...rows.values()];
}

/** A double literal for a multi-statement write (see rows.ts); `value` must be finite. */
function doubleLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return `${literal(String(value))}::float8`;
}

/** One metric's values as literals, in the order of METRIC_COLUMNS. */
export function metricValues(row: NewMetricEntry): string[] {
  return [
    literal(row.executionId),
    literal(row.namespace),
    literal(row.flowId),
    literal(row.taskId),
    literal(row.taskRunId),
    literal(row.attemptNumber),
    literal(row.type),
    literal(row.name),
    doubleLiteral(row.value),
    jsonLiteral(row.tags),
    dateLiteral(row.timestamp),
  ];
}

/** One INSERT of `rows` as literals (for a scheduler step's batched statements), or undefined when there are none. */
export function insertMetricsStatement(rows: readonly NewMetricEntry[]): string | undefined {
  if (rows.length === 0) return undefined;
  return `INSERT INTO metrics (${METRIC_COLUMNS}) VALUES (${rows.map((row) => metricValues(row).join(', ')).join('), (')})`;
}

/** Insert metric rows in one statement; returns the count. */
export async function insertMetrics(db: Queryable, rows: readonly NewMetricEntry[]): Promise<number> {
  const statement = insertMetricsStatement(rows);
  if (statement === undefined) return 0;
  const result = await db.query(statement);
  return result.rowCount ?? 0;
}

interface MetricRow {
  id: bigint | string;
  executionId: string;
  namespace: string;
  flowId: string;
  taskId: string | null;
  taskRunId: string | null;
  attemptNumber: number | null;
  type: string;
  name: string;
  value: number;
  tags: unknown;
  timestamp: Date;
}

const COLUMNS = Prisma.sql`id, execution_id AS "executionId", namespace, flow_id AS "flowId", task_id AS "taskId", task_run_id AS "taskRunId",
  attempt_number AS "attemptNumber", type, name, value, tags, "timestamp"`;

function toEntry(row: MetricRow): StoredMetricEntry {
  return {
    id: BigInt(row.id),
    executionId: row.executionId,
    namespace: row.namespace,
    flowId: row.flowId,
    taskId: row.taskId,
    taskRunId: row.taskRunId,
    attemptNumber: row.attemptNumber,
    type: row.type as MetricType,
    name: row.name,
    value: row.value,
    tags: (row.tags ?? {}) as Record<string, string>,
    timestamp: row.timestamp,
  };
}

/**
 * Metric rows (Kestra's MetricEntry): written by the scheduler with the step that applies a task run's end, read by
 * execution (index (execution_id, timestamp)) and by flow (indexes (namespace, flow_id, name, timestamp) and
 * (namespace, flow_id, task_id, name)).
 */
export class MetricRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /** Store rows in one statement (the scheduler writes its own in its step; this is for everything else). */
  async append(rows: readonly NewMetricEntry[]): Promise<number> {
    return insertMetrics(this.pool, rows);
  }

  /** The execution's rows (those of a task, a task run, or both), sorted and paged, with the total count. */
  async search(search: MetricSearch): Promise<MetricSearchResult> {
    if (!Number.isInteger(search.page) || search.page < 1) throw new RangeError(`page must be an integer >= 1, got ${search.page}`);
    if (!Number.isInteger(search.size) || search.size < 1 || search.size > MAX_SEARCH_SIZE) {
      throw new RangeError(`size must be an integer from 1 to ${MAX_SEARCH_SIZE}, got ${search.size}`);
    }
    const conditions: Prisma.Sql[] = [Prisma.sql`execution_id = ${search.executionId}`];
    if (search.taskId !== undefined) conditions.push(Prisma.sql`task_id = ${search.taskId}`);
    if (search.taskRunId !== undefined) conditions.push(Prisma.sql`task_run_id = ${search.taskRunId}`);
    const where = Prisma.join(conditions, ' AND ');
    const sort = search.sort && search.sort.length > 0 ? search.sort : [{ field: 'timestamp', direction: 'asc' } as const];
    const order = sort.map(({ field, direction }) => {
      const column = METRIC_SORT_FIELDS[field];
      if (column === undefined) throw new RangeError(`cannot sort metrics by ${JSON.stringify(field)}`);
      // Kestra's order: nulls first ascending, last descending.
      return Prisma.raw(`${column} ${direction === 'asc' ? 'ASC NULLS FIRST' : 'DESC NULLS LAST'}`);
    });
    const offset = (search.page - 1) * search.size;
    const [rows, counts] = await Promise.all([
      this.prisma.$queryRaw<MetricRow[]>`
        SELECT ${COLUMNS} FROM metrics WHERE ${where} ORDER BY ${Prisma.join([...order, Prisma.raw('id ASC')])} LIMIT ${search.size} OFFSET ${offset}`,
      this.prisma.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS total FROM metrics WHERE ${where}`,
    ]);
    return { results: rows.map(toEntry), total: Number(counts[0]?.total ?? 0) };
  }

  /** The names of the flow's metrics (of one task's, with `taskId`), sorted. */
  async names(namespace: string, flowId: string, taskId?: string): Promise<string[]> {
    const rows =
      taskId === undefined
        ? await this.prisma.$queryRaw<{ name: string }[]>`SELECT DISTINCT name FROM metrics WHERE namespace = ${namespace} AND flow_id = ${flowId} ORDER BY name`
        : await this.prisma.$queryRaw<{ name: string }[]>`
            SELECT DISTINCT name FROM metrics WHERE namespace = ${namespace} AND flow_id = ${flowId} AND task_id = ${taskId} ORDER BY name`;
    return rows.map((row) => row.name);
  }

  /** The ids of the flow's tasks that have metrics (tasks since renamed or removed included), sorted. */
  async tasks(namespace: string, flowId: string): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<{ taskId: string }[]>`
      SELECT DISTINCT task_id AS "taskId" FROM metrics WHERE namespace = ${namespace} AND flow_id = ${flowId} AND task_id IS NOT NULL ORDER BY 1`;
    return rows.map((row) => row.taskId);
  }

  /**
   * The metric `name` of the flow (of one task, with `taskId`) between the two dates, aggregated per bucket of
   * `groupBy`: only the buckets that have rows, oldest first.
   */
  async aggregate(query: MetricAggregateQuery): Promise<{ date: Date; value: number }[]> {
    const aggregate = AGGREGATES[query.aggregation];
    if (aggregate === undefined) throw new RangeError(`aggregation must be sum, avg, min or max, got ${JSON.stringify(query.aggregation)}`);
    if (!GROUP_BY.includes(query.groupBy)) throw new RangeError(`groupBy must be one of ${GROUP_BY.join(', ')}, got ${JSON.stringify(query.groupBy)}`);
    const bucket = Prisma.sql`date_trunc(${query.groupBy}, "timestamp" AT TIME ZONE 'UTC')`;
    const task = query.taskId === undefined ? Prisma.empty : Prisma.sql`AND task_id = ${query.taskId}`;
    const rows = await this.prisma.$queryRaw<{ bucket: Date; value: number }[]>`
      SELECT ${bucket} AT TIME ZONE 'UTC' AS bucket, ${aggregate}::float8 AS value FROM metrics
       WHERE namespace = ${query.namespace} AND flow_id = ${query.flowId} AND name = ${query.name} ${task}
         AND "timestamp" >= ${query.startDate} AND "timestamp" <= ${query.endDate}
       GROUP BY 1 ORDER BY 1`;
    return rows.map((row) => ({ date: row.bucket, value: Number(row.value) }));
  }
}
