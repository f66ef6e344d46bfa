import type { TaskContext, TaskDefinition, TaskResult } from '@sluice/plugin-api';
import { inputFilesSchema, outputFilesSchema } from './files-schema.js';
import { parseInputFiles, parseOutputFiles, uploadOutputFiles, writeInputFiles } from './files.js';

/** Render `inputs` and `outputs`, write the inputs, upload the files matching `outputs` → output `uris`. */
async function runLocalFiles(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<TaskResult> {
  const { inputs, outputs } = await context.render({ inputs: properties.inputs, outputs: properties.outputs });
  await writeInputFiles(parseInputFiles(inputs, 'inputs'), context);
  const uris = await uploadOutputFiles(parseOutputFiles(outputs, 'outputs'), context);
  return { outputs: { uris } };
}

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
  run: runLocalFiles,
  outputs: {
    uris: { type: 'object', additionalProperties: { type: 'string' }, description: 'File name → kestra:/// URI of each uploaded file.' },
  },
};
