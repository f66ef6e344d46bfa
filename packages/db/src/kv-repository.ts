import { assertKvKey, assertKvNamespace, assertKvValueSize, isKvType, SluiceError } from '@sluice/core';
import type { KvType, KvValue } from '@sluice/core';
import type { PrismaClient } from './generated/prisma/client.js';
import { Prisma } from './generated/prisma/client.js';

/** A key of the KV store, as stored. */
export interface StoredKvEntry {
  readonly namespace: string;
  readonly key: string;
  readonly type: KvType;
  readonly value: unknown;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Null: the key never expires. */
  readonly expirationDate: Date | null;
}

/** A key without its value (the namespace's key list). */
export type KvEntryMetadata = Omit<StoredKvEntry, 'type' | 'value'>;

/** What reading a key finds: its entry, nothing, or an entry whose TTL has passed (deleted by the read). */
export type KvReadResult =
  | { readonly status: 'found'; readonly entry: StoredKvEntry }
  | { readonly status: 'missing' }
  | { readonly status: 'expired'; readonly expirationDate: Date };

export interface KvSetOptions {
  /** The key expires this long after the set (ms, > 0); without it, it never expires. */
  readonly ttlMs?: number;
  /** False: leave a live key as it is (`set` then answers undefined). Default true. */
  readonly overwrite?: boolean;
}

interface KvRow {
  namespace: string;
  key: string;
  type: string;
  value: unknown;
  createdAt: Date;
  updatedAt: Date;
  expirationDate: Date | null;
}

const COLUMNS = Prisma.sql`namespace, key, type, value, created_at AS "createdAt", updated_at AS "updatedAt", expiration_date AS "expirationDate"`;
/** A row past its expiry, by the database's clock (every expiry is computed and compared by that one clock). */
const EXPIRED = Prisma.sql`(expiration_date IS NOT NULL AND expiration_date <= now())`;

function toEntry(row: KvRow): StoredKvEntry {
  if (!isKvType(row.type)) throw new Error(`kv_entries row ${row.namespace}/${row.key} has an unknown type ${JSON.stringify(row.type)}`);
  return { ...row, type: row.type };
}

/**
 * The KV store (Kestra's KV) in `kv_entries`, one row per (namespace, key). Every write is one statement on one row:
 * a set is an `INSERT ... ON CONFLICT DO UPDATE`, so concurrent sets of one key leave one of the values whole, and a
 * set with `overwrite: false` decides in that same statement whether the key is there. Expiry uses the database's
 * clock (`now()`): an expired key is deleted when read (which then reports it expired) and when its namespace is
 * listed. Keys, namespaces and value sizes are checked here, so every way into the store obeys the same rules.
 */
