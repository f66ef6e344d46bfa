// The flowable definitions seen through the flow validator, with the core plugin set only: names and aliases, the
// schemas, and the checks (Switch, Dag, WorkingDirectory). Kestra's documented example flows, which also use script
// tasks, are validated with every built-in plugin in packages/plugins/test/kestra-flow-control.test.ts.
import { createFlowValidator } from '@sluice/core';
import { createPluginRegistries } from '@sluice/plugin-api';
import { describe, expect, it } from 'vitest';
import { corePlugins, flowControlTasks } from './index.js';

const registries = createPluginRegistries([corePlugins]);
const validator = createFlowValidator(registries, { eager: true });
const problems = (source: string) => validator.validateSource(source).flatMap((r) => r.problems);
const where = (source: string) => problems(source).map((p) => [p.code, p.path, p.line, p.message]);
const flow = (tasks: string) => `id: f\nnamespace: dev\ntasks:\n${tasks}`;
const log = (id: string, indent: string) => `${indent}- id: ${id}\n${indent}  type: io.kestra.plugin.core.log.Log\n${indent}  message: hi\n`;

describe('flowable task definitions', () => {
  it('are flowables without run, named as the engine names them, with Kestra\'s old names as aliases', () => {
    const names = Object.fromEntries(flowControlTasks.map((t) => [t.type, t.aliases ?? []]));
    const flow = 'io.kestra.plugin.core.flow.';
    const legacy = 'io.kestra.core.tasks.flows.';
    expect(names).toEqual({
      [`${flow}Sequential`]: [`${legacy}Sequential`],
      [`${flow}Parallel`]: [`${legacy}Parallel`],
      [`${flow}If`]: [`${legacy}If`],
      [`${flow}Switch`]: [`${legacy}Switch`],
      [`${flow}ForEach`]: [],
      [`${flow}EachSequential`]: [`${legacy}EachSequential`],
      [`${flow}EachParallel`]: [`${legacy}EachParallel`],
      [`${flow}AllowFailure`]: [`${legacy}AllowFailure`],
      [`${flow}Dag`]: [`${legacy}Dag`],
      [`${flow}Pause`]: [`${legacy}Pause`],
      [`${flow}WaitFor`]: [],
    });
    for (const task of flowControlTasks) {
      expect(task.kind, task.type).toBe('flowable');
      expect(task.run, task.type).toBeUndefined();
      // Kestra 0.24's `finally` too, except on Pause (it ends by a resume, not by its children).
      expect(task.errorTasks, task.type).toEqual(task.type.endsWith('.Pause') ? ['errors'] : ['errors', 'finally']);
    }
    expect(registries.tasks.find('IO.KESTRA.CORE.TASKS.FLOWS.PARALLEL')?.type).toBe(`${flow}Parallel`);
  });

  it('accept their properties, old names, and expressions where Kestra renders a value', () => {
    const source = flow(`  - id: par
    type: io.kestra.core.tasks.flows.Parallel
    concurrent: "{{ inputs.width }}"
    tasks:
${log('p1', '      ')}  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ outputs.p1.values }}"
    concurrencyLimit: 0
    tasks:
${log('e1', '      ')}  - id: legacy
    type: io.kestra.core.tasks.flows.EachParallel
    value: '["a", "b"]'
    concurrent: 2
    tasks:
${log('l1', '      ')}  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    delay: "{{ vars.delay }}"
    timeout: PT1H
  - id: wait
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.w1.value == 'done' }}"
    failOnMaxReached: true
    checkFrequency:
      maxIterations: 5
      maxDuration: PT10M
      interval: PT5S
    tasks:
${log('w1', '      ')}`);
    expect(problems(source)).toEqual([]);
  });

  it('refuse what Kestra refuses: empty or missing required lists, bad numbers, unknown properties', () => {
    const source = flow(`  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: -1
    tasks: []
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [a]
    concurrencyLimit: 1.5
    tasks:
${log('e1', '      ')}  - id: wait
    type: io.kestra.plugin.core.flow.WaitFor
    tasks:
${log('w1', '      ')}    checkFrequency:
      maxIterations: 0
      every: PT1S
`);
    expect(where(source)).toEqual([
      ['SLU_FLOW_INVALID_VALUE', 'tasks[0].concurrent', 6, 'must be >= 0'],
      ['SLU_FLOW_INVALID_VALUE', 'tasks[0].tasks', 7, 'must not be empty'],
      ['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[1]', 8, 'missing required property "then"'],
      ['SLU_FLOW_INVALID_TYPE', 'tasks[2].concurrencyLimit', 14, 'must be an integer, got a number (1.5)'],
      ['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[3]', 19, 'missing required property "condition"'],
      ['SLU_FLOW_INVALID_VALUE', 'tasks[3].checkFrequency.maxIterations', 26, 'must be >= 1'],
      ['SLU_FLOW_UNKNOWN_PROPERTY', 'tasks[3].checkFrequency.every', 27, 'unknown property "every"'],
    ]);
  });

  it('Switch needs cases or defaults; its cases are checked as tasks', () => {
    const bare = flow('  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n');
    expect(where(bare)).toEqual([['SLU_FLOW_INVALID_VALUE', 'tasks[0]', 4, 'a Switch needs at least one of cases or defaults, with tasks']]);
    expect(where(flow('  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n    value: x\n    cases: {}\n    defaults: []\n'))).toHaveLength(1);
    const withCase = flow(`  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n    value: 1\n    cases:\n      "1":\n        - id: one\n          type: io.kestra.plugin.core.log.Log\n`);
    expect(where(withCase)).toEqual([['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[0].cases["1"][0]', 9, 'missing required property "message"']]);
  });

  it('Pause checks its onResume inputs like flow inputs', () => {
    const source = flow(`  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: true
      - id: reason
        type: STRING
        defaults: 5
      - id: proof
        type: FILE
        defaults: x
      - id: kind
        type: COLOR
`);
    expect(problems(source).map((p) => [p.code, p.path])).toEqual([
      ['SLU_FLOW_INVALID_TYPE', 'tasks[0].onResume[1].defaults'],
      ['SLU_FLOW_INVALID_VALUE', 'tasks[0].onResume[2].defaults'],
      ['SLU_FLOW_INVALID_ENUM', 'tasks[0].onResume[3].type'],
    ]);
  });
});

