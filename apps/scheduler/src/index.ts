export { createScheduler, DEFAULT_REQUEUE_AFTER_MS, secretInputValues } from './scheduler.js';
// Task run ids (and `sluice run`'s execution ids) as the store makes them.
export { newTaskRunId } from '@sluice/db';
export { evaluate, executionOutputs, labelVariables, runVariables, templateVariables } from './variables.js';
export type { VariableRun, VariableScope } from './variables.js';
export { flowOutputs } from './flow-outputs.js';
export type { FlowOutputsResult } from './flow-outputs.js';
export type { Scheduler, SchedulerHealth, SchedulerOptions } from './scheduler.js';
export { DatabaseStatus } from './database-status.js';
export type { DatabaseHealth } from './database-status.js';
export { Reconciler } from './reconcile.js';
export type { ReconcilerOptions } from './reconcile.js';
export { applyPluginDefaults } from './plugin-defaults.js';
export type { TypeResolver } from './plugin-defaults.js';
export { nextTick, TriggerLoop, SCHEDULE_TYPES } from './triggers.js';
export { schedulerEnv, startSchedulerProcess } from './main.js';
export type { SchedulerEnv, SchedulerProcessConfig } from './main.js';
export { Watchdog } from './watchdog.js';
