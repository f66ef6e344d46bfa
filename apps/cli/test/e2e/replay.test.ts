/**
 * Kestra's replay end to end: `POST /executions/{id}/replay` of an ended execution runs a new one, from the start or
 * from a task run (the runs before it kept as they were, not run again), through the REST API on real Postgres with
 * PROCESS tasks: once with `sluice server local`, once with the distributed apps (BullMQ, two schedulers, a worker
 * process). A task fails until a marker file exists; the test creates it before replaying. See stack.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, taskRun, useStack } from './stack.js';
import type { ExecutionJson } from './stack.js';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-replay-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface RunDates {
  state: { current: string; startDate?: string; histories: { state: string; date: string }[] };
}

for (const mode of ['local', 'distributed'] as const) {
  describe(`replay end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps over BullMQ'})`, () => {
    const stack = useStack(mode);
    const ns = `replay.e2e.${mode}`;

    const logsOf = async (id: string): Promise<{ taskId: string; message: string }[]> => {
      const response = await stack.api(`/api/v1/logs/${id}`);
      return (await response.json()) as { taskId: string; message: string }[];
    };
    const replay = async (id: string, taskRunId?: string): Promise<ExecutionJson> => {
      const response = await stack.api(`/api/v1/executions/${id}/replay${taskRunId ? `?taskRunId=${taskRunId}` : ''}`, { method: 'POST' });
      const body = (await response.json()) as ExecutionJson;
      expect(response.status, JSON.stringify(body)).toBe(200);
      return body;
    };
    const startOf = (run: unknown): string | undefined => (run as RunDates).state.startDate;

    it('from the failed third task: the first two are kept (not run again), the third runs again and the execution ends SUCCESS', async () => {
      const marker = join(root, `three-${mode}`);
      await stack.deploy(
        [
          'id: three',
          `namespace: ${ns}`,
          'tasks:',
          sh('first', 'echo first-{{ execution.id }} && echo \'::{"outputs":{"n":1}}::\'', '  '),
          sh('second', 'echo second-{{ execution.id }} && echo \'::{"outputs":{"n":2}}::\'', '  '),
          sh('third', `test -f ${marker} && echo third-{{ execution.id }} n={{ outputs.first.vars.n + outputs.second.vars.n }}`, '  '),
        ].join('\n'),
      );
      const original = await stack.execute(ns, 'three', { wait: true });
      expect(original.state.current, JSON.stringify(original.taskRunList.map((r) => [r.taskId, r.state.current]))).toBe('FAILED');
      expect(taskRun(original, 'first').outputs).toMatchObject({ vars: { n: 1 } });
      expect(taskRun(original, 'third').state.current).toBe('FAILED');

      await writeFile(marker, '');
      const started = await replay(original.id, taskRun(original, 'third').id);
      expect(started.originalId).toBe(original.id);
      expect(started.state.current).toBe('RESTARTED');
      expect(started.taskRunList.map((r) => r.taskId)).toEqual(['first', 'second']);

      const done = await stack.waitFor(started.id);
      expect(done.state.current, JSON.stringify(done.taskRunList.map((r) => [r.taskId, r.state.current]))).toBe('SUCCESS');
      expect(done.taskRunList.map((r) => r.taskId)).toEqual(['first', 'second', 'third']);
      for (const taskId of ['first', 'second']) {
        const kept = taskRun(done, taskId);
        const before = taskRun(original, taskId);
        expect(kept.id).not.toBe(before.id);
        expect(kept.state.current).toBe('SUCCESS');
        expect(kept.outputs).toEqual(before.outputs);
        expect(startOf(kept)).toBe(startOf(before));
      }
      // The kept tasks did not run again: no line of theirs in the replay's logs, theirs stay with the original.
      const logs = await logsOf(done.id);
      expect(logs.filter((l) => l.taskId === 'first' || l.taskId === 'second')).toEqual([]);
      expect(logs.map((l) => l.message)).toContain(`third-${done.id} n=3`);
      const originalLogs = (await logsOf(original.id)).map((l) => l.message);
      expect(originalLogs.filter((m) => m === `first-${original.id}`)).toHaveLength(1);
    });

    it('without taskRunId: all three tasks run again in the new execution', async () => {
      const marker = join(root, `again-${mode}`);
      await stack.deploy(
        [
          'id: again',
          `namespace: ${ns}`,
          'labels:',
          '  team: data',
          'tasks:',
          sh('first', 'echo first-{{ execution.id }}', '  '),
          sh('second', 'echo second-{{ execution.id }}', '  '),
          sh('third', `test -f ${marker} && echo third-{{ execution.id }}`, '  '),
        ].join('\n'),
      );
      const original = await stack.execute(ns, 'again', { wait: true });
      expect(original.state.current).toBe('FAILED');
      await writeFile(marker, '');
      const started = await replay(original.id);
      expect(started).toMatchObject({ originalId: original.id, state: { current: 'CREATED' }, taskRunList: [] });
      const done = await stack.waitFor(started.id);
      expect(done.state.current).toBe('SUCCESS');
      expect(done.labels).toEqual(
        expect.arrayContaining([
          { key: 'team', value: 'data' },
          { key: 'system.replay', value: 'true' },
          { key: 'system.correlationId', value: done.id },
        ]),
      );
      expect(done.taskRunList.map((r) => r.taskId)).toEqual(['first', 'second', 'third']);
      for (const taskId of ['first', 'second']) expect(startOf(taskRun(done, taskId))).not.toBe(startOf(taskRun(original, taskId)));
      const messages = (await logsOf(done.id)).map((l) => l.message);
      expect(messages).toEqual(expect.arrayContaining([`first-${done.id}`, `second-${done.id}`, `third-${done.id}`]));
    });

    it('inside a Sequential: the first child is kept, the second runs again and the parent goes on to the tasks after it', async () => {
      const marker = join(root, `nested-${mode}`);
      await stack.deploy(
        [
          'id: nested',
          `namespace: ${ns}`,
          'tasks:',
          sh('before', 'echo before-{{ execution.id }}', '  '),
          '  - id: seq',
          '    type: io.kestra.plugin.core.flow.Sequential',
          '    tasks:',
          sh('c1', 'echo c1-{{ execution.id }}', '      '),
          sh('c2', `test -f ${marker} && echo c2-{{ execution.id }}`, '      '),
          sh('after', 'echo after-{{ execution.id }}', '  '),
          'errors:',
          sh('alert', 'echo alert-{{ execution.id }}', '  '),
        ].join('\n'),
      );
      const original = await stack.execute(ns, 'nested', { wait: true });
      expect(original.state.current).toBe('FAILED');
      expect(original.taskRunList.map((r) => r.taskId)).toEqual(['before', 'seq', 'c1', 'c2', 'alert']);

      await writeFile(marker, '');
      const started = await replay(original.id, taskRun(original, 'c2').id);
      expect(started.taskRunList.map((r) => [r.taskId, r.state.current])).toEqual([
        ['before', 'SUCCESS'],
        ['seq', 'RUNNING'],
        ['c1', 'SUCCESS'],
      ]);
      const done = await stack.waitFor(started.id);
      expect(done.state.current, JSON.stringify(done.taskRunList.map((r) => [r.taskId, r.state.current]))).toBe('SUCCESS');
      expect(done.taskRunList.map((r) => [r.taskId, r.state.current])).toEqual([
        ['before', 'SUCCESS'],
        ['seq', 'SUCCESS'],
        ['c1', 'SUCCESS'],
        ['c2', 'SUCCESS'],
        ['after', 'SUCCESS'],
      ]);
      const seq = taskRun(done, 'seq');
      expect(taskRun(done, 'c1').parentTaskRunId).toBe(seq.id);
      expect(taskRun(done, 'c2').parentTaskRunId).toBe(seq.id);
      expect(startOf(taskRun(done, 'c1'))).toBe(startOf(taskRun(original, 'c1')));
      const messages = (await logsOf(done.id)).map((l) => l.message);
      expect(messages).toEqual([`c2-${done.id}`, `after-${done.id}`]);
    });
  });
}
