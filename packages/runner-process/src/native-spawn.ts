/**
 * `spawn: 'native'`: commands are started by `sluice-spawner`, compiled from `spawner.c`, instead of the Node helper.
 *
 * Why: Node starts a process with fork + exec, and a fork's cost grows with the forking process (page tables):
 * about 12 ms of CPU per command even from the small Node helper on a 2-core VM. The compiled spawner uses
 * clone(CLONE_VM | CLONE_VFORK), as posix_spawn does (nothing is copied), from a process of about 1 MB, so a start
 * costs little more than the command's own exec. With a few hundred short tasks per second, that is most of a worker's CPU.
 *
 * Building: the binary is compiled with the machine's C compiler (`cc`, Debian's gcc) by `npm run build`, or at
 * the first command when a checkout runs from source without a build. It is kept beside the package, in
 * `native/sluice-spawner-<hash of the source and flags>`, so a changed source gets a new binary. Without a
 * compiler, `spawn: 'auto'` (the default) uses the Node helper and `spawn: 'native'` fails with the reason.
 *
 * Lifetime and failures: as the Node helper (helper-spawn.ts): one per worker process, unref'd while idle, lost
 * commands reject with SLU_RUNNER_START_FAILED, and it exits when the worker's end of its stdin closes, killing the
 * process group of every command it started: when the worker dies, its commands die with it (see spawner.c). Each
 * command's shell also gets PR_SET_PDEATHSIG(SIGKILL), so it dies if the spawner is killed outright.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { constants, endianness } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SluiceError } from '@sluice/core';
import { HelperSlot, type HelperMessage, type OpenTransport, type SpawnerRequest } from './helper-spawn.js';
import type { StartCommand } from './spawned-command.js';

// Next to this module in src/ as in dist/ (the build copies it); the binaries go to the package's native/.
const SOURCE = fileURLToPath(new URL('./spawner.c', import.meta.url));
const NATIVE_DIR = fileURLToPath(new URL('../native/', import.meta.url));
const COMPILER = 'cc';
const FLAGS = ['-O2', '-std=gnu11'];
const COMPILE_TIMEOUT_MS = 60_000;

const OP_SPAWN = 1;
const OP_DESTROY = 2;
const EVENT_SPAWNED = 1;
const EVENT_ERROR = 2;
const EVENT_OUTPUT = 3;
const EVENT_EXIT = 4;
const EVENT_CLOSED = 5;

// spawner.c writes integers in the machine's byte order.
const LITTLE = endianness() === 'LE';
const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, value] of Object.entries(constants.signals)) if (!SIGNAL_NAMES.has(value)) SIGNAL_NAMES.set(value, name as NodeJS.Signals);

export type NativeSpawner = { readonly path: string } | { readonly error: string };

async function isExecutable(path: string): Promise<boolean> {
  return access(path, fsConstants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * Compile `spawner.c` into `dir` unless a binary of the same source and flags is there. Exported for tests;
 * everything else calls `nativeSpawner()`.
 */
export async function buildNativeSpawner({ compiler = COMPILER, dir = NATIVE_DIR } = {}): Promise<NativeSpawner> {
  let source: Buffer;
  try {
    source = await readFile(SOURCE);
  } catch (error) {
    return { error: `cannot read ${SOURCE}: ${(error as Error).message}` };
  }
  const hash = createHash('sha256').update(source).update(FLAGS.join(' ')).digest('hex').slice(0, 12);
  const path = join(dir, `sluice-spawner-${hash}`);
  if (await isExecutable(path)) return { path };
  // Compiled under a name of its own, then renamed: processes that compile at the same time each get a whole file.
  const partial = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  try {
    await mkdir(dir, { recursive: true });
    await promisify(execFile)(compiler, [...FLAGS, '-o', partial, SOURCE], { timeout: COMPILE_TIMEOUT_MS });
    await chmod(partial, 0o755);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    const detail = (error as { stderr?: string }).stderr?.trim().split('\n')[0] || (error as Error).message;
    return { error: `cannot compile the native process spawner (${compiler} ${SOURCE}): ${detail}` };
  }
  // Binaries of earlier sources are of no use any more.
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.startsWith('sluice-spawner-') && join(dir, name) !== path && !name.endsWith('.partial')) {
      await rm(join(dir, name), { force: true });
    }
  }
  return { path };
}

let built: Promise<NativeSpawner> | undefined;

/** The compiled spawner, compiled at the first call of a process if needed; `{error}` when it cannot be. */
export function nativeSpawner(): Promise<NativeSpawner> {
  return (built ??= buildNativeSpawner());
}

