/**
 * Kestra's replay over REST: `POST /executions/{id}/replay?taskRunId=&revision=` and `POST /executions/replay/by-ids`.
 * Ended executions are written straight into Postgres (as the scheduler leaves them), so these tests need no
 * scheduler: they check what is stored and what is handed to it. The runs themselves: apps/cli/test/e2e/replay.test.ts.
 */
import { executionPrefixUri } from '@sluice/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlows, seedExecution, startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const api = await startApi({ databasePrefix: 'sluice_api_replay' });

const NESTED = `id: nested
namespace: replay.ns
labels:
  team: data
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.name }}"
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: one
        type: io.kestra.plugin.core.log.Log
        message: one
      - id: two
        type: io.kestra.plugin.core.log.Log
        message: two
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: last
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
`;

interface StateJson {
  current: string;
  histories: { state: string; date: string }[];
  startDate?: string;
  endDate?: string;
}

interface TaskRunBody {
  id: string;
  executionId: string;
  taskId: string;
  parentTaskRunId?: string;
  state: StateJson;
  attempts?: { state: StateJson }[];
  outputs?: Record<string, unknown>;
}

interface ExecutionBody {
  id: string;
  namespace: string;
  flowId: string;
  flowRevision: number;
  originalId?: string;
  parentId?: string;
  inputs?: Record<string, unknown>;
  labels: { key: string; value: string }[];
  state: StateJson;
  taskRunList: TaskRunBody[];
  metadata: { attemptNumber: number; originalCreatedDate: string };
}

/** `value` without its `duration`s (they count to now while a run has no end date). */
function withoutDurations(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, member: unknown) => (key === 'duration' ? undefined : member))) as unknown;
}

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

