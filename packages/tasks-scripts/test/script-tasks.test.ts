import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSluiceError } from '@sluice/core';
import type { SluiceError } from '@sluice/core';
import type { Runner, RunnerCommand, TaskDefinition } from '@sluice/plugin-api';
import { createMockTaskContext } from '@sluice/plugin-api/testing';
import type { MockContextOptions, MockTaskContext } from '@sluice/plugin-api/testing';
import { dockerRunner } from '@sluice/runner-docker';
import { processRunner } from '@sluice/runner-process';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGES, scriptTasks } from '../src/index.js';

const task = (type: string): TaskDefinition => {
  const found = scriptTasks.find((t) => t.type === `io.kestra.plugin.scripts.${type}`);
  if (!found) throw new Error(`no task ${type}`);
  return found;
};

const process_ = processRunner.create!({});
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function context(options: MockContextOptions = {}): Promise<MockTaskContext> {
  const workingDirectory = options.workingDirectory ?? (await mkdtemp(join(tmpdir(), 'sluice-scripts-test-')));
  dirs.push(workingDirectory);
  return createMockTaskContext({
    taskId: 'script',
    runners: { 'io.kestra.plugin.core.runner.Process': process_ },
    runnerDefinitions: [dockerRunner, processRunner],
    ...options,
    workingDirectory,
  });
}

async function run(type: string, properties: Record<string, unknown>, ctx?: MockTaskContext) {
  const c = ctx ?? (await context());
  const result = await task(type).run!({ runner: 'PROCESS', ...properties }, c);
  return { result, ctx: c, outputs: result.outputs as Record<string, unknown> };
}

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSluiceError(error)) throw new Error(`expected a SluiceError, got ${String(error)}`);
  return error;
}

