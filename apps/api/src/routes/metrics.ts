/**
 * Metric endpoints, with the paths, parameters and shapes of Kestra's MetricController (KESTRA.md A6), under `/api/v1`
 * and `/api/v1/{tenant}`:
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET /metrics/{executionId}?page&size&sort&taskRunId&taskId` | 200 `{results: [MetricEntry], total}` (an unknown execution has none) | 400 |
 * | `GET /metrics/names/{namespace}/{flowId}` | 200 the flow's metric names, sorted | 400 |
 * | `GET /metrics/names/{namespace}/{flowId}/{taskId}` | 200 the names of one task's metrics | 400 |
 * | `GET /metrics/tasks/{namespace}/{flowId}` | 200 the ids of the flow's tasks that have metrics (renamed or removed ones too) | 400 |
 * | `GET /metrics/aggregates/{namespace}/{flowId}[/{taskId}]/{metric}?startDate&endDate&aggregation` | 200 `{groupBy, aggregations: [{name, value, date}]}` | 400 |
 *
 * A MetricEntry is `{namespace, flowId, taskId, executionId, taskRunId, type, name, value, timestamp, tags, deleted}`;
 * a timer's value is in milliseconds. Every route answers 400 naming a query parameter it does not take.
 */
import { SluiceError } from '@sluice/core';
import { METRIC_SORT_FIELDS } from '@sluice/db';
import type { MetricAggregation, MetricGroupBy, MetricRepository, MetricSortField, StoredMetricEntry } from '@sluice/db';
import type { FastifyPluginAsync } from 'fastify';
import { pagingQueryProperties, parseDate, rejectUnknownQueryParameters } from './http.js';

export type MetricStore = Pick<MetricRepository, 'search' | 'names' | 'tasks' | 'aggregate'>;

export interface MetricRouteOptions {
  readonly metrics: MetricStore;
}

/** A metric row as Kestra's MetricEntry (its `tenantId` and `executionKind` aside; the attempt is not shown). */
export function metricJson(entry: StoredMetricEntry): Record<string, unknown> {
  return {
    namespace: entry.namespace,
    flowId: entry.flowId,
    ...(entry.taskId === null ? {} : { taskId: entry.taskId }),
    executionId: entry.executionId,
    ...(entry.taskRunId === null ? {} : { taskRunId: entry.taskRunId }),
    type: entry.type,
    name: entry.name,
    value: entry.value,
    timestamp: entry.timestamp.toISOString(),
    tags: entry.tags,
    deleted: false,
  };
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Kestra's aggregates look back 30 days unless told (from now in Kestra; from endDate here, the same when it is absent). */
const DEFAULT_RANGE_MS = 30 * DAY_MS;
/** Most buckets an aggregate answers with (a month bucket over a century); a wider range is a 400. */
export const MAX_AGGREGATE_BUCKETS = 1200;
const AGGREGATIONS: readonly MetricAggregation[] = ['sum', 'avg', 'min', 'max'];

/** Kestra's bucket for a range (DateUtils.groupByType): whole days and hours of the range, as Java's Duration counts them. */
export function groupByOf(startDate: Date, endDate: Date): MetricGroupBy {
  const ms = endDate.getTime() - startDate.getTime();
  const days = Math.trunc(ms / DAY_MS);
  if (days > 365) return 'month';
  if (days > 180) return 'week';
  if (days > 1) return 'day';
  if (Math.trunc(ms / HOUR_MS) > 6) return 'hour';
  return 'minute';
}

/** The start of the UTC bucket of `groupBy` holding `date` (weeks start on Monday, as Postgres' `date_trunc`). */
export function bucketStart(date: Date, groupBy: MetricGroupBy): Date {
  const d = new Date(date.getTime());
  switch (groupBy) {
    case 'minute':
      d.setUTCSeconds(0, 0);
      return d;
    case 'hour':
      d.setUTCMinutes(0, 0, 0);
      return d;
    case 'day':
      d.setUTCHours(0, 0, 0, 0);
      return d;
    case 'week':
      d.setUTCHours(0, 0, 0, 0);
      return new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * DAY_MS);
    case 'month':
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
  }
}

function nextBucket(bucket: Date, groupBy: MetricGroupBy): Date {
  switch (groupBy) {
    case 'minute':
      return new Date(bucket.getTime() + 60_000);
    case 'hour':
      return new Date(bucket.getTime() + HOUR_MS);
    case 'day':
      return new Date(bucket.getTime() + DAY_MS);
    case 'week':
      return new Date(bucket.getTime() + 7 * DAY_MS);
    case 'month':
      return new Date(Date.UTC(bucket.getUTCFullYear(), bucket.getUTCMonth() + 1, 1));
  }
}

