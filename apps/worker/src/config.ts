/**
 * The worker's configuration, from its command-line arguments and its environment (DESIGN.md §5b). This is the only
 * module of apps/worker that reads `process.env`; everything else takes options.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `REDIS_URL` | (required) | the queue (`redis://host:6379`, `rediss://...`) |
 * | `SLUICE_API_URL` | (required) | the API, for the internal storage and the worker registry (`http://api:8080`) |
 * | `SLUICE_WORKER_TOKEN` | (required) | the workers' bearer token on `/api/v1/internal/...` |
 * | `SLUICE_WORKER_GROUP` | `default` | worker group served, when `--group` is not given (`[A-Za-z0-9._-]+`) |
 * | `SLUICE_WORKER_CONCURRENCY` | 4 | task runs at the same time (1..256), when `--concurrency` is not given |
 * | `SLUICE_WORK_DIR` | OS temp dir | where task working directories are created, when `--work-root` is not given |
 * | `SLUICE_WORKER_ID` | `<hostname>-<pid>-<random>` | the worker's id; set a stable one so the orphan-container sweep at start finds what a crashed run of this worker left behind. Never share it between live workers |
 * | `DOCKER_HOST` | `unix:///var/run/docker.sock` | the Docker engine of the DOCKER runner (`unix:///path` or `tcp://host:port`) |
 * | `SLUICE_DOCKER_NETWORK_MODE` | (engine default) | network mode of containers whose task sets none (`none`, `host`, `bridge`...) |
 * | `SLUICE_DOCKER_SWEEP_INTERVAL_MS` | a third of the queue lock, 1 to 10 s | how often the worker removes the task containers of dead worker processes of this machine (also at start); `0`: only at start |
 * | `SLUICE_PROCESS_SPAWN` | `auto` | how the PROCESS runner starts commands: `native` (a small compiled spawner), `helper` (a small Node helper process), `auto` (`native` if it could be compiled, else `helper`) or `direct` (`spawn()` from the worker) |
 * | `SLUICE_QUEUE_LOCK_MS` | 30000 | BullMQ job lock; a worker killed mid-task has its job taken over about this long after |
 * | `SLUICE_WORKER_STOP_GRACE_MS` | 30000 | on SIGTERM/SIGINT, how long in-flight task runs may take to finish before they are handed back to the queue |
 * | `SLUICE_SECRET_<NAME>` / `SECRET_<NAME>` | | secrets for `secret('NAME')` (plain / base64) |
 *
 * Command-line arguments win over the environment.
 */
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';

export interface WorkerConfigArgs {
  readonly group?: string;
  readonly concurrency?: string | number;
  readonly workRoot?: string;
}

export interface WorkerConfig {
  readonly redisUrl: string;
  readonly apiUrl: string;
  readonly workerToken: string;
  readonly group: string;
  readonly concurrency: number;
  readonly workRoot: string;
  /** Explicit worker id (`SLUICE_WORKER_ID`); absent: one is generated per process. */
  readonly workerId?: string;
  /** Docker engine socket path (from a `unix://` `DOCKER_HOST`, else `/var/run/docker.sock`). */
  readonly dockerSocket: string;
  /** A non-unix `DOCKER_HOST` (`tcp://host:2375`); when set it wins over `dockerSocket`. */
  readonly dockerHost?: string;
  readonly dockerNetworkMode?: string;
  /** `SLUICE_DOCKER_SWEEP_INTERVAL_MS`; absent: `dockerSweepIntervalMs()` derives it from the queue lock. 0: off. */
  readonly dockerSweepIntervalMs?: number;
  /** How the PROCESS runner starts commands (`SLUICE_PROCESS_SPAWN`); absent: the runner's default, `auto`. */
  readonly processSpawn?: ProcessSpawn;
  /** On SIGTERM/SIGINT, how long in-flight task runs may take to finish (ms). */
  readonly stopGraceMs: number;
  /** BullMQ job lock (ms): a worker that dies mid-task has its job picked up again about this long after. */
  readonly queueLockMs?: number;
  /** The environment, for `secret()`. */
  readonly secrets: Readonly<Record<string, string | undefined>>;
}

/** A configuration the worker cannot start with; the message is one line meant for the operator. */
export class WorkerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerConfigError';
  }
}

const REQUIRED = ['REDIS_URL', 'SLUICE_API_URL', 'SLUICE_WORKER_TOKEN'] as const;
const NAME = /^[A-Za-z0-9._-]+$/;
const MAX_CONCURRENCY = 256;
const DEFAULT_CONCURRENCY = 4;
const DEFAULT_STOP_GRACE_MS = 30_000;
const MAX_STOP_GRACE_MS = 24 * 3600 * 1000;
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

