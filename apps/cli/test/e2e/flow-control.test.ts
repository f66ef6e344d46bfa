/**
 * Flow control end to end (issue #16), through the REST API on real Postgres, with a PROCESS task inside every
 * flowable: once with `sluice server local` (in-process queue) and once with the distributed apps (BullMQ, two
 * schedulers, a worker process). See stack.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, taskRun, taskRuns, useStack } from './stack.js';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-flow-control-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

for (const mode of ['local', 'distributed'] as const) {
  describe(`flow control end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps over BullMQ'})`, () => {
    const stack = useStack(mode);
    const ns = `flow.control.${mode}`;

    const logsOf = async (id: string): Promise<string[]> => {
      const response = await stack.api(`/api/v1/logs/${id}`);
      return ((await response.json()) as { message: string }[]).map((l) => l.message);
    };

    it('every flowable with a PROCESS task inside runs with Kestra semantics, and the execution JSON shows the tree', async () => {
      const flow = [
        'id: tree',
        `namespace: ${ns}`,
        'inputs:',
        '  - id: token',
        '    type: SECRET',
        'tasks:',
        '  - id: par',
        '    type: io.kestra.plugin.core.flow.Parallel',
        '    tasks:',
        '      - id: seq',
        '        type: io.kestra.plugin.core.flow.Sequential',
        '        tasks:',
        sh('p_seq', 'echo in sequential', '          '),
        '      - id: cond',
        '        type: io.kestra.plugin.core.flow.If',
        '        condition: "{{ inputs.token == \'s3cret-value-42\' }}"',
        '        then:',
        sh('p_then', 'echo token is {{ inputs.token }}', '          '),
        '        else:',
        sh('p_else', 'echo wrong token', '          '),
        '  - id: sw',
        '    type: io.kestra.plugin.core.flow.Switch',
        '    value: "{{ outputs.cond.evaluationResult }}"',
        '    cases:',
        '      "true":',
        sh('p_case', 'echo case true', '        '),
        '    defaults:',
        sh('p_default', 'echo default', '      '),
        '  - id: each',
        '    type: io.kestra.plugin.core.flow.ForEach',
        '    values: ["x", "y", "z"]',
        '    concurrencyLimit: 2',
        '    tasks:',
        sh('p_each', 'echo \'::{"outputs":{"v":"got-{{ taskrun.value }}"}}::\'', '      '),
        '  - id: dag',
        '    type: io.kestra.plugin.core.flow.Dag',
        '    tasks:',
        '      - task:',
        sh('p_d2', 'echo second', '          ').replace('          - id', '          id').replace(/\n {12}/g, '\n          '),
        '        dependsOn: [p_d1]',
        '      - task:',
        sh('p_d1', 'echo first', '          ').replace('          - id', '          id').replace(/\n {12}/g, '\n          '),
        '  - id: allow',
        '    type: io.kestra.plugin.core.flow.AllowFailure',
        '    tasks:',
        sh('p_fail', 'exit 3', '      '),
        '  - id: wait',
        '    type: io.kestra.plugin.core.flow.WaitFor',
        '    condition: "{{ outputs.wait.iterationCount >= 2 }}"',
        '    checkFrequency:',
        '      interval: PT0.1S',
        '    tasks:',
        sh('p_wait', 'echo iteration {{ taskrun.iteration }}', '      '),
        '  - id: last',
        '    type: io.kestra.plugin.core.log.Log',
        '    message: "y gave {{ outputs.p_each[\'y\'].vars.v }}, correlation {{ labels.system.correlationId }}"',
      ].join('\n');
      await stack.deploy(flow);
      const created = await stack.execute(ns, 'tree', { inputs: { token: 's3cret-value-42' } });
      const done = await stack.waitFor(created.id, undefined, 60_000);
      expect(done.state.current).toBe('WARNING'); // AllowFailure turns its failed child into WARNING
      expect(done.inputs).toEqual({ token: '******' });
      const id = (taskId: string): string => taskRun(done, taskId).id;
      expect(taskRun(done, 'p_seq').parentTaskRunId).toBe(id('seq'));
      expect(taskRun(done, 'seq').parentTaskRunId).toBe(id('par'));
      expect(taskRun(done, 'p_then').parentTaskRunId).toBe(id('cond'));
      expect(taskRuns(done, 'p_else')).toHaveLength(0);
      expect(taskRun(done, 'cond').outputs).toEqual({ evaluationResult: true });
      expect(taskRun(done, 'p_case').state.current).toBe('SUCCESS');
      expect(taskRuns(done, 'p_default')).toHaveLength(0);
      expect(taskRuns(done, 'p_each').map((r) => [r.value, r.state.current, r.parentTaskRunId === id('each')])).toEqual(
        expect.arrayContaining([
          ['x', 'SUCCESS', true],
          ['y', 'SUCCESS', true],
          ['z', 'SUCCESS', true],
        ]),
      );
      expect(taskRuns(done, 'p_each')).toHaveLength(3);
      // Dag: p_d2 waits for p_d1.
      const d1 = taskRun(done, 'p_d1');
      const d2 = taskRun(done, 'p_d2');
      expect(done.taskRunList.indexOf(d1)).toBeLessThan(done.taskRunList.indexOf(d2));
      expect(taskRun(done, 'p_fail').state.current).toBe('FAILED');
      expect(taskRun(done, 'allow').state.current).toBe('WARNING');
      expect(taskRuns(done, 'p_wait').map((r) => r.iteration)).toEqual([1, 2]);
      expect(taskRun(done, 'wait').outputs).toMatchObject({ iterationCount: 2 });
      const logs = await logsOf(created.id);
      expect(logs).toContain('token is ******');
      expect(logs.join('\n')).not.toContain('s3cret-value-42');
      expect(logs).toContain(`y gave got-y, correlation ${created.id}`);
      for (const run of done.taskRunList) expect(['SUCCESS', 'WARNING', 'FAILED'], run.taskId).toContain(run.state.current);
    }, 90_000);

    it('a Pause waits for a REST resume with typed onResume inputs, which the next task reads', async () => {
      await stack.deploy(
        [
          'id: approval',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: ask',
          '    type: io.kestra.plugin.core.flow.Pause',
          '    onResume:',
          '      - id: count',
          '        type: INT',
          sh('after', 'echo count is {{ outputs.ask.onResume.count + 1 }}', '  '),
        ].join('\n'),
      );
      const created = await stack.execute(ns, 'approval');
      const paused = await stack.waitFor(created.id, (e) => e.state.current === 'PAUSED', 30_000);
      expect(taskRun(paused, 'ask').state.current).toBe('PAUSED');
      const refused = await stack.api(`/api/v1/executions/${created.id}/resume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 'many' }) });
      expect(refused.status).toBe(400);
      const form = new FormData();
      form.append('count', '41');
      expect((await stack.api(`/api/v1/executions/${created.id}/resume`, { method: 'POST', body: form })).status).toBe(204);
      const done = await stack.waitFor(created.id, undefined, 30_000);
      expect(done.state.current).toBe('SUCCESS');
      expect(taskRun(done, 'ask').outputs).toEqual({ onResume: { count: 41 } });
      expect(done.state.histories.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'PAUSED', 'RESTARTED', 'RUNNING', 'SUCCESS']);
      expect(await logsOf(created.id)).toContain('count is 42');
    }, 60_000);

    it('a kill of a PAUSED execution kills the paused task and what waits, and ends KILLED', async () => {
      await stack.deploy(
        [
          'id: paused_kill',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: both',
          '    type: io.kestra.plugin.core.flow.Parallel',
          '    tasks:',
          '      - id: hold',
          '        type: io.kestra.plugin.core.flow.Pause',
          sh('side', 'echo side done', '      '),
          sh('never', 'echo never', '  '),
        ].join('\n'),
      );
      const created = await stack.execute(ns, 'paused_kill');
      await stack.waitFor(created.id, (e) => e.state.current === 'PAUSED' && taskRuns(e, 'side')[0]?.state.current === 'SUCCESS', 30_000);
      expect((await stack.api(`/api/v1/executions/${created.id}/kill`, { method: 'DELETE' })).status).toBe(202);
      const done = await stack.waitFor(created.id, undefined, 30_000);
      expect(done.state.current).toBe('KILLED');
      expect(taskRun(done, 'hold').state.current).toBe('KILLED');
      expect(taskRun(done, 'side').state.current).toBe('SUCCESS');
      expect(taskRun(done, 'both').state.current).toBe('KILLED');
      expect(taskRuns(done, 'never')).toHaveLength(0);
    }, 60_000);

    it('a kill in the middle of a loop kills the running iterations, starts no other, and ends KILLED', async () => {
      const marker = join(root, `kill-${mode}`);
      await stack.deploy(
        [
          'id: long_loop',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: each',
          '    type: io.kestra.plugin.core.flow.ForEach',
          '    values: ["a", "b", "c", "d"]',
          '    concurrencyLimit: 2',
          '    tasks:',
          sh('slow', `echo {{ taskrun.value }} >> ${marker}; sleep 30`, '      '),
        ].join('\n'),
      );
      const created = await stack.execute(ns, 'long_loop');
      await stack.waitFor(created.id, (e) => taskRuns(e, 'slow').filter((r) => r.state.current === 'RUNNING').length === 2, 30_000);
      expect((await stack.api(`/api/v1/executions/${created.id}/kill`, { method: 'DELETE' })).status).toBe(202);
      const done = await stack.waitFor(created.id, undefined, 30_000);
      expect(done.state.current).toBe('KILLED');
      expect(taskRuns(done, 'slow').map((r) => r.state.current)).toEqual(['KILLED', 'KILLED']);
      expect(taskRun(done, 'each').state.current).toBe('KILLED');
    }, 60_000);

    it("finally (Kestra 0.24+): a flowable's after its failure and errors, the flow's last; a failed flowable stays FAILED", async () => {
      await stack.deploy(
        [
          'id: with_finally',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: work',
          '    type: io.kestra.plugin.core.flow.Sequential',
          '    tasks:',
          sh('step', 'exit 4', '      '),
          '    errors:',
          sh('handle', 'echo handled', '      '),
          '    finally:',
          sh('cleanup', 'echo cleanup after {{ outputs.step.exitCode }}', '      '),
          'finally:',
          sh('bye', 'echo bye', '  '),
        ].join('\n'),
      );
      const done = await stack.waitFor((await stack.execute(ns, 'with_finally')).id, undefined, 30_000);
      expect(done.state.current).toBe('FAILED');
      expect(done.taskRunList.map((r) => [r.taskId, r.state.current])).toEqual([
        ['work', 'FAILED'],
        ['step', 'FAILED'],
        ['handle', 'SUCCESS'],
        ['cleanup', 'SUCCESS'],
        ['bye', 'SUCCESS'],
      ]);
      expect(taskRun(done, 'cleanup').parentTaskRunId).toBe(taskRun(done, 'work').id);
      expect(await logsOf(done.id)).toContain('cleanup after 4');
    }, 60_000);

    it('afterExecution (Kestra 0.24+): runs once the final state is known, reads it, and a failure there changes nothing', async () => {
      await stack.deploy(
        [
          'id: with_after',
          `namespace: ${ns}`,
          'tasks:',
          sh('step', 'exit 3', '  ').replace(/$/, '\n    allowFailure: true'),
          'afterExecution:',
          sh('notify', 'echo ended {{ execution.state }}', '  '),
          sh('broken', 'exit 5', '  '),
          sh('only_failed', 'echo failed', '  ').replace(/$/, "\n    runIf: \"{{ execution.state == 'FAILED' }}\""),
        ].join('\n'),
      );
      const done = await stack.waitFor((await stack.execute(ns, 'with_after')).id, undefined, 30_000);
      expect(done.state.current).toBe('WARNING');
      expect(done.taskRunList.map((r) => [r.taskId, r.state.current])).toEqual([
        ['step', 'WARNING'],
        ['notify', 'SUCCESS'],
        ['broken', 'FAILED'],
        ['only_failed', 'SKIPPED'],
      ]);
      expect(await logsOf(done.id)).toContain('ended WARNING');
    }, 60_000);

    it('restart of a failed iteration runs it again and goes on with the loop', async () => {
      const marker = join(root, `restart-${mode}`);
      await stack.deploy(
        [
          'id: loop_restart',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: each',
          '    type: io.kestra.plugin.core.flow.ForEach',
          '    values: ["1", "2", "3"]',
          '    tasks:',
          sh('work', `[ "{{ taskrun.value }}" != 2 ] || [ -f ${marker} ]`, '      '),
          '    errors:',
          '      - id: handler',
          '        type: io.kestra.plugin.core.log.Log',
          '        message: iteration failed',
        ].join('\n'),
      );
      const failed = await stack.waitFor((await stack.execute(ns, 'loop_restart')).id, undefined, 30_000);
      expect(failed.state.current).toBe('FAILED');
      expect(taskRuns(failed, 'work').map((r) => [r.value, r.state.current])).toEqual([
        ['1', 'SUCCESS'],
        ['2', 'FAILED'],
      ]);
      expect(taskRun(failed, 'handler').state.current).toBe('SUCCESS');
      await writeFile(marker, 'ok');
      expect((await stack.api(`/api/v1/executions/${failed.id}/restart`, { method: 'POST' })).status).toBe(200);
      const done = await stack.waitFor(failed.id, (e) => e.state.current === 'SUCCESS' || e.state.histories.filter((h) => h.state === 'FAILED').length >= 2, 30_000);
      expect(done.state.current).toBe('SUCCESS');
      expect(taskRuns(done, 'work').map((r) => [r.value, r.state.current, r.attempts?.length])).toEqual([
        ['1', 'SUCCESS', 1],
        ['2', 'SUCCESS', 2],
        ['3', 'SUCCESS', 1],
      ]);
      expect(taskRuns(done, 'handler')).toHaveLength(0);
    }, 60_000);
  });
}
