/**
 * New executions that take their first step in the API (ExecutionStarter): stored with it in one transaction and not
 * handed to the scheduler; handed over as before when the starter is not ready, when the execution is to start later,
 * or when the step failed for another reason than the database. The starter here makes a real step on the fixture's
 * Postgres through the scheduler's store (`withExecution` with the INSERT); the scheduler's own step code is tested
 * in apps/scheduler (`startNew`).
 */
import { knownNew } from '@sluice/db';
import type { Db, StoredExecution } from '@sluice/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionStarter } from '../src/execution-queue.js';
import { createFlows, flowYaml, startApi } from './fixture.js';
import type { ApiFixture } from './fixture.js';

/** What the starter is to do with the next executions. */
let mode: 'step' | 'not ready' | 'fail' = 'step';
const started: string[] = [];

/** A step that moves the new execution to RUNNING, stored by the same transaction as its INSERT. */
function starter(db: Db): ExecutionStarter {
  return {
    ready: () => mode !== 'not ready',
    async start(execution: StoredExecution) {
      started.push(execution.id);
      if (mode === 'fail') throw new Error('a bug in the step');
      await db.scheduler.withExecution(execution.id, async (_execution, tx) => tx.setState('RUNNING', new Date()), knownNew(execution), execution);
      return { after: Promise.resolve() };
    },
  };
}

const api = await startApi({ starter });

describe.skipIf(!api)('executions started by the API itself', () => {
  const a = api as ApiFixture;
  beforeAll(async () => {
    await createFlows(a, [flowYaml('starter.test', 'one')]);
  });
  afterAll(async () => {
    await a.close();
  });

  async function create(query = ''): Promise<{ id: string; state: { current: string } }> {
    const response = await a.fetch(`/api/v1/executions/starter.test/one${query}`, { method: 'POST' });
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as { id: string; state: { current: string } };
  }

  const createdEvents = (id: string) => a.queue.events.filter((event) => event.type === 'executionCreated' && event.event.executionId === id);

  it('stores a new execution with its first step, and sends the scheduler no created event', async () => {
    mode = 'step';
    const body = await create();
    expect(started).toContain(body.id);
    expect(body.state.current).toBe('CREATED');
    const stored = await a.db.executions.get(body.id);
    expect(stored?.state).toBe('RUNNING');
    expect(stored?.stateHistory.map((h) => h.state)).toEqual(['CREATED', 'RUNNING']);
    expect(createdEvents(body.id)).toEqual([]);
  });

  it('hands the execution to the scheduler while the starter is not ready', async () => {
    mode = 'not ready';
    const body = await create();
    expect(started).not.toContain(body.id);
    expect((await a.db.executions.get(body.id))?.state).toBe('CREATED');
    expect(createdEvents(body.id)).toHaveLength(1);
    expect(createdEvents(body.id)[0]).toMatchObject({ event: { snapshot: { state: 'CREATED' } } });
  });

  it('hands an execution to start later to the scheduler, for its date', async () => {
    mode = 'step';
    const at = new Date(Date.now() + 60_000).toISOString();
    const body = await create(`?scheduleDate=${encodeURIComponent(at)}`);
    expect(started).not.toContain(body.id);
    expect((await a.db.executions.get(body.id))?.state).toBe('CREATED');
    expect(createdEvents(body.id)).toHaveLength(1);
  });

  it('stores and hands over an execution whose first step failed here for another reason than the database', async () => {
    mode = 'fail';
    const body = await create();
    expect(started).toContain(body.id);
    const stored = await a.db.executions.get(body.id);
    expect(stored).toMatchObject({ state: 'CREATED', taskRuns: [] });
    expect(stored?.labels).toEqual([{ key: 'system.correlationId', value: body.id }]);
    expect(createdEvents(body.id)).toHaveLength(1);
  });
});
