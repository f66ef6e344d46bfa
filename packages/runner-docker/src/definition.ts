import type { JsonSchema } from '@sluice/core';
import type { RunnerDefinition } from '@sluice/plugin-api';
import { createDockerRunner, readRunnerOptions } from './docker-runner.js';

const stringList = { type: 'array', items: { type: 'string' } } as const;

/** Registry credentials (Kestra's Credentials.java). */
const credentialsSchema: JsonSchema = {
  type: 'object',
  properties: {
    registry: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    registryToken: { type: 'string' },
    identityToken: { type: 'string' },
    auth: { type: 'string' },
  },
  additionalProperties: false,
};

/** Options shared by the `taskRunner` form and the legacy `docker:` block (Kestra's Docker.java / DockerOptions.java). */
const dockerProperties: Readonly<Record<string, JsonSchema>> = {
  host: { type: 'string', description: 'Docker engine URL; default the local socket.' },
  config: {
    type: ['string', 'object'],
    description: 'A Docker config.json (string or mapping) whose `auths` give registry credentials; expressions are rendered.',
  },
  credentials: credentialsSchema,
  user: { type: 'string', description: 'User (and group) inside the container.' },
  entryPoint: { ...stringList, description: 'Overrides the image entrypoint; default [""] (none).' },
  extraHosts: stringList,
  networkMode: { type: 'string', description: 'Docker network mode: host, none, bridge or a network name.' },
  volumes: stringList,
  pullPolicy: { enum: ['IF_NOT_PRESENT', 'ALWAYS', 'NEVER'], description: 'Default IF_NOT_PRESENT.' },
  deviceRequests: { type: 'array', items: { type: 'object' } },
  cpu: {
    type: 'object',
    properties: { cpus: { type: ['number', 'string'] } },
    additionalProperties: false,
  },
  memory: {
    type: 'object',
    properties: {
      memory: { type: 'string' },
      memorySwap: { type: 'string' },
      memorySwappiness: { type: 'string' },
      memoryReservation: { type: 'string' },
      kernelMemory: { type: 'string' },
      oomKillDisable: { type: 'boolean' },
    },
    additionalProperties: false,
  },
  shmSize: { type: 'string' },
  privileged: { type: 'boolean' },
};

export const dockerRunner: RunnerDefinition = {
  type: 'io.kestra.plugin.scripts.runner.docker.Docker',
  legacyName: 'DOCKER',
  title: 'Run commands in a Docker container',
  description:
    'Runs each task in a fresh container with the working directory bind-mounted at the same path. The container is always removed, also on failure or kill.',
  properties: {
    ...dockerProperties,
    fileHandlingStrategy: { enum: ['VOLUME', 'MOUNT'] },
    delete: { type: 'boolean', description: 'Remove the container after the run; default true.' },
    killGracePeriod: { type: 'string', format: 'duration' },
    resume: { type: 'boolean' },
  },
  /**
   * Worker settings: `host` or `socketPath` (the engine), `workerId` (container label, for the orphan sweep at worker
   * start), `labels`, `networkMode` (default for tasks that set none; absent: the engine's default) and
   * `volumesEnabled`. `fileHandlingStrategy` is accepted but the working directory is always bind-mounted (MOUNT);
   * `delete: false` and `resume` are accepted and ignored: the container is always removed (the Runner contract).
   */
  create: (options) => createDockerRunner(readRunnerOptions(options)),
  legacyOptions: {
    property: 'docker',
    schema: {
      type: 'object',
      properties: {
        image: { type: 'string', minLength: 1, description: 'Image to run; default the task language image.' },
        ...dockerProperties,
      },
      additionalProperties: false,
    },
  },
};
