/**
 * The KV store as tasks see it (`TaskContext.kv`: `kv()`, the `kv.*` and `state.*` tasks), over the database. The
 * API serves it to remote workers on its internal routes (routes/internal-kv.ts); `sluice server local` gives it to its
 * in-process worker as it is, without HTTP. Every rule (key and namespace format, 1 MiB, TTL, atomic sets) is
 * KvRepository's.
 */
import { instantText } from '@sluice/core';
import type { KvEntryMetadata, KvRepository } from '@sluice/db';
import type { KvAccess, KvEntryInfo } from '@sluice/plugin-api';

/** A key's dates as Kestra's KVEntry gives them (ISO instants; no expirationDate for a key that never expires). */
export function kvEntryJson(entry: KvEntryMetadata): KvEntryInfo {
  return {
    key: entry.key,
    creationDate: instantText(entry.createdAt),
    updateDate: instantText(entry.updatedAt),
    ...(entry.expirationDate === null ? {} : { expirationDate: instantText(entry.expirationDate) }),
  };
}

export function createDbKvAccess(kv: Pick<KvRepository, 'get' | 'set' | 'delete' | 'list'>): KvAccess {
  return {
    async get(namespace, key) {
      const found = await kv.get(namespace, key);
      if (found.status !== 'found') return { status: found.status };
      return { status: 'found', type: found.entry.type, value: found.entry.value };
    },
    async set(namespace, key, value, options = {}) {
      return (await kv.set(namespace, key, value, options)) !== undefined;
    },
    delete: (namespace, key) => kv.delete(namespace, key),
    async list(namespace) {
      return (await kv.list(namespace)).map(kvEntryJson);
    },
  };
}
