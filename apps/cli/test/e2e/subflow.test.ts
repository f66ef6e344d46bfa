/**
 * Subflows end to end (issue #18): a parent flow starts a child flow with a Subflow task, through the REST API on real
 * Postgres, once with `sluice server local` and once with the distributed apps (BullMQ, two schedulers, a worker
 * process): the child's outputs come back to the parent, a failed child fails its parent, a kill of the parent kills
 * the child, a restart of the parent starts a new child, and a cycle of subflows is refused before it runs away.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionJson } from './stack.js';
import { sh, taskRun, useStack } from './stack.js';

const SUBFLOW = 'io.kestra.plugin.core.flow.Subflow';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-subflow-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface FullExecution extends ExecutionJson {
  labels: { key: string; value: string }[];
  trigger?: { id: string; type: string; variables: Record<string, unknown> };
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

for (const mode of ['local', 'distributed'] as const) {
  describe(`subflows end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps over BullMQ'})`, () => {
    const stack = useStack(mode);
    const ns = `subflow.${mode}`;
    const get = async (id: string): Promise<FullExecution> => (await stack.get(id)) as FullExecution;
    const logsOf = async (id: string): Promise<string[]> => ((await (await stack.api(`/api/v1/logs/${id}`)).json()) as { message: string }[]).map((l) => l.message);

    beforeAll(async () => {
      await stack.deploy(
        [
          'id: child',
          `namespace: ${ns}`,
          'inputs:',
          '  - id: n',
          '    type: INT',
          '  - id: marker',
          '    type: STRING',
          '    defaults: ""',
          'tasks:',
          sh('work', '[ -z "{{ inputs.marker }}" ] || [ -f "{{ inputs.marker }}" ]', '  '),
          '  - id: parent_was',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "started by {{ trigger.namespace }}.{{ trigger.flowId }} execution {{ trigger.executionId }}"',
          'outputs:',
          '  - id: doubled',
          '    type: INT',
          '    value: "{{ inputs.n * 2 }}"',
        ].join('\n'),
      );
    });

    it("runs the child with typed inputs and labels, and hands its outputs and state to the parent's next task", async () => {
      await stack.deploy(
        [
          'id: parent',
          `namespace: ${ns}`,
          'labels:',
          '  team: data',
          'tasks:',
          '  - id: call',
          `    type: ${SUBFLOW}`,
          `    namespace: ${ns}`,
          '    flowId: child',
          '    inputs:',
          '      n: "{{ 3 + 4 }}"',
          '    labels:',
          '      step: one',
          '  - id: after',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "child {{ outputs.call.executionId }} ended {{ outputs.call.state }} with {{ outputs.call.outputs.doubled }}"',
        ].join('\n'),
      );
      const parent = (await stack.waitFor((await stack.execute(ns, 'parent')).id, undefined, 30_000)) as FullExecution;
      expect(parent.state.current).toBe('SUCCESS');
      const call = taskRun(parent, 'call');
      expect(call.state.current).toBe('SUCCESS');
      const childId = call.outputs?.executionId as string;
      expect(call.outputs).toEqual({ executionId: childId, state: 'SUCCESS', outputs: { doubled: 14 } });

      const child = await get(childId);
      expect(child.state.current).toBe('SUCCESS');
      expect(child.inputs).toEqual({ n: 7, marker: '' });
      expect(child.trigger).toEqual({ id: 'call', type: SUBFLOW, variables: { executionId: parent.id, namespace: ns, flowId: 'parent', flowRevision: 1 } });
      // The parent's correlation id goes on; its other labels do not (no inheritLabels); the task's own are added.
      const correlation = parent.labels.find((l) => l.key === 'system.correlationId')?.value;
      expect(correlation).toBe(parent.id);
      expect(child.labels).toEqual(expect.arrayContaining([{ key: 'system.correlationId', value: correlation }, { key: 'step', value: 'one' }]));
      expect(child.labels.some((l) => l.key === 'team')).toBe(false);

      expect(await logsOf(childId)).toContain(`started by ${ns}.parent execution ${parent.id}`);
      expect(await logsOf(parent.id)).toEqual(expect.arrayContaining([expect.stringContaining(`created execution ${childId} of ${ns}.child`), `child ${childId} ended SUCCESS with 14`]));
    }, 60_000);

    it('a failed child fails its parent (transmitFailed); without transmitFailed the parent goes on; without wait it does not wait', async () => {
      const missing = join(root, `never-${mode}`);
      await stack.deploy(
        [
          'id: parent_fails',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: strict',
          `    type: ${SUBFLOW}`,
          `    namespace: ${ns}`,
          '    flowId: child',
          `    inputs: { n: 1, marker: "${missing}" }`,
          '  - id: never',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: not reached',
        ].join('\n'),
      );
      const failed = await stack.waitFor((await stack.execute(ns, 'parent_fails')).id, undefined, 30_000);
      expect(failed.state.current).toBe('FAILED');
      expect(taskRun(failed, 'strict').state.current).toBe('FAILED');
      expect(taskRun(failed, 'strict').outputs).toMatchObject({ state: 'FAILED' });
      expect(failed.taskRunList.some((r) => r.taskId === 'never')).toBe(false);

      await stack.deploy(
        [
          'id: parent_lenient',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: lenient',
          `    type: ${SUBFLOW}`,
          `    namespace: ${ns}`,
          '    flowId: child',
          `    inputs: { n: 1, marker: "${missing}" }`,
          '    transmitFailed: false',
          '  - id: fire_and_forget',
          `    type: ${SUBFLOW}`,
          `    namespace: ${ns}`,
          '    flowId: child',
          '    inputs: { n: 2 }',
          '    wait: false',
        ].join('\n'),
      );
      const lenient = await stack.waitFor((await stack.execute(ns, 'parent_lenient')).id, undefined, 30_000);
      expect(lenient.state.current).toBe('SUCCESS');
      expect(taskRun(lenient, 'lenient').outputs).toMatchObject({ state: 'FAILED' });
      const forgotten = taskRun(lenient, 'fire_and_forget').outputs as { executionId: string; state: string };
      expect(forgotten.state).toBe('CREATED');
      // Not waited for, it still runs to its end on its own.
      expect((await stack.waitFor(forgotten.executionId, undefined, 30_000)).state.current).toBe('SUCCESS');
    }, 90_000);

    it('a kill of the parent kills the child it waits for; both end KILLED', async () => {
      await stack.deploy(
        [
          'id: slow_child',
          `namespace: ${ns}`,
          'tasks:',
          sh('sleep', 'sleep 60', '  '),
        ].join('\n'),
      );
      await stack.deploy(
        ['id: parent_killed', `namespace: ${ns}`, 'tasks:', '  - id: call', `    type: ${SUBFLOW}`, `    namespace: ${ns}`, '    flowId: slow_child'].join('\n'),
      );
      const created = await stack.execute(ns, 'parent_killed');
      const running = await stack.waitFor(created.id, (e) => e.taskRunList.some((r) => r.taskId === 'call' && r.state.current === 'RUNNING'), 30_000);
      const call = running.taskRunList.find((r) => r.taskId === 'call');
      expect(call?.state.current).toBe('RUNNING');
      const childId = (await logsOf(created.id)).map((m) => /created execution (\S+) of/.exec(m)?.[1]).find(Boolean) as string;
      expect(childId).toBeTruthy();
      await stack.waitFor(childId, (e) => e.taskRunList.some((r) => r.taskId === 'sleep' && r.state.current === 'RUNNING'), 30_000);
      expect((await stack.api(`/api/v1/main/executions/${created.id}/actions/kill`, { method: 'DELETE' })).status).toBe(202);
      expect((await stack.waitFor(childId, undefined, 30_000)).state.current).toBe('KILLED');
      const parent = await stack.waitFor(created.id, undefined, 30_000);
      expect(parent.state.current).toBe('KILLED');
      expect(taskRun(parent, 'call').state.current).toBe('KILLED');
    }, 90_000);

    it('a restart of the parent starts a new child for the failed one', async () => {
      const marker = join(root, `restart-${mode}`);
      await stack.deploy(
        ['id: parent_restart', `namespace: ${ns}`, 'tasks:', '  - id: call', `    type: ${SUBFLOW}`, `    namespace: ${ns}`, '    flowId: child', `    inputs: { n: 5, marker: "${marker}" }`].join('\n'),
      );
      const failed = await stack.waitFor((await stack.execute(ns, 'parent_restart')).id, undefined, 30_000);
      expect(failed.state.current).toBe('FAILED');
      const firstChild = taskRun(failed, 'call').outputs?.executionId as string;
      await writeFile(marker, 'ok');
      expect((await stack.api(`/api/v1/executions/${failed.id}/restart`, { method: 'POST' })).status).toBe(200);
      const done = await stack.waitFor(failed.id, (e) => e.state.current === 'SUCCESS' || e.state.histories.filter((h) => h.state === 'FAILED').length >= 2, 30_000);
      expect(done.state.current).toBe('SUCCESS');
      const call = taskRun(done, 'call');
      expect(call.attempts).toHaveLength(2);
      const secondChild = call.outputs?.executionId as string;
      expect(secondChild).not.toBe(firstChild);
      expect(call.outputs).toEqual({ executionId: secondChild, state: 'SUCCESS', outputs: { doubled: 10 } });
      expect((await get(firstChild)).state.current).toBe('FAILED');
    }, 90_000);

    it('a cycle of subflows (a calls b calls a) is refused when it comes round, with the chain in the error', async () => {
      await stack.deploy(['id: ping', `namespace: ${ns}`, 'tasks:', '  - id: to_pong', `    type: ${SUBFLOW}`, `    namespace: ${ns}`, '    flowId: pong'].join('\n'));
      await stack.deploy(['id: pong', `namespace: ${ns}`, 'tasks:', '  - id: to_ping', `    type: ${SUBFLOW}`, `    namespace: ${ns}`, '    flowId: ping'].join('\n'));
      const ping = await stack.waitFor((await stack.execute(ns, 'ping')).id, undefined, 30_000);
      expect(ping.state.current).toBe('FAILED');
      const pongId = taskRun(ping, 'to_pong').outputs?.executionId as string;
      const pong = await stack.waitFor(pongId, undefined, 30_000);
      expect(pong.state.current).toBe('FAILED');
      expect(taskRun(pong, 'to_ping').state.current).toBe('FAILED');
      expect(await logsOf(pongId)).toContainEqual(expect.stringContaining(`subflow cycle: ${ns}.ping → ${ns}.pong → ${ns}.ping`));
      // Only the two executions ran: nothing else of ping was started.
      const pings = (await (await stack.api(`/api/v1/executions?namespace=${ns}&flowId=ping`)).json()) as { total: number };
      expect(pings.total).toBe(1);
    }, 60_000);

    it('a child flow that does not exist, or inputs it refuses, fail the task with the reason', async () => {
      await stack.deploy(
        [
          'id: parent_bad',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: nowhere',
          `    type: ${SUBFLOW}`,
          `    namespace: ${ns}`,
          '    flowId: nope',
          '    transmitFailed: false',
          '    allowFailure: true',
          '  - id: bad_inputs',
          `    type: ${SUBFLOW}`,
          `    namespace: ${ns}`,
          '    flowId: child',
          '    inputs: { n: "seven" }',
        ].join('\n'),
      );
      const execution = await stack.waitFor((await stack.execute(ns, 'parent_bad')).id, undefined, 30_000);
      expect(execution.state.current).toBe('FAILED');
      expect(taskRun(execution, 'nowhere').state.current).toBe('WARNING');
      expect(taskRun(execution, 'bad_inputs').state.current).toBe('FAILED');
      const logs = await logsOf(execution.id);
      expect(logs).toContainEqual(expect.stringContaining(`flow ${ns}.nope not found`));
      expect(logs).toContainEqual(expect.stringContaining(`the inputs of ${ns}.child`));
    }, 60_000);
  });
}
