/**
 * Trigger endpoints, with Kestra's paths and shapes, under `/api/v1` (and `/api/v1/{tenant}`):
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET /triggers/search?filters[field][OP]=value&page&size&sort` | 200 `{results: [{abstractTrigger, triggerContext}], total}` | 400 an unknown field, operation, parameter or sort key, a malformed filter |
 *
 * The filters (search-query.ts): namespace, flowId, triggerId, workerId, startDate, endDate and timeRange (on the
 * next fire date), q (text in the namespace, flow id or trigger id), scope, triggerState. Sort keys: namespace,
 * flowId, triggerId, nextExecutionDate, date, updatedDate, workerId (by namespace, flow id, trigger id by default).
 *
 * A result is Kestra's `Triggers`: `abstractTrigger` is the trigger as the flow's latest revision declares it (null
 * when that revision no longer has it), `triggerContext` Kestra's Trigger as far as Sluice stores it: namespace,
 * flowId, triggerId, `date` (the last time it fired, left out if never), `nextExecutionDate` (left out when nothing is
 * scheduled), `updatedDate`, `workerId` (the scheduler instance holding it, while it does) and `disabled` (false:
 * the triggers of a disabled flow are not stored). Only the triggers of live flows are listed.
 */
import type { StoredTrigger, TriggerRepository } from '@sluice/db';
import { TRIGGER_SORT_FIELDS } from '@sluice/db';
import type { FastifyPluginAsync } from 'fastify';
import type { FlowStore, StoredFlow } from '../flow-store.js';
import { pagingQueryProperties } from './http.js';
import { filtersDescription, parseSearchQuery, rejectUnknownSearchParameters, searchErrors, sortProperty } from './search-query.js';

export type TriggerStore = Pick<TriggerRepository, 'search'>;

export interface TriggerRouteOptions {
  readonly triggers: TriggerStore;
  readonly flows: FlowStore;
}

/** Kestra's Trigger (the trigger's context) from a stored row. */
export function triggerContextJson(trigger: StoredTrigger, now: Date = new Date()): Record<string, unknown> {
  const held = trigger.lockOwner !== null && trigger.lockedUntil !== null && trigger.lockedUntil > now;
  return {
    namespace: trigger.namespace,
    flowId: trigger.flowId,
    triggerId: trigger.triggerId,
    ...(trigger.lastFireDate === null ? {} : { date: trigger.lastFireDate.toISOString() }),
    ...(trigger.nextFireDate === null ? {} : { nextExecutionDate: trigger.nextFireDate.toISOString() }),
    updatedDate: trigger.updatedAt.toISOString(),
    ...(held ? { workerId: trigger.lockOwner } : {}),
    disabled: false,
  };
}

/** The trigger `triggerId` as the flow declares it, or null. */
function declared(flow: StoredFlow | undefined, triggerId: string): Record<string, unknown> | null {
  const triggers = flow?.flow.triggers;
  if (!Array.isArray(triggers)) return null;
  const found = triggers.find((t): t is Record<string, unknown> => typeof t === 'object' && t !== null && (t as { id?: unknown }).id === triggerId);
  return found ?? null;
}

const searchQuery = { type: 'object', properties: { ...pagingQueryProperties, sort: sortProperty(TRIGGER_SORT_FIELDS) } } as const;

export const triggerRoutes: FastifyPluginAsync<TriggerRouteOptions> = async (app, { triggers, flows }) => {
  app.get(
    '/triggers/search',
    {
      schema: { tags: ['triggers'], summary: 'Search triggers', description: filtersDescription('triggers'), querystring: searchQuery },
      preValidation: rejectUnknownSearchParameters(searchQuery),
    },
    async (request) => {
      const query = request.query as { page: number; size: number };
      const { filters, sort } = parseSearchQuery(request.query as Record<string, unknown>, 'triggers', TRIGGER_SORT_FIELDS);
      const found = await searchErrors(triggers.search({ filters, sort, page: query.page, size: query.size }));
      // One read per flow of the page, not per trigger.
      const byFlow = new Map<string, Promise<StoredFlow | undefined>>();
      const flowOf = (t: StoredTrigger): Promise<StoredFlow | undefined> => {
        const key = `${t.namespace}\u0000${t.flowId}`;
        let read = byFlow.get(key);
        if (read === undefined) {
          read = flows.get(t.namespace, t.flowId);
          byFlow.set(key, read);
        }
        return read;
      };
      const now = new Date();
      const results = await Promise.all(
        found.results.map(async (t) => ({ abstractTrigger: declared(await flowOf(t), t.triggerId), triggerContext: triggerContextJson(t, now) })),
      );
      return { results, total: found.total };
    },
  );
};
