-- Flow triggers with a MultipleCondition or `preconditions` (issue #18): one window per (namespace, flow, trigger,
-- condition id) remembers which named sub-conditions some upstream execution end satisfied while it is open.
-- The schedulers read and write it in the transaction that takes the execution ends (FOR UPDATE SKIP LOCKED), after
-- a transaction-scoped advisory lock on the window's key, taken in key order: two schedulers evaluating ends of the
-- same window take turns, the second reading what the first committed, and a rolled-back evaluation changes nothing.
CREATE TABLE "flow_trigger_windows" (
    "namespace" TEXT NOT NULL,
    "flow_id" TEXT NOT NULL,
    "trigger_id" TEXT NOT NULL,
    -- The MultipleCondition's `id`, or the `preconditions`' `id`.
    "condition_id" TEXT NOT NULL,
    "start_date" TIMESTAMPTZ(3) NOT NULL,
    "end_date" TIMESTAMPTZ(3) NOT NULL,
    -- Sub-condition name -> true, for those satisfied in the window (true is sticky; false is never stored).
    "results" JSONB NOT NULL DEFAULT '{}',
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "flow_trigger_windows_pkey" PRIMARY KEY ("namespace", "flow_id", "trigger_id", "condition_id")
);
-- Expired windows are deleted.
CREATE INDEX "flow_trigger_windows_end_date_idx" ON "flow_trigger_windows" ("end_date");
