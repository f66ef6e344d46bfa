import type { RunnerDefinition } from '@sluice/plugin-api';
import { createProcessRunner } from './process-runner.js';

export const processRunner: RunnerDefinition = {
  type: 'io.kestra.plugin.core.runner.Process',
  legacyName: 'PROCESS',
  title: 'Run commands as local processes on the worker',
  description:
    "Runs commands in a process group on the worker's machine, with its installed tools (conda, GPUs, ...). Kill and timeout stop the whole group.",
  properties: {},
  /** Worker settings: see `ProcessRunnerOptions` (`inheritEnv`, `killGracePeriodMs`, `spawn`). */
  create: (options) => createProcessRunner(options),
};
