/**
 * ForEachItem end to end (issue #18): a script writes a 10,000-line items file, ForEachItem cuts it into 100-line
 * batches on a worker and runs a child flow per batch, which reads its batch file (a file of its parent) and counts
 * its lines. Once with `sluice server local`, once with the distributed apps (BullMQ, two schedulers, a worker).
 */
import { describe, expect, it } from 'vitest';
import type { ExecutionJson } from './stack.js';
import { taskRun, useStack } from './stack.js';

interface FullExecution extends ExecutionJson {
  inputs?: Record<string, unknown>;
  trigger?: { id: string; type: string; variables: Record<string, unknown> };
}

for (const mode of ['local', 'distributed'] as const) {
  describe(`ForEachItem end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps over BullMQ'})`, () => {
    const stack = useStack(mode);
    const ns = `for.each.item.${mode}`;

    it('cuts 10,000 lines into 100 batches of 100 and runs one child per batch, each reading its batch', async () => {
      await stack.deploy(
        [
          'id: batch',
          `namespace: ${ns}`,
          'inputs:',
          '  - id: file',
          '    type: FILE',
          '  - id: n',
          '    type: INT',
          'tasks:',
          '  - id: count',
          '    type: io.kestra.plugin.scripts.shell.Commands',
          '    taskRunner:',
          '      type: io.kestra.plugin.core.runner.Process',
          '    inputFiles:',
          '      batch.txt: "{{ inputs.file }}"',
          '    commands:',
          `      - ${JSON.stringify(`echo "::{\\"outputs\\":{\\"lines\\":$(wc -l < batch.txt),\\"first\\":$(head -n 1 batch.txt)}}::"`)}`,
          'outputs:',
          '  - id: first',
          '    type: INT',
          "    value: \"{{ outputs.count.vars.first }}\"",
        ].join('\n'),
      );
      await stack.deploy(
        [
          'id: fan_out',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: gen',
          '    type: io.kestra.plugin.scripts.shell.Commands',
          '    taskRunner:',
          '      type: io.kestra.plugin.core.runner.Process',
          '    outputFiles: [items.txt]',
          '    commands:',
          '      - seq 1 10000 > items.txt',
          '  - id: each',
          '    type: io.kestra.plugin.core.flow.ForEachItem',
          `    items: "{{ outputs.gen.outputFiles['items.txt'] }}"`,
          '    batch:',
          '      rows: 100',
          `    namespace: ${ns}`,
          '    flowId: batch',
          '    inputs:',
          '      file: "{{ taskrun.items }}"',
          '      n: "{{ taskrun.iteration }}"',
          '  - id: after',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "{{ outputs.each_items.numberOfBatches }} batches: {{ outputs.each_items.iterations.SUCCESS }} SUCCESS"',
        ].join('\n'),
      );
      const parent = await stack.waitFor((await stack.execute(ns, 'fan_out')).id, undefined, 120_000);
      expect(parent.state.current).toBe('SUCCESS');
      expect(taskRun(parent, 'each').state.current).toBe('SUCCESS');
      const split = taskRun(parent, 'each_split');
      expect(split.outputs?.numberOfBatches).toBe(100);
      const items = taskRun(parent, 'each_items');
      expect(items.outputs).toEqual({ numberOfBatches: 100, iterations: { CREATED: 0, SUCCESS: 100 } });
      // The merge wrote the children's flow outputs, one line per batch, in batch order (read over the internal
      // routes by the worker in distributed mode).
      const merged = taskRun(parent, 'each_merge').outputs?.subflowOutputs as string;
      const file = await (await stack.api(`/api/v1/main/executions/${parent.id}/file?path=${encodeURIComponent(merged)}`)).text();
      const lines = file.trim().split('\n').map((line) => JSON.parse(line) as { iteration: number; outputs: { first: number } });
      expect(lines.map((line) => [line.iteration, line.outputs.first])).toEqual(Array.from({ length: 100 }, (_, i) => [i + 1, i * 100 + 1]));
      const logs = ((await (await stack.api(`/api/v1/main/logs/${parent.id}`)).json()) as { message: string }[]).map((l) => l.message);
      expect(logs).toContain('100 batches: 100 SUCCESS');

      // Each child got its batch (a file of the parent) and its number, and read 100 lines starting where they should.
      const page = (await (await stack.api(`/api/v1/main/executions/search?filters[namespace][EQUALS]=${ns}&filters[flowId][EQUALS]=batch&size=200`)).json()) as {
        results: FullExecution[];
      };
      expect(page.results).toHaveLength(100);
      const byBatch = new Map(page.results.map((child) => [child.inputs?.n as number, child]));
      expect([...byBatch.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      for (const [n, child] of byBatch) {
        expect(child.state.current).toBe('SUCCESS');
        expect(child.trigger).toMatchObject({ id: 'each_items', variables: { executionId: parent.id } });
        expect(taskRun(child, 'count').outputs).toMatchObject({ vars: { lines: 100, first: (n - 1) * 100 + 1 } });
      }
    }, 180_000);

    it('a failed batch fails the task (transmitFailed); the counts say how many', async () => {
      await stack.deploy(
        [
          'id: picky',
          `namespace: ${ns}`,
          'inputs:',
          '  - id: n',
          '    type: INT',
          'tasks:',
          '  - id: check',
          '    type: io.kestra.plugin.core.flow.If',
          '    condition: "{{ inputs.n == 2 }}"',
          '    then:',
          '      - id: boom',
          '        type: io.kestra.plugin.core.execution.Fail',
        ].join('\n'),
      );
      await stack.deploy(
        [
          'id: some_fail',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: gen',
          '    type: io.kestra.plugin.scripts.shell.Commands',
          '    taskRunner:',
          '      type: io.kestra.plugin.core.runner.Process',
          '    outputFiles: [items.csv]',
          '    commands:',
          '      - printf "a\\nb\\nc\\n" > items.csv',
          '  - id: each',
          '    type: io.kestra.plugin.core.flow.ForEachItem',
          `    items: "{{ outputs.gen.outputFiles['items.csv'] }}"`,
          `    namespace: ${ns}`,
          '    flowId: picky',
          '    inputs:',
          '      n: "{{ taskrun.iteration }}"',
        ].join('\n'),
      );
      const parent = await stack.waitFor((await stack.execute(ns, 'some_fail')).id, undefined, 60_000);
      expect(parent.state.current).toBe('FAILED');
      expect(taskRun(parent, 'each_items').state.current).toBe('FAILED');
      expect(taskRun(parent, 'each_items').outputs).toEqual({ numberOfBatches: 3, iterations: { CREATED: 0, SUCCESS: 2, FAILED: 1 } });
    }, 90_000);
  });
}
