import { stat } from 'node:fs/promises';
import { constants } from 'node:os';
import { isSluiceError, SluiceError } from '@sluice/core';
import type { Runner, RunnerCommand, RunnerOutput, RunnerResult } from '@sluice/plugin-api';
import { LineSplitter } from '@sluice/plugin-api';
import { startDirect } from './direct-spawn.js';
import { startWithHelper } from './helper-spawn.js';
import { nativeSpawner, startWithNative } from './native-spawn.js';
import { groupMembers, killGroup } from './process-group.js';
import type { ExitStatus, SpawnMode, StartCommand } from './spawned-command.js';

/** Worker settings of the PROCESS runner (`RunnerDefinition.create` options). */
export interface ProcessRunnerOptions {
  /**
   * Default `true`: the command sees the worker's own environment with the task's `env` on top (Kestra's
   * behaviour: tools such as conda, CUDA or a PATH set on the worker keep working). `false`: the command sees
   * only the task's `env` — for workers whose environment holds credentials tasks must not read. The shell then
   * uses its built-in default PATH.
   */
  readonly inheritEnv?: boolean;
  /** On abort, milliseconds between SIGTERM and SIGKILL of the process group. Default 2000. */
  readonly killGracePeriodMs?: number;
  /**
   * How commands are started. `native`: by a small compiled spawner process (`spawner.c`, posix_spawn), started
   * once per worker and shared between runners; the cheapest start, it needs a C compiler once (see
   * native-spawn.ts). `helper`: by a small Node helper process (`spawner.cjs`); a busy worker's event loop stays
   * free too, but each start forks that helper. `auto` (default): `native` when it could be compiled, else
   * `helper`. `direct`: `spawn()` from the worker process itself, which blocks the worker's event loop for
   * milliseconds per command. Either way the command runs as the worker's user, in its own process group, which
   * the worker signals itself. With `native` and `helper` (so with `auto`) a command's group is killed when the
   * worker process dies, even by SIGKILL (the spawner kills it when its pipe from the worker closes); with
   * `direct` it is not, and runs on. The apps set it from `SLUICE_PROCESS_SPAWN`.
   */
  readonly spawn?: SpawnMode;
}

const DEFAULT_INTERPRETER = ['/bin/sh', '-c'] as const;
const DEFAULT_GRACE_MS = 2_000;
// After the shell exits and its group is gone, how long a process that escaped the group (setsid) may keep the
// output pipes open before we stop reading them.
const DRAIN_MS = 1_000;

const startAuto: StartCommand = async (request) => ('error' in (await nativeSpawner()) ? startWithHelper : startWithNative)(request);
const STARTERS: Readonly<Record<SpawnMode, StartCommand>> = { auto: startAuto, native: startWithNative, helper: startWithHelper, direct: startDirect };
const isSpawnMode = (value: unknown): value is SpawnMode => typeof value === 'string' && Object.hasOwn(STARTERS, value);

function invalidOption(reason: string): SluiceError {
  return new SluiceError('SLU_PLUGIN_INVALID_DEFINITION', { kind: 'runner', type: 'PROCESS', reason });
}

function readOptions(options: Readonly<Record<string, unknown>>): Required<ProcessRunnerOptions> {
  const { inheritEnv = true, killGracePeriodMs = DEFAULT_GRACE_MS, spawn = 'auto' } = options;
  if (typeof inheritEnv !== 'boolean') throw invalidOption('option inheritEnv must be a boolean');
  if (typeof killGracePeriodMs !== 'number' || !(killGracePeriodMs >= 0)) throw invalidOption('option killGracePeriodMs must be a number ≥ 0');
  if (!isSpawnMode(spawn)) throw invalidOption(`option spawn must be "auto", "native", "helper" or "direct", got ${JSON.stringify(spawn)}`);
  return { inheritEnv, killGracePeriodMs, spawn };
}

/** The one script the interpreter runs: `set -e` when failFast, then beforeCommands, then commands. */
export function buildScript(command: Pick<RunnerCommand, 'failFast' | 'beforeCommands' | 'commands'>): string {
  return [...(command.failFast ? ['set -e'] : []), ...(command.beforeCommands ?? []), ...command.commands].join('\n');
}

async function assertDirectory(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    throw new SluiceError('SLU_RUNNER_START_FAILED', { reason: `working directory ${path} does not exist` }, { workingDirectory: path });
  }
  if (!info.isDirectory()) {
    throw new SluiceError('SLU_RUNNER_START_FAILED', { reason: `working directory ${path} is not a directory` }, { workingDirectory: path });
  }
}

