/**
 * `node apps/worker/dist/main.js [--group KEY] [--concurrency N] [--work-root DIR]`: one worker process. It reads
 * its configuration once (config.ts), connects to Redis (BullMQ) and to the API (internal storage, worker
 * registry), removes the containers a crashed run of this worker left behind, and serves its worker group until
 * SIGTERM or SIGINT, when it stops gracefully (in-flight task runs may finish; those that do not in time are handed
 * back to the queue) and exits.
 *
 * Tasks that act on executions (`log.Fetch`, `execution.Resume`) reach them through the API's internal routes
 * (executions-client.ts), with the same worker token; so do `kv()` and the KV tasks (kv-client.ts).
 *
 * When a worker dies, its task processes and containers die with it (issue #15):
 * - PROCESS: the runner's spawner kills every command's process group when this process goes, however it goes
 *   (runner-process, spawner.c). Not with `SLUICE_PROCESS_SPAWN=direct`, which the worker warns about at start.
 * - DOCKER: the engine keeps a dead worker's containers running, so every worker removes, at start and then every
 *   `dockerSweepIntervalMs` (a third of the queue lock, 1 to 10 s), the task containers whose worker process is
 *   dead on this machine (`sweepDeadWorkerContainers`: the containers name their worker process). Containers of
 *   workers on other machines are left to those machines' workers; a machine whose only worker died and is not
 *   started again keeps them until their command ends.
 */
import { fileURLToPath } from 'node:url';
import { createDefaultRegistries } from '@sluice/plugins';
import { createBullmqQueue } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import { connectDocker, sweepDeadWorkerContainers, sweepOrphanContainers } from '@sluice/runner-docker';
import type { DockerEngine } from '@sluice/runner-docker';
import { HttpStorage } from '@sluice/storage';
import { dockerSweepIntervalMs, loadWorkerConfig, PROCESS_RUNNER_TYPE, processRunnerOptions, WorkerConfigError } from './config.js';
import type { WorkerConfig } from './config.js';
import { createHttpExecutionsAccess } from './executions-client.js';
import { createHttpKvAccess } from './kv-client.js';
import { createHttpWorkerRegistry } from './registry-client.js';
import { createWorker, defaultWorkerId } from './worker.js';
import type { Worker, WorkerOptions } from './worker.js';

/** Canonical type of the DOCKER runner: the key of its worker settings. */
export const DOCKER_RUNNER_TYPE = 'io.kestra.plugin.scripts.runner.docker.Docker';
const SWEEP_TIMEOUT_MS = 10_000;
const QUEUE_CLOSE_TIMEOUT_MS = 10_000;

export interface WorkerProcess {
  readonly worker: Worker;
  /** Stop the worker (gracefully), close the queue connections and remove the signal handlers. Idempotent. */
  close(): Promise<void>;
}

