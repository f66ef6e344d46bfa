/**
 * Which process a DOCKER container was started for, and whether that process still lives: how workers find the
 * containers of a dead worker without a database (issue #15: a task whose worker is gone must not keep running
 * unseen). The Docker engine owns the containers, so a worker killed with SIGKILL leaves its containers running.
 *
 * Every container carries `io.sluice.worker.process=pid=<pid> start=<ticks> boot=<boot id> pidns=<inode> host=<name>`:
 * the worker process's pid, its start time (clock ticks after boot, from /proc: a pid used again by another process
 * has another start time), the kernel's boot id (random at each boot: two machines, or two boots, never share one),
 * the inode of its PID namespace (a worker in a container sees other pids than one on the host) and the host name,
 * for people. Another process can tell that worker dead exactly when it runs under the same kernel and PID
 * namespace: the pid is gone, a zombie, or a process with another start time. Otherwise it cannot tell and leaves
 * the container alone: containers of workers on other machines (an engine shared over TCP), in other PID namespaces
 * or from an earlier boot are left to the workers that can tell.
 *
 * Linux only (/proc); elsewhere there is no identity, containers carry no such label, and only a worker's own sweep
 * at start (by worker id) removes them.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** The label that names the worker process a container was started for. */
export const WORKER_PROCESS_LABEL = 'io.sluice.worker.process';

export interface WorkerProcessIdentity {
  readonly pid: number;
  /** Start time in clock ticks after boot (field 22 of /proc/<pid>/stat), as text: it may exceed 2^53 in theory. */
  readonly startTime: string;
  readonly bootId: string;
  /** Inode of the PID namespace (`readlink /proc/<pid>/ns/pid` is `pid:[<inode>]`). */
  readonly pidNamespace: string;
  readonly host: string;
}

/** The fields of /proc/<pid>/stat after `pid (comm)`: [state, ppid, pgrp, ...]; comm may hold spaces and ')'. */
function statFields(pid: number | 'self'): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

const START_TIME = 19; // field 22, counted from field 3 (state)

/** The identity of a process of this machine, `undefined` where /proc does not give it (not Linux). */
export function processIdentityOf(pid: number | 'self' = 'self'): WorkerProcessIdentity | undefined {
  try {
    const startTime = statFields(pid)[START_TIME];
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = /^pid:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/pid`))?.[1];
    if (!startTime || !/^\d+$/.test(startTime) || !bootId || !pidNamespace) return undefined;
    return { pid: pid === 'self' ? process.pid : pid, startTime, bootId, pidNamespace, host: hostname() };
  } catch {
    return undefined;
  }
}

let own: WorkerProcessIdentity | null | undefined;

/** This process's identity (read once), `undefined` where there is none. */
export function currentProcessIdentity(): WorkerProcessIdentity | undefined {
  if (own === undefined) own = processIdentityOf('self') ?? null;
  return own ?? undefined;
}

/** The label value. Host names hold no spaces, so the value splits on them. */
export function formatProcessIdentity(identity: WorkerProcessIdentity): string {
  return `pid=${identity.pid} start=${identity.startTime} boot=${identity.bootId} pidns=${identity.pidNamespace} host=${identity.host}`;
}

/** The identity in a label value; `undefined` when the value is not one (written by someone else). */
export function parseProcessIdentity(value: string): WorkerProcessIdentity | undefined {
  const fields = new Map<string, string>();
  for (const part of value.trim().split(/\s+/)) {
    const equals = part.indexOf('=');
    if (equals > 0) fields.set(part.slice(0, equals), part.slice(equals + 1));
  }
  const pid = Number(fields.get('pid'));
  const startTime = fields.get('start') ?? '';
  const bootId = fields.get('boot') ?? '';
  const pidNamespace = fields.get('pidns') ?? '';
  if (!Number.isInteger(pid) || pid <= 0 || !/^\d+$/.test(startTime) || bootId === '' || !/^\d+$/.test(pidNamespace)) return undefined;
  return { pid, startTime, bootId, pidNamespace, host: fields.get('host') ?? '' };
}

/**
 * `dead` when `identity` is a process of this kernel and PID namespace that no longer runs (gone, a zombie, or its
 * pid now belongs to a process started at another time); `alive` when it runs; `unknown` when this process cannot
 * tell (another machine, boot or PID namespace, or /proc hides it), which callers treat as alive.
 */
export function processLiveness(identity: WorkerProcessIdentity, self: WorkerProcessIdentity | undefined = currentProcessIdentity()): 'alive' | 'dead' | 'unknown' {
  if (!self || self.bootId !== identity.bootId || self.pidNamespace !== identity.pidNamespace) return 'unknown';
  try {
    process.kill(identity.pid, 0);
  } catch (error) {
    // EPERM: it exists, as another user; its /proc entry may be hidden (hidepid), so read on.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  let fields: string[];
  try {
    fields = statFields(identity.pid);
  } catch {
    return 'unknown';
  }
  if (fields[0] === 'Z' || fields[0] === 'X') return 'dead';
  return fields[START_TIME] === identity.startTime ? 'alive' : 'dead';
}
