export type {
  ChildExecutionOutputs,
  ChildOutcome,
  ExecutionInfo,
  ExecutionLogLine,
  ExecutionLogQuery,
  ExecutionsAccess,
  KvAccess,
  KvEntryInfo,
  KvLookup,
  MetricEntry,
  Runner,
  RunnerCommand,
  RunnerDefinition,
  RunnerOutput,
  RunnerProvider,
  RunnerResult,
  TaskContext,
  TaskDefinition,
  TaskLogger,
  TaskResult,
  TaskStorage,
  TriggerDefinition,
} from './contracts.js';
export { LineSplitter } from './line-splitter.js';
export { Registry } from './registry.js';
export type { Registrable } from './registry.js';
export { createPluginRegistries } from './plugin-registries.js';
export type { PluginRegistries, PluginSet } from './plugin-registries.js';
export { selectRunner } from './select-runner.js';
export type { RunnerSelection } from './select-runner.js';
