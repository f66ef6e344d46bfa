import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { closestNames } from '../suggest.js';
import type { FlowPlugins, PluginLookup, PluginSchema, RunnerSchema, TaskSchema } from './plugin-schemas.js';
import { describeProblem } from './source.js';
import { createFlowValidator, describeValue } from './validate.js';

// A small, self-contained plugin set: core's validator must work with any registry-like lookup.
function lookup<T extends PluginSchema>(entries: T[]): PluginLookup<T> {
  const byName = new Map<string, T>();
  for (const e of entries) for (const n of [e.type, ...(e.aliases ?? [])]) byName.set(n.toLowerCase(), e);
  return {
    find: (type) => byName.get(type.toLowerCase()),
    suggest: (type) => closestNames(type, [...byName.keys()]),
    list: () => entries,
  };
}

const echo: TaskSchema = {
  type: 'test.Echo',
  aliases: ['old.Echo'],
  title: 'Echo',
  kind: 'runnable',
  properties: { text: { type: 'string' }, depth: { type: 'integer', minimum: 1 }, mode: { enum: ['A', 'B'] } },
  required: ['text'],
  check: (value) => (value.text === 'forbidden' ? [{ path: ['text'], code: 'SLU_FLOW_INVALID_VALUE', params: { reason: 'text is forbidden' } }] : []),
};
const group: TaskSchema = { type: 'test.Group', title: 'Group', kind: 'flowable', childTasks: ['tasks'], errorTasks: ['errors'], runsChildrenAsOneJob: true, properties: {}, required: ['tasks'] };
// Children kept in a map of lists, in entries of a list, and input declarations: the other places TaskSchema names.
const branch: TaskSchema = { type: 'test.Branch', title: 'Branch', kind: 'flowable', childTasks: ['defaults'], childTaskMaps: ['cases'], errorTasks: ['errors'], properties: {} };
const graph: TaskSchema = {
  type: 'test.Graph',
  title: 'Graph',
  kind: 'flowable',
  childTaskEntries: [{ property: 'nodes', key: 'task' }],
  properties: { nodes: { type: 'array', items: { type: 'object', required: ['task'], properties: { task: {}, after: { type: 'string' } }, additionalProperties: false } } },
  required: ['nodes'],
};
const wait: TaskSchema = {
  type: 'test.Wait',
  title: 'Wait',
  kind: 'flowable',
  inputDeclarations: ['ask'],
  properties: { big: { type: 'object' } },
  check: (value) => (value.big !== undefined ? [{ path: ['big'], target: 'key', code: 'SLU_FLOW_UNSUPPORTED_PROPERTY', params: { property: 'Wait.big', reason: 'no' } }] : []),
};
const sequence: TaskSchema = { type: 'test.Sequence', title: 'Sequence', kind: 'flowable', childTasks: ['tasks'], properties: {}, required: ['tasks'] };
const script: TaskSchema = { type: 'test.Script', title: 'Script', kind: 'runnable', usesRunner: true, properties: { script: { type: 'string' } }, required: ['script'] };
const local: RunnerSchema = { type: 'test.Local', legacyName: 'LOCAL', title: 'Local', properties: { nice: { type: 'integer' } } };
const box: RunnerSchema = {
  type: 'test.Box',
  legacyName: 'BOX',
  title: 'Box',
  properties: {},
  legacyOptions: { property: 'box', schema: { type: 'object', properties: { image: { type: 'string' } }, additionalProperties: false } },
};

const plugins: FlowPlugins = {
  tasks: lookup([echo, group, sequence, script, branch, graph, wait]),
  runners: lookup([box, local]),
  triggers: lookup<PluginSchema>([{ type: 'test.Tick', title: 'Tick', properties: { every: { type: 'string', format: 'duration' } }, required: ['every'] }]),
};

const validator = createFlowValidator(plugins, { maxTasks: 50, maxDepth: 3 });
const problemsOf = (source: string) => validator.validateSource(source).flatMap((r) => r.problems);
const head = 'id: f\nnamespace: dev\n';

