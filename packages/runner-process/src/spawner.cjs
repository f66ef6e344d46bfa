'use strict';
/**
 * The PROCESS runner's spawner: a small Node process, forked once per worker, that starts commands on the worker's
 * behalf. Forking copies the page tables of the calling process, so `spawn()` in a worker of several hundred MB
 * blocks its event loop for milliseconds; here it forks this ~40 MB process instead. Plain CommonJS without
 * dependencies: it runs with plain `node`, from `src/` as from `dist/`. The parent side is `helper-spawn.ts`.
 *
 * Protocol over the IPC channel (`serialization: 'advanced'`, so output stays a Buffer):
 *   in:  {op: 'spawn', id, file, args, cwd, env}   start a command, detached (it leads its own process group)
 *        {op: 'destroy', id}                       stop reading the command's output and close its pipes
 *   out: {type: 'spawned', id, pid} | {type: 'error', id, code, message}
 *        {type: 'output', id, fd: 1 | 2, data}      output chunks, in order
 *        {type: 'exit', id, code, signal}           the command's process exited
 *        {type: 'closed', id}                       both pipes ended: the last message about this command
 * Signals stay with the parent, which kills process groups itself.
 *
 * When the worker dies, its commands die with it: this process exits when the channel disconnects (the worker
 * exited or died: the kernel closes a dead process's end, however it died), and on its way out, whatever the reason,
 * it sends SIGKILL to the process group of every command it started whose group may still have a member. A group
 * is remembered until it has no live member, not only until its shell exited: background children run on until
 * the worker kills the group. spawner.c does the same and tells why in more detail. What this one cannot do:
 * PR_SET_PDEATHSIG on the commands (Node's spawn has no hook between fork and exec), so a command whose worker
 * and helper are killed at the same moment survives them.
 */
const { spawn } = require('node:child_process');
const { readdirSync, readFileSync } = require('node:fs');

// Output read but not yet written to the channel. Above HIGH, commands' pipes are paused (the commands block on
// a full pipe) until the parent caught up: this process stays small whatever the output rate.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
// Output chunks are external memory, which V8 collects only once tens of MB of it piled up: collect every few MB
// forwarded instead (a full GC of this tiny heap takes about a millisecond). The parent starts us with --expose-gc.
const GC_EVERY = 4 * 1024 * 1024;

/** id -> [stdout, stderr] of a command while one of its pipes is open. */
const commands = new Map();
/** Process group ids of the commands started, until the group has no live member. */
const groups = new Set();
/** Groups whose shell exited while other members still ran: looked at again every LINGER_CHECK_MS. */
const lingering = new Set();
const LINGER_CHECK_MS = 1000;
let lingerTimer;
let unsent = 0;
let paused = false;
let sinceGc = 0;

// With a callback, a failed write (the channel is closing: 'disconnect' follows) is passed to it, not thrown.
function send(message, onSent = () => undefined) {
  if (process.connected) process.send(message, undefined, undefined, onSent);
}

function setPaused(value) {
  paused = value;
  for (const streams of commands.values()) {
    for (const stream of streams) {
      if (value) stream.pause();
      else stream.resume();
    }
  }
}

function forward(id, fd, stream) {
  stream.on('data', (data) => {
    sinceGc += data.length;
    if (sinceGc >= GC_EVERY && typeof globalThis.gc === 'function') {
      sinceGc = 0;
      globalThis.gc();
    }
    unsent += data.length;
    send({ type: 'output', id, fd, data }, () => {
      unsent -= data.length;
      if (paused && unsent <= LOW_WATER) setPaused(false);
    });
    if (!paused && unsent > HIGH_WATER) setPaused(true);
  });
}

/** Process group ids that have a live (not zombie) member, from /proc; undefined without /proc. */
function liveGroups() {
  let names;
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const live = new Set();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && fields[0] !== 'X') live.add(Number(fields[2]));
    } catch {
      // Gone while we looked.
    }
  }
  return live;
}

/** Forget the groups that have no member left; zombies do not count (PID 1 may never reap orphans). */
function forgetGone(candidates) {
  let live;
  for (const pgid of candidates) {
    let exists = true;
    try {
      process.kill(-pgid, 0);
    } catch (error) {
      exists = error.code !== 'ESRCH';
    }
    if (exists) {
      live ??= liveGroups();
      if (live === undefined || live.has(pgid)) {
        lingering.add(pgid);
        continue;
      }
    }
    groups.delete(pgid);
    lingering.delete(pgid);
  }
  if (lingering.size > 0 && lingerTimer === undefined) {
    lingerTimer = setInterval(() => forgetGone([...lingering]), LINGER_CHECK_MS);
  } else if (lingering.size === 0 && lingerTimer !== undefined) {
    clearInterval(lingerTimer);
    lingerTimer = undefined;
  }
}

function start({ id, file, args, cwd, env }) {
  let child;
  try {
    child = spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    send({ type: 'error', id, code: error.code, message: error.message });
    return;
  }
  if (child.pid === undefined) {
    // ENOENT, EACCES...: reported by an 'error' event on the next tick.
    child.once('error', (error) => send({ type: 'error', id, code: error.code, message: error.message }));
    return;
  }
  const streams = [child.stdout, child.stderr];
  const pgid = child.pid;
  commands.set(id, streams);
  groups.add(pgid);
  send({ type: 'spawned', id, pid: pgid });
  child.on('error', () => undefined);
  child.once('exit', (code, signal) => {
    send({ type: 'exit', id, code, signal });
    forgetGone([pgid]);
  });
  forward(id, 1, child.stdout);
  forward(id, 2, child.stderr);
  if (paused) for (const stream of streams) stream.pause();
  let open = streams.length;
  for (const stream of streams) {
    // 'close' comes after 'end' and also after destroy(): the pipe is done either way.
    stream.once('close', () => {
      if (--open > 0) return;
      commands.delete(id);
      send({ type: 'closed', id });
    });
  }
}

process.on('message', (message) => {
  if (message.op === 'spawn') start(message);
  else if (message.op === 'destroy') {
    for (const stream of commands.get(message.id) ?? []) stream.destroy();
  }
});
process.on('disconnect', () => process.exit(0));
// Every exit passes here, also an uncaught exception: no command outlives this process.
process.on('exit', () => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});
