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
});
