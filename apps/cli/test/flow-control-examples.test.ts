/**
 * The flow-control examples run for real with `sluice run` (runCommand, output captured): the engine, the task
 * runtime and the PROCESS runner, no server. Two parts:
 * - every flow of examples/flow-control/ ends in the state its description promises, with its task runs in the
 *   order, on the branches and with the values it promises (a file without a test here fails the first test);
 * - Kestra's own documented example flows of each flowable and core task (its plugin pages and its "Flowable
 *   tasks" and "Labels" docs pages), written as Kestra documents them, end in the state Kestra gives them. They are
 *   the fixtures of packages/testing/fixtures/kestra-examples (the plugins' tests validate every one); where a flow
 *   had to change to run offline or in a test, a comment in its file says what and why.
 *
 * Timings are read from the tasks' own outputs (epoch ms taken by `date` in the task), never from sleeps in the
 * test: "B started after A ended" is checked as B.start >= A.end.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kestraExample } from '@sluice/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../src/commands/run.js';

interface TaskRunJson {
  id: string;
  taskId: string;
  parentTaskRunId?: string;
  value?: string;
  iteration?: number;
  state: { current: string; histories: { state: string; date: string }[] };
  /** One per attempt run (none for a flowable task or one that never ran), as the API shows them. */
  attempts?: { state: { current: string; startDate: string; endDate?: string; duration: string } }[];
  outputs?: Record<string, unknown>;
  error?: { code: string; message: string };
}

interface ExecutionJson {
  id: string;
  state: { current: string };
  labels: { key: string; value: string }[];
  taskRunList: TaskRunJson[];
}

interface Ran {
  code: number;
  execution: ExecutionJson;
  stderr: string[];
  /** Wall time of the whole run, ms. */
  ms: number;
}

interface RunOptions {
  inputs?: string[];
  resumeAfterMs?: number;
}

const EXAMPLES = resolve(import.meta.dirname, '../../../examples/flow-control');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-flow-control-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run a flow file with `sluice run --output json` and read the final execution. */
async function runFile(file: string, options: RunOptions = {}): Promise<Ran> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const started = Date.now();
  const code = await runCommand(
    { file, inputs: options.inputs ?? [], output: 'json', dataDir: join(dir, 'data'), ...(options.resumeAfterMs !== undefined ? { resumeAfterMs: options.resumeAfterMs } : {}) },
    { ...process.env, SLUICE_PROCESS_SPAWN: undefined },
    { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) },
  );
  const ms = Date.now() - started;
  expect(stdout, `one JSON document on stdout (stderr: ${stderr.join(' | ')})`).toHaveLength(1);
  return { code, execution: JSON.parse(stdout[0] as string) as ExecutionJson, stderr, ms };
}

const runExample = (name: string, options?: RunOptions): Promise<Ran> => runFile(join(EXAMPLES, name), options);

