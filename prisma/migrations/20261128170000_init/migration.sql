-- CreateTable
CREATE TABLE "flows" (
    "namespace" TEXT NOT NULL,
    "flow_id" TEXT NOT NULL,
    "revision" INTEGER NOT NULL,
    "source" TEXT NOT NULL,
    "parsed" JSONB NOT NULL,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "latest" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "flows_pkey" PRIMARY KEY ("namespace","flow_id","revision")
);

-- CreateTable
CREATE TABLE "executions" (
    "id" TEXT NOT NULL,
    "namespace" TEXT NOT NULL,
    "flow_id" TEXT NOT NULL,
    "flow_revision" INTEGER NOT NULL,
    "state" TEXT NOT NULL,
    "state_history" JSONB NOT NULL,
    "inputs" JSONB NOT NULL DEFAULT '{}',
    "outputs" JSONB,
    "labels" JSONB NOT NULL DEFAULT '[]',
    "parent_id" TEXT,
    "restarted_from" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "start_date" TIMESTAMPTZ(3) NOT NULL,
    "end_date" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "executions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_runs" (
    "id" TEXT NOT NULL,
    "execution_id" TEXT NOT NULL,
    "task_id" TEXT NOT NULL,
    "parent_task_run_id" TEXT,
    "value" TEXT,
    "attempts" JSONB NOT NULL DEFAULT '[]',
    "state" TEXT NOT NULL,
    "state_history" JSONB NOT NULL,
    "worker_group" TEXT,
    "worker_id" TEXT,
    "outputs" JSONB,
    "metrics" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "start_date" TIMESTAMPTZ(3),
    "end_date" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "task_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "logs" (
    "id" BIGSERIAL NOT NULL,
    "execution_id" TEXT NOT NULL,
    "namespace" TEXT NOT NULL,
    "flow_id" TEXT NOT NULL,
    "task_id" TEXT,
    "task_run_id" TEXT,
    "attempt_number" INTEGER,
    "level" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "triggers" (
    "namespace" TEXT NOT NULL,
    "flow_id" TEXT NOT NULL,
    "trigger_id" TEXT NOT NULL,
    "next_fire_date" TIMESTAMPTZ(3),
    "last_fire_date" TIMESTAMPTZ(3),
    "lock_owner" TEXT,
    "locked_until" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "triggers_pkey" PRIMARY KEY ("namespace","flow_id","trigger_id")
);

-- CreateTable
CREATE TABLE "workers" (
    "id" TEXT NOT NULL,
    "worker_group" TEXT,
    "last_heartbeat" TIMESTAMPTZ(3) NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workers_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "flows_latest_namespace_flow_id_idx" ON "flows"("latest", "namespace", "flow_id");

-- CreateIndex
CREATE INDEX "executions_namespace_flow_id_start_date_idx" ON "executions"("namespace", "flow_id", "start_date" DESC);

-- CreateIndex
CREATE INDEX "executions_state_start_date_idx" ON "executions"("state", "start_date" DESC);

-- CreateIndex
CREATE INDEX "executions_start_date_idx" ON "executions"("start_date" DESC);

-- CreateIndex
CREATE INDEX "executions_parent_id_idx" ON "executions"("parent_id");

-- CreateIndex
CREATE INDEX "executions_labels_idx" ON "executions" USING GIN ("labels" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "task_runs_execution_id_idx" ON "task_runs"("execution_id");

-- CreateIndex
CREATE INDEX "task_runs_worker_id_idx" ON "task_runs"("worker_id");

-- CreateIndex
CREATE INDEX "logs_execution_id_timestamp_idx" ON "logs"("execution_id", "timestamp");

-- CreateIndex
CREATE INDEX "triggers_next_fire_date_idx" ON "triggers"("next_fire_date");

-- CreateIndex
CREATE INDEX "workers_last_heartbeat_idx" ON "workers"("last_heartbeat");

-- AddForeignKey
ALTER TABLE "task_runs" ADD CONSTRAINT "task_runs_execution_id_fkey" FOREIGN KEY ("execution_id") REFERENCES "executions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
