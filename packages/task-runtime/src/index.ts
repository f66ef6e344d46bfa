export { runTask } from './run-task.js';
export type {
  ChildTaskRunStart,
  RunTaskOptions,
  TaskLogEntry,
  TaskMetricEntry,
  TaskRunError,
  TaskRunOutcome,
  TaskRunState,
  TaskVariables,
} from './run-task.js';
export { createWorkingDirectoryPool, DEFAULT_POOLED_DIRECTORIES, WORKING_DIRECTORY_PREFIX } from './working-directories.js';
export type { WorkingDirectoryPool, WorkingDirectoryPoolOptions } from './working-directories.js';
export { createSingleRunExecutions } from './single-run-executions.js';
export type { SingleRunExecutions } from './single-run-executions.js';
export { createSecretProvider } from './secrets.js';
export type { SecretProvider } from './secrets.js';
export { Masker, MASK, MIN_MASKED_LENGTH } from './masker.js';
export { createRunnerProvider } from './runner-provider.js';
export type { RuntimeRunners } from './runner-provider.js';
export { createTaskStorage } from './task-storage.js';
export { DEFAULT_READ_MAX_BYTES } from './read-function.js';
export { createFileKvStore, kvFileName } from './file-kv-store.js';
export { kvFunction } from './kv-function.js';