/** Every bucket from the one holding `startDate` to the one holding `endDate`, both included. */
export function bucketsOf(startDate: Date, endDate: Date, groupBy: MetricGroupBy): Date[] {
  const last = bucketStart(endDate, groupBy).getTime();
  const buckets: Date[] = [];
  for (let bucket = bucketStart(startDate, groupBy); bucket.getTime() <= last; bucket = nextBucket(bucket, groupBy)) {
    if (buckets.length === MAX_AGGREGATE_BUCKETS) {
      throw new SluiceError(
        'SLU_API_BAD_REQUEST',
        { reason: `startDate to endDate spans more than ${MAX_AGGREGATE_BUCKETS} ${groupBy}s: narrow the range` },
        { in: 'query', parameter: 'startDate' },
      );
    }
    buckets.push(bucket);
  }
  return buckets;
}

function badQuery(parameter: string, reason: string): SluiceError {
  return new SluiceError('SLU_API_BAD_REQUEST', { reason }, { in: 'query', parameter });
}

/** Kestra's `sort` values: `field:asc` or `field:desc`, `field` one of MetricEntry's sortable fields. */
function parseSort(values: readonly string[] | undefined): { field: MetricSortField; direction: 'asc' | 'desc' }[] {
  return (values ?? []).map((value) => {
    const match = /^([^:]+):(asc|desc)$/.exec(value);
    if (!match) throw badQuery('sort', `sort must be field:asc or field:desc, got ${JSON.stringify(value)}`);
    const field = match[1] as string;
    if (!Object.hasOwn(METRIC_SORT_FIELDS, field)) {
      throw badQuery('sort', `cannot sort metrics by ${JSON.stringify(field)}: sortable are ${Object.keys(METRIC_SORT_FIELDS).join(', ')}`);
    }
    return { field: field as MetricSortField, direction: match[2] as 'asc' | 'desc' };
  });
}

const metricEntrySchema = {
  type: 'object',
  description: "Kestra's MetricEntry. A timer's value is in milliseconds.",
  required: ['namespace', 'flowId', 'executionId', 'type', 'name', 'value', 'timestamp', 'tags', 'deleted'],
  properties: {
    namespace: { type: 'string' },
    flowId: { type: 'string' },
    taskId: { type: 'string' },
    executionId: { type: 'string' },
    taskRunId: { type: 'string' },
    type: { enum: ['counter', 'timer', 'gauge'] },
    name: { type: 'string' },
    value: { type: 'number' },
    timestamp: { type: 'string', format: 'date-time' },
    tags: { type: 'object', additionalProperties: { type: 'string' } },
    deleted: { type: 'boolean' },
  },
} as const;

const namesSchema = { type: 'array', items: { type: 'string' } } as const;

const aggregationsSchema = {
  type: 'object',
  description: "Kestra's MetricAggregations: one entry per time bucket of `groupBy`, oldest first; a bucket without rows has value 0 (and is named, as the OpenAPI requires).",
  required: ['groupBy', 'aggregations'],
  properties: {
    groupBy: { enum: ['minute', 'hour', 'day', 'week', 'month'] },
    aggregations: {
      type: 'array',
      items: {
        type: 'object',
        required: ['value', 'date'],
        properties: { name: { type: 'string' }, value: { type: 'number' }, date: { type: 'string', format: 'date-time' } },
      },
    },
  },
} as const;

const noQuery = { type: 'object', properties: {} } as const;

const executionParams = { type: 'object', required: ['executionId'], properties: { executionId: { type: 'string' } } } as const;
const flowParams = {
  type: 'object',
  required: ['namespace', 'flowId'],
  properties: { namespace: { type: 'string' }, flowId: { type: 'string' } },
} as const;
const taskParams = { type: 'object', required: ['namespace', 'flowId', 'taskId'], properties: { ...flowParams.properties, taskId: { type: 'string' } } } as const;
const aggregateParams = { type: 'object', required: ['namespace', 'flowId', 'metric'], properties: { ...flowParams.properties, metric: { type: 'string' } } } as const;
const taskAggregateParams = {
  type: 'object',
  required: ['namespace', 'flowId', 'taskId', 'metric'],
  properties: { ...taskParams.properties, metric: { type: 'string' } },
} as const;

const searchQuery = {
  type: 'object',
  properties: {
    ...pagingQueryProperties,
    sort: { type: 'array', items: { type: 'string' }, description: `field:asc or field:desc; fields: ${Object.keys(METRIC_SORT_FIELDS).join(', ')}. Default timestamp:asc` },
    taskRunId: { type: 'string', description: 'Only the metrics of this task run' },
    taskId: { type: 'string', description: 'Only the metrics of this task' },
  },
} as const;

const aggregateQuery = {
  type: 'object',
  properties: {
    startDate: { type: 'string', description: 'ISO-8601; default 30 days before endDate' },
    endDate: { type: 'string', description: 'ISO-8601; default now' },
    aggregation: { enum: [...AGGREGATIONS], default: 'sum', description: 'How the values of one bucket are combined' },
  },
} as const;

interface SearchQuery {
  page: number;
  size: number;
  sort?: string[];
  taskRunId?: string;
  taskId?: string;
}

interface AggregateQuery {
  startDate?: string;
  endDate?: string;
  aggregation: MetricAggregation;
}

