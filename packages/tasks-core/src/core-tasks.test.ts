import { createFlowValidator, isSluiceError } from '@sluice/core';
import type { SluiceError } from '@sluice/core';
import { createPluginRegistries } from '@sluice/plugin-api';
import { createMockTaskContext } from '@sluice/plugin-api/testing';
import type { MockContextOptions, MockTaskContext } from '@sluice/plugin-api/testing';
import { describe, expect, it } from 'vitest';
import { corePlugins, echoTask, failTask, kvTasks, labelsTask, localFilesTask, logTask, outputValuesTask, returnTask, sleepTask, workingDirectoryTask } from './index.js';

const context = (options: MockContextOptions = {}): Promise<MockTaskContext> => createMockTaskContext({ taskId: 't', ...options });

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSluiceError(error)) throw new Error(`expected a SluiceError, got ${String(error)}`);
  return error;
}

const validator = createFlowValidator(createPluginRegistries([corePlugins]), { eager: true });
const problems = (tasks: string) => validator.validateSource(`id: f\nnamespace: dev\ntasks:\n${tasks}`).flatMap((r) => r.problems);

describe('core tasks', () => {
  it('run in-process: runnable, with run, except Labels which the scheduler applies', () => {
    for (const task of [sleepTask, failTask, returnTask, echoTask, outputValuesTask]) {
      expect(task.kind, task.type).toBe('runnable');
      expect(task.run, task.type).toBeTypeOf('function');
      expect(task.usesRunner, task.type).toBeUndefined();
    }
    expect(labelsTask.kind).toBe('runnable');
    expect(labelsTask.run).toBeUndefined();
  });

  it('the tasks that write no file run with no working directory (inProcess), the others keep theirs', () => {
    for (const task of [logTask, sleepTask, failTask, returnTask, echoTask, outputValuesTask, ...kvTasks]) expect(task.inProcess, task.type).toBe(true);
    for (const task of [localFilesTask, workingDirectoryTask]) expect(task.inProcess, task.type).toBeUndefined();
  });
});

