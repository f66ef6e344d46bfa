-- Kestra's execution `metadata`: which attempt of its flow run an execution is (a retry with behavior
-- CREATE_NEW_EXECUTION starts attempt n + 1 as a new execution), and when the first execution of that chain started
-- (a retry's `maxDuration` counts from there; null on a first attempt, whose own start date is that date).
ALTER TABLE "executions" ADD COLUMN "attempt_number" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "executions" ADD COLUMN "original_created_date" TIMESTAMPTZ(3);
