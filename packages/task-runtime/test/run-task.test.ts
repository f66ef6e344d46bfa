import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SluiceError } from '@sluice/core';
import type { TaskSpec } from '@sluice/core';
import { Registry, selectRunner } from '@sluice/plugin-api';
import type { ChildOutcome, ExecutionsAccess, Runner, RunnerDefinition, TaskContext, TaskDefinition } from '@sluice/plugin-api';
import { LocalFileStorage, taskRunFileUri } from '@sluice/storage';
import {
  createWorkingDirectoryPool,
  runTask,
  type ChildTaskRunStart,
  type RunTaskOptions,
  type TaskLogEntry,
  type TaskMetricEntry,
  type TaskRunOutcome,
} from '@sluice/task-runtime';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

// Small in-test task types: the real task packages are not dependencies of the runtime.
const logTask: TaskDefinition = {
  type: 'test.Log',
  aliases: ['test.legacy.Log'],
  title: 'log its message',
  kind: 'runnable',
  properties: {},
  async run(properties, context) {
    const message = await context.render(properties.message as string);
    context.logger.info(message);
    return { outputs: { message, nested: { list: [message] } } };
  },
};

/** Sleeps until its signal aborts, then rejects with the reason (as the contract asks). */
const sleepTask: TaskDefinition = {
  type: 'test.Sleep',
  title: 'sleep until aborted',
  kind: 'runnable',
  properties: {},
  run(_properties, context) {
    context.logger.info('sleeping');
    return new Promise((_resolve, reject) => {
      const stop = (): void => reject(context.signal.reason as Error);
      if (context.signal.aborted) stop();
      else context.signal.addEventListener('abort', stop, { once: true });
    });
  },
};

/** Ignores its signal and never ends. */
const stubbornTask: TaskDefinition = {
  type: 'test.Stubborn',
  title: 'never stops',
  kind: 'runnable',
  properties: {},
  run: () => new Promise(() => undefined),
};

const failTask: TaskDefinition = {
  type: 'test.Fail',
  title: 'fails in various ways',
  kind: 'runnable',
  properties: {},
  async run(properties, context) {
    const how = properties.how as string;
    if (how === 'sluice') {
      throw new SluiceError('SLU_TASK_FAILED', { taskId: context.taskRun.taskId, reason: 'exit code 3' }, { exitCode: 3, outputs: { exitCode: 3 } });
    }
    if (how === 'error') throw new Error(`plain failure with ${await context.render('{{ secret("token") }}')}`);
    if (how === 'warning') return { state: 'WARNING', outputs: { note: 'stderr seen' } };
    throw 'a string';
  },
};

/** Renders `message` and returns the result without logging (for expression tests). */
const renderTask: TaskDefinition = {
  type: 'test.Render',
  title: 'render',
  kind: 'runnable',
  properties: {},
  async run(properties, context) {
    return { outputs: { value: await context.render(properties.value) } };
  },
};

/** Writes a file, uploads it, downloads it again, and reads it back with read(). */
const fileTask: TaskDefinition = {
  type: 'test.Files',
  title: 'storage round trip',
  kind: 'runnable',
  properties: {},
  async run(properties, context) {
    await writeFile(join(context.workingDirectory, 'out.txt'), 'file content');
    const uri = await context.storage.putFile(join(context.workingDirectory, 'out.txt'), 'results/out.txt');
    await context.storage.getFile(uri, join(context.workingDirectory, 'copy', 'deep', 'in.txt'));
    const copy = await readFile(join(context.workingDirectory, 'copy', 'deep', 'in.txt'), 'utf8');
    const read = await context.render(`{{ read('${uri}') }}`);
    if (typeof properties.other === 'string') await context.storage.getFile(properties.other, join(context.workingDirectory, 'other'));
    return { outputs: { uri, copy, read } };
  },
};

/** Uses a runner by the name in `runner`. */
const commandTask: TaskDefinition = {
  type: 'test.Command',
  title: 'run a command',
  kind: 'runnable',
  usesRunner: true,
  properties: {},
  async run(properties, context) {
    const runner = context.runners.get(properties.runner as string);
    let out = '';
    const result = await runner.run(
      { commands: ['echo'], workingDirectory: context.workingDirectory },
      { onStdout: (line) => (out += line), onStderr: () => undefined },
      context.signal,
    );
    context.metric({ name: 'lines', type: 'counter', value: 1 });
    return { outputs: { exitCode: result.exitCode, out } };
  },
};

/** Records its context for inspection. */
const probeTask: TaskDefinition = {
  type: 'test.Probe',
  title: 'probe',
  kind: 'runnable',
  properties: {},
  async run(_properties, context) {
    probes.push(context);
    await writeFile(join(context.workingDirectory, `${context.taskRun.taskId}.txt`), 'x');
    context.logger.debug('a debug line');
    context.logger.warn('a warning');
    return { outputs: { files: (await readdir(context.workingDirectory)).sort() } };
  },
};
let probes: TaskContext[] = [];

