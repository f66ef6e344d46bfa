/**
 * The windows of MultipleConditions and `preconditions` (flow_trigger_windows), as SchedulerStore.takeExecutionEnds
 * hands them to its `evaluate`: on the transaction that takes the ends, so they commit or roll back with them, and
 * locked so that two schedulers evaluating ends of the same window take turns, the second seeing the first's results.
 */
import { beforeAll, expect, it } from 'vitest';
import type { Db, FlowTriggerWindowKey, FlowTriggerWindowStore } from '@sluice/db';
import { describeWithPostgres } from './postgres-fixture.js';

const KEY: FlowTriggerWindowKey = { namespace: 'team', flowId: 'down', triggerId: 'after', conditionId: 'both' };
const START = new Date('2026-12-06T00:00:00.000Z');
const END = new Date('2026-12-06T23:59:59.999Z');
const now = () => new Date('2026-12-06T10:00:00Z');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await describeWithPostgres('flow trigger windows on takeExecutionEnds', (postgres) => {
  let db: Db;
  beforeAll(async () => {
    db = await postgres.migratedDb();
  });

  /** Note ends (of executions that need not exist: the windows are what this file tests). */
  async function noteEnds(...ids: string[]): Promise<void> {
    for (const id of ids) await db.prisma.$executeRawUnsafe('INSERT INTO execution_ends (execution_id) VALUES ($1)', id);
  }
  async function stored(): Promise<Record<string, unknown>[]> {
    return db.prisma.$queryRawUnsafe('SELECT namespace, flow_id, trigger_id, condition_id, start_date, end_date, results FROM flow_trigger_windows ORDER BY condition_id');
  }
  const take = (evaluate: (windows: FlowTriggerWindowStore) => Promise<void>) =>
    db.scheduler.takeExecutionEnds(1, async (_ends, _flows, windows) => {
      await evaluate(windows);
      return [];
    }, now);

  it('says whether ends wait and whether any live flow declares a Flow trigger (the loop looks at once only then)', async () => {
    expect(await db.scheduler.executionEndsState()).toEqual({ ends: false, listening: false });
    const flow = (flowId: string, type: string) => ({
      namespace: 'team',
      flowId,
      revision: 1,
      source: `id: ${flowId}`,
      parsed: { id: flowId, namespace: 'team', tasks: [{ id: 't', type: 'x' }], triggers: [{ id: 'after', type }] },
      latest: true,
    });
    await db.prisma.flow.create({ data: flow('scheduled', 'io.kestra.plugin.core.trigger.Schedule') });
    expect(await db.scheduler.executionEndsState()).toEqual({ ends: false, listening: false });
    await db.prisma.flow.create({ data: flow('downstream', 'io.kestra.plugin.core.trigger.Flow') });
    expect(await db.scheduler.executionEndsState()).toEqual({ ends: false, listening: true });
    await noteEnds('state-1');
    expect(await db.scheduler.executionEndsState()).toEqual({ ends: true, listening: true });
    await db.prisma.$executeRawUnsafe('DELETE FROM execution_ends');
    await db.prisma.$executeRawUnsafe("DELETE FROM flows WHERE namespace = 'team'");
  });

  it('saves, reads, replaces and deletes windows on the transaction; a rolled-back evaluation leaves none', async () => {
    await noteEnds('w1');
    await expect(
      take(async (windows) => {
        await windows.lock([KEY]);
        await windows.save({ ...KEY, start: START, end: END, results: { a: true } });
        throw new Error('scheduler died');
      }),
    ).rejects.toThrow('scheduler died');
    expect(await stored()).toEqual([]);

    await take(async (windows) => {
      await windows.lock([KEY]);
      expect(await windows.get(KEY)).toBeUndefined();
      await windows.save({ ...KEY, start: START, end: END, results: { a: true } });
      expect(await windows.get(KEY)).toEqual({ ...KEY, start: START, end: END, results: { a: true } });
      await windows.save({ ...KEY, start: START, end: END, results: { a: true, b: true } });
    });
    expect(await stored()).toEqual([{ namespace: 'team', flow_id: 'down', trigger_id: 'after', condition_id: 'both', start_date: START, end_date: END, results: { a: true, b: true } }]);

    await noteEnds('w2');
    await take(async (windows) => {
      await windows.delete(KEY);
      await windows.save({ ...KEY, conditionId: 'old', start: new Date('2026-12-05T00:00:00Z'), end: new Date('2026-12-05T23:59:59.999Z'), results: { a: true } });
      await windows.save({ ...KEY, conditionId: 'open', start: START, end: END, results: { a: true } });
      await windows.deleteExpired(now());
    });
    expect((await stored()).map((row) => row.condition_id)).toEqual(['open']);
    await db.prisma.$executeRawUnsafe('DELETE FROM flow_trigger_windows');
  });

  it('two schedulers evaluating ends of the same window take turns: the second sees what the first committed', async () => {
    await noteEnds('c1', 'c2');
    const order: string[] = [];
    const record = (name: string, hold: number) =>
      take(async (windows) => {
        await windows.lock([KEY, { ...KEY, conditionId: 'another' }]);
        order.push(`${name} locked`);
        const window = await windows.get(KEY);
        await sleep(hold);
        await windows.save({ ...KEY, start: START, end: END, results: { ...window?.results, [name]: true } });
        order.push(`${name} saved`);
      });
    const first = record('a', 300);
    await sleep(50);
    const second = record('b', 0);
    await Promise.all([first, second]);
    expect(order).toEqual(['a locked', 'a saved', 'b locked', 'b saved']);
    expect((await stored())[0]!.results).toEqual({ a: true, b: true });
    expect(await db.prisma.$queryRawUnsafe('SELECT count(*)::int AS n FROM execution_ends')).toEqual([{ n: 0 }]);
  });
});
