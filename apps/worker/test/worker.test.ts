/**
 * The worker with real parts: the in-process queue, local storage in a temporary directory, the default plugin
 * registries and the PROCESS runner (real shell processes).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TaskSpec } from '@sluice/core';
import { createDefaultRegistries } from '@sluice/plugins';
import { createInProcessQueue, followOnRunId } from '@sluice/queue';
import type { LogBatch, QueueDriver, ResultMessage, TaskJob, WireLogEntry } from '@sluice/queue';
import { LocalFileStorage } from '@sluice/storage';
import { processesUnder } from '@sluice/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ALL_WORKER_GROUPS, createHttpWorkerRegistry, createWorker } from '../src/index.js';
import type { Worker, WorkerJobEvent, WorkerOptions } from '../src/index.js';
import { job } from './jobs.js';
import { leftUnder } from './work-root.js';

/** The one result of a job whose execution was killed before it started. */
const KILLED_BEFORE_START = {
  state: 'KILLED',
  outputs: {},
  error: { code: 'SLU_TASK_KILLED', message: 'the execution was killed before this task started', details: {} },
} as const;

const registries = createDefaultRegistries();
const SHELL = 'io.kestra.plugin.scripts.shell.Commands';
const WAIT = { timeout: 10_000, interval: 20 };

const shell = (id: string, commands: string[], extra: Record<string, unknown> = {}): TaskSpec => ({ id, type: SHELL, runner: 'PROCESS', commands, ...extra });
const logTask = (id: string, message: string): TaskSpec => ({ id, type: 'io.kestra.plugin.core.log.Log', message });


let root: string;
let workRoot: string;
let queue: QueueDriver;
let storage: LocalFileStorage;
let results: ResultMessage[];
let batches: LogBatch[];
let errors: { error: unknown; context: string }[];
let events: WorkerJobEvent[];
let workers: Worker[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-worker-test-'));
  workRoot = join(root, 'work');
  storage = new LocalFileStorage({ root: join(root, 'storage') });
  queue = createInProcessQueue();
  results = [];
  batches = [];
  errors = [];
  events = [];
  workers = [];
  queue.consumeResults({}, async (message) => {
    results.push(message);
  });
  queue.consumeLogs({}, async (batch) => {
    batches.push(batch);
  });
});

afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop({ graceMs: 1000 })));
  await queue.close();
  await rm(root, { recursive: true, force: true });
});

async function startWorker(options: Partial<WorkerOptions> = {}): Promise<Worker> {
  const worker = createWorker({
    queue,
    group: 'default',
    storage,
    registries,
    secrets: {},
    workRoot,
    // Every start reported at once, so each test sees 'started' (the coalescing default has its own test).
    startReportDelayMs: 0,
    onError: (error, context) => errors.push({ error, context }),
    onJob: (event) => events.push(event),
    ...options,
  });
  workers.push(worker);
  await worker.start();
  return worker;
}

const resultsOf = (executionId: string): ResultMessage[] => results.filter((r) => r.executionId === executionId);
/** An execution's log lines: the batches sent on `logs`, then the last lines that came with each end result. */
const linesOf = (executionId: string): WireLogEntry[] => [
  ...batches.filter((b) => b.executionId === executionId).flatMap((b) => b.entries),
  ...results.flatMap((r) => (r.executionId === executionId && r.type === 'ended' ? (r.logs ?? []) : [])),
];

/** The top-level `ended` result of a job, once it arrived. */
async function ended(j: TaskJob): Promise<Extract<ResultMessage, { type: 'ended' }>> {
  return vi.waitFor(() => {
    const found = results.find((r) => r.type === 'ended' && r.taskRunId === j.taskRunId);
    if (!found || found.type !== 'ended') throw new Error(`no ended result for ${j.taskRunId} yet`);
    return found;
  }, WAIT);
}

