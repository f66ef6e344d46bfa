-- A trigger disabled over the API (`PUT /triggers`, `POST /triggers/set-disabled/by-triggers`, `sluice trigger
-- disable`), apart from the flow's YAML: a disabled Schedule does not fire, a disabled Webhook answers 409.
ALTER TABLE "triggers" ADD COLUMN "disabled" BOOLEAN NOT NULL DEFAULT false;
