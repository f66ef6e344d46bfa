import type pg from 'pg';
import type { Flow, PrismaClient } from './generated/prisma/client.js';
import { Prisma } from './generated/prisma/client.js';
import { escapeLike } from './rows.js';
import { filterConditions, orderBy, prefixCondition } from './search-filters.js';
import type { FilterColumns, SearchFilter, SearchSort } from './search-filters.js';

/** One stored revision of a flow. */
export interface FlowRevision {
  readonly namespace: string;
  /** The flow's `id`. */
  readonly id: string;
  readonly revision: number;
  /** The YAML exactly as submitted. */
  readonly source: string;
  /** The validated flow, as JSON. */
  readonly parsed: unknown;
  /** True on a revision recording a deletion. */
  readonly deleted: boolean;
  readonly createdAt: Date;
}

export interface SaveResult {
  /** The latest revision after the call: the new one, or the unchanged latest one. */
  readonly flow: FlowRevision;
  /** False when the source equals the latest revision's: no revision was added. */
  readonly created: boolean;
}

export interface FlowSearch {
  /** Only flows in this namespace or one of its sub-namespaces (`company` matches `company.team`). */
  readonly namespace?: string;
  /** Case-insensitive text that the flow id or namespace contains. */
  readonly q?: string;
  /** Kestra 1.x's filters (namespace, flowId, labels, q, scope), all matched. */
  readonly filters?: readonly SearchFilter[];
  /** Sort keys among {@link FLOW_SORT_FIELDS}; by namespace then id when absent. */
  readonly sort?: readonly SearchSort[];
  /** 1-based page number. */
  readonly page: number;
  /** Page size, 1 to 1000. */
  readonly size: number;
}

/** The text `q` searches in a flow (its id or namespace, case-insensitively). */
function flowQuery(text: string): Prisma.Sql {
  const pattern = `%${escapeLike(text)}%`;
  return Prisma.sql`(flow_id ILIKE ${pattern} OR namespace ILIKE ${pattern})`;
}

/** How the flows table answers Kestra's filters; a flow's labels are a list of {key, value} or a map, as written. */
const FLOW_FILTER_COLUMNS: FilterColumns = {
  text: { namespace: Prisma.sql`namespace`, flowId: Prisma.sql`flow_id` },
  labels: {
    has: (label) => Prisma.sql`(parsed->'labels' @> ${JSON.stringify([{ key: label.key, value: label.value }])}::jsonb
      OR parsed->'labels' @> ${JSON.stringify({ [label.key]: label.value })}::jsonb)`,
    contains: (text) => {
      const pattern = `%${escapeLike(text.toLowerCase())}%`;
      return Prisma.sql`(CASE jsonb_typeof(parsed->'labels')
        WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(parsed->'labels') AS l WHERE lower(l->>'key') LIKE ${pattern} OR lower(l->>'value') LIKE ${pattern})
        WHEN 'object' THEN EXISTS (SELECT 1 FROM jsonb_each_text(parsed->'labels') AS l WHERE lower(l.key) LIKE ${pattern} OR lower(l.value) LIKE ${pattern})
        ELSE FALSE END)`;
    },
  },
  query: flowQuery,
  scope: true,
};

/** The sort keys of a flow search (Kestra's names) and their columns. */
const FLOW_SORT_COLUMNS: Readonly<Record<string, Prisma.Sql>> = { id: Prisma.sql`flow_id`, namespace: Prisma.sql`namespace`, revision: Prisma.sql`revision` };
export const FLOW_SORT_FIELDS: readonly string[] = Object.keys(FLOW_SORT_COLUMNS);

export interface FlowSearchResult {
  /** Latest revisions of the matching flows, sorted by namespace then id. */
  readonly results: FlowRevision[];
  /** Matching flows over all pages. */
  readonly total: number;
}

function toRevision(row: Flow): FlowRevision {
  return {
    namespace: row.namespace,
    id: row.flowId,
    revision: row.revision,
    source: row.source,
    parsed: row.parsed,
    deleted: row.deleted,
    createdAt: row.createdAt,
  };
}

/** A `flows` row as raw SQL returns it (column names, not field names). */
interface FlowRow {
  readonly namespace: string;
  readonly flow_id: string;
  readonly revision: number;
  readonly source: string;
  readonly parsed: unknown;
  readonly deleted: boolean;
  readonly created_at: Date;
}

function fromRow(row: FlowRow): FlowRevision {
  return {
    namespace: row.namespace,
    id: row.flow_id,
    revision: row.revision,
    source: row.source,
    parsed: row.parsed,
    deleted: row.deleted,
    createdAt: row.created_at,
  };
}

/**
 * Flows and their revisions. Every change appends a revision (Kestra's model): `save` with a changed source, and
 * `delete`, which appends a revision flagged `deleted` (soft delete: history and source survive). Reads and search
 * see the latest revision only, and not at all once it is a deletion. Writes to one flow are serialised by a
 * transaction-scoped advisory lock, so two concurrent saves yield revisions n+1 and n+2, never a conflict.
 */
