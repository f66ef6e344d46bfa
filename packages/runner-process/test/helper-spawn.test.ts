import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSluiceError } from '@sluice/core';
import type { RunnerCommand } from '@sluice/plugin-api';
import { isProcessGone, processesUnder } from '@sluice/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { helperPid, startWithHelper } from '../src/helper-spawn.js';
import { createProcessRunner } from '../src/index.js';
import { buildNativeSpawner, nativeSpawner, nativeSpawnerPid, startWithNative } from '../src/native-spawn.js';

const fixture = fileURLToPath(new URL('./fixtures/run-once.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-helper-test-'));
});
afterEach(async () => {
  expect(await processesUnder(dir)).toEqual([]);
  await rm(dir, { recursive: true, force: true });
});

/** The Node helper (`spawner.cjs`) and the compiled one (`spawner.c`): the same contract, one test suite. */
const SPAWNERS = {
  helper: { start: startWithHelper, pid: helperPid },
  native: { start: startWithNative, pid: nativeSpawnerPid },
} as const;
type Kind = keyof typeof SPAWNERS;
/** What each spawner may hold, output buffers included: a Node process, or a C program that keeps at most 1 MB. */
const RSS_LIMIT_MB: Readonly<Record<Kind, number>> = { helper: 80, native: 8 };

async function run(kind: Kind, command: Omit<RunnerCommand, 'workingDirectory'> & { workingDirectory?: string }, options: Record<string, unknown> = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const result = await createProcessRunner({ spawn: kind, ...options }).run(
    { workingDirectory: dir, ...command },
    { onStdout: (line) => stdout.push(line), onStderr: (line) => stderr.push(line) },
    new AbortController().signal,
  );
  return { ...result, stdout, stderr };
}

/** Resident memory of a process, in MB, from /proc. */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

