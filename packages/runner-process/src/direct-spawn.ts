import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ExitStatus, SpawnedCommand, StartCommand } from './spawned-command.js';

/**
 * `spawn: 'direct'`: the command is forked from the worker process itself (execa). Simple, but the synchronous
 * fork blocks the worker's event loop for a time that grows with the worker's memory.
 *
 * Not covered by "when the worker dies, its commands die with it": the command leads a process group of its own
 * (so that the runner can signal the whole group), and nothing outside the worker knows about it, so a worker
 * killed with SIGKILL leaves it running. The spawner modes (`native`, `helper`) have that guarantee, and `auto`
 * never picks this mode; the worker app warns at start when it is configured.
 */
export const startDirect: StartCommand = async (request) => {
  const { execa } = await import('execa'); // loaded on first use: most workers use the spawner, not this mode
  const subprocess = execa(request.file, [...request.args], {
    cwd: request.cwd,
    env: { ...request.env },
    extendEnv: request.inheritEnv,
    detached: true,
    buffer: false,
    stdin: 'ignore',
    reject: false,
    stripFinalNewline: false,
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    subprocess.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const pid = subprocess.pid;
  if (pid === undefined) {
    const failure = await subprocess;
    throw failure.cause instanceof Error ? failure.cause : new Error(failure.shortMessage);
  }
  const pipe = (stream: Readable | null, onChunk: (chunk: Buffer) => void): Promise<void> => {
    if (!stream) return Promise.resolve();
    stream.on('data', onChunk);
    return finished(stream).catch(() => undefined);
  };
  return {
    pid,
    exited,
    read: async (onChunk) => {
      await Promise.all([pipe(subprocess.stdout, (chunk) => onChunk(1, chunk)), pipe(subprocess.stderr, (chunk) => onChunk(2, chunk))]);
      await subprocess;
    },
    destroyPipes: () => {
      subprocess.stdout?.destroy();
      subprocess.stderr?.destroy();
    },
  } satisfies SpawnedCommand;
};
