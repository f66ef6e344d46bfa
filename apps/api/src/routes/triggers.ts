/**
 * Trigger endpoints, with Kestra's paths and shapes, under `/api/v1` (and `/api/v1/{tenant}`):
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET /triggers/search?filters[field][OP]=value&page&size&sort` | 200 `{results: [{abstractTrigger, triggerContext}], total}` | 400 an unknown field, operation, parameter or sort key, a malformed filter |
 * | `PUT /triggers` (JSON: Kestra's Trigger, `{namespace, flowId, triggerId, disabled}`) | 200 the trigger's context | 400 a malformed body, a property Sluice cannot apply (`backfill`); 404 no such trigger |
 * | `POST /triggers/set-disabled/by-triggers` (JSON: `{triggers: [{namespace, flowId, triggerId}], disabled}`) | 200 `{count}` | 400 a malformed body, or a trigger unknown (none changed, `details.invalids`) |
 * | `POST /triggers/set-disabled/by-query?disabled=true&filters[field][OP]=value` | 200 `{count}`: every stored trigger the search matches | 400 as the search; more than {@link BULK_MAX} matched |
 * | `POST /triggers/{namespace}/{flowId}/{triggerId}/unlock` | 200 the trigger's context, its lock released | 404 no such trigger |
 *
 * The filters (search-query.ts): namespace, flowId, triggerId, workerId, startDate, endDate and timeRange (on the
 * next fire date), q (text in the namespace, flow id or trigger id), scope, triggerState. Sort keys: namespace,
 * flowId, triggerId, nextExecutionDate, date, updatedDate, workerId (by namespace, flow id, trigger id by default).
 *
 * A result is Kestra's `Triggers`: `abstractTrigger` is the trigger as the flow's latest revision declares it (null
 * when that revision no longer has it), `triggerContext` Kestra's Trigger as far as Sluice stores it: namespace,
 * flowId, triggerId, `date` (the last time it fired, left out if never), `nextExecutionDate` (left out when nothing is
 * scheduled), `updatedDate`, `workerId` (the scheduler instance holding it, while it does) and `disabled` (set over
 * this API; the triggers of a disabled flow are not stored). Only the triggers of live flows are listed.
 *
 * Disabling is stored apart from the flow (the `triggers` row; one is made when the trigger has none yet), as in
 * Kestra: the YAML is not changed, and a trigger disabled in its YAML stays so whatever this API says. A disabled
 * Schedule does not fire; enabled again, it goes on from its next tick (the ticks missed meanwhile are not fired). A
 * disabled Webhook answers 409. A trigger must be declared by the flow's latest revision to be changed.
 */
import { SluiceError } from '@sluice/core';
import type { StoredTrigger, TriggerKey, TriggerRepository } from '@sluice/db';
import { TRIGGER_SORT_FIELDS } from '@sluice/db';
import type { FastifyPluginAsync } from 'fastify';
import type { FlowStore, StoredFlow } from '../flow-store.js';
import { BULK_MAX, parseJsonBody } from './executions.js';
import { pagingQueryProperties, rejectUnknownQueryParameters } from './http.js';
import { filtersDescription, parseSearchQuery, rejectUnknownSearchParameters, searchErrors, sortProperty } from './search-query.js';

export type TriggerStore = Pick<TriggerRepository, 'search' | 'get' | 'setDisabled' | 'unlock'>;

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
    disabled: trigger.disabled,
  };
}

/** The context of a declared trigger the scheduler has no row for yet (a Webhook never disabled, a new Schedule). */
function unstoredTrigger(key: TriggerKey, now: Date): StoredTrigger {
  return { ...key, nextFireDate: null, lastFireDate: null, lockOwner: null, lockedUntil: null, createdAt: now, updatedAt: now, disabled: false };
}

function triggerNotFound(key: TriggerKey): SluiceError {
  return new SluiceError('SLU_API_TRIGGER_NOT_FOUND', { ...key }, { ...key });
}

/** The fields of Kestra's Trigger a body may carry: the key and `disabled` are applied, the others are the server's own. */
const TRIGGER_READ_ONLY = ['tenantId', 'date', 'nextExecutionDate', 'updatedDate', 'evaluateRunningDate', 'workerId', 'executionId', 'stopAfter'];

/** Kestra's Trigger as the body of `PUT /triggers`. */
const triggerBody = {
  type: 'object',
  required: ['namespace', 'flowId', 'triggerId'],
  properties: {
    namespace: { type: 'string', minLength: 1 },
    flowId: { type: 'string', minLength: 1 },
    triggerId: { type: 'string', minLength: 1 },
    disabled: { type: 'boolean' },
    backfill: { type: ['object', 'null'] },
    ...Object.fromEntries(TRIGGER_READ_ONLY.map((name) => [name, {}])),
  },
} as const;

const triggerKeyBody = {
  type: 'object',
  required: ['namespace', 'flowId', 'triggerId'],
  properties: { namespace: { type: 'string', minLength: 1 }, flowId: { type: 'string', minLength: 1 }, triggerId: { type: 'string', minLength: 1 } },
} as const;

/** Kestra's TriggerControllerSetDisabledRequest. */
const setDisabledBody = {
  type: 'object',
  required: ['triggers', 'disabled'],
  properties: { triggers: { type: 'array', maxItems: BULK_MAX, items: triggerKeyBody }, disabled: { type: 'boolean' } },
} as const;

const bulkResponse = { type: 'object', required: ['count'], properties: { count: { type: 'integer' } } } as const;

