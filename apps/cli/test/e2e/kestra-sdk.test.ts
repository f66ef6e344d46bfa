/**
 * Kestra's own published client against Sluice (issue #17, "Done when"): `@kestra-io/kestra-sdk` 0.24.1, the JavaScript
 * SDK Kestra generates from its OpenAPI, every call with the tenant `main` in its path as Kestra 1.x clients send it.
 * The SDK is loaded unchanged (kestra-sdk/load.cjs explains the five model files its package lacks), against
 * `sluice server local`.
 *
 * Each response is also checked with the SDK's own model validation (`Model.validateJSON`: required fields and their
 * types), which is what a typed client built from Kestra's OpenAPI holds a server to.
 *
 * Three methods of this SDK cannot work against Kestra itself, and the test says so rather than hiding it:
 * - `createExecution` sends no inputs (its generated form has no field) and expects an array (Kestra's controller
 *   returns a Publisher, which the generator rendered as a list). The test sends the same request through the SDK's
 *   own transport (`ApiClient.callApi`), with the inputs as multipart fields and one execution as the answer, as Kestra
 *   1.x documents the route.
 * - `updateFlow` answers `oneOf(Flow, FlowWithSource)`, and every flow is both (the same required fields): the SDK
 *   throws "Multiple matches" on any 200. The test checks that error, and the 200 behind it.
 * - `filters` is serialised as one `filters=` string (the SDK stringifies QueryFilter objects), which no server can read:
 *   Sluice answers 400 and names it. The `filters[field][OP]=value` form is sent through `callApi`.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { useStack } from './stack.js';

const require = createRequire(import.meta.url);
const Kestra: KestraSdk = require('./kestra-sdk/load.cjs');

/* eslint-disable @typescript-eslint/no-explicit-any -- the SDK's generated classes are untyped */
interface Model {
  validateJSON(data: unknown): boolean;
  constructFromObject(data: unknown): any;
}
interface ApiClientInstance {
  basePath: string;
  defaultHeaders: Record<string, string>;
  callApi(...args: unknown[]): unknown;
  buildCollectionParam(values: unknown[] | undefined, format: string): unknown;
}
type Api = Record<string, (...args: any[]) => unknown>;
interface KestraSdk {
  ApiClient: new (basePath?: string) => ApiClientInstance;
  FlowsApi: new (client: ApiClientInstance) => Api;
  ExecutionsApi: new (client: ApiClientInstance) => Api;
  LogsApi: new (client: ApiClientInstance) => Api;
  MetricsApi: new (client: ApiClientInstance) => Api;
  [model: string]: any;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

interface Answer<T> {
  error?: Error & { status?: number; response?: { status: number; body: unknown; text?: string } };
  data: T;
  status: number;
  body: unknown;
  text: string;
}

/** Call an SDK method in its callback style (`(error, data, response)`), never throwing. */
function call<T = any>(invoke: (callback: (error: Answer<T>['error'], data: T, response?: { status: number; body: unknown; text?: string }) => void) => unknown): Promise<Answer<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve) => {
    invoke((error, data, response) => {
      const raw = response ?? error?.response;
      resolve({ ...(error ? { error } : {}), data, status: raw?.status ?? 0, body: raw?.body, text: raw?.text ?? '' });
    });
  });
}

/** A model's validation as the SDK runs it; returns the message it throws, or 'valid'. */
function validate(model: string, data: unknown): string {
  try {
    (Kestra[model] as Model).validateJSON(data);
    return 'valid';
  } catch (error) {
    return `${model}: ${(error as Error).message}`;
  }
}