export interface StartWorkerProcessOptions {
  /** Install SIGTERM/SIGINT handlers that stop gracefully then exit. Default true. */
  readonly signals?: boolean;
  /** How long in-flight task runs may take to finish when stopping. Default `config.stopGraceMs`. */
  readonly stopGraceMs?: number;
  /** Extra worker options (tests, observability). */
  readonly worker?: Partial<Pick<WorkerOptions, 'heartbeatIntervalMs' | 'onError' | 'onJob' | 'abortGracePeriodMs'>>;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The URL with any password hidden, for the start line. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function dockerRunnerOptions(config: WorkerConfig, workerId: string): Record<string, unknown> {
  return {
    ...(config.dockerHost !== undefined ? { host: config.dockerHost } : { socketPath: config.dockerSocket }),
    workerId,
    ...(config.dockerNetworkMode !== undefined ? { networkMode: config.dockerNetworkMode } : {}),
  };
}

function engineOf(config: WorkerConfig): DockerEngine {
  return connectDocker(config.dockerHost !== undefined ? { host: config.dockerHost } : { socketPath: config.dockerSocket });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function sweepDead(engine: DockerEngine, log: (line: string) => void): Promise<void> {
  const removed = await withTimeout(sweepDeadWorkerContainers({ docker: engine.docker }), SWEEP_TIMEOUT_MS);
  if (removed.length > 0) log(`removed ${removed.length} container(s) of dead worker processes on this machine`);
}

/**
 * Remove this worker's orphan containers and those of dead workers on this machine; best effort (no Docker on this
 * machine is fine). False when the engine could not be used.
 */
async function sweep(engine: DockerEngine, workerId: string, log: (line: string) => void): Promise<boolean> {
  try {
    const removed = await withTimeout(sweepOrphanContainers({ docker: engine.docker, workerId }), SWEEP_TIMEOUT_MS);
    if (removed.length > 0) log(`removed ${removed.length} orphan container(s) of worker ${workerId}`);
    await sweepDead(engine, log);
    return true;
  } catch (error) {
    log(`Docker engine at ${engine.description} not usable (${describe(error)}): DOCKER tasks will fail until it is; PROCESS tasks run`);
    return false;
  }
}

/**
 * Sweep the containers of dead workers every `intervalMs` until the returned function is called. One sweep at a
 * time; a failure is logged once, not at every attempt, until a sweep succeeds again.
 */
function sweepPeriodically(engine: DockerEngine, intervalMs: number, usable: boolean, log: (line: string) => void): () => void {
  let sweeping = false;
  let failing = !usable;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepDead(engine, log).then(
      () => {
        if (failing) log(`Docker engine at ${engine.description} answers: containers of dead workers are swept every ${intervalMs / 1000} s`);
        failing = false;
      },
      (error: unknown) => {
        if (!failing) log(`cannot sweep the containers of dead workers (${describe(error)}): retrying every ${intervalMs / 1000} s`);
        failing = true;
      },
    ).finally(() => {
      sweeping = false;
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Build and start a worker process from its configuration. */
export async function startWorkerProcess(
  config: WorkerConfig,
  log: (line: string) => void,
  options: StartWorkerProcessOptions = {},
): Promise<WorkerProcess> {
  if (config.processSpawn === 'direct') {
    log('SLUICE_PROCESS_SPAWN=direct: PROCESS commands outlive this worker if it is killed (SIGKILL) and may run twice; auto, native or helper kill them with it');
  }
  const queue: QueueDriver = createBullmqQueue({
    url: config.redisUrl,
    ...(config.queueLockMs === undefined ? {} : { lockDurationMs: config.queueLockMs, stalledIntervalMs: Math.max(250, Math.floor(config.queueLockMs / 2)) }),
  });
  let worker: Worker;
  let engine: DockerEngine;
  let engineUsable: boolean;
  try {
    const registries = createDefaultRegistries();
    const storage = new HttpStorage({ apiUrl: config.apiUrl, workerToken: config.workerToken });
    const registry = createHttpWorkerRegistry({ apiUrl: config.apiUrl, token: config.workerToken });
    // The id is fixed before the worker exists: the DOCKER runner labels containers with it, and the sweep uses it.
    const workerId = config.workerId ?? defaultWorkerId();
    engine = engineOf(config);
    engineUsable = await sweep(engine, workerId, log);
    worker = createWorker({
      ...options.worker,
      queue,
      group: config.group,
      concurrency: config.concurrency,
      workerId,
      storage,
      registries,
      runnerOptions: { [DOCKER_RUNNER_TYPE]: dockerRunnerOptions(config, workerId), [PROCESS_RUNNER_TYPE]: processRunnerOptions(config) },
      secrets: config.secrets,
      workRoot: config.workRoot,
      registry,
      executions: createHttpExecutionsAccess({ apiUrl: config.apiUrl, token: config.workerToken }),
      kv: createHttpKvAccess({ apiUrl: config.apiUrl, token: config.workerToken }),
      ...(options.worker?.onError ? {} : { onError: (error: unknown, context: string) => log(`${context}: ${describe(error)}`) }),
    });
    await worker.start();
  } catch (error) {
    await queue.close().catch(() => undefined);
    throw error;
  }

  const sweepEveryMs = dockerSweepIntervalMs(config);
  const stopSweeping = sweepEveryMs > 0 ? sweepPeriodically(engine, sweepEveryMs, engineUsable, log) : () => undefined;

  log(
    `worker ${worker.id} serving group ${config.group} (concurrency ${config.concurrency}), API ${config.apiUrl}, Redis ${redact(config.redisUrl)}`,
  );

  let closing: Promise<void> | undefined;
  const handlers = new Map<NodeJS.Signals, () => void>();
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopSweeping();
      for (const [signal, handler] of handlers) process.removeListener(signal, handler);
      try {
        await worker.stop({ graceMs: options.stopGraceMs ?? config.stopGraceMs });
      } finally {
        // Bounded: a consumer still holding a handed-back job may never close; exiting releases it all the same.
        let timer: NodeJS.Timeout | undefined;
        const closed = await Promise.race([
          queue.close().then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), QUEUE_CLOSE_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (!closed) log(`the queue connections did not close within ${QUEUE_CLOSE_TIMEOUT_MS / 1000} s: leaving them`);
      }
    })();
    return closing;
  };

  if (options.signals ?? true) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = (): void => {
        if (closing) {
          log(`${signal} again: exiting now`);
          process.exit(1);
        }
        log(`${signal}: stopping worker ${worker.id} (in-flight task runs get ${(options.stopGraceMs ?? config.stopGraceMs) / 1000} s)`);
        close().then(
          () => {
            log(`worker ${worker.id} stopped`);
            process.exit(0);
          },
          (error: unknown) => {
            log(`worker ${worker.id} did not stop cleanly: ${describe(error)}`);
            process.exit(1);
          },
        );
      };
      handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }
  return { worker, close };
}

/** Entry point: configuration from argv and the environment, one line per event on stdout. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const config = loadWorkerConfig(argv);
  await startWorkerProcess(config, (line) => console.log(line));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error instanceof WorkerConfigError || error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
