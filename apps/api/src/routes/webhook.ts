/**
 * The Webhook trigger's route (Kestra's `io.kestra.plugin.core.trigger.Webhook`), under `/api/v1` and
 * `/api/v1/{tenant}`. It is open without the API token (auth.ts): the key in the path is the credential.
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET\|POST\|PUT /executions/webhook/{namespace}/{flowId}/{key}` (any body, any content type) | 200 the execution (CREATED), as `POST /executions/{namespace}/{id}` answers it; 204 the trigger's conditions do not hold (nothing created) | 400 a body that is not UTF-8 text or holds a NUL; 404 no such flow (`SLU_API_FLOW_NOT_FOUND`), no Webhook trigger with this key (`SLU_API_WEBHOOK_NOT_FOUND`); 409 the flow is disabled, or the trigger (in its YAML or over the API); 413 a body over the body limit; 429 over `SLUICE_WEBHOOK_RATE_LIMIT` (with `Retry-After`) |
 *
 * The execution is created as `POST /executions/{namespace}/{id}` creates one (handOffCreated): the flow's labels,
 * its input defaults (none when a required input has no default: Kestra passes no inputs), and `trigger` =
 * `{id, type: io.kestra.plugin.core.trigger.Webhook, variables: {body, headers, parameters}}`, read by the flow as
 * `{{ trigger.body.x }}`:
 * - `body`: the body parsed as JSON when it is an object or an array, else the text as it came; null without a body;
 * - `headers`: header name (lower-cased, as HTTP/2 sends them) → list of values;
 * - `parameters`: query parameter → list of values (`?a=1&a=2` → `["1", "2"]`).
 *
 * The key is matched against every Webhook trigger of the flow's latest revision, each compared in constant time
 * (both sides hashed first, as auth.ts does), so neither the time taken nor the answer tells how close a guess was.
 * A key with `{{ }}` is rendered with `flow.*` first; `secret()` is refused when the flow is saved (the API holds no
 * secrets). The key is checked before the flow's and the trigger's `disabled`: a caller without it learns no more
 * than that the flow exists.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TextDecoder } from 'node:util';
import { evaluateConditions, flowLabels, hasExpression, isSluiceError, mergeLabels, renderTemplate, resolveInputs, SluiceError } from '@sluice/core';
import type { Flow, TriggerSpec } from '@sluice/core';
import type { StoredExecution } from '@sluice/db';
import { newExecutionId } from '@sluice/db';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ExecutionQueue } from '../execution-queue.js';
import type { FlowStore, StoredFlow } from '../flow-store.js';
import { rejectInvalidCharacters, rejectInvalidCharactersDeep } from '../invalid-characters.js';
import { RateLimiter } from '../rate-limit.js';
import type { RateLimit } from '../rate-limit.js';
import { createdExecutionJson, handOffCreated } from './executions.js';
import type { ExecutionStore } from './executions.js';
import type { TriggerStore } from './triggers.js';

/** The type a webhook-started execution's `trigger` names, whichever alias the flow used. */
export const WEBHOOK_TYPE = 'io.kestra.plugin.core.trigger.Webhook';
const WEBHOOK_TYPES: ReadonlySet<string> = new Set([WEBHOOK_TYPE.toLowerCase(), 'io.kestra.core.models.triggers.types.webhook']);

export interface WebhookRouteOptions {
  readonly flows: FlowStore;
  readonly executions: ExecutionStore;
  readonly queue: ExecutionQueue;
  /** The stored trigger rows: a Webhook disabled over the API answers 409. */
  readonly triggers: Pick<TriggerStore, 'get'>;
  /** Largest body in bytes (the server's body limit). */
  readonly bodyLimit: number;
  /** `SLUICE_WEBHOOK_RATE_LIMIT`; none: no limit. */
  readonly rateLimit?: RateLimit;
  readonly publicUrl?: string;
  readonly tenant?: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The flow's Webhook triggers. */
function webhooksOf(flow: Flow): TriggerSpec[] {
  return (flow.triggers ?? []).filter((t) => typeof t?.type === 'string' && WEBHOOK_TYPES.has(t.type.toLowerCase()));
}

/** A trigger's key as compared: rendered when it holds an expression (with `flow.*`), trimmed; undefined when it cannot be. */
async function keyOf(trigger: TriggerSpec, stored: StoredFlow): Promise<string | undefined> {
  if (typeof trigger.key !== 'string') return undefined;
  if (!hasExpression(trigger.key)) return trigger.key.trim();
  try {
    return (await renderTemplate(trigger.key, { flow: { id: stored.id, namespace: stored.namespace, revision: stored.revision } })).trim();
  } catch {
    return undefined;
  }
}

/** The Webhook trigger whose key is `given`: every one compared, in constant time, whichever matches. */
async function matchingWebhook(stored: StoredFlow, given: string): Promise<TriggerSpec | undefined> {
  const expected = digest(given);
  let found: TriggerSpec | undefined;
  for (const trigger of webhooksOf(stored.flow as unknown as Flow)) {
    const key = await keyOf(trigger, stored);
    const same = timingSafeEqual(digest(key ?? ''), expected) && key !== undefined;
    if (same && found === undefined) found = trigger;
  }
  return found;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `trigger.body`: a JSON object or array parsed, any other text as is, null without a body. */
function bodyOf(raw: unknown): unknown {
  if (!Buffer.isBuffer(raw) || raw.length === 0) return null;
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new SluiceError('SLU_API_BAD_REQUEST', { reason: 'the request body is not valid UTF-8 text' }, { in: 'body' });
  }
  let body: unknown = text;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) body = parsed;
  } catch {
    // Not JSON: passed on as text, as Kestra does.
  }
  // Postgres cannot store a NUL: a 400 naming where it is, rather than a 500 when the execution is stored.
  rejectInvalidCharactersDeep(['trigger', 'body'], body, 'body');
  return body;
}