function startFailed(error: unknown, interpreter: readonly string[]): SluiceError {
  if (isSluiceError(error)) return error;
  const reason =
    (error as NodeJS.ErrnoException).code === 'ENOENT' ? `interpreter ${interpreter[0]} not found` : error instanceof Error ? error.message : String(error);
  return new SluiceError('SLU_RUNNER_START_FAILED', { reason }, { interpreter: [...interpreter] }, { cause: error });
}

/** A signal-killed process reports 128 + the signal number, as shells do. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? constants.signals[signal] : undefined;
  return number === undefined ? 1 : 128 + number;
}

/**
 * The PROCESS runner: one `/bin/sh -c` (or the given interpreter) per command, started detached so it leads its
 * own process group. See `Runner` for the contract; what this implementation adds:
 * - the whole group is stopped on abort (SIGTERM, SIGKILL after `killGracePeriodMs`) and also when the shell
 *   exits while background children still run, so a run never leaves a process behind;
 * - a shell killed by a signal we did not send resolves with exit code 128 + the signal number;
 * - it does not sandbox anything: the command runs as the worker's user, with the worker's tools;
 * - by default the command is started by a spawner process shared by the worker's runners (option `spawn`), which
 *   keeps the worker's event loop free; if that spawner dies, the commands in flight are killed and reject with
 *   SLU_RUNNER_START_FAILED, and the next command starts a new spawner; if the worker dies, the spawner kills
 *   every command's process group and exits.
 */
export function createProcessRunner(options: Readonly<Record<string, unknown>> = {}): Runner {
  const settings = readOptions(options);
  return {
    async run(command: RunnerCommand, output: RunnerOutput, signal: AbortSignal): Promise<RunnerResult> {
      signal.throwIfAborted();
      const [file, ...args] = command.interpreter ?? DEFAULT_INTERPRETER;
      if (!file) throw new SluiceError('SLU_RUNNER_START_FAILED', { reason: 'the interpreter is empty' });
      signal.throwIfAborted();

      const child = await STARTERS[settings.spawn]({
        file,
        args: [...args, buildScript(command)],
        cwd: command.workingDirectory,
        env: command.env ?? {},
        inheritEnv: settings.inheritEnv,
      }).catch(async (error: unknown) => {
        // Every starter fails when it cannot enter the working directory; only then is it looked at, to say so
        // (a stat before every start cost a file-system round trip per command).
        await assertDirectory(command.workingDirectory);
        throw startFailed(error, [file, ...args]);
      });
      const pgid = child.pid;

      let callbackError: unknown;
      let stopping: Promise<boolean> | undefined;
      const stop = (): Promise<boolean> => (stopping ??= killGroup(pgid, settings.killGracePeriodMs));
      const lines = (onLine: (line: string) => void): LineSplitter =>
        new LineSplitter((line) => {
          if (callbackError !== undefined) return;
          try {
            onLine(line);
          } catch (error) {
            // A failing output callback is the caller's bug: stop the command and report it.
            callbackError = error;
            void stop();
          }
        });
      const stdout = lines((l) => output.onStdout(l));
      const stderr = lines((l) => output.onStderr(l));
      const flush = (): void => {
        stdout.end();
        stderr.end();
      };
      const streamsDone = child.read((fd, chunk) => (fd === 1 ? stdout : stderr).write(chunk)).then(flush, flush);

      const onAbort = (): void => void stop();
      signal.addEventListener('abort', onAbort, { once: true });
      // Aborted while the command was being started: the listener above came too late.
      if (signal.aborted) onAbort();
      try {
        let exit: ExitStatus;
        try {
          exit = await child.exited;
        } catch (lost) {
          // The helper that started the command died: its group may still run.
          await stop();
          if (signal.aborted) throw signal.reason;
          throw lost;
        }
        // Background children may outlive the shell and hold the pipes open: a run leaves nothing behind.
        if (stopping === undefined && (await groupMembers(pgid)).length > 0) void stop();
        if (stopping) await stopping;
        // A plain timer, cleared: an aborted timers/promises sleep costs an AbortError with its stack, ~40 µs a run.
        let drainTimer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
          streamsDone.then(() => true),
          new Promise<boolean>((resolve) => {
            drainTimer = setTimeout(resolve, DRAIN_MS, false);
          }),
        ]);
        clearTimeout(drainTimer);
        if (!drained) {
          child.destroyPipes();
          await streamsDone;
        }
        if (signal.aborted) throw signal.reason;
        if (callbackError !== undefined) throw callbackError;
        return { exitCode: exitCodeOf(exit.code, exit.signal) };
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
