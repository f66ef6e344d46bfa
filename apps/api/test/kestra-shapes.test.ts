/**
 * Contract tests: the API's JSON against Kestra 1.x's models (Flow, Execution, TaskRun, TaskRunAttempt, State,
 * LogEntry, PagedResults), as JSON Schemas in ./kestra-models written from Kestra's published API models. Typed
 * clients generated from Kestra's OpenAPI reject what those models reject; extra fields (Sluice's `workerGroup`,
 * `workerId`...) are allowed, as clients ignore them. Both path forms are checked: `/api/v1/...` and the tenant's
 * `/api/v1/main/...`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NewLogEntry } from '@sluice/db';
import { afterAll, describe, expect, it } from 'vitest';
import { createFlows, seedExecution, startApi } from './fixture.js';

/** What these tests use of Ajv 8's draft 2020-12 validator. */
interface ValidateFunction {
  (value: unknown): boolean;
  errors?: unknown;
}
interface Ajv {
  addFormat(name: string, format: { type: 'string'; validate: RegExp | ((s: string) => boolean) }): Ajv;
  addSchema(schema: object): Ajv;
  getSchema(id: string): ValidateFunction | undefined;
}
// Ajv 8 is @sluice/core's dependency (the API's own resolves to an older one at the root): load it from there.
const require = createRequire(fileURLToPath(new URL('../../../packages/core/package.json', import.meta.url)));
const { default: Ajv2020 } = require('ajv/dist/2020') as { default: new (options: object) => Ajv };

const modelsDir = new URL('./kestra-models/', import.meta.url);
const BASE = 'https://sluice.invalid/kestra-models/';

function compileModels(): (name: string) => ValidateFunction {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)) });
  // ISO-8601 durations as Java's Duration writes them (PT1.5S, PT2H3M) and periods with days (P1DT2H).
  ajv.addFormat('duration', { type: 'string', validate: /^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$/ });
  ajv.addFormat('uri', { type: 'string', validate: (s: string) => URL.canParse(s) });
  for (const file of readdirSync(modelsDir).filter((f) => f.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(new URL(file, modelsDir), 'utf8')) as object);
  }
  return (name) => {
    const validate = ajv.getSchema(`${BASE}${name}.schema.json`);
    if (!validate) throw new Error(`no schema ${name}`);
    return validate;
  };
}

const model = compileModels();

/** `value` is a valid `name` (the errors in the failure message otherwise). */
function expectModel(name: string, value: unknown, where: string): void {
  const validate = model(name);
  const valid = validate(value);
  expect(valid, `${where}: ${JSON.stringify(validate.errors, null, 1)}\n${JSON.stringify(value)}`).toBe(true);
}

/** A search page: PagedResults, each result a valid `item`. */
function expectPage(item: string, page: unknown, where: string): { results: Record<string, unknown>[]; total: number } {
  expectModel('paged-results', page, where);
  const typed = page as { results: Record<string, unknown>[]; total: number };
  typed.results.forEach((result, i) => expectModel(item, result, `${where} results[${i}]`));
  return typed;
}

const api = await startApi();
const withUrl = await startApi({ publicUrl: 'https://sluice.example.com/' });

const flowSource = (namespace: string): string => `id: shapes
namespace: ${namespace}
labels:
  team: data
  env: dev
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: parent
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: greet
        type: io.kestra.plugin.core.log.Log
        message: hello {{ inputs.who }}
`;

describe('the schemas themselves', () => {
  it('are strict where Kestra is: unknown states, missing required fields and wrong types are refused; extra fields pass', () => {
    const state = { current: 'SUCCESS', histories: [{ state: 'SUCCESS', date: '2026-01-02T03:04:05.000Z' }], duration: 'PT1.5S' };
    expect(model('state')(state)).toBe(true);
    expect(model('state')({ ...state, current: 'DONE' })).toBe(false);
    expect(model('state')({ ...state, duration: '1.5s' })).toBe(false);
    const execution = { id: 'e', namespace: 'n', flowId: 'f', flowRevision: 1, state, deleted: false, sluiceOnly: { any: 1 } };
    expect(model('execution')(execution)).toBe(true);
    const { deleted: _deleted, ...withoutDeleted } = execution;
    expect(model('execution')(withoutDeleted)).toBe(false);
    expect(model('execution')({ ...execution, taskRunList: [{ id: 't', executionId: 'e', namespace: 'n', flowId: 'f', taskId: 'x', state, value: null }] })).toBe(false);
    expect(model('execution')({ ...execution, taskRunList: [{ id: 't', executionId: 'e', namespace: 'n', flowId: 'f', taskId: 'x', state, attempts: 1 }] })).toBe(false);
    expect(model('log-entry')({ namespace: 'n', flowId: 'f', deleted: false, attemptNumber: null, level: 'INFO' })).toBe(true);
    expect(model('log-entry')({ namespace: 'n', flowId: 'f', level: 'INFO' })).toBe(false);
    expect(model('flow')({ id: 'f', namespace: 'n', disabled: false, deleted: false, tasks: [{ id: 'a', type: 't' }], labels: { a: 'b' } })).toBe(true);
    expect(model('flow')({ id: 'f', namespace: 'n', deleted: false, tasks: [{ id: 'a', type: 't' }] })).toBe(false);
    expect(model('paged-results')({ results: [] })).toBe(false);
  });
});

