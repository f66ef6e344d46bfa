-- The KV store (issue #18), like Kestra's KV: one row per (namespace, key) with its typed value. A set is one
-- INSERT ... ON CONFLICT DO UPDATE of the row, so concurrent sets of a key leave one of the values, never a mix. An
-- expired row stays until it is read (deleted then, 410) or its namespace is listed.
CREATE TABLE "kv_entries" (
    "namespace" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiration_date" TIMESTAMPTZ(3),

    CONSTRAINT "kv_entries_pkey" PRIMARY KEY ("namespace", "key"),
    CONSTRAINT "kv_entries_type_check" CHECK ("type" IN ('STRING', 'NUMBER', 'BOOLEAN', 'DATETIME', 'DATE', 'DURATION', 'JSON'))
);
