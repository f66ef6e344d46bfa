/**
 * Kestra's metric routes on Postgres (rows seeded straight into `metrics`), under `/api/v1/...` and
 * `/api/v1/main/...`: an execution's metrics paged, filtered and sorted; a flow's metric names and tasks; aggregates
 * per time bucket; and the 400s (unknown query parameter, bad sort, date, range or aggregation).
 */
import type { NewMetricEntry } from '@sluice/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketsOf, groupByOf } from '../src/routes/metrics.js';
import { startApi } from './fixture.js';

const api = await startApi();

const PREFIXES = ['/api/v1', '/api/v1/main'];
const NS = 'metrics.api';

function row(extra: Partial<NewMetricEntry>): NewMetricEntry {
  return {
    executionId: 'm-exec-1',
    namespace: NS,
    flowId: 'etl',
    taskId: 'load',
    taskRunId: 'tr-load-1',
    attemptNumber: 1,
    type: 'counter',
    name: 'rows',
    value: 1,
    tags: {},
    timestamp: new Date('2026-04-01T10:00:00.000Z'),
    ...extra,
  };
}

interface MetricEntryJson {
  namespace: string;
  flowId: string;
  taskId?: string;
  executionId: string;
  taskRunId?: string;
  type: string;
  name: string;
  value: number;
  timestamp: string;
  tags: Record<string, string>;
  deleted: boolean;
}

describe('groupByOf and bucketsOf (Kestra\'s buckets of a range)', () => {
  const at = (iso: string): Date => new Date(iso);
  it('picks the bucket by whole days and hours of the range', () => {
    const start = at('2026-01-01T00:00:00.000Z');
    const plus = (ms: number): Date => new Date(start.getTime() + ms);
    const hour = 3_600_000;
    const day = 24 * hour;
    expect(groupByOf(start, plus(6 * hour + 59 * 60_000))).toBe('minute');
    expect(groupByOf(start, plus(7 * hour))).toBe('hour');
    expect(groupByOf(start, plus(2 * day - 1))).toBe('hour');
    expect(groupByOf(start, plus(2 * day))).toBe('day');
    expect(groupByOf(start, plus(181 * day))).toBe('week');
    expect(groupByOf(start, plus(366 * day))).toBe('month');
    expect(groupByOf(start, start)).toBe('minute');
  });

  it('lists every bucket from the start one to the end one, weeks from Monday, months by calendar', () => {
    expect(bucketsOf(at('2026-03-01T10:30:00.000Z'), at('2026-03-03T01:00:00.000Z'), 'day').map((d) => d.toISOString())).toEqual([
      '2026-03-01T00:00:00.000Z',
      '2026-03-02T00:00:00.000Z',
      '2026-03-03T00:00:00.000Z',
    ]);
    expect(bucketsOf(at('2026-03-01T10:30:00.000Z'), at('2026-03-09T00:00:00.000Z'), 'week').map((d) => d.toISOString())).toEqual([
      '2026-02-23T00:00:00.000Z',
      '2026-03-02T00:00:00.000Z',
      '2026-03-09T00:00:00.000Z',
    ]);
    expect(bucketsOf(at('2025-11-30T23:00:00.000Z'), at('2026-02-01T00:00:00.000Z'), 'month').map((d) => d.toISOString())).toEqual([
      '2025-11-01T00:00:00.000Z',
      '2025-12-01T00:00:00.000Z',
      '2026-01-01T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
    ]);
    expect(bucketsOf(at('2026-03-01T10:00:59.999Z'), at('2026-03-01T10:01:00.000Z'), 'minute')).toHaveLength(2);
  });
});

