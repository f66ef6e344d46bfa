-- Indexes for the searches of flows, executions, logs and triggers with Kestra 1.x's filters (issue #17), so that no
-- typical search scans `executions` or `logs` (measured: docs/benchmarks.md, "Search plans").
--
-- Namespace filters match a namespace and its children (`namespace = 'a' OR namespace LIKE 'a.%'`) and STARTS_WITH is
-- a `LIKE 'x%'`: a plain btree serves LIKE prefixes only under the C collation, so these indexes use
-- text_pattern_ops, whatever the database's collation.

-- Executions: a namespace (and its children); text in namespace, flow id or id (`q`, below).
CREATE INDEX "executions_namespace_pattern_idx" ON "executions" ("namespace" text_pattern_ops, "start_date" DESC);

-- Logs: by namespace and flow, by level, by date and in the default order (newest first); by execution already
-- existed ((execution_id, timestamp)).
CREATE INDEX "logs_namespace_flow_id_timestamp_idx" ON "logs" ("namespace" text_pattern_ops, "flow_id", "timestamp");
CREATE INDEX "logs_level_timestamp_idx" ON "logs" ("level", "timestamp");
CREATE INDEX "logs_timestamp_id_idx" ON "logs" ("timestamp", "id");

-- Flows: the latest live revisions by namespace (and its children).
CREATE INDEX "flows_namespace_pattern_idx" ON "flows" ("namespace" text_pattern_ops, "flow_id") WHERE "latest" AND NOT "deleted";

-- Text search (`q`, CONTAINS): trigram indexes, from the pg_trgm extension (shipped with Postgres's contrib, with
-- the embedded Postgres and with the postgres Docker image; trusted, so a database owner may create it). Where it
-- cannot be created the migration still applies, without these two indexes: text search then works but reads every
-- row the other filters leave.
DO $$
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_trgm is not available (%): text search on log messages and executions is not indexed', SQLERRM;
  END;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    EXECUTE 'CREATE INDEX "logs_message_trgm_idx" ON "logs" USING GIN ("message" gin_trgm_ops)';
    -- The expression must stay identical to EXECUTION_QUERY_TEXT (packages/db/src/execution-repository.ts).
    EXECUTE 'CREATE INDEX "executions_query_trgm_idx" ON "executions" USING GIN (("namespace" || '' '' || "flow_id" || '' '' || "id") gin_trgm_ops)';
  END IF;
END
$$;