/** A minimal WorkingDirectory: runs `tasks` in order through runChild and stops at the first failure. */
const workingDirectoryTask: TaskDefinition = {
  type: 'test.WorkingDirectory',
  title: 'children as one job',
  kind: 'flowable',
  childTasks: ['tasks'],
  runsChildrenAsOneJob: true,
  properties: {},
  async run(properties, context) {
    const outcomes: ChildOutcome[] = [];
    for (const child of properties.tasks as TaskSpec[]) {
      const outcome = await context.runChild!(child);
      outcomes.push(outcome);
      if (outcome.state === 'FAILED' || outcome.state === 'KILLED') throw outcome.error!;
    }
    return { outputs: { states: outcomes.map((o) => `${o.taskId}:${o.state}`) } };
  },
};

const tasks = new Registry<TaskDefinition>('task').registerAll([
  logTask,
  sleepTask,
  stubbornTask,
  failTask,
  renderTask,
  fileTask,
  commandTask,
  probeTask,
  workingDirectoryTask,
]);

const created: Readonly<Record<string, unknown>>[] = [];
const fakeRunner = (name: string): RunnerDefinition => ({
  type: `test.runner.${name}`,
  aliases: [`test.legacy.${name}`],
  legacyName: name.toUpperCase(),
  title: name,
  properties: {},
  create(options): Runner {
    created.push(options);
    return {
      run: async (_command, output) => {
        output.onStdout(`${name} ran with ${JSON.stringify(options)}`);
        return { exitCode: 0 };
      },
    };
  },
});
const runners = new Registry<RunnerDefinition>('runner').registerAll([fakeRunner('Process'), fakeRunner('Docker')]);

let base: string;
let workRoot: string;
let logs: TaskLogEntry[];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'sluice-runtime-test-'));
  workRoot = join(base, 'work');
  await mkdir(workRoot);
  logs = [];
  probes = [];
  created.length = 0;
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const execution = { id: 'exec1', namespace: 'company.team', flowId: 'etl', flowRevision: 3 };

function options(task: TaskSpec, extra: Partial<RunTaskOptions> = {}): RunTaskOptions {
  return {
    definition: extra.definition ?? tasks.get(task.type),
    task,
    taskRunId: 'tr1',
    attempt: 1,
    execution,
    variables: { inputs: { name: 'world' }, outputs: {}, vars: {}, flow: { id: 'etl', namespace: 'company.team' }, execution: { id: 'exec1' }, labels: {} },
    workRoot,
    storage: new LocalFileStorage({ root: join(base, 'storage') }),
    runners: { registry: runners },
    tasks,
    secrets: {},
    onLog: (entry) => logs.push(entry),
    ...extra,
  };
}

const messages = (): string[] => logs.map((l) => `${l.taskId} ${l.level} ${l.message}`);

