/**
 * A KV store in memory for unit tests of tasks (`context.kv`), with the rules of the real stores (key and namespace
 * format, the 1 MiB limit, TTLs, `overwrite: false`) and a clock a test moves by hand: `advance(ms)`.
 */
import { assertKvKey, assertKvNamespace, assertKvValueSize, instantText } from '@sluice/core';
import type { KvValue } from '@sluice/core';
import type { KvAccess, KvEntryInfo } from '../contracts.js';

interface Entry {
  readonly value: KvValue;
  readonly created: number;
  readonly updated: number;
  readonly expires?: number;
}

export interface MemoryKvStore extends KvAccess {
  /** Move the store's clock forward. */
  advance(ms: number): void;
  /** Every live entry, by `namespace/key` (for assertions). */
  dump(): Record<string, KvValue>;
}

export function createMemoryKvStore(start = Date.UTC(2026, 0, 1)): MemoryKvStore {
  let now = start;
  const entries = new Map<string, Entry>();
  const id = (namespace: string, key: string): string => {
    assertKvNamespace(namespace);
    assertKvKey(key);
    return `${namespace}/${key}`;
  };
  const live = (entry: Entry | undefined): entry is Entry => entry !== undefined && (entry.expires === undefined || entry.expires > now);
  return {
    advance(ms) {
      now += ms;
    },
    dump() {
      return Object.fromEntries([...entries].filter(([, entry]) => live(entry)).map(([key, entry]) => [key, entry.value]));
    },
    async get(namespace, key) {
      const at = id(namespace, key);
      const entry = entries.get(at);
      if (entry === undefined) return { status: 'missing' };
      if (!live(entry)) {
        entries.delete(at);
        return { status: 'expired' };
      }
      return { status: 'found', type: entry.value.type, value: structuredClone(entry.value.value) };
    },
    async set(namespace, key, value, options = {}) {
      const at = id(namespace, key);
      assertKvValueSize(key, value.value);
      const existing = entries.get(at);
      if (options.overwrite === false && live(existing)) return false;
      entries.set(at, {
        value: { type: value.type, value: structuredClone(value.value) },
        created: live(existing) ? existing.created : now,
        updated: now,
        ...(options.ttlMs === undefined ? {} : { expires: now + options.ttlMs }),
      });
      return true;
    },
    async delete(namespace, key) {
      const at = id(namespace, key);
      const existed = live(entries.get(at));
      entries.delete(at);
      return existed;
    },
    async list(namespace) {
      assertKvNamespace(namespace);
      const found: KvEntryInfo[] = [];
      for (const [at, entry] of entries) {
        if (!at.startsWith(`${namespace}/`) || !live(entry)) continue;
        found.push({
          key: at.slice(namespace.length + 1),
          creationDate: instantText(new Date(entry.created)),
          updateDate: instantText(new Date(entry.updated)),
          ...(entry.expires === undefined ? {} : { expirationDate: instantText(new Date(entry.expires)) }),
        });
      }
      return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
  };
}
