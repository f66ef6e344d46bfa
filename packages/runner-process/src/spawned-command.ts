/**
 * How the PROCESS runner obtains a child process, internal to this package. Three implementations:
 * `direct-spawn.ts` (execa in the worker process), `helper-spawn.ts` (a small Node helper process forked once, see
 * `spawner.cjs`) and `native-spawn.ts` (a compiled spawner started once, see `spawner.c`).
 * What this leaves out on purpose: signals. The runner stops a command by signalling its process group itself
 * (`process-group.ts`), whichever way the command was started.
 */

/** How a command is started: `ProcessRunnerOptions.spawn`. */
export type SpawnMode = 'auto' | 'native' | 'helper' | 'direct';

export interface SpawnRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The task's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Put `env` on top of the worker's own environment (`ProcessRunnerOptions.inheritEnv`). */
  readonly inheritEnv: boolean;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started command: detached, so `pid` is also its process group id. */
export interface SpawnedCommand {
  readonly pid: number;
  /**
   * Resolves when the process exited. Rejects with a `SluiceError` when the command was lost (the helper
   * process died): the process group may still run, the caller kills it.
   */
  readonly exited: Promise<ExitStatus>;
  /**
   * Start delivering output chunks (fd 1 or 2, in order per fd; no chunk is lost before the call). Call once.
   * Resolves after the last chunk, when both pipes ended or were destroyed, or the command was lost.
   */
  read(onChunk: (fd: 1 | 2, chunk: Buffer) => void): Promise<void>;
  /** Stop reading and close both pipes: processes that escaped the group may hold them open for ever. */
  destroyPipes(): void;
}

/**
 * Start a command. Rejects with an `Error` carrying the system `code` (`ENOENT`...) when it could not start, or
 * with a `SluiceError` when the spawner itself failed.
 */
export type StartCommand = (request: SpawnRequest) => Promise<SpawnedCommand>;
