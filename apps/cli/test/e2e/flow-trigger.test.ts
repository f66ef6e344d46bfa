/**
 * Flow triggers end to end (issue #18), through the REST API on real Postgres: once with `sluice server local` and once
 * with the distributed apps (BullMQ, two schedulers, a worker process). A downstream flow starts when an upstream
 * execution ends in a listed state and its conditions hold, with inputs rendered from the upstream's outputs; with two
 * schedulers, every end starts it exactly once; a MultipleCondition or preconditions over two upstream flows start it once
 * both succeeded in the window. (The fault suite kills a scheduler in the middle: tests/faults.)
 */
import { describe, expect, it } from 'vitest';
import type { ExecutionJson } from './stack.js';
import { taskRun, useStack } from './stack.js';

interface FullExecution extends ExecutionJson {
  labels: { key: string; value: string }[];
  trigger?: { id: string; type: string; variables: Record<string, unknown> };
  inputs?: Record<string, unknown>;
}

for (const mode of ['local', 'distributed'] as const) {
  describe(`Flow triggers end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps over BullMQ'})`, () => {
    const stack = useStack(mode);
    const ns = `flow.trigger.${mode}`;

    /** The executions of one flow, oldest first. */
    async function executionsOf(flowId: string): Promise<FullExecution[]> {
      const page = (await (await stack.api(`/api/v1/main/executions/search?filters[namespace][EQUALS]=${ns}&filters[flowId][EQUALS]=${flowId}&size=500&sort=state.startDate:asc`)).json()) as {
        results: FullExecution[];
      };
      return page.results;
    }

    async function waitForCount(flowId: string, count: number, timeoutMs = 30_000): Promise<FullExecution[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await executionsOf(flowId);
        if (found.length >= count || Date.now() > deadline) return found;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    it("starts the downstream flow when the upstream ends in a listed state, with inputs from the upstream's outputs", async () => {
      await stack.deploy(
        [
          'id: upstream',
          `namespace: ${ns}`,
          'labels:',
          '  team: data',
          'inputs:',
          '  - id: fail',
          '    type: BOOLEAN',
          '    defaults: false',
          'tasks:',
          '  - id: maybe',
          '    type: io.kestra.plugin.core.flow.If',
          '    condition: "{{ inputs.fail }}"',
          '    then:',
          '      - id: boom',
          '        type: io.kestra.plugin.core.execution.Fail',
          '  - id: compute',
          '    type: io.kestra.plugin.core.debug.Return',
          '    format: "rows={{ 6 * 7 }}"',
          'outputs:',
          '  - id: summary',
          '    type: STRING',
          '    value: "{{ outputs.compute.value }}"',
        ].join('\n'),
      );
      await stack.deploy(
        [
          'id: downstream',
          `namespace: ${ns}`,
          'inputs:',
          '  - id: summary',
          '    type: STRING',
          'tasks:',
          '  - id: say',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "{{ trigger.flowId }} {{ trigger.executionId }} ended {{ trigger.state }}: {{ inputs.summary }}"',
          'triggers:',
          '  - id: after_upstream',
          '    type: io.kestra.plugin.core.trigger.Flow',
          '    states: [SUCCESS]',
          '    inputs:',
          '      summary: "{{ trigger.outputs.summary }}"',
          '    labels:',
          '      source: "{{ trigger.flowId }}"',
          '    conditions:',
          '      - type: io.kestra.plugin.core.condition.ExecutionFlow',
          `        namespace: ${ns}`,
          '        flowId: upstream',
          '      - type: io.kestra.plugin.core.condition.ExecutionLabels',
          '        labels:',
          '          team: data',
        ].join('\n'),
      );
      const upstream = await stack.execute(ns, 'upstream', { wait: true });
      expect(upstream.state.current).toBe('SUCCESS');
      const [downstream] = await waitForCount('downstream', 1);
      expect(downstream).toBeDefined();
      expect(downstream!.trigger).toEqual({
        id: 'after_upstream',
        type: 'io.kestra.plugin.core.trigger.Flow',
        variables: { executionId: upstream.id, namespace: ns, flowId: 'upstream', flowRevision: 1, state: 'SUCCESS' },
      });
      expect(downstream!.inputs).toEqual({ summary: 'rows=42' });
      expect(downstream!.labels).toEqual(expect.arrayContaining([{ key: 'source', value: 'upstream' }, { key: 'system.correlationId', value: upstream.id }]));
      const done = await stack.waitFor(downstream!.id, undefined, 30_000);
      expect(done.state.current).toBe('SUCCESS');
      const logs = ((await (await stack.api(`/api/v1/main/logs/${done.id}`)).json()) as { message: string }[]).map((l) => l.message);
      expect(logs).toContain(`upstream ${upstream.id} ended SUCCESS: rows=42`);
      expect(taskRun(done, 'say').state.current).toBe('SUCCESS');

      // A FAILED upstream is not in `states`: nothing more starts. The downstream's own end triggers nothing either.
      const failed = await stack.execute(ns, 'upstream', { wait: true, inputs: { fail: 'true' } });
      expect(failed.state.current).toBe('FAILED');
      const passed = await stack.execute(ns, 'upstream', { wait: true });
      const after = await waitForCount('downstream', 2);
      expect(after.map((e) => e.trigger?.variables.executionId)).toEqual([upstream.id, passed.id]);
    }, 60_000);

    it('every upstream end starts the downstream exactly once, also with many ends at once', async () => {
      await stack.deploy(['id: burst', `namespace: ${ns}`, 'tasks:', '  - id: hi', '    type: io.kestra.plugin.core.log.Log', '    message: hi'].join('\n'));
      await stack.deploy(
        [
          'id: counted',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: hi',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "{{ trigger.executionId }}"',
          'triggers:',
          '  - id: each_burst',
          '    type: io.kestra.plugin.core.trigger.Flow',
          '    conditions:',
          '      - type: io.kestra.plugin.core.condition.ExecutionFlow',
          `        namespace: ${ns}`,
          '        flowId: burst',
        ].join('\n'),
      );
      const runs = await Promise.all(Array.from({ length: 30 }, () => stack.execute(ns, 'burst', { wait: true })));
      expect(runs.every((run) => run.state.current === 'SUCCESS')).toBe(true);
      const started = await waitForCount('counted', 30);
      // Give a second start, were there one, time to show.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const all = await executionsOf('counted');
      expect(all).toHaveLength(30);
      expect(new Set(all.map((e) => e.trigger?.variables.executionId))).toEqual(new Set(runs.map((r) => r.id)));
      expect(started.length).toBe(30);
    }, 90_000);
    it('a MultipleCondition and preconditions over A and B start the downstream once both succeeded, then again after both again', async () => {
      for (const id of ['mc_a', 'mc_b']) {
        await stack.deploy([`id: ${id}`, `namespace: ${ns}`, 'tasks:', '  - id: hi', '    type: io.kestra.plugin.core.log.Log', '    message: hi'].join('\n'));
      }
      await stack.deploy(
        [
          'id: mc_multiple',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: hi',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "{{ trigger.flowId }}"',
          'triggers:',
          '  - id: both',
          '    type: io.kestra.plugin.core.trigger.Flow',
          '    conditions:',
          '      - type: io.kestra.plugin.core.condition.ExecutionStatus',
          '        in: [SUCCESS]',
          '      - id: a_and_b',
          '        type: io.kestra.plugin.core.condition.MultipleCondition',
          '        timeWindow:',
          '          type: SLIDING_WINDOW',
          '          window: PT1H',
          '        conditions:',
          '          a:',
          '            type: io.kestra.plugin.core.condition.ExecutionFlow',
          `            namespace: ${ns}`,
          '            flowId: mc_a',
          '          b:',
          '            type: io.kestra.plugin.core.condition.ExecutionFlow',
          `            namespace: ${ns}`,
          '            flowId: mc_b',
        ].join('\n'),
      );
      await stack.deploy(
        [
          'id: mc_preconditions',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: hi',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "{{ trigger.flowId }}"',
          'triggers:',
          '  - id: both',
          '    type: io.kestra.plugin.core.trigger.Flow',
          '    preconditions:',
          '      id: a_and_b',
          '      flows:',
          `        - namespace: ${ns}`,
          '          flowId: mc_a',
          '          states: [SUCCESS]',
          `        - namespace: ${ns}`,
          '          flowId: mc_b',
          '          states: [SUCCESS]',
        ].join('\n'),
      );
      const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));
      const downstreams = async () => [(await executionsOf('mc_multiple')).length, (await executionsOf('mc_preconditions')).length];

      const a1 = await stack.execute(ns, 'mc_a', { wait: true });
      expect(a1.state.current).toBe('SUCCESS');
      await settle();
      expect(await downstreams()).toEqual([0, 0]);

      const b1 = await stack.execute(ns, 'mc_b', { wait: true });
      const [multiple] = await waitForCount('mc_multiple', 1);
      const [preconditions] = await waitForCount('mc_preconditions', 1);
      for (const started of [multiple, preconditions]) {
        // The end that completed the window is the upstream.
        expect(started?.trigger).toEqual({ id: 'both', type: 'io.kestra.plugin.core.trigger.Flow', variables: { executionId: b1.id, namespace: ns, flowId: 'mc_b', flowRevision: 1, state: 'SUCCESS' } });
        expect((await stack.waitFor(started!.id, undefined, 30_000)).state.current).toBe('SUCCESS');
      }

      // Reset on success: A alone (twice) starts nothing more; B then completes the window again.
      await stack.execute(ns, 'mc_a', { wait: true });
      await stack.execute(ns, 'mc_a', { wait: true });
      await settle();
      expect(await downstreams()).toEqual([1, 1]);
      const b2 = await stack.execute(ns, 'mc_b', { wait: true });
      expect((await waitForCount('mc_multiple', 2)).map((e) => e.trigger?.variables.executionId)).toEqual([b1.id, b2.id]);
      expect((await waitForCount('mc_preconditions', 2)).map((e) => e.trigger?.variables.executionId)).toEqual([b1.id, b2.id]);
      await settle();
      expect(await downstreams()).toEqual([2, 2]);
    }, 90_000);
  });
}
