import { describe, expect, it } from 'vitest';
import type { EndedExecution, FlowWithFlowTrigger } from '@sluice/db';
import { triggeredExecutions } from '../src/flow-triggers.js';
import { memoryWindowStore } from '../src/multiple-conditions.js';

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

  describe('MultipleCondition and preconditions', () => {
    const flowCondition = (flowId: string) => ({ type: 'io.kestra.plugin.core.condition.ExecutionFlow', namespace: 'team', flowId });
    const multipleTrigger = {
      states: ['SUCCESS'],
      conditions: [
        { type: 'io.kestra.plugin.core.condition.ExecutionNamespace', namespace: 'team' },
        { id: 'both', type: 'io.kestra.plugin.core.condition.MultipleCondition', conditions: { a: flowCondition('a'), b: flowCondition('b') } },
      ],
    };
    const preconditionsTrigger = { preconditions: { id: 'both', flows: [{ namespace: 'team', flowId: 'a', states: ['SUCCESS'] }, { namespace: 'team', flowId: 'b', states: ['SUCCESS'] }] } };

    for (const [name, trigger] of [['MultipleCondition', multipleTrigger], ['preconditions', preconditionsTrigger]] as const) {
      it(`${name}: starts the flow once A and B both succeeded in the window, across batches, then again after both again`, async () => {
        const windows = memoryWindowStore();
        let n = 0;
        const evaluate = (ends: EndedExecution[]) => triggeredExecutions(ends, [flow(trigger)], { now: () => NOW, log: () => {}, newId: () => `new${++n}`, windows });
        expect(await evaluate([end({ id: 'a1', flowId: 'a' })])).toEqual([]);
        expect(await evaluate([end({ id: 'a2', flowId: 'a' }), end({ id: 'b1', flowId: 'b', state: 'FAILED' })])).toEqual([]);
        const started = await evaluate([end({ id: 'b2', flowId: 'b' })]);
        // The upstream of the new execution is the end that completed the window.
        expect(started.map((e) => e.trigger.variables)).toEqual([{ executionId: 'b2', namespace: 'team', flowId: 'b', flowRevision: 3, state: 'SUCCESS' }]);
        expect(windows.windows.size).toBe(0);
        // Reset on success: B alone starts nothing; then A and B in one batch start it once.
        expect(await evaluate([end({ id: 'b3', flowId: 'b' })])).toEqual([]);
        expect((await evaluate([end({ id: 'x', flowId: 'other' }), end({ id: 'a3', flowId: 'a' }), end({ id: 'a4', flowId: 'a' })])).map((e) => (e.trigger.variables as { executionId: string }).executionId)).toEqual(['a3']);
      });
    }

    it('plain conditions filter before anything is recorded; resetOnSuccess: false fires on every later matching end', async () => {
      const windows = memoryWindowStore();
      const trigger = {
        conditions: [
          { type: 'io.kestra.plugin.core.condition.ExecutionStatus', in: ['SUCCESS'] },
          { id: 'both', type: 'io.kestra.plugin.core.condition.MultipleCondition', resetOnSuccess: false, conditions: { a: flowCondition('a'), b: flowCondition('b') } },
        ],
      };
      const evaluate = (ends: EndedExecution[]) => triggeredExecutions(ends, [flow(trigger)], { now: () => NOW, log: () => {}, windows });
      expect(await evaluate([end({ id: 'a1', flowId: 'a', state: 'FAILED' }), end({ id: 'b1', flowId: 'b' })])).toEqual([]);
      expect([...windows.windows.values()].map((w) => w.results)).toEqual([{ b: true }]);
      expect(await evaluate([end({ id: 'a2', flowId: 'a' })])).toHaveLength(1);
      expect(await evaluate([end({ id: 'c1', flowId: 'c' })])).toHaveLength(1);
      expect(await evaluate([end({ id: 'c2', flowId: 'c', state: 'FAILED' })])).toHaveLength(0);
    });

    it('locks every window it needs before evaluating, once, in one call', async () => {
      const windows = memoryWindowStore();
      const locked: string[][] = [];
      const spy = { ...windows, lock: async (keys: readonly { conditionId: string; flowId: string }[]) => void locked.push(keys.map((k) => `${k.flowId}/${k.conditionId}`)) };
      const other: FlowWithFlowTrigger = { ...flow(preconditionsTrigger), flowId: 'second', parsed: { ...(flow(preconditionsTrigger).parsed as object), id: 'second' } };
      await triggeredExecutions([end({ id: 'a1', flowId: 'a' }), end({ id: 'b1', flowId: 'b' })], [flow(multipleTrigger), other], { now: () => NOW, log: () => {}, windows: spy });
      expect(locked).toEqual([['downstream/both', 'second/both', 'downstream/both', 'second/both']]);
      expect(await triggeredExecutions([end()], [flow({})], { now: () => NOW, log: () => {}, windows: spy })).toHaveLength(1);
      expect(locked).toHaveLength(1);
    });

    it('a window that cannot be computed never holds, and says why', async () => {
      const logs: string[] = [];
      const trigger = { preconditions: { id: 'p', timeWindow: { type: 'WEEKLY' }, flows: [{ namespace: 'team' }] } };
      expect(await triggeredExecutions([end()], [flow(trigger)], { now: () => NOW, log: (line) => logs.push(line) })).toEqual([]);
      expect(logs).toEqual([expect.stringMatching(/^scheduler: flow team\.downstream, trigger after: condition p: timeWindow\.type must be one of/)]);
    });
  });
});
