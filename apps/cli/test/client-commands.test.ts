import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { executeCommand, logLine } from '../src/commands/execute.js';
import { main } from '../src/main.js';
import type { CliEnv } from '../src/main.js';
import { startApi } from './api-fixture.js';

const TOKEN = 'cli-test-token';
const api = await startApi({ apiToken: TOKEN });
const env: CliEnv = api ? { SLUICE_SERVER_URL: api.url, SLUICE_API_TOKEN: TOKEN } : {};

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  await api?.close();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Start the CLI; `out` fills while it runs, `done` resolves with everything it printed. */
function start(runEnv: CliEnv, ...argv: string[]): { out: string[]; done: Promise<Run> } {
  const out: string[] = [];
  const err: string[] = [];
  const done = main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, runEnv).then((code) => ({
    code,
    stdout: out.join('\n'),
    stderr: err.join('\n'),
  }));
  return { out, done };
}

const run = (...argv: string[]): Promise<Run> => start(env, ...argv).done;

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-client-'));
  scratch.push(dir);
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

function flowYaml(namespace: string, id: string, message = 'hello'): string {
  return `id: ${id}\nnamespace: ${namespace}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;
}

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await api!.fetch(path);
  return { status: response.status, body: (await response.json()) as T };
}

async function flowCount(namespace: string): Promise<number> {
  return (await getJson<{ total: number }>(`/api/v1/flows/search?namespace=${namespace}`)).body.total;
}

/** The id of the next execution the API hands to the (recording) queue. */
async function nextExecutionId(): Promise<string> {
  const before = api!.queue.events.length;
  for (let i = 0; i < 250; i++) {
    const event = api!.queue.events[before];
    if (event?.type === 'executionCreated') return event.event.executionId;
    await sleep(20);
  }
  throw new Error('no execution was created');
}

const INPUTS_FLOW = `id: with_inputs
namespace: cli.exec
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 1
  - id: data
    type: FILE
    required: false
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.name }}"
`;

describe.skipIf(!api)('sluice flow deploy', () => {
  it('creates, leaves unchanged, then updates the flows of a directory (searched recursively)', async () => {
    const dir = tempDir({ 'a.yml': flowYaml('cli.deploy', 'alpha'), 'nested/b.yaml': flowYaml('cli.deploy', 'beta'), 'notes.txt': 'ignored' });
    expect(await run('flow', 'deploy', dir)).toEqual({
      code: 0,
      stdout: 'cli.deploy.alpha: revision 1 (created)\ncli.deploy.beta: revision 1 (created)',
      stderr: '',
    });
    expect((await run('flow', 'deploy', dir)).stdout).toBe('cli.deploy.alpha: revision 1 (unchanged)\ncli.deploy.beta: revision 1 (unchanged)');

    writeFileSync(join(dir, 'nested/b.yaml'), flowYaml('cli.deploy', 'beta', 'changed'));
    expect((await run('flow', 'deploy', dir)).stdout).toBe('cli.deploy.alpha: revision 1 (unchanged)\ncli.deploy.beta: revision 2 (updated)');
    const stored = await getJson<{ revision: number; source: string }>('/api/v1/flows/cli.deploy/beta?source=true');
    expect(stored.body.revision).toBe(2);
    expect(stored.body.source).toContain('message: changed');
  });

  it('deploys every document of a multi-document file', async () => {
    const dir = tempDir({ 'two.yml': `${flowYaml('cli.multi', 'one')}---\n${flowYaml('cli.multi', 'two')}` });
    expect((await run('flow', 'deploy', dir)).stdout).toBe('cli.multi.one: revision 1 (created)\ncli.multi.two: revision 1 (created)');
    expect(await flowCount('cli.multi')).toBe(2);
  });

  it('deploys nothing when one file is invalid, printing FILE:LINE:COL: message', async () => {
    const bad = 'id: bad\nnamespace: cli.invalid\ntasks:\n  - id: run\n    type: io.kestra.plugin.scripts.python.Commands\n    commands: [python x.py]\n    runner: DOCKERS\n';
    const dir = tempDir({ 'bad.yml': bad, 'good.yml': flowYaml('cli.invalid', 'good') });
    const result = await run('flow', 'deploy', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toEqual([
      `${join(dir, 'bad.yml')}:7:13: tasks[0].runner: must be one of DOCKER, PROCESS, got "DOCKERS" [SLU_FLOW_INVALID_ENUM]`,
      'sluice: nothing deployed: 1 problem in the flows',
    ]);
    expect(await flowCount('cli.invalid')).toBe(0);
  });

  it('deploys a namespace in one request, deleting the flows missing from the files only with --delete', async () => {
    const setup = tempDir({ 'x.yml': flowYaml('cli.team', 'x'), 'y.yml': flowYaml('cli.team', 'y'), 'extra.yml': flowYaml('cli.team', 'extra') });
    expect((await run('flow', 'deploy', setup)).code).toBe(0);
    const child = tempDir({ 'c.yml': flowYaml('cli.team.child', 'c') });
    expect((await run('flow', 'deploy', child)).code).toBe(0);

    const dir = tempDir({ 'x.yml': flowYaml('cli.team', 'x'), 'y.yml': flowYaml('cli.team', 'y', 'new'), 'z.yml': flowYaml('cli.team', 'z') });
    // Without --delete the extra flow stays (the API's own default would delete it).
    expect(await run('flow', 'deploy', dir, '--namespace', 'cli.team')).toEqual({
      code: 0,
      stdout: 'cli.team.x: revision 1 (unchanged)\ncli.team.y: revision 2 (updated)\ncli.team.z: revision 1 (created)',
      stderr: '',
    });
    expect((await api!.fetch('/api/v1/flows/cli.team/extra')).status).toBe(200);

    expect(await run('flow', 'deploy', dir, '--namespace=cli.team', '--delete')).toEqual({
      code: 0,
      stdout: 'cli.team.x: revision 1 (unchanged)\ncli.team.y: revision 2 (unchanged)\ncli.team.z: revision 1 (unchanged)\ncli.team.extra: deleted',
      stderr: '',
    });
    expect((await api!.fetch('/api/v1/flows/cli.team/extra')).status).toBe(404);
    expect((await api!.fetch('/api/v1/flows/cli.team.child/c')).status).toBe(200); // a child namespace is not touched
  });

  it('refuses, before any request, a flow outside --namespace, a duplicate flow and --delete alone', async () => {
    const dir = tempDir({ 'a.yml': flowYaml('cli.ns', 'a'), 'b.yml': flowYaml('cli.other', 'b') });
    expect(await run('flow', 'deploy', dir, '--namespace', 'cli.ns')).toEqual({
      code: 2,
      stdout: '',
      stderr: `sluice: ${join(dir, 'b.yml')}: flow cli.other.b is not in namespace cli.ns (--namespace deploys only its own flows) (see sluice --help)`,
    });
    expect(await flowCount('cli.ns')).toBe(0);

    const twice = tempDir({ 'a.yml': flowYaml('cli.ns', 'a'), 'b.yml': flowYaml('cli.ns', 'a', 'again') });
    expect((await run('flow', 'deploy', twice)).stderr).toBe(`sluice: flow cli.ns.a is defined twice: in ${join(twice, 'a.yml')} and in ${join(twice, 'b.yml')} (see sluice --help)`);
    expect((await run('flow', 'deploy', dir, '--delete')).stderr).toBe('sluice: --delete needs --namespace NS (see sluice --help)');
    expect((await run('flow', 'deploy')).code).toBe(2);
    expect(await flowCount('cli.ns')).toBe(0);
  });

  it('exits 1 with the code and message of an API error (no token)', async () => {
    const dir = tempDir({ 'a.yml': flowYaml('cli.auth', 'a') });
    const result = await start({ SLUICE_SERVER_URL: api!.url }, 'flow', 'deploy', dir).done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sluice: .*a\.yml: SLU_API_UNAUTHORIZED: missing or invalid credentials/);
  });
});

describe.skipIf(!api)('sluice execute', async () => {
  if (api) {
    const dir = tempDir({ 'inputs.yml': INPUTS_FLOW, 'plain.yml': flowYaml('cli.exec', 'plain') });
    expect((await run('flow', 'deploy', dir)).code).toBe(0);
  }

  it('creates an execution with STRING and FILE inputs and labels, and prints its id', async () => {
    const files = tempDir({ 'report.csv': 'a,b\n1,2\n' });
    const result = await run(
      'execute', 'cli.exec', 'with_inputs',
      '--input', 'name=Ada',
      '--input', `data=@${join(files, 'report.csv')}`,
      '--label', 'team=data',
      '--server', api!.url,
    );
    expect(result.code).toBe(0);
    const [, id] = /^execution (\S+) created \(CREATED\)$/.exec(result.stdout) ?? [];
    expect(id).toBeDefined();

    const { body: execution } = await getJson<{ inputs: Record<string, unknown>; labels: { key: string; value: string }[] }>(`/api/v1/executions/${id}`);
    expect(execution.inputs).toMatchObject({ name: 'Ada', count: 1 });
    expect(execution.inputs.data).toBe(`kestra:///cli/exec/with_inputs/executions/${id}/inputs/data/report.csv`);
    expect(execution.labels).toContainEqual({ key: 'team', value: 'data' });
    const file = await api!.fetch(`/api/v1/executions/${id}/file?path=${encodeURIComponent(String(execution.inputs.data))}`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('a,b\n1,2\n');
  });

  it('prints the created execution as JSON with --output json', async () => {
    const result = await run('execute', 'cli.exec', 'plain', '--output', 'json');
    expect(result.code).toBe(0);
    const execution = JSON.parse(result.stdout) as { id: string; flowId: string; state: { current: string } };
    expect(execution).toMatchObject({ flowId: 'plain', state: { current: 'CREATED' } });
  });

  it('--wait prints the log as it arrives, the end state and the task outputs; exit 0 on SUCCESS', async () => {
    const running = start(env, 'execute', 'cli.exec', 'plain', '--wait');
    const id = await nextExecutionId();
    const line = (minute: number, level: string, taskId: string | null, message: string) => ({
      executionId: id, namespace: 'cli.exec', flowId: 'plain', taskId, level: level as 'INFO', message,
      timestamp: new Date(2026, 0, 2, 3, minute, 5, 6),
    });
    await sleep(300);
    await api!.db.executions.transition(id, ['CREATED'], 'RUNNING');
    await api!.db.logs.append([line(4, 'INFO', null, 'execution started'), line(5, 'INFO', 'log', 'hello')]);
    await sleep(500);
    await api!.db.prisma.taskRun.create({
      data: { id: `${id}-log`, executionId: id, taskId: 'log', state: 'SUCCESS', stateHistory: [], outputs: { value: 'hello', count: 2 } },
    });
    await api!.db.logs.append([line(6, 'ERROR', 'log', 'late but fine'), line(3, 'DEBUG', 'log', 'stored late, earlier timestamp')]);
    await api!.db.executions.transition(id, ['RUNNING'], 'SUCCESS');

    const result = await running.done;
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`execution ${id} created (CREATED)`);
    expect(lines.slice(1, -3)).toEqual([
      '03:04:05.006 INFO  execution started',
      '03:05:05.006 INFO  log  hello',
      '03:03:05.006 DEBUG log  stored late, earlier timestamp',
      '03:06:05.006 ERROR log  late but fine',
    ]);
    expect(lines.at(-3)).toMatch(new RegExp(`^execution ${id} SUCCESS in \\d+\\.\\d s$`));
    expect(lines.slice(-2).sort()).toEqual(['  log.count = 2', '  log.value = "hello"']);
    expect(result.stderr).toBe('');
  });

  it('--wait exits 1 when the execution FAILED; --output json prints only the final execution', async () => {
    const failing = start(env, 'execute', 'cli.exec', 'plain', '--wait');
    const failed = await nextExecutionId();
    await api!.db.executions.transition(failed, ['CREATED'], 'RUNNING');
    await api!.db.executions.transition(failed, ['RUNNING'], 'FAILED');
    const result = await failing.done;
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n').at(-1)).toMatch(new RegExp(`^execution ${failed} FAILED in \\d+\\.\\d s$`));

    const json = start(env, 'execute', 'cli.exec', 'plain', '--wait', '--output', 'json');
    const id = await nextExecutionId();
    await api!.db.logs.append([{ executionId: id, namespace: 'cli.exec', flowId: 'plain', level: 'INFO', message: 'not printed', timestamp: new Date() }]);
    await api!.db.executions.transition(id, ['CREATED'], 'WARNING');
    const done = await json.done;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ id, state: { current: 'WARNING' } });
  });

  it('--wait follows a retry as a new execution (RETRIED) to the end of the retry, and exits with its outcome', async () => {
    const waiting = start(env, 'execute', 'cli.exec', 'plain', '--wait');
    const first = await nextExecutionId();
    await api!.db.executions.transition(first, ['CREATED'], 'RUNNING');
    // What the scheduler writes in one transaction: the retry, starting when the first one ends RETRIED.
    const at = new Date();
    const second = `retry${randomBytes(6).toString('hex')}`;
    const base = { namespace: 'cli.exec', flowId: 'plain', flowRevision: 1, stateHistory: [] };
    // Another execution of the flow started at the same time (not of the chain), to be passed over.
    await api!.db.prisma.execution.create({ data: { ...base, id: `other${randomBytes(6).toString('hex')}`, state: 'CREATED', startDate: at } });
    await api!.db.prisma.execution.create({ data: { ...base, id: second, state: 'CREATED', startDate: at, restartedFrom: first, attemptNumber: 2, originalCreatedDate: at } });
    await api!.db.logs.append([{ executionId: second, namespace: 'cli.exec', flowId: 'plain', level: 'INFO', message: 'second attempt here', timestamp: new Date() }]);
    await api!.db.prisma.execution.update({ where: { id: first }, data: { state: 'RETRIED', endDate: at } });
    await sleep(300);
    await api!.db.executions.transition(second, ['CREATED'], 'SUCCESS');
    const result = await waiting.done;
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines).toContain(`execution ${first} RETRIED: following execution ${second} (attempt 2)`);
    expect(lines.some((l) => l.endsWith('second attempt here'))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^execution ${second} SUCCESS in \\d+\\.\\d s$`));
  });

  it('stops waiting on Ctrl-C with exit 130 and leaves the execution running', async () => {
    const controller = new AbortController();
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
    const running = executeCommand({ server: { url: api!.url, token: TOKEN }, namespace: 'cli.exec', flowId: 'plain', wait: true, signal: controller.signal }, io);
    const id = await nextExecutionId();
    await sleep(300);
    controller.abort();
    expect(await running).toBe(130);
    expect(err).toEqual([`sluice: stopped waiting; execution ${id} is still CREATED (it was not killed)`]);
    expect(api!.queue.events.some((e) => e.type === 'killRequested')).toBe(false);
    expect((await getJson<{ state: { current: string } }>(`/api/v1/executions/${id}`)).body.state.current).toBe('CREATED');
  });

  it('exits 1 with the API code for an unknown flow or bad inputs', async () => {
    expect(await run('execute', 'cli.exec', 'nope')).toEqual({ code: 1, stdout: '', stderr: 'sluice: SLU_API_FLOW_NOT_FOUND: flow cli.exec.nope not found' });
    const bad = await run('execute', 'cli.exec', 'with_inputs', '--input', 'count=many');
    expect(bad.code).toBe(1);
    expect(bad.stderr.split('\n')[0]).toMatch(/^sluice: SLU_INPUT_INVALID: invalid inputs: /);
    expect(bad.stderr).toContain('\n  count: ');
    expect(bad.stderr).toContain('\n  name: ');
  });

  it('exits 2 on a bad --input, --label or missing file, before any request', async () => {
    const before = api!.queue.events.length;
    expect(await run('execute', 'cli.exec', 'with_inputs', '--input', 'name')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'sluice: --input "name" must be written key=value, or key=@path for a FILE input (see sluice --help)',
    });
    expect((await run('execute', 'cli.exec', 'with_inputs', '--input', '=x')).code).toBe(2);
    expect((await run('execute', 'cli.exec', 'with_inputs', '--label', 'x')).code).toBe(2);
    expect((await run('execute', 'cli.exec', 'with_inputs', '--input', 'data=@/nope/missing.csv')).stderr).toBe('sluice: no such file or directory: /nope/missing.csv');
    expect((await run('execute', 'cli.exec')).stderr).toBe('sluice: execute needs exactly NAMESPACE and FLOW_ID (see sluice --help)');
    expect((await run('execute', 'cli.exec', 'plain', '--output', 'xml')).code).toBe(2);
    expect(api!.queue.events.length).toBe(before);
  });
});

describe('client commands without a server', () => {
  it('exits 2 with one line when the server cannot be reached', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const message = `sluice: cannot reach the Sluice server at ${url}: connection refused (start one with "sluice server local" or pass --server)`;
    expect(await start({ SLUICE_SERVER_URL: url }, 'execute', 'dev', 'flow').done).toEqual({ code: 2, stdout: '', stderr: message });
    const dir = tempDir({ 'a.yml': flowYaml('dev', 'a') });
    expect(await start({}, 'flow', 'deploy', dir, '--server', `${url}/`).done).toEqual({ code: 2, stdout: '', stderr: message });
    expect((await start({}, 'execute', 'dev', 'flow', '--server', 'localhost:8080').done).stderr).toBe(
      'sluice: the server URL must look like http://host:port, got "localhost:8080" (see sluice --help)',
    );
  });

  it('documents both commands in the help', async () => {
    const help = await start({}, '--help').done;
    expect(help.stdout).toContain('sluice flow deploy DIR_OR_FILE... [--namespace NS [--delete]] [--server URL]');
    expect(help.stdout).toContain('sluice execute NAMESPACE FLOW_ID [--input KEY=VALUE]...');
    expect(help.stdout).toContain('$SLUICE_SERVER_URL');
  });

  it('formats a log line as HH:MM:SS.mmm LEVEL taskId  message in local time', () => {
    const timestamp = new Date(2026, 4, 6, 7, 8, 9, 10).toISOString();
    expect(logLine({ timestamp, level: 'WARN', taskId: 'fetch', message: 'slow' })).toBe('07:08:09.010 WARN  fetch  slow');
    expect(logLine({ timestamp, level: 'ERROR', message: 'boom' })).toBe('07:08:09.010 ERROR boom');
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
