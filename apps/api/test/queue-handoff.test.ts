/**
 * How the API publishes without waiting for an unreachable queue (issue #15), with fake queues: what it does when the
 * queue says DOWN, when a publish never settles, when it fails, and the same for `?wait=true`'s subscription and the
 * flow cache's announcements; and the 503 `SLU_QUEUE_UNAVAILABLE` safety net.
 */
import { createInProcessQueue } from '@sluice/queue';
import type { QueueHealth } from '@sluice/queue';
import { describe, expect, it } from 'vitest';
import { createCachedFlowStore } from '../src/cached-flow-store.js';
import { createExecutionWaiter, createPublishingExecutionQueue } from '../src/execution-queue.js';
import type { ExecutionPublisher } from '../src/execution-queue.js';
import type { FlowStore } from '../src/flow-store.js';
import { toErrorResponse } from '../src/api-errors.js';
import { publishBounded } from '../src/queue-handoff.js';
import { healthRoutes } from '../src/routes/health.js';
import Fastify from 'fastify';

const UP: QueueHealth = { status: 'UP' };
const DOWN: QueueHealth = { status: 'DOWN', error: 'connect ECONNREFUSED 127.0.0.1:6379' };

/** A publisher whose publishes do what `behave` says, recording each call. */
function publisher(health: () => QueueHealth, behave: () => Promise<void>): ExecutionPublisher & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    health,
    publishExecution: (message) => {
      calls.push(`${message.type} ${message.executionId}`);
      return behave();
    },
  };
}

const never = (): Promise<void> => new Promise(() => undefined);

