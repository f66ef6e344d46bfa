/**
 * Follow-on tasks on the distributed apps (docs/execution.md, "Follow-on tasks"): a worker queues the next plain task
 * of a chain itself, while the scheduler's two replicas apply the ends in the background. A task whose end carries
 * many log lines makes its step slow, so that the reports of the quick tasks after it are taken first by the other
 * replica: each task must still have one run, in order, with a complete history.
 */
import { describe, expect, it } from 'vitest';
import { useStack } from './stack.js';
import type { ExecutionJson } from './stack.js';

describe('follow-on tasks end to end (distributed apps over BullMQ, two scheduler replicas)', () => {
  const stack = useStack('distributed');
  const ns = 'e2e.follow.on';
  const log = (id: string): string[] => [`  - id: ${id}`, '    type: io.kestra.plugin.core.log.Log', `    message: "${id} after {{ outputs.lines.exitCode }}"`];
  const lines = (id: string): string[] => [
    `  - id: ${id}`,
    '    type: io.kestra.plugin.scripts.shell.Commands',
    '    taskRunner:',
    '      type: io.kestra.plugin.core.runner.Process',
    '    commands:',
    '      - seq 1 1500',
  ];
  const order = ['lines', 'l1', 'l2', 'more', 'l3', 'nap', 'l4', 'l5'];

  it('runs each task of a chain once and in order while its reports are applied out of order', async () => {
    await stack.deploy(
      [
        'id: chain',
        `namespace: ${ns}`,
        'tasks:',
        ...lines('lines'),
        ...log('l1'),
        ...log('l2'),
        ...lines('more'),
        ...log('l3'),
        '  - id: nap',
        '    type: io.kestra.plugin.core.flow.Sleep',
        '    duration: PT0.2S',
        ...log('l4'),
        ...log('l5'),
      ].join('\n'),
    );
    const started = await Promise.all(Array.from({ length: 12 }, () => stack.execute(ns, 'chain')));
    const done: ExecutionJson[] = [];
    for (const execution of started) done.push(await stack.waitFor(execution.id, undefined, 90_000));
    for (const execution of done) {
      expect(execution.state.current).toBe('SUCCESS');
      expect(execution.taskRunList.map((r) => [r.taskId, r.state.current]), execution.id).toEqual(order.map((id) => [id, 'SUCCESS']));
      const histories = execution.taskRunList.map((r) => ({ taskId: r.taskId, histories: (r.state as unknown as { histories: { state: string; date: string }[] }).histories }));
      for (const run of histories) expect(run.histories.map((h) => h.state), `${execution.id} ${run.taskId}`).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
      // Each task started once the one before it had ended.
      for (let i = 1; i < histories.length; i++) {
        const ended = Date.parse(histories[i - 1]!.histories[2]!.date);
        const running = Date.parse(histories[i]!.histories[1]!.date);
        expect(running, `${execution.id}: ${histories[i]!.taskId} started before ${histories[i - 1]!.taskId} ended`).toBeGreaterThanOrEqual(ended);
      }
      // The Log tasks saw the outputs of the runs before them (a worker that queues the next task gives it its variables).
      const logged = (await (await stack.api(`/api/v1/logs/${execution.id}`)).json()) as { taskId?: string; message: string }[];
      expect(logged.filter((l) => /^l\d$/.test(l.taskId ?? '')).map((l) => l.message)).toEqual(['l1', 'l2', 'l3', 'l4', 'l5'].map((id) => `${id} after 0`));
    }
  }, 180_000);
});
