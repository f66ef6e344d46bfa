/**
 * Process-group helpers for the PROCESS runner. The command's shell is started detached, so it leads a new process
 * group (pgid = its pid) that every child and grandchild joins unless it calls setsid itself; signalling `-pgid`
 * reaches them all, as Kestra's `Process.killDescendantsOf`.
 *
 * "Gone" ignores zombies: an orphaned grandchild is re-parented to PID 1, and when PID 1 does not reap (a minimal
 * init in a container or VM) its zombie stays visible to `kill(pid, 0)` forever although it holds no resources.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 25;

interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly pgrp: number;
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses, so parse after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0] ?? '?', pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

async function hasProcFs(): Promise<boolean> {
  return (await readStat(process.pid)) !== undefined;
}

/**
 * `kill(pid, 0)`: undefined when the process (or group, for a negative pid) exists and may be signalled, else the
 * error's code (ESRCH: it does not exist; EPERM: it exists, owned by another user). After every command the runner
 * asks whether its group is gone, and it usually is: a thrown error captures a stack trace, which cost more than the
 * system call (1.8 % of a worker's CPU under load, issue #20's ninth pass), so the error is made without one.
 */
function probe(pid: number): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** True when the process exists and is not a zombie. */
export async function isProcessAlive(pid: number): Promise<boolean> {
  const code = probe(pid);
  if (code !== undefined) return code === 'EPERM';
  const stat = await readStat(pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X';
  return !(await hasProcFs());
}

/** Live (non-zombie) members of a process group; without /proc, `[pgid]` while the group exists. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const code = probe(-pgid);
  if (code !== undefined && code !== 'EPERM') return [];
  if (!(await hasProcFs())) return [pgid];
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(readStat));
  return stats.flatMap((s) => (s && s.pgrp === pgid && s.state !== 'Z' && s.state !== 'X' ? [s.pid] : []));
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Poll until the group has no live member or `timeoutMs` passed; true when it is gone. */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await groupMembers(pgid)).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Stop a whole group: SIGTERM, then SIGKILL for whatever survives `graceMs`, then wait until it is gone. After
 * SIGKILL only a process stuck in the kernel (uninterruptible I/O) can linger; we stop waiting after `killWaitMs`
 * rather than hang the worker, and report whether the group is gone.
 */
export async function killGroup(pgid: number, graceMs: number, killWaitMs = 10_000): Promise<boolean> {
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, graceMs)) return true;
  signalGroup(pgid, 'SIGKILL');
  return waitGroupGone(pgid, killWaitMs);
}
