/**
 * When the worker dies, its commands die with it (issue #15: at most one live run of a task attempt). A real
 * worker stand-in (fixtures/worker-dies.ts, a Node process) runs a command whose process group holds four processes
 * (a shell, a shell it started, two sleeps); the test SIGKILLs the stand-in and waits until no process of the group
 * is left. No timing is asserted: the wait is only bounded, so that a failure ends.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isProcessGone, processesUnder } from '@sluice/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/worker-dies.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** How long the test waits for the processes to go: far more than they need, so that a failure is a failure. */
const GONE = { timeout: 20_000, interval: 50 };

let dir: string;
let groups: number[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-worker-death-'));
  groups = [];
});
afterEach(async () => {
  // Whatever a failed test left behind.
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(dir, { recursive: true, force: true });
});

/** Live (not zombie) members of a process group, from /proc. */
async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') members.push(Number(name));
    } catch {
      // ended while we looked
    }
  }
  return members;
}

interface Running {
  readonly parent: number;
  readonly pgid: number;
  readonly spawnerPid: number;
  readonly exited: Promise<unknown>;
}

/** Start the worker stand-in and wait until its command's four processes run. */
async function startWorker(mode: 'native' | 'helper' | 'direct'): Promise<Running> {
  const child = spawn(process.execPath, ['--conditions=@sluice/source', '--import', 'tsx', fixture, dir, mode], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const report = await new Promise<{ pgid: number; spawnerPid: number }>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { pgid: number; spawnerPid: number });
    });
    child.once('exit', (code, signal) => reject(new Error(`the worker stand-in ended (${code ?? signal}) before its command ran:\n${stderr}`)));
  });
  groups.push(report.pgid);
  await expect.poll(() => groupMembers(report.pgid), GONE).toHaveLength(4);
  return { parent: child.pid!, exited, ...report };
}

describe.each(['native', 'helper'] as const)('when the worker dies (spawn: %s)', (mode) => {
  it('every process of the command\'s group dies with it, and the spawner too', async () => {
    const worker = await startWorker(mode);
    expect(worker.spawnerPid).not.toBe(worker.parent);
    process.kill(worker.parent, 'SIGKILL');
    await worker.exited;
    await expect.poll(() => groupMembers(worker.pgid), GONE).toEqual([]);
    await expect.poll(() => isProcessGone(worker.spawnerPid), GONE).toBe(true);
    expect(await processesUnder(dir)).toEqual([]);
  });
});

describe('the compiled spawner', () => {
  it('gives each command\'s shell PR_SET_PDEATHSIG: killed together with the worker, the spawner takes the shell along', async () => {
    const worker = await startWorker('native');
    // Stopped, the worker cannot kill the group itself when it sees its spawner go: only the kernel can.
    process.kill(worker.parent, 'SIGSTOP');
    try {
      process.kill(worker.spawnerPid, 'SIGKILL');
      await expect.poll(() => isProcessGone(worker.pgid), GONE).toBe(true);
    } finally {
      process.kill(worker.parent, 'SIGKILL');
      await worker.exited;
    }
    // The shell's own children are not the spawner's: they are what the spawner kills when it sees the worker go
    // (the test above). Here nobody is left to, which is the documented limit; the test cleans up.
    process.kill(-worker.pgid, 'SIGKILL');
    await expect.poll(() => groupMembers(worker.pgid), GONE).toEqual([]);
  });
});
