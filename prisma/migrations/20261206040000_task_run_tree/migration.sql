-- The engine walks a tree of task runs (issue #16): Kestra's `iteration` (WaitFor iterations), and the engine's own
-- state of a flowable task run (its rendered `values`, `condition` results, pause and wake-up dates). `value` and
-- `parent_task_run_id` existed already.
ALTER TABLE "task_runs" ADD COLUMN "iteration" INTEGER;
ALTER TABLE "task_runs" ADD COLUMN "engine_state" JSONB;
CREATE INDEX "task_runs_parent_task_run_id_idx" ON "task_runs" ("parent_task_run_id");
