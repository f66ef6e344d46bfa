/**
 * The internal execution routes workers use for `log.Fetch` and `execution.Resume` (routes/internal-executions.ts):
 * only the worker token opens them; logs come a page at a time, filtered by level and tasks; a resume stores its
 * inputs as given and hands the execution to the scheduler. On real Postgres, without a scheduler: the PAUSED state
 * is written straight into the database, as the scheduler leaves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewLogEntry } from '@sluice/db';
import { createFlows, legacyPauseFlow, seedExecution, startApi } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const API_TOKEN = 'user-token';
const WORKER_TOKEN = 'worker-token';
const api = await startApi({ apiToken: API_TOKEN, workerToken: WORKER_TOKEN, databasePrefix: 'sluice_api_internal_exec' });

const APPROVAL = `id: approval
namespace: internal.ns
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: count
        type: INT
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.approve.onResume.count }}"
`;

interface LogLineBody {
  executionId: string;
  taskId?: string;
  level: string;
  message: string;
  timestamp: string;
  [key: string]: unknown;
}

interface PageBody {
  results: LogLineBody[];
  next?: string;
}

describe.skipIf(!api)('internal execution routes (workers)', () => {
  let a: ApiFixture;
  beforeAll(async () => {
    a = api!;
    await createFlows(a, [APPROVAL, legacyPauseFlow('internal.ns')]);
  });
  afterAll(async () => {
    await api?.close();
  });

  const worker = (path: string, init: RequestInit = {}): Promise<Response> =>
    a.fetch(`/api/v1/internal${path}`, { ...init, headers: { authorization: `Bearer ${WORKER_TOKEN}`, ...(init.headers as Record<string, string> | undefined) } });

  /** A new execution of `flowId`, PAUSED at its first task `pausedTask` (as the scheduler leaves it). */
  const paused = (flowId: string, pausedTask: string): Promise<string> =>
    seedExecution(a, 'internal.ns', flowId, 'PAUSED', [{ id: pausedTask, taskId: pausedTask, state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] }]);

  const execution = async (id: string): Promise<{ state: { current: string }; taskRunList: { taskId: string; state: { current: string }; outputs?: unknown }[] }> =>
    (await (await a.fetch(`/api/v1/executions/${id}`)).json()) as never;

  it('refuse requests without the worker token: none, a wrong one, or the user token', async () => {
    const id = await paused('approval', 'approve');
    for (const [method, path] of [
      ['GET', `/executions/${id}`],
      ['GET', `/executions/${id}/logs`],
      ['POST', `/executions/${id}/resume`],
    ] as const) {
      for (const authorization of ['', 'Bearer wrong', `Bearer ${API_TOKEN}`]) {
        const response = await a.fetch(`/api/v1/internal${path}`, { method, headers: { authorization } });
        expect(response.status, `${method} ${path} with "${authorization}"`).toBe(401);
        expect(await response.json()).toMatchObject({ code: 'SLU_API_UNAUTHORIZED', details: { scope: 'internal' } });
      }
    }
    // Nothing was resumed.
    expect((await execution(id)).state.current).toBe('PAUSED');
    expect(a.queue.events.filter((e) => e.type === 'executionRestarted')).toEqual([]);
  });

  it('GET /internal/executions/{id}: its id, flow and state; 404 for an unknown one', async () => {
    const id = await paused('approval', 'approve');
    const response = await worker(`/executions/${id}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id, namespace: 'internal.ns', flowId: 'approval', state: 'PAUSED' });
    const unknown = await worker('/executions/nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_FOUND', details: { id: 'nope', params: { id: 'nope' } } });
  });

  describe('GET /internal/executions/{id}/logs', () => {
    const executionId = 'logs-exec';
    const t0 = Date.UTC(2026, 0, 1);
    const tasks = ['a', 'b', 'c'];
    const levels = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
    // 2,500 lines; two lines share each millisecond, so pages must split by id within a timestamp.
    const lines: NewLogEntry[] = Array.from({ length: 2500 }, (_, n) => ({
      executionId,
      namespace: 'internal.ns',
      flowId: 'approval',
      taskId: tasks[n % 3]!,
      taskRunId: `tr-${tasks[n % 3]!}`,
      attemptNumber: 1,
      level: levels[n % 4]!,
      message: `line ${n}`,
      timestamp: new Date(t0 + Math.floor(n / 2)),
    }));
    // Stored out of order: the pages follow the timestamps, then the order of storage within one timestamp.
    const stored = [...lines].reverse();
    const ordered = [...stored].sort((x, y) => x.timestamp.getTime() - y.timestamp.getTime());
    beforeAll(async () => {
      await a.db.logs.append(stored);
      await a.db.logs.append([{ executionId: 'other', namespace: 'internal.ns', flowId: 'approval', level: 'ERROR', message: 'not this one', timestamp: new Date(t0) }]);
    });

    /** Every page from the first, following `next`. */
    async function pages(query: string): Promise<PageBody[]> {
      const all: PageBody[] = [];
      let after: string | undefined;
      do {
        const response = await worker(`/executions/${executionId}/logs?${query}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`);
        expect(response.status, await response.clone().text()).toBe(200);
        const page = (await response.json()) as PageBody;
        all.push(page);
        after = page.next;
        expect(all.length).toBeLessThan(20);
      } while (after !== undefined);
      return all;
    }

    it('pages every line by time, whole pages with a cursor to the next one, the last without', async () => {
      const all = await pages('size=1000');
      expect(all.map((p) => p.results.length)).toEqual([1000, 1000, 500]);
      expect(all.slice(0, 2).every((p) => typeof p.next === 'string')).toBe(true);
      const messages = all.flatMap((p) => p.results.map((l) => l.message));
      expect(messages).toEqual(ordered.map((l) => l.message));
      expect(messages.slice(0, 4)).toEqual(['line 1', 'line 0', 'line 3', 'line 2']);
      expect(all[0]!.results[0]).toEqual({
        namespace: 'internal.ns',
        flowId: 'approval',
        executionId,
        taskId: 'b',
        taskRunId: 'tr-b',
        attemptNumber: 1,
        timestamp: new Date(t0).toISOString(),
        level: 'INFO',
        message: 'line 1',
      });
      // The default page is 1000 lines.
      expect(((await (await worker(`/executions/${executionId}/logs`)).json()) as PageBody).results).toHaveLength(1000);
    });

    it('filters by the lowest level and by several tasks (taskId repeated)', async () => {
      const warn = (await pages('minLevel=WARN&size=400')).flatMap((p) => p.results);
      expect(warn.map((l) => l.message)).toEqual(ordered.filter((l) => l.level === 'WARN' || l.level === 'ERROR').map((l) => l.message));
      const ac = (await pages('taskId=a&taskId=c&minLevel=ERROR&size=100')).flatMap((p) => p.results);
      expect(ac.map((l) => l.message)).toEqual(ordered.filter((l) => l.level === 'ERROR' && l.taskId !== 'b').map((l) => l.message));
      const one = (await pages('taskId=b&size=10000')).flatMap((p) => p.results);
      expect(one).toHaveLength(lines.filter((l) => l.taskId === 'b').length);
    });

    it('has no lines for an unknown execution, and refuses a bad level, size or cursor', async () => {
      expect(await (await worker('/executions/nope/logs')).json()).toEqual({ results: [] });
      for (const query of ['minLevel=LOUD', 'size=0', 'size=10001', 'after=yesterday']) {
        const response = await worker(`/executions/${executionId}/logs?${query}`);
        expect(response.status, query).toBe(400);
      }
      expect(await (await worker(`/executions/${executionId}/logs?after=x`)).json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST', message: expect.stringContaining('bad log cursor') });
    });
  });

  describe('POST /internal/executions/{id}/resume', () => {
    it('resumes the PAUSED run with its inputs as given (neither checked nor typed) and hands the execution to the scheduler', async () => {
      const id = await paused('approval', 'approve');
      const events = a.queue.events.length;
      const response = await worker(`/executions/${id}/resume`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: { count: 'not a number', extra: { nested: [1, 'two'] } } }),
      });
      expect(response.status, await response.clone().text()).toBe(204);
      const resumed = await execution(id);
      expect(resumed.state.current).toBe('RESTARTED');
      expect(resumed.taskRunList).toEqual([
        expect.objectContaining({ taskId: 'approve', state: expect.objectContaining({ current: 'SUCCESS' }), outputs: { onResume: { count: 'not a number', extra: { nested: [1, 'two'] } } } }),
      ]);
      expect(a.queue.events.slice(events)).toEqual([{ type: 'executionRestarted', event: { executionId: id, namespace: 'internal.ns', flowId: 'approval' } }]);

      // Resumed: no longer PAUSED.
      const again = await worker(`/executions/${id}/resume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_PAUSED', details: { id, state: 'RESTARTED', params: { id, state: 'RESTARTED' } } });
    });

    it('without inputs leaves the outputs alone; a Pause with legacy tasks goes on RUNNING', async () => {
      const id = await paused('approval', 'approve');
      expect((await worker(`/executions/${id}/resume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(204);
      const approve = (await execution(id)).taskRunList[0]!;
      expect(approve.state.current).toBe('SUCCESS');
      expect(approve.outputs ?? {}).toEqual({});

      const legacy = await paused('legacy', 'wait');
      expect((await worker(`/executions/${legacy}/resume`, { method: 'POST' })).status).toBe(204);
      expect((await execution(legacy)).taskRunList[0]!.state.current).toBe('RUNNING');
    });

    it('404 for an unknown execution; 400 for inputs that cannot be stored or are not a map; nothing changes', async () => {
      const id = await paused('approval', 'approve');
      const events = a.queue.events.length;
      expect((await worker('/executions/nope/resume', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
      const nul = await worker(`/executions/${id}/resume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: { note: 'a\u0000b' } }) });
      expect(nul.status).toBe(400);
      expect(await nul.json()).toMatchObject({ code: 'SLU_API_INVALID_CHARACTER', details: { field: 'inputs.note' } });
      const list = await worker(`/executions/${id}/resume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [1] }) });
      expect(list.status).toBe(400);
      expect((await execution(id)).state.current).toBe('PAUSED');
      expect(a.queue.events.length).toBe(events);
    });
  });
});
