-- ForEachItem (issue #18): one task run waits for many child executions. A child names the task run that waits for it
-- (`executions.parent_task_run_id`, with `parent_id`), and its result carries it, so the parent's step finds the run
-- without a list of children in the run. Nullable columns: no table rewrite.
ALTER TABLE "executions" ADD COLUMN "parent_task_run_id" TEXT;
ALTER TABLE "subflow_results" ADD COLUMN "parent_task_run_id" TEXT;
