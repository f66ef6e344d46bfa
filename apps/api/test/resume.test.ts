/**
 * Resuming a PAUSED execution over REST (issue #16, item 5; KESTRA-FLOW.md §2.10): `POST /executions/{id}/resume`,
 * `.../resume/validate` and `POST /executions/resume/by-ids`, and kill and restart around paused runs. The PAUSED state
 * is written straight into Postgres (an execution with a Pause run under a Parallel run, as the scheduler leaves it),
 * so these tests need no scheduler.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlows, legacyPauseFlow, seededState, seedExecution, startApi, YAML } from './fixture.js';
import type { ApiFixture, SeededRun } from './fixture.js';

const api = await startApi({ databasePrefix: 'sluice_api_resume' });

const APPROVAL = `id: approval
namespace: resume.ns
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: approve
        type: io.kestra.plugin.core.flow.Pause
        onResume:
          - id: count
            type: INT
          - id: note
            type: STRING
            defaults: none
          - id: doc
            type: FILE
            required: false
      - id: work
        type: io.kestra.plugin.core.log.Log
        message: working
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.approve.onResume.count }}"
`;

const TWICE = `id: twice
namespace: resume.ns
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: first
        type: io.kestra.core.tasks.flows.Pause
        onResume:
          - id: ok
            type: BOOLEAN
      - id: second
        type: io.kestra.plugin.core.flow.Pause
`;

const REDO = `id: redo
namespace: resume.ns
tasks:
  - id: gate
    type: io.kestra.plugin.core.flow.Pause
  - id: fails
    type: io.kestra.plugin.core.log.Log
    message: boom
`;

interface StateJson {
  current: string;
  histories: { state: string; date: string }[];
  endDate?: string;
}

interface TaskRunBody {
  id: string;
  taskId: string;
  parentTaskRunId: string | null;
  state: StateJson;
  attempts: { state: StateJson; workerId?: string }[];
  outputs: Record<string, unknown>;
  [key: string]: unknown;
}

interface ExecutionBody {
  id: string;
  state: StateJson;
  taskRunList: TaskRunBody[];
}

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

describe.skipIf(!api)('resuming a PAUSED execution', () => {
  let a: ApiFixture;
  beforeAll(async () => {
    a = api!;
    await createFlows(a, [APPROVAL, TWICE, legacyPauseFlow('resume.ns'), REDO]);
  });
  afterAll(async () => {
    await api?.close();
  });

  /** A new execution of `flowId`, then moved to `state` with these task runs, as the scheduler would have left it. */
  const seeded = (flowId: string, state: string, runs: readonly SeededRun[]): Promise<string> => seedExecution(a, 'resume.ns', flowId, state, runs);

  const get = async (id: string): Promise<ExecutionBody> => (await (await a.fetch(`/api/v1/executions/${id}`)).json()) as ExecutionBody;
  const run = (execution: ExecutionBody, taskId: string): TaskRunBody => {
    const found = execution.taskRunList.find((r) => r.taskId === taskId);
    expect(found, taskId).toBeDefined();
    return found!;
  };
  const version = async (id: string): Promise<number> => {
    const rows = await a.db.prisma.$queryRaw<{ version: number }[]>`SELECT version FROM executions WHERE id = ${id}`;
    return rows[0]!.version;
  };
  const resume = (id: string, init: RequestInit = {}, suffix = ''): Promise<Response> =>
    a.fetch(`/api/v1/executions/${id}/resume${suffix}`, { method: 'POST', ...init });

  /** The approval flow paused at `approve`, with its Parallel parent and a sibling still RUNNING on a worker. */
  const approvalPaused = (): Promise<string> =>
    seeded('approval', 'PAUSED', [
      { id: 'par', taskId: 'par', state: 'RUNNING', history: ['CREATED', 'RUNNING'] },
      { id: 'approve', taskId: 'approve', parent: 'par', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] },
      { id: 'work', taskId: 'work', parent: 'par', state: 'RUNNING', history: ['CREATED', 'RUNNING'], workerId: 'worker-1' },
    ]);

  it('resumes the PAUSED run with its typed onResume inputs (multipart, FILE stored): SUCCESS, execution RESTARTED, handed to the scheduler', async () => {
    const id = await approvalPaused();
    const before = await version(id);
    const events = a.queue.events.length;
    const body = new FormData();
    body.append('count', '42');
    body.append('doc', new Blob(['approved by Ada']), 'approval.txt');
    const response = await resume(id, { body });
    expect(response.status, await response.clone().text()).toBe(204);
    expect(await response.text()).toBe('');

    const execution = await get(id);
    expect(execution.state.current).toBe('RESTARTED');
    expect(execution.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'RESTARTED']);
    expect(execution.state.endDate).toBeUndefined();

    const approve = run(execution, 'approve');
    const uri = `kestra:///resume/ns/approval/executions/${id}/inputs/doc/approval.txt`;
    expect(approve.outputs).toEqual({ onResume: { count: 42, note: 'none', doc: uri } });
    expect(approve.state.current).toBe('SUCCESS');
    expect(approve.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'SUCCESS']);
    expect(approve.state.endDate).toEqual(expect.any(String));
    expect(approve.attempts).toHaveLength(1);
    expect(approve.attempts[0]!.state.current).toBe('SUCCESS');
    expect(approve.attempts[0]!.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'SUCCESS']);
    // The engine's own state of a run is never shown.
    expect(Object.keys(approve)).not.toContain('engineState');
    // The parent and the sibling running on a worker are left as they were.
    expect(run(execution, 'par').state.current).toBe('RUNNING');
    expect(run(execution, 'work')).toMatchObject({ state: { current: 'RUNNING' }, workerId: 'worker-1' });

    const file = await a.fetch(`/api/v1/executions/${id}/file?path=${encodeURIComponent(uri)}`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('approved by Ada');
    expect(a.queue.events.slice(events)).toEqual([{ type: 'executionRestarted', event: { executionId: id, namespace: 'resume.ns', flowId: 'approval' } }]);
    expect(await version(id)).toBeGreaterThan(before);

    // Resumed once: no longer PAUSED.
    const again = await resume(id);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_PAUSED', message: expect.stringContaining('RESTARTED'), details: { id, state: 'RESTARTED' } });
  });

  it('with two PAUSED runs resumes the first (a JSON body) and stays PAUSED; resuming again (no body) resumes the other and restarts it', async () => {
    const id = await seeded('twice', 'PAUSED', [
      { id: 'both', taskId: 'both', state: 'RUNNING', history: ['CREATED', 'RUNNING'] },
      { id: 'first', taskId: 'first', parent: 'both', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] },
      { id: 'second', taskId: 'second', parent: 'both', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'], attempts: [], outputs: { kept: 1 } },
    ]);
    const before = await version(id);
    const events = a.queue.events.length;
    const first = await resume(id, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: 'true' }) });
    expect(first.status, await first.clone().text()).toBe(204);
    let execution = await get(id);
    expect(execution.state.current).toBe('PAUSED');
    expect(execution.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED']);
    expect(run(execution, 'first')).toMatchObject({ state: { current: 'SUCCESS' }, outputs: { onResume: { ok: true } } });
    expect(run(execution, 'second').state.current).toBe('PAUSED');
    // Its task runs changed: its version moved on, so a scheduler that knew it before reads it again.
    expect(await version(id)).toBeGreaterThan(before);
    expect(a.queue.events.slice(events)).toEqual([{ type: 'executionRestarted', event: { executionId: id, namespace: 'resume.ns', flowId: 'twice' } }]);

    // `second` declares no onResume inputs: none may be given, and its outputs stay as they were.
    const unknown = await resume(id, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: true }) });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: 'SLU_INPUT_INVALID', details: { problems: [expect.objectContaining({ input: 'ok' })] } });

    const second = await resume(id);
    expect(second.status).toBe(204);
    execution = await get(id);
    expect(execution.state.current).toBe('RESTARTED');
    const resumed = run(execution, 'second');
    expect(resumed).toMatchObject({ state: { current: 'SUCCESS' }, outputs: { kept: 1 } });
    // It had no attempt: one is created in its new state (dated as Kestra dates a state: start, end, duration).
    const date = expect.any(String) as unknown;
    expect(resumed.attempts).toEqual([{ state: { current: 'SUCCESS', histories: [{ state: 'SUCCESS', date }], startDate: date, endDate: date, duration: 'PT0S' } }]);
  });

  it('resumes a Pause with legacy tasks to RUNNING (no end date): its tasks run next', async () => {
    const id = await seeded('legacy', 'PAUSED', [{ id: 'wait', taskId: 'wait', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] }]);
    expect((await resume(id)).status).toBe(204);
    const execution = await get(id);
    expect(execution.state.current).toBe('RESTARTED');
    const wait = run(execution, 'wait');
    expect(wait.state.current).toBe('RUNNING');
    expect(wait.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'RUNNING']);
    expect(wait.state.endDate).toBeUndefined();
    expect(wait.outputs).toBeUndefined(); // none: left out, as Kestra leaves out an empty map
  });

  it('sets PAUSED ancestors of the resumed run back to RUNNING (they are not left paused)', async () => {
    const id = await seeded('approval', 'PAUSED', [
      { id: 'par', taskId: 'par', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] },
      { id: 'approve', taskId: 'approve', parent: 'par', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] },
    ]);
    const response = await resume(id, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 1 }) });
    expect(response.status).toBe(204);
    const execution = await get(id);
    expect(execution.state.current).toBe('RESTARTED');
    const par = run(execution, 'par');
    expect(par.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'RUNNING']);
    expect(par.attempts[0]!.state.current).toBe('RUNNING');
    expect(run(execution, 'approve').state.current).toBe('SUCCESS');
  });

  it('resumes once when two requests race for the same PAUSED run (the row lock): one 204, the other 409', async () => {
    const id = await seeded('legacy', 'PAUSED', [{ id: 'wait', taskId: 'wait', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] }]);
    const statuses = (await Promise.all([resume(id), resume(id), resume(id)])).map((r) => r.status).sort();
    expect(statuses).toEqual([204, 409, 409]);
    const wait = run(await get(id), 'wait');
    expect(wait.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'RUNNING']);
  });

  it('refuses an unknown execution (404), one that is not PAUSED (409 naming its state) and bad inputs (400 naming each), changing nothing', async () => {
    const unknown = await resume('nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_FOUND' });

    const running = await seeded('approval', 'RUNNING', []);
    const notPaused = await resume(running);
    expect(notPaused.status).toBe(409);
    expect(await notPaused.json()).toEqual({
      code: 'SLU_API_EXECUTION_NOT_PAUSED',
      message: `execution ${running} is RUNNING: only a PAUSED execution can be resumed`,
      details: { id: running, state: 'RUNNING' },
    });

    const id = await approvalPaused();
    const events = a.queue.events.length;
    const before = await version(id);
    const bad = new FormData();
    bad.append('count', 'many');
    bad.append('colour', 'red');
    bad.append('doc', new Blob(['x']), 'bad.txt');
    const invalid = await resume(id, { body: bad });
    expect(invalid.status).toBe(400);
    const error = (await invalid.json()) as ErrorBody;
    expect(error.code).toBe('SLU_INPUT_INVALID');
    expect(error.details.problems).toEqual(
      expect.arrayContaining([
        { input: 'count', message: expect.stringContaining('"many"') },
        { input: 'colour', message: expect.stringContaining('unknown input') },
      ]),
    );
    const missing = await resume(id, { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'SLU_INPUT_INVALID', details: { problems: [{ input: 'count', message: expect.stringContaining('required') }] } });
    expect((await resume(id, { headers: { 'content-type': 'application/json' }, body: '{"count": ' })).status).toBe(400);
    expect(await (await resume(id, { headers: { 'content-type': 'application/json' }, body: '[1]' })).json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });
    expect((await resume(id, { headers: YAML, body: 'count: 1' })).status).toBe(415);

    // Nothing changed, nothing was handed to the scheduler, and the file of the refused request was not kept.
    expect(await version(id)).toBe(before);
    expect(a.queue.events.length).toBe(events);
    const execution = await get(id);
    expect(execution.state.current).toBe('PAUSED');
    expect(run(execution, 'approve').state.current).toBe('PAUSED');
    expect(await a.storage.stat(`kestra:///resume/ns/approval/executions/${id}/inputs/doc/bad.txt`)).toBeUndefined();
  });

  it('validate: 200 with the typed inputs (the file read, not stored), or the error, and no effect', async () => {
    const id = await approvalPaused();
    const events = a.queue.events.length;
    const before = await version(id);
    const body = new FormData();
    body.append('count', '7');
    body.append('doc', new Blob(['draft']), 'draft.txt');
    const valid = await resume(id, { body }, '/validate');
    expect(valid.status).toBe(200);
    const uri = `kestra:///resume/ns/approval/executions/${id}/inputs/doc/draft.txt`;
    expect(await valid.json()).toEqual({ executionId: id, taskRunId: `${id}-approve`, taskId: 'approve', inputs: { count: 7, note: 'none', doc: uri } });
    expect(await a.storage.stat(uri)).toBeUndefined();

    const json = await resume(id, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 3, note: 'ok' }) }, '/validate');
    expect(await json.json()).toMatchObject({ inputs: { count: 3, note: 'ok', doc: null } });

    const invalid = await resume(id, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 1.5 }) }, '/validate');
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ code: 'SLU_INPUT_INVALID', details: { problems: [expect.objectContaining({ input: 'count' })] } });
    expect((await resume('nope', {}, '/validate')).status).toBe(404);

    expect(await version(id)).toBe(before);
    expect(a.queue.events.length).toBe(events);
    expect((await get(id)).state.current).toBe('PAUSED');

    const notPaused = await resume(await seeded('approval', 'SUCCESS', []), {}, '/validate');
    expect(notPaused.status).toBe(409);
    expect(await notPaused.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_PAUSED', details: { state: 'SUCCESS' } });
  });

  it('by-ids resumes every listed PAUSED execution without inputs ({count}); any unknown, not PAUSED or needing inputs: 400, none resumed', async () => {
    const pausedRuns = (): SeededRun[] => [{ id: 'wait', taskId: 'wait', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] }];
    const one = await seeded('legacy', 'PAUSED', pausedRuns());
    const two = await seeded('legacy', 'PAUSED', pausedRuns());
    const byIds = (ids: unknown): Promise<Response> =>
      a.fetch('/api/v1/executions/resume/by-ids', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ids) });

    const running = await seeded('legacy', 'RUNNING', []);
    const needsInputs = await approvalPaused();
    const events = a.queue.events.length;
    const refused = await byIds([one, 'nope', running, needsInputs]);
    expect(refused.status).toBe(400);
    const error = (await refused.json()) as ErrorBody;
    expect(error.code).toBe('SLU_API_BAD_REQUEST');
    expect(error.details.invalids).toEqual([
      { id: 'nope', message: 'execution not found' },
      { id: running, message: 'execution is RUNNING, not PAUSED' },
      { id: needsInputs, message: expect.stringContaining('count') },
    ]);
    expect((await get(one)).state.current).toBe('PAUSED');
    expect(a.queue.events.length).toBe(events);

    const ok = await byIds([one, two, one]);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ count: 2 });
    for (const id of [one, two]) {
      const execution = await get(id);
      expect(execution.state.current).toBe('RESTARTED');
      expect(run(execution, 'wait').state.current).toBe('RUNNING');
    }
    expect(a.queue.events.slice(events).map((e) => (e.type === 'executionRestarted' ? e.event.executionId : e.type))).toEqual([one, two]);

    expect(await (await byIds([])).json()).toEqual({ count: 0 });
    expect((await byIds({ ids: [one] })).status).toBe(400);
    expect((await a.fetch('/api/v1/executions/resume/by-ids', { method: 'POST' })).status).toBe(400);
  });

  it('kill of a PAUSED execution: 202 KILLING, the kill handed to the scheduler', async () => {
    const id = await approvalPaused();
    const response = await a.fetch(`/api/v1/executions/${id}/kill`, { method: 'DELETE' });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ id, state: { current: 'KILLING' } });
    expect(a.queue.events.at(-1)).toEqual({ type: 'killRequested', executionId: id });
    const resumeKilling = await resume(id);
    expect(resumeKilling.status).toBe(409);
    expect(await resumeKilling.json()).toMatchObject({ details: { state: 'KILLING' } });
  });

  it('restart of a FAILED execution that was paused and resumed: the FAILED run back to CREATED, the resumed Pause kept', async () => {
    const id = await seeded('redo', 'PAUSED', [{ id: 'gate', taskId: 'gate', state: 'PAUSED', history: ['CREATED', 'RUNNING', 'PAUSED'] }]);
    expect((await resume(id)).status).toBe(204);
    // What the scheduler does next: RUNNING, `fails` FAILED, the execution FAILED.
    await a.db.executions.transition(id, ['RESTARTED'], 'RUNNING');
    await a.db.prisma.$executeRaw`
      INSERT INTO task_runs (id, execution_id, task_id, state, state_history, attempts, created_at, updated_at)
      VALUES (${`${id}-fails`}, ${id}, 'fails', 'FAILED', ${JSON.stringify(seededState(['CREATED', 'RUNNING', 'FAILED']).histories)}::jsonb,
              ${JSON.stringify([{ state: seededState(['CREATED', 'RUNNING', 'FAILED']) }])}::jsonb, now(), now())`;
    await a.db.executions.transition(id, ['RUNNING'], 'FAILED');

    const restarted = await a.fetch(`/api/v1/executions/${id}/restart`, { method: 'POST' });
    expect(restarted.status).toBe(200);
    const execution = (await restarted.json()) as ExecutionBody;
    expect(execution.state.current).toBe('RESTARTED');
    expect(execution.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'RESTARTED', 'RUNNING', 'FAILED', 'RESTARTED']);
    expect(run(execution, 'gate').state.current).toBe('SUCCESS');
    const fails = run(execution, 'fails');
    expect(fails.state.current).toBe('CREATED');
    expect(fails.attempts).toHaveLength(2);
    expect(a.queue.events.at(-1)).toEqual({ type: 'executionRestarted', event: { executionId: id, namespace: 'resume.ns', flowId: 'redo' } });
  });

  it('documents the resume routes in the OpenAPI document', async () => {
    const document = (await (await a.fetch('/docs/json')).json()) as { paths: Record<string, Record<string, { summary?: string }>> };
    expect(document.paths['/api/v1/executions/{id}/resume']?.post?.summary).toBe('Resume a PAUSED execution');
    expect(document.paths['/api/v1/executions/{id}/resume/validate']?.post).toBeDefined();
    expect(document.paths['/api/v1/executions/resume/by-ids']?.post).toBeDefined();
  });
});