describe.skipIf(!api)('POST /executions/{id}/replay', () => {
  let a: ApiFixture;
  beforeAll(async () => {
    a = api!;
    await createFlows(a, [NESTED]);
  });
  afterAll(async () => {
    await api?.close();
  });

  const replay = (id: string, query = ''): Promise<Response> => a.fetch(`/api/v1/executions/${id}/replay${query}`, { method: 'POST' });
  const replayOk = async (id: string, query = ''): Promise<ExecutionBody> => {
    const response = await replay(id, query);
    const body = (await response.json()) as ExecutionBody | ErrorBody;
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body as ExecutionBody;
  };
  const errorOf = async (response: Response, status: number): Promise<ErrorBody> => {
    const body = (await response.json()) as ErrorBody;
    expect(response.status, JSON.stringify(body)).toBe(status);
    expect(body).toEqual({ code: expect.any(String), message: expect.any(String), details: expect.any(Object) });
    return body;
  };
  const read = async (id: string): Promise<ExecutionBody> => (await (await a.fetch(`/api/v1/executions/${id}`)).json()) as ExecutionBody;

  /** An execution of `nested` that failed in `two`, as the scheduler leaves it (its errors branch ran). */
  const failedInTwo = (): Promise<string> =>
    seedExecution(a, 'replay.ns', 'nested', 'FAILED', [
      { id: 'first', taskId: 'first', state: 'SUCCESS', history: ['CREATED', 'RUNNING', 'SUCCESS'], outputs: { said: 'world' } },
      { id: 'seq', taskId: 'seq', state: 'FAILED', history: ['CREATED', 'RUNNING', 'FAILED'] },
      { id: 'one', taskId: 'one', parent: 'seq', state: 'SUCCESS', history: ['CREATED', 'RUNNING', 'SUCCESS'], outputs: { n: 1 } },
      { id: 'two', taskId: 'two', parent: 'seq', state: 'FAILED', history: ['CREATED', 'RUNNING', 'FAILED'] },
      { id: 'alert', taskId: 'alert', state: 'SUCCESS', history: ['CREATED', 'RUNNING', 'SUCCESS'] },
    ]);

  it('from a task run inside a flowable: the runs before it copied (new ids, parents remapped), its parent reopened, RESTARTED', async () => {
    const id = await failedInTwo();
    const original = await read(id);
    const before = a.queue.events.length;
    const body = await replayOk(id, `?taskRunId=${id}-two`);

    expect(body.id).not.toBe(id);
    expect(body.originalId).toBe(id);
    expect(body.parentId).toBeUndefined();
    expect(body).toMatchObject({ namespace: 'replay.ns', flowId: 'nested', flowRevision: 1, inputs: { name: 'world' }, metadata: { attemptNumber: 1 } });
    expect(body.labels).toEqual([
      { key: 'team', value: 'data' },
      { key: 'system.replay', value: 'true' },
      { key: 'system.correlationId', value: body.id },
    ]);
    expect(body.state.current).toBe('RESTARTED');
    expect(body.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RESTARTED']);
    expect(body.state.endDate).toBeUndefined();

    // first, seq (reopened) and one; not two (replayed), last (never ran) nor the errors branch.
    expect(body.taskRunList.map((r) => r.taskId)).toEqual(['first', 'seq', 'one']);
    const [first, seq, one] = body.taskRunList as [TaskRunBody, TaskRunBody, TaskRunBody];
    const originalRun = (taskId: string): TaskRunBody => original.taskRunList.find((r) => r.taskId === taskId)!;
    for (const run of body.taskRunList) {
      expect(run.executionId).toBe(body.id);
      expect(original.taskRunList.some((r) => r.id === run.id)).toBe(false);
    }
    expect(first).toMatchObject({ state: { current: 'SUCCESS' }, outputs: { said: 'world' } });
    const { duration: _d, ...firstState } = first.state as StateJson & { duration?: string };
    const { duration: _o, ...originalState } = originalRun('first').state as StateJson & { duration?: string };
    expect(firstState).toEqual(originalState);
    expect(first.attempts).toEqual(originalRun('first').attempts);
    expect(first.parentTaskRunId).toBeUndefined();
    expect(seq.state.current).toBe('RUNNING');
    expect(seq.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'FAILED', 'RUNNING']);
    expect(seq.state.endDate).toBeUndefined();
    expect(seq.state.startDate).toBe(originalRun('seq').state.startDate);
    expect(one).toMatchObject({ parentTaskRunId: seq.id, state: { current: 'SUCCESS' }, outputs: { n: 1 } });

    expect(a.queue.events.slice(before)).toEqual([{ type: 'executionRestarted', event: { executionId: body.id, namespace: 'replay.ns', flowId: 'nested' } }]);
    // As GET answers it, and the original is untouched.
    expect(withoutDurations(await read(body.id))).toEqual(withoutDurations(body));
    expect(withoutDurations(await read(id))).toEqual(withoutDurations(original));
  });

  it('without taskRunId: a new CREATED execution with no runs, handed over as a new one', async () => {
    const id = await failedInTwo();
    const before = a.queue.events.length;
    const body = await replayOk(id);
    expect(body).toMatchObject({ originalId: id, flowRevision: 1, inputs: { name: 'world' }, state: { current: 'CREATED' }, taskRunList: [] });
    expect(body.state.histories.map((h) => h.state)).toEqual(['CREATED']);
    expect(a.queue.events.slice(before)).toEqual([
      { type: 'executionCreated', event: expect.objectContaining({ executionId: body.id, namespace: 'replay.ns', flowId: 'nested', snapshot: expect.objectContaining({ state: 'CREATED' }) }) },
    ]);
    // From the very first run nothing is kept either: a new execution too.
    const fromFirst = await replayOk(id, `?taskRunId=${id}-first`);
    expect(fromFirst).toMatchObject({ state: { current: 'CREATED' }, taskRunList: [] });
    expect(a.queue.events.at(-1)).toMatchObject({ type: 'executionCreated', event: { executionId: fromFirst.id } });
  });

  it('originalId stays the first of the chain; a correlation id from a parent is kept', async () => {
    const id = await failedInTwo();
    const replayed = await replayOk(id);
    await a.db.prisma.$executeRaw`UPDATE executions SET state = 'SUCCESS', end_date = now() WHERE id = ${replayed.id}`;
    const again = await replayOk(replayed.id);
    expect(again.originalId).toBe(id);
    expect(again.labels.filter((l) => l.key === 'system.correlationId')).toEqual([{ key: 'system.correlationId', value: again.id }]);
    expect(again.labels.filter((l) => l.key === 'system.replay')).toHaveLength(1);

    const child = await failedInTwo();
    const labels = JSON.stringify([{ key: 'system.correlationId', value: 'parent-1' }, { key: 'env', value: 'prod' }]);
    await a.db.prisma.$executeRaw`UPDATE executions SET labels = ${labels}::jsonb, parent_id = 'parent-1' WHERE id = ${child}`;
    const replayedChild = await replayOk(child);
    expect(replayedChild.parentId).toBeUndefined();
    expect(replayedChild.labels).toEqual([
      { key: 'system.correlationId', value: 'parent-1' },
      { key: 'env', value: 'prod' },
      { key: 'system.replay', value: 'true' },
    ]);
  });

  it('?revision= runs another revision of the flow; an unknown one is a 404', async () => {
    const id = await failedInTwo();
    const updated = await a.fetch('/api/v1/flows/replay.ns/nested', { method: 'PUT', headers: YAML, body: NESTED.replace('message: last', 'message: final') });
    expect(updated.status).toBe(200);
    expect((await replayOk(id, '?revision=2')).flowRevision).toBe(2);
    expect((await replayOk(id)).flowRevision).toBe(1);
    const missing = await errorOf(await replay(id, '?revision=99'), 404);
    expect(missing).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND', details: { namespace: 'replay.ns', id: 'nested', revision: 99 } });
  });

  it("the replay's page downloads the files it refers to from the original (copied outputs, FILE inputs), no other", async () => {
    const id = await seedExecution(a, 'replay.ns', 'nested', 'FAILED', [
      { id: 'first', taskId: 'first', state: 'SUCCESS', history: ['CREATED', 'RUNNING', 'SUCCESS'] },
      { id: 'seq', taskId: 'seq', state: 'FAILED', history: ['CREATED', 'RUNNING', 'FAILED'] },
    ]);
    const prefix = executionPrefixUri({ namespace: 'replay.ns', flowId: 'nested', executionId: id });
    const output = `${prefix}tasks/first/${id}-first/out.txt`;
    const other = `${prefix}tasks/first/${id}-first/secret.txt`;
    const input = `${prefix}inputs/data/in.csv`;
    for (const uri of [output, other, input]) await a.storage.put(uri, uri.slice(-7));
    await a.db.prisma.$executeRaw`UPDATE task_runs SET outputs = ${JSON.stringify({ files: { 'out.txt': output } })}::jsonb WHERE id = ${`${id}-first`}`;
    await a.db.prisma.$executeRaw`UPDATE executions SET inputs = ${JSON.stringify({ data: input })}::jsonb WHERE id = ${id}`;
    const replayed = await replayOk(id, `?taskRunId=${id}-seq`);
    const download = (execution: string, uri: string): Promise<Response> => a.fetch(`/api/v1/executions/${execution}/file?path=${encodeURIComponent(uri)}`);
    for (const uri of [output, input]) {
      const response = await download(replayed.id, uri);
      expect(response.status, uri).toBe(200);
      expect(await response.text()).toBe(uri.slice(-7));
      expect((await download(id, uri)).status).toBe(200);
    }
    expect((await errorOf(await download(replayed.id, other), 400)).code).toBe('SLU_STORAGE_INVALID_URI');
    // An execution that is no replay reaches its own files only.
    const unrelated = await failedInTwo();
    expect((await errorOf(await download(unrelated, output), 400)).code).toBe('SLU_STORAGE_INVALID_URI');
  });

  it('409 while the execution has not ended; 404 unknown execution or task run; 400 a bad or unknown parameter', async () => {
    const created = (await (await a.fetch('/api/v1/executions/replay.ns/nested', { method: 'POST' })).json()) as ExecutionBody;
    const count = await a.db.prisma.execution.count();
    for (const state of ['CREATED', 'RUNNING', 'PAUSED', 'KILLING']) {
      await a.db.prisma.$executeRaw`UPDATE executions SET state = ${state} WHERE id = ${created.id}`;
      const refused = await errorOf(await replay(created.id), 409);
      expect(refused).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_ENDED', details: { id: created.id, state } });
      expect(refused.message).toContain(state);
    }
    expect((await errorOf(await replay('nope'), 404)).code).toBe('SLU_API_EXECUTION_NOT_FOUND');

    const id = await failedInTwo();
    const other = await failedInTwo();
    for (const taskRunId of ['nope', `${other}-two`]) {
      const unknown = await errorOf(await replay(id, `?taskRunId=${taskRunId}`), 404);
      expect(unknown).toMatchObject({ code: 'SLU_API_TASK_RUN_NOT_FOUND', details: { id, taskRunId } });
    }
    for (const query of ['?foo=1', '?revision=abc', '?revision=0', '?taskRunId=']) {
      expect((await errorOf(await replay(id, query), 400)).code, query).toBe('SLU_API_BAD_REQUEST');
    }
    expect(await a.db.prisma.execution.count()).toBe(count + 2); // the two seeded ones only: nothing replayed
  });

  it('POST /executions/replay/by-ids: {count}, each replayed from the start; an unknown or running one refuses them all', async () => {
    const JSON_BODY = { 'content-type': 'application/json' };
    const byIds = (ids: unknown): Promise<Response> => a.fetch('/api/v1/executions/replay/by-ids', { method: 'POST', headers: JSON_BODY, body: JSON.stringify(ids) });
    const first = await failedInTwo();
    const second = await failedInTwo();
    const response = await byIds([first, second, first]);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ count: 2 });
    for (const id of [first, second]) {
      const found = (await (await a.fetch(`/api/v1/executions/search?filters[labels][EQUALS][system.replay]=true&size=100`)).json()) as { results: ExecutionBody[] };
      expect(found.results.filter((e) => e.originalId === id)).toHaveLength(1);
    }

    const running = (await (await a.fetch('/api/v1/executions/replay.ns/nested', { method: 'POST' })).json()) as ExecutionBody;
    const count = await a.db.prisma.execution.count();
    const refused = await errorOf(await byIds([first, running.id, 'nope']), 400);
    expect(refused.details.invalids).toEqual([
      { id: running.id, code: 'SLU_API_EXECUTION_NOT_ENDED', message: expect.stringContaining('CREATED') },
      { id: 'nope', code: 'SLU_API_EXECUTION_NOT_FOUND', message: expect.any(String) },
    ]);
    expect(await a.db.prisma.execution.count()).toBe(count);
  });
});
