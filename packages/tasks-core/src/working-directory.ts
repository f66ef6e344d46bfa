import type { TaskDefinition } from '@sluice/plugin-api';
import { inputFilesSchema, outputFilesSchema } from './files-schema.js';

export const workingDirectoryTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.flow.WorkingDirectory',
  aliases: ['io.kestra.core.tasks.flows.WorkingDirectory', 'io.kestra.core.tasks.flows.Worker'],
  title: 'Run tasks in one shared directory',
  description:
    'Runs its child tasks in order, on one worker, in one fresh temporary directory that is deleted afterwards. ' +
    'Each child is reported as its own task run. Set `workerGroup` here, not on the children.',
  kind: 'flowable',
  childTasks: ['tasks'],
  runsChildrenAsOneJob: true,
  properties: {
    inputFiles: inputFilesSchema,
    outputFiles: outputFilesSchema,
    namespaceFiles: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean' },
        include: { type: 'array', items: { type: 'string' } },
        exclude: { type: 'array', items: { type: 'string' } },
      },
      additionalProperties: false,
    },
    cache: {
      type: 'object',
      required: ['patterns'],
      properties: {
        patterns: { type: 'array', items: { type: 'string' }, minItems: 1 },
        ttl: { type: 'string', format: 'duration' },
      },
      additionalProperties: false,
    },
  },
  required: ['tasks'],
  outputs: {
    outputFiles: { type: 'object', additionalProperties: { type: 'string' }, description: 'Path → kestra:/// URI of each uploaded file.' },
  },
};