describe('createFlowValidator', () => {
  it('accepts a valid flow and returns it', () => {
    const [result] = validator.validateSource(`${head}tasks:\n  - id: a\n    type: old.ECHO\n    text: hi\n`);
    expect(result?.problems).toEqual([]);
    expect(result?.flow?.tasks[0]?.type).toBe('old.ECHO');
    expect(result?.source).toContain('text: hi');
  });

  it('tolerates expressions where a typed value is expected (checked when rendered)', () => {
    expect(problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: x\n    depth: "{{ inputs.depth }}"\n    mode: "{{ inputs.mode }}"\n    timeout: "{{ vars.t }}"\n`)).toEqual([]);
  });

  it('reports a bad expression inside a tolerated value', () => {
    const [problem] = problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: x\n    depth: "{{ inputs.depth "\n`);
    expect(problem?.code).toBe('SLU_FLOW_INVALID_EXPRESSION');
    expect(problem?.path).toBe('tasks[0].depth');
  });

  it('does not parse descriptions as templates', () => {
    expect(problemsOf(`${head}description: "use {{ like this"\ntasks:\n  - id: a\n    type: test.Echo\n    text: x\n    description: "{% nope"\n`)).toEqual([]);
  });

  it('formats problems with path, line and column', () => {
    const [problem] = problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: x\n    mode: C\n`);
    expect(problem && describeProblem(problem)).toBe('tasks[0].mode: must be one of A, B, got "C" (line 7, column 11)');
  });

  it('lets pluginDefaults provide a required property, by type or by prefix', () => {
    const body = 'tasks:\n  - id: a\n    type: test.Echo\n';
    expect(problemsOf(`${head}${body}`)[0]?.message).toBe('missing required property "text"');
    expect(problemsOf(`${head}pluginDefaults:\n  - type: old.echo\n    values: {text: hi}\n${body}`)).toEqual([]);
    expect(problemsOf(`${head}taskDefaults:\n  - type: test\n    values: {text: hi}\n${body}`)).toEqual([]);
    expect(problemsOf(`${head}pluginDefaults:\n  - type: other\n    values: {text: hi}\n${body}`)).toHaveLength(1);
  });

  it('runs plugin checks only on objects that passed their schema', () => {
    expect(problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: forbidden\n`).map((p) => p.message)).toEqual(['text is forbidden']);
    expect(problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: forbidden\n    mode: Z\n`).map((p) => p.code)).toEqual(['SLU_FLOW_INVALID_ENUM']);
  });

  it('adds runner properties to tasks that use runners and validates taskRunner by its type', () => {
    expect(problemsOf(`${head}tasks:\n  - id: a\n    type: test.Script\n    script: x\n    runner: BOX\n    box: {image: i}\n`)).toEqual([]);
    expect(problemsOf(`${head}tasks:\n  - id: a\n    type: test.Script\n    script: x\n    taskRunner: {type: TEST.LOCAL, nice: 5}\n`)).toEqual([]);
    const problems = problemsOf(`${head}tasks:\n  - id: a\n    type: test.Script\n    script: x\n    runner: SHIP\n    taskRunner: {type: test.Local, nice: high}\n`);
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['SLU_FLOW_INVALID_ENUM', 'tasks[0].runner'],
      ['SLU_FLOW_INVALID_TYPE', 'tasks[0].taskRunner.nice'],
    ]);
    // Runner properties are not offered to tasks that do not run commands.
    expect(problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: x\n    runner: BOX\n`)[0]?.code).toBe('SLU_FLOW_UNKNOWN_PROPERTY');
  });

  it('checks children of flowable tasks, with the one-job rules only where they apply', () => {
    const nested = `${head}tasks:\n  - id: g\n    type: test.Group\n    tasks:\n      - id: s\n        type: test.Sequence\n        tasks:\n          - id: e\n            type: test.Echo\n            text: x\n`;
    expect(problemsOf(nested).map((p) => p.code)).toEqual(['SLU_FLOW_TASK_NOT_ALLOWED']);
    const seq = `${head}tasks:\n  - id: s\n    type: test.Sequence\n    tasks:\n      - id: e\n        type: test.Echo\n        text: x\n        workerGroup: {key: gpu}\n`;
    expect(problemsOf(seq)).toEqual([]);
  });

  it('bounds the number of tasks and their nesting', () => {
    const many = Array.from({ length: 60 }, (_, i) => `  - id: t${i}\n    type: test.Echo\n    text: x\n`).join('');
    const tooMany = problemsOf(`${head}tasks:\n${many}`);
    expect(tooMany.map((p) => p.message)).toEqual(['the flow is too large: more than 50 tasks']);
    expect(tooMany[0]?.path).toBe('tasks[50]');
    let deep = '- id: leaf\n  type: test.Echo\n  text: x\n';
    for (let i = 0; i < 4; i++) deep = `- id: s${i}\n  type: test.Sequence\n  tasks:\n${deep.replace(/^/gm, '    ')}`;
    const deepProblems = problemsOf(`${head}tasks:\n${deep.replace(/^/gm, '  ')}`);
    expect(deepProblems.map((p) => p.code)).toEqual(['SLU_FLOW_TOO_LARGE']);
    expect(deepProblems[0]?.message).toContain('nested more than 3 levels');
  });

  it('refuses NUL characters and lone surrogates anywhere, escaped or raw, with their path, line and column', () => {
    const task = 'tasks:\n  - id: a\n    type: test.Echo\n    text: x\n';
    const where = (source: string) => problemsOf(source).map((p) => [p.code, p.path, p.line, p.column, p.message]);
    const nul = 'contains a NUL character (U+0000): a flow cannot hold NUL characters or lone surrogates';
    // Escaped: "\0", "\x00", "\u0000" in a double-quoted scalar.
    for (const escape of ['\\0', '\\x00', '\\u0000']) expect(where(`${head}description: "a${escape}"\n${task}`)).toEqual([['SLU_FLOW_INVALID_CHARACTER', 'description', 3, 14, nul]]);
    expect(where(`${head}labels:\n  team: "\\uD800"\n${task}`)).toEqual([['SLU_FLOW_INVALID_CHARACTER', 'labels.team', 4, 9, expect.stringContaining('a lone surrogate (U+D800)')]]);
    expect(where(`${head}labels:\n  "k\\uDC00": v\n${task}`)).toEqual([['SLU_FLOW_INVALID_CHARACTER', 'labels["k\\udc00"]', 4, 3, expect.stringContaining('U+DC00')]]);
    // A well-formed pair is text like any other.
    expect(where(`${head}description: "\\uD83D\\uDE00"\n${task}`)).toEqual([]);
    // Raw: at the exact character, in a value, a task, a key, and a comment (stored with the source).
    expect(where(`${head}description: a\u0000b\n${task}`)).toEqual([['SLU_FLOW_INVALID_CHARACTER', 'description', 3, 15, nul]]);
    expect(where(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: "x\u0000"\n`)).toEqual([['SLU_FLOW_INVALID_CHARACTER', 'tasks[0].text', 6, 13, nul]]);
    expect(where(`# note \u0000\n${head}${task}`)).toEqual([['SLU_FLOW_INVALID_CHARACTER', '', 1, 8, nul]]);
    expect(where(`${head}${task}# trailing \uD800\n`)).toEqual([['SLU_FLOW_INVALID_CHARACTER', '', 7, 12, expect.stringContaining('U+D800')]]);
    // In an id, the character is named first (the id pattern complains too).
    expect(problemsOf(`id: "f\\0"\nnamespace: dev\n${task}`).map((p) => p.code)).toEqual(['SLU_FLOW_INVALID_CHARACTER', 'SLU_FLOW_INVALID_ID']);
    // Each document of a multi-document source on its own; parseFlow throws the problem as its error.
    const results = validator.validateSource(`${head}${task}---\n${head}description: "\\0"\n${task}`);
    expect(results.map((r) => r.problems.map((p) => p.code))).toEqual([[], ['SLU_FLOW_INVALID_CHARACTER']]);
    expect(() => validator.parseFlow(`${head}description: "\\0"\n${task}`)).toThrow(expect.objectContaining({ code: 'SLU_FLOW_INVALID_CHARACTER', details: expect.objectContaining({ path: 'description', line: 3 }) }));
    // A flow full of them gets a bounded list.
    const many = Array.from({ length: 50 }, (_, i) => `  v${i}: "\\0"\n`).join('');
    expect(problemsOf(`${head}variables:\n${many}${task}`)).toHaveLength(20);
  });

  it('reports YAML nested too deeply for the parser as too large, not as a crash', () => {
    for (const nested of [`\n    ${'- '.repeat(20_000)}1`, `${'['.repeat(20_000)}${']'.repeat(20_000)}`, `\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i + 4)}k:`).join('\n')} 1`]) {
      const problems = problemsOf(`${head}variables:\n  deep: ${nested}\ntasks:\n  - id: a\n    type: test.Echo\n    text: x\n`);
      expect(problems.map((p) => [p.code, p.message])).toEqual([['SLU_FLOW_TOO_LARGE', 'the flow is too large: the YAML is nested too deeply to be read']]);
    }
  });

  it('validates triggers by type, including formats', () => {
    expect(problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: x\ntriggers:\n  - id: t\n    type: test.tick\n    every: PT5M\n`)).toEqual([]);
    const problems = problemsOf(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: x\ntriggers:\n  - id: t\n    type: test.Tick\n    every: 5 minutes\n  - 42\n  - {id: u}\n`);
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['SLU_FLOW_INVALID_DURATION', 'triggers[0].every'],
      ['SLU_FLOW_NOT_AN_OBJECT', 'triggers[1]'],
      ['SLU_FLOW_REQUIRED_PROPERTY', 'triggers[2]'],
    ]);
  });

  it('checks input defaults against their type', () => {
    const inputs = [
      ['FLOAT', '"x"', 'SLU_FLOW_INVALID_TYPE'],
      ['BOOLEAN', '"yes"', 'SLU_FLOW_INVALID_TYPE'],
      ['STRING', '5', 'SLU_FLOW_INVALID_TYPE'],
      ['DATETIME', 'not-a-date', 'SLU_FLOW_INVALID_TYPE'],
      ['ARRAY', 'x', 'SLU_FLOW_INVALID_TYPE'],
      ['DURATION', '5', 'SLU_FLOW_INVALID_TYPE'],
    ];
    for (const [type, defaults, code] of inputs) {
      const problems = problemsOf(`${head}inputs:\n  - id: i\n    type: ${type}\n    defaults: ${defaults}\ntasks:\n  - id: a\n    type: test.Echo\n    text: x\n`);
      expect(problems.map((p) => [p.code, p.path]), `${type} ${defaults}`).toEqual([[code, 'inputs[0].defaults']]);
    }
    const fine = ['FLOAT: 1.5', 'BOOLEAN: false', 'DATETIME: "2026-01-01T00:00:00Z"', 'JSON: "{}"', 'DURATION: PT1M', 'STRING: "{{ now() }}"'];
    for (const line of fine) {
      const [type, defaults] = line.split(': ');
      expect(problemsOf(`${head}inputs:\n  - id: i\n    type: ${type}\n    defaults: ${defaults}\ntasks:\n  - id: a\n    type: test.Echo\n    text: x\n`), line).toEqual([]);
    }
    const select = (defaults: string, extra = '') =>
      problemsOf(`${head}inputs:\n  - id: i\n    type: SELECT\n    values: [a, b]\n    defaults: ${defaults}\n${extra}tasks:\n  - id: a\n    type: test.Echo\n    text: x\n`);
    expect(select('c').map((p) => p.message)).toEqual(['must be one of a, b, got "c"']);
    expect(select('c', '    allowCustomValue: true\n')).toEqual([]);
  });

  it('parseFlow returns one flow or throws with every problem', () => {
    expect(validator.parseFlow(`${head}tasks:\n  - id: a\n    type: test.Echo\n    text: x\n`).flow.id).toBe('f');
    try {
      validator.parseFlow(`${head}tasks:\n  - id: a\n    type: test.Nope\n  - id: a\n    type: test.Echo\n`);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SluiceError);
      const e = error as SluiceError;
      expect(e.code).toBe('SLU_FLOW_UNKNOWN_TASK_TYPE');
      expect(e.details).toMatchObject({ path: 'tasks[0].type', line: 5, column: 11 });
      expect((e.details.problems as unknown[]).length).toBe(3);
    }
    expect(() => validator.parseFlow(`${head}tasks: []\n---\n${head}tasks: []\n`)).toThrowError('expected one flow, found 2 YAML documents');
    expect(() => validator.parseFlow('')).toThrowError(/the document is empty/);
    expect(validator.validateSource('   \n')[0]?.problems[0]?.code).toBe('SLU_FLOW_EMPTY');
  });

  it('rejects a plugin whose schema does not compile', () => {
    const bad: TaskSchema = { type: 'bad.Task', title: 'Bad', kind: 'runnable', properties: { x: { type: 'strng' } } };
    expect(() => createFlowValidator({ ...plugins, tasks: lookup([bad]) }, { eager: true })).toThrowError(/invalid task definition "bad.Task"/);
    // Lazily compiled, the same plugin fails on first use, with the same error.
    const lazy = createFlowValidator({ ...plugins, tasks: lookup([bad]) });
    expect(() => lazy.validateSource(`${head}tasks:\n  - id: a\n    type: bad.Task\n`)).toThrowError(/invalid task definition "bad.Task"/);
  });

  it('describes values for messages', () => {
    expect(describeValue(null)).toBe('nothing (null)');
    expect(describeValue([1])).toBe('a list');
    expect(describeValue({})).toBe('a mapping');
    expect(describeValue('x'.repeat(50))).toBe(`a string ("${'x'.repeat(40)}…")`);
    expect(describeValue(1.5)).toBe('a number (1.5)');
    expect(describeValue(true)).toBe('a boolean (true)');
  });
});

describe('children wherever a task keeps them', () => {
  const where = (source: string) => problemsOf(source).map((p) => [p.code, p.path, p.line]);

  it('checks tasks in a map of lists (cases.<key>[i]) and in the defaults and errors lists, with path and line', () => {
    const source = `${head}tasks:
  - id: b
    type: test.Branch
    cases:
      one:
        - id: c1
          type: test.Echo
          text: x
      "two words":
        - id: c2
          type: test.Echo
          mode: C
    defaults:
      - id: d
        type: test.Nope
    errors:
      - id: e
        type: test.Echo
`;
    expect(where(source)).toEqual([
      ['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[0].cases["two words"][0]', 12],
      ['SLU_FLOW_INVALID_ENUM', 'tasks[0].cases["two words"][0].mode', 14],
      ['SLU_FLOW_UNKNOWN_TASK_TYPE', 'tasks[0].defaults[0].type', 17],
      ['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[0].errors[0]', 19],
    ]);
  });

  it('checks the task of each entry of an entry list (nodes[i].task)', () => {
    const source = `${head}tasks:
  - id: g
    type: test.Graph
    nodes:
      - task:
          id: n1
          type: test.Echo
          text: x
      - task:
          id: n2
          type: test.Echo
          depth: 0
          text: y
        after: n1
      - after: n1
      - task: just text
`;
    expect(where(source)).toEqual([
      ['SLU_FLOW_INVALID_VALUE', 'tasks[0].nodes[1].task.depth', 14],
      ['SLU_FLOW_REQUIRED_PROPERTY', 'tasks[0].nodes[2]', 17],
      ['SLU_FLOW_NOT_AN_OBJECT', 'tasks[0].nodes[3].task', 18],
    ]);
  });

  it('keeps task ids unique across cases, entries, errors and the flow', () => {
    const source = `${head}tasks:
  - id: a
    type: test.Echo
    text: x
  - id: b
    type: test.Branch
    cases:
      k:
        - id: a
          type: test.Echo
          text: x
    errors:
      - id: g
        type: test.Echo
        text: x
  - id: g
    type: test.Graph
    nodes:
      - task:
          id: b
          type: test.Echo
          text: x
errors:
  - id: a
    type: test.Echo
    text: x
`;
    expect(problemsOf(source).map((p) => [p.path, p.line, p.message])).toEqual([
      ['tasks[1].cases.k[0].id', 11, 'duplicate task id "a": already used at tasks[0] (line 4)'],
      ['tasks[2].id', 18, 'duplicate task id "g": already used at tasks[1].errors[0] (line 15)'],
      ['tasks[2].nodes[0].task.id', 22, 'duplicate task id "b": already used at tasks[1] (line 7)'],
      ['errors[0].id', 26, 'duplicate task id "a": already used at tasks[0] (line 4)'],
    ]);
  });

  it('applies the one-job rules to the main children only, not to errors', () => {
    const flowable = (indent: string) =>
      [`- id: s`, `  type: test.Sequence`, `  workerGroup: {key: gpu}`, `  tasks:`, `    - id: t`, `      type: test.Echo`, `      text: x`].map((l) => `${indent}${l}\n`).join('');
    const inErrors = `${head}tasks:\n  - id: g\n    type: test.Group\n    tasks:\n      - id: e\n        type: test.Echo\n        text: x\n    errors:\n${flowable('      ')}`;
    expect(where(inErrors)).toEqual([]);
    const inTasks = `${head}tasks:\n  - id: g\n    type: test.Group\n    tasks:\n${flowable('      ')}`;
    expect(where(inTasks)).toEqual([
      ['SLU_FLOW_TASK_NOT_ALLOWED', 'tasks[0].tasks[0].type', 8],
      ['SLU_FLOW_WORKER_GROUP_IN_CHILD', 'tasks[0].tasks[0].workerGroup', 9],
    ]);
  });

  it('bounds nesting through maps and entries too', () => {
    let deep = '- id: leaf\n  type: test.Echo\n  text: x\n';
    for (let i = 0; i < 4; i++) deep = `- id: b${i}\n  type: test.Branch\n  cases:\n    k:\n${deep.replace(/^/gm, '      ')}`;
    expect(problemsOf(`${head}tasks:\n${deep.replace(/^/gm, '  ')}`).map((p) => [p.code, p.message])).toEqual([
      ['SLU_FLOW_TOO_LARGE', 'the flow is too large: tasks nested more than 3 levels deep'],
    ]);
  });

  it('gives a cases or entries property of the wrong shape one schema error and walks nothing', () => {
    expect(where(`${head}tasks:\n  - id: b\n    type: test.Branch\n    cases: [x]\n`)).toEqual([['SLU_FLOW_INVALID_TYPE', 'tasks[0].cases', 6]]);
    expect(where(`${head}tasks:\n  - id: b\n    type: test.Branch\n    cases:\n      k: x\n`)).toEqual([['SLU_FLOW_INVALID_TYPE', 'tasks[0].cases.k', 7]]);
    expect(where(`${head}tasks:\n  - id: g\n    type: test.Graph\n    nodes: {task: x}\n`)).toEqual([['SLU_FLOW_INVALID_TYPE', 'tasks[0].nodes', 6]]);
  });

  it('lets a plugin check point at a key', () => {
    expect(problemsOf(`${head}tasks:\n  - id: w\n    type: test.Wait\n    big:\n      a: 1\n`).map((p) => [p.code, p.path, p.line, p.column, p.message])).toEqual([
      ['SLU_FLOW_UNSUPPORTED_PROPERTY', 'tasks[0].big', 6, 5, 'Wait.big is not supported by Sluice yet: no'],
    ]);
  });
});

describe('input declarations', () => {
  const task = 'tasks:\n  - id: a\n    type: test.Echo\n    text: x\n';
  const where = (source: string) => problemsOf(source).map((p) => [p.code, p.path, p.line, p.message]);

  it('refuses defaults on a FILE input, at the defaults line', () => {
    expect(where(`${head}inputs:\n  - id: data\n    type: FILE\n    defaults: kestra:///x/y.csv\n${task}`)).toEqual([
      [
        'SLU_FLOW_INVALID_VALUE',
        'inputs[0].defaults',
        6,
        'a FILE input cannot have defaults: its file is uploaded with each execution (remove defaults, or make the input required: false)',
      ],
    ]);
    expect(where(`${head}inputs:\n  - id: data\n    type: FILE\n    required: false\n${task}`)).toEqual([]);
  });

  it('refuses an ARRAY input whose itemType is ARRAY', () => {
    expect(where(`${head}inputs:\n  - id: l\n    type: ARRAY\n    itemType: ARRAY\n${task}`)).toEqual([
      ['SLU_FLOW_INVALID_VALUE', 'inputs[0].itemType', 6, 'the itemType of an ARRAY input cannot be ARRAY (lists of lists are not supported)'],
    ]);
    expect(where(`${head}inputs:\n  - id: l\n    type: ARRAY\n    itemType: INT\n    defaults: [1, 2]\n${task}`)).toEqual([]);
  });

  it('accepts the legacy key name in place of id, with a warning, and gives the flow an id', () => {
    const [result] = validator.validateSource(`${head}inputs:\n  - name: who\n    type: STRING\n    defaults: you\n  - id: n\n    type: INT\n${task}`);
    expect(result?.problems).toEqual([]);
    expect(result?.warnings?.map((w) => [w.code, w.path, w.line, w.column, w.message])).toEqual([
      ['SLU_FLOW_DEPRECATED', 'inputs[0].name', 4, 5, 'the input key "name" is deprecated: write "id" instead'],
    ]);
    expect(result?.flow?.inputs).toEqual([
      { id: 'who', type: 'STRING', defaults: 'you' },
      { id: 'n', type: 'INT' },
    ]);
    // No warnings at all: no warnings key.
    expect(validator.validateSource(`${head}${task}`)[0]).not.toHaveProperty('warnings');
  });

  it('with both id and name keeps id, drops name and warns', () => {
    const [result] = validator.validateSource(`${head}inputs:\n  - id: real\n    name: legacy\n    type: STRING\n${task}`);
    expect(result?.problems).toEqual([]);
    expect(result?.warnings?.map((w) => w.message)).toEqual(['the input key "name" is deprecated: it is ignored, since this input has an "id"']);
    expect(result?.flow?.inputs).toEqual([{ id: 'real', type: 'STRING' }]);
  });

  it('still requires an id (or name), checks a name like an id, and finds duplicates through name', () => {
    expect(where(`${head}inputs:\n  - type: STRING\n${task}`)).toEqual([['SLU_FLOW_REQUIRED_PROPERTY', 'inputs[0]', 4, 'missing required property "id"']]);
    expect(where(`${head}inputs:\n  - name: "bad id"\n    type: STRING\n${task}`)).toEqual([
      ['SLU_FLOW_INVALID_ID', 'inputs[0].name', 4, 'invalid id "bad id": must match ^[a-zA-Z0-9][.a-zA-Z0-9_-]*$ and be 1 to 100 characters'],
    ]);
    expect(where(`${head}inputs:\n  - id: x\n    type: STRING\n  - name: x\n    type: INT\n${task}`)).toEqual([
      ['SLU_FLOW_DUPLICATE_ID', 'inputs[1].name', 6, 'duplicate input id "x": already used at inputs[0] (line 4)'],
    ]);
  });

  it('checks a task\'s input declarations (onResume-like) by the same rules, with input ids', () => {
    const source = `${head}tasks:
  - id: w
    type: test.Wait
    ask:
      - id: ok
        type: BOOLEAN
        defaults: maybe
      - id: file
        type: FILE
        defaults: x
      - id: "not valid"
        type: STRING
      - name: ok
        type: STRING
`;
    expect(where(source)).toEqual([
      ['SLU_FLOW_INVALID_TYPE', 'tasks[0].ask[0].defaults', 9, 'must be a boolean, got a string ("maybe")'],
      ['SLU_FLOW_INVALID_VALUE', 'tasks[0].ask[1].defaults', 12, expect.stringContaining('a FILE input cannot have defaults')],
      ['SLU_FLOW_INVALID_ID', 'tasks[0].ask[2].id', 13, 'invalid id "not valid": must match ^[a-zA-Z0-9][.a-zA-Z0-9_-]*$ and be 1 to 100 characters'],
      ['SLU_FLOW_DUPLICATE_ID', 'tasks[0].ask[3].name', 15, 'duplicate input id "ok": already used at tasks[0].ask[0] (line 7)'],
    ]);
    const [result] = validator.validateSource(`${head}tasks:\n  - id: w\n    type: test.Wait\n    ask:\n      - name: ok\n        type: BOOLEAN\n`);
    expect(result?.warnings?.map((w) => w.path)).toEqual(['tasks[0].ask[0].name']);
    expect(result?.flow?.tasks[0]?.ask).toEqual([{ id: 'ok', type: 'BOOLEAN' }]);
  });
});
