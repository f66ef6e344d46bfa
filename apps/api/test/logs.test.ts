import { Writable } from 'node:stream';
import type { Db, NewLogEntry, StoredExecution } from '@sluice/db';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { logRoutes } from '../src/index.js';
import { startApi } from './fixture.js';

const api = await startApi();

interface SseEvent {
  /** The `event:` name; `message` when there is none (what an EventSource dispatches to `onmessage`). */
  event: string;
  /** The `id:` (Kestra's kind of event: `progress`, `end`). */
  id?: string;
  /** The parsed `data:`; absent for an event with no data (which an EventSource does not dispatch). */
  data?: unknown;
}

/** A real SSE client: fetch, then read the body stream and parse `event:` / `id:` / `data:` blocks (comments counted apart). */
async function openSse(url: string): Promise<{ response: Response; next(timeoutMs?: number): Promise<SseEvent | undefined>; comments: string[]; close(): Promise<void> }> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  const comments: string[] = [];
  if (!response.body) throw new Error('no body');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = false;
  const parse = (block: string): SseEvent | undefined => {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length === 0 && id === undefined) return undefined;
    return { event, ...(id === undefined ? {} : { id }), ...(data.length === 0 ? {} : { data: JSON.parse(data.join('\n')) as unknown }) };
  };
  return {
    response,
    comments,
    /** The next event, or undefined when the stream has ended. */
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parse(block);
          if (event) return event;
          end = buffer.indexOf('\n\n');
        }
        if (done) return undefined;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no SSE event within ${timeoutMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no SSE event within ${timeoutMs} ms`)), remaining);
          }),
        ]).finally(() => clearTimeout(timer));
        if (chunk.done) done = true;
        else buffer += decoder.decode(chunk.value, { stream: true });
      }
    },
    async close() {
      controller.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
}

const t0 = Date.parse('2025-03-01T10:00:00.000Z');
function lines(executionId: string, specs: readonly [number, NewLogEntry['level'], string | null, string][]): NewLogEntry[] {
  return specs.map(([offset, level, taskId, message]) => ({
    executionId,
    namespace: 'logs.ns',
    flowId: 'f',
    taskId,
    taskRunId: taskId === null ? null : `tr-${taskId}`,
    attemptNumber: taskId === null ? null : 1,
    level,
    message,
    timestamp: new Date(t0 + offset),
  }));
}

async function newExecution(db: Db): Promise<StoredExecution> {
  return db.executions.create({ namespace: 'logs.ns', flowId: 'f', flowRevision: 1 });
}

describe.skipIf(!api)('log endpoints', () => {
  const fixture = api!;
  afterAll(async () => {
    await fixture.close();
  });

  it('answers 404 for an unknown execution on every endpoint, before any streaming', async () => {
    for (const path of ['/api/v1/logs/nope', '/api/v1/logs/nope/download', '/api/v1/logs/nope/follow', '/api/v1/executions/nope/follow']) {
      const response = await fixture.fetch(path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      expect(await response.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_FOUND', details: { id: 'nope' } });
    }
  });

  it('lists lines in Kestra shape, oldest first, filtered by minLevel, taskId and taskRunId', async () => {
    const execution = await newExecution(fixture.db);
    await fixture.db.logs.append(
      lines(execution.id, [
        [30, 'ERROR', 'b', 'boom'],
        [10, 'DEBUG', 'a', 'details'],
        [20, 'INFO', null, 'flow line'],
        [0, 'INFO', 'a', 'hello'],
        [25, 'WARN', 'b', 'careful'],
      ]),
    );
    const all = await fixture.fetch(`/api/v1/logs/${execution.id}`);
    expect(all.status).toBe(200);
    const body = (await all.json()) as Record<string, unknown>[];
    expect(body.map((l) => l.message)).toEqual(['hello', 'details', 'flow line', 'careful', 'boom']);
    expect(body[0]).toEqual({
      namespace: 'logs.ns',
      flowId: 'f',
      executionId: execution.id,
      taskId: 'a',
      taskRunId: 'tr-a',
      attemptNumber: 1,
      timestamp: '2025-03-01T10:00:00.000Z',
      level: 'INFO',
      message: 'hello',
      deleted: false,
    });
    // A line of the execution itself: no task fields, but attemptNumber always there (Kestra writes it, null); no
    // thread or triggerId, which Kestra leaves out when it has none.
    expect(body[2]).not.toHaveProperty('taskId');
    expect(body[2]).not.toHaveProperty('taskRunId');
    expect(body[2]).toMatchObject({ attemptNumber: null, deleted: false });
    expect(body[2]).not.toHaveProperty('thread');
    expect(body[2]).not.toHaveProperty('triggerId');

    const messages = async (query: string): Promise<unknown[]> =>
      ((await (await fixture.fetch(`/api/v1/logs/${execution.id}?${query}`)).json()) as { message: string }[]).map((l) => l.message);
    expect(await messages('minLevel=WARN')).toEqual(['careful', 'boom']);
    expect(await messages('minLevel=INFO')).toEqual(['hello', 'flow line', 'careful', 'boom']);
    expect(await messages('minLevel=TRACE')).toHaveLength(5);
    expect(await messages('taskId=a')).toEqual(['hello', 'details']);
    expect(await messages('taskId=a&minLevel=INFO')).toEqual(['hello']);
    expect(await messages('taskRunId=tr-b')).toEqual(['careful', 'boom']);

    const bad = await fixture.fetch(`/api/v1/logs/${execution.id}?minLevel=LOUD`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });
    expect(await (await fixture.fetch(`/api/v1/logs/${(await newExecution(fixture.db)).id}`)).json()).toEqual([]);
  });

  it('searches log lines by namespace (exact or parent), flowId, executionId, taskId, minLevel, q and dates, newest first, paged', async () => {
    const one = await fixture.db.executions.create({ namespace: 'search.ns', flowId: 'etl', flowRevision: 1 });
    const two = await fixture.db.executions.create({ namespace: 'search.ns.child', flowId: 'load', flowRevision: 1 });
    const other = await fixture.db.executions.create({ namespace: 'search.nsx', flowId: 'etl', flowRevision: 1 });
    const at = (execution: StoredExecution, ms: number, level: NewLogEntry['level'], taskId: string | null, message: string): NewLogEntry => ({
      executionId: execution.id,
      namespace: execution.namespace,
      flowId: execution.flowId,
      taskId,
      taskRunId: taskId === null ? null : `tr-${taskId}`,
      attemptNumber: taskId === null ? null : 0,
      level,
      message,
      timestamp: new Date(Date.parse('2025-04-01T00:00:00.000Z') + ms),
    });
    await fixture.db.logs.append([
      at(one, 0, 'DEBUG', 'extract', 'Extracting rows'),
      at(one, 1000, 'INFO', 'extract', '50% done'),
      at(one, 2000, 'WARN', 'load', 'slow_query detected'),
      at(two, 3000, 'ERROR', 'load', 'slowXquery failed'),
      at(two, 4000, 'INFO', null, 'flow level'),
      at(other, 5000, 'ERROR', 'extract', 'not in search.ns'),
    ]);
    type Page = { results: Record<string, unknown>[]; total: number };
    const search = async (query: string): Promise<Page> => {
      const response = await fixture.fetch(`/api/v1/logs/search?${query}`);
      expect(response.status, query).toBe(200);
      return (await response.json()) as Page;
    };
    const messages = async (query: string): Promise<unknown[]> => (await search(query)).results.map((l) => l.message);

    const all = await search('namespace=search.ns&size=100');
    expect(all.total).toBe(5);
    expect(all.results.map((l) => l.message)).toEqual(['flow level', 'slowXquery failed', 'slow_query detected', '50% done', 'Extracting rows']);
    // Each result as GET /logs/{executionId} returns it.
    const [lineOfOne] = (await (await fixture.fetch(`/api/v1/logs/${one.id}?taskId=load`)).json()) as Record<string, unknown>[];
    expect(all.results[2]).toEqual(lineOfOne);
    expect(all.results[2]).toEqual({
      namespace: 'search.ns',
      flowId: 'etl',
      executionId: one.id,
      taskId: 'load',
      taskRunId: 'tr-load',
      attemptNumber: 0,
      timestamp: '2025-04-01T00:00:02.000Z',
      level: 'WARN',
      message: 'slow_query detected',
      deleted: false,
    });
    expect(all.results[0]).not.toHaveProperty('taskId');

    expect(await messages('namespace=search.ns.child')).toEqual(['flow level', 'slowXquery failed']);
    expect(await messages('namespace=search.nsx')).toEqual(['not in search.ns']);
    expect(await messages('namespace=search')).toHaveLength(6);
    expect(await messages('namespace=search.n')).toEqual([]);
    expect(await messages('namespace=search&flowId=etl')).toEqual(['not in search.ns', 'slow_query detected', '50% done', 'Extracting rows']);
    expect(await messages(`executionId=${two.id}`)).toEqual(['flow level', 'slowXquery failed']);
    expect(await messages('namespace=search&taskId=extract')).toEqual(['not in search.ns', '50% done', 'Extracting rows']);
    expect(await messages('namespace=search.ns&minLevel=WARN')).toEqual(['slowXquery failed', 'slow_query detected']);
    expect(await messages('namespace=search.ns&minLevel=TRACE')).toHaveLength(5);
    expect(await messages(`namespace=search&startDate=${encodeURIComponent('2025-04-01T00:00:01Z')}&endDate=${encodeURIComponent('2025-04-01T02:00:03+02:00')}`)).toEqual([
      'slowXquery failed',
      'slow_query detected',
      '50% done',
    ]);
    expect(await messages('namespace=search&endDate=2025-03-31')).toEqual([]);

    // q: case-insensitive, inside the message, `%` and `_` literal.
    expect(await messages('namespace=search&q=EXTRACTING')).toEqual(['Extracting rows']);
    expect(await messages('namespace=search&q=slow')).toEqual(['slowXquery failed', 'slow_query detected']);
    expect(await messages('namespace=search&q=slow_query')).toEqual(['slow_query detected']);
    expect(await messages(`namespace=search&q=${encodeURIComponent('50%')}`)).toEqual(['50% done']);
    expect(await messages(`namespace=search&q=${encodeURIComponent('%')}`)).toEqual(['50% done']);
    expect(await messages(`namespace=search&q=${encodeURIComponent('_')}`)).toEqual(['slow_query detected']);
    expect(await messages('namespace=search&q=')).toHaveLength(6); // empty: no filter

    // Paging: 1-based pages of `size` (default 10), the total over all pages.
    expect(await search('namespace=search&size=4')).toMatchObject({ total: 6, results: { length: 4 } });
    expect(await messages('namespace=search&size=4&page=2')).toEqual(['50% done', 'Extracting rows']);
    expect(await search('namespace=search&size=4&page=3')).toEqual({ results: [], total: 6 });
    expect(await search('namespace=search')).toMatchObject({ total: 6, results: { length: 6 } });
    expect((await search('namespace=search&size=1000')).total).toBe(6);
    expect(await search('namespace=nobody')).toEqual({ results: [], total: 0 });
  });

  it('refuses a bad minLevel, date, page or size with 400 SLU_API_BAD_REQUEST', async () => {
    const bad = async (query: string): Promise<Record<string, unknown>> => {
      const response = await fixture.fetch(`/api/v1/logs/search?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body, query).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });
      return body;
    };
    await bad('minLevel=LOUD');
    await bad('minLevel=info');
    expect(await bad('startDate=yesterday')).toMatchObject({ details: { in: 'query', parameter: 'startDate' } });
    expect(await bad('endDate=2025-13-45T00:00:00Z')).toMatchObject({ details: { parameter: 'endDate' } });
    expect(await bad('endDate=1700000000')).toMatchObject({ details: { parameter: 'endDate' } });
    await bad('size=0');
    await bad('size=1001');
    await bad('size=ten');
    await bad('page=0');
  });

  it('deletes the lines of an execution, all or those matching taskId, taskRunId, attempt and minLevel, and nothing else', async () => {
    const execution = await newExecution(fixture.db);
    const neighbour = await newExecution(fixture.db);
    const specs: [number, NewLogEntry['level'], string | null, string][] = [
      [0, 'DEBUG', 'a', 'a debug'],
      [1, 'ERROR', 'a', 'a error'],
      [2, 'INFO', 'b', 'b info'],
      [3, 'WARN', null, 'flow warn'],
    ];
    await fixture.db.logs.append([
      ...lines(execution.id, specs),
      { ...lines(execution.id, [[4, 'INFO', 'b', 'b retry']])[0]!, attemptNumber: 2 },
      ...lines(neighbour.id, specs),
    ]);
    const remove = async (query = ''): Promise<Response> => fixture.fetch(`/api/v1/logs/${execution.id}${query}`, { method: 'DELETE' });
    const left = async (id = execution.id): Promise<unknown[]> =>
      ((await (await fixture.fetch(`/api/v1/logs/${id}`)).json()) as { message: string }[]).map((l) => l.message);

    const byAttempt = await remove('?taskId=b&attempt=2');
    expect(byAttempt.status).toBe(200);
    expect(byAttempt.headers.get('content-type')).toMatch(/application\/json/);
    expect(await byAttempt.json()).toEqual({ deleted: 1 });
    expect(await left()).toEqual(['a debug', 'a error', 'b info', 'flow warn']);
    expect(await (await remove('?taskRunId=tr-b')).json()).toEqual({ deleted: 1 });
    expect(await (await remove('?taskId=a&minLevel=WARN')).json()).toEqual({ deleted: 1 });
    expect(await left()).toEqual(['a debug', 'flow warn']);
    expect(await (await remove('?taskId=nope')).json()).toEqual({ deleted: 0 });

    const bad = await remove('?minLevel=LOUD');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });
    expect((await remove('?attempt=-1')).status).toBe(400);
    expect((await remove('?attempt=x')).status).toBe(400);
    expect(await left()).toEqual(['a debug', 'flow warn']);

    expect(await (await remove()).json()).toEqual({ deleted: 2 });
    expect(await left()).toEqual([]);
    expect(await (await remove()).json()).toEqual({ deleted: 0 });
    // The other execution's lines, of the same tasks and levels, are all still there, and the execution itself too.
    expect(await left(neighbour.id)).toEqual(['a debug', 'a error', 'b info', 'flow warn']);
    expect(await fixture.db.executions.get(execution.id)).toBeDefined();

    const unknown = await fixture.fetch('/api/v1/logs/nope?minLevel=INFO', { method: 'DELETE' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_FOUND', details: { id: 'nope' } });
  });

  it('documents both endpoints in the OpenAPI document', async () => {
    const spec = (await (await fixture.fetch('/docs/json')).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; parameters?: { name: string; in: string }[] }>>;
    };
    const search = spec.paths['/api/v1/logs/search']?.get;
    expect(search?.tags).toEqual(['logs']);
    expect(search?.parameters?.map((p) => p.name).sort()).toEqual(
      ['endDate', 'executionId', 'flowId', 'minLevel', 'namespace', 'page', 'q', 'size', 'sort', 'startDate', 'taskId'].sort(),
    );
    const remove = spec.paths['/api/v1/logs/{executionId}']?.delete;
    expect(remove?.tags).toEqual(['logs']);
    expect(remove?.parameters?.map((p) => `${p.in}:${p.name}`).sort()).toEqual(
      ['path:executionId', 'query:attempt', 'query:minLevel', 'query:taskId', 'query:taskRunId'].sort(),
    );
  });

  it('downloads the log as text, one `timestamp level [taskId] message` line each, over several stream pages', async () => {
    const execution = await newExecution(fixture.db);
    await fixture.db.logs.append(lines(execution.id, [[5, 'WARN', null, 'second'], [0, 'INFO', 'a', 'first']]));
    const many = Array.from({ length: 2500 }, (_, n): [number, NewLogEntry['level'], string | null, string] => [100 + n, 'DEBUG', 'bulk', `n${n}`]);
    await fixture.db.logs.append(lines(execution.id, many));
    const response = await fixture.fetch(`/api/v1/logs/${execution.id}/download`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${execution.id}.log"`);
    const text = await response.text();
    const textLines = text.split('\n');
    expect(textLines.slice(0, 3)).toEqual([
      '2025-03-01T10:00:00.000Z INFO [a] first',
      '2025-03-01T10:00:00.005Z WARN second',
      '2025-03-01T10:00:00.100Z DEBUG [bulk] n0',
    ]);
    expect(textLines).toHaveLength(2503); // 2502 lines and the final newline
    expect(textLines[2501]).toBe('2025-03-01T10:00:02.599Z DEBUG [bulk] n2499');

    const filtered = await (await fixture.fetch(`/api/v1/logs/${execution.id}/download?minLevel=INFO`)).text();
    expect(filtered).toBe('2025-03-01T10:00:00.000Z INFO [a] first\n2025-03-01T10:00:00.005Z WARN second\n');
  });

  it('follows a log: stored lines, then lines appended while the stream is open, then an `end` with no data once the execution has ended', async () => {
    const execution = await newExecution(fixture.db);
    await fixture.db.logs.append(lines(execution.id, [[0, 'INFO', 'a', 'one'], [1, 'DEBUG', 'a', 'two']]));
    const sse = await openSse(`${fixture.url}/api/v1/logs/${execution.id}/follow`);
    expect(sse.response.status).toBe(200);
    expect(sse.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    // Kestra's events: no event name (an EventSource's onmessage gets them), the kind as the id.
    expect(await sse.next()).toMatchObject({ event: 'message', id: 'progress', data: { message: 'one', level: 'INFO', taskId: 'a', executionId: execution.id } });
    expect(await sse.next()).toMatchObject({ event: 'message', id: 'progress', data: { message: 'two' } });

    await fixture.db.executions.transition(execution.id, ['CREATED'], 'RUNNING');
    // A worker batch with an earlier timestamp than what was sent: following by id still delivers it.
    await fixture.db.logs.append(lines(execution.id, [[-5, 'WARN', 'b', 'three'], [2, 'INFO', 'b', 'four']]));
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { message: 'three' } });
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { message: 'four' } });

    await fixture.db.logs.append(lines(execution.id, [[3, 'ERROR', 'b', 'last words']]));
    const ended = await fixture.db.executions.transition(execution.id, ['RUNNING'], 'FAILED');
    expect(ended.status).toBe('changed');
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { message: 'last words' } });
    // Every data is a log line: the end is an id with no data, which a client reading data never sees.
    expect(await sse.next()).toEqual({ event: 'message', id: 'end' });
    expect(await sse.next()).toBeUndefined(); // the server ended the response
    expect(sse.comments).toContain('connected');

    // An EventSource reconnects after the end with the last id it saw: told 204, it stops.
    const again = await fixture.fetch(`/api/v1/logs/${execution.id}/follow`, { headers: { 'last-event-id': 'end' } });
    expect(again.status).toBe(204);
    expect(await again.text()).toBe('');
  });

  it('follows with minLevel, sends every stored line of an ended execution (more than one page) and ends', async () => {
    const execution = await newExecution(fixture.db);
    const specs = Array.from({ length: 1200 }, (_, n): [number, NewLogEntry['level'], string | null, string] => [n, n % 2 === 0 ? 'WARN' : 'DEBUG', 'a', `m${n}`]);
    await fixture.db.logs.append(lines(execution.id, specs));
    await fixture.db.executions.transition(execution.id, ['CREATED'], 'SUCCESS');
    const sse = await openSse(`${fixture.url}/api/v1/logs/${execution.id}/follow?minLevel=WARN`);
    const received: string[] = [];
    for (let event = await sse.next(); event; event = await sse.next()) {
      if (event.id === 'end') break;
      received.push((event.data as { message: string }).message);
    }
    expect(received).toHaveLength(600);
    expect(received[0]).toBe('m0');
    expect(received[599]).toBe('m1198');
    expect(await sse.next()).toBeUndefined();
  });

  it('follows from after the first `skip` lines a client already holds (with the filters), and sends all when fewer are stored', async () => {
    const execution = await newExecution(fixture.db);
    const specs = Array.from({ length: 30 }, (_, n): [number, NewLogEntry['level'], string | null, string] => [n, n % 3 === 0 ? 'ERROR' : 'INFO', 'a', `s${n}`]);
    await fixture.db.logs.append(lines(execution.id, specs));
    await fixture.db.executions.transition(execution.id, ['CREATED'], 'SUCCESS');
    const messages = async (query: string): Promise<string[]> => {
      const sse = await openSse(`${fixture.url}/api/v1/logs/${execution.id}/follow${query}`);
      const received: string[] = [];
      for (let event = await sse.next(); event; event = await sse.next()) {
        if (event.id === 'end') break;
        received.push((event.data as { message: string }).message);
      }
      return received;
    };
    expect(await messages('?skip=25')).toEqual(['s25', 's26', 's27', 's28', 's29']);
    // Counted among the lines the filter keeps: ERROR lines are s0, s3, ..., s27.
    expect(await messages('?minLevel=ERROR&skip=8')).toEqual(['s24', 's27']);
    expect(await messages('?skip=0')).toHaveLength(30);
    expect(await messages('?skip=500')).toHaveLength(30);
    expect((await fixture.fetch(`/api/v1/logs/${execution.id}/follow?skip=-1`)).status).toBe(400);
  });

  it('does not end a log follow while the execution is KILLING', async () => {
    const execution = await newExecution(fixture.db);
    await fixture.db.executions.transition(execution.id, ['CREATED'], 'KILLING');
    const sse = await openSse(`${fixture.url}/api/v1/logs/${execution.id}/follow`);
    await fixture.db.logs.append(lines(execution.id, [[0, 'INFO', 'a', 'still here']]));
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { message: 'still here' } });
    await fixture.db.executions.transition(execution.id, ['KILLING'], 'KILLED');
    expect(await sse.next()).toEqual({ event: 'message', id: 'end' });
    await sse.close();
  });

  it('follows an execution: `progress` at once and on each state or task-run change, `end` (alone) when it has ended', async () => {
    const execution = await newExecution(fixture.db);
    const sse = await openSse(`${fixture.url}/api/v1/executions/${execution.id}/follow`);
    expect(sse.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const first = await sse.next();
    const got = (await (await fixture.fetch(`/api/v1/executions/${execution.id}`)).json()) as Record<string, unknown>;
    expect(first).toMatchObject({ event: 'message', id: 'progress', data: { id: execution.id, state: { current: 'CREATED' } } });
    expect(Object.keys(first?.data as object).sort()).toEqual(Object.keys(got).sort()); // the shape of GET /executions/{id}

    await fixture.db.executions.transition(execution.id, ['CREATED'], 'RUNNING');
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { state: { current: 'RUNNING' }, taskRunList: [] } });
    await fixture.db.prisma.taskRun.create({ data: { id: `tr-${execution.id}`, executionId: execution.id, taskId: 'a', state: 'RUNNING', stateHistory: [] } });
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { taskRunList: [{ taskId: 'a', state: { current: 'RUNNING' } }] } });
    await fixture.db.prisma.taskRun.update({ where: { id: `tr-${execution.id}` }, data: { state: 'SUCCESS' } });
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { taskRunList: [{ state: { current: 'SUCCESS' } }] } });

    await fixture.db.executions.transition(execution.id, ['RUNNING'], 'KILLING');
    expect(await sse.next()).toMatchObject({ id: 'progress', data: { state: { current: 'KILLING' } } });
    await fixture.db.executions.transition(execution.id, ['KILLING'], 'KILLED');
    // As Kestra: the ended execution once, as `end`, then the stream ends.
    const end = await sse.next();
    expect(end).toMatchObject({ event: 'message', id: 'end', data: { id: execution.id, state: { current: 'KILLED' } } });
    expect(await sse.next()).toBeUndefined();
    expect((await fixture.fetch(`/api/v1/executions/${execution.id}/follow`, { headers: { 'last-event-id': 'end' } })).status).toBe(204);
  });

  it('ends an execution follow at once for an execution that has already ended', async () => {
    const execution = await newExecution(fixture.db);
    await fixture.db.executions.transition(execution.id, ['CREATED'], 'WARNING');
    const sse = await openSse(`${fixture.url}/api/v1/executions/${execution.id}/follow`);
    expect(await sse.next()).toMatchObject({ id: 'end', data: { state: { current: 'WARNING' } } });
    expect(await sse.next()).toBeUndefined();
  });

  it('stops polling when the client disconnects, sends heartbeats, logs no error, and closes with followers open', async () => {
    const db = fixture.db;
    let polls = 0;
    const errors: string[] = [];
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        const entry = JSON.parse(chunk.toString()) as { level: number };
        if (entry.level >= 40) errors.push(chunk.toString());
        callback();
      },
    });
    const app = Fastify({ logger: { level: 'info', stream: logStream } });
    const counted = {
      get: async (id: string) => {
        polls++;
        return db.executions.get(id);
      },
      stateOf: async (id: string) => {
        polls++;
        return db.executions.stateOf(id);
      },
    };
    await app.register(logRoutes, { prefix: '/api/v1', executions: counted, logs: db.logs, pollMs: 20, heartbeatMs: 60 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const base = `http://127.0.0.1:${address.port}/api/v1`;
    try {
      const execution = await newExecution(db);
      const logFollow = await openSse(`${base}/logs/${execution.id}/follow`);
      const executionFollow = await openSse(`${base}/executions/${execution.id}/follow`);
      expect((await executionFollow.next())?.id).toBe('progress');
      await db.logs.append(lines(execution.id, [[0, 'INFO', 'a', 'hi']]));
      expect(await logFollow.next()).toMatchObject({ data: { message: 'hi' } });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await logFollow.next(100).catch(() => undefined); // reads the heartbeat comments
      expect(logFollow.comments).toContain('heartbeat');

      await logFollow.close();
      await executionFollow.close();
      await new Promise((resolve) => setTimeout(resolve, 150)); // the server sees both sockets close
      const after = polls;
      await new Promise((resolve) => setTimeout(resolve, 200)); // 10 poll periods
      expect(polls).toBe(after);

      // A follower still open when the server closes is ended, and close does not wait on it.
      const open = await openSse(`${base}/logs/${execution.id}/follow`);
      await open.next(200).catch(() => undefined);
      // (app.close() itself may then wait a few seconds on an idle socket undici opens after an aborted fetch: the
      // stream ending at once is what shows the server does not wait on followers.)
      const started = Date.now();
      const closed = app.close();
      expect(await open.next(1000)).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(1000);
      await closed;
      const closedAt = polls;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(polls).toBe(closedAt);
      expect(errors).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe.skipIf(!api)('log endpoints behind the API token', () => {
  it('answers 401 without the token, and serves with it', async () => {
    const secured = await startApi({ apiToken: 'log-secret' });
    if (!secured) throw new Error('no API');
    try {
      const execution = await newExecution(secured.db);
      await secured.db.logs.append(lines(execution.id, [[0, 'INFO', 'a', 'kept']]));
      for (const [method, path] of [['GET', '/api/v1/logs/search'], ['DELETE', `/api/v1/logs/${execution.id}`]] as const) {
        const refused = await fetch(`${secured.url}${path}`, { method });
        expect(refused.status, `${method} ${path}`).toBe(401);
      }
      expect(await secured.db.logs.list(execution.id)).toHaveLength(1);
      expect(await (await secured.fetch('/api/v1/logs/search')).json()).toMatchObject({ total: 1 });
      expect(await (await secured.fetch(`/api/v1/logs/${execution.id}`, { method: 'DELETE' })).json()).toEqual({ deleted: 1 });
    } finally {
      await secured.close();
    }
  });
});
