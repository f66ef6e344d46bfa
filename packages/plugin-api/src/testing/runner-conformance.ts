/**
 * The runner conformance suite: ONE set of tests that every `Runner` implementation runs unchanged (as Kestra's
 * AbstractTaskRunnerTest, with DockerTest and ProcessTest a few lines each). A runner's own test file is:
 *
 *   runnerConformance('PROCESS', async () => ({ runner: processRunner.create!({}), leftovers: ... }));
 *
 * Commands use POSIX sh and the usual utilities (echo, printf, cat, sleep, seq, head, wc, tr, kill); a container
 * image must provide them (busybox with its applet links does).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Runner, RunnerCommand, RunnerResult } from '../contracts.js';

export interface RunnerUnderTest {
  readonly runner: Runner;
  /** Image for container runners (`RunnerCommand.image`). */
  readonly image?: string;
  /** Runner options for every command (`RunnerCommand.options`). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Where working directories are created (a host path the runner can reach). Default: the OS temp dir. */
  readonly workRoot?: string;
  /**
   * What the runner left behind (processes, containers, volumes), described for the failure message. Checked
   * after every test: must be empty.
   */
  leftovers?(): Promise<string[]>;
  /** True when the process `pid` printed by a command (a child or grandchild) no longer exists anywhere. */
  isProcessGone?(pid: number): Promise<boolean>;
  cleanup?(): Promise<void>;
}

interface Captured {
  result: RunnerResult;
  stdout: string[];
  stderr: string[];
}