export class KvRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Read a key. An expired one is deleted (only while it is still the expired row: a set that replaced it meanwhile
   * stays) and reported as `expired`.
   */
  async get(namespace: string, key: string): Promise<KvReadResult> {
    assertKvNamespace(namespace);
    assertKvKey(key);
    const rows = await this.prisma.$queryRaw<(KvRow & { expired: boolean })[]>`
      SELECT ${COLUMNS}, ${EXPIRED} AS expired FROM kv_entries WHERE namespace = ${namespace} AND key = ${key}`;
    const row = rows[0];
    if (!row) return { status: 'missing' };
    if (!row.expired) return { status: 'found', entry: toEntry(row) };
    await this.prisma.$executeRaw`DELETE FROM kv_entries WHERE namespace = ${namespace} AND key = ${key} AND ${EXPIRED}`;
    return { status: 'expired', expirationDate: row.expirationDate as Date };
  }

  /**
   * Store a value (one upsert). With `overwrite: false`, a live key is left as it is and the answer is undefined; an
   * expired one is replaced as if absent. Replacing a live key keeps its creation date.
   *
   * @throws SluiceError `SLU_KV_INVALID_KEY`, `SLU_FLOW_INVALID_NAMESPACE`, `SLU_KV_VALUE_TOO_LARGE`, `SLU_KV_INVALID_VALUE`.
   */
  async set(namespace: string, key: string, value: KvValue, options: KvSetOptions = {}): Promise<StoredKvEntry | undefined> {
    assertKvNamespace(namespace);
    assertKvKey(key);
    if (!isKvType(value.type)) throw new SluiceError('SLU_KV_INVALID_VALUE', { reason: `unknown type ${JSON.stringify(value.type)}` });
    if (value.value === undefined || value.value === null) throw new SluiceError('SLU_KV_INVALID_VALUE', { reason: 'null cannot be stored: delete the key instead' });
    assertKvValueSize(key, value.value);
    const { ttlMs } = options;
    if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0)) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
    const expiration = ttlMs === undefined ? Prisma.sql`NULL::timestamptz` : Prisma.sql`now() + ${ttlMs}::bigint * interval '1 millisecond'`;
    // An existing row that has expired counts as absent: it is replaced, creation date included.
    const stale = Prisma.sql`(kv_entries.expiration_date IS NOT NULL AND kv_entries.expiration_date <= now())`;
    const only = options.overwrite === false ? Prisma.sql`WHERE ${stale}` : Prisma.empty;
    const rows = await this.prisma.$queryRaw<KvRow[]>`
      INSERT INTO kv_entries (namespace, key, type, value, created_at, updated_at, expiration_date)
      VALUES (${namespace}, ${key}, ${value.type}, ${JSON.stringify(value.value)}::jsonb, now(), now(), ${expiration})
      ON CONFLICT (namespace, key) DO UPDATE SET
        type = EXCLUDED.type,
        value = EXCLUDED.value,
        created_at = CASE WHEN ${stale} THEN EXCLUDED.created_at ELSE kv_entries.created_at END,
        updated_at = EXCLUDED.updated_at,
        expiration_date = EXCLUDED.expiration_date
      ${only}
      RETURNING ${COLUMNS}`;
    const row = rows[0];
    return row ? toEntry(row) : undefined;
  }

  /** Delete a key; true when a live one was there (an expired one is deleted too, and answers false). */
  async delete(namespace: string, key: string): Promise<boolean> {
    assertKvNamespace(namespace);
    assertKvKey(key);
    const rows = await this.prisma.$queryRaw<{ live: boolean }[]>`
      DELETE FROM kv_entries WHERE namespace = ${namespace} AND key = ${key} RETURNING NOT ${EXPIRED} AS live`;
    return rows[0]?.live === true;
  }

  /** Delete some keys; answers the live ones that were deleted, sorted. */
  async deleteMany(namespace: string, keys: readonly string[]): Promise<string[]> {
    assertKvNamespace(namespace);
    for (const key of keys) assertKvKey(key);
    if (keys.length === 0) return [];
    const rows = await this.prisma.$queryRaw<{ key: string; live: boolean }[]>`
      DELETE FROM kv_entries WHERE namespace = ${namespace} AND key = ANY(${[...new Set(keys)]}::text[]) RETURNING key, NOT ${EXPIRED} AS live`;
    return rows
      .filter((row) => row.live)
      .map((row) => row.key)
      .sort();
  }

  /**
   * The namespace's live keys, sorted by key, without their values. The namespace's expired keys are deleted first
   * (in the same statement; its SELECT sees the rows as they were before, hence its own filter), so they never show
   * and do not pile up.
   */
  async list(namespace: string): Promise<KvEntryMetadata[]> {
    assertKvNamespace(namespace);
    const rows = await this.prisma.$queryRaw<Omit<KvRow, 'type' | 'value'>[]>`
      WITH purged AS (DELETE FROM kv_entries WHERE namespace = ${namespace} AND ${EXPIRED} RETURNING key)
      SELECT namespace, key, created_at AS "createdAt", updated_at AS "updatedAt", expiration_date AS "expirationDate"
        FROM kv_entries WHERE namespace = ${namespace} AND NOT ${EXPIRED} ORDER BY key COLLATE "C"`;
    return rows;
  }
}