/** `trigger.headers`: each header name (lower-cased) with every value it was sent with, in order. */
function headersOf(request: FastifyRequest): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  const raw = request.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    (headers[name] ??= []).push(raw[i + 1] as string);
  }
  return headers;
}

/** `trigger.parameters`: each query parameter with every value it was given, in order. */
function parametersOf(request: FastifyRequest): Record<string, string[]> {
  const parameters: Record<string, string[]> = {};
  const question = request.url.indexOf('?');
  if (question < 0) return parameters;
  for (const [name, value] of new URLSearchParams(request.url.slice(question + 1))) {
    rejectInvalidCharacters(`parameters.${name}`, value, 'query');
    (parameters[name] ??= []).push(value);
  }
  return parameters;
}

/** The flow's input defaults; none when one cannot be typed without a value (a required input without default). */
function defaultInputs(flow: Flow): Record<string, unknown> {
  try {
    return resolveInputs(flow.inputs, {});
  } catch (error) {
    if (isSluiceError(error) && error.code === 'SLU_INPUT_INVALID') return {};
    throw error;
  }
}

const params = {
  type: 'object',
  required: ['namespace', 'flowId', 'key'],
  properties: { namespace: { type: 'string' }, flowId: { type: 'string' }, key: { type: 'string', maxLength: 256 } },
} as const;

export const webhookRoutes: FastifyPluginAsync<WebhookRouteOptions> = async (app, options) => {
  const { flows, executions, queue, triggers } = options;
  const created = createdExecutionJson(flows, options);
  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;

  // Any body, any content type (none included), read as bytes within the body limit: a webhook's sender decides.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (_request, body, done) => done(null, body));

  app.route({
    method: ['GET', 'POST', 'PUT'],
    url: '/executions/webhook/:namespace/:flowId/:key',
    schema: {
      tags: ['executions'],
      summary: 'Start a flow from its Webhook trigger (no API token: the key is the credential)',
      description: 'The body (JSON object or array parsed, else text), headers and query parameters reach the flow as trigger.body, trigger.headers, trigger.parameters.',
      params,
    },
    handler: async (request, reply) => {
      const { namespace, flowId, key } = request.params as { namespace: string; flowId: string; key: string };
      const stored = await flows.get(namespace, flowId);
      if (!stored || stored.deleted) throw new SluiceError('SLU_API_FLOW_NOT_FOUND', { namespace, id: flowId, revision: '' }, { namespace, id: flowId });
      const trigger = await matchingWebhook(stored, key);
      if (!trigger) throw new SluiceError('SLU_API_WEBHOOK_NOT_FOUND', { namespace, flowId }, { namespace, flowId });
      const flow = stored.flow as unknown as Flow;
      if (flow.disabled === true) throw new SluiceError('SLU_API_FLOW_DISABLED', { namespace, flowId }, { namespace, flowId });
      const scope = { namespace, flowId, triggerId: trigger.id };
      if (trigger.disabled === true) throw new SluiceError('SLU_API_TRIGGER_DISABLED', { ...scope, where: 'disabled: true in the flow' }, { ...scope, disabledIn: 'flow' });
      if ((await triggers.get(scope))?.disabled) throw new SluiceError('SLU_API_TRIGGER_DISABLED', { ...scope, where: 'disabled over the API' }, { ...scope, disabledIn: 'api' });

      if (limiter) {
        const decision = limiter.take(`${namespace}\u0000${flowId}\u0000${trigger.id}`);
        if (!decision.allowed) {
          void reply.header('retry-after', String(decision.retryAfterSeconds));
          const { limit, period } = limiter.rate;
          throw new SluiceError('SLU_API_RATE_LIMITED', { namespace, flowId, limit, period, retryAfter: decision.retryAfterSeconds }, { limit, period, retryAfterSeconds: decision.retryAfterSeconds });
        }
      }

      const variables = { body: bodyOf(request.body), headers: headersOf(request), parameters: parametersOf(request) };
      const executionId = newExecutionId();
      const labels = mergeLabels(flowLabels(flow));
      // Kestra tests the conditions against the execution it is about to create, so trigger.body... are there.
      const vars = {
        flow: { id: flowId, namespace, revision: stored.revision },
        execution: { id: executionId, state: 'CREATED' },
        trigger: variables,
        labels: Object.fromEntries(labels.map((l) => [l.key, l.value])),
      };
      const conditions = Array.isArray(trigger.conditions) ? (trigger.conditions as unknown[]) : [];
      const context = {
        execution: { id: executionId, namespace, flowId, state: 'CREATED', labels },
        flow: { namespace, id: flowId },
        trigger: variables,
        render: (template: string) => renderTemplate(template, vars),
      };
      if (!(await evaluateConditions(conditions, context))) return reply.status(204).send();

      const execution: StoredExecution = await executions.create({
        id: executionId,
        namespace,
        flowId,
        flowRevision: stored.revision,
        inputs: defaultInputs(flow),
        labels,
        trigger: { id: trigger.id, type: WEBHOOK_TYPE, variables },
      });
      await handOffCreated(executions, queue, execution);
      return created(execution);
    },
  });
};
