import type { TaskDefinition } from '@sluice/plugin-api';
import { inputFilesSchema, outputFilesSchema } from './files-schema.js';

export const localFilesTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.storage.LocalFiles',
  aliases: ['io.kestra.core.tasks.storages.LocalFiles'],
  title: 'Hand files in and out of a working directory',
  description:
    'Writes `inputs` (inline text or internal-storage files) into the working directory and uploads the files matching `outputs` globs. ' +
    'Used inside a WorkingDirectory; the output `uris` maps each uploaded file to its kestra:/// URI.',
  kind: 'runnable',
  properties: {
    inputs: inputFilesSchema,
    outputs: outputFilesSchema,
  },
  outputs: {
    uris: { type: 'object', additionalProperties: { type: 'string' }, description: 'File name → kestra:/// URI of each uploaded file.' },
  },
};
