export { createServer, YAML_CONTENT_TYPES } from './server.js';
export type { ServerDeps } from './server.js';
export type { FlowSearch, FlowStore, StoredFlow } from './flow-store.js';
export { createDbFlowStore } from './db-flow-store.js';
export { toErrorResponse } from './api-errors.js';
export type { ErrorResponse } from './api-errors.js';
export { executionJson, executionRoutes, EXECUTION_STATES, DEFAULT_UPLOAD_LIMIT } from './routes/executions.js';
export type { ExecutionRouteOptions, ExecutionStore } from './routes/executions.js';
export { createExecutionWaiter, createLoggingExecutionQueue, createPublishingExecutionQueue, createRecordingExecutionQueue } from './execution-queue.js';
export type {
  ExecutionEvent,
  ExecutionPublisher,
  ExecutionQueue,
  ExecutionStarter,
  ExecutionUpdateSource,
  ExecutionWaiter,
  RecordedEvent,
  RecordingExecutionQueue,
} from './execution-queue.js';
export { internalWorkerRoutes } from './routes/internal-workers.js';
export { internalExecutionRoutes } from './routes/internal-executions.js';
export type { InternalExecutionRouteOptions } from './routes/internal-executions.js';
export { createDbExecutionsAccess, DEFAULT_LOG_PAGE, MAX_LOG_PAGE } from './executions-access.js';
export { createDbKvAccess, kvEntryJson } from './kv-access.js';
export { internalKvRoutes } from './routes/internal-kv.js';
export type { InternalKvRouteOptions } from './routes/internal-kv.js';
export { KV_CONTENT_TYPES, kvRoutes } from './routes/kv.js';
export type { KvRouteOptions, KvStore } from './routes/kv.js';
export type { DbExecutionsAccess, DbExecutionsAccessDeps, ExecutionLogPage } from './executions-access.js';
export type { WorkerRegistryStore } from './routes/internal-workers.js';
export { logJson, logLine, logRoutes } from './routes/logs.js';
export type { LogRouteOptions, LogStore } from './routes/logs.js';
export { buildApi, DB_CONNECT_TIMEOUT_MS, migrationsDir, startApiProcess } from './main.js';
export { readEnv } from './env.js';
export type { ApiEnv } from './env.js';
