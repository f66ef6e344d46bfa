export { createScheduler, newTaskRunId, templateVariables } from './scheduler.js';
export type { Scheduler, SchedulerOptions, VariableScope } from './scheduler.js';
export { applyPluginDefaults } from './plugin-defaults.js';
export type { TypeResolver } from './plugin-defaults.js';
export { nextTick, TriggerLoop, SCHEDULE_TYPES } from './triggers.js';
export { startSchedulerProcess } from './main.js';
export type { SchedulerProcessConfig } from './main.js';
export { Watchdog } from './watchdog.js';
