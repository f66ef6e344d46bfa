import { stat } from 'node:fs/promises';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '@sluice/core';
import type { Runner, RunnerCommand, RunnerOutput, RunnerResult } from '@sluice/plugin-api';
import { execa } from 'execa';
import { LineSplitter } from '@sluice/plugin-api';
import { groupMembers, killGroup } from './process-group.js';

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
}

const DEFAULT_INTERPRETER = ['/bin/sh', '-c'] as const;
const DEFAULT_GRACE_MS = 2_000;
// After the shell exits and its group is gone, how long a process that escaped the group (setsid) may keep the
// output pipes open before we stop reading them.
const DRAIN_MS = 1_000;

function readOptions(options: Readonly<Record<string, unknown>>): Required<ProcessRunnerOptions> {
  const { inheritEnv = true, killGracePeriodMs = DEFAULT_GRACE_MS } = options;
  if (typeof inheritEnv !== 'boolean') {
    throw new SluiceError('SLU_PLUGIN_INVALID_DEFINITION', { kind: 'runner', type: 'PROCESS', reason: 'option inheritEnv must be a boolean' });
  }
  if (typeof killGracePeriodMs !== 'number' || !(killGracePeriodMs >= 0)) {
    throw new SluiceError('SLU_PLUGIN_INVALID_DEFINITION', { kind: 'runner', type: 'PROCESS', reason: 'option killGracePeriodMs must be a number ≥ 0' });
  }
  return { inheritEnv, killGracePeriodMs };
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
 * - it does not sandbox anything: the command runs as the worker's user, with the worker's tools.
 */
export function createProcessRunner(options: Readonly<Record<string, unknown>> = {}): Runner {
  const settings = readOptions(options);
  return {
    async run(command: RunnerCommand, output: RunnerOutput, signal: AbortSignal): Promise<RunnerResult> {
      signal.throwIfAborted();
      await assertDirectory(command.workingDirectory);
      const [file, ...args] = command.interpreter ?? DEFAULT_INTERPRETER;
      if (!file) throw new SluiceError('SLU_RUNNER_START_FAILED', { reason: 'the interpreter is empty' });
      signal.throwIfAborted();

      const subprocess = execa(file, [...args, buildScript(command)], {
        cwd: command.workingDirectory,
        env: { ...command.env },
        extendEnv: settings.inheritEnv,
        detached: true,
        buffer: false,
        stdin: 'ignore',
        reject: false,
        stripFinalNewline: false,
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        subprocess.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal }));
      });
      const pgid = subprocess.pid;
      if (pgid === undefined) {
        const failure = await subprocess;
        const reason = failure.code === 'ENOENT' ? `interpreter ${file} not found` : (failure.cause instanceof Error ? failure.cause.message : failure.shortMessage);
        throw new SluiceError('SLU_RUNNER_START_FAILED', { reason }, { interpreter: [file, ...args] }, { cause: failure.cause });
      }

      let callbackError: unknown;
      let stopping: Promise<boolean> | undefined;
      const stop = (): Promise<boolean> => (stopping ??= killGroup(pgid, settings.killGracePeriodMs));
      const pipe = (stream: Readable | null, onLine: (line: string) => void): Promise<void> => {
        if (!stream) return Promise.resolve();
        const splitter = new LineSplitter((line) => {
          if (callbackError !== undefined) return;
          try {
            onLine(line);
          } catch (error) {
            // A failing output callback is the caller's bug: stop the command and report it.
            callbackError = error;
            void stop();
          }
        });
        stream.on('data', (chunk: Buffer) => splitter.write(chunk));
        return finished(stream).then(
          () => splitter.end(),
          () => splitter.end(),
        );
      };
      const streamsDone = Promise.all([pipe(subprocess.stdout, (l) => output.onStdout(l)), pipe(subprocess.stderr, (l) => output.onStderr(l))]);

      const onAbort = (): void => void stop();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const exit = await exited;
        // Background children may outlive the shell and hold the pipes open: a run leaves nothing behind.
        if (stopping === undefined && (await groupMembers(pgid)).length > 0) void stop();
        if (stopping) await stopping;
        const drainTimer = new AbortController();
        const drained = await Promise.race([
          streamsDone.then(() => true),
          sleep(DRAIN_MS, false, { signal: drainTimer.signal }).catch(() => true),
        ]);
        drainTimer.abort();
        if (!drained) {
          subprocess.stdout?.destroy();
          subprocess.stderr?.destroy();
          await streamsDone;
        }
        await subprocess;
        if (signal.aborted) throw signal.reason;
        if (callbackError !== undefined) throw callbackError;
        return { exitCode: exitCodeOf(exit.code, exit.signal) };
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
