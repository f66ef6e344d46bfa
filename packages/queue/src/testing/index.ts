export { queueConformance, sampleTaskJob, waitFor } from './conformance.js';
export type { QueueUnderTest } from './conformance.js';