describe('publishing execution events', () => {
  it('does not publish while the queue is DOWN: the request goes on, and one line says the event is left to the reconciliation', async () => {
    const lines: string[] = [];
    const fake = publisher(() => DOWN, never);
    const queue = createPublishingExecutionQueue(fake, { log: (line) => lines.push(line) });
    await queue.executionCreated({ executionId: 'e1', namespace: 'n', flowId: 'f' });
    await queue.executionRestarted({ executionId: 'e2', namespace: 'n', flowId: 'f' });
    await queue.killRequested('e3');
    expect(fake.calls).toEqual([]);
    expect(lines).toEqual([
      'queue unreachable: execution e1 will start when it is back (connect ECONNREFUSED 127.0.0.1:6379)',
      'queue unreachable: execution e2 will restart when it is back (connect ECONNREFUSED 127.0.0.1:6379)',
      'queue unreachable: execution e3 will be killed when it is back (connect ECONNREFUSED 127.0.0.1:6379)',
    ]);
  });

  it('stops waiting for a publish that does not settle (a stalled Redis), and a late failure of it is not unhandled', async () => {
    const lines: string[] = [];
    let fail: (error: Error) => void = () => undefined;
    const fake = publisher(
      () => UP,
      () => new Promise((_resolve, reject) => (fail = reject)),
    );
    const queue = createPublishingExecutionQueue(fake, { timeoutMs: 50, log: (line) => lines.push(line) });
    await queue.executionCreated({ executionId: 'e1', namespace: 'n', flowId: 'f' });
    expect(fake.calls).toEqual(['created e1']);
    expect(lines).toEqual(['queue unreachable: execution e1 will start when it is back (it did not take the message within 50 ms)']);
    fail(new Error('late')); // would be an unhandled rejection (and fail the run) if nobody caught it
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('sends as usual while the queue is UP, and throws a failure that is not the queue being unreachable', async () => {
    const lines: string[] = [];
    const ok = publisher(() => UP, async () => undefined);
    await createPublishingExecutionQueue(ok, { log: (line) => lines.push(line) }).killRequested('e1');
    expect(ok.calls).toEqual(['kill e1']);
    expect(lines).toEqual([]);

    const broken = publisher(() => UP, () => Promise.reject(new Error('job data too large')));
    await expect(createPublishingExecutionQueue(broken).executionCreated({ executionId: 'e2', namespace: 'n', flowId: 'f' })).rejects.toThrow('job data too large');
  });

  it('leaves an event to the reconciliation when its publish fails because Redis cannot be reached', async () => {
    const lines: string[] = [];
    let health = UP;
    const closed = publisher(() => health, () => Promise.reject(new Error('Connection is closed.')));
    await createPublishingExecutionQueue(closed, { log: (line) => lines.push(line) }).executionCreated({ executionId: 'e1', namespace: 'n', flowId: 'f' });
    const dropped = publisher(
      () => health,
      async () => {
        health = DOWN; // the connection dropped while the publish was on its way
        throw new Error('write EPIPE');
      },
    );
    await createPublishingExecutionQueue(dropped, { log: (line) => lines.push(line) }).executionCreated({ executionId: 'e2', namespace: 'n', flowId: 'f' });
    expect(lines).toEqual([
      'queue unreachable: execution e1 will start when it is back (Connection is closed.)',
      'queue unreachable: execution e2 will start when it is back (connect ECONNREFUSED 127.0.0.1:6379)',
    ]);
  });

  it('publishBounded without a health check is bounded in time only', async () => {
    expect(await publishBounded(never, undefined, 20)).toEqual({ sent: false, reason: 'it did not take the message within 20 ms' });
    expect(await publishBounded(async () => undefined, undefined, 20)).toEqual({ sent: true });
  });
});

describe('?wait=true without the queue', () => {
  it('watches without waiting for a subscription the queue cannot make, and subscribes again after a failure', async () => {
    let health = DOWN;
    let subscriptions = 0;
    let fail: (error: Error) => void = () => undefined;
    const waiter = createExecutionWaiter(
      {
        health: () => health,
        subscribeExecutionUpdates: () => {
          subscriptions += 1;
          return new Promise((_resolve, reject) => (fail = reject));
        },
      },
      { readyTimeoutMs: 50 },
    );
    (await waiter.watch('e1')).cancel(); // DOWN: at once
    health = UP;
    (await waiter.watch('e2')).cancel(); // UP but no answer: after 50 ms
    expect(subscriptions).toBe(1);
    fail(new Error('Connection is closed.'));
    await new Promise((resolve) => setImmediate(resolve));
    (await waiter.watch('e3')).cancel();
    expect(subscriptions).toBe(2);
    await waiter.close(); // a subscription still pending does not hold the close
  });
});

describe('flow change announcements without the queue', () => {
  it('saves a flow without waiting for an unreachable queue, and reports the announcement that was not made', async () => {
    const errors: string[] = [];
    const inner = { save: async () => ({ created: true }), delete: async () => true } as unknown as FlowStore;
    let published = 0;
    const store = createCachedFlowStore(
      inner,
      {
        health: () => DOWN,
        publishFlowChange: async () => void (published += 1),
        subscribeFlowChanges: never as never,
      },
      { onError: (error) => errors.push(String(error)), publishTimeoutMs: 50 },
    );
    await store.save('n', 'f', 'source', {} as never);
    expect(published).toBe(0);
    expect(errors).toEqual(['Error: queue unreachable: the change of flow n.f was not announced (connect ECONNREFUSED 127.0.0.1:6379)']);
    await store.close(); // its subscription never got ready: it does not hold the close
  });
});

describe('the queue in errors and /health', () => {
  it('answers an error that says Redis cannot be reached with 503 SLU_QUEUE_UNAVAILABLE and Retry-After (the safety net)', () => {
    const { status, body, headers } = toErrorResponse(new Error('Connection is closed.'), 1024, 'req-1');
    expect(status).toBe(503);
    expect(headers).toEqual({ 'retry-after': '5' });
    expect(body).toEqual({ code: 'SLU_QUEUE_UNAVAILABLE', message: 'cannot reach the queue: Connection is closed.', details: { retryAfterSeconds: 5 } });
  });

  it('reports the queue in /health: UP for the in-process queue, DOWN (503, Retry-After) with the reason', async () => {
    const flows = { ping: async () => undefined } as unknown as FlowStore;
    const inProcess = createInProcessQueue();
    let health: () => QueueHealth = () => inProcess.health();
    const app = Fastify();
    await app.register(healthRoutes, { flows, queue: () => health() });
    try {
      const up = await app.inject({ url: '/health' });
      expect(up.statusCode).toBe(200);
      expect(up.json()).toEqual({ status: 'UP', checks: { database: { status: 'UP' }, queue: { status: 'UP' } } });
      health = () => DOWN;
      const down = await app.inject({ url: '/api/v1/health' });
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(down.json()).toEqual({ status: 'DOWN', checks: { database: { status: 'UP' }, queue: { status: 'DOWN', error: 'connect ECONNREFUSED 127.0.0.1:6379' } } });
    } finally {
      await app.close();
      await inProcess.close();
    }
  });
});
