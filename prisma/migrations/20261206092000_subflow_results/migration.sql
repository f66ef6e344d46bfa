-- Subflow results (issue #18): the end of a child execution its parent waits for, written in the transaction that
-- ends the child and taken (deleted) by the parent's step that applies it to its Subflow task run. A result outlives a
-- lost wake-up message: the reconciliation wakes the parents of results left waiting. `child_id` is the execution the
-- parent created; `execution_id` the one that ended, a later one when the child was retried as a new execution.
CREATE TABLE "subflow_results" (
    "child_id" TEXT NOT NULL,
    "execution_id" TEXT NOT NULL,
    "parent_id" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "outputs" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subflow_results_pkey" PRIMARY KEY ("child_id")
);

CREATE INDEX "subflow_results_parent_id_idx" ON "subflow_results"("parent_id");
CREATE INDEX "subflow_results_created_at_idx" ON "subflow_results"("created_at");
