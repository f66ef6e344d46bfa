/**
 * A `FlowStore` that keeps flows in memory, so that creating an execution does not read its flow from Postgres each
 * time (one round trip of the seven on an execution's path; `npm run bench:e2e`).
 *
 * - A given revision never changes: it is kept (up to `maxEntries` flows, then the cache starts over).
 * - The latest revision of a flow is kept until the flow changes. A save or delete through this store drops it at
 *   once, then announces the change on the queue (`publishFlowChange`), and every API instance that shares the queue
 *   drops it when the announcement arrives (within a few ms over Redis). A request that reaches another instance in
 *   between gets the previous revision, as it would have a moment earlier.
 * - Nothing is kept for `latestTtlMs` after it was read (default 30 s): a change announced while an instance was
 *   disconnected from Redis reaches it at the latest then. Until the subscription is ready, and if it failed,
 *   latest revisions are not kept at all.
 * - A save or delete never waits for an unreachable Redis: the announcement is skipped while the queue is DOWN, and
 *   given up on after `publishTimeoutMs` (2 s) otherwise (`onError` says so); the other instances then see the change
 *   within `latestTtlMs`, as above.
 */
import type { QueueHealth } from '@sluice/queue';
import { publishBounded, QUEUE_PUBLISH_TIMEOUT_MS, within } from './queue-handoff.js';
import type { FlowStore, StoredFlow } from './flow-store.js';

export interface FlowChangeChannel {
  publishFlowChange(change: { namespace: string; flowId: string }): Promise<void>;
  subscribeFlowChanges(handler: (change: { namespace: string; flowId: string }) => void): Promise<() => Promise<void>>;
  health?(): QueueHealth;
}

export interface CachedFlowStoreOptions {
  readonly latestTtlMs?: number;
  readonly maxEntries?: number;
  /** A change that could not be announced (the other instances drop it after `latestTtlMs`). */
  readonly onError?: (error: unknown) => void;
  /** Longest wait for the queue to take an announcement. Default 2000 ms. */
  readonly publishTimeoutMs?: number;
  readonly now?: () => number;
}

export interface CachedFlowStore extends FlowStore {
  /** Stop listening for changes. */
  close(): Promise<void>;
}

const key = (namespace: string, id: string): string => `${namespace}\u0000${id}`;

export function createCachedFlowStore(inner: FlowStore, channel: FlowChangeChannel, options: CachedFlowStoreOptions = {}): CachedFlowStore {
  const ttlMs = options.latestTtlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 1000;
  const now = options.now ?? Date.now;
  const latest = new Map<string, { flow: StoredFlow | undefined; until: number }>();
  const revisions = new Map<string, StoredFlow>();
  // Bumped by every change: a read that started before a change does not store what it read.
  let generation = 0;
  let listening = false;

  const forget = (namespace: string, id: string): void => {
    generation++;
    latest.delete(key(namespace, id));
  };
  const subscription = channel.subscribeFlowChanges((change) => forget(change.namespace, change.flowId)).then(
    (unsubscribe) => {
      listening = true;
      return unsubscribe;
    },
    (error: unknown) => {
      options.onError?.(error);
      return undefined;
    },
  );
  const publishTimeoutMs = options.publishTimeoutMs ?? QUEUE_PUBLISH_TIMEOUT_MS;
  const health = channel.health ? () => channel.health!() : undefined;
  const changed = async (namespace: string, id: string): Promise<void> => {
    forget(namespace, id);
    try {
      const handoff = await publishBounded(() => channel.publishFlowChange({ namespace, flowId: id }), health, publishTimeoutMs);
      if (!handoff.sent) options.onError?.(new Error(`queue unreachable: the change of flow ${namespace}.${id} was not announced (${handoff.reason})`));
    } catch (error) {
      options.onError?.(error);
    }
  };

  return {
    async save(namespace, id, source, flow) {
      try {
        return await inner.save(namespace, id, source, flow);
      } finally {
        await changed(namespace, id);
      }
    },
    async get(namespace, id, revision) {
      if (revision !== undefined) {
        const revisionKey = `${key(namespace, id)}\u0000${revision}`;
        const kept = revisions.get(revisionKey);
        if (kept) return kept;
        const found = await inner.get(namespace, id, revision);
        if (found) {
          if (revisions.size >= maxEntries) revisions.clear();
          revisions.set(revisionKey, found);
        }
        return found;
      }
      const flowKey = key(namespace, id);
      const kept = latest.get(flowKey);
      if (kept && kept.until > now()) return kept.flow;
      const before = generation;
      const found = await inner.get(namespace, id);
      if (listening && generation === before) {
        if (latest.size >= maxEntries) latest.clear();
        latest.set(flowKey, { flow: found, until: now() + ttlMs });
      }
      return found;
    },
    revisions: (namespace, id) => inner.revisions(namespace, id),
    async delete(namespace, id) {
      try {
        return await inner.delete(namespace, id);
      } finally {
        await changed(namespace, id);
      }
    },
    search: (query) => inner.search(query),
    ping: () => inner.ping(),
    async close() {
      // Neither a subscription nor an unsubscription waiting for an unreachable Redis holds the close.
      const unsubscribe = await within(subscription, publishTimeoutMs);
      await within(unsubscribe?.().catch(() => undefined), publishTimeoutMs);
      latest.clear();
      revisions.clear();
    },
  };
}
