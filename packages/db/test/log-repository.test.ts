import { beforeAll, expect, it } from 'vitest';
import { levelsFrom } from '@sluice/db';
import type { Db, NewLogEntry } from '@sluice/db';
import { describeWithPostgres } from './postgres-fixture.js';

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

  it('rejects a bad level or timestamp before writing anything', async () => {
    await expect(db.logs.append([line('bad', 1), line('bad', 2, { level: 'LOUD' as 'INFO' })])).rejects.toThrow(/log level/);
    await expect(db.logs.append([line('bad', 1, { timestamp: new Date(Number.NaN) })])).rejects.toThrow(/timestamp/);
    await expect(db.logs.list('bad', { limit: 0 })).rejects.toThrow(RangeError);
    expect(await db.logs.list('bad')).toEqual([]);
  });
});
