import { describe, expect, it, vi } from 'vitest';
import { ALL_WORKER_GROUPS, createInProcessQueue } from '../src/index.js';
import type { ResultMessage } from '../src/index.js';
import { queueConformance, sampleTaskJob, waitFor } from '../src/testing/index.js';

queueConformance('in-process', async () => ({ driver: createInProcessQueue() }));

const result = (taskRunId: string): ResultMessage => ({
  type: 'started',
  executionId: 'exec-1',
  taskRunId,
  taskId: 'hello',
  attempt: 1,
  workerId: 'w-1',
  startedAt: '2024-01-01T00:00:00.000Z',
});

describe('in-process queue', () => {
  it('gives an ALL_WORKER_GROUPS consumer the tasks of every group, each job to exactly one consumer', async () => {
    const driver = createInProcessQueue();
    const all: string[] = [];
    const gpu: string[] = [];
    driver.consumeTasks(ALL_WORKER_GROUPS, { concurrency: 2 }, async (job) => void all.push(job.taskRunId));
    driver.consumeTasks('gpu', { concurrency: 2 }, async (job) => void gpu.push(job.taskRunId));
    const ids: string[] = [];
    for (let index = 0; index < 30; index += 1) {
      const group = ['default', 'gpu', 'arm'][index % 3] ?? 'default';
      ids.push(`${group}-${index}`);
      await driver.enqueueTask(group, sampleTaskJob(`${group}-${index}`, group));
    }
    await waitFor(() => all.length + gpu.length === ids.length);
    expect([...all, ...gpu].sort()).toEqual([...ids].sort());
    expect(gpu.every((id) => id.startsWith('gpu-'))).toBe(true);
    expect(all.some((id) => id.startsWith('gpu-'))).toBe(true);
    expect(all.filter((id) => !id.startsWith('gpu-'))).toHaveLength(20);
    expect(await driver.pendingTasks(ALL_WORKER_GROUPS)).toBe(0);
    await driver.close();
  });

  it('counts the pending tasks of every group for ALL_WORKER_GROUPS', async () => {
    const driver = createInProcessQueue();
    await driver.enqueueTask('default', sampleTaskJob('a'));
    await driver.enqueueTask('gpu', sampleTaskJob('b', 'gpu'), { delayMs: 60_000 });
    expect(await driver.pendingTasks(ALL_WORKER_GROUPS)).toBe(2);
    expect(await driver.pendingTasks('gpu')).toBe(1);
    await expect(driver.enqueueTask(ALL_WORKER_GROUPS, sampleTaskJob('c'))).rejects.toThrow(/in-process task consumer/);
    await driver.close();
  });

  it('waits out a delay beyond a timer\'s range (about 24.8 days) instead of delivering at once', async () => {
    vi.useFakeTimers();
    try {
      const driver = createInProcessQueue();
      const seen: string[] = [];
      driver.consumeExecutions({}, async (message) => void seen.push(message.executionId));
      const thirtyDays = 30 * 86_400_000;
      await driver.publishExecution({ type: 'created', executionId: 'later' }, { delayMs: thirtyDays });
      await vi.advanceTimersByTimeAsync(2_147_483_647 + 1000);
      expect(seen).toEqual([]);
      await vi.advanceTimersByTimeAsync(thirtyDays - 2_147_483_647);
      expect(seen).toEqual(['later']);
      await driver.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('drops a message after maxDeliveries failed deliveries and reports it to onError', async () => {
    const errors: { error: unknown; context: string }[] = [];
    const driver = createInProcessQueue({ maxDeliveries: 2, onError: (error, context) => void errors.push({ error, context }) });
    let deliveries = 0;
    driver.consumeResults({}, async (message) => {
      if (message.taskRunId !== 'poison') return;
      deliveries += 1;
      throw new Error(`failure ${deliveries}`);
    });
    await driver.publishResult(result('poison'));
    await waitFor(() => errors.length === 1);
    expect(deliveries).toBe(2);
    expect(errors[0]?.context).toMatch(/^results: .*2 failed deliveries/);
    expect((errors[0]?.error as Error).message).toBe('failure 2');
    await driver.close();
  });

  it('reports a rejected task handler to onError', async () => {
    const contexts: string[] = [];
    const driver = createInProcessQueue({ onError: (_error, context) => void contexts.push(context) });
    driver.consumeTasks('default', {}, async () => {
      throw new Error('bug');
    });
    await driver.enqueueTask('default', sampleTaskJob('t'));
    await waitFor(() => contexts.length === 1);
    expect(contexts[0]).toMatch(/^tasks\.default: /);
    await driver.close();
  });

  it('never calls a handler or subscriber inside the publishing call', async () => {
    const driver = createInProcessQueue();
    let calls = 0;
    driver.consumeResults({}, async () => void (calls += 1));
    await driver.subscribeKills(() => void (calls += 1));
    await driver.subscribeExecutionUpdates(() => void (calls += 1));
    const publishing = Promise.all([
      driver.publishResult(result('r')),
      driver.killExecution('exec-1'),
      driver.publishExecutionUpdate({ executionId: 'exec-1', state: 'KILLED', ended: true }),
    ]);
    expect(calls).toBe(0);
    await publishing;
    await waitFor(() => calls === 3);
    await driver.close();
  });

  it('hands each delivery its own copy of the message', async () => {
    const driver = createInProcessQueue();
    const seen: unknown[] = [];
    let first = true;
    driver.consumeResults({}, async (message) => {
      seen.push(structuredClone(message));
      (message as { taskRunId: string }).taskRunId = 'mutated by the handler';
      if (first) {
        first = false;
        throw new Error('retry me');
      }
    });
    await driver.publishResult(result('r'));
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([result('r'), result('r')]);
    await driver.close();
  });

  it('refuses invalid options', () => {
    expect(() => createInProcessQueue({ maxDeliveries: 0 })).toThrow(/maxDeliveries/);
    const driver = createInProcessQueue();
    expect(() => driver.consumeResults({ concurrency: 0 }, async () => undefined)).toThrow(/concurrency/);
  });
});
