/**
 * Schedule triggers on a real Postgres (a fresh, migrated database per test), driven pass by pass with a clock the
 * test sets: missed ticks (recoverMissedSchedules ALL / LAST / NONE), backfills, the per-pass bound, and two replicas
 * recovering the same ticks.
 */
import type { Db } from '@sluice/db';
import { createInProcessQueue } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { TriggerLoop } from '../src/triggers.js';
import type { TriggerLoopOptions } from '../src/triggers.js';
import { createMigratedDatabase, validator } from './database.js';
import type { MigratedDatabase } from './database.js';

const NAMESPACE = 'sched.triggers';

function flowSource(trigger: string): string {
  return `id: ticking\nnamespace: ${NAMESPACE}\nlabels:\n  team: data\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: "{{ trigger.date }}"\ntriggers:\n  - id: every\n    type: io.kestra.plugin.core.trigger.Schedule\n${trigger}`;
}

// One database made and dropped at load: whether Postgres answers (else skip, or fail under SLUICE_REQUIRE_SERVICES=1).
const probe = await createMigratedDatabase('sluice_triggers');
await probe?.drop();

describe.skipIf(!probe)('Schedule triggers on Postgres', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A database with the flow saved, a queue, a settable clock and the loops' log lines. */
  async function setup(trigger: string, start: string) {
    const database = (await createMigratedDatabase('sluice_triggers')) as MigratedDatabase;
    cleanups.push(() => database.drop());
    const queue: QueueDriver = createInProcessQueue();
    cleanups.push(() => queue.close());
    const { flow } = validator.parseFlow(flowSource(trigger));
    await database.db.flows.save(flow.namespace, flow.id, flowSource(trigger), flow);
    const clock = { now: new Date(start) };
    const lines: string[] = [];
    const loop = (options: Partial<TriggerLoopOptions> = {}): TriggerLoop =>
      new TriggerLoop({ db: database.db, queue, owner: 'test', intervalMs: 1000, syncEveryMs: 0, log: (line) => lines.push(line), now: () => clock.now, ...options });
    return { db: database.db, clock, lines, loop };
  }

  /**
   * The ticks the executions were started for (`trigger.date`), in order, and their labels; each one's
   * `system.correlationId` label, last, is checked to be its own id and left out.
   */
  async function fired(db: Db): Promise<{ date: string; labels: unknown }[]> {
    const executions = await db.prisma.execution.findMany({ where: { namespace: NAMESPACE }, select: { id: true, trigger: true, labels: true } });
    return executions
      .map((e) => {
        const labels = e.labels as { key: string; value: string }[];
        expect(labels.at(-1)).toEqual({ key: 'system.correlationId', value: e.id });
        return { date: (e.trigger as { variables: { date: string } }).variables.date, labels: labels.slice(0, -1) };
      })
      .sort((a, b) => a.date.localeCompare(b.date));
  }

  const dates = async (db: Db): Promise<string[]> => (await fired(db)).map((f) => f.date);

  async function nextFireDate(db: Db): Promise<string | undefined> {
    const row = await db.prisma.trigger.findFirst({ where: { namespace: NAMESPACE } });
    return row?.nextFireDate?.toISOString();
  }

  // Every 5 minutes; created at 10:00:30, next run at 10:22:30: 10:05, 10:10, 10:15 and 10:20 were missed, all more
  // than the 60 s after which a tick counts as missed.
  const EVERY_5 = '    cron: "*/5 * * * *"\n';
  const MISSED = ['2026-01-01T10:05:00.000Z', '2026-01-01T10:10:00.000Z', '2026-01-01T10:15:00.000Z', '2026-01-01T10:20:00.000Z'];

  /** The every-5-minutes trigger (with `extra` settings) made at 10:00:30, then a pass at 10:22:30. */
  async function afterMissing(extra = '') {
    const context = await setup(`${EVERY_5}${extra}`, '2026-01-01T10:00:30Z');
    const scheduler = context.loop();
    await scheduler.tick();
    expect(await nextFireDate(context.db)).toBe('2026-01-01T10:05:00.000Z');
    expect(await dates(context.db)).toEqual([]);
    context.clock.now = new Date('2026-01-01T10:22:30Z');
    await scheduler.tick();
    return { ...context, scheduler };
  }

  it('a new trigger fires from its next tick after now; missed ticks are all recovered by default (ALL), in order', async () => {
    const { db } = await afterMissing();
    expect(await dates(db)).toEqual(MISSED);
    expect(await nextFireDate(db)).toBe('2026-01-01T10:25:00.000Z');
    // Each execution's trigger variables are those of its own tick.
    const first = await db.prisma.execution.findFirst({ where: { namespace: NAMESPACE }, orderBy: { startDate: 'asc' } });
    expect(first?.trigger).toMatchObject({ variables: { date: MISSED[0], next: MISSED[1], previous: '2026-01-01T10:00:00.000Z' } });
  });

  it('recoverMissedSchedules: LAST fires only the most recent missed tick', async () => {
    const { db, lines } = await afterMissing('    recoverMissedSchedules: LAST\n');
    expect(await dates(db)).toEqual([MISSED[3]]);
    expect(await nextFireDate(db)).toBe('2026-01-01T10:25:00.000Z');
    expect(lines).toContain(`scheduler: skipped missed ticks of ${NAMESPACE}.ticking/every from ${MISSED[0]} (recoverMissedSchedules: LAST), next tick ${MISSED[3]}`);
  });

  it('recoverMissedSchedules: NONE fires none of them and goes on from the next tick after now', async () => {
    const { db, clock, lines, scheduler } = await afterMissing('    recoverMissedSchedules: NONE\n');
    expect(await dates(db)).toEqual([]);
    expect(await nextFireDate(db)).toBe('2026-01-01T10:25:00.000Z');
    expect(lines.filter((l) => l.includes('skipped'))).toHaveLength(1);
    // A tick less than a minute late is not a missed one: it fires whatever the setting.
    clock.now = new Date('2026-01-01T10:25:40Z');
    await scheduler.tick();
    expect(await dates(db)).toEqual(['2026-01-01T10:25:00.000Z']);
  });

  it('lateMaximumDelay skips the ticks later than it, even those recoverMissedSchedules: ALL would fire', async () => {
    const { db, lines } = await afterMissing('    lateMaximumDelay: PT3M\n');
    expect(await dates(db)).toEqual([MISSED[3]]); // 2.5 minutes late; the others 7.5 to 17.5
    expect(lines.filter((l) => l.includes('(more than lateMaximumDelay PT3M late)'))).toHaveLength(3);
    expect(await nextFireDate(db)).toBe('2026-01-01T10:25:00.000Z');
  });

  it('a backfill fires every tick from its start to now, with its labels, then goes on as usual', async () => {
    const backfill = '    cron: "0 * * * *"\n    backfill:\n      start: "2026-01-01T07:30:00Z"\n      labels:\n        backfill: "true"\n';
    const { db, clock, loop } = await setup(backfill, '2026-01-01T10:30:00Z');
    const scheduler = loop();
    await scheduler.tick();
    expect(await fired(db)).toEqual(
      ['08', '09', '10'].map((hour) => ({
        date: `2026-01-01T${hour}:00:00.000Z`,
        labels: [
          { key: 'team', value: 'data' },
          { key: 'backfill', value: 'true' },
        ],
      })),
    );
    expect(await nextFireDate(db)).toBe('2026-01-01T11:00:00.000Z');
    clock.now = new Date('2026-01-01T11:00:10Z');
    await scheduler.tick();
    expect((await fired(db)).at(-1)).toEqual({ date: '2026-01-01T11:00:00.000Z', labels: [{ key: 'team', value: 'data' }] });
  });

  it('a backfill with an end stops there and goes on from the next tick after now, the gap not counting as missed', async () => {
    const backfill = '    cron: "0 * * * *"\n    backfill:\n      start: "2026-01-01T05:00:00Z"\n      end: "2026-01-01T07:00:00Z"\n';
    const { db, loop } = await setup(backfill, '2026-01-01T10:30:00Z');
    await loop().tick();
    expect(await dates(db)).toEqual(['2026-01-01T05:00:00.000Z', '2026-01-01T06:00:00.000Z', '2026-01-01T07:00:00.000Z']);
    expect(await nextFireDate(db)).toBe('2026-01-01T11:00:00.000Z');
  });

  it('conditions rule out ticks without a word: the first Monday of each month, over a backfill', async () => {
    const trigger = [
      '    cron: "0 9 * * *"',
      '    timezone: Europe/Paris',
      '    backfill:',
      '      start: "2026-01-01T00:00:00Z"',
      '    conditions:',
      '      - type: io.kestra.plugin.core.condition.DayWeekInMonth',
      '        date: "{{ trigger.date }}"',
      '        dayOfWeek: MONDAY',
      '        dayInMonth: FIRST',
      '',
    ].join('\n');
    const { db, lines, loop } = await setup(trigger, '2026-03-31T12:00:00Z');
    await loop().tick();
    // 09:00 in Paris is 08:00 UTC in winter.
    expect(await dates(db)).toEqual(['2026-01-05T08:00:00.000Z', '2026-02-02T08:00:00.000Z', '2026-03-02T08:00:00.000Z']);
    expect(lines.filter((l) => l.includes('skipped'))).toEqual([]);
    expect(await nextFireDate(db)).toBe('2026-04-01T07:00:00.000Z'); // summer time
  });

  it('spreads a long catch-up over passes (maxTicksPerPass), in order', async () => {
    const { db, clock, loop } = await setup('    cron: "* * * * *"\n', '2026-01-01T10:00:30Z');
    const scheduler = loop({ maxTicksPerPass: 4 });
    await scheduler.tick();
    clock.now = new Date('2026-01-01T10:10:30Z');
    const counts: number[] = [];
    for (let pass = 0; pass < 3; pass++) {
      await scheduler.tick();
      counts.push((await dates(db)).length);
    }
    expect(counts).toEqual([4, 8, 10]);
    expect(await dates(db)).toEqual(Array.from({ length: 10 }, (_, i) => `2026-01-01T10:${String(i + 1).padStart(2, '0')}:00.000Z`));
  });

  it('two replicas recovering the same missed ticks start each one once', async () => {
    const { db, clock, loop } = await setup(EVERY_5, '2026-01-01T10:00:30Z');
    const a = loop({ owner: 'a' });
    const b = loop({ owner: 'b' });
    await a.tick();
    clock.now = new Date('2026-01-01T10:22:30Z');
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    expect(await dates(db)).toEqual(MISSED);
  });
});