export const metricRoutes: FastifyPluginAsync<MetricRouteOptions> = async (app, { metrics }) => {
  app.get(
    '/metrics/:executionId',
    {
      schema: {
        tags: ['metrics'],
        summary: "An execution's metrics, paged",
        description: 'Kestra\'s `searchByExecution`. An unknown execution has no metrics (200, empty), as in Kestra.',
        params: executionParams,
        querystring: searchQuery,
        response: { 200: { type: 'object', required: ['results', 'total'], properties: { results: { type: 'array', items: metricEntrySchema }, total: { type: 'integer' } } } },
      },
      preValidation: rejectUnknownQueryParameters(searchQuery),
    },
    async (request) => {
      const { executionId } = request.params as { executionId: string };
      const query = request.query as SearchQuery;
      const found = await metrics.search({
        executionId,
        ...(query.taskId === undefined ? {} : { taskId: query.taskId }),
        ...(query.taskRunId === undefined ? {} : { taskRunId: query.taskRunId }),
        sort: parseSort(query.sort),
        page: query.page,
        size: query.size,
      });
      return { results: found.results.map(metricJson), total: found.total };
    },
  );

  app.get(
    '/metrics/names/:namespace/:flowId',
    {
      schema: { tags: ['metrics'], summary: "The names of a flow's metrics", params: flowParams, querystring: noQuery, response: { 200: namesSchema } },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace, flowId } = request.params as { namespace: string; flowId: string };
      return metrics.names(namespace, flowId);
    },
  );

  app.get(
    '/metrics/names/:namespace/:flowId/:taskId',
    {
      schema: { tags: ['metrics'], summary: "The names of a task's metrics", params: taskParams, querystring: noQuery, response: { 200: namesSchema } },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace, flowId, taskId } = request.params as { namespace: string; flowId: string; taskId: string };
      return metrics.names(namespace, flowId, taskId);
    },
  );

  app.get(
    '/metrics/tasks/:namespace/:flowId',
    {
      schema: {
        tags: ['metrics'],
        summary: "The ids of a flow's tasks that have metrics (tasks since renamed or removed included)",
        params: flowParams,
        querystring: noQuery,
        response: { 200: namesSchema },
      },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace, flowId } = request.params as { namespace: string; flowId: string };
      return metrics.tasks(namespace, flowId);
    },
  );

  async function aggregates(params: { namespace: string; flowId: string; taskId?: string; metric: string }, query: AggregateQuery): Promise<unknown> {
    const endDate = parseDate('endDate', query.endDate) ?? new Date();
    const startDate = parseDate('startDate', query.startDate) ?? new Date(endDate.getTime() - DEFAULT_RANGE_MS);
    if (startDate.getTime() > endDate.getTime()) {
      throw badQuery('startDate', `startDate (${startDate.toISOString()}) must not be after endDate (${endDate.toISOString()})`);
    }
    const groupBy = groupByOf(startDate, endDate);
    const buckets = bucketsOf(startDate, endDate, groupBy);
    const rows = await metrics.aggregate({
      namespace: params.namespace,
      flowId: params.flowId,
      name: params.metric,
      ...(params.taskId === undefined ? {} : { taskId: params.taskId }),
      startDate,
      endDate,
      aggregation: query.aggregation,
      groupBy,
    });
    const byBucket = new Map(rows.map((row) => [row.date.getTime(), row.value]));
    return {
      groupBy,
      aggregations: buckets.map((bucket) => {
        const value = byBucket.get(bucket.getTime());
        // An empty bucket is named too: Kestra leaves its name out, but its own OpenAPI makes `name` required, and typed
        // clients built from it (its JavaScript SDK) reject such an entry.
        return { name: params.metric, value: value ?? 0, date: bucket.toISOString() };
      }),
    };
  }

  app.get(
    '/metrics/aggregates/:namespace/:flowId/:metric',
    {
      schema: {
        tags: ['metrics'],
        summary: "A flow's metric aggregated per time bucket",
        description:
          'Buckets by the range, as Kestra: a month over more than 365 days, a week over more than 180, a day over more than 1, an hour over more than 6 hours, else a minute; in UTC.',
        params: aggregateParams,
        querystring: aggregateQuery,
        response: { 200: aggregationsSchema },
      },
      preValidation: rejectUnknownQueryParameters(aggregateQuery),
    },
    async (request) => aggregates(request.params as { namespace: string; flowId: string; metric: string }, request.query as AggregateQuery),
  );

  app.get(
    '/metrics/aggregates/:namespace/:flowId/:taskId/:metric',
    {
      schema: {
        tags: ['metrics'],
        summary: "A task's metric aggregated per time bucket",
        params: taskAggregateParams,
        querystring: aggregateQuery,
        response: { 200: aggregationsSchema },
      },
      preValidation: rejectUnknownQueryParameters(aggregateQuery),
    },
    async (request) => aggregates(request.params as { namespace: string; flowId: string; taskId: string; metric: string }, request.query as AggregateQuery),
  );
};