function value(raw: string | undefined): string | undefined {
  const trimmed = raw?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** "A, B and C". */
function list(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''}`;
}

function parseConcurrency(raw: string | number | undefined, source: string): number {
  if (raw === undefined || (typeof raw === 'string' && raw.trim() === '')) return DEFAULT_CONCURRENCY;
  const parsed = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > MAX_CONCURRENCY) {
    throw new WorkerConfigError(`${source} must be an integer between 1 and ${MAX_CONCURRENCY}, got ${JSON.stringify(raw)}`);
  }
  return parsed;
}

function checkUrl(name: string, raw: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WorkerConfigError(`${name} must be a URL (${protocols.map((p) => `${p}//...`).join(' or ')}), got ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new WorkerConfigError(`${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

function docker(env: Readonly<Record<string, string | undefined>>): Pick<WorkerConfig, 'dockerSocket' | 'dockerHost'> {
  const host = value(env.DOCKER_HOST);
  if (host === undefined) return { dockerSocket: DEFAULT_DOCKER_SOCKET };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (socketPath === '') throw new WorkerConfigError(`DOCKER_HOST must name a socket (unix:///var/run/docker.sock), got ${JSON.stringify(host)}`);
    return { dockerSocket: socketPath };
  }
  return { dockerSocket: DEFAULT_DOCKER_SOCKET, dockerHost: host };
}

/** The worker's configuration from its arguments and environment. @throws WorkerConfigError */
export function workerConfig(args: WorkerConfigArgs, env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const missing = REQUIRED.filter((name) => value(env[name]) === undefined);
  if (missing.length > 0) {
    throw new WorkerConfigError(`the worker needs ${list(REQUIRED)}: missing ${missing.join(', ')}`);
  }
  const redisUrl = checkUrl('REDIS_URL', value(env.REDIS_URL) ?? '', ['redis:', 'rediss:']);
  const apiUrl = checkUrl('SLUICE_API_URL', value(env.SLUICE_API_URL) ?? '', ['http:', 'https:']);
  const workerToken = value(env.SLUICE_WORKER_TOKEN) ?? '';

  const groupFromArgs = value(args.group);
  const group = groupFromArgs ?? value(env.SLUICE_WORKER_GROUP) ?? 'default';
  if (!NAME.test(group)) {
    const source = groupFromArgs !== undefined ? 'the worker group' : 'SLUICE_WORKER_GROUP';
    throw new WorkerConfigError(`${source} must be letters, digits, ".", "_" or "-" (no ":"), got ${JSON.stringify(group)}`);
  }
  const concurrency =
    args.concurrency !== undefined && String(args.concurrency).trim() !== ''
      ? parseConcurrency(args.concurrency, 'the concurrency')
      : parseConcurrency(env.SLUICE_WORKER_CONCURRENCY, 'SLUICE_WORKER_CONCURRENCY');
  const workerId = value(env.SLUICE_WORKER_ID);
  if (workerId !== undefined && !NAME.test(workerId)) {
    throw new WorkerConfigError(`SLUICE_WORKER_ID must be letters, digits, ".", "_" or "-", got ${JSON.stringify(workerId)}`);
  }
  const networkMode = value(env.SLUICE_DOCKER_NETWORK_MODE);
  const processSpawn = value(env.SLUICE_PROCESS_SPAWN);
  if (processSpawn !== undefined && !isProcessSpawn(processSpawn)) throw new WorkerConfigError(processSpawnError(processSpawn));
  const rawLock = value(env.SLUICE_QUEUE_LOCK_MS);
  const queueLockMs = rawLock === undefined ? undefined : /^\d+$/.test(rawLock) ? Number(rawLock) : Number.NaN;
  if (queueLockMs !== undefined && (!Number.isInteger(queueLockMs) || queueLockMs < 500 || queueLockMs > 600_000)) {
    throw new WorkerConfigError(`SLUICE_QUEUE_LOCK_MS must be a number of milliseconds (500..600000), got ${JSON.stringify(rawLock)}`);
  }
  const rawSweep = value(env.SLUICE_DOCKER_SWEEP_INTERVAL_MS);
  const dockerSweepIntervalMs = rawSweep === undefined ? undefined : /^\d+$/.test(rawSweep) ? Number(rawSweep) : Number.NaN;
  if (dockerSweepIntervalMs !== undefined && !(dockerSweepIntervalMs === 0 || (dockerSweepIntervalMs >= 1000 && dockerSweepIntervalMs <= 600_000))) {
    throw new WorkerConfigError(`SLUICE_DOCKER_SWEEP_INTERVAL_MS must be 0 (off) or a number of milliseconds (1000..600000), got ${JSON.stringify(rawSweep)}`);
  }
  const rawGrace = value(env.SLUICE_WORKER_STOP_GRACE_MS);
  const stopGraceMs = rawGrace === undefined ? DEFAULT_STOP_GRACE_MS : /^\d+$/.test(rawGrace) ? Number(rawGrace) : Number.NaN;
  if (!Number.isInteger(stopGraceMs) || stopGraceMs > MAX_STOP_GRACE_MS) {
    throw new WorkerConfigError(`SLUICE_WORKER_STOP_GRACE_MS must be a number of milliseconds (0..${MAX_STOP_GRACE_MS}), got ${JSON.stringify(rawGrace)}`);
  }
  return {
    redisUrl,
    apiUrl: apiUrl.replace(/\/+$/, ''),
    workerToken,
    group,
    concurrency,
    workRoot: value(args.workRoot) ?? value(env.SLUICE_WORK_DIR) ?? tmpdir(),
    ...(workerId !== undefined ? { workerId } : {}),
    ...(queueLockMs !== undefined ? { queueLockMs } : {}),
    ...docker(env),
    ...(networkMode !== undefined ? { dockerNetworkMode: networkMode } : {}),
    ...(dockerSweepIntervalMs !== undefined ? { dockerSweepIntervalMs } : {}),
    ...(processSpawn !== undefined ? { processSpawn } : {}),
    stopGraceMs,
    secrets: env,
  };
}

/**
 * The configuration of this process: `--group`, `--concurrency`, `--work-root` from `argv` and the process
 * environment. @throws WorkerConfigError
 */
export function loadWorkerConfig(argv: readonly string[] = process.argv.slice(2)): WorkerConfig {
  let parsed: { group?: string; concurrency?: string; 'work-root'?: string };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { group: { type: 'string' }, concurrency: { type: 'string' }, 'work-root': { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new WorkerConfigError(`${error instanceof Error ? error.message : String(error)} (usage: worker [--group KEY] [--concurrency N] [--work-root DIR])`);
  }
  return workerConfig(
    {
      ...(parsed.group !== undefined ? { group: parsed.group } : {}),
      ...(parsed.concurrency !== undefined ? { concurrency: parsed.concurrency } : {}),
      ...(parsed['work-root'] !== undefined ? { workRoot: parsed['work-root'] } : {}),
    },
    process.env,
  );
}

/** BullMQ's lock when `SLUICE_QUEUE_LOCK_MS` is not set. */
export const DEFAULT_QUEUE_LOCK_MS = 30_000;

/**
 * How often the worker sweeps the containers of dead workers (0: only at start). Default a third of the queue lock,
 * between 1 and 10 s: a job is handed to another worker no sooner than about half a lock after its worker died
 * (the lock was renewed at most half a lock before), so a live worker of the same machine removes the dead one's
 * containers before the task can start again elsewhere.
 */
export function dockerSweepIntervalMs(config: Pick<WorkerConfig, 'dockerSweepIntervalMs' | 'queueLockMs'>): number {
  if (config.dockerSweepIntervalMs !== undefined) return config.dockerSweepIntervalMs;
  return Math.min(10_000, Math.max(1_000, Math.floor((config.queueLockMs ?? DEFAULT_QUEUE_LOCK_MS) / 3)));
}

/** The PROCESS runner's type, for `runnerOptions`. */
export const PROCESS_RUNNER_TYPE = 'io.kestra.plugin.core.runner.Process';

/** The PROCESS runner's worker settings from the configuration (empty: the runner's defaults). */
/** The PROCESS runner's `spawn` option, as `SLUICE_PROCESS_SPAWN` sets it. */
export const PROCESS_SPAWN_MODES = ['auto', 'native', 'helper', 'direct'] as const;
export type ProcessSpawn = (typeof PROCESS_SPAWN_MODES)[number];

export const isProcessSpawn = (value: string): value is ProcessSpawn => (PROCESS_SPAWN_MODES as readonly string[]).includes(value);

/** The message for a bad `SLUICE_PROCESS_SPAWN`, the same from every app. */
export function processSpawnError(value: string): string {
  const modes = PROCESS_SPAWN_MODES.map((mode) => JSON.stringify(mode));
  return `SLUICE_PROCESS_SPAWN must be ${modes.slice(0, -1).join(', ')} or ${modes.at(-1)}, got ${JSON.stringify(value)}`;
}

export function processRunnerOptions(config: Pick<WorkerConfig, 'processSpawn'>): Record<string, unknown> {
  return config.processSpawn !== undefined ? { spawn: config.processSpawn } : {};
}
