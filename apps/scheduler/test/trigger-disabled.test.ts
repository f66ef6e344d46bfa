/**
 * Triggers disabled over the API (the `disabled` column of `triggers`, set by `PUT /triggers` and `sluice trigger
 * disable`), on a real Postgres, driven pass by pass with a clock the test sets: a disabled Schedule does not fire,
 * enabled again it goes on from its next tick (the ticks missed meanwhile are not fired), and a Webhook trigger gets
 * a row (never due) that holds its flag.
 */
import { createInProcessQueue } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { TriggerLoop } from '../src/triggers.js';
import { createMigratedDatabase, validator } from './database.js';
import type { MigratedDatabase } from './database.js';

const NAMESPACE = 'sched.disabled';
const SOURCE = `id: ticking
namespace: ${NAMESPACE}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.date }}"
triggers:
  - id: every
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "*/5 * * * *"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: a-long-random-key
`;

const probe = await createMigratedDatabase('sluice_trigger_disabled');
await probe?.drop();

describe.skipIf(!probe)('triggers disabled over the API', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(start: string) {
    const database = (await createMigratedDatabase('sluice_trigger_disabled')) as MigratedDatabase;
    cleanups.push(() => database.drop());
    const queue: QueueDriver = createInProcessQueue();
    cleanups.push(() => queue.close());
    const { flow } = validator.parseFlow(SOURCE);
    await database.db.flows.save(flow.namespace, flow.id, SOURCE, flow);
    const clock = { now: new Date(start) };
    const loop = new TriggerLoop({ db: database.db, queue, owner: 'test', intervalMs: 1000, syncEveryMs: 0, log: () => undefined, now: () => clock.now });
    return { db: database.db, clock, loop };
  }

  it('a disabled Schedule does not fire; enabled again, it goes on from its next tick without firing those it missed', async () => {
    const { db, clock, loop } = await setup('2026-01-01T10:00:30Z');
    await loop.tick();
    const every = { namespace: NAMESPACE, flowId: 'ticking', triggerId: 'every' };
    expect((await db.triggers.get(every))?.nextFireDate?.toISOString()).toBe('2026-01-01T10:05:00.000Z');

    const [disabled] = await db.triggers.setDisabled([every], true);
    expect(disabled?.disabled).toBe(true);
    clock.now = new Date('2026-01-01T10:22:30Z');
    await loop.tick();
    expect(await db.prisma.execution.count({ where: { namespace: NAMESPACE } })).toBe(0);
    // Its tick stays where it was: nothing claimed it.
    expect((await db.triggers.get(every))?.nextFireDate?.toISOString()).toBe('2026-01-01T10:05:00.000Z');

    await db.triggers.setDisabled([every], false);
    await loop.tick(); // the sync resumes it from the tick after now
    expect(await db.prisma.execution.count({ where: { namespace: NAMESPACE } })).toBe(0);
    expect((await db.triggers.get(every))?.nextFireDate?.toISOString()).toBe('2026-01-01T10:25:00.000Z');
    clock.now = new Date('2026-01-01T10:25:10Z');
    await loop.tick();
    const executions = await db.prisma.execution.findMany({ where: { namespace: NAMESPACE }, select: { trigger: true } });
    expect(executions.map((e) => (e.trigger as { variables: { date: string } }).variables.date)).toEqual(['2026-01-01T10:25:00.000Z']);
  });

  it('a Schedule disabled before the scheduler ever saw it gets its row from the API, its first tick at the sync, and fires once enabled', async () => {
    const { db, clock, loop } = await setup('2026-01-01T10:00:30Z');
    const every = { namespace: NAMESPACE, flowId: 'ticking', triggerId: 'every' };
    await db.triggers.setDisabled([every], true);
    await loop.tick();
    expect((await db.triggers.get(every))?.nextFireDate?.toISOString()).toBe('2026-01-01T10:05:00.000Z');
    clock.now = new Date('2026-01-01T10:05:10Z');
    await loop.tick();
    expect(await db.prisma.execution.count({ where: { namespace: NAMESPACE } })).toBe(0);
    await db.triggers.setDisabled([every], false);
    // Enabled after its 10:10 tick passed (while it was disabled): it goes on from 10:15.
    clock.now = new Date('2026-01-01T10:10:05Z');
    await loop.tick();
    expect((await db.triggers.get(every))?.nextFireDate?.toISOString()).toBe('2026-01-01T10:15:00.000Z');
    clock.now = new Date('2026-01-01T10:15:05Z');
    await loop.tick();
    expect(await db.prisma.execution.count({ where: { namespace: NAMESPACE } })).toBe(1);
  });

  it('a Webhook trigger has a row, never due, that keeps its flag across syncs; a trigger removed from the flow loses its row', async () => {
    const { db, loop } = await setup('2026-01-01T10:00:30Z');
    await loop.tick();
    const hook = { namespace: NAMESPACE, flowId: 'ticking', triggerId: 'hook' };
    expect(await db.triggers.get(hook)).toMatchObject({ nextFireDate: null, disabled: false });
    await db.triggers.setDisabled([hook], true);
    await loop.tick();
    expect(await db.triggers.get(hook)).toMatchObject({ nextFireDate: null, disabled: true });
    const withoutHook = SOURCE.slice(0, SOURCE.indexOf('  - id: hook'));
    const { flow } = validator.parseFlow(withoutHook);
    await db.flows.save(flow.namespace, flow.id, withoutHook, flow);
    await loop.tick();
    expect(await db.triggers.get(hook)).toBeUndefined();
  });
});
