/**
 * The task run attempt lease: at most one live run of an attempt, whatever the queue delivers. Real parts: the
 * in-process queue, the PROCESS runner (shell commands that write a ledger of their starts and ends, with times).
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskSpec } from '@sluice/core';
import { createDefaultRegistries } from '@sluice/plugins';
import { createInProcessQueue } from '@sluice/queue';
import type { QueueDriver, ResultMessage } from '@sluice/queue';
import { LocalFileStorage } from '@sluice/storage';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWorker } from '../src/index.js';
import type { Worker, WorkerJobEvent, WorkerOptions } from '../src/index.js';
import { job } from './jobs.js';
import { leftUnder } from './work-root.js';

const registries = createDefaultRegistries();
const WAIT = { timeout: 20_000, interval: 20 };

let root: string;
let ledger: string;
let queue: QueueDriver;
let results: ResultMessage[];
let events: WorkerJobEvent[];
let workers: Worker[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-lease-test-'));
  ledger = join(root, 'ledger');
  queue = createInProcessQueue();
  results = [];
  events = [];
  workers = [];
  queue.consumeResults({}, async (message) => void results.push(message));
  queue.consumeLogs({}, async () => undefined);
});

afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
  await queue.close();
  await rm(root, { recursive: true, force: true });
});

async function startWorker(workerId: string, options: Partial<WorkerOptions> = {}): Promise<Worker> {
  const worker = createWorker({
    queue,
    group: 'default',
    workerId,
    concurrency: 2,
    storage: new LocalFileStorage({ root: join(root, 'storage') }),
    registries,
    secrets: {},
    workRoot: join(root, 'work'),
    startReportDelayMs: 0,
    onError: () => undefined,
    onJob: (event) => events.push(event),
    ...options,
  });
  workers.push(worker);
  await worker.start();
  return worker;
}

/** A task that writes `start <ms>` and, `seconds` later, `end <ms>` to the ledger. */
function ledgerTask(seconds: number): TaskSpec {
  const now = `$(date +%s%3N)`;
  return {
    id: 'work',
    type: 'io.kestra.plugin.scripts.shell.Commands',
    runner: 'PROCESS',
    commands: [`echo "start ${now}" >> ${ledger}`, `sleep ${seconds}`, `echo "end ${now}" >> ${ledger}`],
  };
}

async function ledgerLines(): Promise<{ kind: string; at: number }[]> {
  const text = await readFile(ledger, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [kind, at] = line.split(' ');
      return { kind: kind ?? '', at: Number(at) };
    });
}

