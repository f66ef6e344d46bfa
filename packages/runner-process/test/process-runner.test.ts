import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSluiceError } from '@sluice/core';
import type { RunnerCommand } from '@sluice/plugin-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProcessRunner, processRunner } from '../src/index.js';
import { helperPid } from '../src/helper-spawn.js';
import { nativeSpawnerPid } from '../src/native-spawn.js';
import { LineSplitter } from '@sluice/plugin-api';
import { isProcessGone, processesUnder } from '@sluice/testing';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-process-test-'));
});
afterEach(async () => {
  expect(await processesUnder(dir)).toEqual([]);
  await rm(dir, { recursive: true, force: true });
});

type Command = Omit<RunnerCommand, 'workingDirectory'> & { workingDirectory?: string };

async function runCommand(
  command: Command,
  options: Record<string, unknown>,
  signal = new AbortController().signal,
  onStdout?: (line: string) => void,
) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const result = await createProcessRunner(options).run(
    { workingDirectory: dir, ...command },
    {
      onStdout: (line) => {
        stdout.push(line);
        onStdout?.(line);
      },
      onStderr: (line) => stderr.push(line),
    },
    signal,
  );
  return { ...result, stdout, stderr };
}

describe('PROCESS runner options', () => {
  it('is created through its definition, and rejects bad options', () => {
    expect(typeof processRunner.create!({}).run).toBe('function');
    expect(() => processRunner.create!({ inheritEnv: 'no' })).toThrowError(/inheritEnv must be a boolean/);
    expect(() => processRunner.create!({ spawn: 'fork' })).toThrowError('invalid runner definition "PROCESS": option spawn must be "auto", "native", "helper" or "direct", got "fork"');
    expect(() => createProcessRunner({ spawn: 'direct' })).not.toThrow();
  });

  it('starts commands through the compiled spawner by default (auto), through the others on request', async () => {
    // The shell's parent tells who started it.
    const parent = async (options: Record<string, unknown>) => Number((await runCommand({ commands: ['echo $PPID'] }, options)).stdout[0]);
    const byDefault = await parent({});
    expect(byDefault).toBe(nativeSpawnerPid());
    expect(await parent({ spawn: 'native' })).toBe(nativeSpawnerPid());
    expect(await parent({ spawn: 'helper' })).toBe(helperPid());
    expect(await parent({ spawn: 'direct' })).toBe(process.pid);
    expect(new Set([nativeSpawnerPid(), helperPid(), process.pid]).size).toBe(3);
  });
});

