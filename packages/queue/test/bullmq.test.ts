import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { describeWithRedis, freePort } from '@sluice/testing';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { ALL_WORKER_GROUPS, bullmqJobId, createBullmqQueue } from '../src/index.js';
import type { QueueDriver, TaskDelivery } from '../src/index.js';
import { queueConformance, sampleTaskJob, waitFor } from '../src/testing/index.js';

const fixture = fileURLToPath(new URL('./fixtures/stalling-consumer.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let prefixes = 0;
/** A fresh key prefix per driver: drivers never see each other's jobs. */
const freshPrefix = () => `sluice-test-${process.pid}-${++prefixes}`;

describeWithRedis('bullmq queue', (redis) => {
  queueConformance('bullmq', async () => ({
    driver: createBullmqQueue({ url: redis().url, prefix: freshPrefix(), lockDurationMs: 1000, stalledIntervalMs: 500 }),
  }));

  const drivers: QueueDriver[] = [];
  const open = (prefix: string, onError?: (error: unknown, context: string) => void): QueueDriver => {
    const driver = createBullmqQueue({ url: redis().url, prefix, lockDurationMs: 1000, stalledIntervalMs: 500, ...(onError ? { onError } : {}) });
    drivers.push(driver);
    return driver;
  };
  afterAll(async () => {
    await Promise.all(drivers.map((driver) => driver.close()));
  });

  it('delivers a task job again, with deliveryCount 2, when its consumer dies mid-job', async () => {
    const prefix = freshPrefix();
    const driver = open(prefix);
    await driver.enqueueTask('stall', sampleTaskJob('tr-stall', 'stall'));

    const child = spawn(process.execPath, ['--conditions=@sluice/source', '--import', 'tsx', fixture, redis().url, prefix, 'stall'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const first = await new Promise<{ taskRunId: string; deliveryCount: number }>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as { taskRunId: string; deliveryCount: number }));
        child.once('exit', (code) => reject(new Error(`the child consumer exited (${code}) before taking the job:\n${stderr}`)));
      });
      expect(first).toEqual({ taskRunId: 'tr-stall', deliveryCount: 1 });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    const deliveries: [string, TaskDelivery][] = [];
    driver.consumeTasks('stall', {}, async (job, delivery) => void deliveries.push([job.taskRunId, delivery]));
    await waitFor(() => deliveries.length === 1, 20_000, 'the stalled job to come back');
    expect(deliveries).toEqual([['tr-stall', { deliveryCount: 2 }]]);
    expect(await driver.pendingTasks('stall')).toBe(0);
  }, 30_000);

  it('escalates a pending graceful close to a forced one; the held job goes to another consumer', async () => {
    const prefix = freshPrefix();
    const first = open(prefix);
    const second = open(prefix);
    let taken = false;
    // Held forever, as the worker holds a job it hands back at stop.
    const consumer = first.consumeTasks('handback', {}, async () => {
      taken = true;
      await new Promise<never>(() => undefined);
    });
    await first.enqueueTask('handback', sampleTaskJob('tr-handback', 'handback'));
    await waitFor(() => taken, 10_000, 'the first consumer to take the job');

    let gracefulClosed = false;
    void consumer.close().then(() => {
      gracefulClosed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gracefulClosed).toBe(false);
    const began = Date.now();
    await consumer.close({ force: true });
    expect(Date.now() - began).toBeLessThan(5_000);
    // The graceful close settles with the forced one, and so does the driver's close.
    await waitFor(() => gracefulClosed, 5_000, 'the graceful close to settle');
    await first.close();

    const deliveries: [string, TaskDelivery][] = [];
    second.consumeTasks('handback', {}, async (job, delivery) => void deliveries.push([job.taskRunId, delivery]));
    await waitFor(() => deliveries.length === 1, 20_000, 'the held job to come back');
    expect(deliveries).toEqual([['tr-handback', { deliveryCount: 2 }]]);
  }, 30_000);

  it('keeps renewing the lock of a job whose handler runs long: a 5 s task under a 1 s lock is delivered once', async () => {
    // BullMQ renews a job's lock while its handler runs (every lockDuration/2, checked every lockDuration/4), so a task
    // far longer than the lock is never taken for stalled. Two consumers on two connections compete for it.
    const prefix = freshPrefix();
    const first = open(prefix);
    const second = open(prefix);
    const deliveries: string[] = [];
    let running = 0;
    let overlapped = false;
    const handler = (by: string) => async (): Promise<void> => {
      deliveries.push(by);
      running += 1;
      if (running > 1) overlapped = true;
      await new Promise((resolve) => setTimeout(resolve, 5000));
      running -= 1;
    };
    first.consumeTasks('long', {}, handler('first'));
    second.consumeTasks('long', {}, handler('second'));
    await first.enqueueTask('long', sampleTaskJob('tr-long', 'long'), { dedupId: 'tr-long-1' });
    await waitFor(() => deliveries.length === 1, 10_000, 'the job to be taken');
    await waitFor(async () => !(await first.hasTask('long', 'tr-long-1')), 20_000, 'the job to complete');
    // Several stalled-job checks (every 500 ms) after the end: nothing comes back.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(deliveries).toHaveLength(1);
    expect(overlapped).toBe(false);
  }, 30_000);

  it('takes a lease again on renewal when its key vanished (Redis restarted without persistence), never from another holder', async () => {
    const prefix = freshPrefix();
    const driver = open(prefix);
    expect(await driver.acquireTaskLease('tr-vanish', 1, 'w1/a', 60_000)).toEqual({ acquired: true });
    const redisClient = new Redis(redis().url);
    try {
      const key = `${prefix}:lease:tr-vanish:1`;
      expect(await redisClient.get(key)).toBe('run\nw1/a');
      await redisClient.del(key);
      expect(await driver.renewTaskLease('tr-vanish', 1, 'w1/a', 60_000)).toBe(true);
      expect(await redisClient.get(key)).toBe('run\nw1/a');
      const ttl = await redisClient.pttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      await redisClient.set(key, 'run\nw2/b', 'PX', 60_000);
      expect(await driver.renewTaskLease('tr-vanish', 1, 'w1/a', 60_000)).toBe(false);
      expect(await redisClient.get(key)).toBe('run\nw2/b');
    } finally {
      redisClient.disconnect();
    }
  });

  it('keeps a completed job only for its dedupId: one without is removed from Redis as it completes', async () => {
    const prefix = freshPrefix();
    const driver = open(prefix);
    const handled: string[] = [];
    driver.consumeResults({}, async (message) => void handled.push(message.taskRunId));
    driver.consumeExecutions({}, async (message) => void handled.push(message.executionId));
    await driver.publishResult({ type: 'started', executionId: 'e1', taskRunId: 'tr-plain', taskId: 't', attempt: 1, workerId: 'w', startedAt: new Date().toISOString() });
    await driver.publishExecution({ type: 'created', executionId: 'e-dedup' }, { dedupId: 'created-e-dedup' });
    await waitFor(() => handled.length === 2, 10_000, 'both messages to be handled');
    const client = new Redis(redis().url);
    try {
      // BullMQ's completed set of each queue: the message with a dedupId stays (its id is known), the other is gone.
      await waitFor(async () => (await client.zcard(`${prefix}:results:completed`)) === 0 && (await client.zcard(`${prefix}:executions:completed`)) === 1, 10_000, 'the completions to settle');
      expect(await client.zrange(`${prefix}:executions:completed`, '0', '-1')).toEqual([bullmqJobId('created-e-dedup')]);
      expect(await client.keys(`${prefix}:results:[0-9]*`)).toEqual([]);
      // Sent again, the deduplicated one is still refused; the results queue is empty.
      await driver.publishExecution({ type: 'created', executionId: 'e-dedup' }, { dedupId: 'created-e-dedup' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Each handled once; the two queues have consumers of their own, so either may come first.
      expect([...handled].sort()).toEqual(['e-dedup', 'tr-plain']);
    } finally {
      client.disconnect();
    }
  });

  it('says DOWN, with the connection error, while Redis cannot be reached', async () => {
    // Nothing listens on this port: the driver keeps trying to connect, and health() says why it cannot.
    const driver = createBullmqQueue({ url: `redis://127.0.0.1:${await freePort()}`, prefix: freshPrefix(), onError: () => undefined });
    drivers.push(driver);
    await waitFor(() => driver.health().error?.includes('ECONNREFUSED') === true, 10_000, 'the connection to be refused');
    expect(driver.health()).toEqual({ status: 'DOWN', error: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('refuses group keys BullMQ cannot name, and ALL_WORKER_GROUPS', async () => {
    const driver = open(freshPrefix());
    await expect(driver.enqueueTask('team:gpu', sampleTaskJob('x'))).rejects.toThrow('Invalid worker group key "team:gpu"');
    expect(() => driver.consumeTasks('team:gpu', {}, async () => undefined)).toThrow('Invalid worker group key "team:gpu"');
    expect(() => driver.consumeTasks(ALL_WORKER_GROUPS, {}, async () => undefined)).toThrow(/in-process/);
    expect(() => driver.consumeTasks('', {}, async () => undefined)).toThrow(/non-empty/);
  });

  it('reports a task job whose handler rejects, once, to onError', async () => {
    const contexts: string[] = [];
    const driver = open(freshPrefix(), (_error, context) => void contexts.push(context));
    driver.consumeTasks('failing', {}, async () => {
      throw new Error('bug');
    });
    await driver.enqueueTask('failing', sampleTaskJob('t', 'failing'));
    await waitFor(() => contexts.length === 1);
    expect(contexts[0]).toMatch(/^tasks\.failing: job \S+ failed after 1 attempt/);
  });

  it('maps dedupIds to valid, distinct BullMQ job ids', () => {
    expect(bullmqJobId('exec-1:task:1')).toBe('j-exec-1%3Atask%3A1');
    expect(bullmqJobId('42')).toBe('j-42');
    expect(bullmqJobId('a:b')).not.toBe(bullmqJobId('a_b'));
    expect(bullmqJobId('a%3Ab')).not.toBe(bullmqJobId('a:b'));
  });

  it('refuses a URL that is not redis:// and a prefix with ":"', () => {
    expect(() => createBullmqQueue({ url: 'http://localhost:6379' })).toThrow(/redis:\/\//);
    expect(() => createBullmqQueue({ url: redis().url, prefix: 'a:b' })).toThrow(/prefix/);
  });
});