function encodeSpawn(request: Extract<SpawnerRequest, { op: 'spawn' }>): Buffer {
  // file, cwd, then argv (argv[0] is the file, as Node's spawn() sets it), then the environment as `K=V`.
  const strings = [request.file, request.cwd, request.file, ...request.args];
  const argc = 1 + request.args.length;
  // No array per variable: Object.entries and a flatMap took 27 µs a spawn with the 67 variables npm sets, this loop
  // 4 µs (issue #20).
  for (const key of Object.keys(request.env)) {
    const value = request.env[key];
    if (value !== undefined) strings.push(`${key}=${value}`);
  }
  const envc = strings.length - 2 - argc;
  for (const string of strings) {
    if (string.includes('\0')) {
      throw Object.assign(new TypeError(`a command's file, arguments, working directory and env must not contain null bytes`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
  }
  const body = Buffer.from(`${strings.join('\0')}\0`, 'utf8');
  const frame = Buffer.allocUnsafe(4 + 1 + 4 + 8 + body.length);
  writeU32(frame, frame.length - 4, 0);
  frame.writeUInt8(OP_SPAWN, 4);
  writeU32(frame, request.id, 5);
  writeU32(frame, argc, 9);
  writeU32(frame, envc, 13);
  body.copy(frame, 17);
  return frame;
}

function encode(request: SpawnerRequest): Buffer {
  if (request.op === 'spawn') return encodeSpawn(request);
  const frame = Buffer.allocUnsafe(9);
  writeU32(frame, 5, 0);
  frame.writeUInt8(OP_DESTROY, 4);
  writeU32(frame, request.id, 5);
  return frame;
}

function writeU32(buffer: Buffer, value: number, offset: number): void {
  if (LITTLE) buffer.writeUInt32LE(value, offset);
  else buffer.writeUInt32BE(value, offset);
}

const readU32 = (buffer: Buffer, offset: number): number => (LITTLE ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset));
const readI32 = (buffer: Buffer, offset: number): number => (LITTLE ? buffer.readInt32LE(offset) : buffer.readInt32BE(offset));

/** One event frame (without its length) as the message the Node helper would have sent. */
export function decodeEvent(frame: Buffer, file: (id: number) => string | undefined): HelperMessage {
  const type = frame.readUInt8(0);
  const id = readU32(frame, 1);
  switch (type) {
    case EVENT_SPAWNED:
      return { type: 'spawned', id, pid: readI32(frame, 5) };
    case EVENT_ERROR: {
      const errno = readI32(frame, 5);
      const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
      return { type: 'error', id, code, message: `spawn ${file(id) ?? ''} ${code}` };
    }
    case EVENT_OUTPUT:
      return { type: 'output', id, fd: frame.readUInt8(5) === 2 ? 2 : 1, data: frame.subarray(6) };
    case EVENT_EXIT: {
      const code = readI32(frame, 5);
      const signal = readI32(frame, 9);
      return { type: 'exit', id, code: code < 0 ? null : code, signal: signal === 0 ? null : (SIGNAL_NAMES.get(signal) ?? 'SIGKILL') };
    }
    case EVENT_CLOSED:
      return { type: 'closed', id };
    default:
      throw new Error(`unknown event type ${type} from the native process spawner`);
  }
}

/** Splits the spawner's stdout into frames, across reads. */
export class FrameReader {
  private rest: Buffer | undefined;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(data: Buffer): void {
    const buffer = this.rest ? Buffer.concat([this.rest, data]) : data;
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const size = readU32(buffer, offset);
      if (buffer.length - offset - 4 < size) break;
      this.onFrame(buffer.subarray(offset + 4, offset + 4 + size));
      offset += 4 + size;
    }
    this.rest = offset < buffer.length ? buffer.subarray(offset) : undefined;
  }
}

function nativeTransport(binary: string): OpenTransport {
  return (events) => {
    // Its own session, as the Node helper: Ctrl-C in a terminal reaches the worker, not the spawner.
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env: {} });
    const stdin = child.stdin as Socket;
    const stdout = child.stdout as Socket;
    // The file of each command until it started, to name it in a start error as Node does.
    const files = new Map<number, string>();
    let open = true;
    const reader = new FrameReader((frame) => {
      const message = decodeEvent(frame, (id) => files.get(id));
      if (message.type === 'spawned' || message.type === 'error') files.delete(message.id);
      events.message(message);
    });
    stdout.on('data', (data: Buffer) => reader.push(data));
    // A failed write: the spawner is gone, and 'close' follows.
    stdin.on('error', () => undefined);
    child.on('error', (error) => {
      if (child.pid === undefined) {
        open = false;
        events.lost(error.message);
      }
    });
    // After the last output was read: events that came before the end are delivered first.
    child.once('close', (code, signal) => {
      open = false;
      events.lost(signal ? `signal ${signal}` : `code ${code}`);
    });
    return {
      get pid() {
        return child.pid;
      },
      get connected() {
        return open && stdin.writable;
      },
      send: (request) => {
        const frame = encode(request);
        if (request.op === 'spawn') files.set(request.id, request.file);
        stdin.write(frame);
      },
      ref: () => {
        child.ref();
        stdin.ref();
        stdout.ref();
      },
      unref: () => {
        child.unref();
        stdin.unref();
        stdout.unref();
      },
    };
  };
}

let slot: { readonly path: string; readonly helper: HelperSlot } | undefined;

function slotFor(path: string): HelperSlot {
  if (slot?.path !== path) slot = { path, helper: new HelperSlot(nativeTransport(path)) };
  return slot.helper;
}

export const startWithNative: StartCommand = async (request) => {
  const spawner = await nativeSpawner();
  if ('error' in spawner) throw new SluiceError('SLU_RUNNER_START_FAILED', { reason: spawner.error });
  return slotFor(spawner.path).start(request);
};

/** The pid of the current native spawner, if one runs (tests, benchmarks, monitoring). */
export function nativeSpawnerPid(): number | undefined {
  return slot?.helper.pid;
}
