-- A scheduler step from memory that changes the execution's row (its state, labels or outputs) claims the execution
-- with that same UPDATE (issue #20: one row version and one pass over the indexes a step, where the claim and the
-- change made two): `WITH claimed AS (UPDATE ... SET ..., version = version + 1 WHERE id = $id AND version = $expected
-- RETURNING version) SELECT sluice_claimed((SELECT version FROM claimed), $id, $expected)`. This raises SQLSTATE SL409,
-- as sluice_claim_execution does, when no row was claimed: the execution is no longer at the expected version.
CREATE FUNCTION sluice_claimed(claimed INTEGER, execution_id TEXT, expected INTEGER) RETURNS INTEGER LANGUAGE plpgsql AS $$
BEGIN
  IF claimed IS NULL THEN
    RAISE EXCEPTION 'execution % is no longer at version %', execution_id, expected USING ERRCODE = 'SL409';
  END IF;
  RETURN claimed;
END
$$;