describe('Dag', () => {
  const entry = (id: string, dependsOn?: string[]) =>
    `      - task:\n          id: ${id}\n          type: io.kestra.plugin.core.log.Log\n          message: ${id}\n` +
    (dependsOn ? `        dependsOn:\n${dependsOn.map((d) => `          - ${d}\n`).join('')}` : '');
  const dag = (...entries: string[]) => flow(`  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n${entries.join('')}`);

  it('accepts dependencies between siblings, in any order', () => {
    expect(problems(dag(entry('c', ['a', 'b']), entry('a'), entry('b', ['a'])))).toEqual([]);
  });

  it('refuses a dependency on an id that is not a sibling, at that entry\'s line', () => {
    // Line 4 "- id: dag"; entries are 4 lines, plus 1 for dependsOn and 1 per id.
    const source = dag(entry('a'), entry('b', ['a', 'nope']), entry('c', ['dag']));
    expect(where(source)).toEqual([
      ['SLU_FLOW_INVALID_VALUE', 'tasks[0].tasks[1].dependsOn[1]', 17, 'Not existing task id in dependency: nope'],
      ['SLU_FLOW_INVALID_VALUE', 'tasks[0].tasks[2].dependsOn[0]', 23, 'Not existing task id in dependency: dag'],
    ]);
  });

  it('refuses a cycle, naming every task on it, at the dependency that closes it', () => {
    const source = dag(entry('a', ['c']), entry('b', ['a']), entry('c', ['x', 'b']), entry('x'));
    expect(where(source)).toEqual([['SLU_FLOW_INVALID_VALUE', 'tasks[0].tasks[0].dependsOn[0]', 12, 'Cyclic dependency detected: a, b, c']]);
    // A task depending on itself, after a task that is fine.
    const self = dag(entry('ok'), entry('me', ['ok', 'me']));
    expect(where(self)).toEqual([['SLU_FLOW_INVALID_VALUE', 'tasks[0].tasks[1].dependsOn[1]', 17, 'Cyclic dependency detected: me']]);
  });

  it('checks each entry\'s task as a task, and its entries\' shape', () => {
    const source = flow(`  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    concurrent: 2
    tasks:
      - task:
          id: a
          type: io.kestra.plugin.core.log.Log
      - dependsOn: [a]
      - task:
          id: b
          type: io.kestra.plugin.core.log.Log
          message: b
        dependsOn: a
        after: a
`);
    expect(where(source)).toEqual([
      ['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[0].tasks[0].task', 9, 'missing required property "message"'],
      ['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[0].tasks[1]', 11, 'missing required property "task"'],
      ['SLU_FLOW_INVALID_TYPE', 'tasks[0].tasks[2].dependsOn', 16, 'must be a list, got a string ("a")'],
      ['SLU_FLOW_UNKNOWN_PROPERTY', 'tasks[0].tasks[2].after', 17, 'unknown property "after"'],
    ]);
  });
});

describe('task ids stay unique across the whole flow', () => {
  it('through Switch cases, Dag tasks, If branches and every errors list', () => {
    const source = flow(`  - id: s
    type: io.kestra.plugin.core.flow.Switch
    value: x
    cases:
      x:
${log('one', '        ')}    defaults:
${log('two', '      ')}    errors:
${log('three', '      ')}  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: one
          type: io.kestra.plugin.core.log.Log
          message: hi
    errors:
${log('two', '      ')}  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "yes"
    then:
${log('three', '      ')}    else:
${log('s', '      ')}errors:
${log('dag', '  ')}`);
    expect(problems(source).map((p) => [p.path, p.line, p.message])).toEqual([
      ['tasks[1].tasks[0].task.id', 24, 'duplicate task id "one": already used at tasks[0].cases.x[0] (line 9)'],
      ['tasks[1].errors[0].id', 28, 'duplicate task id "two": already used at tasks[0].defaults[0] (line 13)'],
      ['tasks[2].then[0].id', 35, 'duplicate task id "three": already used at tasks[0].errors[0] (line 17)'],
      ['tasks[2].else[0].id', 39, 'duplicate task id "s": already used at tasks[0] (line 4)'],
      ['errors[0].id', 43, 'duplicate task id "dag": already used at tasks[1] (line 20)'],
    ]);
  });
});