// Every behaviour below holds whichever way the command is started.
describe.each(['native', 'helper', 'direct'] as const)('PROCESS runner (spawn: %s)', (spawn) => {
  const run = (command: Command, options: Record<string, unknown> = {}, signal?: AbortSignal, onStdout?: (line: string) => void) =>
    runCommand(command, { spawn, ...options }, signal, onStdout);

  it('rejects SLU_RUNNER_START_FAILED when the interpreter is missing', async () => {
    const failure = await run({ interpreter: ['/no/such/shell', '-c'], commands: ['echo hi'] }).catch((e: unknown) => e);
    expect(isSluiceError(failure) && failure.code).toBe('SLU_RUNNER_START_FAILED');
    expect((failure as Error).message).toBe('cannot start the command: interpreter /no/such/shell not found');
  });

  it('rejects SLU_RUNNER_START_FAILED when the working directory is missing', async () => {
    const missing = join(dir, 'missing');
    const failure = await run({ workingDirectory: missing, commands: ['echo hi'] }).catch((e: unknown) => e);
    expect(isSluiceError(failure) && failure.code).toBe('SLU_RUNNER_START_FAILED');
    expect((failure as Error).message).toBe(`cannot start the command: working directory ${missing} does not exist`);
  });

  it('rejects SLU_RUNNER_START_FAILED when the working directory is a file', async () => {
    const file = join(dir, `a-file-${spawn}`);
    await writeFile(file, 'not a directory');
    const failure = await run({ workingDirectory: file, commands: ['echo hi'] }).catch((e: unknown) => e);
    expect(isSluiceError(failure) && failure.code).toBe('SLU_RUNNER_START_FAILED');
    expect((failure as Error).message).toBe(`cannot start the command: working directory ${file} is not a directory`);
  });

  it('inherits the worker environment by default, and not with inheritEnv: false', async () => {
    process.env.SLUICE_PROCESS_TEST_VAR = 'from-worker';
    try {
      const inherited = await run({ commands: ['echo "${SLUICE_PROCESS_TEST_VAR-unset} $OWN"'], env: { OWN: 'own' } });
      expect(inherited.stdout).toEqual(['from-worker own']);
      const isolated = await run({ commands: ['echo "${SLUICE_PROCESS_TEST_VAR-unset} $OWN"'], env: { OWN: 'own' } }, { inheritEnv: false });
      expect(isolated.stdout).toEqual(['unset own']);
    } finally {
      delete process.env.SLUICE_PROCESS_TEST_VAR;
    }
  });

  it('task env overrides the worker environment', async () => {
    process.env.SLUICE_PROCESS_TEST_VAR = 'from-worker';
    try {
      const { stdout } = await run({ commands: ['echo "$SLUICE_PROCESS_TEST_VAR"'], env: { SLUICE_PROCESS_TEST_VAR: 'from-task' } });
      expect(stdout).toEqual(['from-task']);
    } finally {
      delete process.env.SLUICE_PROCESS_TEST_VAR;
    }
  });

  it('SIGKILLs a child that ignores SIGTERM after the grace period', async () => {
    const controller = new AbortController();
    const reason = new Error('kill');
    let pid: number | undefined;
    let abortedAt = 0;
    const running = run({ commands: ['trap "" TERM', 'sleep 1000 &', 'echo "pid $!"', 'wait'] }, { killGracePeriodMs: 300 }, controller.signal, (line) => {
      const match = /^pid (\d+)$/.exec(line);
      if (match) {
        pid = Number(match[1]);
        abortedAt = Date.now();
        controller.abort(reason);
      }
    });
    await expect(running).rejects.toBe(reason);
    expect(Date.now() - abortedAt).toBeGreaterThanOrEqual(300);
    expect(await isProcessGone(pid!)).toBe(true);
  });

  it('kills background children left running when the shell exits', async () => {
    const { exitCode, stdout } = await run({ commands: ['sleep 1000 &', 'echo "pid $!"'] });
    expect(exitCode).toBe(0);
    const pid = Number(/^pid (\d+)$/.exec(stdout[0] ?? '')?.[1]);
    expect(await isProcessGone(pid)).toBe(true);
  });

  it('stops reading pipes held open by a process that escaped the group, a moment after the shell exits', async () => {
    const started = Date.now();
    // The shell exits only once the child has left the group (setsid), else the runner would kill it as a leftover.
    const { exitCode, stdout } = await run({
      commands: [
        `(exec setsid sh -c 'cd / && : > "$0" && exec sleep 30' "$PWD/escaped") &`,
        'until [ -e escaped ]; do sleep 0.01; done',
        'echo "pid $!"',
      ],
    });
    const escaped = Number(/^pid (\d+)$/.exec(stdout[0] ?? '')?.[1]);
    try {
      expect(exitCode).toBe(0);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await isProcessGone(escaped)).toBe(false);
    } finally {
      process.kill(escaped, 'SIGKILL');
    }
  });

  it('reports a shell killed by a signal it did not get from us as 128 + signal', async () => {
    expect((await run({ commands: ['kill -TERM $$'] })).exitCode).toBe(128 + 15);
    expect((await run({ commands: ['kill -KILL $$'] })).exitCode).toBe(128 + 9);
  });

  it('stops the command and rejects when an output callback throws', async () => {
    const bug = new Error('callback bug');
    const running = run({ commands: ['echo one', 'sleep 1000'] }, {}, undefined, () => {
      throw bug;
    });
    await expect(running).rejects.toBe(bug);
  });
});

describe('LineSplitter', () => {
  it('decodes multibyte characters split across chunks and strips CR', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    const bytes = Buffer.from('日本語 ✓\r\nsecond\n\nlast', 'utf8');
    for (let i = 0; i < bytes.length; i++) splitter.write(bytes.subarray(i, i + 1));
    splitter.end();
    expect(lines).toEqual(['日本語 ✓', 'second', '', 'last']);
  });

  it('delivers nothing extra after a trailing newline', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    splitter.write(Buffer.from('a\nb\r'));
    splitter.write(Buffer.from('\n'));
    splitter.end();
    expect(lines).toEqual(['a', 'b']);
  });
});
