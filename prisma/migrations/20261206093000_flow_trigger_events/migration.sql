-- Flow triggers (issue #18): every execution that ends while some live flow declares a Flow trigger leaves an
-- `execution_ends` row, written by the statement that ends it (same transaction). The schedulers take these rows with
-- FOR UPDATE SKIP LOCKED, create the executions the triggers call for and delete the rows in one transaction: each end
-- is evaluated exactly once, whatever the number of schedulers, and again after a scheduler died mid-way (its
-- transaction rolled back).

-- Whether the revision declares a Flow trigger (io.kestra.plugin.core.trigger.Flow, or Kestra's old name), computed
-- by Postgres from the parsed flow: the end of an execution asks one partial index whether any live flow has one.
ALTER TABLE "flows" ADD COLUMN "flow_trigger" BOOLEAN GENERATED ALWAYS AS (
    jsonb_path_exists("parsed", '$.triggers[*] ? (@.type like_regex "^io\.kestra\.(plugin\.core\.trigger|core\.models\.triggers\.types)\.flow$" flag "i")')
) STORED;
CREATE INDEX "flows_flow_trigger_idx" ON "flows" ("namespace", "flow_id") WHERE "flow_trigger" AND "latest" AND NOT "deleted";

CREATE TABLE "execution_ends" (
    "execution_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "execution_ends_pkey" PRIMARY KEY ("execution_id")
);
CREATE INDEX "execution_ends_created_at_idx" ON "execution_ends" ("created_at");
