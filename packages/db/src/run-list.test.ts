import { describe, expect, it } from 'vitest';
import { copyRuns, findRun, runsMark, runsWrittenSince, upsertRun } from './run-list.js';

const run = (id: string, state = 'CREATED') => ({ id, state });

describe('run lists', () => {
  it('finds, replaces in place and appends by id', () => {
    const runs = [run('a'), run('b')];
    upsertRun(runs, run('b', 'SUCCESS'));
    upsertRun(runs, run('c'));
    expect(runs).toEqual([run('a'), run('b', 'SUCCESS'), run('c')]);
    expect(findRun(runs, 'c')).toBe(runs[2]);
    expect(findRun(runs, 'nope')).toBeUndefined();
  });

  it('a copy is written apart from its source; copies of diverging branches still find their own runs', () => {
    const base = [run('a')];
    upsertRun(base, run('b'));
    const abandoned = copyRuns(base);
    upsertRun(abandoned, run('x'));
    const next = copyRuns(base);
    upsertRun(next, run('y'));
    upsertRun(next, run('x', 'RUNNING'));
    expect(base.map((r) => r.id)).toEqual(['a', 'b']);
    expect(abandoned.map((r) => r.id)).toEqual(['a', 'b', 'x']);
    expect(next.map((r) => r.id)).toEqual(['a', 'b', 'y', 'x']);
    expect(findRun(next, 'x')?.state).toBe('RUNNING');
    expect(findRun(abandoned, 'x')?.state).toBe('CREATED');
    expect(findRun(base, 'x')).toBeUndefined();
  });

  it('tells a reader which ids were written since its mark, and when it cannot', () => {
    const runs = [run('a'), run('b')];
    const mark = runsMark(runs);
    const copy = copyRuns(runs);
    upsertRun(copy, run('b', 'SUCCESS'));
    upsertRun(copy, run('c'));
    expect(runsWrittenSince(copy, mark)).toEqual(['b', 'c']);
    expect(runsWrittenSince(copy, runsMark(copy))).toEqual([]);
    // An array read afresh (no shared tracking) cannot say.
    expect(runsWrittenSince([run('a')], mark)).toBeUndefined();
    expect(runsWrittenSince(copy, undefined)).toBeUndefined();
  });

  it('cuts its journal past its limit: a reader that fell behind is told to look at everything', () => {
    const runs = [run('a')];
    const mark = runsMark(runs);
    for (let i = 0; i < 70_000; i++) upsertRun(runs, run('a', String(i)));
    expect(runsWrittenSince(runs, mark)).toBeUndefined();
    expect(runsWrittenSince(runs, runsMark(runs))).toEqual([]);
  });
});