describe('WorkingDirectory', () => {
  it('allows errors, which run outside its one job: flowables and workerGroup are fine there', () => {
    const source = flow(`  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    workerGroup: {key: gpu}
    tasks:
${log('inside', '      ')}    errors:
      - id: alert
        type: io.kestra.plugin.core.flow.Sequential
        workerGroup: {key: default}
        tasks:
${log('notify', '          ')}`);
    expect(problems(source)).toEqual([]);
  });

  it('refuses cache, which Sluice does not implement, at the cache line', () => {
    const source = flow(`  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    cache:
      patterns:
        - venv/**
      ttl: PT24H
    tasks:
${log('inside', '      ')}`);
    expect(problems(source).map((p) => [p.code, p.path, p.line, p.column, p.message])).toEqual([
      [
        'SLU_FLOW_UNSUPPORTED_PROPERTY',
        'tasks[0].cache',
        6,
        5,
        'WorkingDirectory.cache is not supported by Sluice yet: every run starts from an empty directory, nothing is cached between executions; remove cache',
      ],
    ]);
  });

  it('keeps refusing flowables inside its tasks', () => {
    const source = flow(`  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n      - id: p\n        type: io.kestra.plugin.core.flow.Parallel\n        tasks:\n${log('x', '          ')}`);
    expect(problems(source).map((p) => p.code)).toEqual(['SLU_FLOW_TASK_NOT_ALLOWED']);
  });
});

describe('WaitFor nesting', () => {
  const waitFor = (id: string, indent: string, inner: string) =>
    `${indent}- id: ${id}\n${indent}  type: io.kestra.plugin.core.flow.WaitFor\n${indent}  condition: "true"\n${indent}  tasks:\n${inner}`;
  it('refuses a WaitFor directly inside a WaitFor, at the inner one\'s type line', () => {
    const source = flow(waitFor('outer', '  ', waitFor('inner', '      ', log('t', '          '))));
    expect(where(source)).toEqual([['SLU_FLOW_TASK_NOT_ALLOWED', 'tasks[0].tasks[0].type', 9, expect.stringMatching(/WaitFor cannot be a direct child of a WaitFor/)]]);
  });
  it('accepts one wrapped in a Sequential', () => {
    const wrapped = `      - id: seq\n        type: io.kestra.plugin.core.flow.Sequential\n        tasks:\n${waitFor('inner', '          ', log('t', '              '))}`;
    expect(problems(flow(waitFor('outer', '  ', wrapped)))).toEqual([]);
  });
});

describe('finally (Kestra 0.24+)', () => {
  it('is accepted on the flow and on flowables, its tasks validated and their ids unique with the rest', () => {
    const source = `id: f\nnamespace: dev\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n${log('a', '      ')}    finally:\n${log('b', '      ')}finally:\n${log('c', '  ')}`;
    expect(problems(source)).toEqual([]);
    const duplicate = `id: f\nnamespace: dev\ntasks:\n${log('a', '  ')}finally:\n${log('a', '  ')}`;
    expect(problems(duplicate).map((p) => [p.code, p.path])).toEqual([['SLU_FLOW_DUPLICATE_TASK_ID', 'finally[0].id']]);
  });
});

describe('afterExecution (Kestra 0.24+)', () => {
  it('is accepted on the flow, its tasks validated and their ids unique with the rest', () => {
    expect(problems(`id: f\nnamespace: dev\ntasks:\n${log('a', '  ')}afterExecution:\n${log('b', '  ')}`)).toEqual([]);
    const duplicate = `id: f\nnamespace: dev\ntasks:\n${log('a', '  ')}afterExecution:\n${log('a', '  ')}`;
    expect(problems(duplicate).map((p) => [p.code, p.path])).toEqual([['SLU_FLOW_DUPLICATE_TASK_ID', 'afterExecution[0].id']]);
    const unknown = `id: f\nnamespace: dev\ntasks:\n${log('a', '  ')}afterExecution:\n  - id: b\n    type: io.kestra.plugin.core.log.Nope\n`;
    expect(problems(unknown).map((p) => [p.code, p.path])).toEqual([['SLU_FLOW_UNKNOWN_TASK_TYPE', 'afterExecution[0].type']]);
  });
  it('is not a property of a flowable task', () => {
    const source = `id: f\nnamespace: dev\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n${log('a', '      ')}    afterExecution:\n${log('b', '      ')}`;
    expect(problems(source).map((p) => p.path)).toEqual(['tasks[0].afterExecution']);
  });
});
