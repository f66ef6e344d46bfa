import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const api = await startApi();
const small = api ? await startApi({ uploadLimit: 1000 }) : undefined;

const TYPED = `id: typed
namespace: inputs.ns
labels:
  team: data
  env: dev
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 1
  - id: env
    type: SELECT
    values: [dev, prod]
    defaults: dev
  - id: tags
    type: MULTISELECT
    values: [a, b, c]
    required: false
  - id: when
    type: DATETIME
    required: false
  - id: data
    type: FILE
    required: false
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.name }}"
`;

const UPLOAD = `id: upload
namespace: inputs.ns
inputs:
  - id: big
    type: FILE
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.big }}"
`;

const PLAIN = `id: plain
namespace: plain.ns
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
`;

interface ExecutionBody {
  id: string;
  scheduleDate?: string;
  namespace: string;
  flowId: string;
  flowRevision: number;
  inputs: Record<string, unknown>;
  labels: { key: string; value: string }[];
  state: { current: string; histories: { state: string; date: string }[]; startDate: string; endDate?: string; duration: string };
  taskRunList: unknown[];
  outputs: unknown;
}

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

function form(fields: Record<string, string | string[]>, files: Record<string, { name: string; content: Blob }> = {}): FormData {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
  for (const [name, file] of Object.entries(files)) body.append(name, file.content, file.name);
  return body;
}

