export { runnerConformance } from './runner-conformance.js';
export type { RunnerUnderTest } from './runner-conformance.js';
export { createMockTaskContext } from './mock-context.js';
export type { MockContextOptions, MockTaskContext } from './mock-context.js';
export { createMemoryKvStore } from './memory-kv-store.js';
export type { MemoryKvStore } from './memory-kv-store.js';