describe.each(['helper', 'native'] as const)('PROCESS runner, spawn: %s', (kind) => {
  const { start: startCommand, pid: spawnerPid } = SPAWNERS[kind];

  it('runs 50 commands in parallel, each with its own output and exit code', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => run(kind, { commands: [`seq 1 200 | sed "s/^/${i}:/"`, `echo "err ${i}" >&2`, `exit ${i % 7}`] })),
    );
    results.forEach((result, i) => {
      expect(result.exitCode).toBe(i % 7);
      expect(result.stdout).toEqual(Array.from({ length: 200 }, (_, n) => `${i}:${n + 1}`));
      expect(result.stderr).toEqual([`err ${i}`]);
    });
  });

  it('passes several MB of binary output intact and in order, on both pipes', async () => {
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(join(dir, 'random.bin'), data);
    const command = await startCommand({ file: '/bin/sh', args: ['-c', 'cat random.bin; cat random.bin >&2'], cwd: dir, env: {}, inheritEnv: false });
    const chunks: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };
    await command.read((fd, chunk) => chunks[fd].push(chunk));
    expect(await command.exited).toEqual({ code: 0, signal: null });
    expect(Buffer.concat(chunks[1]).equals(data)).toBe(true);
    expect(Buffer.concat(chunks[2]).equals(data)).toBe(true);
  });

  it('stays small while a slow reader takes 40 MB of output', async () => {
    const command = await startCommand({ file: '/bin/sh', args: ['-c', 'head -c 40000000 /dev/zero'], cwd: dir, env: {}, inheritEnv: false });
    const pid = spawnerPid()!;
    let bytes = 0;
    let nextMb = 0;
    let maxRss = 0;
    await command.read((_fd, chunk) => {
      bytes += chunk.length;
      if (bytes < nextMb) return;
      nextMb += 1024 * 1024;
      maxRss = Math.max(maxRss, rssMb(pid));
      // A slow consumer: the helper must pause the command rather than buffer its output.
      const until = Date.now() + 20;
      while (Date.now() < until);
    });
    expect(await command.exited).toEqual({ code: 0, signal: null });
    expect(bytes).toBe(40_000_000);
    expect(maxRss).toBeLessThan(RSS_LIMIT_MB[kind]);
    expect(rssMb(pid)).toBeLessThan(RSS_LIMIT_MB[kind]);
  });

  it('runs in the working directory, with the task env, on top of the worker env unless inheritEnv is false', async () => {
    const sub = join(dir, 'sub dir');
    await mkdir(sub);
    process.env.SLUICE_HELPER_TEST_VAR = 'from-worker';
    try {
      const commands = ['pwd', 'echo "${SLUICE_HELPER_TEST_VAR-unset} $OWN"'];
      const inherited = await run(kind, { workingDirectory: sub, commands, env: { OWN: 'own value' } });
      expect(inherited.stdout).toEqual([sub, 'from-worker own value']);
      const isolated = await run(kind, { workingDirectory: sub, commands: [...commands, 'echo "${PATH-no PATH}"'], env: { OWN: 'own value' } }, { inheritEnv: false });
      expect(isolated.stdout.slice(0, 2)).toEqual([sub, 'unset own value']);
      // sh sets its own default PATH; what matters is that the worker's is not passed on.
      if (process.env.PATH) expect(isolated.stdout[2]).not.toBe(process.env.PATH);
    } finally {
      delete process.env.SLUICE_HELPER_TEST_VAR;
    }
  });

  it('passes a task variable named __proto__ like any other, on top of the worker env', async () => {
    const env = JSON.parse('{"__proto__": "proto value", "OWN": "own value"}') as Record<string, string>;
    const { stdout } = await run(kind, { commands: ['echo "${__proto__-unset} $OWN ${PATH:+has PATH}"'], env });
    expect(stdout).toEqual(['proto value own value has PATH']);
  });

  it('rejects SLU_RUNNER_START_FAILED naming an interpreter it cannot run', async () => {
    const missing = await run(kind, { interpreter: ['sluice-no-such-interpreter', '-c'], commands: ['echo hi'] }).catch((e: unknown) => e);
    expect(isSluiceError(missing) && missing.code).toBe('SLU_RUNNER_START_FAILED');
    expect((missing as Error).message).toBe('cannot start the command: interpreter sluice-no-such-interpreter not found');
    await writeFile(join(dir, 'not-executable'), 'echo hi\n');
    const denied = await run(kind, { interpreter: [join(dir, 'not-executable')], commands: ['echo hi'] }).catch((e: unknown) => e);
    expect(isSluiceError(denied) && denied.code).toBe('SLU_RUNNER_START_FAILED');
    expect((denied as Error).message).toMatch(/EACCES/);
  });

  it('kills the command and rejects when the helper dies mid-command; the next command gets a new helper', async () => {
    let pids: number[] = [];
    let killed: number | undefined;
    const failure = await createProcessRunner({ spawn: kind, killGracePeriodMs: 200 })
      .run(
        { workingDirectory: dir, commands: ['sleep 1000 &', 'echo "$$ $!"', 'wait'] },
        {
          onStdout: (line) => {
            pids = line.split(' ').map(Number);
            killed = spawnerPid();
            process.kill(killed!, 'SIGKILL');
          },
          onStderr: () => undefined,
        },
        new AbortController().signal,
      )
      .catch((e: unknown) => e);
    expect(isSluiceError(failure) && failure.code).toBe('SLU_RUNNER_START_FAILED');
    expect((failure as Error).message).toBe('cannot start the command: the process spawner exited (signal SIGKILL)');
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(await isProcessGone(pid)).toBe(true);

    const next = await run(kind, { commands: ['echo "again $PPID"'] });
    expect(next.stdout).toEqual([`again ${spawnerPid()}`]);
    expect(spawnerPid()).not.toBe(killed);
  });

  it('is a small process of its own, with no loader and no NODE_OPTIONS', async () => {
    await run(kind, { commands: ['true'] });
    const pid = spawnerPid()!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    if (kind === 'helper') {
      // Its own small-heap flags, none of the parent's (tsx's --import, --conditions).
      expect(cmdline).toEqual([process.execPath, '--expose-gc', '--max-semi-space-size=1', '--single-threaded', fileURLToPath(new URL('../src/spawner.cjs', import.meta.url))]);
    } else {
      const spawner = await nativeSpawner();
      expect(cmdline).toEqual(['path' in spawner ? spawner.path : spawner.error]);
    }
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).not.toContainEqual(expect.stringMatching(/^NODE_OPTIONS=/));
    expect(rssMb(pid)).toBeLessThan(RSS_LIMIT_MB[kind]);
  });

  it('looks a bare interpreter name up in the command\'s own PATH', async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'sluice-test-shell'), '#!/bin/sh\necho "test shell from PATH"\nexec /bin/sh "$@"\n', { mode: 0o755 });
    const result = await run(kind, { interpreter: ['sluice-test-shell', '-c'], commands: ['echo ran'], env: { PATH: `/nonexistent:${bin}` } }, { inheritEnv: false });
    expect(result).toMatchObject({ exitCode: 0, stdout: ['test shell from PATH', 'ran'] });
  });

  it('rejects a null byte in the environment before anything starts', async () => {
    const failure = await startCommand({ file: '/bin/sh', args: ['-c', 'true'], cwd: dir, env: { BAD: 'a\0b' }, inheritEnv: false }).catch((e: unknown) => e);
    expect((failure as NodeJS.ErrnoException).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((await run(kind, { commands: ['echo still fine'] })).stdout).toEqual(['still fine']);
  });

  it('does not keep a process alive: a script that ran a command exits on its own, and its helper with it', async () => {
    const child = spawn(process.execPath, ['--conditions=@sluice/source', '--import', 'tsx', fixture, dir, kind], {
      cwd: repoRoot,
      env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=512' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code, `the script did not exit on its own:\n${stderr}`).toBe(0);
    const report = JSON.parse(stdout) as { exitCode: number; lines: string[]; helperPid: number; helperEnv: string[] };
    expect(report).toMatchObject({ exitCode: 0, lines: ['hi'] });
    // The script's NODE_OPTIONS is not the helper's.
    expect(report.helperEnv).not.toContainEqual(expect.stringMatching(/^NODE_OPTIONS=/));
    await expect.poll(() => isProcessGone(report.helperPid), { timeout: 5_000 }).toBe(true);
  });
});

describe('building the native spawner', () => {
  it('compiles once into its folder, also when two builds race, and keeps only the current binary', async () => {
    const folder = join(dir, 'native');
    await mkdir(folder);
    await writeFile(join(folder, 'sluice-spawner-0123456789ab'), 'an older build');
    const [first, second] = await Promise.all([buildNativeSpawner({ dir: folder }), buildNativeSpawner({ dir: folder })]);
    expect(first).toEqual(second);
    expect('path' in first && first.path).toMatch(/\/native\/sluice-spawner-[0-9a-f]{12}$/);
    expect(await readdir(folder)).toEqual([basename((first as { path: string }).path)]);
    // A second call finds it and compiles nothing.
    expect(await buildNativeSpawner({ dir: folder, compiler: '/nonexistent/cc' })).toEqual(first);
  });

  it('names the compiler and the source when it cannot compile', async () => {
    const result = await buildNativeSpawner({ dir: join(dir, 'native'), compiler: '/nonexistent/cc' });
    expect(result).toEqual({ error: expect.stringMatching(/^cannot compile the native process spawner \(\/nonexistent\/cc \S+spawner\.c\): .*ENOENT/) });
    expect(await readdir(join(dir, 'native'))).toEqual([]);
  });
});