describe('Sleep', () => {
  it('waits for the duration, rendered', async () => {
    const ctx = await context({ variables: { vars: { d: 'PT0.05S' } } });
    const started = performance.now();
    expect(await sleepTask.run!({ duration: '{{ vars.d }}' }, ctx)).toEqual({});
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('stops at once when aborted, rejecting with the signal\'s reason', async () => {
    const controller = new AbortController();
    const ctx = await context({ signal: controller.signal });
    const reason = new Error('killed');
    const started = performance.now();
    const sleeping = sleepTask.run!({ duration: 'PT1H' }, ctx);
    setTimeout(() => controller.abort(reason), 20);
    await expect(sleeping).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);
    // Already aborted: does not wait at all.
    await expect(sleepTask.run!({ duration: 'PT1H' }, ctx)).rejects.toBe(reason);
  });

  it('fails on a duration that is not ISO-8601 or is negative', async () => {
    expect((await failure(sleepTask.run!({ duration: '5 seconds' }, await context()))).code).toBe('SLU_FLOW_INVALID_DURATION');
    expect((await failure(sleepTask.run!({ duration: '-PT1S' }, await context()))).message).toMatch(/negative/);
  });

  it('requires a duration at save, checked as one', () => {
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: "PT5S"\n')).toEqual([]);
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n').map((p) => p.message)).toEqual(['missing required property "duration"']);
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: 5s\n').map((p) => p.code)).toEqual(['SLU_FLOW_INVALID_DURATION']);
  });
});

describe('Fail', () => {
  it('without a condition, always fails with the rendered message (default "Task failure")', async () => {
    const ctx = await context({ variables: { inputs: { who: 'ops' } } });
    const error = await failure(failTask.run!({ errorMessage: 'call {{ inputs.who }}' }, ctx));
    expect(error.code).toBe('SLU_TASK_FAILED');
    expect(error.params).toEqual({ taskId: 't', reason: 'call ops' });
    expect((await failure(failTask.run!({}, await context()))).params.reason).toBe('Task failure');
    expect(ctx.logs).toEqual([]);
  });

  it('with a condition, reads it by Kestra\'s If rules: true logs the message at ERROR and fails, false succeeds', async () => {
    const table: [unknown, boolean][] = [
      ['true', true],
      ['false', false],
      ['False', true], // case-sensitive: only exactly "false" is false
      ['FALSE', true],
      ['0', false],
      ['-0', false],
      ['0.0', true],
      ['', false],
      [' ', true],
      ['null', true],
      ['anything', true],
      [true, true],
      [false, false],
      [0, false],
      [1, true],
      ['{{ inputs.n > 2 }}', true],
      ['{{ inputs.n > 5 }}', false],
      ['{{ inputs.missing ?? "" }}', false],
    ];
    for (const [condition, fails] of table) {
      const ctx = await context({ variables: { inputs: { n: 3 } } });
      const run = failTask.run!({ condition, errorMessage: 'n is {{ inputs.n }}' }, ctx);
      if (fails) {
        const error = await failure(run);
        expect(error.params.reason, JSON.stringify(condition)).toBe('Fail on a condition');
        expect(ctx.logs, JSON.stringify(condition)).toEqual([{ level: 'ERROR', message: 'n is 3' }]);
      } else {
        expect(await run, JSON.stringify(condition)).toEqual({});
        expect(ctx.logs).toEqual([]);
      }
    }
  });

  it('does not render the message when the condition is false', async () => {
    expect(await failTask.run!({ condition: 'false', errorMessage: '{{ nope.nothing }}' }, await context())).toEqual({});
  });
});

describe('Return', () => {
  it('renders format into the output value and records length and duration metrics', async () => {
    const ctx = await context({ variables: { inputs: { name: 'Ada' } } });
    expect(await returnTask.run!({ format: 'Hello {{ inputs.name }}' }, ctx)).toEqual({ outputs: { value: 'Hello Ada' } });
    expect(ctx.metrics).toEqual([
      { name: 'length', type: 'counter', value: 9 },
      { name: 'duration', type: 'timer', value: expect.any(Number) },
    ]);
    expect(ctx.metrics[1]!.value).toBeGreaterThanOrEqual(0);
  });

  it('returns text, whatever the format renders to, and no value without a format', async () => {
    expect(await returnTask.run!({ format: 42 }, await context())).toEqual({ outputs: { value: '42' } });
    expect(await returnTask.run!({ format: '{{ [1, 2] }}' }, await context())).toEqual({ outputs: { value: '[1,2]' } });
    const ctx = await context();
    expect(await returnTask.run!({}, ctx)).toEqual({ outputs: {} });
    expect(ctx.metrics[0]).toEqual({ name: 'length', type: 'counter', value: 0 });
  });
});

describe('Echo', () => {
  it('logs the rendered format at its level, INFO by default, with no outputs', async () => {
    const ctx = await context({ variables: { flow: { id: 'f' } } });
    expect(await echoTask.run!({ format: '{{ flow.id }} started' }, ctx)).toEqual({});
    expect(await echoTask.run!({ format: 'careful', level: 'WARN' }, ctx)).toEqual({});
    expect(ctx.logs).toEqual([
      { level: 'INFO', message: 'f started' },
      { level: 'WARN', message: 'careful' },
    ]);
  });

  it('requires a non-empty format and a known level at save', () => {
    expect(problems('  - id: e\n    type: io.kestra.core.tasks.debugs.Echo\n    level: WARN\n    format: "{{ task.id }}"\n')).toEqual([]);
    expect(problems('  - id: e\n    type: io.kestra.plugin.core.debug.Echo\n    format: ""\n    level: LOUD\n').map((p) => p.path)).toEqual(['tasks[0].format', 'tasks[0].level']);
  });
});

describe('OutputValues', () => {
  it('renders values recursively into the output values; rendered expressions are text', async () => {
    const ctx = await context({ variables: { task: { id: 'out' }, flow: { id: 'f' }, execution: { id: 'e1' } } });
    const values = {
      taskrun_data: '{{ task.id }} > done',
      number_value: 42,
      computed: '{{ 2 + 2 }}',
      array_value: ['{{ task.id }}', '{{ flow.id }}', 'static value'],
      nested_object: { key1: 'value1', key2: '{{ execution.id }}' },
    };
    expect(await outputValuesTask.run!({ values }, ctx)).toEqual({
      outputs: {
        values: {
          taskrun_data: 'out > done',
          number_value: 42,
          computed: '4',
          array_value: ['out', 'f', 'static value'],
          nested_object: { key1: 'value1', key2: 'e1' },
        },
      },
    });
    expect(await outputValuesTask.run!({}, ctx)).toEqual({ outputs: {} });
  });
});

describe('Labels', () => {
  it('accepts a map, a list of {key, value} and a JSON string', () => {
    const ok = [
      '    labels:\n      customerId: "{{ inputs.c }}"\n      tier: 2\n',
      '    labels:\n      - key: order_id\n        value: "{{ inputs.o }}"\n',
      '    labels: \'{"team": "data"}\'\n',
      '    labels: "{{ outputs.t.value }}"\n',
    ];
    for (const labels of ok) expect(problems(`  - id: l\n    type: io.kestra.plugin.core.execution.Labels\n${labels}`), labels).toEqual([]);
    expect(problems('  - id: l\n    type: io.kestra.core.tasks.executions.Labels\n').map((p) => p.message)).toEqual(['missing required property "labels"']);
    expect(problems('  - id: l\n    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      - key: k\n').map((p) => p.message)).toEqual(['missing required property "value"']);
  });

  it('refuses a literal system label at save, at its line', () => {
    const where = (labels: string) => problems(`  - id: l\n    type: io.kestra.plugin.core.execution.Labels\n${labels}`).map((p) => [p.path, p.line, p.message]);
    const reason = (key: string) => `label "${key}" cannot be set by a task: labels starting with "system." are reserved for Sluice`;
    expect(where('    labels:\n      ok: 1\n      system.correlationId: x\n')).toEqual([['tasks[0].labels["system.correlationId"]', 8, reason('system.correlationId')]]);
    expect(where('    labels:\n      - key: fine\n        value: 1\n      - key: system.readOnly\n        value: "true"\n')).toEqual([['tasks[0].labels[1].key', 9, reason('system.readOnly')]]);
    expect(where('    labels: \'{"system.x": "1"}\'\n')).toEqual([['tasks[0].labels', 6, reason('system.x')]]);
    // Only literal keys can be known at save; a key that is an expression is checked when it is rendered.
    expect(where('    labels:\n      "{{ \'system.x\' }}": y\n')).toEqual([]);
  });
});
