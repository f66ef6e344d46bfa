-- What started an execution, when a trigger did: Kestra's `execution.trigger` ({id, type, variables}), whose
-- variables templates read as `trigger.*` (a Schedule's `trigger.date`, `trigger.next`, `trigger.previous`).
ALTER TABLE "executions" ADD COLUMN "trigger" JSONB;
