// Core tasks (Log, LocalFiles, WorkingDirectory) with real script tasks and the real PROCESS runner: an integration
// test across plugin packages, so it lives with the default plugin set rather than in tasks-core.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSluiceError } from '@sluice/core';
import type { SluiceError } from '@sluice/core';
import type { TaskDefinition } from '@sluice/plugin-api';
import { createMockTaskContext } from '@sluice/plugin-api/testing';
import type { MockContextOptions, MockTaskContext } from '@sluice/plugin-api/testing';
import { processRunner } from '@sluice/runner-process';
import { scriptTasks } from '@sluice/tasks-scripts';
import { afterEach, describe, expect, it } from 'vitest';
import { localFilesTask, logTask, parseInputFiles, resolveInside, workingDirectoryTask } from '@sluice/tasks-core';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const process_ = processRunner.create!({});
const SHELL = 'io.kestra.plugin.scripts.shell.Commands';
const LOCAL_FILES = 'io.kestra.core.tasks.storages.LocalFiles';

async function context(options: MockContextOptions = {}): Promise<MockTaskContext> {
  const workingDirectory = await mkdtemp(join(tmpdir(), 'sluice-core-test-'));
  dirs.push(workingDirectory);
  return createMockTaskContext({
    workingDirectory,
    runners: { 'io.kestra.plugin.core.runner.Process': process_ },
    runnerDefinitions: [processRunner],
    tasks: [logTask, localFilesTask, workingDirectoryTask, ...scriptTasks],
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSluiceError(error)) throw new Error(`expected a SluiceError, got ${String(error)}`);
  return error;
}

const shell = (id: string, commands: string[], extra: Record<string, unknown> = {}) => ({ id, type: SHELL, runner: 'PROCESS', commands, ...extra });

describe('Log', () => {
  it('logs a rendered message at INFO by default', async () => {
    const ctx = await context({ variables: { inputs: { name: 'Ada' } } });
    expect(await logTask.run!({ message: 'Hello {{ inputs.name }}' }, ctx)).toEqual({});
    expect(ctx.logs).toEqual([{ level: 'INFO', message: 'Hello Ada' }]);
  });

  it('logs each message of a list at the given level', async () => {
    const ctx = await context();
    await logTask.run!({ message: ['one', '{{ 1 + 1 }}'], level: 'WARN' }, ctx);
    await logTask.run!({ message: 'quiet', level: 'debug' }, ctx);
    await logTask.run!({ message: 'loud', level: 'ERROR' }, ctx);
    expect(ctx.logs).toEqual([
      { level: 'WARN', message: 'one' },
      { level: 'WARN', message: '2' },
      { level: 'DEBUG', message: 'quiet' },
      { level: 'ERROR', message: 'loud' },
    ]);
  });

  it('rejects an unknown level', async () => {
    const error = await failure(logTask.run!({ message: 'x', level: 'LOUD' }, await context()));
    expect(error.code).toBe('SLU_FLOW_INVALID_ENUM');
  });
});

describe('LocalFiles', () => {
  it('writes inputs (inline, rendered, from storage) and uploads outputs as uris', async () => {
    const ctx = await context({ variables: { vars: { greeting: 'hi' } } });
    const source = join(ctx.workingDirectory, 'source.bin');
    await writeFile(source, 'from storage');
    const uri = await ctx.storage.putFile(source, 'source.bin');
    await rm(source);
    const result = await localFilesTask.run!({ inputs: { 'in/a.txt': '{{ vars.greeting }}', 'b.txt': uri }, outputs: ['**/*.txt'] }, ctx);
    expect(await readFile(join(ctx.workingDirectory, 'in/a.txt'), 'utf8')).toBe('hi');
    expect(await readFile(join(ctx.workingDirectory, 'b.txt'), 'utf8')).toBe('from storage');
    const uris = (result.outputs as { uris: Record<string, string> }).uris;
    expect(Object.keys(uris)).toEqual(['b.txt', 'in/a.txt']);
    expect(await readFile(ctx.stored.get(uris['in/a.txt']!)!, 'utf8')).toBe('hi');
  });

  it('accepts inputs as a JSON string', async () => {
    const ctx = await context();
    await localFilesTask.run!({ inputs: '{"x.txt": "json"}' }, ctx);
    expect(await readFile(join(ctx.workingDirectory, 'x.txt'), 'utf8')).toBe('json');
  });

  it('confines inputs and outputs to the working directory', async () => {
    const ctx = await context();
    expect((await failure(localFilesTask.run!({ inputs: { '../x.txt': 'x' } }, ctx))).code).toBe('SLU_TASK_INVALID_PATH');
    expect((await failure(localFilesTask.run!({ inputs: { 'a/../../x.txt': 'x' } }, ctx))).code).toBe('SLU_TASK_INVALID_PATH');
    expect((await failure(localFilesTask.run!({ outputs: ['../*'] }, ctx))).code).toBe('SLU_TASK_INVALID_PATH');
    expect((await failure(localFilesTask.run!({ outputs: ['/etc/passwd'] }, ctx))).code).toBe('SLU_TASK_INVALID_PATH');
  });
});

describe('file helpers', () => {
  it('resolveInside keeps names inside and rejects escapes', () => {
    expect(resolveInside('/w', 'a/b.txt')).toBe('/w/a/b.txt');
    expect(resolveInside('/w', './a/../b')).toBe('/w/b');
    for (const bad of ['..', '../x', '/abs', '', 'a/../..', 'nul\0']) expect(() => resolveInside('/w', bad)).toThrowError(/escapes the working directory/);
  });

  it('parseInputFiles rejects a list or bad JSON', () => {
    expect(() => parseInputFiles(['a'])).toThrowError(/mapping/);
    expect(() => parseInputFiles('{nope')).toThrowError(/JSON/);
    expect(parseInputFiles({ n: 1 })).toEqual({ n: '1' });
  });
});

describe('WorkingDirectory', () => {
  it('runs LocalFiles and shell Commands in one shared directory, with its own inputFiles and outputFiles', async () => {
    const ctx = await context({ taskId: 'wd' });
    const result = await workingDirectoryTask.run!(
      {
        inputFiles: { 'seed.txt': 'seed\n' },
        outputFiles: ['result.txt'],
        tasks: [
          { id: 'files', type: LOCAL_FILES, inputs: { 'data.csv': 'a,b\n1,2\n' } },
          shell('count', ['cat seed.txt', 'wc -l < data.csv | tr -d " " > result.txt', `echo "::{\\"outputs\\":{\\"lines\\":$(cat result.txt)}}::"`]),
          { id: 'export', type: LOCAL_FILES, outputs: ['result.txt'] },
        ],
      },
      ctx,
    );
    expect(result.state).toBe('SUCCESS');
    const outputFiles = (result.outputs as { outputFiles: Record<string, string> }).outputFiles;
    expect(Object.keys(outputFiles)).toEqual(['result.txt']);
    expect(await readFile(ctx.stored.get(outputFiles['result.txt']!)!, 'utf8')).toBe('2\n');
    expect(ctx.logs).toContainEqual({ level: 'INFO', message: 'seed' });
  });

  it('stops at the first failed child and fails naming it', async () => {
    const ctx = await context({ taskId: 'wd' });
    const error = await failure(
      workingDirectoryTask.run!({ outputFiles: ['*.txt'], tasks: [shell('ok', ['echo ok > a.txt']), shell('bad', ['exit 2']), shell('never', ['echo never'])] }, ctx),
    );
    expect(error.code).toBe('SLU_TASK_FAILED');
    expect(error.message).toBe('task wd failed: child task bad ended FAILED: task bad failed: command exited with code 2');
    expect(error.details).toMatchObject({ childTaskId: 'bad', childState: 'FAILED' });
    expect(ctx.logs.map((l) => l.message)).not.toContain('never');
    expect(ctx.stored.size).toBe(0);
  });

  it('continues after a child with allowFailure and ends WARNING', async () => {
    const ctx = await context({ taskId: 'wd' });
    const result = await workingDirectoryTask.run!({ tasks: [shell('bad', ['exit 2'], { allowFailure: true }), shell('after', ['echo after'])] }, ctx);
    expect(result.state).toBe('WARNING');
    expect(ctx.logs).toContainEqual({ level: 'INFO', message: 'after' });
  });

  it('skips disabled children and ends WARNING when a child was WARNING', async () => {
    const ctx = await context({ taskId: 'wd' });
    const result = await workingDirectoryTask.run!(
      { tasks: [shell('off', ['echo disabled-ran'], { disabled: true }), shell('warn', ['echo careful >&2']), { id: 'log', type: 'io.kestra.plugin.core.log.Log', message: 'done' }] },
      ctx,
    );
    expect(result.state).toBe('WARNING');
    expect(ctx.logs.map((l) => l.message)).toEqual(['careful', 'done']);
  });

  it('rejects with the abort reason between children', async () => {
    const controller = new AbortController();
    const reason = new Error('killed');
    const ctx = await context({ taskId: 'wd', signal: controller.signal });
    const abortingLog: TaskDefinition = {
      ...logTask,
      type: 'test.AbortingLog',
      aliases: [],
      run: async () => {
        controller.abort(reason);
        return {};
      },
    };
    const withAbort = await createMockTaskContext({ workingDirectory: ctx.workingDirectory, signal: controller.signal, tasks: [abortingLog, logTask] });
    await expect(
      workingDirectoryTask.run!({ tasks: [{ id: 'a', type: 'test.AbortingLog', message: 'x' }, { id: 'b', type: 'io.kestra.plugin.core.log.Log', message: 'never' }] }, withAbort),
    ).rejects.toBe(reason);
    expect(withAbort.logs).toEqual([]);
  });

  it('fails clearly without a runtime that runs children', async () => {
    const ctx = await createMockTaskContext();
    dirs.push(ctx.workingDirectory);
    expect((await failure(workingDirectoryTask.run!({ tasks: [] }, ctx))).message).toMatch(/runChild/);
  });
});
