import { beforeAll, describe, expect, it } from 'vitest';
import { taskRunMetricRows } from '@sluice/db';
import type { Db, NewMetricEntry, SchedulerTaskRun } from '@sluice/db';
import { describeWithPostgres } from './postgres-fixture.js';

describe('taskRunMetricRows', () => {
  const at = (s: number): string => new Date(Date.UTC(2026, 0, 2, 3, 4, s)).toISOString();
  const where = { taskId: 't', taskRunId: 'tr', attemptNumber: 2 };

  it('sums counters and timers per name and tags (in any key order), keeps a gauge at its last value, each at its first date', () => {
    const rows = taskRunMetricRows(
      [
        { name: 'rows', type: 'counter', value: 2, tags: { a: '1', b: '2' }, timestamp: at(1) },
        { name: 'rows', type: 'counter', value: 3, tags: { b: '2', a: '1' }, timestamp: at(2) },
        { name: 'rows', type: 'counter', value: 7, timestamp: at(3) },
        { name: 'load', type: 'timer', value: 0.29, timestamp: at(4) },
        { name: 'load', type: 'timer', value: 1, timestamp: at(5) },
        { name: 'depth', type: 'gauge', value: 10, timestamp: at(6) },
        { name: 'depth', type: 'gauge', value: 4, timestamp: at(7) },
        { name: 'rows', type: 'gauge', value: 1, timestamp: at(8) },
      ],
      where,
    );
    expect(rows).toEqual([
      { ...where, type: 'counter', name: 'rows', value: 5, tags: { a: '1', b: '2' }, timestamp: new Date(at(1)) },
      { ...where, type: 'counter', name: 'rows', value: 7, tags: {}, timestamp: new Date(at(3)) },
      // Kestra stores a timer in milliseconds: 0.29 s + 1 s.
      { ...where, type: 'timer', name: 'load', value: 1290, tags: {}, timestamp: new Date(at(4)) },
      { ...where, type: 'gauge', name: 'depth', value: 4, tags: {}, timestamp: new Date(at(6)) },
      { ...where, type: 'gauge', name: 'rows', value: 1, tags: {}, timestamp: new Date(at(8)) },
    ]);
  });

  it('leaves out an unknown type, a value that is not finite and a date that does not parse; makes text storable', () => {
    const rows = taskRunMetricRows(
      [
        { name: 'h', type: 'histogram', value: 1, timestamp: at(1) },
        { name: 'inf', type: 'counter', value: Number.POSITIVE_INFINITY, timestamp: at(1) },
        { name: 'nan', type: 'gauge', value: Number.NaN, timestamp: at(1) },
        { name: 'date', type: 'gauge', value: 1, timestamp: 'yesterday' },
        { name: 'nul\u0000name', type: 'gauge', value: 1, tags: { 'k\u0000': 'lone \ud800 surrogate' }, timestamp: at(1) },
      ],
      where,
    );
    expect(rows).toEqual([{ ...where, type: 'gauge', name: 'nul\ufffdname', value: 1, tags: { 'k\ufffd': 'lone \ufffd surrogate' }, timestamp: new Date(at(1)) }]);
  });
});

function taskRun(id: string, extra: Partial<SchedulerTaskRun> = {}): SchedulerTaskRun {
  return {
    id,
    taskId: 't',
    parentTaskRunId: null,
    value: null,
    iteration: null,
    engineState: null,
    state: 'RUNNING',
    stateHistory: [{ state: 'RUNNING', date: '2026-01-01T00:00:00.000Z' }],
    attempts: [],
    outputs: null,
    metrics: null,
    workerGroup: null,
    workerId: null,
    startDate: null,
    endDate: null,
    ...extra,
  };
}

const HOSTILE = [`it's`, `back\\slash \\'`, `'); DROP TABLE metrics; --`, `$$ dollar $$`, `line\nbreak`, `unicode ünï 🌊`, `"double" {json}`];

