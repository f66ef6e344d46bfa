/**
 * @sluice/engine: the pure execution logic. `decide` turns a flow and an execution's task runs into the next
 * actions; `settleCreated` gives a new run its first state; `admit` applies flow concurrency; the rest are helpers the
 * scheduler and `sluice run` share with it.
 */
export * from './types.js';
export * from './decide.js';
export * from './flowables.js';
export * from './run-index.js';
export * from './settle.js';
export * from './replay.js';
export { enabled, structureOf } from './structure.js';
export type { FlowStructure, TaskNode } from './structure.js';
export * from './graph.js';
