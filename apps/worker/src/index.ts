export { ALL_WORKER_GROUPS, DEFAULT_WORKER_GROUP } from '@sluice/queue';
export { createWorker, defaultWorkerId } from './worker.js';
export type { Worker, WorkerJobEvent, WorkerOptions } from './worker.js';
export { createHttpWorkerRegistry, WorkerRegistryError } from './registry-client.js';
export { createHttpExecutionsAccess } from './executions-client.js';
export type { HttpExecutionsAccessOptions } from './executions-client.js';
export { createHttpKvAccess } from './kv-client.js';
export type { HttpKvAccessOptions } from './kv-client.js';
export type { HttpWorkerRegistryOptions, WorkerHeartbeat, WorkerRegistryClient } from './registry-client.js';
export {
  DEFAULT_DOCKER_SOCKET,
  isProcessSpawn,
  loadWorkerConfig,
  PROCESS_RUNNER_TYPE,
  PROCESS_SPAWN_MODES,
  processRunnerOptions,
  processSpawnError,
  workerConfig,
  WorkerConfigError,
} from './config.js';
export type { ProcessSpawn, WorkerConfig, WorkerConfigArgs } from './config.js';
export { DOCKER_RUNNER_TYPE, main, startWorkerProcess } from './main.js';
export type { StartWorkerProcessOptions, WorkerProcess } from './main.js';
