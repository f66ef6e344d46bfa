/**
 * The DOCKER runner: one fresh container per command.
 *
 * Sequence (Kestra's Docker.run, minus the file-copy volume): pull by policy → create (labelled, working directory
 * bind-mounted at the same path) → attach → start → stream demultiplexed stdout/stderr into line splitters → wait
 * for the exit code → always remove the container (force), also on failure or abort.
 *
 * Labels: `io.sluice.runner=docker`, `io.sluice.worker=<workerId>` and `io.sluice.worker.process` (this process,
 * see worker-process.ts), so that containers a dead worker left running are found and removed (sweep.ts).
 *
 * Abort (kill or timeout): SIGKILL at once, or SIGTERM then SIGKILL after `killGracePeriod` when the command sets
 * one; then wait until the container has stopped, remove it, and reject with `signal.reason`. The container's PID 1
 * dying takes every process of the container with it, so background children cannot escape.
 *
 * Caveat of the bind mount: processes in the container run as the image's user (often root), so files they create
 * in the working directory may be owned by root on the host. Set `user` (e.g. "1000:1000") when the worker does not
 * run as root and must delete them.
 */
import { hostname } from 'node:os';
import type Dockerode from 'dockerode';
import type { Runner, RunnerCommand, RunnerOutput, RunnerResult } from '@sluice/plugin-api';
import { isSluiceError, SluiceError } from '@sluice/core';
import { buildContainerSpec } from './container-spec.js';
import { readCommandOptions } from './command-options.js';
import type { DockerCommandOptions } from './command-options.js';
import { connectDocker } from './engine.js';
import type { DockerEngine } from './engine.js';
import { FrameDemuxer } from './frame-demuxer.js';
import { parseImageReference } from './image-reference.js';
import { LineSplitter } from '@sluice/plugin-api';
import { selectRegistryAuth } from './registry-auth.js';
import type { DockerAuth } from './registry-auth.js';
import { currentProcessIdentity } from './worker-process.js';

/** The worker's settings for the DOCKER runner (not the per-task options, which come with each command). */
export interface DockerRunnerOptions {
  /** Engine URL (`unix:///var/run/docker.sock`, `tcp://host:2375`); a task's own `host` option wins. */
  readonly host?: string;
  /** Engine socket; default `/var/run/docker.sock`. Ignored when `host` is set. */
  readonly socketPath?: string;
  /** Written to the `io.sluice.worker` label, for `sweepOrphanContainers`; default the host name. */
  readonly workerId?: string;
  /** Extra labels on every container. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Network mode for tasks that set no `networkMode`. Default: none given, so the engine's default applies (bridge
   * on a stock engine), as in Kestra; set `none` to cut containers off the network, or `host`.
   */
  readonly networkMode?: string;
  /** Allow the `volumes` task option (Kestra's `volume-enabled`); default false. */
  readonly volumesEnabled?: boolean;
}

const connectionCodes = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'EPERM', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);

interface EngineError {
  readonly code?: string;
  readonly statusCode?: number;
  readonly json?: { readonly message?: string } | null;
  readonly message?: string;
}

