import type { PluginSet } from '@sluice/plugin-api';
import { processRunner } from './definition.js';

export { processRunner };
export { createProcessRunner } from './process-runner.js';
export { helperPid } from './helper-spawn.js';
export { nativeSpawner, nativeSpawnerPid } from './native-spawn.js';
export type { NativeSpawner } from './native-spawn.js';
export type { ProcessRunnerOptions } from './process-runner.js';
export type { SpawnMode } from './spawned-command.js';

/** The PROCESS runner. */
export const processPlugins: PluginSet = { runners: [processRunner] };
