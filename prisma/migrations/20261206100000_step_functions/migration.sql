-- Throughput (issue #20): a scheduler step sends its statements as one simple query, with the values inline, so that it
-- costs one round trip; Postgres then parses and plans each statement at every step. The three that every step makes,
-- and that cost more to parse and plan than to run, are functions here: PL/pgSQL keeps their plans for the session,
-- and the call a step sends is cheap to parse and plan. Each does exactly what the statement it replaces did.

-- An execution's state change (one entry appended to its history). With `expected`, the step's claim too (a step from
-- memory): the change applies only at that version and moves it on; at another version sluice_claim_execution raises
-- SL409, as the claim of its own did. Without it, the version trigger moves the version on. Returns the version then.
CREATE FUNCTION sluice_set_execution_state(execution_id TEXT, expected INTEGER, new_state TEXT, entry JSONB, ended TIMESTAMPTZ, updated TIMESTAMPTZ)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
  changed INTEGER;
BEGIN
  IF expected IS NULL THEN
    UPDATE "executions" SET state = new_state, state_history = state_history || entry, end_date = ended, updated_at = updated
      WHERE id = execution_id RETURNING version INTO changed;
    RETURN changed;
  END IF;
  UPDATE "executions" SET state = new_state, state_history = state_history || entry, end_date = ended, updated_at = updated, version = version + 1
    WHERE id = execution_id AND version = expected RETURNING version INTO changed;
  IF changed IS NULL THEN
    RETURN sluice_claim_execution(execution_id, expected);
  END IF;
  RETURN changed;
END
$$;

-- A task run stored whole: inserted, or replacing the stored one. created_at is the insertion time (clock_timestamp:
-- task runs are read back in that order, and one step may insert several).
CREATE FUNCTION sluice_save_task_run(
  run_id TEXT, run_execution_id TEXT, run_task_id TEXT, run_parent_task_run_id TEXT, run_value TEXT, run_iteration INTEGER,
  run_engine_state JSONB, run_state TEXT, run_state_history JSONB, run_attempts JSONB, run_outputs JSONB, run_metrics JSONB,
  run_worker_group TEXT, run_worker_id TEXT, run_start_date TIMESTAMPTZ, run_end_date TIMESTAMPTZ)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "task_runs" (id, execution_id, task_id, parent_task_run_id, value, iteration, engine_state, state, state_history, attempts, outputs, metrics,
                           worker_group, worker_id, start_date, end_date, created_at, updated_at)
  VALUES (run_id, run_execution_id, run_task_id, run_parent_task_run_id, run_value, run_iteration, run_engine_state, run_state, run_state_history,
          run_attempts, run_outputs, run_metrics, run_worker_group, run_worker_id, run_start_date, run_end_date, clock_timestamp(), clock_timestamp())
  ON CONFLICT (id) DO UPDATE SET
    task_id = EXCLUDED.task_id, parent_task_run_id = EXCLUDED.parent_task_run_id, value = EXCLUDED.value,
    iteration = EXCLUDED.iteration, engine_state = EXCLUDED.engine_state, state = EXCLUDED.state,
    state_history = EXCLUDED.state_history, attempts = EXCLUDED.attempts, outputs = EXCLUDED.outputs,
    metrics = EXCLUDED.metrics, worker_group = EXCLUDED.worker_group, worker_id = EXCLUDED.worker_id,
    start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, updated_at = clock_timestamp();
END
$$;

-- An execution with its task runs (oldest first), the columns of EXECUTION_SELECT (packages/db/src/rows.ts) in its
-- order: the read a locked step starts with, and the read-back sent with an end.
CREATE FUNCTION sluice_execution_with_runs(execution_id TEXT)
RETURNS TABLE (
  id TEXT, namespace TEXT, flow_id TEXT, flow_revision INTEGER, state TEXT, state_history JSONB, inputs JSONB, outputs JSONB, labels JSONB,
  parent_id TEXT, restarted_from TEXT, trigger JSONB, schedule_date TIMESTAMPTZ, attempt_number INTEGER, original_created_date TIMESTAMPTZ,
  start_date TIMESTAMPTZ, end_date TIMESTAMPTZ, task_runs JSON)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    SELECT e.id, e.namespace, e.flow_id, e.flow_revision, e.state, e.state_history, e.inputs, e.outputs, e.labels,
           e.parent_id, e.restarted_from, e.trigger, e.schedule_date, e.attempt_number, e.original_created_date, e.start_date, e.end_date,
           COALESCE((SELECT json_agg(tr ORDER BY tr.seq) FROM "task_runs" tr WHERE tr.execution_id = e.id), '[]'::json)
    FROM "executions" e WHERE e.id = sluice_execution_with_runs.execution_id;
END
$$;
