-- When Sluice first saw a trigger (its row was created): a Schedule's `backfill` without an `end` runs up to there,
-- and the ticks after it are regular ones (missed ones follow `recoverMissedSchedules`).
ALTER TABLE "triggers" ADD COLUMN "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
