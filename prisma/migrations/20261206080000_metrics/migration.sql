-- Metrics as rows (issue #17), like Kestra's MetricEntry: one row per metric a task run reported (its counters and
-- timers summed per name and tags, its gauges at their last value), written in the scheduler step that applies the task
-- run's end. A timer's value is in milliseconds, as Kestra stores it. No foreign key, like logs: metric inserts never
-- wait on execution rows. The task runs' `metrics` JSON column is kept as it is.
CREATE TABLE "metrics" (
    "id" BIGSERIAL NOT NULL,
    "execution_id" TEXT NOT NULL,
    "namespace" TEXT NOT NULL,
    "flow_id" TEXT NOT NULL,
    "task_id" TEXT,
    "task_run_id" TEXT,
    "attempt_number" INTEGER,
    "type" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "tags" JSONB NOT NULL DEFAULT '{}',
    "timestamp" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "metrics_pkey" PRIMARY KEY ("id")
);

-- GET /metrics/{executionId} (paged, optionally one task or task run).
CREATE INDEX "metrics_execution_id_timestamp_idx" ON "metrics"("execution_id", "timestamp");
-- GET /metrics/names/{namespace}/{flowId} and /metrics/aggregates/{namespace}/{flowId}/{metric} (a time range).
CREATE INDEX "metrics_namespace_flow_id_name_timestamp_idx" ON "metrics"("namespace", "flow_id", "name", "timestamp");
-- GET /metrics/tasks/{namespace}/{flowId} and /metrics/names/{namespace}/{flowId}/{taskId}.
CREATE INDEX "metrics_namespace_flow_id_task_id_name_idx" ON "metrics"("namespace", "flow_id", "task_id", "name");
