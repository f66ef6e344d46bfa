/**
 * The worker on the BullMQ driver with a private Redis: the whole process as `main` builds it (an HTTP server
 * standing in for the API's internal endpoints), and the hand back of an unfinished job to another worker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultRegistries } from '@sluice/plugins';
import { createBullmqQueue } from '@sluice/queue';
import type { QueueDriver, ResultMessage } from '@sluice/queue';
import { LocalFileStorage } from '@sluice/storage';
import { describeWithRedis, processesUnder } from '@sluice/testing';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createWorker, startWorkerProcess, workerConfig } from '../src/index.js';
import type { WorkerJobEvent } from '../src/index.js';
import { job } from './jobs.js';

const WAIT = { timeout: 20_000, interval: 50 };


describeWithRedis('worker on BullMQ', (redis) => {
  let root: string;
  let drivers: QueueDriver[];
  let results: ResultMessage[];
  let api: Server | undefined;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-worker-bullmq-'));
    drivers = [];
    results = [];
  });

  afterEach(async () => {
    await Promise.all(drivers.map((d) => d.close()));
    const server = api;
    api = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  /** A driver of the test (scheduler side), collecting results. */
  function scheduler(prefix?: string): QueueDriver {
    const driver = createBullmqQueue({ url: redis().url, ...(prefix ? { prefix } : {}), lockDurationMs: 1000, stalledIntervalMs: 500 });
    drivers.push(driver);
    driver.consumeResults({}, async (message) => {
      results.push(message);
    });
    return driver;
  }

  it('startWorkerProcess serves its group, registers with the API and deregisters on close', async () => {
    const requests: string[] = [];
    api = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.authorization ?? ''}`);
        res.statusCode = 204;
        res.end();
      });
    });
    const server = api;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const config = workerConfig(
      { group: 'etl', concurrency: 2, workRoot: join(root, 'work') },
      {
        REDIS_URL: redis().url,
        SLUICE_API_URL: apiUrl,
        SLUICE_WORKER_TOKEN: 'worker-token',
        SLUICE_WORKER_ID: 'worker-main-test',
        // No engine there: the sweep is best effort and says so in one line.
        DOCKER_HOST: `unix://${join(root, 'no-docker.sock')}`,
      },
    );
    const lines: string[] = [];
    const started = await startWorkerProcess(config, (line) => lines.push(line), { signals: false });
    try {
      expect(started.worker.id).toBe('worker-main-test');
      expect(lines.at(-1)).toBe(`worker worker-main-test serving group etl (concurrency 2), API ${apiUrl}, Redis ${redis().url}`);
      expect(lines.some((line) => line.startsWith(`Docker engine at unix://${join(root, 'no-docker.sock')} not usable`))).toBe(true);
      expect(requests[0]).toBe('PUT /api/v1/internal/workers/worker-main-test Bearer worker-token');

      const driver = scheduler();
      const j = job({ id: 'hello', type: 'io.kestra.plugin.core.log.Log', message: 'hi' }, { executionId: 'exec-main' });
      await driver.enqueueTask('etl', j);
      // A Log task ends within the default start-report delay: its one result reports its start too.
      await vi.waitFor(() => expect(results.map((r) => r.type)).toEqual(['ended']), WAIT);
      expect(results[0]).toMatchObject({ state: 'SUCCESS', workerId: 'worker-main-test', reportsStart: true });
    } finally {
      await started.close();
    }
    expect(requests.at(-1)).toBe('DELETE /api/v1/internal/workers/worker-main-test Bearer worker-token');
    await started.close(); // idempotent
  }, 30_000);

  it('startWorkerProcess fails clearly when the API refuses the worker token', async () => {
    api = createServer((req, res) => {
      req.resume();
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: 'SLU_API_UNAUTHORIZED', message: 'a valid worker token is required', details: {} }));
    });
    const server = api;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = workerConfig({ workRoot: join(root, 'work') }, { REDIS_URL: redis().url, SLUICE_API_URL: apiUrl, SLUICE_WORKER_TOKEN: 'nope', DOCKER_HOST: `unix://${join(root, 'x.sock')}` });
    await expect(startWorkerProcess(config, () => undefined, { signals: false })).rejects.toThrow(
      new RegExp(`could not register with the Sluice API: the Sluice API refused PUT ${apiUrl}/api/v1/internal/workers/\\S+: HTTP 401: a valid worker token is required`),
    );
  });

  // The forced close at the end of the grace period escalates the pending graceful close (the driver's graceful close
  // is worker.pause() then close(), so close(true) still reaches BullMQ): the job's lock is no longer renewed and
  // BullMQ's stalled-job check hands it to the second worker.
  it('hands an unfinished job back to the queue at stop; another worker runs it', async () => {
    const prefix = `sluice-worker-test-${process.pid}-${Date.now()}`;
    const driver = scheduler(prefix);
    const registries = createDefaultRegistries();
    const storage = new LocalFileStorage({ root: join(root, 'storage') });
    const workRoot = join(root, 'work');
    const workerQueue = (): QueueDriver => {
      const d = createBullmqQueue({ url: redis().url, prefix, lockDurationMs: 1000, stalledIntervalMs: 500 });
      drivers.push(d);
      return d;
    };
    const events: WorkerJobEvent[] = [];
    const first = createWorker({ queue: workerQueue(), group: 'default', workerId: 'first', storage, registries, secrets: {}, workRoot, onJob: (e) => events.push(e), onError: () => undefined });
    await first.start();
    const j = job({ id: 'slow', type: 'io.kestra.plugin.scripts.shell.Commands', runner: 'PROCESS', commands: ['sleep 2', 'echo finished'] }, { executionId: 'exec-handback' });
    await driver.enqueueTask('default', j);
    await vi.waitFor(() => expect(results.map((r) => r.type)).toEqual(['started']), WAIT);

    await first.stop({ graceMs: 100 });
    expect(events.map((e) => e.type)).toEqual(['taken', 'handed-back']);
    expect(await processesUnder(workRoot)).toEqual([]);

    const second = createWorker({ queue: workerQueue(), group: 'default', workerId: 'second', storage, registries, secrets: {}, workRoot, onJob: (e) => events.push(e) });
    await second.start();
    try {
      await vi.waitFor(() => expect(results.some((r) => r.type === 'ended')).toBe(true), WAIT);
      expect(results.map((r) => [r.type, r.workerId])).toEqual([
        ['started', 'first'],
        ['started', 'second'],
        ['ended', 'second'],
      ]);
      expect(results.at(-1)).toMatchObject({ state: 'SUCCESS' });
      expect(events.at(0)).toMatchObject({ type: 'taken', deliveryCount: 1 });
      expect(events.find((e) => e.type === 'taken' && e.deliveryCount === 2)).toBeDefined();
    } finally {
      await second.stop({ graceMs: 1000 });
    }
  }, 40_000);
});
