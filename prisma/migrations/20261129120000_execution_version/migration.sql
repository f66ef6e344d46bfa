-- A version per execution, for the scheduler's one-round-trip steps (docs/execution.md, "Locked steps"): a scheduler
-- keeps the executions it advanced in memory with their version, and writes its next step only if the version is
-- still the one it knows. So every change to an execution must change its version:
-- * any UPDATE of the row does (the trigger below, unless the statement set a new version itself);
-- * a change to an execution's task runs must update the execution's row in the same transaction (the scheduler's
--   steps and the API's restart do).
ALTER TABLE "executions" ADD COLUMN "version" INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION sluice_bump_execution_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;

CREATE TRIGGER executions_version BEFORE UPDATE ON "executions"
  FOR EACH ROW WHEN (NEW.version = OLD.version) EXECUTE FUNCTION sluice_bump_execution_version();

-- Take the execution's row lock and move it to the next version, only if it is still at `expected`; otherwise raise
-- SQLSTATE SL409 (which aborts the transaction, and so every write sent after it in the same batch).
CREATE FUNCTION sluice_claim_execution(execution_id TEXT, expected INTEGER) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
  claimed INTEGER;
BEGIN
  UPDATE "executions" SET version = version + 1 WHERE id = execution_id AND version = expected RETURNING version INTO claimed;
  IF claimed IS NULL THEN
    RAISE EXCEPTION 'execution % is no longer at version %', execution_id, expected USING ERRCODE = 'SL409';
  END IF;
  RETURN claimed;
END
$$;
