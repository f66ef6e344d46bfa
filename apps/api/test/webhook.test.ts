/**
 * The Webhook trigger's route on Postgres, under `/api/v1/...` and `/api/v1/main/...`: the key (a wrong one is a
 * 404, never a 401, and creates nothing), bodies (JSON object or array parsed, other text as is, unicode, 20 MB
 * refused with 413 and nothing created, not UTF-8), query parameters and headers as lists, the flow's and the
 * trigger's `disabled` (YAML and API) as 409, conditions false as 204, the route open with `SLUICE_API_TOKEN` set,
 * the rate limit (429 with Retry-After), and flow validation of the trigger (MultipleCondition, secret(), key length).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createFlows, startApi, YAML } from './fixture.js';

const TOKEN = 'webhook-test-token';
const api = await startApi({ apiToken: TOKEN });

const NS = 'webhook.api';
const KEY = 'k3y-0f-the-h00k_with.sp3cial~chars';

function webhookFlow(id: string, extra = '', trigger = ''): string {
  return `id: ${id}
namespace: ${NS}
labels:
  team: data
inputs:
  - id: who
    type: STRING
    defaults: world
${extra}tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: ${KEY}
${trigger}`;
}

/** A webhook call, never carrying the API token. */
function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${api!.url}${path}`, init);
}

async function executionCount(flowId: string): Promise<number> {
  return api!.db.prisma.execution.count({ where: { namespace: NS, flowId } });
}

interface ExecutionJson {
  id: string;
  namespace: string;
  flowId: string;
  state: { current: string };
  labels: { key: string; value: string }[];
  inputs: Record<string, unknown>;
  trigger: { id: string; type: string; variables: { body: unknown; headers: Record<string, string[]>; parameters: Record<string, string[]> } };
}

describe.skipIf(!api)('the Webhook trigger', () => {
  const a = api!;
  afterAll(async () => a.close());

  it('saves flows with a Webhook trigger, and refuses MultipleCondition, an unknown condition, secret() and a key over 256 characters', async () => {
    await createFlows(a, [
      webhookFlow('hooked'),
      webhookFlow('alias').replace('io.kestra.plugin.core.trigger.Webhook', 'io.kestra.core.models.triggers.types.Webhook'),
      webhookFlow('off', 'disabled: true\n'),
      webhookFlow('trigger-off', '', '    disabled: true\n'),
      webhookFlow('api-off'),
      webhookFlow(
        'picky',
        '',
        `    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.body.go == 'yes' }}"
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: webhook
        comparison: PREFIX
