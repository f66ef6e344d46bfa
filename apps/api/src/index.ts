export { createServer, YAML_CONTENT_TYPES } from './server.js';
export type { ServerDeps } from './server.js';
export type { FlowSearch, FlowStore, StoredFlow } from './flow-store.js';
export { createDbFlowStore } from './db-flow-store.js';
export { toErrorResponse } from './api-errors.js';
export type { ErrorResponse } from './api-errors.js';
