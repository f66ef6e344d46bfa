import { commonTaskProperties, commonTriggerProperties } from '@sluice/core';
import type { JsonSchema, PluginSchema } from '@sluice/core';
import type { PluginRegistries } from '@sluice/plugin-api';
import type { FastifyPluginAsync } from 'fastify';

/** One plugin as `GET /api/v1/plugins` lists it: names, and the JSON Schema of the object a flow writes. */
export interface PluginDescription {
  readonly type: string;
  readonly aliases: readonly string[];
  readonly title: string;
  readonly description?: string;
  readonly kind?: string;
  readonly schema: { type: 'object'; properties: Record<string, JsonSchema>; required: string[] };
}

function describe(plugin: PluginSchema, common: Readonly<Record<string, JsonSchema>>, commonRequired: readonly string[], kind?: string): PluginDescription {
  return {
    type: plugin.type,
    aliases: plugin.aliases ?? [],
    title: plugin.title,
    ...(plugin.description ? { description: plugin.description } : {}),
    ...(kind ? { kind } : {}),
    schema: {
      type: 'object',
      properties: { ...common, ...plugin.properties },
      required: [...new Set([...commonRequired, ...(plugin.required ?? [])])],
    },
  };
}

/** `GET /api/v1/plugins`: every registered task, runner and trigger with its aliases and JSON Schema. */
export const pluginRoutes: FastifyPluginAsync<{ registries: PluginRegistries }> = async (app, { registries }) => {
  const listing = {
    tasks: registries.tasks.list().map((task) => describe(task, commonTaskProperties, ['id', 'type'], task.kind)),
    runners: registries.runners.list().map((runner) => describe(runner, { type: { type: 'string' } }, ['type'])),
    triggers: registries.triggers.list().map((trigger) => describe(trigger, commonTriggerProperties, ['id', 'type'])),
  };
  app.get('/plugins', { schema: { tags: ['plugins'], summary: 'Registered task, runner and trigger types' } }, async () => listing);
};
