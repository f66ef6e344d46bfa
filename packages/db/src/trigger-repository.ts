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
  /** Disabled over the API: a Schedule does not fire, a Webhook answers 409. */
  readonly disabled: boolean;
}

/** One trigger of one flow. */
export interface TriggerKey {
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
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
  triggerState: Prisma.sql`disabled`,
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
  disabled: boolean;
}

const COLUMNS = Prisma.sql`namespace, flow_id, trigger_id, next_fire_date, last_fire_date, lock_owner, locked_until, created_at, updated_at, disabled`;

function toStored(row: TriggerRow): StoredTrigger {
  return {
    namespace: row.namespace,
    flowId: row.flow_id,
    triggerId: row.trigger_id,
    nextFireDate: row.next_fire_date,
    lastFireDate: row.last_fire_date,
    lockOwner: row.lock_owner,
    lockedUntil: row.locked_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    disabled: row.disabled,
  };
}

/**
 * Trigger reads for the API, and what a user may change of a trigger: `disabled` and the lock. The scheduler writes
 * the rest through SchedulerStore.
 */
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
      this.prisma.$queryRaw<TriggerRow[]>`SELECT ${COLUMNS} FROM triggers t WHERE ${where} ORDER BY ${order} LIMIT ${search.size} OFFSET ${offset}`,
      this.prisma.$queryRaw<{ total: bigint }[]>`SELECT count(*) AS total FROM triggers t WHERE ${where}`,
    ]);
    return { results: rows.map(toStored), total: Number(counts[0]?.total ?? 0) };
  }

  /** The stored row of one trigger, or undefined (the scheduler has not seen it yet, or it was never disabled). */
  async get(key: TriggerKey): Promise<StoredTrigger | undefined> {
    const rows = await this.prisma.$queryRaw<TriggerRow[]>`
      SELECT ${COLUMNS} FROM triggers WHERE namespace = ${key.namespace} AND flow_id = ${key.flowId} AND trigger_id = ${key.triggerId}`;
    const [row] = rows;
    return row ? toStored(row) : undefined;
  }

  /**
   * Disable or enable triggers, in one statement: a row is created for a trigger that has none yet (a Webhook, or a
   * Schedule the scheduler has not synced); the scheduler fills in a new row's next fire date at its next sync.
   * Enabling a Schedule whose next tick passed while it was disabled clears that date: the scheduler then resumes it
   * from its next tick after now (its next sync), so the ticks missed while disabled are not fired in a burst.
   * Returns the rows as stored, in the order of `keys` (a key given twice once).
   */
  async setDisabled(keys: readonly TriggerKey[], disabled: boolean): Promise<StoredTrigger[]> {
    if (keys.length === 0) return [];
    const values = Prisma.join(keys.map((k) => Prisma.sql`(${k.namespace}, ${k.flowId}, ${k.triggerId})`));
    const rows = await this.prisma.$queryRaw<TriggerRow[]>`
      INSERT INTO triggers AS t (namespace, flow_id, trigger_id, disabled, updated_at)
      SELECT DISTINCT v.namespace, v.flow_id, v.trigger_id, ${disabled}::boolean, now() FROM (VALUES ${values}) AS v (namespace, flow_id, trigger_id)
      ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET
        disabled = EXCLUDED.disabled,
        next_fire_date = CASE WHEN t.disabled AND NOT EXCLUDED.disabled AND t.next_fire_date < now() THEN NULL ELSE t.next_fire_date END,
        updated_at = now()
      RETURNING ${COLUMNS}`;
    const key = (t: { namespace: string; flowId: string; triggerId: string }): string => `${t.namespace}\u0000${t.flowId}\u0000${t.triggerId}`;
    const byKey = new Map(rows.map((row) => [key({ namespace: row.namespace, flowId: row.flow_id, triggerId: row.trigger_id }), toStored(row)]));
    return [...new Set(keys.map(key))].map((k) => byKey.get(k)).filter((t): t is StoredTrigger => t !== undefined);
  }

  /**
   * Release a trigger held by a scheduler instance (Kestra's unlock): the lock owner and its expiry are cleared, so
   * any instance may evaluate it next. Undefined when the trigger has no row.
   */
  async unlock(key: TriggerKey): Promise<StoredTrigger | undefined> {
    const rows = await this.prisma.$queryRaw<TriggerRow[]>`
      UPDATE triggers SET lock_owner = NULL, locked_until = NULL, updated_at = now()
      WHERE namespace = ${key.namespace} AND flow_id = ${key.flowId} AND trigger_id = ${key.triggerId}
      RETURNING ${COLUMNS}`;
    const [row] = rows;
    return row ? toStored(row) : undefined;
  }
}