/** Run a flow given as YAML text. */
async function runYaml(yaml: string, options?: RunOptions): Promise<Ran> {
  const file = join(dir, `kestra-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(file, yaml);
  return runFile(file, options);
}

/** Run one of Kestra's documented examples: packages/testing/fixtures/kestra-examples/<name>.yml. */
const runKestra = (name: string, options?: RunOptions): Promise<Ran> => runYaml(kestraExample(name), options);

/** The task runs in creation order: `taskId[value]#iteration STATE`. */
function runs(execution: ExecutionJson): string[] {
  return execution.taskRunList.map((r) => `${r.taskId}${r.value !== undefined ? `[${r.value}]` : ''}${r.iteration !== undefined ? `#${r.iteration}` : ''} ${r.state.current}`);
}

/** The execution ended in `state`, with exactly these task runs (as {@link runs} writes them) in this order. */
function expectEnded(execution: ExecutionJson, state: string, expected: string[]): void {
  expect(execution.state.current).toBe(state);
  expect(runs(execution)).toEqual(expected);
}

/** The one task run of `taskId` (with `value`); fails the test when there is none or several. */
function runOf(execution: ExecutionJson, taskId: string, value?: string): TaskRunJson {
  const found = execution.taskRunList.filter((r) => r.taskId === taskId && (value === undefined || r.value === value));
  expect(found, `task runs of ${taskId}${value !== undefined ? `[${value}]` : ''}`).toHaveLength(1);
  return found[0] as TaskRunJson;
}

/** A script output (`outputs.<task>.vars.<key>`) of the one run of `taskId`. */
function varOf(execution: ExecutionJson, taskId: string, key: string, value?: string): unknown {
  const vars = runOf(execution, taskId, value).outputs?.vars as Record<string, unknown> | undefined;
  return vars?.[key];
}

function numberVar(execution: ExecutionJson, taskId: string, key: string, value?: string): number {
  const n = varOf(execution, taskId, key, value);
  expect(typeof n, `outputs.${taskId}.vars.${key}`).toBe('number');
  return n as number;
}

interface Span {
  start: number;
  end: number;
}

/** When the one run of `taskId` ran: the epoch ms its script wrote as `start` and `end` (outputs.<task>.vars). */
function spanOf(execution: ExecutionJson, taskId: string, value?: string): Span {
  return { start: numberVar(execution, taskId, 'start', value), end: numberVar(execution, taskId, 'end', value) };
}

function childrenOf(execution: ExecutionJson, parent: TaskRunJson): TaskRunJson[] {
  return execution.taskRunList.filter((r) => r.parentTaskRunId === parent.id);
}

/** The execution's labels as a map, without Sluice's own `system.*` labels. */
function labelsOf(execution: ExecutionJson): Record<string, string> {
  return Object.fromEntries(execution.labels.filter((l) => !l.key.startsWith('system.')).map((l) => [l.key, l.value]));
}

/** Every example file has a test below: the names here are the files the tests run. */
const COVERED = [
  'allow-failure.yml',
  'dag.yml',
  'each-parallel.yml',
  'each-sequential.yml',
  'echo.yml',
  'errors-and-runif.yml',
  'fail.yml',
  'finally-and-after-execution.yml',
  'foreach-concurrent.yml',
  'foreach.yml',
  'if.yml',
  'labels.yml',
  'output-values.yml',
  'parallel.yml',
  'pause-approval.yml',
  'pause.yml',
  'return.yml',
  'sequential.yml',
  'sleep.yml',
  'switch.yml',
  'wait-for.yml',
];

describe('examples/flow-control', () => {
  it('every example file has a test here', async () => {
    const files = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml')).sort();
    expect(files).toEqual(COVERED);
  });

  it('sequential.yml: the steps of the group run in order, each reading the one before', async () => {
    const { code, execution } = await runExample('sequential.yml');
    expect(code).toBe(0);
    expectEnded(execution, 'SUCCESS', ['build SUCCESS', 'compile SUCCESS', 'package SUCCESS', 'report SUCCESS']);
    const build = runOf(execution, 'build');
    expect(childrenOf(execution, build).map((r) => r.taskId)).toEqual(['compile', 'package']);
    expect(varOf(execution, 'package', 'checksum')).toBe('16'); // "app-1.4.2.tar.gz" | length
    expect(build.outputs).toBeUndefined(); // none: left out, as the API leaves out an empty map
  });

  it('finally-and-after-execution.yml: cleanup whatever happened, then the alert for the final state', async () => {
    const failed = await runExample('finally-and-after-execution.yml');
    expect(failed.code).toBe(1);
    expectEnded(failed.execution, 'FAILED', ['load FAILED', 'cleanup SUCCESS', 'on_success SKIPPED', 'on_failure SUCCESS']);
    const loaded = await runExample('finally-and-after-execution.yml', { inputs: ['rows=3'] });
    expect(loaded.code).toBe(0);
    expectEnded(loaded.execution, 'SUCCESS', ['load SUCCESS', 'cleanup SUCCESS', 'on_success SUCCESS', 'on_failure SKIPPED']);
  });

  it('parallel.yml: two tasks at a time; the third starts once one of the first two ended', async () => {
    const { execution } = await runExample('parallel.yml');
    expectEnded(execution, 'SUCCESS', ['regions SUCCESS', 'eu SUCCESS', 'us SUCCESS', 'asia SUCCESS', 'joined SUCCESS']);
    const [eu, us, asia] = ['eu', 'us', 'asia'].map((id) => spanOf(execution, id)) as [Span, Span, Span];
    // eu and us overlap (they ran side by side) ...
    expect(us.start).toBeLessThan(eu.end);
    expect(eu.start).toBeLessThan(us.end);
    // ... and asia waited for a free slot (concurrent: 2).
    expect(asia.start).toBeGreaterThanOrEqual(Math.min(eu.end, us.end));
  });

  it('if.yml: else by default, then with environment=production; evaluationResult says which', async () => {
    const staging = await runExample('if.yml');
    expectEnded(staging.execution, 'SUCCESS', ['is_production SUCCESS', 'deploy_directly SUCCESS']);
    expect(runOf(staging.execution, 'is_production').outputs).toEqual({ evaluationResult: false });
    expect(varOf(staging.execution, 'deploy_directly', 'target')).toBe('staging-cluster');

    const production = await runExample('if.yml', { inputs: ['environment=production'] });
    expectEnded(production.execution, 'SUCCESS', ['is_production SUCCESS', 'deploy_with_approval SUCCESS']);
    expect(runOf(production.execution, 'is_production').outputs).toEqual({ evaluationResult: true });
    expect(varOf(production.execution, 'deploy_with_approval', 'target')).toBe('prod-cluster');
  });

  it('switch.yml: the matching case runs, defaults when none matches; outputs value and defaults', async () => {
    const csv = await runExample('switch.yml');
    expectEnded(csv.execution, 'SUCCESS', ['convert SUCCESS', 'from_csv SUCCESS']);
    expect(varOf(csv.execution, 'from_csv', 'rows')).toBe(2);
    expect(runOf(csv.execution, 'convert').outputs).toEqual({ value: 'csv', defaults: false });

    const json = await runExample('switch.yml', { inputs: ['format=json'] });
    expect(runs(json.execution)).toEqual(['convert SUCCESS', 'from_json SUCCESS']);
    expect(varOf(json.execution, 'from_json', 'rows')).toBe(3);

    const parquet = await runExample('switch.yml', { inputs: ['format=parquet'] });
    expectEnded(parquet.execution, 'SUCCESS', ['convert SUCCESS', 'unsupported SUCCESS']);
    expect(runOf(parquet.execution, 'convert').outputs).toEqual({ value: 'parquet', defaults: true });
  });

  it('foreach.yml: one value after another; taskrun.value, parent.taskrun.value and outputs by value', async () => {
    const { execution } = await runExample('foreach.yml');
    expectEnded(execution, 'SUCCESS', [
      'each_region SUCCESS',
      'deploy[eu-west]#0 SUCCESS',
      'only_us[eu-west]#0 SUCCESS',
      'deploy[us-east]#1 SUCCESS',
      'only_us[us-east]#1 SUCCESS',
      'notify_us_team SUCCESS',
      'deploy[ap-south]#2 SUCCESS',
      'only_us[ap-south]#2 SUCCESS',
      'summary SUCCESS',
    ]);
    expect(varOf(execution, 'deploy', 'endpoint', 'ap-south')).toBe('https://ap-south.example.com');
    expect(runOf(execution, 'only_us', 'eu-west').outputs).toEqual({ evaluationResult: false });
    expect(runOf(execution, 'only_us', 'us-east').outputs).toEqual({ evaluationResult: true });
    // A grandchild: its parent is the If of value us-east, and it read outputs.deploy[parent.taskrun.value].
    expect(runOf(execution, 'notify_us_team').parentTaskRunId).toBe(runOf(execution, 'only_us', 'us-east').id);
    expect(varOf(execution, 'notify_us_team', 'notified')).toBe('https://us-east.example.com');
  });

  it('foreach-concurrent.yml: two values in flight, the tasks of one value in order, values from a JSON string', async () => {
    const { execution } = await runExample('foreach-concurrent.yml');
    expect(execution.state.current).toBe('SUCCESS');
    const tables = ['orders', 'customers', 'invoices', 'refunds'];
    const each = runOf(execution, 'each_table');
    expect(childrenOf(execution, each).map((r) => `${r.taskId}[${r.value ?? ''}]`).sort()).toEqual(tables.flatMap((t) => [`extract[${t}]`, `load[${t}]`]).sort());
    // The first batch is created in value order (Kestra's code reverses it).
    expect(childrenOf(execution, each).slice(0, 2).map((r) => r.value)).toEqual(['orders', 'customers']);
    const spans = tables.map((t) => {
      const extract = spanOf(execution, 'extract', t);
      const load = spanOf(execution, 'load', t);
      // The tasks of one value run one after another (Kestra's code lets them overlap: issue #8614).
      expect(load.start, `load[${t}] after extract[${t}]`).toBeGreaterThanOrEqual(extract.end);
      return { start: extract.start, end: load.end };
    });
    // Never more than two values in flight; and two did run side by side.
    for (const span of spans) {
      const inFlight = spans.filter((other) => other.start <= span.start && span.start < other.end).length;
      expect(inFlight).toBeLessThanOrEqual(2);
    }
    expect(spans[1]!.start).toBeLessThan(spans[0]!.end);
    expect(varOf(execution, 'extract', 'file', 'refunds')).toBe('refunds.csv');
  });

  it('each-sequential.yml: values from a JSON string, duplicates once, in order', async () => {
    const { execution } = await runExample('each-sequential.yml');
    expectEnded(execution, 'SUCCESS', ['each_month SUCCESS', 'archive[2024-01]#0 SUCCESS', 'archive[2024-02]#1 SUCCESS', 'archive[2024-03]#2 SUCCESS', 'done SUCCESS']);
    expect(varOf(execution, 'archive', 'archive', '2024-02')).toBe('logs-2024-02.tar.gz');
  });

  it('each-parallel.yml: a Sequential per value, two values at a time, parents[0].taskrun.value inside', async () => {
    const { execution } = await runExample('each-parallel.yml');
    expect(execution.state.current).toBe('SUCCESS');
    for (const [shard, docs] of [['shard-1', 100], ['shard-2', 200], ['shard-3', 300]] as const) {
      const group = runOf(execution, 'per_shard', shard);
      expect(group.state.current).toBe('SUCCESS');
      const steps = childrenOf(execution, group);
      expect(steps.map((r) => `${r.taskId} ${r.state.current}`)).toEqual(['reindex SUCCESS', 'verify SUCCESS']);
      expect((steps[0]?.outputs?.vars as Record<string, unknown>).docs).toBe(docs);
    }
    // concurrent: 2: the third group is created only after a group ended (so after a verify ran).
    const order = execution.taskRunList.map((r) => `${r.taskId}${r.value ? `[${r.value}]` : ''}`);
    expect(order.indexOf('per_shard[shard-3]')).toBeGreaterThan(order.indexOf('verify'));
  });

  it('allow-failure.yml: the failed block ends WARNING, its errors run, the flow goes on, the execution ends WARNING', async () => {
    const { code, execution } = await runExample('allow-failure.yml');
    expect(code).toBe(0);
    expectEnded(execution, 'WARNING', ['optional_cleanup WARNING', 'purge_cache FAILED', 'note_failure SUCCESS', 'publish SUCCESS']);
  });

  it('dag.yml: the extracts run together, transform after both, load after transform', async () => {
    const { execution } = await runExample('dag.yml');
    expectEnded(execution, 'SUCCESS', ['pipeline SUCCESS', 'extract_orders SUCCESS', 'extract_customers SUCCESS', 'transform SUCCESS', 'load SUCCESS']);
    const orders = spanOf(execution, 'extract_orders');
    const customers = spanOf(execution, 'extract_customers');
    expect(customers.start).toBeLessThan(orders.end);
    expect(numberVar(execution, 'transform', 'start')).toBeGreaterThanOrEqual(Math.max(orders.end, customers.end));
    expect(numberVar(execution, 'load', 'start')).toBeGreaterThanOrEqual(numberVar(execution, 'transform', 'end'));
    expect(varOf(execution, 'transform', 'rows')).toBe(150);
  });

  it('pause.yml: the execution pauses, then resumes by itself after the delay', async () => {
    const { execution } = await runExample('pause.yml');
    expectEnded(execution, 'SUCCESS', ['before SUCCESS', 'cool_down SUCCESS', 'after SUCCESS']);
    expect(numberVar(execution, 'after', 'at') - numberVar(execution, 'before', 'at')).toBeGreaterThanOrEqual(1000);
  });

  it('pause-approval.yml: resumed (--resume-after), the onResume defaults are its output and pick the branch', async () => {
    const { execution } = await runExample('pause-approval.yml', { resumeAfterMs: 100 });
    expectEnded(execution, 'SUCCESS', ['approve SUCCESS', 'decide SUCCESS', 'ship SUCCESS']);
    expect(runOf(execution, 'approve').outputs).toEqual({ onResume: { approved: true, reason: 'looks good' } });
  });

  it('pause-approval.yml: with nobody to resume it (no terminal, no --resume-after) the run says so and ends KILLED', async () => {
    const { code, execution, stderr } = await runExample('pause-approval.yml');
    expect(code).toBe(1);
    expectEnded(execution, 'KILLED', ['approve KILLED']);
    expect(stderr.join('\n')).toMatch(/PAUSED at approve and stdin is not a terminal: pass --resume-after/);
  });

  // `sluice run` resumes a Pause waiting for a resume while its timeout's wake-up is pending (it once waited for the
  // wake-up first, and the Pause failed).
  it('pause-approval.yml with a timeout: --resume-after resumes it before the timeout', async () => {
    const source = await readFile(join(EXAMPLES, 'pause-approval.yml'), 'utf8');
    const withTimeout = source.replace('    type: io.kestra.plugin.core.flow.Pause\n', '    type: io.kestra.plugin.core.flow.Pause\n    timeout: PT3S\n');
    expect(withTimeout).toContain('timeout: PT3S');
    const { execution, ms } = await runYaml(withTimeout, { resumeAfterMs: 100 });
    expectEnded(execution, 'SUCCESS', ['approve SUCCESS', 'decide SUCCESS', 'ship SUCCESS']);
    expect(ms).toBeLessThan(3000);
  });

  it('wait-for.yml: the tasks run again until the condition holds; every iteration is kept', async () => {
    const { execution } = await runExample('wait-for.yml');
    expectEnded(execution, 'SUCCESS', ['until_ready#3 SUCCESS', 'poll_job#1 SUCCESS', 'poll_job#2 SUCCESS', 'poll_job#3 SUCCESS', 'report SUCCESS']);
    expect(runOf(execution, 'until_ready').outputs).toEqual({ iterationCount: 3 });
    const polls = execution.taskRunList.filter((r) => r.taskId === 'poll_job').map((r) => r.outputs?.vars);
    expect(polls).toEqual([{ ready: false, check: 1 }, { ready: false, check: 2 }, { ready: true, check: 3 }]);
  });

  it('sleep.yml: the next task starts a second later', async () => {
    const { execution } = await runExample('sleep.yml');
    expectEnded(execution, 'SUCCESS', ['before SUCCESS', 'wait_a_second SUCCESS', 'after SUCCESS']);
    expect(numberVar(execution, 'after', 'at') - numberVar(execution, 'before', 'at')).toBeGreaterThanOrEqual(1000);
  });

  it('fail.yml: no rows fails the flow and runs its errors; rows=3 loads', async () => {
    const empty = await runExample('fail.yml');
    expect(empty.code).toBe(1);
    expectEnded(empty.execution, 'FAILED', ['extract SUCCESS', 'nothing_to_load FAILED', 'alert SUCCESS']);
    expect(runOf(empty.execution, 'nothing_to_load').error?.message).toMatch(/Fail on a condition/);

    const rows = await runExample('fail.yml', { inputs: ['rows=3'] });
    expect(rows.code).toBe(0);
    expectEnded(rows.execution, 'SUCCESS', ['extract SUCCESS', 'nothing_to_load SUCCESS', 'load SUCCESS']);
  });

  it('return.yml: the rendered value is an output the next task reads', async () => {
    const { execution } = await runExample('return.yml', { inputs: ['customer=ACME'] });
    expect(execution.state.current).toBe('SUCCESS');
    const key = `exports/acme/${execution.id}.csv`;
    expect(runOf(execution, 'object_key').outputs).toEqual({ value: key });
    expect(varOf(execution, 'export', 'key')).toBe(key);
  });

  it('echo.yml: a WARN line, and the task still ends SUCCESS with no outputs', async () => {
    const { execution } = await runExample('echo.yml');
    expectEnded(execution, 'SUCCESS', ['measure SUCCESS', 'disk_warning SUCCESS']);
    expect(runOf(execution, 'disk_warning').outputs).toBeUndefined(); // none: left out, as the API leaves out an empty map
  });

  it('output-values.yml: the values are rendered, as text, and read by the next task', async () => {
    const { execution } = await runExample('output-values.yml');
    expect(execution.state.current).toBe('SUCCESS');
    expect(runOf(execution, 'settings').outputs).toEqual({ values: { bucket: 'reports-company-examples', retention_days: '28', formats: ['csv', 'parquet'] } });
    expect(varOf(execution, 'upload', 'target')).toBe('s3://reports-company-examples/csv');
  });

  it('labels.yml: the Labels task changes and adds labels; later tasks read them and the correlation id', async () => {
    const { execution } = await runExample('labels.yml');
    expectEnded(execution, 'SUCCESS', ['detect SUCCESS', 'tag SUCCESS', 'show SUCCESS']);
    expect(execution.labels).toEqual(expect.arrayContaining([{ key: 'stage', value: 'published' }, { key: 'dataset', value: 'sales_2024' }]));
    expect(varOf(execution, 'show', 'stage')).toBe('published');
    expect(varOf(execution, 'show', 'correlationId')).toBe(execution.id);
  });

  it('errors-and-runif.yml: SKIPPED, disabled, an inherited retry, allowFailure and a flowable errors branch', async () => {
    const { code, execution } = await runExample('errors-and-runif.yml');
    expect(code).toBe(0);
    expectEnded(execution, 'WARNING', [
      'check SUCCESS',
      'full_reload SKIPPED',
      'load SUCCESS',
      'flaky_upload SUCCESS',
      'notify WARNING',
      'send_email FAILED',
      'log_notify_failure SUCCESS',
    ]);
    expect(runOf(execution, 'flaky_upload').attempts?.map((a) => a.state.current)).toEqual(['FAILED', 'SUCCESS']);
  });
});

/**
 * Kestra's documented example flows, as its docs write them. Namespaces, ids and messages are Kestra's. Sources:
 * the plugin pages on kestra.io/plugins (the @Example blocks of each task) and the docs pages "Flowable Tasks" and
 * "Labels" (kestra.io/docs/workflow-components/...).
 */
describe("Kestra's documented examples", () => {
  /**
   * The task runs of for_loop_example and each_sequential_loop_example: `loop` over "value 1" to "value 3", each value
   * running before_if, then an If that runs after_if for "value 2" only.
   */
  const ifPerValue = (loop: string): string[] => [
    `${loop} SUCCESS`,
    'before_if[value 1]#0 SUCCESS',
    'if[value 1]#0 SUCCESS',
    'before_if[value 2]#1 SUCCESS',
    'if[value 2]#1 SUCCESS',
    'after_if SUCCESS',
    'before_if[value 3]#2 SUCCESS',
    'if[value 3]#2 SUCCESS',
  ];

  it('Sequential and Parallel: parallel_sequences (Parallel plugin page) ends SUCCESS, each sequence in order', async () => {
    const { execution } = await runKestra('parallel_sequences');
    expect(execution.state.current).toBe('SUCCESS');
    expect(execution.taskRunList).toHaveLength(7);
    for (const [sequence, tasks] of [['sequence1', ['task1', 'task2']], ['sequence2', ['task3', 'task4']]] as const) {
      const children = childrenOf(execution, runOf(execution, sequence));
      expect(children.map((r) => r.taskId)).toEqual(tasks);
      expect(children.map((r) => r.outputs)).toEqual(tasks.map((t) => ({ value: t })));
    }
    // Both sequences started before either ended: Parallel created them together.
    expect(runs(execution).slice(0, 3)).toEqual(['parallel SUCCESS', 'sequence1 SUCCESS', 'sequence2 SUCCESS']);
  });

  it('If: the plugin page example takes then for "Condition" and else otherwise', async () => {
    const flow = kestraExample('if');
    const yes = await runYaml(flow, { inputs: ['string=Condition'] });
    expectEnded(yes.execution, 'SUCCESS', ['if SUCCESS', 'when_true SUCCESS']);
    const no = await runYaml(flow, { inputs: ['string=condition'] });
    expectEnded(no.execution, 'SUCCESS', ['if SUCCESS', 'when_false SUCCESS']);
  });

  it('If: if_condition ("Flowable tasks" page) branches on a BOOLEAN input', async () => {
    const flow = kestraExample('if_condition');
    expect(runs((await runYaml(flow, { inputs: ['param=true'] })).execution)).toEqual(['if SUCCESS', 'when_true SUCCESS']);
    expect(runs((await runYaml(flow, { inputs: ['param=false'] })).execution)).toEqual(['if SUCCESS', 'when_false SUCCESS']);
  });

  it('Switch: switch ("Flowable tasks" page) matches the case keys true and false', async () => {
    const flow = kestraExample('switch_boolean');
    const yes = await runYaml(flow, { inputs: ['param=true'] });
    expectEnded(yes.execution, 'SUCCESS', ['decision SUCCESS', 'is_true SUCCESS']);
    expect(runOf(yes.execution, 'decision').outputs).toEqual({ value: 'true', defaults: false });
    const no = await runYaml(flow, { inputs: ['param=false'] });
    expect(runs(no.execution)).toEqual(['decision SUCCESS', 'is_false SUCCESS']);
  });

  it('Switch and Fail: fail_on_switch ("Flowable tasks" page) fails on notexist, and on a value no case matches', async () => {
    // `default` is a case key here, not `defaults`: a value no case matches has nowhere to go, which fails the
    // Switch ("No task found", Kestra's test switch-impossible).
    const flow = kestraExample('fail_on_switch');
    const one = await runYaml(flow, { inputs: ['param=case1'] });
    expectEnded(one.execution, 'SUCCESS', ['switch SUCCESS', 'case1 SUCCESS']);

    const fail = await runYaml(flow, { inputs: ['param=notexist'] });
    expect(fail.code).toBe(1);
    expectEnded(fail.execution, 'FAILED', ['switch FAILED', 'fail FAILED']);
    expect(runOf(fail.execution, 'fail').error?.message).toMatch(/Task failure/);

    const none = await runYaml(flow, { inputs: ['param=case3'] });
    expectEnded(none.execution, 'FAILED', ['switch FAILED']);
    expect(runOf(none.execution, 'switch').outputs).toEqual({ value: 'case3', defaults: true });
  });

  it('ForEach: for_loop_example (plugin page) runs the If per value and after_if for "value 2" only', async () => {
    const { execution } = await runKestra('for_loop_example');
    expectEnded(execution, 'SUCCESS', ifPerValue('for_each'));
    expect(runOf(execution, 'before_if', 'value 3').outputs).toEqual({ value: 'Before if value 3' });
    expect(runOf(execution, 'after_if').outputs).toEqual({ value: 'After if value 2' });
  });

  it('ForEach: for_each_value (plugin page, concurrencyLimit 2, a YAML list) returns once per value', async () => {
    const { execution } = await runKestra('for_each_value');
    expect(execution.state.current).toBe('SUCCESS');
    expect(execution.taskRunList).toHaveLength(5);
    for (const v of ['value 1', 'value 2', 'value 3', 'value 4']) expect(runOf(execution, 'return', v).outputs).toEqual({ value: `return with value '${v}'` });
  });

  it('EachSequential: loop_example and each_sequential (plugin page) end SUCCESS in value order', async () => {
    const loop = await runKestra('each_sequential_loop_example');
    expectEnded(loop.execution, 'SUCCESS', ifPerValue('each_sequential'));
    expect(runOf(loop.execution, 'after_if').outputs).toEqual({ value: 'After if value 2' });

    const bullets = await runKestra('each_sequential_bullets');
    expectEnded(bullets.execution, 'SUCCESS', ['each-sequential SUCCESS', 'each-value[value 1]#0 SUCCESS', 'each-value[value 2]#1 SUCCESS', 'each-value[value 3]#2 SUCCESS']);
    expect(runOf(bullets.execution, 'each-value', 'value 2').outputs).toEqual({ value: "each-value with value 'value 2'" });
  });

  it('EachParallel: each_parallel (plugin page) over a JSON string ends SUCCESS', async () => {
    const { execution } = await runKestra('each_parallel');
    expect(execution.state.current).toBe('SUCCESS');
    expect(execution.taskRunList).toHaveLength(4);
    expect(runOf(execution, 'each_value', 'value 3').outputs).toEqual({ value: "each_value with current value 'value 3'" });
  });

  it('EachParallel: parallel_task_groups (plugin page) runs a Sequential per value, reading parents[0].taskrun.value', async () => {
    // Changed to run offline (see the fixture): the shell tasks run as processes, not in Docker containers.
    const { execution } = await runKestra('each_parallel_task_groups_offline');
    expect(execution.state.current).toBe('SUCCESS');
    for (const v of ['value 1', 'value 2', 'value 3']) {
      expect(childrenOf(execution, runOf(execution, 'group', v)).map((r) => `${r.taskId} ${r.state.current}`)).toEqual(['task1 SUCCESS', 'task2 SUCCESS']);
    }
  });

  it('Dag: dag_flow (plugin page) runs each task after its dependencies', async () => {
    const { execution } = await runKestra('dag');
    expect(execution.state.current).toBe('SUCCESS');
    const order = execution.taskRunList.map((r) => r.taskId);
    expect(order[0]).toBe('dag');
    expect(order[1]).toBe('task1');
    expect(order.indexOf('task4')).toBeGreaterThan(order.indexOf('task2'));
    expect(order.indexOf('task5')).toBeGreaterThan(Math.max(order.indexOf('task4'), order.indexOf('task3')));
    expect(execution.taskRunList.every((r) => r.state.current === 'SUCCESS')).toBe(true);
    expect(order).toHaveLength(6);
  });

  it('Pause: pause ("Flowable tasks" page) waits for a resume, then for its delay, running each legacy tasks list', async () => {
    // The second Pause's delay is shortened (see the fixture). The first Pause has no delay: it is resumed as the
    // docs describe (here by --resume-after, as a REST resume would).
    const { execution, ms } = await runKestra('pause', { resumeAfterMs: 100 });
    expectEnded(execution, 'SUCCESS', ['validation SUCCESS', 'ok SUCCESS', 'wait SUCCESS', 'waited SUCCESS']);
    expect(ms).toBeGreaterThanOrEqual(1100);
  });

  it('WaitFor: wait_for (plugin page) returns the iteration count until it is 4', async () => {
    const { execution } = await runKestra('wait_for');
    expectEnded(execution, 'SUCCESS', ['loop#4 SUCCESS', 'return#1 SUCCESS', 'return#2 SUCCESS', 'return#3 SUCCESS', 'return#4 SUCCESS']);
    expect(execution.taskRunList.filter((r) => r.taskId === 'return').map((r) => r.outputs?.value)).toEqual(['1', '2', '3', '4']);
    expect(runOf(execution, 'loop').outputs).toEqual({ iterationCount: 4 });
  });

  it('Sleep: sleep (plugin page) sleeps five seconds and ends SUCCESS', async () => {
    const { execution, ms } = await runKestra('sleep');
    expectEnded(execution, 'SUCCESS', ['sleep SUCCESS']);
    expect(ms).toBeGreaterThanOrEqual(5000);
  }, 20_000);

  it('Fail: fail_on_condition ("Flowable tasks" page) fails for param=fail and goes on otherwise', async () => {
    const flow = kestraExample('fail_on_condition_string');
    const failed = await runYaml(flow, { inputs: ['param=fail'] });
    expectEnded(failed.execution, 'FAILED', ['before SUCCESS', 'fail FAILED']);
    expect(runOf(failed.execution, 'fail').error?.message).toMatch(/Fail on a condition/);
    const passed = await runYaml(flow, { inputs: ['param=pass'] });
    expectEnded(passed.execution, 'SUCCESS', ['before SUCCESS', 'fail SUCCESS', 'after SUCCESS']);
  });

  it('Fail: the plugin page\'s fail_on_condition compares with "fail" in lower case, so its SELECT value FAIL succeeds (as in Kestra)', async () => {
    const flow = kestraExample('fail_on_condition');
    for (const param of ['SUCCEED', 'FAIL']) {
      const { execution } = await runYaml(flow, { inputs: [`param=${param}`] });
      expectEnded(execution, 'SUCCESS', ['before SUCCESS', 'fail SUCCESS', 'after SUCCESS']);
    }
  });

  it('Labels: labels_override ("Labels" docs page) overrides a flow label with a task output and adds one', async () => {
    const { execution } = await runKestra('labels_override');
    expectEnded(execution, 'SUCCESS', ['get SUCCESS', 'update_labels SUCCESS']);
    expect(labelsOf(execution)).toMatchObject({ song: 'never-gonna-stop', artist: 'rick-astley' });
  });

  it('Labels: labels ("Labels" docs page) sets a mapping, then a list whose key is dynamic too', async () => {
    const { execution } = await runKestra('labels');
    expectEnded(execution, 'SUCCESS', ['update_labels_with_map SUCCESS', 'get SUCCESS', 'update_labels_with_list SUCCESS']);
    expect(labelsOf(execution)).toMatchObject({ customerId: 'Rick Astley', song_url: 'https://t.ly/Vemr0' });
  });

  // Each reads `{{ taskrun.startDate }}` (an undefined variable is an error, so these failed before Sluice had it).
  // Kestra gives each the state listed.
  it('the examples that read {{ taskrun.startDate }} end as in Kestra: Sequential, Parallel, Switch, AllowFailure, Pause, Return, Echo, OutputValues', async () => {
    // By fixture name. switch: a value no case matches, so defaults; pause_human_in_the_loop_task_runner: resumed as
    // a REST resume would.
    const examples: Record<string, RunOptions> = {
      sequential: {},
      parallel: {},
      switch: { inputs: ['string=FOURTH'] },
      allow_failure_each: {},
      allow_failure_offline: {},
      pause_human_in_the_loop_task_runner: { resumeAfterMs: 100 },
      return: {},
      echo: {},
      output_values_myteam: {},
    };
    const got: Record<string, string[]> = {};
    for (const [name, options] of Object.entries(examples)) {
      const { execution } = await runKestra(name, options);
      got[name] = [execution.state.current, ...runs(execution)];
    }
    expect(got).toEqual({
      sequential: ['SUCCESS', 'sequential SUCCESS', 'first_task SUCCESS', 'second_task SUCCESS', 'last SUCCESS'],
      parallel: ['SUCCESS', 'parallel SUCCESS', '1st SUCCESS', '2nd SUCCESS', 'last SUCCESS'],
      switch: ['SUCCESS', 'switch SUCCESS', 'default SUCCESS'],
      // allow_failure WARNING, ko FAILED, next not run, end SUCCESS.
      allow_failure_each: ['WARNING', 'allow_failure WARNING', 'ko FAILED', 'end SUCCESS'],
      allow_failure_offline: ['WARNING', 'sequential WARNING', 'ko FAILED', 'last SUCCESS'],
      pause_human_in_the_loop_task_runner: ['SUCCESS', 'before_approval SUCCESS', 'pause SUCCESS', 'run_post_approval SUCCESS', 'post_resume SUCCESS'],
      return: ['SUCCESS', 'return SUCCESS'],
      echo: ['SUCCESS', 'echo SUCCESS'],
      output_values_myteam: ['SUCCESS', 'output_values SUCCESS', 'log_values SUCCESS'],
    });
  });

  // `sluice run --output json` lists the flow's own labels with those a Labels task set (as an execution started
  // through the API carries them).
  it('Labels: flow_with_labels ("Labels" docs page) overrides one flow label and keeps the others', async () => {
    const { execution } = await runKestra('flow_with_labels');
    expect(execution.state.current).toBe('SUCCESS');
    expect(labelsOf(execution)).toEqual({ song: 'never-gonna-stop', artist: 'rick-astley', genre: 'pop' });
  });
});
