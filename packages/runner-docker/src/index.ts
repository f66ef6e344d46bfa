import type { PluginSet } from '@sluice/plugin-api';
import { dockerRunner } from './definition.js';

export { dockerRunner };
export { createDockerRunner, readRunnerOptions } from './docker-runner.js';
export type { DockerRunnerOptions } from './docker-runner.js';
export { sweepDeadWorkerContainers, sweepOrphanContainers } from './sweep.js';
export {
  currentProcessIdentity,
  formatProcessIdentity,
  parseProcessIdentity,
  processIdentityOf,
  processLiveness,
  WORKER_PROCESS_LABEL,
} from './worker-process.js';
export type { WorkerProcessIdentity } from './worker-process.js';
export { connectDocker, DEFAULT_SOCKET } from './engine.js';
export type { DockerEngine } from './engine.js';
export { buildContainerSpec, buildScript, RUNNER_LABEL, WORKER_LABEL } from './container-spec.js';
export { readCommandOptions } from './command-options.js';
export type { DockerCommandOptions, PullPolicy } from './command-options.js';
export { DOCKER_HUB, DOCKER_HUB_AUTH_KEY, normalizeRegistry, parseImageReference } from './image-reference.js';
export type { ImageReference } from './image-reference.js';
export { readAuths, selectRegistryAuth } from './registry-auth.js';
export type { DockerAuth, RegistryCredentials } from './registry-auth.js';
export { FrameDemuxer } from './frame-demuxer.js';
export { parseByteSize } from './byte-size.js';

/** The DOCKER runner. */
export const dockerPlugins: PluginSet = { runners: [dockerRunner] };
