-- Kestra's `scheduleDate`: an execution created to start later (`POST /executions/{ns}/{id}?scheduleDate=`) stays
-- CREATED until then; null for one that starts at once.
ALTER TABLE "executions" ADD COLUMN "schedule_date" TIMESTAMPTZ(3);
