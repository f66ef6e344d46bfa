import type { Db, FlowRevision } from '@sluice/db';
import type { FlowStore, StoredFlow } from './flow-store.js';

function toStored(revision: FlowRevision): StoredFlow {
  return {
    namespace: revision.namespace,
    id: revision.id,
    revision: revision.revision,
    source: revision.source,
    flow: (revision.parsed ?? {}) as Record<string, unknown>,
    deleted: revision.deleted,
    updated: revision.createdAt,
  };
}

/** `FlowStore` over `@sluice/db`: the only file of the API that knows the repository's shapes. */
export function createDbFlowStore(db: Db): FlowStore {
  return {
    async save(namespace, id, source, flow) {
      return toStored((await db.flows.save(namespace, id, source, flow)).flow);
    },
    async get(namespace, id, revision) {
      if (revision === undefined) {
        const latest = await db.flows.latest(namespace, id);
        return latest ? toStored(latest) : undefined;
      }
      const row = await db.prisma.flow.findUnique({ where: { namespace_flowId_revision: { namespace, flowId: id, revision } } });
      return row
        ? toStored({ namespace: row.namespace, id: row.flowId, revision: row.revision, source: row.source, parsed: row.parsed, deleted: row.deleted, createdAt: row.createdAt })
        : undefined;
    },
    async revisions(namespace, id) {
      return (await db.flows.revisions(namespace, id)).map(toStored);
    },
    async delete(namespace, id) {
      return (await db.flows.delete(namespace, id)) !== undefined;
    },
    async search(query) {
      const found = await db.flows.search(query);
      return { results: found.results.map(toStored), total: found.total };
    },
    async ping() {
      await db.prisma.$queryRaw`SELECT 1`;
    },
  };
}