describe('shell Commands on the PROCESS runner', () => {
  it('sets vars from ::{"outputs"}:: lines, counts lines, logs stdout at INFO', async () => {
    const { result, outputs, ctx } = await run('shell.Commands', {
      commands: ['echo hello', `echo '::{"outputs":{"k":"v","n":2}}::'`, `echo '::{"outputs":{"other":true}}::'`],
    });
    expect(result.state).toBe('SUCCESS');
    expect(outputs).toEqual({ exitCode: 0, vars: { k: 'v', n: 2, other: true }, outputFiles: {}, stdOutLineCount: 3, stdErrLineCount: 0 });
    expect(ctx.logs).toEqual([{ level: 'INFO', message: 'hello' }]);
  });

  it('records metrics and re-logs marker logs at their level', async () => {
    const { ctx } = await run('shell.Commands', {
      commands: [
        `echo '::{"metrics":[{"name":"count","type":"counter","value":3,"tags":{"a":"b"}},{"name":"t","type":"timer","value":1.5}]}::'`,
        `echo '::{"logs":[{"level":"error","message":"from marker"}]}::'`,
        `echo '::{not json}::'`,
      ],
    });
    expect(ctx.metrics).toEqual([
      { name: 'count', type: 'counter', value: 3, tags: { a: 'b' } },
      { name: 't', type: 'timer', value: 1.5 },
    ]);
    expect(ctx.logs).toEqual([
      { level: 'ERROR', message: 'from marker' },
      { level: 'INFO', message: '::{not json}::' },
    ]);
  });

  it('stderr makes the task WARNING and logs at WARN with warningOnStdErr (default)', async () => {
    const { result, outputs, ctx } = await run('shell.Commands', { commands: ['echo oops >&2', 'echo fine'] });
    expect(result.state).toBe('WARNING');
    expect(outputs.stdErrLineCount).toBe(1);
    expect(ctx.logs).toContainEqual({ level: 'WARN', message: 'oops' });
  });

  it('stderr keeps SUCCESS and logs at INFO with warningOnStdErr: false', async () => {
    const { result, ctx } = await run('shell.Commands', { warningOnStdErr: false, commands: ['echo oops >&2'] });
    expect(result.state).toBe('SUCCESS');
    expect(ctx.logs).toEqual([{ level: 'INFO', message: 'oops' }]);
  });

  it('a non-zero exit fails with SLU_TASK_FAILED, the exit code and the stderr tail', async () => {
    const error = await failure(run('shell.Commands', { commands: ['for i in $(seq 1 30); do echo "err $i" >&2; done', `echo '::{"outputs":{"partial":1}}::'`, 'exit 4'] }));
    expect(error.code).toBe('SLU_TASK_FAILED');
    expect(error.message).toBe('task script failed: command exited with code 4');
    expect(error.details.exitCode).toBe(4);
    const tail = error.details.stderrTail as string[];
    expect(tail).toHaveLength(20);
    expect(tail[0]).toBe('err 11');
    expect(tail.at(-1)).toBe('err 30');
    expect(error.details.outputs).toMatchObject({ exitCode: 4, vars: { partial: 1 }, stdErrLineCount: 30 });
  });

  it('failFast (default) stops at the first failing command; failFast: false goes on', async () => {
    const strict = await failure(run('shell.Commands', { commands: ['false', 'echo after'] }));
    expect(strict.details.exitCode).toBe(1);
    const { outputs, ctx } = await run('shell.Commands', { failFast: false, commands: ['false', 'echo after'] });
    expect(outputs.exitCode).toBe(0);
    expect(ctx.logs).toEqual([{ level: 'INFO', message: 'after' }]);
  });

  it('runs beforeCommands first in the same shell', async () => {
    const { ctx } = await run('shell.Commands', { beforeCommands: ['X=prepared', 'echo before'], commands: ['echo "$X"'] });
    expect(ctx.logs.map((l) => l.message)).toEqual(['before', 'prepared']);
  });

  it('renders env, commands and secrets right before running', async () => {
    const ctx = await context({ variables: { inputs: { who: 'world' } }, secrets: { TOKEN: 's3cr3t' } });
    const { ctx: c } = await run(
      'shell.Commands',
      { env: { TOKEN: "{{ secret('TOKEN') }}", WHO: '{{ inputs.who }}', N: 3 }, commands: ['echo "$WHO $TOKEN $N"', 'echo "{{ inputs.who | upper }}"'] },
      ctx,
    );
    expect(c.logs.map((l) => l.message)).toEqual(['world s3cr3t 3', 'WORLD']);
  });

  it('writes inputFiles (inline and from storage; also as a JSON string) before the run', async () => {
    const ctx = await context();
    const source = join(await mkdtemp(join(tmpdir(), 'sluice-src-')), 'stored.txt');
    dirs.push(join(source, '..'));
    await writeFile(source, 'stored content\n');
    const uri = await ctx.storage.putFile(source, 'stored.txt');
    await run('shell.Commands', { inputFiles: { 'a.txt': 'inline {{ 1 + 1 }}', 'sub/b.txt': uri }, commands: ['cat a.txt', 'echo', 'cat sub/b.txt'] }, ctx);
    expect(ctx.logs.map((l) => l.message)).toEqual(['inline 2', 'stored content']);
    const json = await run('shell.Commands', { inputFiles: JSON.stringify({ 'c.txt': 'from json' }), commands: ['cat c.txt'] });
    expect(json.ctx.logs).toEqual([{ level: 'INFO', message: 'from json' }]);
  });

  it('rejects inputFiles names that leave the working directory', async () => {
    const error = await failure(run('shell.Commands', { inputFiles: { '../escape.txt': 'x' }, commands: ['true'] }));
    expect(error.code).toBe('SLU_TASK_INVALID_PATH');
    const absolute = await failure(run('shell.Commands', { inputFiles: { '/tmp/escape.txt': 'x' }, commands: ['true'] }));
    expect(absolute.code).toBe('SLU_TASK_INVALID_PATH');
  });

  it('uploads outputFiles matching globs, files only', async () => {
    const { outputs, ctx } = await run('shell.Commands', {
      outputFiles: ['*.csv', 'out/**'],
      commands: ['echo a > one.csv', 'echo b > two.csv', 'echo c > skip.txt', 'mkdir -p out/deep', 'echo d > out/deep/d.json'],
    });
    const files = outputs.outputFiles as Record<string, string>;
    expect(Object.keys(files)).toEqual(['one.csv', 'out/deep/d.json', 'two.csv']);
    expect(files['one.csv']).toMatch(/^kestra:\/\/\/.*\/one\.csv$/);
    expect(await readFile(ctx.stored.get(files['out/deep/d.json']!)!, 'utf8')).toBe('d\n');
  });

  it('rejects outputFiles globs and links that leave the working directory', async () => {
    const error = await failure(run('shell.Commands', { outputFiles: ['../x'], commands: ['true'] }));
    expect(error.code).toBe('SLU_TASK_INVALID_PATH');
    const ctx = await context();
    const outside = await mkdtemp(join(tmpdir(), 'sluice-outside-'));
    dirs.push(outside);
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await mkdir(join(ctx.workingDirectory, 'links'));
    await symlink(join(outside, 'secret.txt'), join(ctx.workingDirectory, 'links', 'leak.txt'));
    // Symbolic links are never followed nor uploaded: a link cannot leak a file from outside.
    const { outputs } = await run('shell.Commands', { outputFiles: ['links/*', '**/*.txt'], commands: ['echo kept > links/real.txt'] }, ctx);
    expect(Object.keys(outputs.outputFiles as object)).toEqual(['links/real.txt']);
  });

  it('stops on abort, rejects with the reason, and leaves no process', async () => {
    const controller = new AbortController();
    const reason = new Error('killed');
    const ctx = await context({ signal: controller.signal });
    const running = run('shell.Commands', { commands: ['sleep 1000 &', `echo "pid $!"`, 'wait'] }, ctx);
    await expect.poll(() => ctx.logs.length, { timeout: 10_000 }).toBe(1);
    const pid = Number(/^pid (\d+)$/.exec(ctx.logs[0]!.message)?.[1]);
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    expect(stat === '' || / [ZX] /.test(stat.slice(stat.lastIndexOf(')')))).toBe(true);
  });
});

