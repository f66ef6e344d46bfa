/**
 * Metrics end to end (issue #17): a PROCESS shell task prints Kestra's `::{"metrics":[...]}::` lines (a counter, a
 * timer and a gauge, each twice), and once the execution has ended its metrics are rows the API serves: counters and
 * timers summed, the gauge at its last value, the timer in milliseconds. Once with `sluice server local`, once with
 * the distributed apps (the worker a separate process over BullMQ). See stack.ts.
 */
import { describe, expect, it } from 'vitest';
import { taskRun, useStack } from './stack.js';

interface MetricEntryJson {
  namespace: string;
  flowId: string;
  taskId?: string;
  executionId: string;
  taskRunId?: string;
  type: string;
  name: string;
  value: number;
  timestamp: string;
  tags: Record<string, string>;
}

const metricsLine = (metrics: unknown[]): string => `echo '::${JSON.stringify({ metrics })}::'`;

for (const mode of ['local', 'distributed'] as const) {
  describe(`metrics end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps over BullMQ'})`, () => {
    const stack = useStack(mode);
    const ns = `metrics.e2e.${mode}`;

    it("a script's counter, timer and gauge are rows read through the API, under both path forms", async () => {
      await stack.deploy(
        [
          'id: measured',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: script',
          '    type: io.kestra.plugin.scripts.shell.Commands',
          '    taskRunner:',
          '      type: io.kestra.plugin.core.runner.Process',
          '    commands:',
          `      - ${JSON.stringify(metricsLine([{ name: 'rows', type: 'counter', value: 2, tags: { table: 'orders' } }, { name: 'load', type: 'timer', value: 0.25 }, { name: 'depth', type: 'gauge', value: 7 }]))}`,
          `      - ${JSON.stringify(metricsLine([{ name: 'rows', type: 'counter', value: 3, tags: { table: 'orders' } }, { name: 'load', type: 'timer', value: 1.5 }, { name: 'depth', type: 'gauge', value: 4 }]))}`,
          '  - id: quiet',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: no metrics here',
        ].join('\n'),
      );
      const done = await stack.execute(ns, 'measured', { wait: true });
      expect(done.state.current).toBe('SUCCESS');
      const script = taskRun(done, 'script');

      for (const prefix of ['/api/v1', '/api/v1/main']) {
        const response = await stack.api(`${prefix}/metrics/${done.id}?sort=name:asc`);
        expect(response.status).toBe(200);
        const page = (await response.json()) as { results: MetricEntryJson[]; total: number };
        // The script's three, and the ones Sluice records for every run a worker ran: each task's duration, and the
        // script's exit code.
        expect(page.total).toBe(6);
        const builtIn = page.results.filter((entry) => entry.name === 'duration' || entry.name === 'exitCode');
        expect(builtIn.map(({ taskId, type, name }) => [taskId, type, name]).sort()).toEqual([
          ['quiet', 'timer', 'duration'],
          ['script', 'gauge', 'exitCode'],
          ['script', 'timer', 'duration'],
        ]);
        expect(builtIn.find((entry) => entry.taskId === 'script' && entry.name === 'exitCode')?.value).toBe(0);
        for (const entry of builtIn.filter((e) => e.name === 'duration')) expect(entry.value).toBeGreaterThanOrEqual(0);
        const scriptDuration = builtIn.find((entry) => entry.taskId === 'script' && entry.name === 'duration');
        // The worker's run of the attempt, within the attempt's own span as the execution JSON gives it (which starts
        // when the attempt was created, before the worker took it).
        const attempt = (taskRun(done, 'script') as unknown as { attempts: { state: { startDate: string; endDate: string } }[] }).attempts[0]!;
        expect(scriptDuration?.value).toBeLessThanOrEqual(Date.parse(attempt.state.endDate) - Date.parse(attempt.state.startDate));
        expect(page.results.filter((entry) => !builtIn.includes(entry)).map(({ timestamp, ...rest }) => ({ ...rest, dated: !Number.isNaN(Date.parse(timestamp)) }))).toEqual([
          { namespace: ns, flowId: 'measured', taskId: 'script', executionId: done.id, taskRunId: script.id, type: 'gauge', name: 'depth', value: 4, tags: {}, deleted: false, dated: true },
          { namespace: ns, flowId: 'measured', taskId: 'script', executionId: done.id, taskRunId: script.id, type: 'timer', name: 'load', value: 1750, tags: {}, deleted: false, dated: true },
          {
            namespace: ns,
            flowId: 'measured',
            taskId: 'script',
            executionId: done.id,
            taskRunId: script.id,
            type: 'counter',
            name: 'rows',
            value: 5,
            tags: { table: 'orders' },
            deleted: false,
            dated: true,
          },
        ]);
        expect(await (await stack.api(`${prefix}/metrics/names/${ns}/measured`)).json()).toEqual(['depth', 'duration', 'exitCode', 'load', 'rows']);
        expect(await (await stack.api(`${prefix}/metrics/tasks/${ns}/measured`)).json()).toEqual(['quiet', 'script']);
        const aggregate = (await (await stack.api(`${prefix}/metrics/aggregates/${ns}/measured/rows`)).json()) as { groupBy: string; aggregations: { name?: string; value: number }[] };
        expect(aggregate.groupBy).toBe('day');
        expect(aggregate.aggregations.filter((entry) => entry.value !== 0)).toEqual([expect.objectContaining({ value: 5 })]);
      }
      // The task run's JSON column keeps what the task reported, as before.
      const stored = await stack.db.executions.get(done.id);
      expect(stored?.taskRuns.find((r) => r.id === script.id)?.metrics).toHaveLength(6);
    });
  });
}