const NS = 'sdk.contract';
const FLOW = [
  'id: orders',
  `namespace: ${NS}`,
  'description: loads the orders',
  'labels:',
  '  team: data',
  'inputs:',
  '  - id: who',
  '    type: STRING',
  '    defaults: world',
  '  - id: code',
  '    type: INT',
  '    defaults: 0',
  '  - id: pause',
  '    type: INT',
  '    defaults: 0',
  'tasks:',
  '  - id: hello',
  '    type: io.kestra.plugin.core.log.Log',
  '    message: "hello {{ inputs.who }}"',
  '  - id: load',
  '    type: io.kestra.plugin.scripts.shell.Commands',
  '    taskRunner:',
  '      type: io.kestra.plugin.core.runner.Process',
  '    commands:',
  '      - sleep {{ inputs.pause }}',
  `      - ${JSON.stringify(`echo '::${JSON.stringify({ metrics: [{ name: 'rows', type: 'counter', value: 3 }] })}::'`)}`,
  '      - exit {{ inputs.code }}',
].join('\n');

describe("Kestra's published JavaScript client (@kestra-io/kestra-sdk 0.24.1) against sluice server local", () => {
  const stack = useStack('local');
  const sdk = (): { client: ApiClientInstance; flows: Api; executions: Api; logs: Api; metrics: Api } => {
    const client = new Kestra.ApiClient(stack.url);
    return { client, flows: new Kestra.FlowsApi(client), executions: new Kestra.ExecutionsApi(client), logs: new Kestra.LogsApi(client), metrics: new Kestra.MetricsApi(client) };
  };

  /** createExecution's request, through the SDK's transport (see the header: the generated method cannot send inputs). */
  function createExecution(client: ApiClientInstance, inputs: Record<string, string | number>, options: { wait: boolean; labels?: string[] }): Promise<Answer<{ id: string }>> {
    return call((callback) =>
      client.callApi(
        '/api/v1/{tenant}/executions/{namespace}/{id}',
        'POST',
        { tenant: 'main', namespace: NS, id: 'orders' },
        { labels: client.buildCollectionParam(options.labels, 'multi'), wait: options.wait },
        {},
        inputs,
        null,
        [],
        ['multipart/form-data'],
        ['application/json'],
        Kestra.ExecutionControllerExecutionResponse,
        null,
        callback,
      ),
    );
  }

  /** A search through the SDK's transport with Kestra 1.x's `filters[field][OP]=value` parameters. */
  function searchWithFilters(client: ApiClientInstance, path: string, filters: Record<string, string | string[]>, returnType: unknown): Promise<Answer<{ total: number; results: Record<string, unknown>[] }>> {
    return call((callback) => client.callApi(path, 'GET', { tenant: 'main' }, { page: 1, size: 25, ...filters }, {}, {}, null, [], [], ['application/json'], returnType, null, callback));
  }

  it('creates, reads, updates, searches, lists by namespace and deletes flows', async () => {
    const { client, flows } = sdk();

    const created = await call((cb) => flows.createFlow!('main', FLOW, cb));
    expect(created.error).toBeUndefined();
    expect(created.status).toBe(200);
    expect(validate('FlowWithSource', created.body)).toBe('valid');
    expect(created.data).toBeInstanceOf(Kestra.FlowWithSource);
    expect(created.data).toMatchObject({ id: 'orders', namespace: NS, revision: 1, disabled: false, deleted: false });
    expect(created.data.labels).toEqual([expect.objectContaining({ key: 'team', value: 'data' })]);

    const read = await call((cb) => flows.getFlow!(NS, 'orders', true, false, 'main', {}, cb));
    expect(read.status).toBe(200);
    expect(validate('FlowWithSource', read.body)).toBe('valid');
    expect(read.data).toMatchObject({ id: 'orders', revision: 1, source: FLOW });

    // A new revision. The SDK cannot deserialise the answer (see the header): the 200 and its body are checked instead.
    const changed = FLOW.replace('description: loads the orders', 'description: loads the orders, daily');
    const updated = await call((cb) => flows.updateFlow!('orders', NS, 'main', changed, cb));
    expect(updated.error?.message).toMatch(/^Multiple matches found constructing `UpdateFlow200Response` with oneOf schemas Flow, FlowWithSource/);
    expect(updated.status).toBe(200);
    expect(validate('FlowWithSource', updated.body)).toBe('valid');
    expect(updated.body).toMatchObject({ id: 'orders', revision: 2, description: 'loads the orders, daily' });

    const listed = await call((cb) => flows.listFlowsByNamespace!(NS, 'main', cb));
    expect(listed.status).toBe(200);
    expect((listed.data as { id: string; revision: number }[]).map((flow) => [flow.id, flow.revision])).toEqual([['orders', 2]]);
    for (const flow of listed.body as unknown[]) expect(validate('Flow', flow)).toBe('valid');

    const searched = await call((cb) => flows.searchFlows!(1, 10, 'main', { namespace: NS, q: 'orders' }, cb));
    expect(searched.status).toBe(200);
    expect(validate('PagedResultsFlow', searched.body)).toBe('valid');
    expect(searched.data).toMatchObject({ total: 1, results: [expect.objectContaining({ id: 'orders' })] });

    const filtered = await searchWithFilters(client, '/api/v1/{tenant}/flows/search', { [`filters[namespace][EQUALS]`]: NS, [`filters[labels][EQUALS]`]: 'team:data' }, Kestra.PagedResultsFlow);
    expect(filtered.status).toBe(200);
    expect(filtered.data.total).toBe(1);
    const none = await searchWithFilters(client, '/api/v1/{tenant}/flows/search', { [`filters[namespace][EQUALS]`]: NS, [`filters[labels][EQUALS]`]: 'team:ops' }, Kestra.PagedResultsFlow);
    expect(none.data.total).toBe(0);

    // The SDK's own `filters` option cannot be read by any server (see the header): a 400 that names it, not all flows.
    const sdkFilters = await call((cb) => flows.searchFlows!(1, 10, 'main', { filters: [Kestra.QueryFilter.constructFromObject({ field: 'namespace', operation: 'EQUALS', value: NS })] }, cb));
    expect(sdkFilters.status).toBe(400);
    expect(JSON.stringify(sdkFilters.body)).toContain('filters');

    const scratch = FLOW.replace('id: orders', 'id: scratch');
    expect((await call((cb) => flows.createFlow!('main', scratch, cb))).status).toBe(200);
    const deleted = await call((cb) => flows.deleteFlow!(NS, 'scratch', 'main', cb));
    expect(deleted.error).toBeUndefined();
    expect(deleted.status).toBe(204);
    const gone = await call((cb) => flows.getFlow!(NS, 'scratch', false, false, 'main', {}, cb));
    expect(gone.status).toBe(404);
    expect(gone.error?.status).toBe(404);
  });

  it('starts executions with typed inputs and labels, waits for and follows them, kills and restarts them', async () => {
    const { client, executions } = sdk();

    // Waited for: the answer is the ended execution.
    const failed = await createExecution(client, { who: 'sdk', code: 3 }, { wait: true, labels: ['env:prod', 'run:first'] });
    expect(failed.error).toBeUndefined();
    expect(failed.status).toBe(200);
    expect(validate('ExecutionControllerExecutionResponse', failed.body)).toBe('valid');
    expect(validate('Execution', failed.body)).toBe('valid');
    const failedJson = failed.body as { id: string; inputs: Record<string, unknown>; labels: { key: string; value: string }[]; state: { current: string }; taskRunList: { taskId: string; attempts: unknown[]; state: { current: string } }[] };
    expect(failedJson.state.current).toBe('FAILED');
    expect(failedJson.inputs).toEqual({ who: 'sdk', code: 3, pause: 0 });
    expect(failedJson.labels).toEqual(expect.arrayContaining([{ key: 'env', value: 'prod' }, { key: 'run', value: 'first' }, { key: 'team', value: 'data' }]));
    for (const run of failedJson.taskRunList) {
      expect(validate('TaskRun', run)).toBe('valid');
      for (const attempt of run.attempts) expect(validate('TaskRunAttempt', attempt)).toBe('valid');
    }

    const got = await call((cb) => executions.getExecution!(failedJson.id, 'main', cb));
    expect(got.status).toBe(200);
    expect(got.data).toBeInstanceOf(Kestra.Execution);
    expect(got.data.state.current).toBe('FAILED');

    // Restart: the failed task runs again; following the execution returns once it has ended again.
    const restarted = await call((cb) => executions.restartExecution!(failedJson.id, 'main', {}, cb));
    expect(restarted.error).toBeUndefined();
    expect(restarted.status).toBe(200);
    expect(validate('Execution', restarted.body)).toBe('valid');
    expect(restarted.data.state.current).toBe('RESTARTED');
    const followed = await call((cb) => executions.followExecution!(failedJson.id, 'main', cb));
    expect(followed.error).toBeUndefined();
    expect(followed.status).toBe(200);
    expect(followed.text).toMatch(/^data: .*"current":"FAILED"/m);
    const again = await call((cb) => executions.getExecution!(failedJson.id, 'main', cb));
    expect(again.data.state.current).toBe('FAILED');
    expect(again.data.taskRunList.find((run: { taskId: string }) => run.taskId === 'load').attempts).toHaveLength(2);

    // Not waited for, then killed while its script sleeps.
    const slow = await createExecution(client, { pause: 30 }, { wait: false });
    expect(slow.status).toBe(200);
    expect((slow.body as { state: { current: string } }).state.current).toBe('CREATED');
    await stack.waitFor(slow.data.id, (execution) => execution.taskRunList.some((run) => run.taskId === 'load' && run.state.current === 'RUNNING'));
    const killed = await call((cb) => executions.killExecution!(slow.data.id, true, 'main', cb));
    expect(killed.error).toBeUndefined();
    expect(killed.status).toBe(202);
    await call((cb) => executions.followExecution!(slow.data.id, 'main', cb));
    expect((await call((cb) => executions.getExecution!(slow.data.id, 'main', cb))).data.state.current).toBe('KILLED');

    // The bulk forms, by ids.
    const passed = await createExecution(client, {}, { wait: true });
    expect((passed.body as { state: { current: string } }).state.current).toBe('SUCCESS');
    const bulkRestart = await call((cb) => executions.restartExecutionsByIds!('main', [failedJson.id], cb));
    expect(bulkRestart.status).toBe(200);
    expect(validate('BulkResponse', bulkRestart.body)).toBe('valid');
    expect(bulkRestart.data.count).toBe(1);
    await call((cb) => executions.followExecution!(failedJson.id, 'main', cb));
    const bulkKill = await call((cb) => executions.killExecutionsByIds!('main', [passed.data.id], cb));
    // An ended execution cannot be killed: Kestra answers 400 with the invalid ids.
    expect(bulkKill.status).toBe(400);
    expect(JSON.stringify(bulkKill.body)).toContain(passed.data.id);
  });

  it('lists and searches executions, with the 0.x parameters and with filters', async () => {
    const { client, executions } = sdk();

    const byFlow = await call((cb) => executions.searchExecutionsByFlowId!(NS, 'orders', 1, 10, 'main', cb));
    expect(byFlow.status).toBe(200);
    expect(validate('PagedResultsExecution', byFlow.body)).toBe('valid');
    expect(byFlow.data.total).toBe(3);

    const failedOnly = await call((cb) => executions.searchExecutions!(1, 10, 'main', { namespace: NS, state: ['FAILED'], labels: ['env:prod'] }, cb));
    expect(failedOnly.status).toBe(200);
    expect(validate('PagedResultsExecution', failedOnly.body)).toBe('valid');
    expect(failedOnly.data.total).toBe(1);
    expect(failedOnly.data.results[0]).toBeInstanceOf(Kestra.Execution);

    const filtered = await searchWithFilters(client, '/api/v1/{tenant}/executions/search', { 'filters[namespace][EQUALS]': NS, 'filters[state][IN]': ['KILLED', 'SUCCESS'], sort: 'state.startDate:asc' }, Kestra.PagedResultsExecution);
    expect(filtered.status).toBe(200);
    expect(filtered.data.results.map((execution) => (execution as { state: { current: string } }).state.current)).toEqual(['KILLED', 'SUCCESS']);

    const unknown = await searchWithFilters(client, '/api/v1/{tenant}/executions/search', { 'filters[colour][EQUALS]': 'red' }, Kestra.PagedResultsExecution);
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('colour');
  });

  it('reads, searches, downloads and follows logs', async () => {
    const { client, executions, logs } = sdk();
    const done = await createExecution(client, { who: 'logs' }, { wait: true });
    const id = done.data.id;

    const listed = await call((cb) => logs.listLogsFromExecution!(id, 'main', { minLevel: 'INFO' }, cb));
    expect(listed.status).toBe(200);
    for (const entry of listed.body as unknown[]) expect(validate('LogEntry', entry)).toBe('valid');
    expect(listed.data.map((entry: { message: string }) => entry.message)).toContain('hello logs');
    const oneTask = await call((cb) => logs.listLogsFromExecution!(id, 'main', { taskId: 'hello' }, cb));
    expect(new Set(oneTask.data.map((entry: { taskId: string }) => entry.taskId))).toEqual(new Set(['hello']));

    const searched = await call((cb) => logs.searchLogs!(1, 10, 'main', { namespace: NS, flowId: 'orders', q: 'hello logs' }, cb));
    expect(searched.status).toBe(200);
    expect(validate('PagedResultsLogEntry', searched.body)).toBe('valid');
    expect(searched.data.total).toBe(1);

    const downloaded = await call((cb) => logs.downloadLogsFromExecution!(id, 'main', {}, cb));
    expect(downloaded.status).toBe(200);
    expect(downloaded.text).toContain('hello logs');

    const followed = await call((cb) => logs.followLogsFromExecution!(id, 'main', {}, cb));
    expect(followed.status).toBe(200);
    // Every data line is a log entry; the stream ends with `id: end` and no data (Kestra's end).
    const data = followed.text.split('\n').filter((line) => line.startsWith('data:'));
    expect(data.length).toBeGreaterThan(0);
    for (const line of data) expect(validate('LogEntry', JSON.parse(line.slice(5)))).toBe('valid');
    expect(followed.text.trimEnd().split('\n').at(-1)).toBe('id: end');
    expect((await call((cb) => executions.getExecution!(id, 'main', cb))).data.state.current).toBe('SUCCESS');
  });

  it('reads metrics: the script’s own and the built-in ones', async () => {
    const { client, metrics } = sdk();
    const done = await createExecution(client, { code: 2 }, { wait: true });
    const id = done.data.id;

    const page = await call((cb) => metrics.searchByExecution!(1, 25, id, 'main', { sort: ['name:asc'] }, cb));
    expect(page.status).toBe(200);
    expect(validate('PagedResultsMetricEntry', page.body)).toBe('valid');
    const entries = (page.body as { results: { taskId: string; name: string; type: string; value: number }[] }).results;
    for (const entry of entries) expect(validate('MetricEntry', entry)).toBe('valid');
    expect(entries.map(({ taskId, name, type }) => `${taskId} ${type} ${name}`).sort()).toEqual(['hello timer duration', 'load counter rows', 'load gauge exitCode', 'load timer duration']);
    expect(entries.find((entry) => entry.name === 'exitCode')?.value).toBe(2);

    expect((await call((cb) => metrics.listFlowMetrics!(NS, 'orders', 'main', cb))).data).toEqual(expect.arrayContaining(['duration', 'exitCode', 'rows']));
    expect((await call((cb) => metrics.listTaskMetrics!(NS, 'orders', 'load', 'main', cb))).data).toEqual(['duration', 'exitCode', 'rows']);
    expect((await call((cb) => metrics.listTasksWithMetrics!(NS, 'orders', 'main', cb))).data).toEqual(['hello', 'load']);
    const aggregate = await call((cb) => metrics.aggregateMetricsFromFlow!(NS, 'orders', 'rows', 'sum', 'main', {}, cb));
    expect(aggregate.status).toBe(200);
    expect(validate('MetricAggregations', aggregate.body)).toBe('valid');
    // Every attempt of the script that reached its echo counted 3 rows: the first execution's three (its run and two
    // restarts), the one that passed, the logs test's and this one; the killed one was stopped in its sleep.
    expect(aggregate.data.aggregations.reduce((sum: number, bucket: { value: number }) => sum + bucket.value, 0)).toBe(18);
  });
});