/** 400 naming the first property of `body` (at `path`) the schema does not list: Fastify would drop it silently. */
function rejectUnknownProperties(body: unknown, schema: { readonly properties: Readonly<Record<string, unknown>> }, path: string): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const unknown = Object.keys(body).find((name) => !(name in schema.properties));
  if (unknown === undefined) return;
  throw new SluiceError(
    'SLU_API_BAD_REQUEST',
    { reason: `unknown property ${JSON.stringify(unknown)} in ${path}: it takes ${Object.keys(schema.properties).join(', ')}` },
    { in: 'body', property: unknown },
  );
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
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);

  /** The triggers of `keys` that the latest revision of their flow does not declare (one flow read per flow). */
  async function undeclared(keys: readonly TriggerKey[]): Promise<TriggerKey[]> {
    const byFlow = new Map<string, Promise<StoredFlow | undefined>>();
    const missing: TriggerKey[] = [];
    for (const key of keys) {
      const id = `${key.namespace}\u0000${key.flowId}`;
      if (!byFlow.has(id)) byFlow.set(id, flows.get(key.namespace, key.flowId));
      const flow = await byFlow.get(id);
      if (!flow || flow.deleted || declared(flow, key.triggerId) === null) missing.push(key);
    }
    return missing;
  }

  async function requireDeclared(key: TriggerKey): Promise<void> {
    if ((await undeclared([key])).length > 0) throw triggerNotFound(key);
  }

  app.put(
    '/triggers',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Disable or enable a trigger (Kestra: update a trigger)',
        description:
          "Kestra's Trigger: `namespace`, `flowId`, `triggerId` name it, `disabled` is applied; the server's own fields (date, nextExecutionDate...) may be sent back and are not changed. A `backfill` is a 400: Sluice does not start backfills over the API.",
        consumes: ['application/json'],
        body: triggerBody,
      },
      preValidation: rejectUnknownQueryParameters({}),
    },
    async (request) => {
      rejectUnknownProperties(request.body, triggerBody, 'the trigger');
      const body = request.body as TriggerKey & { disabled?: boolean; backfill?: unknown };
      if (body.backfill !== undefined && body.backfill !== null) {
        throw new SluiceError('SLU_API_BAD_REQUEST', { reason: 'backfill cannot be set over the API: declare it in the Schedule trigger' }, { in: 'body', property: 'backfill' });
      }
      const key = { namespace: body.namespace, flowId: body.flowId, triggerId: body.triggerId };
      await requireDeclared(key);
      const stored = body.disabled === undefined ? await triggers.get(key) : (await triggers.setDisabled([key], body.disabled))[0];
      return triggerContextJson(stored ?? unstoredTrigger(key, new Date()));
    },
  );

  app.post(
    '/triggers/set-disabled/by-triggers',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Disable or enable the given triggers',
        description: `Answers \`{count}\`, the triggers changed. Nothing is changed when one of them is not declared by its flow: 400 with \`details.invalids\`. At most ${BULK_MAX}.`,
        consumes: ['application/json'],
        body: setDisabledBody,
        response: { 200: bulkResponse },
      },
      preValidation: rejectUnknownQueryParameters({}),
    },
    async (request) => {
      rejectUnknownProperties(request.body, setDisabledBody, 'the request');
      const body = request.body as { triggers: (TriggerKey & Record<string, unknown>)[]; disabled: boolean };
      body.triggers.forEach((t, i) => rejectUnknownProperties(t, triggerKeyBody, `triggers[${i}]`));
      const keys = body.triggers.map((t) => ({ namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId }));
      const invalids = await undeclared(keys);
      if (invalids.length > 0) {
        const names = invalids.map((k) => `${k.namespace}.${k.flowId}/${k.triggerId}`).join(', ');
        throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `no such trigger: ${names} (nothing changed)` }, { in: 'body', invalids });
      }
      return { count: (await triggers.setDisabled(keys, body.disabled)).length };
    },
  );

  const byQuery = { type: 'object', properties: { disabled: { type: 'boolean', default: true, description: 'true disables, false enables' } } } as const;
  app.post(
    '/triggers/set-disabled/by-query',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Disable or enable every trigger the search filters match',
        description: `The filters of \`GET /triggers/search\` (no paging). Answers \`{count}\`. More than ${BULK_MAX} matched is a 400, nothing changed.`,
        querystring: byQuery,
        response: { 200: bulkResponse },
      },
      preValidation: rejectUnknownSearchParameters(byQuery),
    },
    async (request) => {
      const { disabled } = request.query as { disabled: boolean };
      const { filters } = parseSearchQuery(request.query as Record<string, unknown>, 'triggers', TRIGGER_SORT_FIELDS);
      const found = await searchErrors(triggers.search({ filters, page: 1, size: BULK_MAX }));
      if (found.total > BULK_MAX) {
        throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `${found.total} triggers match: at most ${BULK_MAX} may be changed at once; narrow the filters` }, { in: 'query', total: found.total });
      }
      const keys = found.results.map((t) => ({ namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId }));
      return { count: (await triggers.setDisabled(keys, disabled)).length };
    },
  );

  app.post(
    '/triggers/:namespace/:flowId/:triggerId/unlock',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Release the lock a scheduler instance holds on a trigger',
        params: triggerKeyBody,
      },
      preValidation: rejectUnknownQueryParameters({}),
    },
    async (request) => {
      const { namespace, flowId, triggerId } = request.params as TriggerKey;
      const key = { namespace, flowId, triggerId };
      await requireDeclared(key);
      return triggerContextJson((await triggers.unlock(key)) ?? unstoredTrigger(key, new Date()));
    },
  );

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
