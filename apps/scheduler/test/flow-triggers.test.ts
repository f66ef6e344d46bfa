import { describe, expect, it } from 'vitest';
import type { EndedExecution, FlowWithFlowTrigger } from '@sluice/db';
import { triggeredExecutions } from '../src/flow-triggers.js';

const NOW = new Date('2026-12-06T10:00:00Z');
const end = (patch: Partial<EndedExecution> = {}): EndedExecution => ({
  id: 'up1',
  namespace: 'team',
  flowId: 'upstream',
  flowRevision: 3,
  state: 'SUCCESS',
  inputs: { day: '2026-12-06' },
  outputs: { summary: 'rows=42' },
  labels: [
    { key: 'team', value: 'data' },
    { key: 'system.correlationId', value: 'root1' },
  ],
  trigger: null,
  startDate: new Date('2026-12-06T09:59:00Z'),
  endDate: NOW,
  ...patch,
});
const flow = (trigger: Record<string, unknown>, extra: Record<string, unknown> = {}): FlowWithFlowTrigger => ({
  namespace: 'team',
  flowId: 'downstream',
  revision: 2,
  parsed: {
    id: 'downstream',
    namespace: 'team',
    inputs: [{ id: 'summary', type: 'STRING', required: false }],
    labels: { owner: 'ops' },
    tasks: [{ id: 'say', type: 'io.kestra.plugin.core.log.Log', message: 'x' }],
    triggers: [{ id: 'after', type: 'io.kestra.plugin.core.trigger.Flow', ...trigger }],
    ...extra,
  },
});

async function run(ends: EndedExecution[], flows: FlowWithFlowTrigger[]): Promise<{ created: Awaited<ReturnType<typeof triggeredExecutions>>; logs: string[] }> {
  const logs: string[] = [];
  let n = 0;
  const created = await triggeredExecutions(ends, flows, { now: () => NOW, log: (line) => logs.push(line), newId: () => `new${++n}` });
  return { created, logs };
}

describe('triggeredExecutions', () => {
  it("starts the flow with inputs from the upstream's outputs, its labels, and Kestra's trigger variables", async () => {
    const { created, logs } = await run(
      [end()],
      [flow({ inputs: { summary: '{{ trigger.outputs.summary }} from {{ trigger.flowId }}' }, labels: { source: '{{ trigger.flowId }}' }, conditions: [{ type: 'io.kestra.plugin.core.condition.ExecutionLabels', labels: { team: 'data' } }] })],
    );
    expect(logs).toEqual([]);
    expect(created).toEqual([
      {
        id: 'new1',
        namespace: 'team',
        flowId: 'downstream',
        flowRevision: 2,
        inputs: { summary: 'rows=42 from upstream' },
        labels: [
          { key: 'owner', value: 'ops' },
          { key: 'source', value: 'upstream' },
          { key: 'system.correlationId', value: 'root1' },
        ],
        trigger: { id: 'after', type: 'io.kestra.plugin.core.trigger.Flow', variables: { executionId: 'up1', namespace: 'team', flowId: 'upstream', flowRevision: 3, state: 'SUCCESS' } },
        parentId: null,
        scheduleDate: null,
      },
    ]);
  });

  it('listens to every end by default, to `states` when given', async () => {
    expect((await run([end({ state: 'KILLED' })], [flow({})])).created).toHaveLength(1);
    expect((await run([end({ state: 'FAILED' })], [flow({ states: ['SUCCESS', 'WARNING'] })])).created).toEqual([]);
    expect((await run([end({ state: 'WARNING' })], [flow({ states: ['SUCCESS', 'WARNING'] })])).created).toHaveLength(1);
  });

  it("never triggers the upstream's own flow; skips a disabled flow or trigger, and other trigger types", async () => {
    expect((await run([end({ flowId: 'downstream' })], [flow({})])).created).toEqual([]);
    expect((await run([end()], [flow({}, { disabled: true })])).created).toEqual([]);
    expect((await run([end()], [flow({ disabled: true })])).created).toEqual([]);
    expect((await run([end()], [{ ...flow({}), disabledTriggers: ['after'] }])).created).toEqual([]);
    expect((await run([end()], [{ ...flow({}), disabledTriggers: ['other'] }])).created).toHaveLength(1);
    expect((await run([end()], [flow({ type: 'io.kestra.plugin.core.trigger.Schedule', cron: '* * * * *' })])).created).toEqual([]);
    // Kestra's old type name works the same.
    expect((await run([end()], [flow({ type: 'io.kestra.core.models.triggers.types.Flow' })])).created).toHaveLength(1);
  });

  it('starts nothing when a condition does not hold; conditions see the upstream as execution.*, outputs.*, labels.*', async () => {
    const expression = (text: string) => flow({ conditions: [{ type: 'io.kestra.plugin.core.condition.Expression', expression: text }] });
    expect((await run([end()], [expression("{{ execution.state == 'FAILED' }}")])).created).toEqual([]);
    expect((await run([end()], [expression("{{ outputs.summary == 'rows=42' and labels.team == 'data' and flow.id == 'downstream' }}")])).created).toHaveLength(1);
    const namespace = flow({ conditions: [{ type: 'io.kestra.plugin.core.condition.ExecutionNamespace', namespace: 'other' }] });
    expect((await run([end()], [namespace])).created).toEqual([]);
  });

  it('inputs that cannot be rendered or typed start nothing, with a line that says why', async () => {
    const { created, logs } = await run([end()], [flow({ inputs: { summary: '{{ nope.missing }}' } })]);
    expect(created).toEqual([]);
    expect(logs).toEqual([expect.stringMatching(/^scheduler: flow team\.downstream, trigger after, upstream execution up1: nothing started: .*nope/)]);
    const typed = await run([end()], [flow({ inputs: { unknown: 'x' } })]);
    expect(typed.created).toEqual([]);
    expect(typed.logs[0]).toContain('unknown');
  });

  it('several ends, several flows: one execution per match, in order', async () => {
    const other: FlowWithFlowTrigger = { ...flow({}), flowId: 'second', parsed: { ...(flow({}).parsed as object), id: 'second' } };
    const { created } = await run([end({ id: 'a' }), end({ id: 'b' })], [flow({}), other]);
    expect(created.map((e) => `${e.flowId}<${(e.trigger.variables as { executionId: string }).executionId}`)).toEqual(['downstream<a', 'second<a', 'downstream<b', 'second<b']);
  });
});
