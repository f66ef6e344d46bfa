/**
 * What the flow routes need from persistence, and nothing more. `db-flow-store.ts` adapts `@sluice/db`'s
 * `FlowRepository` to it; the routes never see Prisma.
 *
 * Semantics every implementation keeps:
 * - `save` stores a new revision only when the source differs from the latest one (or the flow was deleted); saving
 *   the same source again returns the latest revision unchanged.
 * - `get` without a revision and `search` ignore deleted flows; `delete` is soft (revisions are kept).
 * - Not covered: transactions across several flows (a namespace deploy validates everything first, then writes
 *   flow by flow), locking between two concurrent creates of the same id.
 */
import type { SearchFilter, SearchSort } from '@sluice/db';

export interface StoredFlow {
  readonly namespace: string;
  readonly id: string;
  /** 1-based, increasing by one per saved change. */
  readonly revision: number;
  /** The YAML exactly as the client sent it. */
  readonly source: string;
  /** The validated flow, as JSON. */
  readonly flow: Record<string, unknown>;
  readonly deleted: boolean;
  readonly updated?: Date;
}

export interface FlowSearch {
  /** Exact namespace or a parent namespace (`company` matches `company.team`), as Kestra. */
  readonly namespace?: string;
  /** Free text over namespace and id. */
  readonly q?: string;
  /** Kestra 1.x's filters (namespace, flowId, labels, q, scope), all matched. */
  readonly filters?: readonly SearchFilter[];
  /** Sort keys (`FLOW_SORT_FIELDS`); by namespace then id when absent. */
  readonly sort?: readonly SearchSort[];
  /** 1-based. */
  readonly page: number;
  readonly size: number;
}

export interface FlowStore {
  save(namespace: string, id: string, source: string, flow: Record<string, unknown>): Promise<StoredFlow>;
  /** The latest non-deleted revision, or a given revision (deleted or not); undefined when absent. */
  get(namespace: string, id: string, revision?: number): Promise<StoredFlow | undefined>;
  /** Every revision, oldest first; empty when the flow never existed. */
  revisions(namespace: string, id: string): Promise<StoredFlow[]>;
  /** Soft delete; false when there was nothing (non-deleted) to delete. */
  delete(namespace: string, id: string): Promise<boolean>;
  search(query: FlowSearch): Promise<{ results: StoredFlow[]; total: number }>;
  /** Resolves when the database answers; rejects otherwise (health checks). */
  ping(): Promise<void>;
}
