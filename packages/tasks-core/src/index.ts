import type { PluginSet } from '@sluice/plugin-api';
import { coreTasks, echoTask, failTask, labelsTask, outputValuesTask, returnTask, sleepTask } from './core-tasks.js';
import {
  allowFailureTask,
  dagTask,
  eachParallelTask,
  eachSequentialTask,
  flowControlTasks,
  forEachTask,
  ifTask,
  parallelTask,
  pauseTask,
  sequentialTask,
  switchTask,
  waitForTask,
} from './flow-control.js';
import { executionTarget, executionTasks, fetchTask, resumeTask } from './execution-tasks.js';
import type { ExecutionTarget } from './execution-tasks.js';
import { kvDeleteTask, kvGetKeysTask, kvGetTask, kvSetTask, kvSetValue, kvTasks, stateDeleteTask, stateGetTask, stateKey, stateSetTask } from './kv.js';
import { flowTrigger } from './flow-trigger.js';
import { batchOptions, FOR_EACH_ITEM_MAX_BATCHES, forEachItemTask, forEachItemTasks, parseSize, splitFile } from './for-each-item.js';
import { localFilesTask } from './local-files.js';
import { logTask } from './log.js';
import { scheduleTrigger } from './schedule.js';
import { subflowTask } from './subflow.js';
import { webhookTrigger } from './webhook.js';
import { workingDirectoryTask } from './working-directory.js';

export { batchOptions, FOR_EACH_ITEM_MAX_BATCHES, forEachItemTask, forEachItemTasks, parseSize, splitFile };
export { flowTrigger, localFilesTask, logTask, scheduleTrigger, subflowTask, webhookTrigger, workingDirectoryTask };
export { executionTarget, executionTasks, fetchTask, resumeTask };
export { kvDeleteTask, kvGetKeysTask, kvGetTask, kvSetTask, kvSetValue, kvTasks, stateDeleteTask, stateGetTask, stateKey, stateSetTask };
export type { ExecutionTarget };
export { coreTasks, echoTask, failTask, labelsTask, outputValuesTask, returnTask, sleepTask };
export {
  allowFailureTask,
  dagTask,
  eachParallelTask,
  eachSequentialTask,
  flowControlTasks,
  forEachTask,
  ifTask,
  parallelTask,
  pauseTask,
  sequentialTask,
  switchTask,
  waitForTask,
};
export { parseInputFiles, parseOutputFiles, resolveInside, uploadOutputFiles, writeInputFiles } from './files.js';
export { inputFilesSchema, outputFilesSchema } from './files-schema.js';

/**
 * Core plugins: Log, LocalFiles, WorkingDirectory, Kestra's flowable tasks (resolved by the scheduler, never sent to
 * a worker), the in-process core tasks (Sleep, Fail, Return, Echo, OutputValues; Labels, applied by the scheduler),
 * those that need the execution store (log.Fetch, execution.Resume), those of the KV store (kv.*, legacy state.*) and the Schedule trigger.
 */
export const corePlugins: PluginSet = {
  tasks: [workingDirectoryTask, localFilesTask, logTask, ...flowControlTasks, ...coreTasks, ...executionTasks, ...kvTasks, subflowTask, ...forEachItemTasks],
  triggers: [scheduleTrigger, webhookTrigger, flowTrigger],
};