describe('createWorker', () => {
  it('runs a Log task: started, its log lines, then ended SUCCESS', async () => {
    const worker = await startWorker({ workerId: 'worker-a' });
    expect(worker.id).toBe('worker-a');
    const j = job(logTask('hello', 'Hello {{ inputs.name }}'));
    await queue.enqueueTask('default', j);
    const end = await ended(j);

    expect(end).toMatchObject({ state: 'SUCCESS', outputs: {}, workerId: 'worker-a', taskId: 'hello', attempt: 1, executionId: j.executionId });
    expect(end.error).toBeUndefined();
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['started', 'ended']);
    expect(resultsOf(j.executionId)[0]).toMatchObject({ type: 'started', workerId: 'worker-a', taskRunId: j.taskRunId });
    // A short task's only line comes with its end (stored in the same transaction), not on `logs`.
    expect(end.logs).toEqual([expect.objectContaining({ taskRunId: j.taskRunId, taskId: 'hello', attempt: 1, level: 'INFO', message: 'Hello Ada' })]);
    expect(batches.filter((b) => b.executionId === j.executionId)).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['taken', 'ended']);
    expect(errors).toEqual([]);
    // The job itself ends once its working directory is removed, which comes after the result is out.
    await vi.waitFor(() => expect(worker.running).toBe(0), WAIT);
  });

  it('sends 2,000 lines of output in a few batches, in order', async () => {
    await startWorker();
    const j = job(shell('lines', ['for i in $(seq 1 2000); do echo "line $i"; done']));
    await queue.enqueueTask('default', j);
    const end = await ended(j);
    expect(end.state).toBe('SUCCESS');
    expect(end.outputs).toMatchObject({ exitCode: 0, stdOutLineCount: 2000 });

    // The batches (delivered on their own queue, maybe after the end result), then the last lines with the end:
    // every line once, in order.
    const expected = Array.from({ length: 2000 }, (_, i) => `line ${i + 1}`);
    const lines = () =>
      linesOf(j.executionId)
        .map((e) => e.message)
        .filter((m) => /^line \d+$/.test(m));
    await vi.waitFor(() => expect(lines()).toHaveLength(2000), WAIT);
    expect(lines()).toEqual(expected);
    const mine = batches.filter((b) => b.executionId === j.executionId);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.length).toBeLessThan(100);
    for (const batch of mine) expect(batch.entries.length).toBeLessThanOrEqual(500);
    expect((end.logs ?? []).length).toBeLessThanOrEqual(500);
  });

  it("returns the job's `known` (the execution as the step that queued it left it) with each of its results, and nothing when the job has none", async () => {
    await startWorker();
    const known = { version: 3, execution: { id: 'handed', nested: { list: [1, 'two'] } } };
    const withKnown = job(logTask('hello', 'Hello'), { known });
    const without = job(logTask('hello', 'Hello'));
    await queue.enqueueTask('default', withKnown);
    await queue.enqueueTask('default', without);
    await ended(withKnown);
    await ended(without);
    expect(resultsOf(withKnown.executionId).map((r) => [r.type, r.known])).toEqual([
      ['started', known],
      ['ended', known],
    ]);
    expect(resultsOf(without.executionId).map((r) => 'known' in r)).toEqual([false, false]);
  });

  it('reports each WorkingDirectory child as its own task run, with its metrics, and the parent last', async () => {
    await startWorker();
    const wd: TaskSpec = {
      id: 'wd',
      type: 'io.kestra.plugin.core.flow.WorkingDirectory',
      tasks: [
        shell('first', ['echo one > shared.txt', 'echo \'::{"metrics":[{"name":"rows","type":"counter","value":3}]}::\'']),
        shell('second', ['cat shared.txt']),
      ],
    };
    const j = job(wd);
    await queue.enqueueTask('default', j);
    const end = await ended(j);
    expect(end.state).toBe('SUCCESS');

    const mine = resultsOf(j.executionId);
    expect(mine.map((r) => [r.type, r.taskId])).toEqual([
      ['started', 'wd'],
      ['child-started', 'first'],
      ['ended', 'first'],
      ['child-started', 'second'],
      ['ended', 'second'],
      ['ended', 'wd'],
    ]);
    const [, firstStarted, firstEnded, , secondEnded] = mine;
    expect(firstStarted).toMatchObject({ parentTaskRunId: j.taskRunId, taskRunId: `${j.taskRunId}.first`, attempt: 1 });
    expect(firstEnded).toMatchObject({ state: 'SUCCESS', parentTaskRunId: j.taskRunId, metrics: [expect.objectContaining({ name: 'rows', type: 'counter', value: 3, taskId: 'first' })] });
    expect(secondEnded).toMatchObject({ state: 'SUCCESS', parentTaskRunId: j.taskRunId });
    expect(secondEnded?.type === 'ended' && secondEnded.metrics).toBeFalsy();
    expect(end.parentTaskRunId).toBeUndefined();
    expect(end.metrics).toBeUndefined();
    expect(linesOf(j.executionId)).toContainEqual(expect.objectContaining({ taskId: 'second', taskRunId: `${j.taskRunId}.second`, message: 'one', attempt: 1 }));
  });

  it('kills a running task when its execution is killed, and leaves no process behind', async () => {
    await startWorker();
    const j = job(shell('sleepy', ['sleep 30']));
    await queue.enqueueTask('default', j);
    await vi.waitFor(async () => {
      expect(resultsOf(j.executionId).map((r) => r.type)).toContain('started');
      expect((await processesUnder(workRoot)).length).toBeGreaterThan(0);
    }, WAIT);

    await queue.killExecution(j.executionId);
    const end = await ended(j);
    expect(end.state).toBe('KILLED');
    expect(end.error?.code).toBe('SLU_TASK_KILLED');
    await vi.waitFor(async () => expect(await processesUnder(workRoot)).toEqual([]), WAIT);
  });

  it('does not run a task of an execution killed before it was taken', async () => {
    await startWorker();
    const j = job(logTask('never', 'should not run'));
    await queue.killExecution(j.executionId);
    await queue.enqueueTask('default', j);
    const end = await ended(j);
    expect(end).toMatchObject(KILLED_BEFORE_START);
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['ended']);
    expect(linesOf(j.executionId)).toEqual([]);
  });

  it('does not run the command of an execution killed before it was taken, nor report its start', async () => {
    // The default start report delay, and a WorkingDirectory: its first child is what would start a process.
    await startWorker({ startReportDelayMs: 50 });
    const marker = join(root, 'ran');
    const j = job({ id: 'wd', type: 'io.kestra.plugin.core.flow.WorkingDirectory', tasks: [shell('touch', [`touch ${marker}`])] });
    await queue.killExecution(j.executionId);
    await queue.enqueueTask('default', j);
    const end = await ended(j);
    expect(end).toMatchObject(KILLED_BEFORE_START);
    expect(end.startedAt).toBe(end.endedAt);
    expect(end.reportsStart).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 200)); // past the start report delay
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['ended']);
    expect(linesOf(j.executionId)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    // The working directory prepared meanwhile goes back empty (after the result is reported: wait for it).
    await vi.waitFor(async () => expect(await leftUnder(workRoot)).toEqual([]), WAIT);
    expect(events.map((e) => (e.type === 'ended' ? `ended ${e.state}` : e.type))).toEqual(['taken', 'ended KILLED']);
    expect(errors).toEqual([]);
  });

  it('removes the working directory after reporting the result, before the job counts as done', async () => {
    const worker = await startWorker();
    const j = job(shell('files', ['echo data > left-behind.txt']));
    await queue.enqueueTask('default', j);
    expect((await ended(j)).state).toBe('SUCCESS');
    await vi.waitFor(() => expect(worker.running).toBe(0), WAIT);
    expect(await readdir(workRoot)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('keeps a working directory left empty for the next task, and removes the kept ones on stop', async () => {
    const worker = await startWorker();
    const seen = join(root, 'seen');
    for (const id of ['first', 'second']) {
      const j = job(shell(id, [`pwd >> ${seen}`]));
      await queue.enqueueTask('default', j);
      expect((await ended(j)).state).toBe('SUCCESS');
      await vi.waitFor(() => expect(worker.running).toBe(0), WAIT);
    }
    const [first, second, ...more] = (await readFile(seen, 'utf8')).trim().split('\n');
    expect(more).toEqual([]);
    expect(second).toBe(first);
    expect(await readdir(workRoot)).toEqual([basename(first!)]);
    await worker.stop();
    expect(await readdir(workRoot)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('masks secrets in log lines', async () => {
    await startWorker({ secrets: { SLUICE_SECRET_TOKEN: 's3cr3t-value' } });
    const j = job(shell('secretive', ["echo \"token={{ secret('TOKEN') }}\""]));
    await queue.enqueueTask('default', j);
    const end = await ended(j);
    expect(end.state).toBe('SUCCESS');
    const messages = linesOf(j.executionId).map((l) => l.message);
    expect(messages).toContain('token=******');
    expect(JSON.stringify([batches, results])).not.toContain('s3cr3t-value');
  });

  it("reports a short task's start with its end, and a longer task's start while it runs", async () => {
    await startWorker({ startReportDelayMs: 300 });
    const quick = job(logTask('quick', 'fast'));
    await queue.enqueueTask('default', quick);
    const quickEnd = await ended(quick);
    expect(resultsOf(quick.executionId).map((r) => r.type)).toEqual(['ended']);
    expect(quickEnd).toMatchObject({ state: 'SUCCESS', reportsStart: true });
    expect(Date.parse(quickEnd.startedAt)).toBeLessThanOrEqual(Date.parse(quickEnd.endedAt));

    const slow = job(shell('slow', ['sleep 1']));
    await queue.enqueueTask('default', slow);
    const slowEnd = await ended(slow);
    expect(resultsOf(slow.executionId).map((r) => r.type)).toEqual(['started', 'ended']);
    expect(resultsOf(slow.executionId)[0]).toMatchObject({ type: 'started', taskRunId: slow.taskRunId });
    expect(slowEnd.reportsStart).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('refuses a negative startReportDelayMs', () => {
    expect(() => createWorker({ queue, group: 'default', storage, registries, secrets: {}, startReportDelayMs: -1 })).toThrow(/startReportDelayMs must be an integer >= 0/);
  });

  it('fails a task of an unknown type without crashing', async () => {
    const worker = await startWorker();
    const j = job({ id: 'mystery', type: 'io.example.DoesNotExist' });
    await queue.enqueueTask('default', j);
    const end = await ended(j);
    expect(end.state).toBe('FAILED');
    expect(end.error?.code).toBe('SLU_PLUGIN_UNKNOWN_TYPE');
    expect(end.error?.message).toContain('io.example.DoesNotExist');
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['started', 'ended']);
    expect(linesOf(j.executionId)).toContainEqual(expect.objectContaining({ level: 'ERROR', message: end.error?.message }));

    // The worker goes on taking jobs.
    const next = job(logTask('after', 'still here'));
    await queue.enqueueTask('default', next);
    expect((await ended(next)).state).toBe('SUCCESS');
    await vi.waitFor(() => expect(worker.running).toBe(0), WAIT);
  });

  it('fails a task that exceeds its timeout', async () => {
    await startWorker();
    const j = job(shell('slow', ['sleep 30'], { timeout: 'PT1S' }));
    await queue.enqueueTask('default', j);
    const end = await ended(j);
    expect(end.state).toBe('FAILED');
    expect(end.error?.code).toBe('SLU_TASK_TIMEOUT');
    await vi.waitFor(async () => expect(await processesUnder(workRoot)).toEqual([]), WAIT);
  });

  it('serves only its own worker group', async () => {
    await startWorker({ group: 'gpu' });
    const forDefault = job(logTask('cpu', 'default group'));
    const forGpu = job(logTask('gpu', 'gpu group'), { workerGroup: 'gpu' });
    await queue.enqueueTask('default', forDefault);
    await queue.enqueueTask('gpu', forGpu);
    expect((await ended(forGpu)).state).toBe('SUCCESS');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(resultsOf(forDefault.executionId)).toEqual([]);
    expect(await queue.pendingTasks('default')).toBe(1);
  });

  it('serves every group with ALL_WORKER_GROUPS', async () => {
    await startWorker({ group: ALL_WORKER_GROUPS });
    const forDefault = job(logTask('cpu', 'default group'));
    const forGpu = job(logTask('gpu', 'gpu group'), { workerGroup: 'gpu' });
    await queue.enqueueTask('default', forDefault);
    await queue.enqueueTask('gpu', forGpu);
    expect((await ended(forDefault)).state).toBe('SUCCESS');
    expect((await ended(forGpu)).state).toBe('SUCCESS');
  });

  it('runs jobs concurrently up to its concurrency', async () => {
    const worker = await startWorker({ concurrency: 2 });
    const jobs = [job(shell('a', ['sleep 1'])), job(shell('b', ['sleep 1'])), job(shell('c', ['sleep 1']))];
    for (const j of jobs) await queue.enqueueTask('default', j);
    await vi.waitFor(() => expect(worker.running).toBe(2), WAIT);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(worker.running).toBe(2);
    for (const j of jobs) expect((await ended(j)).state).toBe('SUCCESS');
  });

  it('stop() lets an in-flight job finish and publish its result', async () => {
    const worker = await startWorker();
    const j = job(shell('short', ['sleep 1', 'echo done']));
    await queue.enqueueTask('default', j);
    await vi.waitFor(() => expect(worker.running).toBe(1), WAIT);

    await worker.stop({ graceMs: 10_000 });
    // Published before stop() resolved.
    expect(events).toContainEqual(expect.objectContaining({ type: 'ended', state: 'SUCCESS', job: j }));
    expect(worker.running).toBe(0);
    expect((await ended(j)).state).toBe('SUCCESS');
    expect(linesOf(j.executionId).map((l) => l.message)).toContain('done');

    // It takes no more jobs.
    const later = job(logTask('later', 'too late'));
    await queue.enqueueTask('default', later);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(resultsOf(later.executionId)).toEqual([]);
  });

  it('stop() hands back a job still running after the grace period, without a result', async () => {
    const worker = await startWorker();
    const j = job(shell('long', ['echo begun', 'sleep 30']));
    await queue.enqueueTask('default', j);
    await vi.waitFor(async () => {
      expect(linesOf(j.executionId).map((l) => l.message)).toContain('begun');
      expect((await processesUnder(workRoot)).length).toBeGreaterThan(0);
    }, WAIT);

    const before = Date.now();
    await worker.stop({ graceMs: 300 });
    expect(Date.now() - before).toBeLessThan(8000);
    expect(events).toContainEqual({ type: 'handed-back', job: j });
    expect(await processesUnder(workRoot)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['started']);
  });

  it('heartbeats to the API registry while running and deregisters on stop', async () => {
    const requests: { method: string; url: string; authorization: string | undefined; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const worker = await startWorker({
        workerId: 'w-1',
        group: 'gpu',
        concurrency: 3,
        heartbeatIntervalMs: 50,
        registry: createHttpWorkerRegistry({ apiUrl, token: 'worker-token' }),
      });
      expect(requests[0]).toEqual({
        method: 'PUT',
        url: '/api/v1/internal/workers/w-1',
        authorization: 'Bearer worker-token',
        body: JSON.stringify({ group: 'gpu', concurrency: 3, running: 0 }),
      });
      await vi.waitFor(() => expect(requests.filter((r) => r.method === 'PUT').length).toBeGreaterThanOrEqual(3), WAIT);
      await worker.stop();
      expect(requests.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/v1/internal/workers/w-1', authorization: 'Bearer worker-token' });
      const count = requests.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(requests.length).toBe(count);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('heartbeat failures (503 while the API\'s database is down, then no API at all) are transient: reported at most every 30 s, retried, the worker keeps working', async () => {
    let mode: 'ok' | 'unavailable' | 'reset' = 'ok';
    let puts = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'PUT') puts++;
        if (mode === 'reset') return void req.socket.destroy();
        res.statusCode = mode === 'ok' ? 204 : 503;
        if (mode === 'unavailable') {
          res.setHeader('retry-after', '5');
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ code: 'SLU_DB_UNAVAILABLE', message: 'cannot reach the database: connection refused', details: {} }));
        } else res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const worker = await startWorker({ heartbeatIntervalMs: 20, registry: createHttpWorkerRegistry({ apiUrl, token: 'worker-token' }) });
      const heartbeatErrors = (): { error: unknown; context: string }[] => errors.filter((e) => e.context.startsWith('heartbeat'));
      mode = 'unavailable';
      const before = puts;
      await vi.waitFor(() => expect(puts - before).toBeGreaterThanOrEqual(5), WAIT);
      mode = 'reset';
      const during = puts;
      await vi.waitFor(() => expect(puts - during).toBeGreaterThanOrEqual(5), WAIT);
      // Ten failed heartbeats and more, one report: the first, called transient, with the API's answer.
      expect(heartbeatErrors()).toHaveLength(1);
      expect(heartbeatErrors()[0]?.context).toMatch(/^heartbeat to the Sluice API failed \(transient, first failure: retrying every 20 ms/);
      expect(String(heartbeatErrors()[0]?.error)).toContain('HTTP 503');
      // The worker still runs jobs meanwhile.
      const j = job(logTask('still', 'still working'));
      await queue.enqueueTask('default', j);
      expect(await ended(j)).toMatchObject({ state: 'SUCCESS' });
      await vi.waitFor(() => expect(worker.running).toBe(0), WAIT);
      // Back: heartbeats succeed again; the next outage is reported at once.
      mode = 'ok';
      const back = puts;
      await vi.waitFor(() => expect(puts - back).toBeGreaterThanOrEqual(3), WAIT);
      mode = 'unavailable';
      await vi.waitFor(() => expect(heartbeatErrors()).toHaveLength(2), WAIT);
      mode = 'ok';
      await worker.stop();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('start() rejects with a clear message when the API refuses the worker', async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: 'SLU_API_UNAUTHORIZED', message: 'a valid worker token is required', details: {} }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const worker = createWorker({
        queue,
        group: 'default',
        storage,
        registries,
        secrets: {},
        registry: createHttpWorkerRegistry({ apiUrl, token: 'wrong' }),
      });
      const error = await worker.start().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toContain('could not register with the Sluice API');
      expect(error?.message).toContain(apiUrl);
      expect(error?.message).toContain('401');
      expect(error?.message).toContain('a valid worker token is required');
      expect(error?.message).toContain('SLUICE_API_URL');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('start() names the API URL when nothing answers there', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const worker = createWorker({
      queue,
      group: 'default',
      storage,
      registries,
      secrets: {},
      registry: createHttpWorkerRegistry({ apiUrl, token: 't' }),
    });
    await expect(worker.start()).rejects.toThrow(`could not register with the Sluice API: cannot reach the Sluice API at ${apiUrl}`);
  });

  it('refuses bad options', () => {
    expect(() => createWorker({ queue, group: 'default', storage, registries, secrets: {}, concurrency: 0 })).toThrow(/concurrency must be a positive integer/);
    expect(() => createWorker({ queue, group: '', storage, registries, secrets: {} })).toThrow(/group/);
    const generated = createWorker({ queue, group: 'default', storage, registries, secrets: {} });
    expect(generated.id).toMatch(/^.+-\d+-[0-9a-f]{4}$/);
  });
});

/** The real queue with some of its methods replaced. */
function queueWith(overrides: Partial<QueueDriver>): QueueDriver {
  return new Proxy(queue, {
    get: (target, property, receiver) => {
      if (property in overrides) return overrides[property as keyof QueueDriver];
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('createWorker: follow-on tasks (TaskJob.next)', () => {
  it('queues the next task itself when a run ends SUCCESS, with the variables the scheduler would give it', async () => {
    await startWorker();
    const a = shell('a', ['echo \'::{"outputs":{"n":41}}::\'']);
    const b = shell('b', ['echo "b sees {{ outputs.a.vars.n }} as {{ taskrun.id }} in {{ execution.state }}"']);
    const c = logTask('c', 'c sees {{ outputs.b.exitCode }} after {{ outputs.a.vars.n }}');
    const taken: TaskJob[] = [];
    const spied = new Proxy(queue, {
      get: (target, property) => {
        if (property === 'enqueueTask') {
          const enqueue: QueueDriver['enqueueTask'] = async (group, queued, options) => {
            taken.push(queued);
            expect(options).toEqual({ dedupId: `${queued.taskRunId}-1` });
            return target.enqueueTask(group, queued, options);
          };
          return enqueue;
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await workers[0]?.stop({ graceMs: 1000 });
    workers.length = 0;
    await startWorker({ queue: spied });
    const first = job(a, { next: [b, c], variables: { ...job(a).variables, execution: { id: 'x', state: 'RETRYING' }, outputs: { a: { vars: { m: 1 } }, z: { exitCode: 0 } } } });
    await queue.enqueueTask('default', first);

    const endA = await ended(first);
    const bRun = followOnRunId(first.taskRunId, 1);
    expect(endA).toMatchObject({ state: 'SUCCESS', next: { taskRunId: bRun, taskId: 'b', createdAt: endA.endedAt } });
    const endB = await vi.waitFor(() => {
      const found = results.find((r) => r.type === 'ended' && r.taskRunId === bRun);
      if (!found || found.type !== 'ended') throw new Error('b has not ended yet');
      return found;
    }, WAIT);
    const cRun = followOnRunId(bRun, 1);
    expect(endB).toMatchObject({ taskId: 'b', attempt: 1, state: 'SUCCESS', next: { taskRunId: cRun, taskId: 'c' } });
    await vi.waitFor(() => expect(results.some((r) => r.type === 'ended' && r.taskRunId === cRun && r.state === 'SUCCESS')).toBe(true), WAIT);
    const cEnd = results.find((r) => r.type === 'ended' && r.taskRunId === cRun);
    expect(cEnd).toBeDefined();
    expect(cEnd).not.toHaveProperty('next');

    // The jobs it queued: b with c to follow, then c alone; outputs merged into what the task's earlier runs left.
    expect(taken.map((t) => [t.taskId, t.taskRunId, (t.next ?? []).map((n) => n.id)])).toEqual([
      ['b', bRun, ['c']],
      ['c', cRun, []],
    ]);
    const bJob = taken[0] as TaskJob;
    expect(bJob).toMatchObject({ executionId: first.executionId, attempt: 1, workerGroup: 'default', queuedAt: endA.endedAt, task: b });
    expect(bJob.variables).toEqual({
      ...first.variables,
      outputs: { a: { vars: { m: 1, n: 41 }, exitCode: 0, outputFiles: {}, stdOutLineCount: 1, stdErrLineCount: 0 }, z: { exitCode: 0 } },
      execution: { id: 'x', state: 'RUNNING' },
      taskrun: { id: bRun, startDate: endA.endedAt },
    });
    const lines = linesOf(first.executionId).map((l) => l.message);
    expect(lines).toContain(`b sees 41 as ${bRun} in RUNNING`);
    expect(lines).toContain('c sees 0 after 41');
  });

  it('queues the follow-on after a WARNING too (the execution goes on after one)', async () => {
    await startWorker();
    const warned = job(shell('a', ['echo careful >&2']), { next: [logTask('b', 'b ran')] });
    await queue.enqueueTask('default', warned);
    const end = await ended(warned);
    const bRun = followOnRunId(warned.taskRunId, 1);
    expect(end).toMatchObject({ state: 'WARNING', next: { taskRunId: bRun, taskId: 'b' } });
    await vi.waitFor(() => expect(results.some((r) => r.type === 'ended' && r.taskRunId === bRun && r.state === 'SUCCESS')).toBe(true), WAIT);
    expect(results.find((r) => r.type === 'ended' && r.taskRunId === bRun)).toMatchObject({ after: warned.taskRunId });
  });

  it('queues nothing after a run that did not succeed, nor for a child run', async () => {
    await startWorker();
    const failing = job(shell('a', ['exit 3']), { next: [logTask('b', 'never')] });
    await queue.enqueueTask('default', failing);
    const end = await ended(failing);
    expect(end.state).toBe('FAILED');
    expect(end).not.toHaveProperty('next');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(results.filter((r) => r.taskRunId === followOnRunId(failing.taskRunId, 1))).toEqual([]);
    expect(linesOf(failing.executionId).map((l) => l.message)).not.toContain('never');
  });
});

describe('createWorker when the queue fails', () => {
  it('retries a failed publish and reports each failure', async () => {
    // The real queue, with the first publish of each kind failing (a Redis blip).
    const failing = new Set(['publishResult', 'publishLogs']);
    const overrides: Partial<QueueDriver> = {
      publishResult: async (message: ResultMessage) => {
        if (failing.delete('publishResult')) throw new Error('connection lost');
        await queue.publishResult(message);
      },
      publishLogs: async (batch: LogBatch) => {
        if (failing.delete('publishLogs')) throw new Error('connection lost');
        await queue.publishLogs(batch);
      },
    };
    await startWorker({ queue: queueWith(overrides) });
    // Long enough for its first line to go on `logs` (flushed after 100 ms); the last one comes with the end.
    const j = job(shell('hello', ['echo "Hello {{ inputs.name }}"', 'sleep 0.4', 'echo bye']));
    await queue.enqueueTask('default', j);
    expect((await ended(j)).state).toBe('SUCCESS');
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['started', 'ended']);
    await vi.waitFor(() => expect(linesOf(j.executionId).map((l) => l.message)).toEqual(['Hello Ada', 'bye']), WAIT);
    expect(errors.map((e) => e.context)).toEqual([
      `publishing the started result of task run ${j.taskRunId} failed (attempt 1 of 4, retrying)`,
      `publishing 1 log lines of execution ${j.executionId} failed (attempt 1 of 4, retrying)`,
    ]);
  });

  /**
   * A driver whose lease does not say whether the execution was killed (the contract lets it): the worker then asks
   * `isKilled` on its own, while it prepares the task.
   */
  const leaseWithoutKill: Partial<QueueDriver> = {
    acquireTaskLease: async (...args: Parameters<QueueDriver['acquireTaskLease']>) => {
      const answer = await queue.acquireTaskLease(...args);
      return answer.acquired ? { acquired: true } : answer;
    },
  };

  /** The real queue, with a kill check that answers after 300 ms (and a lease that does not answer it). */
  const slowKillCheck = (): QueueDriver =>
    queueWith({
      ...leaseWithoutKill,
      isKilled: async (executionId: string) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return queue.isKilled(executionId);
      },
    });

  it('learns from the lease that the execution was killed, asks nothing more, and starts no command', async () => {
    const marker = join(root, 'ran');
    const j = job(shell('touch', [`touch ${marker}`]));
    await queue.killExecution(j.executionId);
    let asked = 0;
    await startWorker({
      queue: queueWith({
        isKilled: async (executionId: string) => {
          asked++;
          return queue.isKilled(executionId);
        },
      }),
    });
    await queue.enqueueTask('default', j);
    expect(await ended(j)).toMatchObject(KILLED_BEFORE_START);
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['ended']);
    expect(existsSync(marker)).toBe(false);
    // And one not killed runs, with no separate kill check either.
    const other = job(shell('touch', [`touch ${marker}`]));
    await queue.enqueueTask('default', other);
    expect((await ended(other)).state).toBe('SUCCESS');
    expect(existsSync(marker)).toBe(true);
    expect(asked).toBe(0);
  });

  it.each([0, 50])('prepares the task during a slow kill check but starts no command when it says killed (start report delay %i ms)', async (startReportDelayMs) => {
    // Killed before the worker subscribed to kills: only the check can stop the task. It answers after the
    // working directory is ready and after the start report delay.
    const marker = join(root, 'ran');
    const j = job(shell('touch', [`touch ${marker}`]));
    await queue.killExecution(j.executionId);
    await startWorker({ startReportDelayMs, queue: slowKillCheck() });
    await queue.enqueueTask('default', j);
    await vi.waitFor(async () => expect(await readdir(workRoot)).toHaveLength(1), WAIT);
    expect(resultsOf(j.executionId)).toEqual([]);

    const end = await ended(j);
    expect(end).toMatchObject(KILLED_BEFORE_START);
    expect(end.startedAt).toBe(end.endedAt);
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['ended']);
    expect(linesOf(j.executionId)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    await vi.waitFor(async () => expect(await leftUnder(workRoot)).toEqual([]), WAIT);
  });

  it('reports a job killed by a broadcast during a slow kill check as killed before it started, without log lines', async () => {
    const marker = join(root, 'ran');
    await startWorker({ queue: slowKillCheck() });
    const j = job(shell('touch', [`touch ${marker}`]));
    await queue.enqueueTask('default', j);
    await vi.waitFor(() => expect(events).toContainEqual(expect.objectContaining({ type: 'taken', job: j })), WAIT);
    await queue.killExecution(j.executionId);

    const end = await ended(j);
    expect(end).toMatchObject(KILLED_BEFORE_START);
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['ended']);
    expect(linesOf(j.executionId)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });

  it('runs the task when the kill check cannot be done', async () => {
    await startWorker({
      queue: queueWith({
        ...leaseWithoutKill,
        isKilled: () => Promise.reject(new Error('connection lost')),
      }),
    });
    const marker = join(root, 'ran');
    const j = job(shell('touch', [`touch ${marker}`]));
    await queue.enqueueTask('default', j);
    expect((await ended(j)).state).toBe('SUCCESS');
    expect(resultsOf(j.executionId).map((r) => r.type)).toEqual(['started', 'ended']);
    expect(existsSync(marker)).toBe(true);
    expect(errors.map((e) => e.context)).toEqual(
      [1, 2, 3, 4].map((n) => `checking whether execution ${j.executionId} was killed failed (attempt ${n} of 4, ${n === 4 ? 'giving up' : 'retrying'})`),
    );
  });
});
