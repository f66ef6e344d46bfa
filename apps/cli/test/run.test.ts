/**
 * `sluice run FLOW.yml`: a one-shot local run with no server — the engine, the task runtime and the PROCESS runner,
 * for real (no Docker needed: the flows here use PROCESS and Log tasks).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-run-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(flow: string, args: string[] = []): Promise<{ code: number; out: string[]; err: string[] }> {
  const file = join(dir, `flow-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(file, flow);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['run', file, ...args], { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, { ...process.env, SLUICE_DATA_DIR: join(dir, 'data') });
  return { code, out, err };
}

const hello = `id: hello
namespace: demo
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.who }}"
  - id: count
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    commands:
      - echo '::{"outputs":{"n":42}}::'
      - echo "previous said {{ outputs.greet is defined }}"
`;

describe('sluice run', () => {
  it('runs a flow here, streams logs with task ids and progress, prints outputs, exits 0', async () => {
    const { code, out } = await run(hello, ['--input', 'who=sluice']);
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/── \[1\/2\] greet/);
    expect(text).toMatch(/INFO {2}greet {2}hello sluice/);
    expect(text).toMatch(/── \[2\/2\] count/);
    expect(text).toMatch(/execution \S+ SUCCESS in/);
    expect(text).toContain('outputs.count: {"exitCode":0,"vars":{"n":42}');
  });

  it('--output json prints only the final execution', async () => {
    const { code, out } = await run(hello, ['--output', 'json']);
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    const execution = JSON.parse(out[0]!) as { state: { current: string }; inputs: unknown; taskRunList: { taskId: string; outputs: Record<string, unknown> }[] };
    expect(execution.state.current).toBe('SUCCESS');
    expect(execution.inputs).toEqual({ who: 'world' });
    expect(execution.taskRunList.map((t) => t.taskId)).toEqual(['greet', 'count']);
    expect(execution.taskRunList[1]?.outputs).toMatchObject({ vars: { n: 42 } });
  });

  it('evaluates the flow outputs: printed, in the JSON, and a bad one fails the run with one line', async () => {
    const withOutputs = (type: string) => `${hello}outputs:\n  - id: n\n    type: ${type}\n    value: "{{ outputs.count.vars.n }}"\n  - id: who\n    type: STRING\n    value: "{{ inputs.who }}"\n`;
    const text = await run(withOutputs('INT'));
    expect(text.code).toBe(0);
    expect(text.out).toContain('flow outputs: {"n":42,"who":"world"}');
    const json = await run(withOutputs('INT'), ['--output', 'json']);
    expect((JSON.parse(json.out[0]!) as { outputs: unknown }).outputs).toEqual({ n: 42, who: 'world' });
    const bad = await run(withOutputs('BOOLEAN'));
    expect(bad.code).toBe(1);
    expect(bad.out.join('\n')).toMatch(/execution \S+ FAILED in/);
    expect(bad.err).toEqual([expect.stringMatching(/^sluice: flow output "n" is not a valid BOOLEAN: /)]);
  });

  it('a failure runs the errors tasks and exits 1', async () => {
    const { code, out } = await run(`id: broken
namespace: demo
tasks:
  - id: fail
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    commands:
      - echo about to fail
      - exit 4
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: cleaning up
`);
    expect(code).toBe(1);
    const text = out.join('\n');
    expect(text).toMatch(/── fail FAILED/);
    expect(text).toMatch(/INFO {2}alert {2}cleaning up/);
    expect(text).toMatch(/execution \S+ FAILED/);
  });

  it('retries with the flow\'s policy and reports each attempt', async () => {
    const counter = join(dir, 'attempts');
    const { code, out } = await run(`id: flaky
namespace: demo
tasks:
  - id: try
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 3
    commands:
      - n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -ge 2 ]
`);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/retrying in 0\.1 s \(attempt 2\)/);
    expect(out.join('\n')).toMatch(/── \[1\/1\] try \(attempt 2\)/);
  });

  it('retries the flow as a new execution (behavior CREATE_NEW_EXECUTION): a fresh run of every task, attempt 2', async () => {
    const counter = join(dir, 'flow-attempts');
    const { code, out } = await run(
      `id: flaky_flow
namespace: demo
retry:
  type: constant
  interval: PT0.1S
  maxAttempt: 3
  behavior: CREATE_NEW_EXECUTION
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: always fine
  - id: try
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    commands:
      - n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -ge 2 ]
`,
      ['--output', 'json'],
    );
    expect(code).toBe(0);
    const execution = JSON.parse(out.join('\n')) as { state: { current: string }; metadata: { attemptNumber: number }; taskRunList: { taskId: string; attempts: { state: { current: string } }[] }[] };
    expect(execution.state.current).toBe('SUCCESS');
    expect(execution.metadata.attemptNumber).toBe(2);
    // The new execution ran every task again, each at its first attempt.
    expect(execution.taskRunList.map((r) => [r.taskId, r.attempts.length])).toEqual([['first', 1], ['try', 1]]);

    const text = await run(
      `id: always_failing
namespace: demo
retry:
  type: constant
  interval: PT0.1S
  maxAttempt: 2
  behavior: CREATE_NEW_EXECUTION
tasks:
  - id: fail
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    commands:
      - exit 3
`,
    );
    expect(text.code).toBe(1);
    const lines = text.out.join('\n');
    expect(lines).toMatch(/execution \S+ RETRIED: retrying the flow as a new execution in 0\.1 s \(attempt 2\)/);
    expect(lines).toMatch(/execution \S+ of demo\.always_failing \(attempt 2\)/);
    expect(lines).toMatch(/execution \S+ FAILED in/);
  });

  it('log.Fetch reads the run\'s own log lines into a file; Resume of this running execution fails as in Kestra', async () => {
    const flow = `id: fetcher\nnamespace: demo\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: ["one", "two"]\n  - id: fetch\n    type: io.kestra.plugin.core.log.Fetch\n  - id: resume\n    type: io.kestra.plugin.core.execution.Resume\n`;
    const { code, out } = await run(flow, ['--output', 'json']);
    expect(code).toBe(1);
    const execution = JSON.parse(out.join('\n')) as { taskRunList: { taskId: string; state: { current: string }; outputs: Record<string, unknown>; error?: { message: string } }[] };
    const fetch = execution.taskRunList.find((r) => r.taskId === 'fetch');
    expect(fetch?.outputs.size).toBe(2);
    const stored = join(dir, 'data', 'storage', String(fetch?.outputs.uri).replace('kestra:///', ''));
    expect((await readFile(stored, 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as { message: string }).message)).toEqual(['one', 'two']);
    const resume = execution.taskRunList.find((r) => r.taskId === 'resume');
    expect(resume?.state.current).toBe('FAILED');
    expect(resume?.error?.message).toMatch(/The execution is not paused/);
  });

  it('a FILE input given as @path is stored and readable by the tasks', async () => {
    const data = join(dir, 'data.txt');
    await writeFile(data, 'file content here');
    const { code, out } = await run(
      `id: files
namespace: demo
inputs:
  - id: doc
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(inputs.doc) }}"
`,
      ['--input', `doc=@${data}`],
    );
    expect(code).toBe(0);
    expect(out.join('\n')).toContain('INFO  show  file content here');
  });

  it('an invalid flow exits 2 with FILE:LINE:COL problems', async () => {
    const { code, err } = await run('id: bad\nnamespace: demo\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n');
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/flow-\w+\.yml:6:5: tasks\[0\]\.mesage: unknown property "mesage"; did you mean "message"\?/);
  });

  it('a flow with a Subflow exits 2 and says it needs a server (sluice run has no other flow)', async () => {
    const { code, err, out } = await run(
      'id: parent\nnamespace: demo\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: call\n        type: io.kestra.core.tasks.flows.Flow\n        namespace: demo\n        flowId: child\n',
    );
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual([expect.stringMatching(/^sluice: .*flow-\w+\.yml: task call \(io\.kestra\.core\.tasks\.flows\.Flow\) starts another flow, which sluice run cannot: deploy the flows and run them with sluice server local$/)]);
  });

  it('bad inputs exit 2 and name the problem', async () => {
    const unknown = await run(hello, ['--input', 'nobody=1']);
    expect(unknown.code).toBe(2);
    expect(unknown.err.join('\n')).toContain('nobody');
    const malformed = await run(hello, ['--input', 'novalue']);
    expect(malformed.code).toBe(2);
    expect(malformed.err.join('\n')).toContain('--input must be key=value');
  });

  it('a missing flow file exits 2', async () => {
    const err: string[] = [];
    const code = await main(['run', join(dir, 'nope.yml')], { stdout: () => undefined, stderr: (t) => err.push(t) }, process.env);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/cannot read .*nope\.yml: ENOENT/);
  });
});
