import { beforeAll, describe, expect, it } from 'vitest';
import { levelsFrom } from '@sluice/db';
import type { Db, LogRepository, NewLogEntry } from '@sluice/db';
import { describeWithPostgres } from './postgres-fixture.js';

type LogSearch = Parameters<LogRepository['search']>[0];

await describeWithPostgres('LogRepository', (postgres) => {
  let db: Db;
  beforeAll(async () => {
    db = await postgres.migratedDb();
  });

  const base = { namespace: 'company.team', flowId: 'etl' };
  const t0 = Date.parse('2025-01-01T00:00:00.000Z');
  const line = (executionId: string, n: number, extra: Partial<NewLogEntry> = {}): NewLogEntry => ({
    ...base,
    executionId,
    taskId: 'a',
    taskRunId: 'tr-a',
    attemptNumber: 1,
    level: 'INFO',
    message: `line ${n}`,
    timestamp: new Date(t0 + n),
    ...extra,
  });

  it('orders levels TRACE < DEBUG < INFO < WARN < ERROR', () => {
    expect(levelsFrom('WARN')).toEqual(['WARN', 'ERROR']);
    expect(levelsFrom(undefined)).toHaveLength(5);
  });

  it('appends 10,000 lines in one statement and reads them back in order', async () => {
    const entries = Array.from({ length: 10_000 }, (_, n) => line('big', n, { message: `line ${n} ✓ 'quoted' \\ \n multi` }));
    expect(await db.logs.append(entries)).toBe(10_000);
    // One INSERT statement = one transaction: every row carries the same xmin.
    const [stats] = await db.prisma.$queryRaw<{ rows: bigint; xacts: bigint }[]>`
      SELECT count(*) AS rows, count(DISTINCT xmin::text) AS xacts FROM logs WHERE execution_id = 'big'`;
    expect(stats).toEqual({ rows: 10_000n, xacts: 1n });
    const read = await db.logs.list('big');
    expect(read).toHaveLength(10_000);
    expect(read.map((e) => e.message)).toEqual(entries.map((e) => e.message));
    expect(read[0]).toMatchObject({ ...base, executionId: 'big', taskId: 'a', taskRunId: 'tr-a', attemptNumber: 1, level: 'INFO', timestamp: new Date(t0) });
    expect(typeof read[0]?.id).toBe('bigint');
  });

  it('streams a log page by page in (timestamp, id) order', async () => {
    const seen: string[] = [];
    for await (const entry of db.logs.stream('big', { pageSize: 777 })) seen.push(entry.message);
    expect(seen).toHaveLength(10_000);
    expect(seen[9_999]).toMatch(/^line 9999 /);
    expect(new Set(seen).size).toBe(10_000);
  });

  it('filters by minLevel, taskId, taskRunId and afterId; orders by timestamp then id; stores nulls', async () => {
    await db.logs.append([
      line('f', 5, { level: 'ERROR', message: 'late error' }),
      line('f', 1, { level: 'DEBUG', message: 'debug' }),
      line('f', 2, { level: 'WARN', taskId: 'b', taskRunId: 'tr-b', message: 'warn b' }),
      line('f', 2, { level: 'TRACE', message: 'trace same ms' }),
      line('f', 3, { level: 'INFO', taskId: null, taskRunId: null, attemptNumber: null, message: 'flow level' }),
    ]);
    expect((await db.logs.list('f')).map((e) => e.message)).toEqual(['debug', 'warn b', 'trace same ms', 'flow level', 'late error']);
    expect((await db.logs.list('f', { minLevel: 'WARN' })).map((e) => e.message)).toEqual(['warn b', 'late error']);
    expect((await db.logs.list('f', { minLevel: 'TRACE' })).map((e) => e.message)).toHaveLength(5);
    expect((await db.logs.list('f', { taskId: 'b' })).map((e) => e.message)).toEqual(['warn b']);
    expect((await db.logs.list('f', { taskRunId: 'tr-a', minLevel: 'DEBUG' })).map((e) => e.message)).toEqual(['debug', 'late error']);
    expect((await db.logs.list('f', { taskId: 'a' })).find((e) => e.message === 'flow level')).toBeUndefined();
    const flowLevel = (await db.logs.list('f')).find((e) => e.message === 'flow level');
    expect(flowLevel).toMatchObject({ taskId: null, taskRunId: null, attemptNumber: null });

    const byId = await db.logs.list('f', { order: 'id' });
    expect(byId.map((e) => e.message)).toEqual(['late error', 'debug', 'warn b', 'trace same ms', 'flow level']);
    const after = await db.logs.list('f', { order: 'id', afterId: byId[1]?.id ?? 0n, limit: 2 });
    expect(after.map((e) => e.message)).toEqual(['warn b', 'trace same ms']);
    expect(await db.logs.list('nope')).toEqual([]);
    expect(await db.logs.append([])).toBe(0);
  });

  it('filters by several task ids and pages by a (timestamp, id) cursor', async () => {
    await db.logs.append([
      line('k', 4, { taskId: 'c', message: 'c4' }),
      line('k', 1, { taskId: 'a', message: 'a1' }),
      line('k', 2, { taskId: 'b', message: 'b2' }),
      line('k', 2, { taskId: 'a', message: 'a2' }),
      line('k', 3, { taskId: null, taskRunId: null, message: 'flow' }),
    ]);
    expect((await db.logs.list('k', { taskIds: ['a', 'c'] })).map((e) => e.message)).toEqual(['a1', 'a2', 'c4']);
    expect((await db.logs.list('k', { taskIds: [] })).map((e) => e.message)).toEqual([]);
    expect((await db.logs.list('k', { taskIds: ['a', 'b'], taskId: 'b' })).map((e) => e.message)).toEqual(['b2']);
    expect((await db.logs.stream('k', { taskIds: ['b', 'c'] }).next()).value?.message).toBe('b2');
    // Pages of two: b2 and a2 share a timestamp, and the cursor's id keeps them apart.
    const pages: string[][] = [];
    let after: { timestamp: Date; id: bigint } | undefined;
    for (;;) {
      const page = await db.logs.list('k', { limit: 2, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      pages.push(page.map((e) => e.message));
      const last = page[page.length - 1]!;
      after = { timestamp: last.timestamp, id: last.id };
    }
    expect(pages).toEqual([['a1', 'b2'], ['a2', 'flow'], ['c4']]);
  });

  it('rejects a bad level or timestamp before writing anything', async () => {
    await expect(db.logs.append([line('bad', 1), line('bad', 2, { level: 'LOUD' as 'INFO' })])).rejects.toThrow(/log level/);
    await expect(db.logs.append([line('bad', 1, { timestamp: new Date(Number.NaN) })])).rejects.toThrow(/timestamp/);
    await expect(db.logs.list('bad', { limit: 0 })).rejects.toThrow(RangeError);
    expect(await db.logs.list('bad')).toEqual([]);
  });

  describe('search', () => {
    // Their own namespaces, so the lines of the other tests never match.
    const at = (iso: string): Date => new Date(iso);
    const entry = (executionId: string, namespace: string, ms: number, extra: Partial<NewLogEntry> = {}): NewLogEntry => ({
      executionId,
      namespace,
      flowId: 'flow',
      taskId: 't1',
      taskRunId: `tr-${executionId}`,
      attemptNumber: 0,
      level: 'INFO',
      message: `m${ms}`,
      timestamp: new Date(Date.parse('2025-06-01T00:00:00.000Z') + ms),
      ...extra,
    });
    beforeAll(async () => {
      await db.logs.append([
        entry('s1', 'srch', 0, { level: 'DEBUG', message: 'Booting up' }),
        entry('s1', 'srch', 1000, { level: 'INFO', message: '100% done' }),
        entry('s1', 'srch', 2000, { level: 'WARN', taskId: 't2', message: 'disk_usage high' }),
        entry('s2', 'srch.child', 3000, { level: 'ERROR', flowId: 'other', message: 'BOOM: diskXusage' }),
        entry('s3', 'srchx', 4000, { level: 'ERROR', message: 'sibling namespace, not a child' }),
        entry('s2', 'srch.child', 3000, { level: 'TRACE', flowId: 'other', taskId: null, taskRunId: null, attemptNumber: null, message: 'same ms, later id' }),
      ]);
    });
    const messages = async (search: Partial<LogSearch>): Promise<string[]> =>
      (await db.logs.search({ page: 1, size: 100, ...search })).results.map((e) => e.message);

    it('filters by namespace (exact or parent), newest first by timestamp then id', async () => {
      expect(await messages({ namespace: 'srch' })).toEqual(['same ms, later id', 'BOOM: diskXusage', 'disk_usage high', '100% done', 'Booting up']);
      expect(await messages({ namespace: 'srch.child' })).toEqual(['same ms, later id', 'BOOM: diskXusage']);
      expect(await messages({ namespace: 'srchx' })).toEqual(['sibling namespace, not a child']);
      expect(await messages({ namespace: 'src' })).toEqual([]);
      expect(await messages({ namespace: 'srch_' })).toEqual([]); // `_` is no wildcard
    });

    it('filters by flowId, executionId, taskId, minLevel and date range', async () => {
      expect(await messages({ namespace: 'srch', flowId: 'other' })).toEqual(['same ms, later id', 'BOOM: diskXusage']);
      expect(await messages({ executionId: 's1' })).toEqual(['disk_usage high', '100% done', 'Booting up']);
      expect(await messages({ executionId: 's1', taskId: 't1' })).toEqual(['100% done', 'Booting up']);
      expect(await messages({ namespace: 'srch', minLevel: 'WARN' })).toEqual(['BOOM: diskXusage', 'disk_usage high']);
      expect(await messages({ namespace: 'srch', minLevel: 'TRACE' })).toHaveLength(5);
      expect(await messages({ namespace: 'srch', startDate: at('2025-06-01T00:00:01.000Z'), endDate: at('2025-06-01T00:00:02.000Z') })).toEqual([
        'disk_usage high',
        '100% done',
      ]);
      expect(await messages({ executionId: 's1', startDate: at('2025-06-01T00:00:02.001Z') })).toEqual([]);
    });

    it('matches q case-insensitively inside the message, with % and _ taken literally', async () => {
      expect(await messages({ namespace: 'srch', q: 'boot' })).toEqual(['Booting up']);
      expect(await messages({ namespace: 'srch', q: 'DISK' })).toEqual(['BOOM: diskXusage', 'disk_usage high']);
      expect(await messages({ namespace: 'srch', q: 'disk_usage' })).toEqual(['disk_usage high']);
      expect(await messages({ namespace: 'srch', q: '100%' })).toEqual(['100% done']);
      expect(await messages({ namespace: 'srch', q: '%' })).toEqual(['100% done']);
      expect(await messages({ namespace: 'srch', q: '\\' })).toEqual([]);
    });

    it('pages with a total over all pages, and returns stored lines whole', async () => {
      const first = await db.logs.search({ namespace: 'srch', page: 1, size: 2 });
      const third = await db.logs.search({ namespace: 'srch', page: 3, size: 2 });
      const beyond = await db.logs.search({ namespace: 'srch', page: 4, size: 2 });
      expect(first.total).toBe(5);
      expect(first.results.map((e) => e.message)).toEqual(['same ms, later id', 'BOOM: diskXusage']);
      expect(third).toMatchObject({ total: 5, results: [{ message: 'Booting up' }] });
      expect(beyond).toEqual({ results: [], total: 5 });
      expect(first.results[0]).toMatchObject({ executionId: 's2', namespace: 'srch.child', flowId: 'other', taskId: null, taskRunId: null, attemptNumber: null, level: 'TRACE' });
      expect(first.results[1]).toMatchObject({ taskId: 't1', taskRunId: 'tr-s2', attemptNumber: 0, timestamp: at('2025-06-01T00:00:03.000Z') });
      expect(typeof first.results[0]?.id).toBe('bigint');
    });

    it('rejects a bad page, size or level', async () => {
      await expect(db.logs.search({ page: 0, size: 10 })).rejects.toThrow(RangeError);
      await expect(db.logs.search({ page: 1, size: 0 })).rejects.toThrow(RangeError);
      await expect(db.logs.search({ page: 1, size: 1001 })).rejects.toThrow(RangeError);
      await expect(db.logs.search({ page: 1, size: 10, minLevel: 'LOUD' as 'INFO' })).rejects.toThrow(RangeError);
      await expect(db.logs.search({ page: 1, size: 10, startDate: new Date(Number.NaN) })).rejects.toThrow(RangeError);
      expect((await db.logs.search({ page: 1, size: 1000, executionId: 's1' })).total).toBe(3);
    });
  });

  it('deletes an execution\'s lines by task, task run, attempt and level, or all of them, and nothing else', async () => {
    const mk = (executionId: string, n: number, extra: Partial<NewLogEntry> = {}): NewLogEntry => line(executionId, n, { namespace: 'del', ...extra });
    await db.logs.append([
      mk('d1', 1, { level: 'DEBUG' }),
      mk('d1', 2, { level: 'ERROR' }),
      mk('d1', 3, { taskId: 'b', taskRunId: 'tr-b', attemptNumber: 1 }),
      mk('d1', 4, { taskId: 'b', taskRunId: 'tr-b', attemptNumber: 2 }),
      mk('d1', 5, { taskId: 'c', taskRunId: 'tr-c1', attemptNumber: 1 }),
      mk('d1', 6, { taskId: 'c', taskRunId: 'tr-c2', attemptNumber: 1 }),
      mk('d1', 7, { taskId: null, taskRunId: null, attemptNumber: null, level: 'WARN' }),
      mk('d2', 1),
      mk('d2', 2, { taskId: 'b', taskRunId: 'tr-b' }),
    ]);
    const left = async (executionId: string): Promise<string[]> => (await db.logs.list(executionId)).map((e) => e.message);
    expect(await db.logs.deleteByExecution('d1', { taskId: 'b', attempt: 2 })).toBe(1);
    expect(await left('d1')).toEqual(['line 1', 'line 2', 'line 3', 'line 5', 'line 6', 'line 7']);
    expect(await db.logs.deleteByExecution('d1', { taskRunId: 'tr-c2' })).toBe(1);
    expect(await left('d1')).toEqual(['line 1', 'line 2', 'line 3', 'line 5', 'line 7']);
    expect(await db.logs.deleteByExecution('d1', { minLevel: 'WARN' })).toBe(2); // the ERROR and the WARN
    expect(await left('d1')).toEqual(['line 1', 'line 3', 'line 5']);
    expect(await db.logs.deleteByExecution('d1', { taskId: 'nope' })).toBe(0);
    expect(await db.logs.deleteByExecution('d1')).toBe(3);
    expect(await left('d1')).toEqual([]);
    expect(await db.logs.deleteByExecution('d1')).toBe(0);
    expect(await left('d2')).toEqual(['line 1', 'line 2']); // another execution's lines, even of the same task, stay
    expect(await db.logs.list('f')).toHaveLength(5);
    await expect(db.logs.deleteByExecution('d2', { minLevel: 'LOUD' as 'INFO' })).rejects.toThrow(RangeError);
    expect(await left('d2')).toHaveLength(2);
  });
});