await describeWithPostgres('metrics', (postgres) => {
  let db: Db;
  beforeAll(async () => {
    db = await postgres.migratedDb();
  });

  it("a scheduler step writes its metric rows with its other writes, under the execution's namespace and flow, values and text exact", async () => {
    const execution = await db.executions.create({ namespace: 'company.metrics', flowId: 'step', flowRevision: 1 });
    const timestamp = new Date('2026-02-03T04:05:06.789Z');
    await db.scheduler.withExecution(execution.id, async (_locked, tx) => {
      await tx.saveTaskRun(taskRun('run-1', { state: 'SUCCESS' }));
      await tx.appendMetrics([
        ...HOSTILE.map((text, i) => ({ taskId: text, taskRunId: 'run-1', attemptNumber: 1, type: 'counter' as const, name: text, value: i + 0.5, tags: { [text]: text }, timestamp })),
        { taskId: 't', taskRunId: 'run-1', attemptNumber: 1, type: 'gauge', name: 'tiny', value: -1.5e-300, tags: {}, timestamp },
        { taskId: 't', taskRunId: 'run-1', attemptNumber: 1, type: 'timer', name: 'huge', value: 1e300, tags: {}, timestamp },
      ]);
      await tx.appendMetrics([]);
      await tx.setState('SUCCESS', timestamp);
    });
    const found = await db.metrics.search({ executionId: execution.id, page: 1, size: 100, sort: [{ field: 'value', direction: 'asc' }] });
    expect(found.total).toBe(HOSTILE.length + 2);
    expect(found.results.map((r) => r.value)).toEqual([-1.5e-300, ...HOSTILE.map((_, i) => i + 0.5), 1e300]);
    for (const [i, text] of HOSTILE.entries()) {
      expect(found.results[i + 1]).toMatchObject({ executionId: execution.id, namespace: 'company.metrics', flowId: 'step', taskId: text, taskRunId: 'run-1', attemptNumber: 1, type: 'counter', name: text, tags: { [text]: text }, timestamp });
    }
    expect((await db.executions.get(execution.id))?.state).toBe('SUCCESS');
  });

  it('a step that fails writes no metric row', async () => {
    const execution = await db.executions.create({ namespace: 'company.metrics', flowId: 'failed_step', flowRevision: 1 });
    await expect(
      db.scheduler.withExecution(execution.id, async (_locked, tx) => {
        await tx.appendMetrics([{ taskId: 't', taskRunId: 'r', attemptNumber: 1, type: 'counter', name: 'n', value: 1, tags: {}, timestamp: new Date() }]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await db.metrics.search({ executionId: execution.id, page: 1, size: 10 })).total).toBe(0);
  });

  describe('reads', () => {
    const row = (extra: Partial<NewMetricEntry>): NewMetricEntry => ({
      executionId: 'e1',
      namespace: 'company.read',
      flowId: 'f',
      taskId: 'a',
      taskRunId: 'a-1',
      attemptNumber: 1,
      type: 'counter',
      name: 'rows',
      value: 1,
      tags: {},
      timestamp: new Date('2026-03-01T10:00:00.000Z'),
      ...extra,
    });
    beforeAll(async () => {
      await db.metrics.append([
        row({ value: 3, timestamp: new Date('2026-03-01T10:00:00.000Z') }),
        row({ value: 5, timestamp: new Date('2026-03-01T10:30:00.000Z'), taskRunId: 'a-2' }),
        row({ value: 10, timestamp: new Date('2026-03-02T09:00:00.000Z'), executionId: 'e2', taskRunId: 'a-3' }),
        row({ taskId: 'b', taskRunId: 'b-1', type: 'timer', name: 'load', value: 1500 }),
        row({ taskId: null, taskRunId: null, name: 'orphan', value: 0 }),
        row({ executionId: 'e3', flowId: 'other', name: 'elsewhere' }),
        row({ executionId: 'e4', namespace: 'company.read.child', name: 'child' }),
      ]);
    });

    it('search: one execution, a task or a task run of it, sorted and paged with the total', async () => {
      const all = await db.metrics.search({ executionId: 'e1', page: 1, size: 2 });
      expect(all.total).toBe(4);
      expect(all.results.map((r) => [r.name, r.value])).toEqual([
        ['rows', 3],
        ['load', 1500],
      ]);
      expect((await db.metrics.search({ executionId: 'e1', taskId: 'a', page: 1, size: 10 })).results.map((r) => r.taskRunId)).toEqual(['a-1', 'a-2']);
      expect((await db.metrics.search({ executionId: 'e1', taskRunId: 'a-2', page: 1, size: 10 })).results.map((r) => r.value)).toEqual([5]);
      expect((await db.metrics.search({ executionId: 'e1', taskId: 'a', taskRunId: 'b-1', page: 1, size: 10 })).total).toBe(0);
      const byValue = await db.metrics.search({ executionId: 'e1', page: 1, size: 3, sort: [{ field: 'value', direction: 'desc' }] });
      expect(byValue.results.map((r) => r.value)).toEqual([1500, 5, 3]);
      const byTask = await db.metrics.search({ executionId: 'e1', page: 1, size: 10, sort: [{ field: 'taskId', direction: 'asc' }, { field: 'name', direction: 'desc' }] });
      expect(byTask.results.map((r) => r.taskId)).toEqual([null, 'a', 'a', 'b']);
      expect((await db.metrics.search({ executionId: 'e1', page: 4, size: 2 })).results).toEqual([]);
      await expect(db.metrics.search({ executionId: 'e1', page: 0, size: 2 })).rejects.toThrow(RangeError);
    });

    it("names and tasks of one flow (this namespace only), tasks' names", async () => {
      expect(await db.metrics.names('company.read', 'f')).toEqual(['load', 'orphan', 'rows']);
      expect(await db.metrics.names('company.read', 'f', 'a')).toEqual(['rows']);
      expect(await db.metrics.names('company.read', 'f', 'nope')).toEqual([]);
      expect(await db.metrics.tasks('company.read', 'f')).toEqual(['a', 'b']);
      expect(await db.metrics.tasks('company', 'f')).toEqual([]);
    });

    it('aggregate: per bucket, only the buckets with rows, between the dates (both included)', async () => {
      const base = { namespace: 'company.read', flowId: 'f', name: 'rows', startDate: new Date('2026-03-01T00:00:00.000Z'), endDate: new Date('2026-03-03T00:00:00.000Z') };
      expect(await db.metrics.aggregate({ ...base, aggregation: 'sum', groupBy: 'day' })).toEqual([
        { date: new Date('2026-03-01T00:00:00.000Z'), value: 8 },
        { date: new Date('2026-03-02T00:00:00.000Z'), value: 10 },
      ]);
      expect(await db.metrics.aggregate({ ...base, aggregation: 'avg', groupBy: 'hour' })).toEqual([
        { date: new Date('2026-03-01T10:00:00.000Z'), value: 4 },
        { date: new Date('2026-03-02T09:00:00.000Z'), value: 10 },
      ]);
      expect(await db.metrics.aggregate({ ...base, aggregation: 'max', groupBy: 'month' })).toEqual([{ date: new Date('2026-03-01T00:00:00.000Z'), value: 10 }]);
      // Weeks start on Monday: 2026-03-01 is a Sunday.
      expect(await db.metrics.aggregate({ ...base, aggregation: 'min', groupBy: 'week', taskId: 'a' })).toEqual([
        { date: new Date('2026-02-23T00:00:00.000Z'), value: 3 },
        { date: new Date('2026-03-02T00:00:00.000Z'), value: 10 },
      ]);
      expect(await db.metrics.aggregate({ ...base, endDate: new Date('2026-03-01T10:00:00.000Z'), aggregation: 'sum', groupBy: 'minute' })).toEqual([
        { date: new Date('2026-03-01T10:00:00.000Z'), value: 3 },
      ]);
      expect(await db.metrics.aggregate({ ...base, taskId: 'b', aggregation: 'sum', groupBy: 'day' })).toEqual([]);
    });
  });
});
