-- Task runs in creation order. created_at has millisecond precision, and one scheduler step often creates a flowable
-- and its first children in the same millisecond: ordering by (created_at, id) could list a child before its parent.
-- A sequence gives the insertion order; existing rows are numbered in their (created_at, id) order.
ALTER TABLE "task_runs" ADD COLUMN "seq" BIGSERIAL;
UPDATE "task_runs" t SET "seq" = o.n
  FROM (SELECT "id", row_number() OVER (ORDER BY "created_at", "id") AS n FROM "task_runs") o
 WHERE t."id" = o."id";
SELECT setval(pg_get_serial_sequence('"task_runs"', 'seq'), COALESCE((SELECT max("seq") FROM "task_runs"), 0) + 1, false);
