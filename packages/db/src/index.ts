export { createDb } from './create-db.js';
export { classifyDbError } from './db-errors.js';
export type { DbErrorClass, DbErrorKind } from './db-errors.js';
export type { Db, DbOptions } from './create-db.js';
export { EXECUTION_SORT_FIELDS, ExecutionRepository, KILLABLE_STATES, TERMINAL_STATES } from './execution-repository.js';
export { newExecutionId, newTaskRunId, randomBase62 } from './ids.js';
export type {
  ExecutionSearch,
  ExecutionTrigger,
  ExecutionSearchResult,
  LabelEntry,
  NewExecution,
  ReplayOptions,
  ReplayPlan,
  ReplayResult,
  StateEntry,
  StoredExecution,
  StoredTaskRun,
  TransitionResult,
} from './execution-repository.js';
export { FLOW_SORT_FIELDS, FlowRepository } from './flow-repository.js';
export type { FlowRevision, FlowSearch, FlowSearchResult, SaveResult } from './flow-repository.js';
export { isLogLevel, levelsFrom, LOG_LEVELS, LOG_SORT_FIELDS, LogRepository } from './log-repository.js';
export { FILTER_OPERATIONS, filterCondition, filterConditions, prefixCondition } from './search-filters.js';
export type { FilterColumns, FilterField, FilterOperation, SearchFilter, SearchSort, TextFilterField } from './search-filters.js';
export { TRIGGER_SORT_FIELDS, TriggerRepository } from './trigger-repository.js';
export type { StoredTrigger, TriggerKey, TriggerSearch, TriggerSearchResult } from './trigger-repository.js';
export type { LogFilter, LogLevel, LogListOptions, LogSearch, LogSearchResult, NewLogEntry, StoredLogEntry } from './log-repository.js';
export { METRIC_SORT_FIELDS, METRIC_TYPES, MetricRepository, taskRunMetricRows } from './metric-repository.js';
export type {
  MetricAggregateQuery,
  MetricAggregation,
  MetricGroupBy,
  MetricSearch,
  MetricSearchResult,
  MetricSortField,
  MetricType,
  NewMetricEntry,
  ReportedMetric,
  StoredMetricEntry,
} from './metric-repository.js';
export { KvRepository } from './kv-repository.js';
export type { KvEntryMetadata, KvReadResult, KvSetOptions, StoredKvEntry } from './kv-repository.js';
export { migrate, migrationChecksum, MigrationError, MIGRATION_LOCK_KEY } from './migrate.js';
export type { MigrateOptions, MigrateResult } from './migrate.js';
export { Prisma, PrismaClient } from './generated/prisma/client.js';
export type { Execution, Flow, KvEntry, LogEntry, Metric, TaskRun, Trigger, Worker } from './generated/prisma/client.js';
export { startEmbeddedPostgres, hydrateBinaries, binariesPackageName, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-postgres.js';
export { knownFromWire, knownNew, knownToWire, SchedulerStore, windowLockKey } from './scheduler-store.js';
export { copyRuns, findRun, runsMark, runsWrittenSince, upsertRun } from './run-list.js';
export type { RunMark } from './run-list.js';
export type { AttemptEntry, ChainLink, ChildExecution, EndedExecution, ExecutionTx, FlowTriggerWindow, FlowTriggerWindowKey, FlowTriggerWindowStore, FlowWithFlowTrigger, KnownExecution, LockedExecution, SchedulerTaskRun, SubflowResult, TriggerSlot } from './scheduler-store.js';
export { executionFromWire, executionSnapshot, executionToWire, executionWireJson, NEW_EXECUTION_VERSION } from './rows.js';
// The statements a step sends, inline or prepared (the store's own; exported for bench/step-sql.bench.ts).
export { inlineSql, prepareStatements, preparedSql, STEP_STATEMENTS } from './step-statements.js';
export type { StepSql, StepStatement } from './step-statements.js';
