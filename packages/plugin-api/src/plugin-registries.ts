import type { FlowPlugins } from '@sluice/core';
import type { RunnerDefinition, TaskDefinition, TriggerDefinition } from './contracts.js';
import { Registry } from './registry.js';

/** What a plugin package exports: its definitions, by kind. */
export interface PluginSet {
  readonly tasks?: readonly TaskDefinition[];
  readonly runners?: readonly RunnerDefinition[];
  readonly triggers?: readonly TriggerDefinition[];
}

/** The three registries a composition root builds; usable directly as the validator's `FlowPlugins`. */
export interface PluginRegistries extends FlowPlugins {
  readonly tasks: Registry<TaskDefinition>;
  readonly runners: Registry<RunnerDefinition>;
  readonly triggers: Registry<TriggerDefinition>;
}

/** Register every plugin of every set; a name claimed twice throws `SLU_PLUGIN_DUPLICATE_TYPE`. */
export function createPluginRegistries(sets: Iterable<PluginSet>): PluginRegistries {
  const registries: PluginRegistries = {
    tasks: new Registry<TaskDefinition>('task'),
    runners: new Registry<RunnerDefinition>('runner'),
    triggers: new Registry<TriggerDefinition>('trigger'),
  };
  for (const set of sets) {
    registries.tasks.registerAll(set.tasks ?? []);
    registries.runners.registerAll(set.runners ?? []);
    registries.triggers.registerAll(set.triggers ?? []);
  }
  return registries;
}
