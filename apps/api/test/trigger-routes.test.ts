/**
 * Kestra's trigger management routes on Postgres, under `/api/v1/...` and `/api/v1/main/...`: disable and enable one
 * trigger (`PUT /triggers`), several (`set-disabled/by-triggers`, none changed when one is unknown) or those a search
 * matches (`set-disabled/by-query`), unlock one; the search's `triggerContext.disabled` follows; and the 4xx answers
 * (unknown trigger, unknown property, a backfill, an unknown query parameter).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlows, startApi } from './fixture.js';

const api = await startApi();
const NS = 'triggers.api';
const JSON_BODY = { 'content-type': 'application/json' };

function flow(id: string): string {
  return `id: ${id}
namespace: ${NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: some-long-key
`;
}

interface TriggerContext {
  namespace: string;
  flowId: string;
  triggerId: string;
  disabled: boolean;
  workerId?: string;
}

describe.skipIf(!api)('trigger routes', () => {
  const a = api!;
  beforeAll(async () => {
    await createFlows(a, [flow('one'), flow('two')]);
  });
  afterAll(async () => a.close());

  const put = (prefix: string, body: unknown): Promise<Response> => a.fetch(`${prefix}/triggers`, { method: 'PUT', headers: JSON_BODY, body: JSON.stringify(body) });

  async function disabledInSearch(prefix: string): Promise<Record<string, boolean>> {
    const response = await a.fetch(`${prefix}/triggers/search?size=100&filters[namespace][EQUALS]=${NS}`);
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as { results: { triggerContext: TriggerContext }[] };
    return Object.fromEntries(results.map((r) => [`${r.triggerContext.flowId}/${r.triggerContext.triggerId}`, r.triggerContext.disabled]));
  }

  for (const prefix of ['/api/v1', '/api/v1/main']) {
    describe(prefix, () => {
      it('PUT /triggers disables and enables one trigger (a row made on demand), and the search says so', async () => {
        const disabled = await put(prefix, { namespace: NS, flowId: 'one', triggerId: 'hook', disabled: true, date: '2026-01-01T00:00:00Z' });
        expect(disabled.status, await disabled.clone().text()).toBe(200);
        expect(await disabled.json()).toMatchObject({ namespace: NS, flowId: 'one', triggerId: 'hook', disabled: true });
        expect((await disabledInSearch(prefix))['one/hook']).toBe(true);
        const enabled = await put(prefix, { namespace: NS, flowId: 'one', triggerId: 'hook', disabled: false });
        expect(((await enabled.json()) as TriggerContext).disabled).toBe(false);
        expect((await disabledInSearch(prefix))['one/hook']).toBe(false);
      });

      it('PUT /triggers: 404 for a trigger the flow does not declare, 400 for an unknown property, a backfill or a missing key', async () => {
        const unknown = await put(prefix, { namespace: NS, flowId: 'one', triggerId: 'nope', disabled: true });
        expect(unknown.status).toBe(404);
        expect(await unknown.json()).toMatchObject({ code: 'SLU_API_TRIGGER_NOT_FOUND', message: `flow ${NS}.one has no trigger nope` });
        expect((await put(prefix, { namespace: NS, flowId: 'missing', triggerId: 'hook', disabled: true })).status).toBe(404);
        const extra = await put(prefix, { namespace: NS, flowId: 'one', triggerId: 'hook', disabled: true, disable: true });
        expect(extra.status).toBe(400);
        expect(((await extra.json()) as { message: string }).message).toMatch(/unknown property "disable"/);
        const backfill = await put(prefix, { namespace: NS, flowId: 'one', triggerId: 'nightly', backfill: { start: '2026-01-01T00:00:00Z' } });
        expect(backfill.status).toBe(400);
        expect((await put(prefix, { namespace: NS, flowId: 'one', disabled: true })).status).toBe(400);
        const notJson = await a.fetch(`${prefix}/triggers`, { method: 'PUT', headers: JSON_BODY, body: '{nope' });
        expect(notJson.status).toBe(400);
        expect((await a.fetch(`${prefix}/triggers?force=true`, { method: 'PUT', headers: JSON_BODY, body: '{}' })).status).toBe(400);
      });

      it('set-disabled/by-triggers changes every one given, or none when one is unknown', async () => {
        const url = `${prefix}/triggers/set-disabled/by-triggers`;
        const both = [
          { namespace: NS, flowId: 'one', triggerId: 'nightly' },
          { namespace: NS, flowId: 'two', triggerId: 'hook' },
        ];
        const refused = await a.fetch(url, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ triggers: [...both, { namespace: NS, flowId: 'two', triggerId: 'ghost' }], disabled: true }) });
        expect(refused.status).toBe(400);
        expect(await refused.json()).toMatchObject({ details: { invalids: [{ namespace: NS, flowId: 'two', triggerId: 'ghost' }] } });
        expect((await disabledInSearch(prefix))['one/nightly'] ?? false).toBe(false);

        const done = await a.fetch(url, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ triggers: both, disabled: true }) });
        expect(done.status, await done.clone().text()).toBe(200);
        expect(await done.json()).toEqual({ count: 2 });
        const states = await disabledInSearch(prefix);
        expect([states['one/nightly'], states['two/hook']]).toEqual([true, true]);
        // The search's triggerState filter reads the stored flag.
        const byState = async (state: string): Promise<string[]> => {
          const response = await a.fetch(`${prefix}/triggers/search?size=100&filters[namespace][EQUALS]=${NS}&filters[triggerState][EQUALS]=${state}`);
          const { results } = (await response.json()) as { results: { triggerContext: TriggerContext }[] };
          return results.map((r) => `${r.triggerContext.flowId}/${r.triggerContext.triggerId}`);
        };
        expect(await byState('disabled')).toEqual(['one/nightly', 'two/hook']);
        expect(await byState('enabled')).not.toContain('one/nightly');
        const again = await a.fetch(url, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ triggers: both, disabled: false }) });
        expect(await again.json()).toEqual({ count: 2 });
        expect((await a.fetch(url, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ triggers: both }) })).status).toBe(400);
      });

      it('set-disabled/by-query changes the stored triggers the filters match', async () => {
        const response = await a.fetch(`${prefix}/triggers/set-disabled/by-query?disabled=true&filters[flowId][EQUALS]=two`, { method: 'POST' });
        expect(response.status, await response.clone().text()).toBe(200);
        const { count } = (await response.json()) as { count: number };
        expect(count).toBeGreaterThanOrEqual(1);
        const states = await disabledInSearch(prefix);
        for (const [name, disabled] of Object.entries(states)) expect(disabled, name).toBe(name.startsWith('two/'));
        await a.fetch(`${prefix}/triggers/set-disabled/by-query?disabled=false&filters[flowId][EQUALS]=two`, { method: 'POST' });
        expect(Object.values(await disabledInSearch(prefix)).every((d) => !d)).toBe(true);
        expect((await a.fetch(`${prefix}/triggers/set-disabled/by-query?disabled=true&flow=two`, { method: 'POST' })).status).toBe(400);
      });

      it('unlock releases the lock a scheduler holds; 404 for an unknown trigger', async () => {
        await a.db.prisma.trigger.upsert({
          where: { namespace_flowId_triggerId: { namespace: NS, flowId: 'one', triggerId: 'nightly' } },
          create: { namespace: NS, flowId: 'one', triggerId: 'nightly', lockOwner: 'scheduler-1', lockedUntil: new Date(Date.now() + 3_600_000) },
          update: { lockOwner: 'scheduler-1', lockedUntil: new Date(Date.now() + 3_600_000) },
        });
        const locked = await a.fetch(`${prefix}/triggers/search?filters[workerId][EQUALS]=scheduler-1`);
        expect(((await locked.json()) as { total: number }).total).toBe(1);
        const response = await a.fetch(`${prefix}/triggers/${NS}/one/nightly/unlock`, { method: 'POST' });
        expect(response.status, await response.clone().text()).toBe(200);
        const context = (await response.json()) as TriggerContext;
        expect(context).toMatchObject({ namespace: NS, flowId: 'one', triggerId: 'nightly', disabled: false });
        expect(context.workerId).toBeUndefined();
        const row = await a.db.triggers.get({ namespace: NS, flowId: 'one', triggerId: 'nightly' });
        expect([row?.lockOwner, row?.lockedUntil]).toEqual([null, null]);
        // Unlocking one that is not locked answers the same.
        expect((await a.fetch(`${prefix}/triggers/${NS}/one/nightly/unlock`, { method: 'POST' })).status).toBe(200);
        const unknown = await a.fetch(`${prefix}/triggers/${NS}/one/nope/unlock`, { method: 'POST' });
        expect(unknown.status).toBe(404);
        expect(((await unknown.json()) as { code: string }).code).toBe('SLU_API_TRIGGER_NOT_FOUND');
      });
    });
  }
});