describe('Script tasks and other languages', () => {
  it('shell Script runs the script file with sh', async () => {
    const { outputs } = await run('shell.Script', { script: 'x=41\necho "::{\\"outputs\\":{\\"x\\":$((x + 1))}}::"' });
    expect(outputs.vars).toEqual({ x: 42 });
  });

  it('python Script runs with python, unbuffered, and renders the script', async () => {
    const ctx = await context({ variables: { inputs: { n: 5 } } });
    const { outputs, ctx: c } = await run(
      'python.Script',
      { script: 'import json, os, sys\nprint(os.environ["PYTHONUNBUFFERED"])\nprint("::" + json.dumps({"outputs": {"sq": {{ inputs.n }} ** 2}}) + "::")\nprint("warn", file=sys.stderr)' },
      ctx,
    );
    expect(outputs.vars).toEqual({ sq: 25 });
    expect(c.logs).toEqual([
      { level: 'INFO', message: 'true' },
      { level: 'WARN', message: 'warn' },
    ]);
  });

  it('node Script runs with node', async () => {
    const { outputs } = await run('node.Script', { script: 'console.log("::" + JSON.stringify({ outputs: { v: process.version.startsWith("v") } }) + "::");' });
    expect(outputs.vars).toEqual({ v: true });
  });

  it('python and node Commands run their commands', async () => {
    const py = await run('python.Commands', { commands: [`python3 -c 'print(2 ** 10)'`] });
    expect(py.ctx.logs).toEqual([{ level: 'INFO', message: '1024' }]);
    const js = await run('node.Commands', { commands: [`node -e 'console.log(6 * 7)'`] });
    expect(js.ctx.logs).toEqual([{ level: 'INFO', message: '42' }]);
  });

  it('a failing script reports its exit code', async () => {
    const error = await failure(run('python.Script', { script: 'import sys\nprint("bad", file=sys.stderr)\nsys.exit(3)' }));
    expect(error.details).toMatchObject({ exitCode: 3, stderrTail: ['bad'] });
  });
});

describe('runner selection and the command handed to the runner', () => {
  const recording = () => {
    const commands: RunnerCommand[] = [];
    const runner: Runner = {
      run: async (command) => {
        commands.push(command);
        return { exitCode: 0 };
      },
    };
    return { runner, commands };
  };

  it('defaults to DOCKER with the language image; containerImage and docker.image override it', async () => {
    const docker = recording();
    const ctx = await context({ runners: { 'io.kestra.plugin.scripts.runner.docker.Docker': docker.runner } });
    await task('python.Commands').run!({ commands: ['true'] }, ctx);
    await task('python.Commands').run!({ commands: ['true'], docker: { image: 'python:3.11', pullPolicy: 'NEVER' } }, ctx);
    await task('node.Commands').run!({ commands: ['true'], containerImage: '{{ "node:22" }}', docker: { image: 'ignored' } }, ctx);
    expect(docker.commands.map((c) => c.image)).toEqual([DEFAULT_IMAGES.python, 'python:3.11', 'node:22']);
    expect(docker.commands[1]!.options).toEqual({ image: 'python:3.11', pullPolicy: 'NEVER' });
    expect(docker.commands[0]!.env).toEqual({ PYTHONUNBUFFERED: 'true' });
    expect(docker.commands[0]!.failFast).toBe(true);
  });

  it('taskRunner wins over runner, with its rendered options', async () => {
    const processRecorder = recording();
    const ctx = await context({ runners: { 'io.kestra.plugin.core.runner.Process': processRecorder.runner }, variables: { vars: { v: 'x' } } });
    await task('shell.Commands').run!({ runner: 'DOCKER', taskRunner: { type: 'io.kestra.plugin.core.runner.Process', opt: '{{ vars.v }}' }, commands: ['true'] }, ctx);
    expect(processRecorder.commands[0]!.options).toEqual({ opt: 'x' });
  });

  it('resolves a third-party taskRunner type through the registered definitions', async () => {
    const custom = recording();
    const ctx = await context({
      runners: { 'com.example.Runner': custom.runner },
      runnerDefinitions: [dockerRunner, processRunner, { type: 'com.example.Runner', title: 'Custom', properties: {} }],
    });
    await task('shell.Commands').run!({ taskRunner: { type: 'com.example.Runner' }, commands: ['true'] }, ctx);
    expect(custom.commands).toHaveLength(1);
  });
});