describe.skipIf(!api || !withUrl)("the API's JSON against Kestra 1.x's models", () => {
  const a = api!;
  afterAll(async () => {
    await a.close();
    await withUrl?.close();
  });

  for (const prefix of ['/api/v1', '/api/v1/main']) {
    const namespace = prefix === '/api/v1' ? 'shapes.plain' : 'shapes.tenant';

    it(`flows: create, get and search (${prefix})`, async () => {
      const created = await a.fetch(`${prefix}/flows`, { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: flowSource(namespace) });
      expect(created.status, await created.clone().text()).toBe(200);
      const flow = (await created.json()) as Record<string, unknown>;
      expectModel('flow', flow, 'POST /flows');
      // The YAML's map of labels comes back as Kestra's list; disabled and deleted are always there.
      expect(flow.labels).toEqual(expect.arrayContaining([{ key: 'team', value: 'data' }, { key: 'env', value: 'dev' }]));
      expect(flow).toMatchObject({ disabled: false, deleted: false, revision: 1 });

      const listForm = `id: disabled\nnamespace: ${namespace}\ndisabled: true\nlabels:\n  - key: team\n    value: ops\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n`;
      const disabled = (await (await a.fetch(`${prefix}/flows`, { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: listForm })).json()) as Record<string, unknown>;
      expectModel('flow', disabled, 'POST /flows (list labels, disabled)');
      expect(disabled).toMatchObject({ disabled: true, labels: [{ key: 'team', value: 'ops' }] });

      for (const path of [`${prefix}/flows/${namespace}/shapes`, `${prefix}/flows/${namespace}/shapes?source=true`]) {
        const got = await a.fetch(path);
        expect(got.status).toBe(200);
        expectModel('flow', await got.json(), `GET ${path}`);
      }
      const page = expectPage('flow', await (await a.fetch(`${prefix}/flows/search?namespace=${namespace}`)).json(), 'GET /flows/search');
      expect(page.total).toBe(2);
    });

    it(`executions: create, get and search, with task runs and attempts after a run (${prefix})`, async () => {
      const created = await a.fetch(`${prefix}/executions/${namespace}/shapes`, { method: 'POST' });
      expect(created.status, await created.clone().text()).toBe(200);
      const execution = (await created.json()) as Record<string, unknown>;
      expectModel('execution', execution, 'POST /executions');
      expect(execution).toMatchObject({ deleted: false, inputs: { who: 'world' } });
      expect(execution).not.toHaveProperty('outputs'); // none yet: left out, as Kestra leaves out empty maps
      expect(execution).not.toHaveProperty('url'); // no SLUICE_PUBLIC_URL

      // As the scheduler and the workers leave an execution: a flowable parent, a run that failed once then
      // succeeded, one still running.
      const id = await seedExecution(a, namespace, 'shapes', 'RUNNING', [
        { id: 'parent', taskId: 'parent', state: 'RUNNING', history: ['CREATED', 'RUNNING'], attempts: [] },
        {
          id: 'greet',
          taskId: 'greet',
          parent: 'parent',
          state: 'SUCCESS',
          history: ['CREATED', 'RUNNING', 'FAILED', 'RETRYING', 'RUNNING', 'SUCCESS'],
          attempts: [
            { state: { current: 'FAILED', histories: [{ state: 'RUNNING', date: '2026-01-02T03:04:06.000Z' }, { state: 'FAILED', date: '2026-01-02T03:04:07.500Z' }] }, workerId: 'w1' },
            { state: { current: 'SUCCESS', histories: [{ state: 'RUNNING', date: '2026-01-02T03:04:09.000Z' }, { state: 'SUCCESS', date: '2026-01-02T03:04:10.000Z' }] }, workerId: 'w2' },
          ],
          outputs: { value: 'hello world' },
          workerId: 'w2',
        },
        { id: 'again', taskId: 'greet', parent: 'parent', state: 'RUNNING', history: ['CREATED', 'RUNNING'] },
      ]);
      const got = await a.fetch(`${prefix}/executions/${id}`);
      expect(got.status).toBe(200);
      const body = (await got.json()) as { taskRunList: Record<string, unknown>[] } & Record<string, unknown>;
      expectModel('execution', body, 'GET /executions/{id}');
      const [parent, greet, again] = body.taskRunList;
      expect(parent).not.toHaveProperty('attempts'); // none: left out
      expect(parent).not.toHaveProperty('outputs');
      expect(parent).not.toHaveProperty('value'); // null: left out
      expect(parent).toMatchObject({ dynamic: false, workerGroup: null });
      expect(greet).toMatchObject({
        parentTaskRunId: `${id}-parent`,
        outputs: { value: 'hello world' },
        workerId: 'w2',
        attempts: [
          { workerId: 'w1', state: { current: 'FAILED', startDate: '2026-01-02T03:04:06.000Z', endDate: '2026-01-02T03:04:07.500Z', duration: 'PT1.5S' } },
          { workerId: 'w2', state: { current: 'SUCCESS', startDate: '2026-01-02T03:04:09.000Z', endDate: '2026-01-02T03:04:10.000Z', duration: 'PT1S' } },
        ],
      });
      // A running attempt: dated from its start, no end yet.
      const [running] = again!.attempts as { state: Record<string, unknown> }[];
      expect(running!.state).toMatchObject({ current: 'RUNNING', startDate: expect.any(String), duration: expect.stringMatching(/^PT/) });
      expect(running!.state).not.toHaveProperty('endDate');

      const page = expectPage('execution', await (await a.fetch(`${prefix}/executions/search?namespace=${namespace}`)).json(), 'GET /executions/search');
      expect(page.results.map((e) => e.id)).toContain(id);
    });

    it(`logs: list and search (${prefix})`, async () => {
      const created = (await (await a.fetch(`${prefix}/executions/${namespace}/shapes`, { method: 'POST' })).json()) as { id: string };
      const line = (taskId: string | null, message: string, ms: number): NewLogEntry => ({
        executionId: created.id,
        namespace,
        flowId: 'shapes',
        taskId,
        taskRunId: taskId === null ? null : `${created.id}-${taskId}`,
        attemptNumber: taskId === null ? null : 1,
        level: taskId === null ? 'INFO' : 'WARN',
        message,
        timestamp: new Date(Date.UTC(2026, 0, 2) + ms),
      });
      await a.db.logs.append([line(null, 'execution line', 0), line('greet', 'task line', 1)]);
      const list = await a.fetch(`${prefix}/logs/${created.id}`);
      expect(list.status).toBe(200);
      const lines = (await list.json()) as Record<string, unknown>[];
      expect(lines).toHaveLength(2);
      lines.forEach((l, i) => expectModel('log-entry', l, `GET /logs/{id} [${i}]`));
      expect(lines[0]).toMatchObject({ attemptNumber: null, deleted: false });

      const page = expectPage('log-entry', await (await a.fetch(`${prefix}/logs/search?namespace=${namespace}`)).json(), 'GET /logs/search');
      expect(page.total).toBe(2);
    });
  }

  it("a create answers Kestra's url when SLUICE_PUBLIC_URL is set, in both path forms", async () => {
    const b = withUrl!;
    await createFlows(b, [`id: hello\nnamespace: shapes.url\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n`]);
    for (const prefix of ['/api/v1', '/api/v1/main']) {
      const response = await b.fetch(`${prefix}/executions/shapes.url/hello`, { method: 'POST' });
      expect(response.status).toBe(200);
      const execution = (await response.json()) as { id: string; url?: string };
      expectModel('execution', execution, `POST ${prefix}/executions`);
      expect(execution.url).toBe(`https://sluice.example.com/ui/main/executions/shapes.url/hello/${execution.id}`);
      // Only a create's answer carries it, as Kestra's ExecutionResponse.
      expect(await (await b.fetch(`${prefix}/executions/${execution.id}`)).json()).not.toHaveProperty('url');
    }
  });
});