export function runnerConformance(name: string, setup: () => Promise<RunnerUnderTest>): void {
  describe(`runner conformance: ${name}`, () => {
    let sut: RunnerUnderTest;
    let workingDirectory: string;

    beforeAll(async () => {
      sut = await setup();
    }, 300_000);
    afterAll(async () => {
      await sut?.cleanup?.();
    });

    const freshDirectory = async (): Promise<string> => {
      workingDirectory = await mkdtemp(join(sut.workRoot ?? tmpdir(), 'sluice-conformance-'));
      return workingDirectory;
    };

    afterEach(async () => {
      if (sut?.leftovers) expect(await sut.leftovers(), 'the runner left something behind').toEqual([]);
      if (workingDirectory) await rm(workingDirectory, { recursive: true, force: true });
    });

    const run = async (
      command: Omit<RunnerCommand, 'workingDirectory'> & { workingDirectory?: string },
      signal: AbortSignal = new AbortController().signal,
      onStdout?: (line: string) => void,
    ): Promise<Captured> => {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const result = await sut.runner.run(
        {
          ...(sut.image ? { image: sut.image } : {}),
          ...(sut.options ? { options: sut.options } : {}),
          ...command,
          workingDirectory: command.workingDirectory ?? (await freshDirectory()),
        },
        {
          onStdout: (line) => {
            stdout.push(line);
            onStdout?.(line);
          },
          onStderr: (line) => stderr.push(line),
        },
        signal,
      );
      return { result, stdout, stderr };
    };

    it('streams stdout lines in order and exits 0', async () => {
      const { result, stdout, stderr } = await run({ commands: ['echo one', 'echo two', 'printf "three\\nfour"'] });
      expect(result.exitCode).toBe(0);
      expect(stdout).toEqual(['one', 'two', 'three', 'four']);
      expect(stderr).toEqual([]);
    });

    it('resolves with a non-zero exit code instead of rejecting', async () => {
      const { result, stdout } = await run({ commands: ['echo before', 'exit 3'] });
      expect(result.exitCode).toBe(3);
      expect(stdout).toEqual(['before']);
    });

    it('sends stderr lines to onStderr', async () => {
      const { result, stdout, stderr } = await run({ commands: ['echo out', 'echo err1 >&2', 'echo err2 1>&2'] });
      expect(result.exitCode).toBe(0);
      expect(stdout).toEqual(['out']);
      expect(stderr).toEqual(['err1', 'err2']);
    });

    it('passes env to the commands', async () => {
      const { stdout } = await run({ commands: ['echo "$GREETING, $NAME"'], env: { GREETING: 'hello', NAME: 'wörld with spaces' } });
      expect(stdout).toEqual(['hello, wörld with spaces']);
    });

    it('runs beforeCommands first, in the same shell as commands', async () => {
      const { stdout } = await run({ beforeCommands: ['X=from-before', 'echo setup'], commands: ['echo "$X"'] });
      expect(stdout).toEqual(['setup', 'from-before']);
    });

    it('runs in the working directory: files go in and out', async () => {
      const dir = await freshDirectory();
      await writeFile(join(dir, 'input.txt'), 'data in\n');
      const { result, stdout } = await run({ workingDirectory: dir, commands: ['cat input.txt', 'echo "data out" > output.txt', 'pwd'] });
      expect(result.exitCode).toBe(0);
      expect(stdout).toEqual(['data in', dir]);
      expect(await readFile(join(dir, 'output.txt'), 'utf8')).toBe('data out\n');
    });

    it('failFast stops at the first failing command; without it the script goes on', async () => {
      const strict = await run({ failFast: true, commands: ['false', 'echo after'] });
      expect(strict.result.exitCode).not.toBe(0);
      expect(strict.stdout).toEqual([]);
      const lenient = await run({ failFast: false, commands: ['false', 'echo after'] });
      expect(lenient.result.exitCode).toBe(0);
      expect(lenient.stdout).toEqual(['after']);
    });

    it('uses the given interpreter', async () => {
      // `sh -xc` traces each command on stderr: proof the interpreter and its flags were used.
      const { stdout, stderr } = await run({ interpreter: ['/bin/sh', '-xc'], commands: ['echo ok'] });
      expect(stdout).toEqual(['ok']);
      expect(stderr.join('\n')).toContain('echo ok');
    });

    it('reports a missing command as exit code 127 with the shell message on stderr', async () => {
      const { result, stderr } = await run({ commands: ['definitely-not-a-command-xyz'] });
      expect(result.exitCode).toBe(127);
      expect(stderr.join('\n')).toMatch(/definitely-not-a-command-xyz/);
    });

    it('keeps unicode and CRLF endings intact, and delivers the last line without a newline', async () => {
      const { stdout } = await run({ commands: ['printf "héllo wörld ✓ 日本語\\r\\nsecond\\r\\nno-newline"'] });
      expect(stdout).toEqual(['héllo wörld ✓ 日本語', 'second', 'no-newline']);
    });

    it('delivers a very long line as one line', async () => {
      const { stdout } = await run({ commands: ['head -c 200000 /dev/zero | tr "\\0" "x"; echo', 'echo end'] });
      expect(stdout.map((l) => l.length)).toEqual([200_000, 3]);
      expect(stdout[0]).toBe('x'.repeat(200_000));
    });

    it('streams 10 MB of output line by line', async () => {
      let lines = 0;
      let bytes = 0;
      let maxLine = 0;
      const { result } = await run(
        { commands: ['seq 1 100000 | while read -r i; do printf "%0100d\\n" "$i"; done'] },
        undefined,
        (line) => {
          lines++;
          bytes += line.length + 1;
          maxLine = Math.max(maxLine, line.length);
        },
      );
      expect(result.exitCode).toBe(0);
      expect(lines).toBe(100_000);
      expect(bytes).toBe(100_000 * 101);
      expect(maxLine).toBe(100);
    }, 120_000);

    it('streams lines while the command still runs', async () => {
      const controller = new AbortController();
      let firstLineWhileRunning = false;
      const done = run({ commands: ['echo first', 'sleep 2', 'echo second'] }, controller.signal, (line) => {
        if (line === 'first') firstLineWhileRunning = true;
      });
      await expect.poll(() => firstLineWhileRunning, { timeout: 20_000, interval: 20 }).toBe(true);
      const { stdout } = await done;
      expect(stdout).toEqual(['first', 'second']);
    });

    it('kills the whole tree on abort, and rejects with the abort reason', async () => {
      const controller = new AbortController();
      let pid: number | undefined;
      const reason = new Error('killed by test');
      const running = run({ commands: ['sleep 1000 &', 'echo "pid $!"', 'wait'] }, controller.signal, (line) => {
        const match = /^pid (\d+)$/.exec(line);
        if (match) {
          pid = Number(match[1]);
          controller.abort(reason);
        }
      });
      await expect(running).rejects.toBe(reason);
      expect(pid).toBeGreaterThan(0);
      if (sut.isProcessGone && pid !== undefined) {
        const gone = pid;
        await expect.poll(() => sut.isProcessGone!(gone), { timeout: 10_000 }).toBe(true);
      }
    });

    it('times out through the same path (AbortSignal.timeout)', async () => {
      const signal = AbortSignal.timeout(1500);
      const running = run({ commands: ['echo started', 'sleep 1000'] }, signal);
      await expect(running).rejects.toMatchObject({ name: 'TimeoutError' });
    });

    it('rejects at once when the signal is already aborted', async () => {
      const controller = new AbortController();
      const reason = new Error('aborted before start');
      controller.abort(reason);
      await expect(run({ commands: ['echo never'] }, controller.signal)).rejects.toBe(reason);
    });
  });
}
