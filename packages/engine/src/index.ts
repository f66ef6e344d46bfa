/**
 * @sluice/engine: the pure execution logic. `decide` turns a flow and an execution's task runs into the next
 * actions; `admit` applies flow concurrency; the rest are helpers the scheduler shares with it.
 */
export * from './types.js';
export * from './decide.js';