function engineMessage(error: unknown): string {
  const e = error as EngineError;
  const fromBody = typeof e?.json?.message === 'string' ? e.json.message : undefined;
  // docker-modem prefixes the engine's text with "(HTTP code 500) server error - ": keep the engine's words only.
  return (fromBody ?? e?.message ?? String(error)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

function isConnectionError(error: unknown): boolean {
  const code = (error as EngineError)?.code;
  return typeof code === 'string' && connectionCodes.has(code) && (error as EngineError).statusCode === undefined;
}

/** Any failure before or around the container, as the contract's `SLU_RUNNER_*` error. */
function toRunnerError(error: unknown, engine: DockerEngine): SluiceError {
  if (isSluiceError(error)) return error;
  if (isConnectionError(error)) {
    return new SluiceError(
      'SLU_RUNNER_ENGINE_UNAVAILABLE',
      { host: engine.description, reason: `${(error as EngineError).code}: ${engineMessage(error)}` },
      {},
      { cause: error },
    );
  }
  return new SluiceError('SLU_RUNNER_START_FAILED', { reason: engineMessage(error) }, {}, { cause: error });
}

const authFailure = /unauthorized|authentication required|no basic auth credentials|incorrect username or password|invalid username\/password|\b401\b/i;

function pullError(error: unknown, image: string, auth: DockerAuth | undefined): SluiceError {
  if (isSluiceError(error) || isConnectionError(error)) return error as SluiceError;
  const reason = engineMessage(error);
  if (authFailure.test(reason)) {
    const { registry } = parseImageReference(image);
    return new SluiceError(
      'SLU_RUNNER_REGISTRY_AUTH_FAILED',
      { registry, image, reason: auth ? reason : `${reason} (no credentials for ${registry} in docker.config or credentials)` },
      {},
      { cause: error },
    );
  }
  return new SluiceError('SLU_RUNNER_IMAGE_PULL_FAILED', { image, reason }, {}, { cause: error });
}

async function imagePresent(docker: Dockerode, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (error) {
    if ((error as EngineError).statusCode === 404) return false;
    throw error;
  }
}

/** Pull and follow the progress stream: the engine reports most pull failures inside it, with HTTP 200. */
async function pull(docker: Dockerode, image: string, auth: DockerAuth | undefined, signal: AbortSignal): Promise<void> {
  const { repository, tag } = parseImageReference(image);
  const stream = (await docker.createImage({
    fromImage: repository,
    tag,
    ...(auth ? { authconfig: auth } : {}),
    abortSignal: signal,
  })) as NodeJS.ReadableStream;
  let failure: Error | undefined;
  const splitter = new LineSplitter((line) => {
    if (line.trim() === '') return;
    let event: { error?: unknown; errorDetail?: { message?: unknown } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    const message = event.errorDetail?.message ?? event.error;
    if (message !== undefined) failure ??= new Error(String(message));
  });
  for await (const chunk of stream) splitter.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  splitter.end();
  signal.throwIfAborted();
  if (failure) throw failure;
}

async function ensureImage(
  docker: Dockerode,
  image: string,
  options: DockerCommandOptions,
  signal: AbortSignal,
): Promise<void> {
  if (options.pullPolicy !== 'ALWAYS' && (await imagePresent(docker, image))) return;
  if (options.pullPolicy === 'NEVER') {
    throw new SluiceError('SLU_RUNNER_IMAGE_PULL_FAILED', {
      image,
      reason: 'the pull policy is NEVER and the image is not present on the engine',
    });
  }
  const auth = selectRegistryAuth(image, { config: options.config, credentials: options.credentials });
  try {
    await pull(docker, image, auth, signal);
  } catch (error) {
    signal.throwIfAborted();
    throw pullError(error, image, auth);
  }
}

/** Resolves when the signal aborts; `dispose` removes the listener. */
function whenAborted(signal: AbortSignal): { promise: Promise<'aborted'>; dispose(): void } {
  let dispose = (): void => undefined;
  const promise = new Promise<'aborted'>((resolve) => {
    const onAbort = (): void => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    dispose = () => signal.removeEventListener('abort', onAbort);
  });
  return { promise, dispose };
}

async function stopContainer(container: Dockerode.Container, gracePeriodMs: number | undefined): Promise<void> {
  try {
    if (gracePeriodMs && gracePeriodMs > 0) await container.stop({ t: Math.ceil(gracePeriodMs / 1000) });
    else await container.kill({ signal: 'SIGKILL' });
  } catch (error) {
    // 304/409: no longer running; 404: already gone. Both mean it is stopped.
    const status = (error as EngineError).statusCode;
    if (status !== 304 && status !== 404 && status !== 409) throw error;
  }
}

/** Feed the attach stream into the output callbacks; resolves once the stream ended and the last lines are out. */
function pumpOutput(stream: NodeJS.ReadableStream, output: RunnerOutput): Promise<void> {
  return new Promise((resolve, reject) => {
    const stdout = new LineSplitter((line) => output.onStdout(line));
    const stderr = new LineSplitter((line) => output.onStderr(line));
    const demuxer = new FrameDemuxer(
      (bytes) => stdout.write(bytes),
      (bytes) => stderr.write(bytes),
    );
    let settled = false;
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      try {
        stdout.end();
        stderr.end();
      } catch (callbackError) {
        error ??= callbackError;
      }
      if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve();
    };
    stream.on('data', (chunk: Buffer | string) => {
      try {
        demuxer.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      } catch (callbackError) {
        finish(callbackError);
      }
    });
    stream.once('end', () => finish());
    stream.once('close', () => finish());
    stream.once('error', (error) => finish(error));
  });
}

async function runInContainer(
  engine: DockerEngine,
  command: RunnerCommand,
  image: string,
  options: DockerCommandOptions,
  settings: DockerRunnerOptions & { readonly workerId: string },
  output: RunnerOutput,
  signal: AbortSignal,
): Promise<RunnerResult> {
  const { docker } = engine;
  const spec = buildContainerSpec({
    command,
    image,
    options,
    workerId: settings.workerId,
    workerProcess: currentProcessIdentity(),
    labels: settings.labels,
    defaultNetworkMode: settings.networkMode,
    volumesEnabled: settings.volumesEnabled,
  });
  await ensureImage(docker, image, options, signal);
  signal.throwIfAborted();

  let container: Dockerode.Container | undefined;
  let stream: NodeJS.ReadWriteStream | undefined;
  const abort = whenAborted(signal);
  try {
    container = await docker.createContainer(spec);
    signal.throwIfAborted();
    stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const outputDone = pumpOutput(stream, output);
    outputDone.catch(() => undefined); // awaited below on the normal path; ignored after an abort
    await container.start();
    const waiting = container.wait() as Promise<{ StatusCode: number }>;
    waiting.catch(() => undefined);
    const first = await Promise.race([waiting, abort.promise]);
    if (first === 'aborted' || signal.aborted) {
      await stopContainer(container, options.killGracePeriodMs);
      await waiting.catch(() => undefined);
      throw signal.reason;
    }
    await outputDone;
    return { exitCode: first.StatusCode };
  } finally {
    abort.dispose();
    (stream as { destroy?: () => void } | undefined)?.destroy?.();
    if (container) await removeContainer(container);
  }
}

/** Force-remove; a failure here (a container left behind) is reported even over the run's own error. */
async function removeContainer(container: Dockerode.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    // 404: already gone; 409: the engine is already removing it.
    const status = (error as EngineError).statusCode;
    if (status !== 404 && status !== 409) throw error;
  }
}

/**
 * Build a DOCKER runner. The engine is contacted per run, never at creation, so a worker without Docker can still
 * start and run PROCESS tasks; a DOCKER task then fails with `SLU_RUNNER_ENGINE_UNAVAILABLE`.
 */
export function createDockerRunner(settings: DockerRunnerOptions = {}): Runner {
  const resolved = { ...settings, workerId: settings.workerId ?? hostname() };
  const engines = new Map<string, DockerEngine>();
  const engineFor = (host: string | undefined): DockerEngine => {
    const key = host ?? '';
    let engine = engines.get(key);
    if (!engine) {
      engine = host ? connectDocker({ host }) : connectDocker({ host: settings.host, socketPath: settings.socketPath });
      engines.set(key, engine);
    }
    return engine;
  };

  return {
    async run(command: RunnerCommand, output: RunnerOutput, signal: AbortSignal): Promise<RunnerResult> {
      signal.throwIfAborted();
      const options = readCommandOptions(command.options ?? {});
      const image = command.image ?? options.image;
      if (!image) {
        throw new SluiceError('SLU_RUNNER_START_FAILED', {
          reason: 'no container image: set the task containerImage or docker.image',
        });
      }
      const engine = engineFor(options.host);
      try {
        return await runInContainer(engine, command, image, options, resolved, output, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw toRunnerError(error, engine);
      }
    },
  };
}

/** Read the runner's worker settings from the loosely typed `RunnerDefinition.create` options. */
export function readRunnerOptions(raw: Readonly<Record<string, unknown>>): DockerRunnerOptions {
  const text = (key: string): string | undefined => {
    const value = raw[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const labels = raw.labels;
  if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels))) {
    throw new SluiceError('SLU_RUNNER_START_FAILED', { reason: 'runner option labels must be a mapping of strings' });
  }
  return {
    host: text('host'),
    socketPath: text('socketPath'),
    workerId: text('workerId'),
    networkMode: text('networkMode'),
    labels: labels ? Object.fromEntries(Object.entries(labels).map(([key, value]) => [key, String(value)])) : undefined,
    volumesEnabled: raw.volumesEnabled === true,
  };
}
