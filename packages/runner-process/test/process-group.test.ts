import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { groupMembers, isProcessAlive } from '../src/process-group.js';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

describe('process-group probes', () => {
  it('see a live group and its leader, then nothing once it exited, and leave Error.stackTraceLimit as it was', async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const pid = child.pid!;
    started.push(pid);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 17;
    try {
      expect(await groupMembers(pid)).toEqual([pid]);
      expect(await isProcessAlive(pid)).toBe(true);
      expect(Error.stackTraceLimit).toBe(17);
      const exited = once(child, 'exit');
      process.kill(-pid, 'SIGKILL');
      await exited;
      // Asked of a group and a process that no longer exist: kill(…, 0) fails with ESRCH, which the probes answer.
      expect(await groupMembers(pid)).toEqual([]);
      expect(await isProcessAlive(pid)).toBe(false);
      expect(Error.stackTraceLimit).toBe(17);
    } finally {
      Error.stackTraceLimit = limit;
    }
  });
});
