/**
 * The Webhook trigger end to end: a call to the open webhook route starts an execution that runs to its end and reads
 * the request as `{{ trigger.body.x }}`, `{{ trigger.parameters.day[0] }}` and `{{ trigger.headers['x-source'][0] }}`;
 * then the trigger disabled over the API answers 409 and starts nothing. Once with `sluice server local`, once with the
 * distributed apps (the worker a separate process over BullMQ). See stack.ts.
 */
import { describe, expect, it } from 'vitest';
import { taskRun, useStack } from './stack.js';
import type { ExecutionJson } from './stack.js';

const KEY = 'e2e-webhook-key-4f1c9a7b2d';

for (const mode of ['local', 'distributed'] as const) {
  describe(`the Webhook trigger end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps over BullMQ'})`, () => {
    const stack = useStack(mode);
    const ns = `webhook.e2e.${mode}`;

    it('a webhook call starts an execution that reads trigger.body, parameters and headers; disabled, it answers 409', async () => {
      await stack.deploy(
        [
          'id: hooked',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: echo',
          '    type: io.kestra.plugin.core.debug.Return',
          `    format: "{{ trigger.body.x }} on {{ trigger.parameters.day[0] }} from {{ trigger.headers['x-source'][0] }}"`,
          'triggers:',
          '  - id: hook',
          '    type: io.kestra.plugin.core.trigger.Webhook',
          `    key: ${KEY}`,
        ].join('\n'),
      );
      const response = await stack.api(`/api/v1/main/executions/webhook/${ns}/hooked/${KEY}?day=monday`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-source': 'e2e' },
        body: JSON.stringify({ x: 'ünïcode ✓' }),
      });
      expect(response.status, await response.clone().text()).toBe(200);
      const created = (await response.json()) as ExecutionJson;
      const done = await stack.waitFor(created.id);
      expect(done.state.current).toBe('SUCCESS');
      expect(taskRun(done, 'echo').outputs).toEqual({ value: 'ünïcode ✓ on monday from e2e' });

      const disabled = await stack.api('/api/v1/triggers', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ namespace: ns, flowId: 'hooked', triggerId: 'hook', disabled: true }),
      });
      expect(disabled.status).toBe(200);
      const refused = await stack.api(`/api/v1/executions/webhook/${ns}/hooked/${KEY}`, { method: 'POST', body: '{"x":1}' });
      expect(refused.status).toBe(409);
      expect(await stack.db.prisma.execution.count({ where: { namespace: ns } })).toBe(1);
    });
  });
}
