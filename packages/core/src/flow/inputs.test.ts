import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { isFileRef, resolveInputs } from './inputs.js';
import type { InputProblem } from './inputs.js';
import type { FlowInput } from './model.js';

function problemsOf(run: () => unknown): InputProblem[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('SLU_INPUT_INVALID');
    expect((error as SluiceError).status).toBe(400);
    return (error as SluiceError).details.problems as InputProblem[];
  }
  throw new Error('expected SLU_INPUT_INVALID');
}

const one = (input: Partial<FlowInput> & Pick<FlowInput, 'type'>, value: unknown): unknown =>
  resolveInputs([{ id: 'x', ...input }], value === undefined ? {} : { x: value }).x;

const problemOne = (input: Partial<FlowInput> & Pick<FlowInput, 'type'>, value: unknown): string => {
  const problems = problemsOf(() => one(input, value));
  expect(problems).toHaveLength(1);
  expect(problems[0]?.input).toBe('x');
  return problems[0]?.message ?? '';
};

describe('resolveInputs: typing', () => {
  it('keeps strings for STRING, SECRET, EMAIL and URI, and checks EMAIL and URI', () => {
    expect(one({ type: 'STRING' }, 'hello')).toBe('hello');
    expect(one({ type: 'STRING' }, '')).toBe('');
    expect(one({ type: 'SECRET' }, 's3cr3t')).toBe('s3cr3t');
    expect(one({ type: 'EMAIL' }, 'a@b.io')).toBe('a@b.io');
    expect(problemOne({ type: 'EMAIL' }, 'not-an-email')).toMatch(/e-mail/);
    expect(one({ type: 'URI' }, 'https://example.com/x?y=1')).toBe('https://example.com/x?y=1');
    expect(one({ type: 'URI' }, 'kestra:///a/b')).toBe('kestra:///a/b');
    expect(problemOne({ type: 'URI' }, 'not a uri')).toMatch(/absolute URI/);
    expect(problemOne({ type: 'URI' }, '/relative/path')).toMatch(/absolute URI/);
  });

  it('checks STRING length and validator (whole match)', () => {
    expect(one({ type: 'STRING', validator: '[a-z]+' }, 'abc')).toBe('abc');
    expect(problemOne({ type: 'STRING', validator: '[a-z]+' }, 'abc1')).toMatch(/must match \[a-z\]\+/);
    expect(problemOne({ type: 'STRING', minLength: 3 }, 'ab')).toMatch(/at least 3/);
    expect(problemOne({ type: 'STRING', maxLength: 1 }, 'ab')).toMatch(/at most 1/);
    expect(problemOne({ type: 'STRING', validator: '(' }, 'a')).toMatch(/not a valid regular expression/);
    // A SECRET's value is never echoed in a problem.
    expect(problemOne({ type: 'SECRET', validator: 'x' }, 'my-secret')).not.toContain('my-secret');
  });

  it('types INT and FLOAT, with min/max', () => {
    expect(one({ type: 'INT' }, '42')).toBe(42);
    expect(one({ type: 'INT' }, '-7')).toBe(-7);
    expect(one({ type: 'INT' }, 5)).toBe(5);
    expect(problemOne({ type: 'INT' }, '4.5')).toMatch(/integer/);
    expect(problemOne({ type: 'INT' }, 'abc')).toBe('must be an integer, got "abc"');
    expect(problemOne({ type: 'INT' }, '99999999999999999999')).toMatch(/between/);
    expect(problemOne({ type: 'INT', min: 1 }, '0')).toMatch(/at least 1/);
    expect(problemOne({ type: 'INT', max: 10 }, '11')).toMatch(/at most 10/);
    expect(one({ type: 'FLOAT' }, '3.25')).toBe(3.25);
    expect(one({ type: 'FLOAT' }, '1e3')).toBe(1000);
    expect(one({ type: 'FLOAT' }, '.5')).toBe(0.5);
    expect(problemOne({ type: 'FLOAT' }, 'NaN')).toMatch(/number/);
    expect(problemOne({ type: 'FLOAT' }, '1e999')).toMatch(/finite/);
  });

  it('types BOOLEAN and BOOL from "true"/"false"', () => {
    expect(one({ type: 'BOOLEAN' }, 'true')).toBe(true);
    expect(one({ type: 'BOOL' }, 'FALSE')).toBe(false);
    expect(one({ type: 'BOOLEAN' }, false)).toBe(false);
    expect(problemOne({ type: 'BOOLEAN' }, 'yes')).toBe('must be true or false, got "yes"');
  });

  it('normalises DATETIME to UTC, DATE and TIME as Java prints them', () => {
    expect(one({ type: 'DATETIME' }, '2024-01-31T10:00:00Z')).toBe('2024-01-31T10:00:00Z');
    expect(one({ type: 'DATETIME' }, '2024-01-31T12:00:00.250+02:00')).toBe('2024-01-31T10:00:00.250Z');
    expect(one({ type: 'DATETIME' }, '2024-01-31T12:00+0200')).toBe('2024-01-31T10:00:00Z');
    expect(problemOne({ type: 'DATETIME' }, '2024-01-31T10:00:00')).toMatch(/time zone/);
    expect(problemOne({ type: 'DATETIME' }, '2024-02-30T10:00:00Z')).toMatch(/date-time/);
    expect(problemOne({ type: 'DATETIME' }, 'yesterday')).toMatch(/date-time/);
    expect(one({ type: 'DATE' }, '2024-02-29')).toBe('2024-02-29');
    expect(problemOne({ type: 'DATE' }, '2023-02-29')).toMatch(/date/);
    expect(problemOne({ type: 'DATE' }, '2024-1-1')).toMatch(/date/);
    expect(one({ type: 'TIME' }, '10:15')).toBe('10:15');
    expect(one({ type: 'TIME' }, '10:15:00')).toBe('10:15');
    expect(one({ type: 'TIME' }, '10:15:30')).toBe('10:15:30');
    expect(one({ type: 'TIME' }, '10:15:30.5')).toBe('10:15:30.500');
    expect(problemOne({ type: 'TIME' }, '25:00')).toMatch(/local time/);
  });

  it('normalises DURATION like Java', () => {
    expect(one({ type: 'DURATION' }, 'PT90M')).toBe('PT1H30M');
    expect(one({ type: 'DURATION' }, 'P1D')).toBe('PT24H');
    expect(problemOne({ type: 'DURATION' }, '5 minutes')).toMatch(/ISO-8601 duration/);
  });

  it('parses JSON and YAML', () => {
    expect(one({ type: 'JSON' }, '{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(one({ type: 'JSON' }, '"s"')).toBe('s');
    expect(problemOne({ type: 'JSON' }, '{nope')).toMatch(/valid JSON/);
    expect(one({ type: 'YAML' }, 'a: 1\nb: [x]\n')).toEqual({ a: 1, b: ['x'] });
    expect(problemOne({ type: 'YAML' }, 'a: [1\n')).toMatch(/valid YAML/);
  });

  it('checks SELECT/ENUM values, unless allowCustomValue', () => {
    expect(one({ type: 'SELECT', values: ['dev', 'prod'] }, 'prod')).toBe('prod');
    expect(one({ type: 'ENUM', values: ['dev', 'prod'] }, 'dev')).toBe('dev');
    expect(problemOne({ type: 'SELECT', values: ['dev', 'prod'] }, 'test')).toBe('must be one of "dev", "prod", got "test"');
    expect(one({ type: 'SELECT', values: ['dev'], allowCustomValue: true }, 'other')).toBe('other');
  });

  it('reads MULTISELECT and ARRAY from a JSON list or repeated fields', () => {
    const multi = { type: 'MULTISELECT' as const, values: ['a', 'b', 'c'] };
    expect(one(multi, '["a","c"]')).toEqual(['a', 'c']);
    expect(one(multi, ['a', 'b'])).toEqual(['a', 'b']);
    expect(one(multi, ['["b"]'])).toEqual(['b']);
    expect(one(multi, 'a')).toEqual(['a']);
    expect(problemOne(multi, ['a', 'z'])).toMatch(/"z" is not among/);
    expect(problemOne(multi, '[oops')).toMatch(/JSON list/);
    expect(one({ type: 'ARRAY', itemType: 'INT' }, '[1, "2"]')).toEqual([1, 2]);
    expect(one({ type: 'ARRAY', itemType: 'INT' }, ['3', '4'])).toEqual([3, 4]);
    expect(one({ type: 'ARRAY' }, ['x', 'y'])).toEqual(['x', 'y']);
    expect(problemOne({ type: 'ARRAY', itemType: 'INT' }, ['1', 'two'])).toBe('item 1: must be an integer, got "two"');
  });

  it('refuses several values for a single-valued input', () => {
    expect(problemOne({ type: 'STRING' }, ['a', 'b'])).toBe('expects one value, got 2');
    expect(one({ type: 'STRING' }, ['only'])).toBe('only');
  });

  it('takes FILE inputs as stored references; a plain URI only inside the allowed prefix', () => {
    expect(one({ type: 'FILE' }, { uri: 'kestra:///a/f/executions/e/inputs/x/data.csv' })).toBe('kestra:///a/f/executions/e/inputs/x/data.csv');
    expect(problemOne({ type: 'FILE' }, 'kestra:///other/file')).toMatch(/uploaded as a file/);
    const prefix = 'kestra:///a/f/executions/e/';
    expect(resolveInputs([{ id: 'x', type: 'FILE' }], { x: `${prefix}inputs/x/a.txt` }, { fileUriPrefix: prefix }).x).toBe(`${prefix}inputs/x/a.txt`);
    expect(problemsOf(() => resolveInputs([{ id: 'x', type: 'FILE' }], { x: 'kestra:///b/g/executions/z/inputs/x/a.txt' }, { fileUriPrefix: prefix }))).toHaveLength(1);
    expect(isFileRef({ uri: 'kestra:///x' })).toBe(true);
    expect(isFileRef('kestra:///x')).toBe(false);
    expect(isFileRef([{ uri: 'x' }])).toBe(false);
  });
});

describe('resolveInputs: defaults, required, unknown', () => {
  it('applies and types defaults; optional absent inputs are null', () => {
    const inputs: FlowInput[] = [
      { id: 'n', type: 'INT', defaults: '3' },
      { id: 'flag', type: 'BOOLEAN', defaults: true },
      { id: 'when', type: 'DATETIME', defaults: '{{ now() }}' },
      { id: 'opt', type: 'STRING', required: false },
      { id: 'cfg', type: 'JSON', defaults: { a: 1 } },
    ];
    expect(resolveInputs(inputs, {})).toEqual({ n: 3, flag: true, when: '{{ now() }}', opt: null, cfg: { a: 1 } });
    expect(resolveInputs(inputs, { n: '9', opt: 'x' })).toMatchObject({ n: 9, opt: 'x' });
    expect(resolveInputs(undefined, {})).toEqual({});
  });

  it('collects every problem into one error: missing, unknown (with a suggestion), invalid, bad default', () => {
    const inputs: FlowInput[] = [
      { id: 'name', type: 'STRING' },
      { id: 'count', type: 'INT' },
      { id: 'env', type: 'SELECT', values: ['dev', 'prod'] },
      { id: 'broken', type: 'INT', defaults: 'x' },
    ];
    let error: SluiceError | undefined;
    try {
      resolveInputs(inputs, { count: 'many', env: 'qa', nmae: 'typo' });
    } catch (caught) {
      error = caught as SluiceError;
    }
    expect(error?.code).toBe('SLU_INPUT_INVALID');
    const problems = error?.details.problems as InputProblem[];
    expect(problems.map((p) => p.input).sort()).toEqual(['broken', 'count', 'env', 'name', 'nmae']);
    expect(problems.find((p) => p.input === 'nmae')?.message).toMatch(/unknown input.*did you mean "name"/i);
    expect(problems.find((p) => p.input === 'name')?.message).toBe('is required (STRING) and was not given');
    expect(problems.find((p) => p.input === 'broken')?.message).toMatch(/default value is invalid/);
    expect(error?.message).toMatch(/^invalid inputs: /);
    expect(error?.message).toContain('count: must be an integer, got "many"');
  });

  it('rejects any input when the flow declares none', () => {
    expect(problemsOf(() => resolveInputs([], { x: '1' }))).toEqual([{ input: 'x', message: 'unknown input: the flow declares no inputs' }]);
  });

  it('treats null and an empty list as absent', () => {
    expect(problemsOf(() => resolveInputs([{ id: 'x', type: 'STRING' }], { x: null }))).toHaveLength(1);
    expect(resolveInputs([{ id: 'x', type: 'STRING', defaults: 'd' }], { x: [] })).toEqual({ x: 'd' });
  });
});