export class FlowRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /** Store `source` as the new latest revision, unless it equals the current one. Saving a deleted flow revives it. */
  async save(namespace: string, id: string, source: string, parsed: unknown): Promise<SaveResult> {
    return this.prisma.$transaction(async (tx) => {
      const current = await this.lockLatest(tx, namespace, id);
      if (current && !current.deleted && current.source === source) return { flow: toRevision(current), created: false };
      const row = await this.append(tx, current, { namespace, flowId: id, source, parsed, deleted: false });
      return { flow: toRevision(row), created: true };
    });
  }

  /** The latest revision, or undefined when the flow does not exist or is deleted. */
  async latest(namespace: string, id: string): Promise<FlowRevision | undefined> {
    // Plain pg: read for every execution created (see rows.ts).
    const { rows } = await this.pool.query<FlowRow>(
      'SELECT namespace, flow_id, revision, source, parsed, deleted, created_at FROM flows WHERE namespace = $1 AND flow_id = $2 AND latest AND NOT deleted LIMIT 1',
      [namespace, id],
    );
    const row = rows[0];
    return row ? fromRow(row) : undefined;
  }

  /** Every revision, oldest first, deletions included (empty when the flow never existed). */
  async revisions(namespace: string, id: string): Promise<FlowRevision[]> {
    const rows = await this.prisma.flow.findMany({ where: { namespace, flowId: id }, orderBy: { revision: 'asc' } });
    return rows.map(toRevision);
  }

  /** Append a deleted revision; returns it, or undefined when there is no flow to delete. */
  async delete(namespace: string, id: string): Promise<FlowRevision | undefined> {
    return this.prisma.$transaction(async (tx) => {
      const current = await this.lockLatest(tx, namespace, id);
      if (!current || current.deleted) return undefined;
      const row = await this.append(tx, current, {
        namespace,
        flowId: id,
        source: current.source,
        parsed: current.parsed,
        deleted: true,
      });
      return toRevision(row);
    });
  }

  /** Latest revisions of the flows that are not deleted, filtered and paged. */
  async search(search: FlowSearch): Promise<FlowSearchResult> {
    if (!Number.isInteger(search.page) || search.page < 1) throw new RangeError(`page must be an integer >= 1, got ${search.page}`);
    if (!Number.isInteger(search.size) || search.size < 1 || search.size > 1000) {
      throw new RangeError(`size must be an integer from 1 to 1000, got ${search.size}`);
    }
    // Raw SQL because Prisma does not escape LIKE wildcards, and namespaces and ids may contain `_`.
    const conditions: Prisma.Sql[] = [Prisma.sql`latest AND NOT deleted`];
    if (search.namespace !== undefined) {
      conditions.push(prefixCondition(Prisma.sql`namespace`, search.namespace));
    }
    if (search.q !== undefined && search.q !== '') conditions.push(flowQuery(search.q));
    conditions.push(...filterConditions(search.filters, FLOW_FILTER_COLUMNS));
    const where = Prisma.join(conditions, ' AND ');
    const order = orderBy(search.sort, FLOW_SORT_COLUMNS, Prisma.sql`namespace, flow_id`, Prisma.sql`namespace, flow_id`);
    const offset = (search.page - 1) * search.size;
    const [rows, counts] = await Promise.all([
      this.prisma.$queryRaw<FlowRow[]>`
        SELECT namespace, flow_id, revision, source, parsed, deleted, created_at FROM flows WHERE ${where}
        ORDER BY ${order} LIMIT ${search.size} OFFSET ${offset}`,
      this.prisma.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS total FROM flows WHERE ${where}`,
    ]);
    return {
      results: rows.map(fromRow),
      total: Number(counts[0]?.total ?? 0),
    };
  }

  /** Serialise writers of one flow for the rest of the transaction, then read its latest revision. */
  private async lockLatest(tx: Prisma.TransactionClient, namespace: string, id: string): Promise<Flow | null> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`flow:${namespace}/${id}`}, 0))`;
    return tx.flow.findFirst({ where: { namespace, flowId: id, latest: true } });
  }

  private async append(
    tx: Prisma.TransactionClient,
    current: Flow | null,
    data: { namespace: string; flowId: string; source: string; parsed: unknown; deleted: boolean },
  ): Promise<Flow> {
    if (current) {
      await tx.flow.update({
        where: { namespace_flowId_revision: { namespace: current.namespace, flowId: current.flowId, revision: current.revision } },
        data: { latest: false },
      });
    }
    return tx.flow.create({
      data: { ...data, parsed: data.parsed as Prisma.InputJsonValue, revision: (current?.revision ?? 0) + 1, latest: true },
    });
  }
}
