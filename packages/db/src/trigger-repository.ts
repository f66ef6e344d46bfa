import type { PrismaClient } from './generated/prisma/client.js';
import { Prisma } from './generated/prisma/client.js';
import { escapeLike } from './rows.js';
import { filterConditions, orderBy } from './search-filters.js';
import type { FilterColumns, SearchFilter, SearchSort } from './search-filters.js';

/** A stored trigger row (the scheduler's state of one trigger of a flow). */
export interface StoredTrigger {
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
  readonly nextFireDate: Date | null;
  readonly lastFireDate: Date | null;
  /** The scheduler instance holding the trigger, until `lockedUntil`. */
  readonly lockOwner: string | null;
  readonly lockedUntil: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Filters of {@link TriggerRepository.search}: every one must match. */
export interface TriggerSearch {
  /** Kestra 1.x's filters (namespace, flowId, triggerId, workerId, startDate, endDate, q, scope, triggerState). */
  readonly filters?: readonly SearchFilter[];
  /** Sort keys among {@link TRIGGER_SORT_FIELDS}; by namespace, flow id and trigger id when absent. */
  readonly sort?: readonly SearchSort[];
  /** 1-based. */
  readonly page: number;
  /** 1 to 1000. */
  readonly size: number;
}

export interface TriggerSearchResult {
  readonly results: StoredTrigger[];
  /** Matching triggers over all pages. */
  readonly total: number;
}

/**
 * How the triggers table answers Kestra's filters. startDate and endDate compare the next fire date (Kestra's
 * `nextExecutionDate`); workerId is the scheduler instance holding the trigger (`lock_owner`).
 */
const TRIGGER_FILTER_COLUMNS: FilterColumns = {
  text: { namespace: Prisma.sql`namespace`, flowId: Prisma.sql`flow_id`, triggerId: Prisma.sql`trigger_id`, workerId: Prisma.sql`lock_owner` },
  date: Prisma.sql`next_fire_date`,
  query: (text) => {
    const pattern = `%${escapeLike(text)}%`;
    return Prisma.sql`(namespace ILIKE ${pattern} OR flow_id ILIKE ${pattern} OR trigger_id ILIKE ${pattern})`;
  },
  scope: true,
  triggerState: true,
};

/** The sort keys of a trigger search (Kestra's names) and their columns. */
const TRIGGER_SORT_COLUMNS: Readonly<Record<string, Prisma.Sql>> = {
  namespace: Prisma.sql`namespace`,
  flowId: Prisma.sql`flow_id`,
  triggerId: Prisma.sql`trigger_id`,
  nextExecutionDate: Prisma.sql`next_fire_date`,
  date: Prisma.sql`last_fire_date`,
  updatedDate: Prisma.sql`updated_at`,
  workerId: Prisma.sql`lock_owner`,
};
export const TRIGGER_SORT_FIELDS: readonly string[] = Object.keys(TRIGGER_SORT_COLUMNS);

interface TriggerRow {
  namespace: string;
  flow_id: string;
  trigger_id: string;
  next_fire_date: Date | null;
  last_fire_date: Date | null;
  lock_owner: string | null;
  locked_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Trigger reads for the API (the scheduler writes them through SchedulerStore). */
export class TriggerRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Triggers matching every filter, paged, with the total count. Only the triggers of a live flow (its latest revision
   * not deleted) are listed: a row left behind until the scheduler's next sync is not shown.
   */
  async search(search: TriggerSearch): Promise<TriggerSearchResult> {
    if (!Number.isInteger(search.page) || search.page < 1) throw new RangeError(`page must be an integer >= 1, got ${search.page}`);
    if (!Number.isInteger(search.size) || search.size < 1 || search.size > 1000) {
      throw new RangeError(`size must be an integer from 1 to 1000, got ${search.size}`);
    }
    const conditions: Prisma.Sql[] = [
      Prisma.sql`EXISTS (SELECT 1 FROM flows f WHERE f.namespace = t.namespace AND f.flow_id = t.flow_id AND f.latest AND NOT f.deleted)`,
      ...filterConditions(search.filters, TRIGGER_FILTER_COLUMNS),
    ];
    const where = Prisma.join(conditions, ' AND ');
    const key = Prisma.sql`namespace, flow_id, trigger_id`;
    const order = orderBy(search.sort, TRIGGER_SORT_COLUMNS, key, key);
    const offset = (search.page - 1) * search.size;
    const [rows, counts] = await Promise.all([
      this.prisma.$queryRaw<TriggerRow[]>`
        SELECT namespace, flow_id, trigger_id, next_fire_date, last_fire_date, lock_owner, locked_until, created_at, updated_at
        FROM triggers t WHERE ${where} ORDER BY ${order} LIMIT ${search.size} OFFSET ${offset}`,
      this.prisma.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS total FROM triggers t WHERE ${where}`,
    ]);
    return {
      results: rows.map((row) => ({
        namespace: row.namespace,
        flowId: row.flow_id,
        triggerId: row.trigger_id,
        nextFireDate: row.next_fire_date,
        lastFireDate: row.last_fire_date,
        lockOwner: row.lock_owner,
        lockedUntil: row.locked_until,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      })),
      total: Number(counts[0]?.total ?? 0),
    };
  }
}
