import { beforeAll, expect, it } from 'vitest';
import { KILLABLE_STATES, newExecutionId } from '@sluice/db';
import type { Db } from '@sluice/db';
import { describeWithPostgres } from './postgres-fixture.js';

await describeWithPostgres('ExecutionRepository', (postgres) => {
  let db: Db;
  beforeAll(async () => {
    db = await postgres.migratedDb();
  });

  const base = { namespace: 'company.team', flowId: 'etl', flowRevision: 1 };

  it('generates Kestra-style ids', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newExecutionId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9A-Za-z]{20,22}$/);
  });

  it('creates an execution in CREATED with its history, inputs and labels, and reads it back with its task runs', async () => {
    const created = await db.executions.create({ ...base, inputs: { n: 3, file: 'kestra:///x' }, labels: [{ key: 'team', value: 'data' }] });
    // Kestra's system.correlationId label comes last: the execution's own id.
    const labels = [{ key: 'team', value: 'data' }, { key: 'system.correlationId', value: created.id }];
    expect(created).toMatchObject({ ...base, state: 'CREATED', inputs: { n: 3, file: 'kestra:///x' }, labels, endDate: null, taskRuns: [] });
    const given = await db.executions.create({ ...base, labels: [{ key: 'system.correlationId', value: 'chain-1' }] });
    expect(given.labels).toEqual([{ key: 'system.correlationId', value: 'chain-1' }]);
    expect(created.stateHistory).toEqual([{ state: 'CREATED', date: created.startDate.toISOString() }]);
    expect(created.id).toMatch(/^[0-9A-Za-z]+$/);

    await db.prisma.taskRun.create({
      data: { id: 'tr-b', executionId: created.id, taskId: 'b', state: 'CREATED', stateHistory: [], createdAt: new Date(Date.now() + 10) },
    });
    await db.prisma.taskRun.create({ data: { id: 'tr-a', executionId: created.id, taskId: 'a', state: 'RUNNING', stateHistory: [], createdAt: new Date(Date.now() - 1000) } });
    const read = await db.executions.get(created.id);
    // Listed in insertion order (task_runs.seq), whatever their created_at: a step may create several in one millisecond.
    expect(read?.taskRuns.map((t) => t.taskId)).toEqual(['b', 'a']);
    expect(read?.taskRuns[1]).toMatchObject({ id: 'tr-a', executionId: created.id, state: 'RUNNING', attempts: [], parentTaskRunId: null });
    expect(await db.executions.get('nope')).toBeUndefined();

    const withId = await db.executions.create({ ...base, id: 'givenId1' });
    expect(withId.id).toBe('givenId1');
  });

  it('moves states atomically: exactly one of concurrent kills wins, an ended execution is refused', async () => {
    const execution = await db.executions.create(base);
    const results = await Promise.all(Array.from({ length: 6 }, () => db.executions.transition(execution.id, KILLABLE_STATES, 'KILLING')));
    expect(results.filter((r) => r.status === 'changed')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'refused')).toHaveLength(5);
    const killing = await db.executions.get(execution.id);
    expect(killing?.state).toBe('KILLING');
    expect(killing?.stateHistory.map((h) => h.state)).toEqual(['CREATED', 'KILLING']);
    expect(killing?.endDate).toBeNull();

    const killed = await db.executions.transition(execution.id, ['KILLING'], 'KILLED');
    expect(killed.status).toBe('changed');
    if (killed.status !== 'changed') return;
    expect(killed.execution.endDate).toBeInstanceOf(Date);
    expect(killed.execution.stateHistory.map((h) => h.state)).toEqual(['CREATED', 'KILLING', 'KILLED']);

    const again = await db.executions.transition(execution.id, KILLABLE_STATES, 'KILLING');
    expect(again).toMatchObject({ status: 'refused', execution: { state: 'KILLED' } });
    expect(await db.executions.transition('missing', KILLABLE_STATES, 'KILLING')).toEqual({ status: 'not-found' });
    expect((await db.executions.transition(execution.id, [], 'RUNNING')).status).toBe('refused');
  });

  it('restarts only a FAILED execution: RESTARTED, end date cleared, failed task runs get a new attempt', async () => {
    const execution = await db.executions.create(base);
    expect((await db.executions.restart(execution.id)).status).toBe('refused');
    await db.executions.transition(execution.id, ['CREATED'], 'RUNNING');
    const firstAttempt = { state: { current: 'FAILED', histories: [{ state: 'RUNNING', date: '2024-01-01T00:00:00.000Z' }, { state: 'FAILED', date: '2024-01-01T00:00:01.000Z' }] } };
    await db.prisma.taskRun.create({
      data: {
        id: `${execution.id}-ok`, executionId: execution.id, taskId: 'ok', state: 'SUCCESS', stateHistory: [{ state: 'SUCCESS', date: '2024-01-01T00:00:00.000Z' }], attempts: [{ state: { current: 'SUCCESS', histories: [] } }],
      },
    });
    await db.prisma.taskRun.create({
      data: {
        id: `${execution.id}-bad`, executionId: execution.id, taskId: 'bad', state: 'FAILED', stateHistory: [{ state: 'FAILED', date: '2024-01-01T00:00:01.000Z' }], attempts: [firstAttempt], endDate: new Date(), workerId: 'w1',
      },
    });
    await db.executions.transition(execution.id, ['RUNNING'], 'FAILED');

    const restarted = await db.executions.restart(execution.id);
    expect(restarted.status).toBe('changed');
    if (restarted.status !== 'changed') return;
    expect(restarted.execution.state).toBe('RESTARTED');
    expect(restarted.execution.endDate).toBeNull();
    expect(restarted.execution.stateHistory.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'FAILED', 'RESTARTED']);
    const bad = restarted.execution.taskRuns.find((t) => t.taskId === 'bad');
    expect(bad).toMatchObject({ state: 'CREATED', endDate: null, workerId: null });
    expect(bad?.attempts).toHaveLength(2);
    expect(bad?.attempts[0]).toEqual(firstAttempt);
    expect(bad?.attempts[1]).toMatchObject({ state: { current: 'CREATED' } });
    expect(bad?.stateHistory.map((h) => h.state)).toEqual(['FAILED', 'CREATED']);
    expect(restarted.execution.taskRuns.find((t) => t.taskId === 'ok')).toMatchObject({ state: 'SUCCESS' });

    expect((await db.executions.restart(execution.id)).status).toBe('refused');
    expect(await db.executions.restart('missing')).toEqual({ status: 'not-found' });
  });

  it('a restart removes the errors branch runs (and their children) so that error handling starts over', async () => {
    const execution = await db.executions.create(base);
    await db.executions.transition(execution.id, ['CREATED'], 'RUNNING');
    const make = (id: string, taskId: string, state: string, parentTaskRunId: string | null = null) =>
      db.prisma.taskRun.create({
        data: { id: `${execution.id}-${id}`, executionId: execution.id, taskId, parentTaskRunId, state, stateHistory: [{ state, date: '2024-01-01T00:00:00.000Z' }], attempts: [{ state: { current: state, histories: [] } }] },
      });
    await make('main', 'load', 'FAILED');
    await make('alert', 'alert', 'SUCCESS');
    await make('cleanup', 'cleanup', 'FAILED');
    await make('cleanup-child', 'inner', 'FAILED', `${execution.id}-cleanup`);
    await make('cleanup-grandchild', 'deeper', 'SUCCESS', `${execution.id}-cleanup-child`);
    await db.executions.transition(execution.id, ['RUNNING'], 'FAILED');

    const restarted = await db.executions.restart(execution.id, { errorsTaskIds: ['alert', 'cleanup'] });
    expect(restarted.status).toBe('changed');
    const runs = (await db.executions.get(execution.id))!.taskRuns;
    // Only the main branch is left, put back to CREATED; a failed handler is not run again at the restart.
    expect(runs.map((run) => [run.taskId, run.state, run.attempts.length])).toEqual([['load', 'CREATED', 2]]);
  });

  it('searches by namespace (with sub-namespaces), flow, states, labels and start date, newest first, paged', async () => {
    const make = async (namespace: string, flowId: string, labels: { key: string; value: string }[], state?: string): Promise<string> => {
      const e = await db.executions.create({ namespace, flowId, flowRevision: 1, labels });
      if (state) await db.executions.transition(e.id, ['CREATED'], state);
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct start dates
      return e.id;
    };
    const a1 = await make('srch.a', 'f', [{ key: 'env', value: 'prod' }, { key: 'team', value: 'x' }]);
    const a2 = await make('srch.a', 'g', [{ key: 'env', value: 'dev' }], 'RUNNING');
    const sub = await make('srch.a.sub', 'f', [{ key: 'env', value: 'prod' }], 'SUCCESS');
    const wild = await make('srch.ab', 'f', []);
    const under = await make('srch_x', 'f', []);
    const middle = (await db.executions.get(a2))!.startDate;

    const ids = async (query: Parameters<Db['executions']['search']>[0]): Promise<string[]> => (await db.executions.search(query)).results.map((r) => r.id);
    expect(await ids({ namespace: 'srch.a', page: 1, size: 10 })).toEqual([sub, a2, a1]);
    expect(await ids({ namespace: 'srch.a', flowId: 'f', page: 1, size: 10 })).toEqual([sub, a1]);
    expect(await ids({ namespace: 'srch', page: 1, size: 10 })).toEqual([wild, sub, a2, a1]);
    expect(await ids({ namespace: 'srch_', page: 1, size: 10 })).toEqual([]);
    expect(await ids({ namespace: 'srch_x', page: 1, size: 10 })).toEqual([under]);
    expect(await ids({ namespace: 'srch.a', states: ['RUNNING', 'SUCCESS'], page: 1, size: 10 })).toEqual([sub, a2]);
    expect(await ids({ namespace: 'srch', labels: [{ key: 'env', value: 'prod' }], page: 1, size: 10 })).toEqual([sub, a1]);
    expect(await ids({ namespace: 'srch', labels: [{ key: 'env', value: 'prod' }, { key: 'team', value: 'x' }], page: 1, size: 10 })).toEqual([a1]);
    expect(await ids({ namespace: 'srch.a', startDate: middle, page: 1, size: 10 })).toEqual([sub, a2]);
    expect(await ids({ namespace: 'srch.a', endDate: middle, page: 1, size: 10 })).toEqual([a2, a1]);

    const page2 = await db.executions.search({ namespace: 'srch', page: 2, size: 2 });
    expect(page2.total).toBe(4);
    expect(page2.results.map((r) => r.id)).toEqual([a2, a1]);
    expect((await db.executions.search({ namespace: 'srch', page: 9, size: 2 })).results).toEqual([]);
    await expect(db.executions.search({ page: 0, size: 1 })).rejects.toThrow(RangeError);
    await expect(db.executions.search({ page: 1, size: 1001 })).rejects.toThrow(RangeError);
  });
});
