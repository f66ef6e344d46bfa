import { createPluginRegistries } from '@sluice/plugin-api';
import type { PluginRegistries, PluginSet } from '@sluice/plugin-api';
import { dockerPlugins } from '@sluice/runner-docker';
import { processPlugins } from '@sluice/runner-process';
import { corePlugins } from '@sluice/tasks-core';
import { gitPlugins } from '@sluice/tasks-git';
import { scriptPlugins } from '@sluice/tasks-scripts';

/** Every built-in plugin set, in one list (the only place that names them all). */
export const builtinPluginSets: readonly PluginSet[] = [corePlugins, gitPlugins, scriptPlugins, dockerPlugins, processPlugins];

/** Registries holding every built-in task, runner and trigger (plus `extra` sets, if any). */
export function createDefaultRegistries(extra: readonly PluginSet[] = []): PluginRegistries {
  return createPluginRegistries([...builtinPluginSets, ...extra]);
}
