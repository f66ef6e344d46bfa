/**
 * The lost-task watchdog on a real, freshly migrated Postgres database: a RUNNING task run whose worker stopped
 * sending heartbeats is failed with SLU_TASK_WORKER_LOST through the results queue; a run whose worker is alive,
 * or that changed recently, is left alone.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createInProcessQueue } from '@sluice/queue';
import type { QueueDriver, ResultMessage } from '@sluice/queue';
import { createTestDatabase } from '@sluice/testing';
import type { TestDatabase } from '@sluice/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseStatus } from '../src/database-status.js';
import { Watchdog } from '../src/watchdog.js';

const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

let database: TestDatabase | undefined;
let db: Db | undefined;
let queue: QueueDriver;

beforeAll(async () => {
  database = await createTestDatabase('sluice_watchdog');
  if (!database) return;
  await migrate({ databaseUrl: database.url, migrationsDir });
  db = createDb({ databaseUrl: database.url });
  queue = createInProcessQueue();
}, 60_000);

afterAll(async () => {
  await queue?.close();
  await db?.close();
  await database?.drop().catch(() => undefined);
});

async function runningTaskRun(db: Db, workerId: string, ageMs: number): Promise<{ executionId: string; taskRunId: string }> {
  const execution = await db.executions.create({ namespace: 'wd', flowId: 'f', flowRevision: 1 });
  const taskRunId = `tr${randomBytes(6).toString('hex')}`;
  const started = new Date(Date.now() - ageMs);
  await db.scheduler.withExecution(execution.id, async (_execution, tx) => {
    await tx.setState('RUNNING', started);
    await tx.saveTaskRun({
      id: taskRunId,
      taskId: 'work',
      parentTaskRunId: null,
      value: null,
      iteration: null,
      engineState: null,
      state: 'RUNNING',
      stateHistory: [{ state: 'CREATED', date: started.toISOString() }, { state: 'RUNNING', date: started.toISOString() }],
      attempts: [{ state: { current: 'RUNNING', histories: [] }, workerId }, { state: { current: 'RUNNING', histories: [] }, workerId }],
      outputs: null,
      metrics: null,
      workerGroup: null,
      workerId,
      startDate: started,
      endDate: null,
    });
  });
  await db.prisma.$executeRaw`UPDATE task_runs SET updated_at = ${started} WHERE id = ${taskRunId}`;
  return { executionId: execution.id, taskRunId };
}

describe('lost-task watchdog', () => {
  it('fails the runs of vanished workers, and only those', async (context) => {
    if (!db) return context.skip('Postgres unavailable');
    await db.scheduler.heartbeat('alive', 'default');
    await db.scheduler.heartbeat('vanished', 'default', new Date(Date.now() - 10 * 60_000));
    const lost = await runningTaskRun(db, 'vanished', 5 * 60_000);
    const healthy = await runningTaskRun(db, 'alive', 5 * 60_000);
    const recent = await runningTaskRun(db, 'vanished', 1000);

    const results: ResultMessage[] = [];
    const consumer = queue.consumeResults({}, async (message) => {
      results.push(message);
    });
    const lines: string[] = [];
    const watchdog = new Watchdog({ db, queue, intervalMs: 60_000, workerLivenessMs: 60_000, lostAfterMs: 60_000, log: (l) => lines.push(l), now: () => new Date() });
    expect(await watchdog.check()).toBe(1);
    for (let i = 0; i < 50 && results.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await consumer.close();

    expect(results).toHaveLength(1);
    const [ended] = results;
    expect(ended).toMatchObject({ type: 'ended', executionId: lost.executionId, taskRunId: lost.taskRunId, state: 'FAILED', attempt: 2, workerId: 'vanished' });
    expect(ended?.type === 'ended' && ended.error?.code).toBe('SLU_TASK_WORKER_LOST');
    expect(lines.join('\n')).toContain('worker vanished stopped sending heartbeats while running task work');
    expect([healthy.taskRunId, recent.taskRunId]).not.toContain(ended?.taskRunId);
  });

  it('calls no run lost until the liveness window has passed since the database was last found unreachable', async (context) => {
    if (!db) return context.skip('Postgres unavailable');
    // A worker whose heartbeats could not be stored during an outage looks gone, and its run has not changed.
    await db.scheduler.heartbeat('away', 'default', new Date(Date.now() - 10 * 60_000));
    const run = await runningTaskRun(db, 'away', 5 * 60_000);
    const results: ResultMessage[] = [];
    const consumer = queue.consumeResults({}, async (message) => void results.push(message));
    let clock = Date.now();
    const lines: string[] = [];
    const database = new DatabaseStatus((line) => lines.push(line), () => clock);
    const watchdog = new Watchdog({ db, queue, intervalMs: 60_000, workerLivenessMs: 60_000, lostAfterMs: 60_000, database, log: (l) => lines.push(l), now: () => new Date(clock) });
    expect(database.failed(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe('database unreachable: connection refused');
    expect(database.health).toMatchObject({ status: 'DOWN', reason: 'connection refused' });
    expect(await watchdog.check()).toBe(0);
    clock += 59_000;
    expect(await watchdog.check()).toBe(0);
    // The window has passed: a worker still without a heartbeat now is gone.
    clock += 2000;
    expect(await watchdog.check()).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await consumer.close();
    expect(results.map((message) => message.taskRunId)).toContain(run.taskRunId);
    expect(database.health.status).toBe('UP');
    expect(lines.filter((line) => /database (DOWN|UP again)/.test(line))).toHaveLength(2);
  });
});
