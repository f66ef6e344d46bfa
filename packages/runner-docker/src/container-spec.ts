import type { ContainerCreateOptions } from 'dockerode';
import type { RunnerCommand } from '@sluice/plugin-api';
import { SluiceError } from '@sluice/core';
import { parseByteSize } from './byte-size.js';
import type { DockerCommandOptions } from './command-options.js';
import { formatProcessIdentity, WORKER_PROCESS_LABEL } from './worker-process.js';
import type { WorkerProcessIdentity } from './worker-process.js';

/** Every container the runner creates carries this label (value `docker`): leftovers and orphans are found by it. */
export const RUNNER_LABEL = 'io.sluice.runner';
/**
 * The id of the worker that created the container: `sweepOrphanContainers` removes only its own worker's. The
 * worker process is named by `WORKER_PROCESS_LABEL` (worker-process.ts), for `sweepDeadWorkerContainers`.
 */
export const WORKER_LABEL = 'io.sluice.worker';

export interface ContainerSpecInput {
  readonly command: RunnerCommand;
  readonly image: string;
  readonly options: DockerCommandOptions;
  readonly workerId: string;
  /** The worker process, for `WORKER_PROCESS_LABEL`; absent (not Linux): no such label. */
  readonly workerProcess?: WorkerProcessIdentity;
  readonly labels?: Readonly<Record<string, string>>;
  /** Network mode when the command sets none; absent: the engine's default (bridge on a stock engine). */
  readonly defaultNetworkMode?: string;
  /** Allow `volumes` (off by default, as Kestra's `volume-enabled`). */
  readonly volumesEnabled?: boolean;
}

/** The one script the interpreter runs: `set -e` when failFast, then beforeCommands, then commands. */
export function buildScript(command: RunnerCommand): string {
  return [...(command.failFast ? ['set -e'] : []), ...(command.beforeCommands ?? []), ...command.commands].join('\n');
}

/** The engine's create-container body for one command. Pure: tested without an engine. */
export function buildContainerSpec(input: ContainerSpecInput): ContainerCreateOptions {
  const { command, options } = input;
  const interpreter = command.interpreter ?? ['/bin/sh', '-c'];
  // Kestra's default entryPoint is [""]: no entrypoint. The engine clears the image's entrypoint for an empty list.
  const entrypoint = (options.entryPoint ?? ['']).filter((part) => part !== '');
  if (options.volumes?.length && !input.volumesEnabled) {
    throw new SluiceError('SLU_RUNNER_START_FAILED', {
      reason: 'docker volumes are disabled on this worker (enable them with the runner option volumesEnabled)',
    });
  }
  const memory = options.memory ?? {};
  const size = (key: string): number | undefined => {
    const value = memory[key];
    if (value === undefined || value === null || value === '') return undefined;
    if (key === 'memorySwap' && (value === '-1' || value === -1)) return -1;
    return parseByteSize(value as string | number, `memory.${key}`);
  };
  const swappiness = memory.memorySwappiness;
  const networkMode = options.networkMode ?? input.defaultNetworkMode;
  const hostConfig: NonNullable<ContainerCreateOptions['HostConfig']> = {
    Binds: [`${command.workingDirectory}:${command.workingDirectory}`, ...(options.volumes ?? [])],
    ...(networkMode ? { NetworkMode: networkMode } : {}),
    ...(options.cpus !== undefined ? { NanoCpus: Math.round(options.cpus * 1e9) } : {}),
    ...(size('memory') !== undefined ? { Memory: size('memory') } : {}),
    ...(size('memorySwap') !== undefined ? { MemorySwap: size('memorySwap') } : {}),
    ...(size('memoryReservation') !== undefined ? { MemoryReservation: size('memoryReservation') } : {}),
    ...(swappiness !== undefined && swappiness !== '' ? { MemorySwappiness: Number(swappiness) } : {}),
    ...(typeof memory.oomKillDisable === 'boolean' ? { OomKillDisable: memory.oomKillDisable } : {}),
    ...(options.shmSize ? { ShmSize: parseByteSize(options.shmSize, 'shmSize') } : {}),
    ...(options.extraHosts?.length ? { ExtraHosts: [...options.extraHosts] } : {}),
    ...(options.privileged !== undefined ? { Privileged: options.privileged } : {}),
    ...(options.deviceRequests?.length
      ? {
          DeviceRequests: options.deviceRequests.map((request) => ({
            Driver: request.driver ?? '',
            Count: request.count ?? (request.deviceIds?.length ? 0 : -1),
            DeviceIDs: request.deviceIds ? [...request.deviceIds] : [],
            Capabilities: (request.capabilities ?? [['gpu']]).map((set) => [...set]),
            Options: { ...(request.options ?? {}) },
          })),
        }
      : {}),
  };
  return {
    Image: input.image,
    Cmd: [...interpreter, buildScript(command)],
    Entrypoint: entrypoint,
    WorkingDir: command.workingDirectory,
    Env: Object.entries(command.env ?? {}).map(([name, value]) => `${name}=${value}`),
    ...(options.user ? { User: options.user } : {}),
    Labels: {
      ...input.labels,
      [RUNNER_LABEL]: 'docker',
      [WORKER_LABEL]: input.workerId,
      ...(input.workerProcess ? { [WORKER_PROCESS_LABEL]: formatProcessIdentity(input.workerProcess) } : {}),
    },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: hostConfig,
  };
}