describe.skipIf(!api)('metric routes on Postgres', () => {
  const a = api!;
  beforeAll(async () => {
    await a.db.metrics.append([
      row({ value: 3, tags: { table: 'orders' }, timestamp: new Date('2026-04-01T10:00:00.000Z') }),
      row({ taskRunId: 'tr-load-2', value: 5, timestamp: new Date('2026-04-01T10:20:00.000Z') }),
      row({ taskId: 'extract', taskRunId: 'tr-extract-1', type: 'timer', name: 'duration', value: 1500, timestamp: new Date('2026-04-01T09:59:00.000Z') }),
      row({ taskId: 'extract', taskRunId: 'tr-extract-1', type: 'gauge', name: 'queue.depth', value: -2.5, timestamp: new Date('2026-04-01T09:59:30.000Z') }),
      row({ executionId: 'm-exec-2', taskRunId: 'tr-load-3', value: 10, timestamp: new Date('2026-04-02T08:00:00.000Z') }),
      row({ executionId: 'm-exec-3', taskId: 'renamed_task', taskRunId: 'tr-old', name: 'old', value: 1, timestamp: new Date('2026-03-01T00:00:00.000Z') }),
      row({ executionId: 'm-exec-4', flowId: 'other', name: 'elsewhere' }),
    ]);
  });
  afterAll(async () => {
    await a.close();
  });

  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const response = await a.fetch(path);
    return { status: response.status, body: (await response.json()) as unknown };
  };

  for (const prefix of PREFIXES) {
    describe(prefix, () => {
      it("GET /metrics/{executionId}: Kestra's MetricEntry, by timestamp, paged, with the total", async () => {
        const { status, body } = await get(`${prefix}/metrics/m-exec-1`);
        expect(status).toBe(200);
        const page = body as { results: MetricEntryJson[]; total: number };
        expect(page.total).toBe(4);
        expect(page.results.map((r) => r.name)).toEqual(['duration', 'queue.depth', 'rows', 'rows']);
        expect(page.results[0]).toEqual({
          namespace: NS,
          flowId: 'etl',
          taskId: 'extract',
          executionId: 'm-exec-1',
          taskRunId: 'tr-extract-1',
          type: 'timer',
          name: 'duration',
          value: 1500,
          timestamp: '2026-04-01T09:59:00.000Z',
          tags: {},
          deleted: false,
        });
        expect(page.results[2]).toMatchObject({ type: 'counter', value: 3, tags: { table: 'orders' } });
        expect(page.results[1]).toMatchObject({ type: 'gauge', value: -2.5 });

        const second = (await get(`${prefix}/metrics/m-exec-1?page=2&size=3`)).body as { results: MetricEntryJson[]; total: number };
        expect(second.total).toBe(4);
        expect(second.results.map((r) => r.taskRunId)).toEqual(['tr-load-2']);
      });

      it('GET /metrics/{executionId}: one task, one task run, sorted', async () => {
        const byTask = (await get(`${prefix}/metrics/m-exec-1?taskId=load`)).body as { results: MetricEntryJson[]; total: number };
        expect(byTask.results.map((r) => r.taskRunId)).toEqual(['tr-load-1', 'tr-load-2']);
        const byRun = (await get(`${prefix}/metrics/m-exec-1?taskRunId=tr-extract-1`)).body as { results: MetricEntryJson[]; total: number };
        expect(byRun.results.map((r) => r.name)).toEqual(['duration', 'queue.depth']);
        const sorted = (await get(`${prefix}/metrics/m-exec-1?sort=value:desc`)).body as { results: MetricEntryJson[] };
        expect(sorted.results.map((r) => r.value)).toEqual([1500, 5, 3, -2.5]);
        const twoKeys = (await get(`${prefix}/metrics/m-exec-1?sort=taskId:asc&sort=taskrunId:desc`)).body as { results: MetricEntryJson[] };
        expect(twoKeys.results.map((r) => r.taskRunId)).toEqual(['tr-extract-1', 'tr-extract-1', 'tr-load-2', 'tr-load-1']);
      });

      it('GET /metrics/{executionId} of an execution without metrics (or unknown): an empty page, as Kestra', async () => {
        expect(await get(`${prefix}/metrics/nope`)).toEqual({ status: 200, body: { results: [], total: 0 } });
      });

      it('GET /metrics/names and /metrics/tasks: sorted, this flow only, renamed tasks included', async () => {
        expect(await get(`${prefix}/metrics/names/${NS}/etl`)).toEqual({ status: 200, body: ['duration', 'old', 'queue.depth', 'rows'] });
        expect(await get(`${prefix}/metrics/names/${NS}/etl/extract`)).toEqual({ status: 200, body: ['duration', 'queue.depth'] });
        expect(await get(`${prefix}/metrics/names/${NS}/etl/nope`)).toEqual({ status: 200, body: [] });
        expect(await get(`${prefix}/metrics/tasks/${NS}/etl`)).toEqual({ status: 200, body: ['extract', 'load', 'renamed_task'] });
        expect(await get(`${prefix}/metrics/tasks/${NS}/nope`)).toEqual({ status: 200, body: [] });
      });

      it('GET /metrics/aggregates: one entry per bucket of the range, empty buckets 0, named', async () => {
        const { status, body } = await get(`${prefix}/metrics/aggregates/${NS}/etl/rows?startDate=2026-03-31T00:00:00Z&endDate=2026-04-03T00:00:00Z`);
        expect(status).toBe(200);
        expect(body).toEqual({
          groupBy: 'day',
          aggregations: [
            { name: 'rows', value: 0, date: '2026-03-31T00:00:00.000Z' },
            { name: 'rows', value: 8, date: '2026-04-01T00:00:00.000Z' },
            { name: 'rows', value: 10, date: '2026-04-02T00:00:00.000Z' },
            { name: 'rows', value: 0, date: '2026-04-03T00:00:00.000Z' },
          ],
        });
        const max = (await get(`${prefix}/metrics/aggregates/${NS}/etl/rows?startDate=2026-03-31T00:00:00Z&endDate=2026-04-03T00:00:00Z&aggregation=max`)).body as {
          aggregations: { value: number }[];
        };
        expect(max.aggregations.map((e) => e.value)).toEqual([0, 5, 10, 0]);
        const hours = (await get(`${prefix}/metrics/aggregates/${NS}/etl/rows?startDate=2026-04-01T00:00:00Z&endDate=2026-04-01T12:00:00Z&aggregation=avg`)).body as {
          groupBy: string;
          aggregations: { name?: string; value: number; date: string }[];
        };
        expect(hours.groupBy).toBe('hour');
        expect(hours.aggregations).toHaveLength(13);
        expect(hours.aggregations.every((e) => e.name === 'rows')).toBe(true);
        expect(hours.aggregations.filter((e) => e.value !== 0)).toEqual([{ name: 'rows', value: 4, date: '2026-04-01T10:00:00.000Z' }]);
        const byTask = (await get(`${prefix}/metrics/aggregates/${NS}/etl/extract/duration?startDate=2026-04-01T09:00:00Z&endDate=2026-04-01T10:30:00Z&aggregation=min`)).body as {
          groupBy: string;
          aggregations: { name?: string; value: number; date: string }[];
        };
        expect(byTask.groupBy).toBe('minute');
        expect(byTask.aggregations.filter((e) => e.value !== 0)).toEqual([{ name: 'duration', value: 1500, date: '2026-04-01T09:59:00.000Z' }]);
        const otherTask = (await get(`${prefix}/metrics/aggregates/${NS}/etl/load/duration?startDate=2026-04-01T09:00:00Z&endDate=2026-04-01T10:30:00Z`)).body as {
          aggregations: { name?: string; value: number }[];
        };
        expect(otherTask.aggregations.length).toBeGreaterThan(0);
        expect(otherTask.aggregations.every((e) => e.value === 0)).toBe(true);
      });

      it('GET /metrics/aggregates without dates: the last 30 days, by day', async () => {
        const { status, body } = await get(`${prefix}/metrics/aggregates/${NS}/etl/rows`);
        expect(status).toBe(200);
        const found = body as { groupBy: string; aggregations: unknown[] };
        expect(found.groupBy).toBe('day');
        expect(found.aggregations).toHaveLength(31);
      });

      it('400s: an unknown query parameter (named), a bad sort, page or size, a bad date, a reversed or too wide range, an unknown aggregation', async () => {
        const cases: [string, string | undefined][] = [
          [`/metrics/m-exec-1?taskid=load`, 'taskid'],
          [`/metrics/m-exec-1?sort=value`, 'sort'],
          [`/metrics/m-exec-1?sort=value:up`, 'sort'],
          [`/metrics/m-exec-1?sort=tags:asc`, 'sort'],
          [`/metrics/m-exec-1?page=0`, undefined],
          [`/metrics/m-exec-1?size=100000`, undefined],
          [`/metrics/names/${NS}/etl?q=x`, 'q'],
          [`/metrics/names/${NS}/etl/load?page=1`, 'page'],
          [`/metrics/tasks/${NS}/etl?namespace=x`, 'namespace'],
          [`/metrics/aggregates/${NS}/etl/rows?startDate=yesterday`, 'startDate'],
          [`/metrics/aggregates/${NS}/etl/rows?endDate=2026-13-45`, 'endDate'],
          [`/metrics/aggregates/${NS}/etl/rows?startDate=2026-04-02T00:00:00Z&endDate=2026-04-01T00:00:00Z`, 'startDate'],
          [`/metrics/aggregates/${NS}/etl/rows?startDate=1000-01-01T00:00:00Z&endDate=2026-04-01T00:00:00Z`, 'startDate'],
          [`/metrics/aggregates/${NS}/etl/rows?aggregation=median`, undefined],
          [`/metrics/aggregates/${NS}/etl/load/rows?groupBy=day`, 'groupBy'],
        ];
        for (const [path, parameter] of cases) {
          const { status, body } = await get(`${prefix}${path}`);
          expect(status, path).toBe(400);
          expect(body, path).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });
          if (parameter !== undefined) expect((body as { details: { parameter?: string } }).details.parameter, path).toBe(parameter);
        }
      });
    });
  }

  it('another tenant is a 404 naming it; the OpenAPI document has every metric route in both forms', async () => {
    const { status, body } = await get('/api/v1/acme/metrics/m-exec-1');
    expect(status).toBe(404);
    expect(body).toMatchObject({ code: 'SLU_API_TENANT_NOT_FOUND', details: { tenant: 'acme' } });
    const spec = (await (await a.fetch('/docs/json')).json()) as { paths: Record<string, unknown> };
    for (const path of [
      '/metrics/{executionId}',
      '/metrics/names/{namespace}/{flowId}',
      '/metrics/names/{namespace}/{flowId}/{taskId}',
      '/metrics/tasks/{namespace}/{flowId}',
      '/metrics/aggregates/{namespace}/{flowId}/{metric}',
      '/metrics/aggregates/{namespace}/{flowId}/{taskId}/{metric}',
    ]) {
      expect(spec.paths[`/api/v1${path}`], path).toBeDefined();
      expect(spec.paths[`/api/v1/{tenant}${path}`], path).toBeDefined();
    }
  });
});
