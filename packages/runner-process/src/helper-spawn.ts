/**
 * `spawn: 'helper'`: commands are started by a small helper process (`spawner.cjs`) instead of the worker.
 *
 * Why: on Linux, `child_process.spawn` forks the calling process and waits until the child has exec'd, all
 * synchronously. In a worker of 300-450 MB whose event loop also serves the API and the scheduler, that blocks
 * the loop 6-18 ms per command, more on a busy CPU. Handing the start to a ~40 MB helper over its IPC channel costs
 * the worker well under a millisecond, and the command starts as fast.
 *
 * Lifetime: one helper per worker process, forked at the first command and shared by every runner. It never keeps
 * the worker alive: its handles are unref'd while no command is in flight. When it dies, every command in flight
 * is lost: `exited` rejects with SLU_RUNNER_START_FAILED and the runner kills the command's process group (its pid
 * is known). The next command forks a new helper. The helper exits by itself when the worker exits or dies, and
 * kills the process group of every command it started on its way out: when the worker dies, its commands die
 * with it (see spawner.cjs).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '@sluice/core';
import type { ExitStatus, SpawnedCommand, SpawnRequest, StartCommand } from './spawned-command.js';

// Next to this module in src/ (run through tsx) as in dist/ (the build copies it).
const SCRIPT = fileURLToPath(new URL('./spawner.cjs', import.meta.url));

/**
 * Not the worker's flags (tsx's --import, --conditions): plain node, allowed to collect garbage early, and kept
 * small, since every fork copies its page tables. A 1 MB young generation and no V8 helper threads held it at about
 * 65 MB over 3,000 commands, where the defaults let it grow to about 90 MB, and cut its CPU per command by 15%
 * (`npm run bench:spawn`).
 */
const SPAWNER_FLAGS = ['--expose-gc', '--max-semi-space-size=1', '--single-threaded'];

/** Messages from a spawner (`spawner.cjs`, or `spawner.c` decoded by native-spawn.ts): keep every side in step. */
export type HelperMessage =
  | { readonly type: 'spawned'; readonly id: number; readonly pid: number }
  | { readonly type: 'error'; readonly id: number; readonly code?: string; readonly message: string }
  | { readonly type: 'output'; readonly id: number; readonly fd: 1 | 2; readonly data: Buffer }
  | { readonly type: 'exit'; readonly id: number; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly type: 'closed'; readonly id: number };

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One command, from the spawn request until both its exit and the end of its output were reported. */
class Command {
  readonly started = deferred<SpawnedCommand>();
  readonly exited = deferred<ExitStatus>();
  readonly closed = deferred<void>();
  private hasExited = false;
  private isClosed = false;
  private pending: [1 | 2, Buffer][] | undefined = [];
  private onChunk: ((fd: 1 | 2, chunk: Buffer) => void) | undefined;

  constructor(private readonly onDone: () => void) {
    // A lost command rejects `exited` even if nobody awaits it any more.
    this.exited.promise.catch(() => undefined);
  }

  output(fd: 1 | 2, chunk: Buffer): void {
    if (this.onChunk) this.onChunk(fd, chunk);
    else this.pending?.push([fd, chunk]);
  }

  read(onChunk: (fd: 1 | 2, chunk: Buffer) => void): Promise<void> {
    const pending = this.pending ?? [];
    this.pending = undefined;
    this.onChunk = onChunk;
    for (const [fd, chunk] of pending) onChunk(fd, chunk);
    return this.closed.promise;
  }

  exit(status: ExitStatus): void {
    this.hasExited = true;
    this.exited.resolve(status);
    if (this.isClosed) this.onDone();
  }

  close(): void {
    this.isClosed = true;
    this.closed.resolve();
    if (this.hasExited) this.onDone();
  }

  /** The helper died: fail whatever is still awaited. */
  lose(error: SluiceError): void {
    this.started.reject(error);
    this.exited.reject(error);
    this.closed.resolve();
  }
}

/** A request to a spawner process; `spawner.cjs` and `spawner.c` take the same ones. */
export type SpawnerRequest =
  | {
      readonly op: 'spawn';
      readonly id: number;
      readonly file: string;
      readonly args: readonly string[];
      readonly cwd: string;
      readonly env: Readonly<Record<string, string | undefined>>;
    }
  | { readonly op: 'destroy'; readonly id: number };

/** What the Helper needs from its process, whichever program it runs and however they talk. */
export interface SpawnerTransport {
  readonly pid: number | undefined;
  /** Requests can still reach the process. */
  readonly connected: boolean;
  /** Throws when the request cannot be encoded (NUL in a string); a failed write shows as `lost`. */
  send(request: SpawnerRequest): void;
  /** Whether the process and its channel keep the worker's event loop alive. */
  ref(): void;
  unref(): void;
}

export interface SpawnerEvents {
  message(message: HelperMessage): void;
  /** No new request can be sent (the channel closed): the next command takes a new helper. */
  disconnected(): void;
  /** The process is gone: the commands in flight are lost. */
  lost(how: string): void;
}

export type OpenTransport = (events: SpawnerEvents) => SpawnerTransport;

/** A spawner process and the commands it runs for us. */
class Helper {
  private readonly transport: SpawnerTransport;
  private readonly commands = new Map<number, Command>();
  private nextId = 1;
  private lost = false;

  constructor(open: OpenTransport, private readonly onLost: (helper: Helper) => void) {
    this.transport = open({
      message: (message) => this.receive(message),
      disconnected: () => this.onLost(this),
      lost: (how) => this.lose(how),
    });
    this.release();
  }