describe.skipIf(!api)('executions API on Postgres', () => {
  let a: ApiFixture;
  beforeAll(async () => {
    a = api!;
    for (const source of [TYPED, UPLOAD, PLAIN]) {
      const response = await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: source });
      expect(response.status).toBe(200);
    }
  });
  afterAll(async () => {
    await api?.close();
    await small?.close();
  });

  const create = async (path: string, body?: FormData): Promise<Response> => a.fetch(`/api/v1/executions/${path}`, { method: 'POST', ...(body ? { body } : {}) });
  const createOk = async (path: string, body?: FormData): Promise<ExecutionBody> => {
    const response = await create(path, body);
    const json = (await response.json()) as ExecutionBody | ErrorBody;
    expect(response.status, JSON.stringify(json)).toBe(200);
    return json as ExecutionBody;
  };
  const executionCount = (): Promise<number> => a.db.prisma.execution.count();

  it('POST without a body creates a CREATED execution in Kestra\'s shape and hands it to the scheduler', async () => {
    const before = a.queue.events.length;
    const execution = await createOk('plain.ns/plain');
    expect(execution).toEqual({
      id: expect.stringMatching(/^[0-9A-Za-z]{20,22}$/),
      namespace: 'plain.ns',
      flowId: 'plain',
      flowRevision: 1,
      // No inputs, no outputs: left out, as Kestra leaves out empty maps.
      // Kestra's system label, on every execution: its own id.
      labels: [{ key: 'system.correlationId', value: execution.id }],
      state: { current: 'CREATED', histories: [{ state: 'CREATED', date: expect.any(String) }], startDate: expect.any(String), duration: expect.stringMatching(/^PT/) },
      taskRunList: [],
      deleted: false,
      // Kestra's metadata: a first attempt, its own start the chain's.
      metadata: { attemptNumber: 1, originalCreatedDate: execution.state.startDate },
    });
    expect(execution.state.histories[0]?.date).toBe(execution.state.startDate);
    // With the execution as stored, at its first version, so the scheduler's first step need not read it back.
    const snapshot = { version: 0, flowRevision: 1, state: 'CREATED', inputs: {}, labels: execution.labels, trigger: null, startDate: execution.state.startDate };
    expect(a.queue.events.slice(before)).toEqual([{ type: 'executionCreated', event: { executionId: execution.id, namespace: 'plain.ns', flowId: 'plain', snapshot } }]);

    const read = await a.fetch(`/api/v1/executions/${execution.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: execution.id, state: { current: 'CREATED' }, taskRunList: [] });
    expect(await a.db.prisma.execution.findUnique({ where: { id: execution.id } })).toMatchObject({ state: 'CREATED', flowRevision: 1 });
  });

  it('types multipart fields as inputs, applies defaults and merges ?labels=k:v over the flow\'s labels', async () => {
    const execution = await createOk(
      'inputs.ns/typed?labels=env:prod&labels=run:42',
      form({ name: 'world', count: '7', tags: ['a', 'c'], when: '2024-01-31T12:00:00+02:00' }),
    );
    expect(execution.inputs).toEqual({ name: 'world', count: 7, env: 'dev', tags: ['a', 'c'], when: '2024-01-31T10:00:00Z', data: null });
    // (A flow's map-form labels come back from jsonb in key order, so compare without order.)
    expect(execution.labels).toHaveLength(4);
    expect(execution.labels).toEqual(
      expect.arrayContaining([{ key: 'team', value: 'data' }, { key: 'env', value: 'prod' }, { key: 'run', value: '42' }, { key: 'system.correlationId', value: execution.id }]),
    );
    const row = await a.db.executions.get(execution.id);
    expect(row?.inputs).toEqual(execution.inputs);
  });

  it('streams a 5 MiB FILE part into the storage under the execution\'s inputs folder; /file serves it back', async () => {
    const bytes = new Uint8Array(5 * 1024 * 1024 + 1); // larger than the 5 MiB body limit: uploads are not bodies
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    const digest = createHash('sha256').update(bytes).digest('hex');
    const execution = await createOk('inputs.ns/upload', form({}, { big: { name: 'data set.bin', content: new Blob([bytes]) } }));
    const uri = `kestra:///inputs/ns/upload/executions/${execution.id}/inputs/big/data%20set.bin`;
    expect(execution.inputs).toEqual({ big: uri });
    expect((await a.storage.stat(uri))?.size).toBe(bytes.length);

    const download = await a.fetch(`/api/v1/executions/${execution.id}/file?path=${encodeURIComponent(uri)}`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(download.headers.get('content-length')).toBe(String(bytes.length));
    expect(download.headers.get('content-disposition')).toContain('data%20set.bin');
    expect(createHash('sha256').update(new Uint8Array(await download.arrayBuffer())).digest('hex')).toBe(digest);
  });

  it('answers 400 SLU_INPUT_INVALID listing every input problem, and stores nothing', async () => {
    const before = { executions: await executionCount(), events: a.queue.events.length, files: (await a.storage.list('kestra:///')).length };
    const response = await create(
      'inputs.ns/typed',
      form({ count: 'many', env: 'qa', nmae: 'typo', tags: ['a', 'z'], data: 'kestra:///inputs/ns/upload/executions/x/inputs/big/a' }, { name: { name: 'n.txt', content: new Blob(['x']) } }),
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.code).toBe('SLU_INPUT_INVALID');
    const problems = body.details.problems as { input: string; message: string }[];
    expect(Object.fromEntries(problems.map((p) => [p.input, p.message]))).toEqual({
      name: 'is STRING: send it as a form field, not as a file',
      count: 'must be an integer, got "many"',
      env: 'must be one of "dev", "prod", got "qa"',
      tags: '"z" is not among "a", "b", "c"',
      data: 'must be uploaded as a file (a multipart file part named after the input)',
      nmae: expect.stringMatching(/^unknown input: .*did you mean "name"/),
    });
    expect(body.message).toMatch(/^invalid inputs: /);

    const missing = await create('inputs.ns/typed');
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'SLU_INPUT_INVALID', details: { problems: [{ input: 'name', message: 'is required (STRING) and was not given' }] } });

    // A FILE stored before a later problem is found is removed again.
    const late = await create('inputs.ns/typed', form({ count: 'x' }, { data: { name: 'a.txt', content: new Blob(['hello']) } }));
    expect(late.status).toBe(400);
    const bad = await create('inputs.ns/upload', form({}, { big: { name: '.sluice-tmp-x', content: new Blob(['x']) } }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).details.problems).toEqual([{ input: 'big', message: expect.stringContaining('reserved') }]);

    expect(await executionCount()).toBe(before.executions);
    expect(a.queue.events.length).toBe(before.events);
    expect((await a.storage.list('kestra:///')).length).toBe(before.files);

    // A file name with a path keeps only its last segment (the multipart parser's basename): it stays in the folder.
    const traversal = await createOk('inputs.ns/upload', form({}, { big: { name: '../../etc/passwd', content: new Blob(['x']) } }));
    expect(traversal.inputs.big).toBe(`kestra:///inputs/ns/upload/executions/${traversal.id}/inputs/big/passwd`);
  });

  it('reads a form without fields (nothing but the close delimiter) as no inputs, and still checks the inputs', async () => {
    const raw = (path: string, body: string, boundary = 'xYz'): Promise<Response> =>
      a.fetch(`/api/v1/executions/${path}`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
    // What fetch's FormData, browsers and the bench send for an empty form.
    expect((await createOk('plain.ns/plain', new FormData())).inputs).toBeUndefined(); // no inputs: left out, as Kestra does
    for (const body of ['--xYz--\r\n', '--xYz--', '']) {
      const response = await raw('plain.ns/plain', body);
      expect(response.status, body).toBe(200);
      expect(((await response.json()) as ExecutionBody).inputs).toBeUndefined();
    }
    const quoted = await raw('plain.ns/plain', '--a b--\r\n', '"a b"');
    expect(quoted.status).toBe(200);
    // A required input is still missing.
    const missing = await raw('inputs.ns/typed', '--xYz--\r\n');
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'SLU_INPUT_INVALID', details: { problems: [{ input: 'name' }] } });
    // A few bytes that are not the close delimiter: a clear 400, and nothing stored.
    const before = await executionCount();
    const garbage = await raw('plain.ns/plain', 'hello');
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST', message: expect.stringContaining('the multipart body is malformed: "hello"') });
    expect(await executionCount()).toBe(before);
  });

  it('?scheduleDate= stores the date and hands the execution to the scheduler for then, without a snapshot', async () => {
    const before = a.queue.events.length;
    const at = new Date(Date.now() + 3_600_000);
    const execution = await createOk(`plain.ns/plain?scheduleDate=${encodeURIComponent(at.toISOString())}`);
    expect(execution).toMatchObject({ state: { current: 'CREATED' }, scheduleDate: at.toISOString() });
    const [event] = a.queue.events.slice(before);
    expect(event).toEqual({ type: 'executionCreated', event: { executionId: execution.id, namespace: 'plain.ns', flowId: 'plain', delayMs: expect.any(Number) } });
    const delayMs = (event as { event: { delayMs: number } }).event.delayMs;
    expect(delayMs).toBeGreaterThan(3_500_000);
    expect(delayMs).toBeLessThanOrEqual(3_600_000);
    expect(await (await a.fetch(`/api/v1/executions/${execution.id}`)).json()).toMatchObject({ scheduleDate: at.toISOString() });
    // An offset is read as such; a date already past starts the execution at once (a snapshot, no delay).
    const past = await createOk(`plain.ns/plain?scheduleDate=${encodeURIComponent('2020-01-01T10:00:00+02:00')}`);
    expect(past.scheduleDate).toBe('2020-01-01T08:00:00.000Z');
    expect(a.queue.events.at(-1)).toMatchObject({ type: 'executionCreated', event: { executionId: past.id, snapshot: expect.anything() } });
    expect(a.queue.events.at(-1)).not.toHaveProperty('event.delayMs');
  });

  it('404 for an unknown flow, 400 for a bad label or scheduleDate, 415 for a non-multipart body', async () => {
    const unknown = await create('inputs.ns/nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'SLU_API_FLOW_NOT_FOUND', details: { namespace: 'inputs.ns', id: 'nope' } });
    const label = await create('plain.ns/plain?labels=nocolon');
    expect(label.status).toBe(400);
    expect(await label.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST', message: expect.stringContaining('key:value') });
    const json = await a.fetch('/api/v1/executions/plain.ns/plain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    expect(await json.json()).toMatchObject({ code: 'SLU_API_UNSUPPORTED_MEDIA_TYPE' });
    const yaml = await a.fetch('/api/v1/executions/plain.ns/plain', { method: 'POST', headers: YAML, body: 'a: 1' });
    expect(yaml.status).toBe(415);
    // A scheduleDate that is not a date-time: nothing is stored.
    const before = await executionCount();
    const badDate = await create('plain.ns/plain?scheduleDate=tomorrow');
    expect(badDate.status).toBe(400);
    expect(await badDate.json()).toMatchObject({
      code: 'SLU_API_BAD_REQUEST',
      message: 'scheduleDate must be a date-time such as 2030-01-01T09:00:00Z, got "tomorrow"',
      details: { parameter: 'scheduleDate' },
    });
    expect(await executionCount()).toBe(before);
    const missing = await a.fetch('/api/v1/executions/doesNotExist');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: 'SLU_API_EXECUTION_NOT_FOUND', message: 'execution doesNotExist not found', details: { id: 'doesNotExist' } });
  });

  it('?wait=true answers once the execution has ended (here: ended by hand, as the scheduler would)', async () => {
    const started = Date.now();
    const pending = create('plain.ns/plain?wait=true');
    // The execution exists (CREATED) while the request waits; end it as the scheduler would.
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      const found = (await (await a.fetch('/api/v1/executions/search?namespace=plain.ns&state=CREATED')).json()) as { results: { id: string }[] };
      id = found.results[0]?.id;
      if (!id) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(id).toBeDefined();
    await a.db.executions.transition(id!, ['CREATED'], 'RUNNING');
    await a.db.executions.transition(id!, ['RUNNING'], 'SUCCESS');
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id, state: { current: 'SUCCESS' } });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('413 for a FILE part over the upload limit, with nothing stored', async () => {
    const s = small!;
    expect((await s.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: UPLOAD })).status).toBe(200);
    const exact = await s.fetch('/api/v1/executions/inputs.ns/upload', { method: 'POST', body: form({}, { big: { name: 'a.bin', content: new Blob([new Uint8Array(1000)]) } }) });
    expect(exact.status).toBe(200);
    const filesBefore = (await s.storage.list('kestra:///')).length;
    const over = await s.fetch('/api/v1/executions/inputs.ns/upload', { method: 'POST', body: form({}, { big: { name: 'a.bin', content: new Blob([new Uint8Array(200_000)]) } }) });
    expect(over.status).toBe(413);
    expect(await over.json()).toMatchObject({ code: 'SLU_API_BODY_TOO_LARGE', message: expect.stringContaining('1000') });
    expect((await s.storage.list('kestra:///')).length).toBe(filesBefore);
    expect(await s.db.prisma.execution.count()).toBe(1);
  });

  it('kill: 202 → KILLING and a kill request for the scheduler; again while KILLING is 202; once ended 409; unknown 404', async () => {
    const execution = await createOk('plain.ns/plain');
    const kill = (): Promise<Response> => a.fetch(`/api/v1/executions/${execution.id}/kill`, { method: 'DELETE' });
    const first = await kill();
    expect(first.status).toBe(202);
    const body = (await first.json()) as ExecutionBody;
    expect(body.state.current).toBe('KILLING');
    expect(body.state.histories.map((h) => h.state)).toEqual(['CREATED', 'KILLING']);
    expect(a.queue.events.at(-1)).toEqual({ type: 'killRequested', executionId: execution.id });

    expect((await kill()).status).toBe(202);
    await a.db.executions.transition(execution.id, ['KILLING'], 'KILLED');
    const ended = await kill();
    expect(ended.status).toBe(409);
    expect(await ended.json()).toMatchObject({ code: 'SLU_API_EXECUTION_ENDED', details: { id: execution.id, state: 'KILLED' } });
    const read = (await (await a.fetch(`/api/v1/executions/${execution.id}`)).json()) as ExecutionBody;
    expect(read.state).toMatchObject({ current: 'KILLED', endDate: expect.any(String) });

    const unknown = await a.fetch('/api/v1/executions/nope/kill', { method: 'DELETE' });
    expect(unknown.status).toBe(404);
  });

  it('restart: only FAILED → RESTARTED (handed to the scheduler), else 409; unknown 404', async () => {
    const execution = await createOk('plain.ns/plain');
    const restart = (): Promise<Response> => a.fetch(`/api/v1/executions/${execution.id}/restart`, { method: 'POST' });
    const early = await restart();
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_RESTARTABLE', details: { state: 'CREATED' } });

    await a.db.executions.transition(execution.id, ['CREATED'], 'RUNNING');
    await a.db.executions.transition(execution.id, ['RUNNING'], 'FAILED');
    const restarted = await restart();
    expect(restarted.status).toBe(200);
    const body = (await restarted.json()) as ExecutionBody;
    expect(body.state.current).toBe('RESTARTED');
    expect(body.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'FAILED', 'RESTARTED']);
    expect(body.state.endDate).toBeUndefined();
    expect(a.queue.events.at(-1)).toEqual({ type: 'executionRestarted', event: { executionId: execution.id, namespace: 'plain.ns', flowId: 'plain' } });

    expect((await restart()).status).toBe(409);
    expect((await a.fetch('/api/v1/executions/nope/restart', { method: 'POST' })).status).toBe(404);
  });

  it('searches by namespace, flowId, state (repeated), labels, start date range, paged', async () => {
    const mk = async (path: string, labels: string, state?: string): Promise<string> => {
      const e = await createOk(`${path}?${labels}`, form(path.startsWith('inputs.ns/typed') ? { name: 'n' } : {}));
      if (state) await a.db.executions.transition(e.id, ['CREATED'], state);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return e.id;
    };
    const from = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const s1 = await mk('plain.ns/plain', 'labels=search:yes&labels=color:red', 'RUNNING');
    const s2 = await mk('plain.ns/plain', 'labels=search:yes&labels=color:blue', 'SUCCESS');
    const s3 = await mk('inputs.ns/typed', 'labels=search:yes');
    const search = async (query: string): Promise<{ results: ExecutionBody[]; total: number }> => {
      const response = await a.fetch(`/api/v1/executions/search?${query}`);
      expect(response.status).toBe(200);
      return (await response.json()) as { results: ExecutionBody[]; total: number };
    };
    const ids = async (query: string): Promise<string[]> => (await search(query)).results.map((r) => r.id);

    expect(await ids('labels=search:yes')).toEqual([s3, s2, s1]);
    expect(await ids('labels=search:yes&namespace=plain.ns')).toEqual([s2, s1]);
    expect(await ids('labels=search:yes&namespace=inputs&flowId=typed')).toEqual([s3]);
    expect(await ids('labels=search:yes&state=RUNNING&state=SUCCESS')).toEqual([s2, s1]);
    expect(await ids('labels=search:yes&state=SUCCESS')).toEqual([s2]);
    expect(await ids('labels=search:yes&labels=color:red')).toEqual([s1]);
    expect(await ids(`startDate=${encodeURIComponent(from)}`)).toEqual([s3, s2, s1]);
    expect(await ids(`labels=search:yes&endDate=${encodeURIComponent(from)}`)).toEqual([]);
    const page = await search('labels=search:yes&page=2&size=2');
    expect(page.total).toBe(3);
    expect(page.results.map((r) => r.id)).toEqual([s1]);
    expect(page.results[0]).toMatchObject({ namespace: 'plain.ns', flowId: 'plain', state: { current: 'RUNNING' }, taskRunList: [] });

    const badState = await a.fetch('/api/v1/executions/search?state=NOPE');
    expect(badState.status).toBe(400);
    expect(await badState.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST' });
    const badDate = await a.fetch('/api/v1/executions/search?startDate=yesterday');
    expect(badDate.status).toBe(400);
    expect(await badDate.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST', details: { parameter: 'startDate' } });
    expect((await a.fetch('/api/v1/executions/search?size=501')).status).toBe(400);
  });

  it('serves only files inside the execution\'s own folder: traversal and other executions\' files are 400, missing 404', async () => {
    const mine = await createOk('inputs.ns/upload', form({}, { big: { name: 'mine.txt', content: new Blob(['mine']) } }));
    const other = await createOk('inputs.ns/upload', form({}, { big: { name: 'secret.txt', content: new Blob(['secret']) } }));
    const file = (id: string, path: string): Promise<Response> => a.fetch(`/api/v1/executions/${id}/file?path=${encodeURIComponent(path)}`);

    const ok = await file(mine.id, String(mine.inputs.big));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('mine');

    for (const path of [
      'kestra:///../../etc/passwd',
      `kestra:///inputs/ns/upload/executions/${mine.id}/../${other.id}/inputs/big/secret.txt`,
      `kestra:///inputs/ns/upload/executions/${mine.id}/%2e%2e/${other.id}/inputs/big/secret.txt`,
      'file:///etc/passwd',
      '/etc/passwd',
    ]) {
      const response = await file(mine.id, path);
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as ErrorBody).code, path).toBe('SLU_STORAGE_INVALID_URI');
    }
    const others = await file(mine.id, String(other.inputs.big));
    expect(others.status).toBe(400);
    expect(await others.json()).toMatchObject({ code: 'SLU_STORAGE_INVALID_URI', message: expect.stringContaining(`not a file of execution ${mine.id}`) });

    const missing = await file(mine.id, `kestra:///inputs/ns/upload/executions/${mine.id}/inputs/big/nothing.txt`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'SLU_STORAGE_NOT_FOUND' });
    expect((await file('nope', String(mine.inputs.big))).status).toBe(404);
    expect((await a.fetch(`/api/v1/executions/${mine.id}/file`)).status).toBe(400);
  });
});
