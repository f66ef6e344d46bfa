export * from './contract.js';
export { createInProcessQueue } from './in-process.js';
export type { InProcessQueueOptions } from './in-process.js';
export { bullmqJobId, createBullmqQueue } from './bullmq.js';
export type { BullmqQueueOptions } from './bullmq.js';
export { classifyQueueError } from './errors.js';