describe('runTask', () => {
  it('renders, logs and returns outputs', async () => {
    const outcome = await runTask(options({ id: 'hello', type: 'test.legacy.Log', message: 'Hello {{ inputs.name }} from {{ taskrun.id }}/{{ taskrun.attemptsCount }} {{ task.id }}' }, { attempt: 2 }));
    expect(outcome).toMatchObject({ taskRunId: 'tr1', taskId: 'hello', attempt: 2, state: 'SUCCESS' });
    expect(outcome.outputs).toEqual({ message: 'Hello world from tr1/1 hello', nested: { list: ['Hello world from tr1/1 hello'] } });
    expect(outcome.error).toBeUndefined();
    expect(logs).toEqual([{ taskRunId: 'tr1', taskId: 'hello', level: 'INFO', message: 'Hello world from tr1/1 hello', timestamp: expect.any(String) as string }]);
    expect(Date.parse(outcome.endedAt)).toBeGreaterThanOrEqual(Date.parse(outcome.startedAt));
  });

  it('runs an in-process task (TaskDefinition.inProcess) with no working directory, and makes none', async () => {
    let seen: string | undefined;
    const inProcess: TaskDefinition = {
      type: 'test.InProcess',
      title: 'in the event loop',
      kind: 'runnable',
      inProcess: true,
      properties: {},
      async run(_properties, context) {
        seen = context.workingDirectory;
        context.logger.info('ran');
        return { outputs: { ok: true } };
      },
    };
    const outcome = await runTask(options({ id: 'quick', type: 'test.InProcess' }, { definition: inProcess, workRoot: join(base, 'missing') }));
    expect(outcome).toMatchObject({ state: 'SUCCESS', outputs: { ok: true } });
    expect(seen).toBe('');
    // No directory was made: the work root does not even exist (an ordinary task fails there, as tested below).
    expect(existsSync(join(base, 'missing'))).toBe(false);
    expect(await readdir(workRoot)).toEqual([]);
    // An ordinary task in the same place gets a directory of its own, removed after.
    const ordinary = await runTask(options({ id: 'x', type: 'test.Log', message: 'x' }));
    expect(ordinary.state).toBe('SUCCESS');
    expect(await readdir(workRoot)).toEqual([]);
  });

  describe('secrets', () => {
    it('reads base64 and plain secrets (names upper-cased) and masks them in logs and outputs', async () => {
      const outcome = await runTask(
        options(
          { id: 's', type: 'test.Log', message: 'token={{ secret("github_token") }} db={{ secret("Db_Password") }} in a longer line' },
          { secrets: { SECRET_GITHUB_TOKEN: b64('ghp_abc123'), SLUICE_SECRET_DB_PASSWORD: 'pa55word' } },
        ),
      );
      expect(outcome.state).toBe('SUCCESS');
      expect(messages()).toEqual(['s INFO token=****** db=****** in a longer line']);
      expect(outcome.outputs).toEqual({
        message: 'token=****** db=****** in a longer line',
        nested: { list: ['token=****** db=****** in a longer line'] },
      });
    });

    it('masks the longer of two secrets where one contains the other', async () => {
      const outcome = await runTask(
        options(
          { id: 's', type: 'test.Log', message: '{{ secret("short") }} {{ secret("long") }}' },
          { secrets: { SLUICE_SECRET_SHORT: 'abc123', SLUICE_SECRET_LONG: 'xxabc123yy' } },
        ),
      );
      expect(messages()).toEqual(['s INFO ****** ******']);
      expect(outcome.outputs.message).toBe('****** ******');
    });

    it('fails on a missing secret, naming both variables', async () => {
      const outcome = await runTask(options({ id: 's', type: 'test.Log', message: '{{ secret("api_key") }}' }));
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toMatchObject({
        code: 'SLU_EXPR_FUNCTION_FAILED',
        message: 'function secret() failed: secret "api_key" is not set (set SECRET_API_KEY base64-encoded or SLUICE_SECRET_API_KEY)',
      });
      expect(messages()).toEqual([`s ERROR ${outcome.error!.message}`]);
    });

    it('fails on a secret that is not valid base64', async () => {
      const outcome = await runTask(options({ id: 's', type: 'test.Log', message: '{{ secret("bad") }}' }, { secrets: { SECRET_BAD: 'not base64!' } }));
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error?.code).toBe('SLU_EXPR_FUNCTION_FAILED');
      expect(outcome.error?.message).toMatch(/SECRET_BAD is not valid base64/);
    });

    it('masks secrets in errors', async () => {
      const outcome = await runTask(options({ id: 'f', type: 'test.Fail', how: 'error' }, { secrets: { SLUICE_SECRET_TOKEN: 'tok-s3cret' } }));
      expect(outcome.error).toEqual({ code: 'SLU_TASK_FAILED', message: 'task f failed: plain failure with ******', details: {} });
      expect(JSON.stringify(logs)).not.toContain('tok-s3cret');
    });
  });

  it('fails with SLU_EXPR_UNDEFINED_VARIABLE on an undefined variable', async () => {
    const outcome = await runTask(options({ id: 'r', type: 'test.Render', value: { a: ['{{ inputs.nope }}'] } }));
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error?.code).toBe('SLU_EXPR_UNDEFINED_VARIABLE');
    expect(outcome.error?.message).toBe('undefined variable: inputs.nope');
  });

  describe('errors', () => {
    it('keeps a SluiceError with its details, and its outputs', async () => {
      const outcome = await runTask(options({ id: 'f', type: 'test.Fail', how: 'sluice' }));
      expect(outcome).toMatchObject({
        state: 'FAILED',
        outputs: { exitCode: 3 },
        error: { code: 'SLU_TASK_FAILED', message: 'task f failed: exit code 3', details: { exitCode: 3, outputs: { exitCode: 3 } } },
      });
    });

    it('turns anything else into SLU_TASK_FAILED', async () => {
      const outcome = await runTask(options({ id: 'f', type: 'test.Fail', how: 'string' }));
      expect(outcome.error).toEqual({ code: 'SLU_TASK_FAILED', message: 'task f failed: a string', details: {} });
    });

    it('reports WARNING', async () => {
      const outcome = await runTask(options({ id: 'w', type: 'test.Fail', how: 'warning' }));
      expect(outcome).toMatchObject({ state: 'WARNING', outputs: { note: 'stderr seen' } });
    });

    it('fails on an invalid timeout and on a task type that cannot run', async () => {
      const invalid = await runTask(options({ id: 't', type: 'test.Log', message: 'x', timeout: 'soon' }));
      expect(invalid.error?.code).toBe('SLU_FLOW_INVALID_DURATION');
      const noRun: TaskDefinition = { type: 'test.NoRun', title: 'x', kind: 'flowable', properties: {} };
      const outcome = await runTask(options({ id: 'n', type: 'test.NoRun' }, { definition: noRun }));
      expect(outcome.error?.code).toBe('SLU_PLUGIN_INVALID_DEFINITION');
    });

    it('fails, without rejecting, when the working directory cannot be created', async () => {
      await writeFile(join(base, 'a-file'), '');
      const outcome = await runTask(options({ id: 'x', type: 'test.Log', message: 'x' }, { workRoot: join(base, 'a-file') }));
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error?.code).toBe('SLU_TASK_FAILED');
    });
  });

  describe('timeout and kill', () => {
    it('fails with SLU_TASK_TIMEOUT when the timeout elapses', async () => {
      const started = Date.now();
      const outcome = await runTask(options({ id: 'sleep', type: 'test.Sleep', timeout: 'PT0.2S' }));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toEqual({
        code: 'SLU_TASK_TIMEOUT',
        message: 'task sleep exceeded its timeout of PT0.2S and was killed',
        details: {},
      });
      expect(messages()).toEqual(['sleep INFO sleeping', 'sleep ERROR task sleep exceeded its timeout of PT0.2S and was killed']);
    });

    it('renders the timeout', async () => {
      const outcome = await runTask(options({ id: 'sleep', type: 'test.Sleep', timeout: '{{ vars.t }}' }, { variables: { vars: { t: 'PT0.1S' } } }));
      expect(outcome.error?.code).toBe('SLU_TASK_TIMEOUT');
    });

    it('ends KILLED with SLU_TASK_KILLED when the signal aborts', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const outcome = await runTask(options({ id: 'sleep', type: 'test.Sleep', timeout: 'PT1H' }, { signal: controller.signal }));
      expect(outcome.state).toBe('KILLED');
      expect(outcome.error).toEqual({ code: 'SLU_TASK_KILLED', message: 'task sleep was killed', details: {} });
    });

    it('does not start a task killed before it starts', async () => {
      const run = vi.fn(logTask.run!);
      const outcome = await runTask(options({ id: 'l', type: 'test.Log', message: 'x' }, { signal: AbortSignal.abort(), definition: { ...logTask, run } }));
      expect(outcome.state).toBe('KILLED');
      expect(run).not.toHaveBeenCalled();
    });

    it('reports a task that ignores its signal after the grace period', async () => {
      const outcome = await runTask(options({ id: 'stubborn', type: 'test.Stubborn', timeout: 'PT0.05S' }, { abortGracePeriodMs: 50 }));
      expect(outcome.error?.code).toBe('SLU_TASK_TIMEOUT');
    });
  });

  describe('startGate', () => {
    /** A gate the test opens or closes, and whether it was open when the task's run was called. */
    function gate(): { promise: Promise<void>; open(): void; refuse(error: Error): void; readonly opened: boolean } {
      let open!: () => void;
      let refuse!: (error: Error) => void;
      let opened = false;
      const promise = new Promise<void>((resolve, reject) => {
        open = () => {
          opened = true;
          resolve();
        };
        refuse = reject;
      });
      return {
        promise,
        open,
        refuse,
        get opened() {
          return opened;
        },
      };
    }

    it('holds the task until the gate opens, its working directory ready meanwhile', async () => {
      const g = gate();
      const calls: { gateOpen: boolean; directoryExists: boolean }[] = [];
      const run = vi.fn<NonNullable<TaskDefinition['run']>>((properties, context) => {
        calls.push({ gateOpen: g.opened, directoryExists: existsSync(context.workingDirectory) });
        return logTask.run!(properties, context);
      });
      const running = runTask(options({ id: 'l', type: 'test.Log', message: 'ran' }, { definition: { ...logTask, run }, startGate: g.promise }));
      // The preparation does not wait for the gate: the working directory is created while it is closed.
      await vi.waitFor(async () => expect(await readdir(workRoot)).toHaveLength(1));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(run).not.toHaveBeenCalled();

      g.open();
      const outcome = await running;
      expect(outcome).toMatchObject({ state: 'SUCCESS', outputs: { message: 'ran' } });
      expect(calls).toEqual([{ gateOpen: true, directoryExists: true }]);
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('does not run the task when the gate rejects: FAILED with its error, the directory removed', async () => {
      const run = vi.fn(logTask.run!);
      const outcome = await runTask(
        options({ id: 'l', type: 'test.Log', message: 'x' }, { definition: { ...logTask, run }, startGate: Promise.reject(new Error('the check failed')) }),
      );
      expect(run).not.toHaveBeenCalled();
      expect(outcome).toMatchObject({ state: 'FAILED', outputs: {}, error: { code: 'SLU_TASK_FAILED', message: 'task l failed: the check failed' } });
      expect(messages()).toEqual(['l ERROR task l failed: the check failed']);
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('does not run the task when the signal aborts before the gate opens: KILLED, the directory removed', async () => {
      // As the worker does when its kill check says killed: abort, then open the gate.
      const g = gate();
      const controller = new AbortController();
      const run = vi.fn(logTask.run!);
      const running = runTask(options({ id: 'l', type: 'test.Log', message: 'x' }, { definition: { ...logTask, run }, signal: controller.signal, startGate: g.promise }));
      await vi.waitFor(async () => expect(await readdir(workRoot)).toHaveLength(1));
      controller.abort();
      g.open();
      const outcome = await running;
      expect(run).not.toHaveBeenCalled();
      expect(outcome).toMatchObject({ state: 'KILLED', error: { code: 'SLU_TASK_KILLED', message: 'task l was killed' } });
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('stops waiting for a gate that never opens when the signal aborts or the timeout elapses', async () => {
      const never = new Promise<void>(() => undefined);
      const run = vi.fn(sleepTask.run!);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const killed = await runTask(options({ id: 's', type: 'test.Sleep' }, { definition: { ...sleepTask, run }, signal: controller.signal, startGate: never }));
      expect(killed).toMatchObject({ state: 'KILLED', error: { code: 'SLU_TASK_KILLED' } });

      const timedOut = await runTask(options({ id: 's', type: 'test.Sleep', timeout: 'PT0.1S' }, { definition: { ...sleepTask, run }, startGate: never }));
      expect(timedOut).toMatchObject({ state: 'FAILED', error: { code: 'SLU_TASK_TIMEOUT' } });
      expect(run).not.toHaveBeenCalled();
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('holds the first child of a WorkingDirectory, and starts none when the gate rejects', async () => {
      const g = gate();
      const starts: { taskId: string; gateOpen: boolean }[] = [];
      const running = runTask(
        options(
          { id: 'wd', type: 'test.WorkingDirectory', tasks: [{ id: 'first', type: 'test.Log', message: 'one' }] },
          { startGate: g.promise, onChildStart: (child) => starts.push({ taskId: child.taskId, gateOpen: g.opened }) },
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(starts).toEqual([]);
      g.open();
      expect((await running).state).toBe('SUCCESS');
      expect(starts).toEqual([{ taskId: 'first', gateOpen: true }]);

      const refused = gate();
      const refusedStarts: string[] = [];
      const pending = runTask(
        options(
          { id: 'wd', type: 'test.WorkingDirectory', tasks: [{ id: 'first', type: 'test.Log', message: 'one' }] },
          { startGate: refused.promise, onChildStart: (child) => refusedStarts.push(child.taskId) },
        ),
      );
      refused.refuse(new Error('no'));
      expect((await pending).state).toBe('FAILED');
      expect(refusedStarts).toEqual([]);
      expect(await readdir(workRoot)).toEqual([]);
    });

    describe('a task that prepares before its start (preparesBeforeStart)', () => {
      /** test.Command, prepared before its start: records whether the gate was open when its run and its runner were called. */
      function preparing(g: { readonly opened: boolean }): { definition: TaskDefinition; calls: string[] } {
        const calls: string[] = [];
        const definition: TaskDefinition = {
          ...commandTask,
          preparesBeforeStart: true,
          async run(properties, context) {
            calls.push(`run, gate ${g.opened ? 'open' : 'closed'}`);
            const runner = context.runners.get(properties.runner as string);
            const gated: Runner = {
              run: (command, output, signal) =>
                runner.run(command, output, signal).then((result) => {
                  calls.push(`runner done, gate ${g.opened ? 'open' : 'closed'}`);
                  return result;
                }),
            };
            return commandTask.run!(properties, { ...context, runners: { definitions: context.runners.definitions, get: () => gated } });
          },
        };
        return { definition, calls };
      }

      it('is called while the gate is closed; its runner waits for the gate', async () => {
        const g = gate();
        const { definition, calls } = preparing(g);
        const running = runTask(options({ id: 'c', type: 'test.Command', runner: 'PROCESS' }, { definition, startGate: g.promise }));
        await vi.waitFor(() => expect(calls).toEqual(['run, gate closed']));
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(calls).toEqual(['run, gate closed']);
        g.open();
        const outcome = await running;
        expect(outcome).toMatchObject({ state: 'SUCCESS', outputs: { exitCode: 0, out: 'Process ran with {}' } });
        expect(calls).toEqual(['run, gate closed', 'runner done, gate open']);
        expect(await readdir(workRoot)).toEqual([]);
      });

      it('does not reach its runner when the gate rejects: FAILED with its error', async () => {
        const g = gate();
        const { definition, calls } = preparing(g);
        const running = runTask(options({ id: 'c', type: 'test.Command', runner: 'PROCESS' }, { definition, startGate: g.promise }));
        await vi.waitFor(() => expect(calls).toEqual(['run, gate closed']));
        g.refuse(new Error('the check failed'));
        const outcome = await running;
        expect(outcome).toMatchObject({ state: 'FAILED', error: { code: 'SLU_TASK_FAILED', message: 'task c failed: the check failed' } });
        expect(calls).toEqual(['run, gate closed']);
        expect(await readdir(workRoot)).toEqual([]);
      });

      it('does not reach its runner when the signal aborts before the gate opens: KILLED', async () => {
        const g = gate();
        const controller = new AbortController();
        const { definition, calls } = preparing(g);
        const running = runTask(options({ id: 'c', type: 'test.Command', runner: 'PROCESS' }, { definition, signal: controller.signal, startGate: g.promise }));
        await vi.waitFor(() => expect(calls).toEqual(['run, gate closed']));
        controller.abort();
        g.open();
        const outcome = await running;
        expect(outcome).toMatchObject({ state: 'KILLED', error: { code: 'SLU_TASK_KILLED' } });
        expect(calls).toEqual(['run, gate closed']);
      });

      it('gets the same runner object for the same runner, as without a gate', async () => {
        const definition: TaskDefinition = {
          ...commandTask,
          preparesBeforeStart: true,
          run: async (_properties, context) => ({ outputs: { same: context.runners.get('PROCESS') === context.runners.get('test.runner.Process') } }),
        };
        const outcome = await runTask(options({ id: 'c', type: 'test.Command' }, { definition, startGate: Promise.resolve() }));
        expect(outcome).toMatchObject({ state: 'SUCCESS', outputs: { same: true } });
      });
    });

    it('does not wait for it, nor leave its rejection unhandled, for a disabled task', async () => {
      const outcome = await runTask(options({ id: 'off', type: 'test.Log', message: 'x', disabled: true }, { startGate: Promise.reject(new Error('refused')) }));
      expect(outcome.state).toBe('SKIPPED');
    });
  });

  it('skips a disabled task without running it or creating a directory', async () => {
    const run = vi.fn(logTask.run!);
    const outcome = await runTask(options({ id: 'off', type: 'test.Log', message: 'x', disabled: true }, { definition: { ...logTask, run } }));
    expect(outcome).toMatchObject({ taskId: 'off', state: 'SKIPPED', outputs: {} });
    expect(run).not.toHaveBeenCalled();
    expect(await readdir(workRoot)).toEqual([]);
  });

  describe('working directory', () => {
    it('creates a fresh one under workRoot and removes it afterwards', async () => {
      const outcome = await runTask(options({ id: 'p', type: 'test.Probe' }));
      expect(outcome.state).toBe('SUCCESS');
      const directory = probes[0]!.workingDirectory;
      expect(directory.startsWith(workRoot)).toBe(true);
      expect(existsSync(directory)).toBe(false);
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('also removes it after a failure', async () => {
      await runTask(options({ id: 'f', type: 'test.Fail', how: 'sluice' }));
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('with onCleanup, returns before the removal and hands it over', async () => {
      const removals: Promise<void>[] = [];
      const outcome = await runTask(options({ id: 'p', type: 'test.Probe' }, { onCleanup: (removal) => removals.push(removal) }));
      expect(outcome.state).toBe('SUCCESS');
      expect(removals).toHaveLength(1);
      // runTask resolved without waiting: the removal, a file-system call, cannot have finished within the microtasks since.
      const directory = probes[0]!.workingDirectory;
      expect(existsSync(directory)).toBe(true);
      await removals[0];
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('with onCleanup, removes even an empty directory only in a later turn of the event loop', async () => {
      // The caller sends the outcome first: the rmdir(2), which can block on the file system's journal, comes after.
      const removals: Promise<void>[] = [];
      const outcome = await runTask(options({ id: 'l', type: 'test.Log', message: 'x' }, { definition: { ...logTask, inProcess: false }, onCleanup: (removal) => removals.push(removal) }));
      expect(outcome.state).toBe('SUCCESS');
      expect(removals).toHaveLength(1);
      await Promise.resolve();
      expect(readdirSync(workRoot)).toHaveLength(1);
      await removals[0];
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('with a pool, gives an empty directory back for the next task and removes one left with a file', async () => {
      const pool = createWorkingDirectoryPool({ root: workRoot });
      const removals: Promise<void>[] = [];
      const onCleanup = (removal: Promise<void>): void => void removals.push(removal);
      // The Log task (run outside the event loop here) writes nothing: its directory is kept, empty.
      await runTask(options({ id: 'l', type: 'test.Log', message: 'x' }, { definition: { ...logTask, inProcess: false }, workingDirectories: pool, onCleanup }));
      await removals[0];
      const kept = readdirSync(workRoot);
      expect(kept).toHaveLength(1);
      expect(pool.size).toBe(1);
      // The Probe task gets that directory, and leaves p.txt in it: it is removed, not kept.
      expect((await runTask(options({ id: 'p', type: 'test.Probe' }, { workingDirectories: pool, onCleanup }))).state).toBe('SUCCESS');
      expect(probes[0]!.workingDirectory).toBe(join(workRoot, kept[0]!));
      await removals[1];
      expect(pool.size).toBe(0);
      expect(await readdir(workRoot)).toEqual([]);
    });

    it('does not call onCleanup for a directory given explicitly', async () => {
      const onCleanup = vi.fn();
      await runTask(options({ id: 'p', type: 'test.Probe' }, { workingDirectory: join(base, 'mine'), onCleanup }));
      expect(onCleanup).not.toHaveBeenCalled();
    });

    it('keeps a directory given explicitly', async () => {
      const directory = join(base, 'mine', 'wd');
      await runTask(options({ id: 'p', type: 'test.Probe' }, { workingDirectory: directory }));
      expect(await readdir(directory)).toEqual(['p.txt']);
    });
  });

  it('filters logs by the task logLevel and reports metrics', async () => {
    await runTask(options({ id: 'p', type: 'test.Probe' }));
    expect(messages()).toEqual(['p DEBUG a debug line', 'p WARN a warning']);
    logs = [];
    await runTask(options({ id: 'p', type: 'test.Probe', logLevel: 'WARN' }));
    expect(messages()).toEqual(['p WARN a warning']);

    const metrics: TaskMetricEntry[] = [];
    await runTask(options({ id: 'c', type: 'test.Command', runner: 'PROCESS' }, { onMetric: (m) => metrics.push(m) }));
    expect(metrics).toEqual([{ name: 'lines', type: 'counter', value: 1, taskRunId: 'tr1', taskId: 'c', timestamp: expect.any(String) as string }]);
  });

  describe('runners', () => {
    it('finds runners by type, alias or legacy name, case-insensitively, once per run, with worker options', async () => {
      for (const name of ['PROCESS', 'process', 'test.runner.Process', 'TEST.LEGACY.PROCESS']) {
        const outcome = await runTask(
          options({ id: 'c', type: 'test.Command', runner: name }, { runners: { registry: runners, options: { 'test.runner.Process': { socket: '/x' } } } }),
        );
        expect(outcome.outputs).toEqual({ exitCode: 0, out: 'Process ran with {"socket":"/x"}' });
      }
      expect(created).toEqual(Array.from({ length: 4 }, () => ({ socket: '/x' })));

      const children = [
        { id: 'a', type: 'test.Command', runner: 'DOCKER' },
        { id: 'b', type: 'test.Command', runner: 'docker' },
      ];
      created.length = 0;
      await runTask(options({ id: 'wd', type: 'test.WorkingDirectory', tasks: children }));
      expect(created).toEqual([{}]); // created once for the whole job
    });

    it('exposes the definitions for selectRunner', async () => {
      const selecting: TaskDefinition = {
        ...commandTask,
        async run(properties, context) {
          const { runner, options: runnerOptions } = selectRunner(properties, context.runners.definitions);
          return { outputs: { type: runner.type, runnerOptions, same: context.runners.get(runner.type) === context.runners.get('PROCESS') } };
        },
      };
      const outcome = await runTask(
        options({ id: 'c', type: 'test.Command', taskRunner: { type: 'test.legacy.process', user: 'me' } }, { definition: selecting }),
      );
      expect(outcome.outputs).toEqual({ type: 'test.runner.Process', runnerOptions: { user: 'me' }, same: true });
    });

    it('fails with SLU_PLUGIN_UNKNOWN_TYPE for an unknown runner', async () => {
      const outcome = await runTask(options({ id: 'c', type: 'test.Command', runner: 'KUBERNETES' }));
      expect(outcome.error?.code).toBe('SLU_PLUGIN_UNKNOWN_TYPE');
    });
  });

  describe('storage', () => {
    it('uploads to the task run folder, downloads into new directories, and read() reads back', async () => {
      const storage = new LocalFileStorage({ root: join(base, 'storage') });
      const outcome = await runTask(options({ id: 'files', type: 'test.Files' }, { storage }));
      const uri = taskRunFileUri({ namespace: 'company.team', flowId: 'etl', executionId: 'exec1', taskId: 'files', taskRunId: 'tr1' }, 'results/out.txt');
      expect(uri).toBe('kestra:///company/team/etl/executions/exec1/tasks/files/tr1/results/out.txt');
      expect(outcome.outputs).toEqual({ uri, copy: 'file content', read: 'file content' });
      expect((await storage.stat(uri))?.size).toBe(12);
    });

    it('refuses files of another execution', async () => {
      const storage = new LocalFileStorage({ root: join(base, 'storage') });
      await storage.put('kestra:///company/team/etl/executions/exec2/x.txt', 'other');
      const outcome = await runTask(options({ id: 'files', type: 'test.Files', other: 'kestra:///company/team/etl/executions/exec2/x.txt' }, { storage }));
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error?.code).toBe('SLU_STORAGE_INVALID_URI');
      expect(outcome.error?.message).toMatch(/own execution/);

      const read = await runTask(options({ id: 'r', type: 'test.Render', value: "{{ read('kestra:///company/team/etl/executions/exec2/x.txt') }}" }, { storage }));
      expect(read.error?.code).toBe('SLU_STORAGE_INVALID_URI');
    });

    it('caps read() and reports missing files', async () => {
      const storage = new LocalFileStorage({ root: join(base, 'storage') });
      const uri = 'kestra:///company/team/etl/executions/exec1/inputs/data/big.txt';
      await storage.put(uri, 'x'.repeat(100));
      const tooBig = await runTask(options({ id: 'r', type: 'test.Render', value: `{{ read('${uri}') }}` }, { storage, readMaxBytes: 99 }));
      expect(tooBig.error?.code).toBe('SLU_EXPR_FUNCTION_FAILED');
      expect(tooBig.error?.message).toMatch(/^function read\(\) failed: .* larger than the 99 bytes/);
      const fits = await runTask(options({ id: 'r', type: 'test.Render', value: `{{ read('${uri}') | length }}` }, { storage, readMaxBytes: 100 }));
      expect(fits.outputs).toEqual({ value: '100' });
      const missing = await runTask(options({ id: 'r', type: 'test.Render', value: `{{ read('${uri}.nope') }}` }, { storage }));
      expect(missing.error?.code).toBe('SLU_STORAGE_NOT_FOUND');
    });
  });

  describe('executions (the execution store)', () => {
    const store: ExecutionsAccess = {
      get: async () => undefined,
      fetchLogs: async () => undefined,
      resume: async () => undefined,
    };

    it('is the context\'s executions, for the task and for a WorkingDirectory\'s children', async () => {
      await runTask(options({ id: 'p', type: 'test.Probe' }, { executions: store }));
      await runTask(options({ id: 'wd', type: 'test.WorkingDirectory', tasks: [{ id: 'child', type: 'test.Probe' }] }, { executions: store }));
      expect(probes.map((probe) => [probe.taskRun.taskId, probe.executions])).toEqual([
        ['p', store],
        ['child', store],
      ]);
    });

    it('is absent when not given', async () => {
      await runTask(options({ id: 'p', type: 'test.Probe' }));
      expect(probes[0]).toBeDefined();
      expect('executions' in probes[0]!).toBe(false);
    });
  });

  describe('runChild (WorkingDirectory)', () => {
    it('runs children in order in one directory, each as its own task run, passing outputs along', async () => {
      const events: string[] = [];
      const ends: TaskRunOutcome[] = [];
      const starts: ChildTaskRunStart[] = [];
      const children: TaskSpec[] = [
        { id: 'first', type: 'test.Log', message: 'one' },
        { id: 'off', type: 'test.Log', message: 'never', disabled: true },
        { id: 'second', type: 'test.Log', message: 'two after {{ outputs.first.message }} ({{ outputs.before.x }}, {{ taskrun.parentId }})' },
        { id: 'probe', type: 'test.Probe' },
      ];
      const outcome = await runTask(
        options(
          { id: 'wd', type: 'test.WorkingDirectory', tasks: children },
          {
            variables: { outputs: { before: { x: 'earlier task' } } },
            onLog: (entry) => {
              logs.push(entry);
              events.push(`log ${entry.taskRunId}`);
            },
            onChildStart: (child) => {
              starts.push(child);
              events.push(`start ${child.taskRunId}`);
            },
            onChildEnd: (child) => {
              ends.push(child);
              events.push(`end ${child.taskRunId} ${child.state}`);
            },
          },
        ),
      );
      expect(outcome).toMatchObject({ state: 'SUCCESS', outputs: { states: ['first:SUCCESS', 'off:SKIPPED', 'second:SUCCESS', 'probe:SUCCESS'] } });
      expect(events).toEqual([
        'start tr1.first',
        'log tr1.first',
        'end tr1.first SUCCESS',
        'start tr1.off',
        'end tr1.off SKIPPED',
        'start tr1.second',
        'log tr1.second',
        'end tr1.second SUCCESS',
        'start tr1.probe',
        'log tr1.probe',
        'log tr1.probe',
        'end tr1.probe SUCCESS',
      ]);
      expect(starts[0]).toMatchObject({ taskRunId: 'tr1.first', taskId: 'first', parentTaskRunId: 'tr1', attempt: 1 });
      expect(ends[2]).toMatchObject({ taskId: 'second', parentTaskRunId: 'tr1', outputs: { message: 'two after one (earlier task, tr1)' } });
      expect(probes[0]!.taskRun).toEqual({ id: 'tr1.probe', taskId: 'probe', attempt: 1, parentTaskRunId: 'tr1' });
      expect(probes[0]!.runChild).toBeUndefined(); // only for definitions that run children as one job
      expect(await readdir(workRoot)).toEqual([]); // the shared directory is removed once, after the job
    });

    it('reports a failing child and lets the parent decide', async () => {
      const ends: TaskRunOutcome[] = [];
      const outcome = await runTask(
        options(
          {
            id: 'wd',
            type: 'test.WorkingDirectory',
            tasks: [
              { id: 'bad', type: 'test.Fail', how: 'sluice' },
              { id: 'never', type: 'test.Log', message: 'x' },
            ],
          },
          { onChildEnd: (child) => ends.push(child) },
        ),
      );
      expect(ends.map((e) => `${e.taskId}:${e.state}`)).toEqual(['bad:FAILED']);
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error?.message).toBe('task bad failed: exit code 3');
    });

    it('fails a child of an unknown type without rejecting', async () => {
      const outcome = await runTask(options({ id: 'wd', type: 'test.WorkingDirectory', tasks: [{ id: 'u', type: 'test.Nope' }] }));
      expect(outcome.error?.code).toBe('SLU_PLUGIN_UNKNOWN_TYPE');
    });

    it('kills the running child when the job is killed', async () => {
      const controller = new AbortController();
      const ends: TaskRunOutcome[] = [];
      setTimeout(() => controller.abort(), 100);
      const outcome = await runTask(
        options(
          { id: 'wd', type: 'test.WorkingDirectory', tasks: [{ id: 'sleep', type: 'test.Sleep' }] },
          { signal: controller.signal, onChildEnd: (child) => ends.push(child) },
        ),
      );
      expect(ends.map((e) => `${e.taskId}:${e.state}:${e.error?.code}`)).toEqual(['sleep:KILLED:SLU_TASK_KILLED']);
      expect(outcome.state).toBe('KILLED');
    });

    it('kills the children when the parent times out, and the parent fails', async () => {
      const ends: TaskRunOutcome[] = [];
      const outcome = await runTask(
        options({ id: 'wd', type: 'test.WorkingDirectory', timeout: 'PT0.1S', tasks: [{ id: 'sleep', type: 'test.Sleep' }] }, { onChildEnd: (c) => ends.push(c) }),
      );
      expect(ends.map((e) => `${e.taskId}:${e.state}`)).toEqual(['sleep:KILLED']);
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error?.code).toBe('SLU_TASK_TIMEOUT');
    });

    it('masks a secret rendered by one child in the logs of the next', async () => {
      const outcome = await runTask(
        options(
          {
            id: 'wd',
            type: 'test.WorkingDirectory',
            tasks: [
              { id: 'a', type: 'test.Render', value: '{{ secret("pw") }}' },
              { id: 'b', type: 'test.Log', message: 'leaked: p4ssw0rd' },
            ],
          },
          { secrets: { SLUICE_SECRET_PW: 'p4ssw0rd' } },
        ),
      );
      expect(outcome.state).toBe('SUCCESS');
      expect(messages()).toEqual(['b INFO leaked: ******']);
    });
  });
});