`,
      ),
    ]);
    const refused = async (source: string, pattern: RegExp): Promise<void> => {
      const response = await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: source });
      const text = await response.text();
      expect(response.status, text).toBe(400);
      const { message, details } = JSON.parse(text) as { message: string; details: { path: string } };
      expect(`${details.path}: ${message}`).toMatch(pattern);
    };
    await refused(
      webhookFlow('multi', '', `    conditions:\n      - type: io.kestra.core.models.conditions.types.MultipleCondition\n        id: m\n        conditions: {}\n`),
      /triggers\[0\]\.conditions\[0\]\.type.*MultipleCondition is not allowed on a Webhook trigger/,
    );
    await refused(
      webhookFlow('unknown', '', `    conditions:\n      - type: io.kestra.plugin.core.condition.Nope\n`),
      /triggers\[0\]\.conditions\[0\]\.type: condition type "io\.kestra\.plugin\.core\.condition\.Nope" is not supported on a Webhook trigger/,
    );
    await refused(webhookFlow('secret').replace(`key: ${KEY}`, `key: "{{ secret('HOOK') }}"`), /secret\(\) is not available here/);
    await refused(webhookFlow('long').replace(`key: ${KEY}`, `key: ${'k'.repeat(257)}`), /triggers\[0\]\.key/);
    await refused(webhookFlow('nokey').replace(`    key: ${KEY}\n`, ''), /key/);
  });

  for (const prefix of ['/api/v1', '/api/v1/main']) {
    it(`${prefix}: a POST with a JSON object starts an execution without the API token, with trigger.body, headers and parameters`, async () => {
      const response = await call(`${prefix}/executions/webhook/${NS}/hooked/${KEY}?a=1&a=2&b=%C3%A9t%C3%A9`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-custom': 'one' },
        body: JSON.stringify({ x: 42, name: 'Zoë 🚀', nested: { list: [1, 2] } }),
      });
      const text = await response.text();
      expect(response.status, text).toBe(200);
      const execution = JSON.parse(text) as ExecutionJson;
      expect(execution).toMatchObject({ namespace: NS, flowId: 'hooked', state: { current: 'CREATED' }, inputs: { who: 'world' } });
      expect(execution.labels).toContainEqual({ key: 'team', value: 'data' });
      expect(execution.trigger.id).toBe('hook');
      expect(execution.trigger.type).toBe('io.kestra.plugin.core.trigger.Webhook');
      expect(execution.trigger.variables.body).toEqual({ x: 42, name: 'Zoë 🚀', nested: { list: [1, 2] } });
      expect(execution.trigger.variables.parameters).toEqual({ a: ['1', '2'], b: ['été'] });
      expect(execution.trigger.variables.headers['x-custom']).toEqual(['one']);
      expect(execution.trigger.variables.headers['content-type']).toEqual(['application/json']);
      // Stored as the API answered it, and handed to the scheduler like any created execution.
      const stored = await a.db.executions.get(execution.id);
      expect(stored?.trigger).toEqual(execution.trigger);
      expect(a.queue.events.some((e) => e.type === 'executionCreated' && e.event.executionId === execution.id)).toBe(true);
      // The same JSON as GET /executions/{id} (but the running duration, which grows).
      const read = (await (await a.fetch(`${prefix}/executions/${execution.id}`)).json()) as ExecutionJson & { state: { duration?: string } };
      const withoutDuration = (e: ExecutionJson): unknown => ({ ...e, state: { ...e.state, duration: undefined } });
      expect(withoutDuration(read)).toEqual(withoutDuration(execution));
    });
  }

  it('GET and PUT work too; a trigger type alias matches', async () => {
    const get = await call(`/api/v1/executions/webhook/${NS}/alias/${KEY}?tag=a&tag=b&tag=`);
    expect(get.status).toBe(200);
    const fromGet = (await get.json()) as ExecutionJson;
    expect(fromGet.trigger.variables.body).toBeNull();
    expect(fromGet.trigger.variables.parameters).toEqual({ tag: ['a', 'b', ''] });
    const put = await call(`/api/v1/executions/webhook/${NS}/alias/${KEY}`, { method: 'PUT', body: '[1,"two"]', headers: { 'content-type': 'text/plain' } });
    expect(put.status).toBe(200);
    expect(((await put.json()) as ExecutionJson).trigger.variables.body).toEqual([1, 'two']);
  });

  it('a body that is not a JSON object or array is passed as text, whatever its content type', async () => {
    const bodies: [string, Record<string, string>][] = [
      ['plain text, not JSON {', { 'content-type': 'application/json' }],
      ['42', { 'content-type': 'application/json' }],
      ['"quoted"', {}],
      ['<xml>ünïcödé 日本</xml>', { 'content-type': 'application/xml' }],
      ['a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' }],
    ];
    for (const [body, headers] of bodies) {
      const response = await call(`/api/v1/executions/webhook/${NS}/hooked/${KEY}`, { method: 'POST', body, headers });
      const text = await response.text();
      expect(response.status, `${body}: ${text}`).toBe(200);
      expect((JSON.parse(text) as ExecutionJson).trigger.variables.body, body).toBe(body);
    }
  });

  it('repeated headers are lists, in order', async () => {
    const headers = new Headers();
    headers.append('x-many', 'first');
    headers.append('x-many', 'second');
    const response = await call(`/api/v1/executions/webhook/${NS}/hooked/${KEY}`, { method: 'POST', headers });
    expect(response.status).toBe(200);
    // fetch joins repeated headers into one line, as HTTP allows: the server sees one header with both values.
    const { variables } = ((await response.json()) as ExecutionJson).trigger;
    expect(variables.headers['x-many']).toEqual(['first, second']);
  });

  it('a wrong key is a 404 naming the webhook, an unknown flow a 404 naming the flow; nothing is created', async () => {
    const before = await executionCount('hooked');
    for (const key of ['wrong', KEY.slice(0, -1), `${KEY}x`, KEY.toUpperCase(), ' ']) {
      const response = await call(`/api/v1/executions/webhook/${NS}/hooked/${encodeURIComponent(key)}`, { method: 'POST', body: '{}' });
      const body = (await response.json()) as { code: string; message: string };
      expect(response.status, key).toBe(404);
      expect(body.code).toBe('SLU_API_WEBHOOK_NOT_FOUND');
      expect(body.message).not.toContain(key.trim() || 'nothing');
    }
    const missing = await call(`/api/v1/main/executions/webhook/${NS}/nope/${KEY}`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe('SLU_API_FLOW_NOT_FOUND');
    const tooLong = await call(`/api/v1/executions/webhook/${NS}/hooked/${'k'.repeat(300)}`, { method: 'POST' });
    expect(tooLong.status).toBe(400);
    expect(await executionCount('hooked')).toBe(before);
  });

  it('a 20 MB body is a 413 within the body limit, and nothing is created', async () => {
    const before = await executionCount('hooked');
    const response = await call(`/api/v1/executions/webhook/${NS}/hooked/${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"x":"${'a'.repeat(20 * 1024 * 1024)}"}`,
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { code: string }).code).toBe('SLU_API_BODY_TOO_LARGE');
    expect(await executionCount('hooked')).toBe(before);
  });

  it('a body that is not UTF-8, or holds a NUL, is a 400 naming it; nothing is created', async () => {
    const before = await executionCount('hooked');
    const latin1 = await call(`/api/v1/executions/webhook/${NS}/hooked/${KEY}`, { method: 'POST', body: new Uint8Array([0x63, 0x61, 0x66, 0xe9]) });
    expect(latin1.status).toBe(400);
    expect(((await latin1.json()) as { message: string }).message).toMatch(/not valid UTF-8/);
    const nul = await call(`/api/v1/executions/webhook/${NS}/hooked/${KEY}`, { method: 'POST', body: '{"x":"a\\u0000b"}' });
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { code: string; message: string }).code).toBe('SLU_API_INVALID_CHARACTER');
    expect(await executionCount('hooked')).toBe(before);
  });

  it('a disabled flow, or a trigger disabled in the YAML, is a 409 for the right key only', async () => {
    const off = await call(`/api/v1/executions/webhook/${NS}/off/${KEY}`, { method: 'POST' });
    expect(off.status).toBe(409);
    expect(((await off.json()) as { code: string }).code).toBe('SLU_API_FLOW_DISABLED');
    const wrongKey = await call(`/api/v1/executions/webhook/${NS}/off/nope`, { method: 'POST' });
    expect(wrongKey.status).toBe(404);
    const triggerOff = await call(`/api/v1/executions/webhook/${NS}/trigger-off/${KEY}`, { method: 'POST' });
    expect(triggerOff.status).toBe(409);
    expect(await triggerOff.json()).toMatchObject({ code: 'SLU_API_TRIGGER_DISABLED', details: { triggerId: 'hook', disabledIn: 'flow' } });
    expect(await executionCount('off')).toBe(0);
    expect(await executionCount('trigger-off')).toBe(0);
  });

  it('a trigger disabled over the API is a 409, and answers again once enabled', async () => {
    const hook = `/api/v1/executions/webhook/${NS}/api-off/${KEY}`;
    const set = async (disabled: boolean): Promise<void> => {
      const response = await a.fetch('/api/v1/triggers', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ namespace: NS, flowId: 'api-off', triggerId: 'hook', disabled }),
      });
      expect(response.status, await response.clone().text()).toBe(200);
      expect(((await response.json()) as { disabled: boolean }).disabled).toBe(disabled);
    };
    await set(true);
    const refused = await call(hook, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'SLU_API_TRIGGER_DISABLED', details: { disabledIn: 'api' } });
    expect(await executionCount('api-off')).toBe(0);
    await set(false);
    expect((await call(hook, { method: 'POST' })).status).toBe(200);
  });

  it('conditions false: 204 and nothing created; true: the execution', async () => {
    const hook = `/api/v1/executions/webhook/${NS}/picky/${KEY}`;
    const no = await call(hook, { method: 'POST', body: '{"go":"no"}', headers: { 'content-type': 'application/json' } });
    expect(no.status).toBe(204);
    expect(await no.text()).toBe('');
    const noBody = await call(hook, { method: 'POST' }); // trigger.body.go undefined: the condition throws, so false
    expect(noBody.status).toBe(204);
    expect(await executionCount('picky')).toBe(0);
    const yes = await call(hook, { method: 'POST', body: '{"go":"yes"}', headers: { 'content-type': 'application/json' } });
    expect(yes.status).toBe(200);
    expect(await executionCount('picky')).toBe(1);
  });

  it('other routes still need the API token', async () => {
    expect((await call(`/api/v1/flows/${NS}/hooked`)).status).toBe(401);
    expect((await call(`/api/v1/executions/${NS}/hooked`, { method: 'POST' })).status).toBe(401);
    expect((await call('/api/v1/triggers/search')).status).toBe(401);
    expect((await call(`/api/v1/executions/webhook/${NS}/hooked`, { method: 'POST' })).status).toBe(401); // not the webhook route
    expect((await a.fetch(`/api/v1/flows/${NS}/hooked`)).status).toBe(200);
  });

  it('the rate limit (its own API, 3 per minute): the 4th call within the minute is a 429 with Retry-After', async () => {
    const limited = await startApi({ webhookRateLimit: { limit: 3, period: 'minute' } });
    if (!limited) throw new Error('no database');
    try {
      await createFlows(limited, [webhookFlow('limited')]);
      await rateLimited(limited.url);
    } finally {
      await limited.close();
    }
  });

  async function rateLimited(url: string): Promise<void> {
    const hook = `${url}/api/v1/executions/webhook/${NS}/limited/${KEY}`;
    // A wrong key is refused before it is counted.
    for (let i = 0; i < 5; i++) expect((await fetch(`${url}/api/v1/executions/webhook/${NS}/limited/wrong`, { method: 'POST' })).status).toBe(404);
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await fetch(hook, { method: 'POST' });
      statuses.push(last.status);
    }
    // Three pass unless the minute turned between them (then the count restarted, and all four may pass).
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    if (statuses[3] === 429) {
      const retryAfter = Number(last!.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await last!.json()).toMatchObject({ code: 'SLU_API_RATE_LIMITED', details: { limit: 3, period: 'minute' } });
    } else {
      expect(statuses[3]).toBe(200);
    }
  }
});