describe('task run attempt lease', () => {
  it('runs an attempt delivered twice to two workers once: the second delivery waits, then does not run it', async () => {
    await startWorker('worker-a', { leaseTtlMs: 1500 });
    await startWorker('worker-b', { leaseTtlMs: 1500 });
    const j = job(ledgerTask(1));
    // The queue delivers the same attempt twice (its first consumer was taken for dead, say): one to each worker.
    await queue.enqueueTask('default', j);
    await queue.enqueueTask('default', j);
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'taken')).toHaveLength(2), WAIT);
    await vi.waitFor(() => expect(events.some((e) => e.type === 'duplicate')).toBe(true), WAIT);
    await vi.waitFor(() => expect(workers.every((w) => w.running === 0)).toBe(true), WAIT);

    expect((await ledgerLines()).map((line) => line.kind)).toEqual(['start', 'end']);
    expect(results.filter((r) => r.taskRunId === j.taskRunId).map((r) => r.type)).toEqual(['started', 'ended']);
    expect(events.filter((e) => e.type === 'lease-waiting')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'ended')).toHaveLength(1);
    // The attempt is known finished: a third delivery, later, does not run it either.
    expect(await queue.acquireTaskLease(j.taskRunId, j.attempt, 'someone', 1000)).toMatchObject({ acquired: false, finished: true });
  });

  it("waits for the lease of a holder that stopped renewing it (a dead worker's) to expire, then runs the attempt", async () => {
    const j = job(ledgerTask(0));
    const leasedAt = Date.now();
    expect(await queue.acquireTaskLease(j.taskRunId, j.attempt, 'dead-worker/1', 1500)).toEqual({ acquired: true });
    await startWorker('worker-a', { leaseTtlMs: 1500 });
    await queue.enqueueTask('default', j);
    await vi.waitFor(() => expect(results.some((r) => r.type === 'ended' && r.taskRunId === j.taskRunId)).toBe(true), WAIT);
    expect(events.filter((e) => e.type === 'lease-waiting')).toEqual([expect.objectContaining({ holder: 'dead-worker/1' })]);
    const lines = await ledgerLines();
    expect(lines.map((line) => line.kind)).toEqual(['start', 'end']);
    // Never before the dead holder's lease expired (a few ms of slack for the shell's clock).
    expect(lines[0]?.at).toBeGreaterThanOrEqual(leasedAt + 1500 - 20);
    expect(results.filter((r) => r.taskRunId === j.taskRunId).map((r) => r.type)).toEqual(['started', 'ended']);
  });

  it('stops a task whose lease another delivery took, and publishes nothing more for it', async () => {
    const worker = await startWorker('worker-a', { leaseTtlMs: 600 });
    const j = job(ledgerTask(30));
    await queue.enqueueTask('default', j);
    await vi.waitFor(async () => expect((await ledgerLines()).map((line) => line.kind)).toEqual(['start']), WAIT);
    // Another delivery takes the lease (as if this worker had missed its renewals).
    const held = await queue.acquireTaskLease(j.taskRunId, j.attempt, 'thief/1', 60_000);
    if (held.acquired) throw new Error('the running worker should hold the lease');
    await queue.releaseTaskLease(j.taskRunId, j.attempt, held.holder, false);
    expect(await queue.acquireTaskLease(j.taskRunId, j.attempt, 'thief/1', 60_000)).toEqual({ acquired: true });

    await vi.waitFor(() => expect(events.some((e) => e.type === 'lease-lost')).toBe(true), WAIT);
    await vi.waitFor(() => expect(worker.running).toBe(0), WAIT);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(results.filter((r) => r.taskRunId === j.taskRunId).map((r) => r.type)).toEqual(['started']);
    expect((await ledgerLines()).map((line) => line.kind)).toEqual(['start']);
    // The thief's lease is untouched.
    expect(await queue.acquireTaskLease(j.taskRunId, j.attempt, 'other', 1000)).toMatchObject({ acquired: false, holder: 'thief/1' });
  });

  it("prepares the task while the lease's first ask is out, and starts its code only once the lease is taken", async () => {
    // The queue answers the lease 400 ms late; meanwhile the task's working directory is made, its command not run.
    const asked: number[] = [];
    let answer = (): void => undefined;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const acquireTaskLease: QueueDriver['acquireTaskLease'] = async (...args) => {
      asked.push(Date.now());
      await answered;
      return queue.acquireTaskLease(...args);
    };
    const slowLease = new Proxy(queue, {
      get: (target, property) => {
        if (property === 'acquireTaskLease') return acquireTaskLease;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await startWorker('worker-a', { queue: slowLease, leaseTtlMs: 1500 });
    const j = job(ledgerTask(0));
    await queue.enqueueTask('default', j);
    await vi.waitFor(() => expect(asked).toHaveLength(1), WAIT);
    const work = join(root, 'work');
    await vi.waitFor(async () => expect(await readdir(work)).toHaveLength(1), WAIT);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await ledgerLines()).toEqual([]);
    expect(results).toEqual([]);
    const answeredAt = Date.now();
    answer();
    await vi.waitFor(() => expect(results.some((r) => r.type === 'ended' && r.taskRunId === j.taskRunId)).toBe(true), WAIT);
    const lines = await ledgerLines();
    expect(lines.map((line) => line.kind)).toEqual(['start', 'end']);
    expect(lines[0]?.at).toBeGreaterThanOrEqual(answeredAt - 20);
    expect(results.filter((r) => r.taskRunId === j.taskRunId).map((r) => r.type)).toEqual(['started', 'ended']);
    expect(results.find((r) => r.type === 'ended')).toMatchObject({ state: 'SUCCESS' });
    expect(asked).toHaveLength(1);
    await vi.waitFor(async () => expect(await leftUnder(work)).toEqual([]), WAIT);
  });

  it("gives up the preparation unseen while another delivery holds the lease: the wait never counts toward the task's timeout", async () => {
    // A 1 s timeout, a lease held for 1.5 s more by a dead holder: the run starts after it and ends SUCCESS.
    const j = job({ ...ledgerTask(0), timeout: 'PT1S' });
    const leasedAt = Date.now();
    expect(await queue.acquireTaskLease(j.taskRunId, j.attempt, 'dead-worker/1', 1500)).toEqual({ acquired: true });
    const logged: string[] = [];
    queue.consumeLogs({}, async (batch) => void logged.push(...batch.entries.map((e) => e.message)));
    await startWorker('worker-a', { leaseTtlMs: 1500 });
    await queue.enqueueTask('default', j);
    await vi.waitFor(() => expect(results.some((r) => r.type === 'ended' && r.taskRunId === j.taskRunId)).toBe(true), WAIT);
    expect(results.filter((r) => r.taskRunId === j.taskRunId).map((r) => r.type)).toEqual(['started', 'ended']);
    const ended = results.find((r) => r.type === 'ended');
    expect(ended).toMatchObject({ state: 'SUCCESS' });
    expect(ended && 'error' in ended ? ended.error : undefined).toBeUndefined();
    expect(Date.parse((ended as { startedAt: string }).startedAt)).toBeGreaterThanOrEqual(leasedAt + 1500 - 20);
    const lines = await ledgerLines();
    expect(lines.map((line) => line.kind)).toEqual(['start', 'end']);
    expect(lines[0]?.at).toBeGreaterThanOrEqual(leasedAt + 1500 - 20);
    // Nothing of the preparation given up is seen: no line says the lease was not taken; nothing is left in its
    // directory (removed, or kept empty for a later task).
    expect(logged.filter((line) => /lease/.test(line))).toEqual([]);
    await vi.waitFor(async () => expect(await leftUnder(join(root, 'work'))).toEqual([]), WAIT);
  });
});