  get pid(): number | undefined {
    return this.lost ? undefined : this.transport.pid;
  }

  get usable(): boolean {
    return !this.lost && this.transport.connected;
  }

  start(request: SpawnRequest): Promise<SpawnedCommand> {
    const id = this.nextId++;
    const command = new Command(() => {
      this.commands.delete(id);
      this.release();
    });
    const env = request.inheritEnv ? withWorkerEnv(request.env) : { ...request.env };
    try {
      this.transport.send({ op: 'spawn', id, file: request.file, args: request.args, cwd: request.cwd, env });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.commands.set(id, command);
    this.hold();
    return command.started.promise;
  }

  private receive(message: HelperMessage): void {
    const command = this.commands.get(message.id);
    if (!command) return;
    switch (message.type) {
      case 'spawned':
        command.started.resolve({
          pid: message.pid,
          exited: command.exited.promise,
          read: (onChunk) => command.read(onChunk),
          destroyPipes: () => this.transport.send({ op: 'destroy', id: message.id }),
        });
        return;
      case 'error':
        this.commands.delete(message.id);
        this.release();
        command.started.reject(Object.assign(new Error(message.message), { code: message.code }));
        return;
      case 'output':
        command.output(message.fd, message.data);
        return;
      case 'exit':
        command.exit({ code: message.code, signal: message.signal });
        return;
      case 'closed':
        command.close();
        return;
    }
  }

  private lose(how: string): void {
    if (this.lost) return;
    this.lost = true;
    this.onLost(this);
    const error = new SluiceError('SLU_RUNNER_START_FAILED', { reason: `the process spawner exited (${how})` });
    for (const command of this.commands.values()) command.lose(error);
    this.commands.clear();
  }

  // While a command is in flight, the helper's handles keep the worker's event loop alive; otherwise not.
  private hold(): void {
    if (this.commands.size === 1) this.transport.ref();
  }

  private release(): void {
    if (this.commands.size === 0) this.transport.unref();
  }
}

/** `spawner.cjs` in a forked Node process, over its IPC channel. */
const forkTransport: OpenTransport = (events) => {
  const env = { ...workerEnv() };
  // A worker run through tsx has a loader in NODE_OPTIONS: the helper is plain CommonJS and starts faster without.
  delete env.NODE_OPTIONS;
  const child: ChildProcess = fork(SCRIPT, [], {
    execArgv: [...SPAWNER_FLAGS],
    env,
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Its own session: Ctrl-C in a terminal must not kill it under the worker's running commands. It follows
    // the worker through the IPC channel instead.
    detached: true,
  });
  child.on('message', (message: HelperMessage) => events.message(message));
  child.once('disconnect', () => events.disconnected());
  child.once('exit', (code, signal) => events.lost(signal ? `signal ${signal}` : `code ${code}`));
  child.on('error', (error) => {
    // A failed fork. Other errors (failed sends: every send has a callback) are followed by 'exit'.
    if (child.pid === undefined) events.lost(error.message);
  });
  return {
    get pid() {
      return child.pid;
    },
    get connected() {
      return child.connected;
    },
    // A failed send means the helper is going away: its 'exit' fails the commands.
    send: (request) => void child.send(request, undefined, undefined, () => undefined),
    ref: () => {
      child.ref();
      child.channel?.ref();
    },
    unref: () => {
      child.unref();
      child.channel?.unref();
    },
  };
};

/**
 * The worker's own environment, for commands that inherit it (`inheritEnv`), as `extendEnv` does in direct mode.
 * Read at each start: a variable the worker sets later reaches later commands.
 */
function workerEnv(): NodeJS.ProcessEnv {
  // eslint-disable-next-line no-restricted-properties -- the command inherits the worker's environment by design
  return process.env;
}

/**
 * The worker's environment with `env` on top. `process.env` answers each property through a call into C++: a spread
 * asks for each variable's descriptor and then its value, where `Object.keys` and one read per variable ask half as
 * much (64 → 43 µs per spawn with the 67 variables npm sets, on this machine).
 */
function withWorkerEnv(env: Readonly<Record<string, string>>): Record<string, string | undefined> {
  const source = workerEnv();
  // No prototype: a variable named `__proto__` is a variable like any other, as it was with a spread.
  const merged = Object.create(null) as Record<string, string | undefined>;
  for (const key of Object.keys(source)) merged[key] = source[key];
  return Object.assign(merged, env);
}

/** One helper per kind of spawner and worker process, replaced when it is lost. */
export class HelperSlot {
  private current: Helper | undefined;

  constructor(private readonly open: OpenTransport) {}

  start(request: SpawnRequest): Promise<SpawnedCommand> {
    let target = this.current;
    if (!target?.usable) {
      try {
        target = new Helper(this.open, (lost) => {
          if (this.current === lost) this.current = undefined;
        });
      } catch (error) {
        const reason = `cannot start the process spawner: ${error instanceof Error ? error.message : String(error)}`;
        return Promise.reject(new SluiceError('SLU_RUNNER_START_FAILED', { reason }, {}, { cause: error }));
      }
      this.current = target;
    }
    return target.start(request);
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }
}

const nodeHelper = new HelperSlot(forkTransport);

export const startWithHelper: StartCommand = (request) => nodeHelper.start(request);

/** The pid of the current Node helper process, if one runs (tests, benchmarks, monitoring). */
export function helperPid(): number | undefined {
  return nodeHelper.pid;
}
