import type { PluginSet } from '@sluice/plugin-api';
import { localFilesTask } from './local-files.js';
import { logTask } from './log.js';
import { scheduleTrigger } from './schedule.js';
import { workingDirectoryTask } from './working-directory.js';

export { localFilesTask, logTask, scheduleTrigger, workingDirectoryTask };
export { parseInputFiles, parseOutputFiles, resolveInside, uploadOutputFiles, writeInputFiles } from './files.js';
export { inputFilesSchema, outputFilesSchema } from './files-schema.js';

/** Core plugins: Log, LocalFiles, WorkingDirectory and the Schedule trigger. */
export const corePlugins: PluginSet = {
  tasks: [workingDirectoryTask, localFilesTask, logTask],
  triggers: [scheduleTrigger],
};
