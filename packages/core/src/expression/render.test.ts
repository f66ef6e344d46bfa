import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import {
  builtinFilters,
  builtinFunctions,
  builtinTests,
  evaluateExpression,
  hasExpression,
  parseTemplate,
  renderTemplate,
  renderValue,
  type ExpressionFunction,
  type RenderOptions,
} from './index.js';

async function failure(run: Promise<unknown> | (() => unknown)): Promise<SluiceError> {
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected a SluiceError');
}

const NOW = new Date('2026-11-28T15:53:00.000Z');

const context = {
  inputs: { name: 'world', x: 1, flag: true, empty: '', nothing: null, list: [1, 2, 3], map: { a: 1, b: 'two' } },
  outputs: {
    wdir: { outputFiles: { 'out.csv': 'kestra:///ns/flow/out.csv' } },
    'my-task': { value: 42 },
    rows: [{ id: 1 }, { id: 2 }],
  },
  execution: { id: '4mVYhFPg3yqYmYcx9BRjTL', startDate: '2026-11-28T15:50:00.000Z' },
  flow: { id: 'hello', namespace: 'company.team' },
};

const options: RenderOptions = { now: () => NOW };

function render(source: string, extra: RenderOptions = {}, ctx: Record<string, unknown> = context): Promise<string> {
  return renderTemplate(source, ctx, { ...options, ...extra });
}

describe('renderTemplate: Kestra-style templates', () => {
  it.each([
    ['plain text', 'plain text'],
    ['{{ execution.id }}', '4mVYhFPg3yqYmYcx9BRjTL'],
    ["{{ outputs.wdir.outputFiles['out.csv'] }}", 'kestra:///ns/flow/out.csv'],
    ["{{ outputs['my-task'].value }}", '42'],
    ['Hello {{ inputs.name | upper }}!', 'Hello WORLD!'],
    ["{{ now() | date('yyyy-MM-dd') }}", '2026-11-28'],
    ['{{ now() }}', '2026-11-28T15:53:00.000Z'],
    ["{{ inputs.x == 1 ? 'one' : 'other' }}", 'one'],
    ["{{ inputs.x == 2 ? 'two' : inputs.x == 1 ? 'one' : 'other' }}", 'one'],
    ["{{ inputs.missing ?? 'fallback' }}", 'fallback'],
    ["{{ inputs.nothing ?? 'fallback' }}", 'fallback'],
    ["{{ inputs.name ?? 'fallback' }}", 'world'],
    ["{{ inputs.missing ??? 'fallback' }}", 'fallback'],
    ["{{ inputs.nothing ??? 'fallback' }}", ''],
    ["{{ outputs.t.vars.k ?? 'none' }}", 'none'],
    ["{{ inputs.a ?? inputs.b ?? 'c' }}", 'c'],
    ["{{ inputs.missing | default('d') }}", 'd'],
    ["{{ inputs.empty | default('d') }}", 'd'],
    ["{{ inputs.nothing | default('d') }}", 'd'],
    ["{{ inputs.name | default('d') }}", 'world'],
    ["{{ inputs.missing.deeper | default('d') | upper }}", 'D'],
    ["{{ inputs.missing ?? 'x' | upper }}", 'X'],
    ['{{ flow.namespace }}.{{ flow.id }}', 'company.team.hello'],
    ['{{ outputs.rows[1].id }}', '2'],
    ['{{ inputs.list.0 }}{{ inputs.list[2] }}', '13'],
    ['{{ inputs.map }}', '{"a":1,"b":"two"}'],
    ['{{ inputs.list }}', '[1,2,3]'],
    ['{{ inputs.nothing }}', ''],
    ['{{ inputs.flag }} {{ inputs.x }} {{ 1.5 }}', 'true 1 1.5'],
  ])('%s', async (source, expected) => {
    expect(await render(source)).toBe(expected);
  });

  it('calls supplied functions such as secret(), sync or async', async () => {
    const secret: ExpressionFunction = (args) => `secret:${String(args[0])}`;
    const read: ExpressionFunction = async (args) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return `content of ${String(args[0])}`;
    };
    expect(await render("{{ secret('DOCKER_PAT') }} / {{ read('a.txt') | upper }}", { functions: { secret, read } })).toBe(
      'secret:DOCKER_PAT / CONTENT OF A.TXT',
    );
  });

  it('passes positional and named arguments and an EvalContext', async () => {
    let seen: unknown;
    const kv: ExpressionFunction = (args, kwargs, ctx) => {
      seen = { args, kwargs: { ...kwargs }, limits: ctx.limits.maxSteps, depth: ctx.renderDepth, now: ctx.now() };
      return 'v';
    };
    await render("{{ kv('KEY', namespace='company', errorOnMissing=false) }}", { functions: { kv } });
    expect(seen).toEqual({
      args: ['KEY'],
      kwargs: { namespace: 'company', errorOnMissing: false },
      limits: 100_000,
      depth: 0,
      now: NOW,
    });
  });

  it('supplied filters and functions override built-ins', async () => {
    expect(await render('{{ "a" | upper }}{{ now() }}', { filters: { upper: () => 'U' }, functions: { now: () => 'N' } })).toBe('UN');
  });

  it('renders a parsed template many times', async () => {
    const template = parseTemplate('{{ inputs.name }}');
    expect(template.source).toBe('{{ inputs.name }}');
    expect(await renderTemplate(template, { inputs: { name: 'a' } })).toBe('a');
    expect(await renderTemplate(template, { inputs: { name: 'b' } })).toBe('b');
  });

  it('uses the system clock without options.now', async () => {
    const before = Date.now();
    const rendered = await renderTemplate('{{ now() }}', {});
    expect(Date.parse(rendered)).toBeGreaterThanOrEqual(before - 1);
  });
});

describe('operators', () => {
  it.each([
    ['{{ 1 + 2 * 3 }}', '7'],
    ['{{ (1 + 2) * 3 }}', '9'],
    ['{{ 10 - 4 - 3 }}', '3'],
    ['{{ 10 / 4 }}', '2.5'],
    ['{{ 7 % 3 }}', '1'],
    ['{{ -3 + 1 }}', '-2'],
    ['{{ +3 }}', '3'],
    ['{{ -0 }}', '0'],
    ["{{ 'a' ~ 1 ~ true ~ null }}", 'a1true'],
    ["{{ 'a' + 'b' }}{{ 1 + 'b' }}", 'ab1b'],
    ["{{ 'a' ~ 'b' | upper }}", 'AB'],
    ['{{ 1 + 2 | abs }}', '3'],
    ['{{ [1, 2] + [3] }}{{ [1] + 2 }}', '[1,2,3][1,2]'],
    ['{{ [1, 2, 1, 3] - 1 }}{{ [1, 2, 1, 3] - [1, 3] }}', '[2,1,3][2]'],
    ['{{ 1 == 1 }} {{ 1 == 1.0 }} {{ 1 equals 1 }} {{ 1 != 2 }} {{ "1" == 1 }}', 'true true true true false'],
    ["{{ [1, {'a': 2}] == [1, {'a': 2}] }} {{ {'a': 1} == {'a': 2} }}", 'true false'],
    ['{{ 1 < 2 }} {{ 2 > 1 }} {{ 2 <= 2 }} {{ 3 >= 4 }}', 'true true true false'],
    ["{{ 'a' < 'b' }} {{ null < 1 }} {{ 1 > null }}", 'true false false'],
    ['{{ true and false }} {{ true or false }} {{ not true }} {{ not false and true }}', 'false true false true'],
    ["{{ 0 or '' }} {{ 1 and 'x' }} {{ not [] }} {{ not {'a': 1} }}", 'false true true false'],
    ["{{ 'abc' contains 'b' }} {{ 'abc' contains 'z' }} {{ 'a1' contains 1 }}", 'true false true'],
    ['{{ [1, 2, 3] contains 2 }} {{ [1, 2, 3] contains [1, 3] }} {{ [1] contains [1, 4] }}', 'true true false'],
    ["{{ {'a': 1} contains 'a' }} {{ {'a': 1} contains ['a', 'b'] }} {{ null contains 1 }}", 'true false false'],
    ['{{ 1..3 }} {{ 3..1 }}', '[1,2,3] []'],
    ["{{ 'a'..'c' }}", '["a","b","c"]'],
    ['{{ true ? 1 : 2 }}{{ false ? 1 : 2 }}{{ 0 ? 1 : 2 }}', '122'],
    ['{{ 1 + 1 == 2 and 2 * 2 == 4 }}', 'true'],
    ['{{ not 1 == 2 }}', 'false'],
    ["{{ inputs.list | length > 2 ? 'many' : 'few' }}", 'many'],
    ['{{ "a#{inputs.name}b#{1 + 1}" }}', 'aworldb2'],
    ['{{ "#{inputs.name}" }}{{ "" }}{{ "plain" }}', 'worldplain'],
    ['{{ "a#{ {\'k\': 1}.k }" }}', 'a1'],
  ])('%s', async (source, expected) => {
    expect(await render(source)).toBe(expected);
  });

  it.each([
    ["{{ 1 - 'a' }}", "operator '-' expects numbers, got string"],
    ['{{ 1 / 0 }}', 'division by zero'],
    ['{{ 1 % 0 }}', 'division by zero'],
    ["{{ -'a' }}", "operator '-' expects numbers, got string"],
    ["{{ {'a': 1} + 1 }}", 'cannot add a map and a number (use ~ to join text)'],
    ["{{ 1 < 'a' }}", 'cannot compare a number with a string'],
    ['{{ 1 contains 1 }}', "'contains' expects a string, list or map on its left, got number"],
    ['{{ [1] ~ 2 }}', null],
    ['{{ 1.5..3 }}', 'range start must be an integer, got 1.5'],
    ['{{ {[1]: 2} }}', 'a map key must be a string or a number, got list'],
    ['{{ 3 is even }}{{ "a" is odd }}', "'odd' expects an integer, got string"],
  ])('%s is a type error', async (source, reason) => {
    if (reason === null) {
      expect(await render(source)).toBe('[1]2');
      return;
    }
    const error = await failure(render(source));
    expect(error.code).toBe('SLU_EXPR_TYPE');
    expect(error.message).toBe(reason);
  });
});

describe('tests (is ...)', () => {
  it.each([
    ['{{ inputs.name is defined }} {{ inputs.nope is defined }} {{ nope.deeper is defined }}', 'true false false'],
    ['{{ inputs.nope is not defined }} {{ inputs.name is not defined }}', 'true false'],
    ['{{ inputs.nothing is null }} {{ inputs.nope is null }} {{ inputs.x is null }} {{ inputs.x is not null }}', 'true true false true'],
    ["{{ inputs.empty is empty }} {{ '  ' is empty }} {{ [] is empty }} {{ {} is empty }} {{ 0 is empty }}", 'true true true true false'],
    ['{{ 2 is even }} {{ 3 is odd }} {{ -3 is odd }} {{ 3 is even }}', 'true true true false'],
    ["{{ [1] is iterable }} {{ {'a': 1} is iterable }} {{ {'a': 1} is map }} {{ [] is map }}", 'true false true false'],
    ['{{ \'{"a": 1}\' is json }} {{ \'{oops\' is json }} {{ 1 is json }}', 'true false false'],
    ['{{ inputs.x is defined and inputs.nope is not defined }}', 'true'],
  ])('%s', async (source, expected) => {
    expect(await render(source)).toBe(expected);
  });

  it('is empty is strict about undefined variables', async () => {
    expect((await failure(render('{{ nope is empty }}'))).code).toBe('SLU_EXPR_UNDEFINED_VARIABLE');
  });
});

describe('tags', () => {
  it.each([
    ['{% if inputs.flag %}yes{% endif %}', 'yes'],
    ['{% if inputs.x > 5 %}big{% elseif inputs.x > 0 %}small{% else %}none{% endif %}', 'small'],
    ['{% if false %}a{% elseif false %}b{% else %}c{% endif %}', 'c'],
    ['{% if false %}a{% endif %}', ''],
    ["{% if inputs.name %}has{% endif %}{% if '' %}empty{% endif %}{% if null %}null{% endif %}", 'has'],
    ['{% for i in inputs.list %}{{ i }}{% if not loop.last %},{% endif %}{% endfor %}', '1,2,3'],
    [
      '{% for i in [10, 20] %}{{ loop.index }}/{{ loop.revindex }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }};{% endfor %}',
      '0/1/2/true/false;1/0/2/false/true;',
    ],
    ['{% for k, v in inputs.map %}{{ k }}={{ v }};{% endfor %}', 'a=1;b=two;'],
    ['{% for i, v in ["x", "y"] %}{{ i }}{{ v }}{% endfor %}', '0x1y'],
    ['{% for entry in inputs.map %}{{ entry.key }}:{{ entry.value }} {% endfor %}', 'a:1 b:two '],
    ['{% for i in [] %}x{% else %}empty{% endfor %}', 'empty'],
    ['{% for i in null %}x{% else %}none{% endfor %}', 'none'],
    ['{% for i in [] %}x{% endfor %}', ''],
    ['{% for i in 1..3 %}{% for j in 1..i %}{{ j }}{% endfor %}|{% endfor %}', '1|12|123|'],
    ['{% set a = 5 %}{{ a * 2 }}', '10'],
    ["{% set inputs = 'shadowed' %}{{ inputs }}", 'shadowed'],
    ['{% set total = 0 %}{% for i in [1, 2, 3] %}{% set total = total + i %}{% endfor %}{{ total }}', '6'],
    ['{% for i in [1, 2] %}{% set inner = i %}{% endfor %}{{ inner is defined }}', 'false'],
    ['{% for i in [1, 2] %}{% set acc = (acc ?? 0) + i %}{{ acc }}{% endfor %}', '13'],
    ['{# a comment #}ok{# another {{ }} #}', 'ok'],
    ['{% raw %}{{ kept }} {% if %}{% endraw %}', '{{ kept }} {% if %}'],
    ['{% verbatim %}{{ kept }}{% endverbatim %}', '{{ kept }}'],
    ['a  {{- "b" -}}  c', 'abc'],
    ['a\n  {%- if true -%}\n  b\n  {%- endif -%}\n  c', 'abc'],
    ['a  {#- comment -#}  b', 'ab'],
    ['a {%- raw -%} x {%- endraw -%} b', 'axb'],
    ['{{- "a" }}  {{- " " -}}  {{- "b" -}}', 'a b'],
    ["{{ {'a': {'b': 1}} }}", '{"a":{"b":1}}'],
    ["{{ {'a': 1}}}", '{"a":1}'],
    ["{% set m = {'k': [1, {'x': 2}]} %}{{ m.k[1].x }}", '2'],
    ['{% set n = {1: "one"} %}{{ n[1] }}{{ n["1"] }}', 'oneone'],
    ['{% if true %}{% if true %}{% for i in [1] %}deep{% endfor %}{% endif %}{% endif %}', 'deep'],
  ])('%s', async (source, expected) => {
    expect(await render(source)).toBe(expected);
  });

  it('for over a string is a type error', async () => {
    const error = await failure(render('{% for c in "abc" %}{{ c }}{% endfor %}'));
    expect(error.code).toBe('SLU_EXPR_TYPE');
    expect(error.message).toBe('cannot iterate over a string');
  });

  it('a condition must be data', async () => {
    const error = await failure(render('{% if d %}x{% endif %}', {}, { d: new URL('https://example.com') }));
    expect(error.code).toBe('SLU_EXPR_TYPE');
  });

  it('dates are truthy and print as ISO-8601', async () => {
    expect(await render('{% if d %}{{ d }}{% endif %}', {}, { d: NOW })).toBe('2026-11-28T15:53:00.000Z');
    expect(await render('{{ d }}|{{ [d] }}', {}, { d: new Date(Number.NaN) })).toBe('|[null]');
  });
});

describe('strict variables', () => {
  it.each([
    ['{{ inputs.nope }}', 'inputs.nope'],
    ['{{ foo }}', 'foo'],
    ['{{ outputs.t.vars.k }}', 'outputs.t'],
    ["{{ outputs.wdir.outputFiles['missing.csv'] }}", "outputs.wdir.outputFiles['missing.csv']"],
    ['{{ inputs.list[7] }}', 'inputs.list[7]'],
    ['{{ inputs.list[-1] }}', 'inputs.list[-1]'],
    ['{{ inputs.nothing.x }}', 'inputs.nothing.x'],
    ['{{ (inputs).nope }}', '(inputs).nope'],
    ['{{ inputs.name ~ nope }}', 'nope'],
    ["{{ nope | default('x') | upper ~ other }}", 'other'],
    ['{{ nope | upper | default("x") }}', 'nope'],
    ['{% for i in nope %}{% endfor %}', 'nope'],
    ['{% if nope %}{% endif %}', 'nope'],
    ['{{ nope is empty }}', 'nope'],
  ])('%s → undefined variable: %s', async (source, name) => {
    const error = await failure(render(source));
    expect(error.code).toBe('SLU_EXPR_UNDEFINED_VARIABLE');
    expect(error.message).toBe(`undefined variable: ${name}`);
  });

  it('reports where the error happened', async () => {
    const error = await failure(render('line 1\n  {{ inputs.nope }}'));
    expect(error.details).toEqual({ offset: 12, line: 2, column: 6 });
  });

  it('unknown functions and filters', async () => {
    const fn = await failure(render("{{ secret('X') }}"));
    expect(fn.code).toBe('SLU_EXPR_UNDEFINED_FUNCTION');
    expect(fn.message).toBe('unknown function: secret');
    const filter = await failure(render('{{ 1 | nope }}'));
    expect(filter.code).toBe('SLU_EXPR_UNDEFINED_FILTER');
    expect(filter.message).toBe('unknown filter: nope');
    expect(filter.details).toMatchObject({ offset: 7 });
  });

  it('a supplied record entry that is not a function is unknown', async () => {
    const error = await failure(render('{{ f() }}', { functions: { f: 'nope' as unknown as ExpressionFunction } }));
    expect(error.code).toBe('SLU_EXPR_UNDEFINED_FUNCTION');
  });
});

describe('supplied function failures', () => {
  it('wraps a plain error as SLU_EXPR_FUNCTION_FAILED', async () => {
    const boom = new Error('no such secret');
    const error = await failure(render("{{ secret('X') }}", { functions: { secret: () => Promise.reject(boom) } }));
    expect(error.code).toBe('SLU_EXPR_FUNCTION_FAILED');
    expect(error.message).toBe('function secret() failed: no such secret');
    expect(error.cause).toBe(boom);
  });

  it('wraps thrown strings and other values', async () => {
    const text = await failure(render('{{ f() }}', { functions: { f: () => { throw 'bad'; } } }));
    expect(text.message).toBe('function f() failed: bad');
    const other = await failure(render('{{ 1 | f }}', { filters: { f: () => { throw 42; } } }));
    expect(other.message).toBe('function f() failed: unknown error');
  });

  it('lets a SluiceError through unchanged', async () => {
    const original = new SluiceError('SLU_EXPR_FUNCTION_FAILED', { name: 'secret', reason: 'denied' });
    const error = await failure(render("{{ secret('X') }}", { functions: { secret: () => { throw original; } } }));
    expect(error).toBe(original);
    expect(error.details).toEqual({});
  });
});

describe('render()', () => {
  it('renders a string in the same context, loop variables included', async () => {
    const ctx = { inputs: { t: 'Hi {{ inputs.name }}{{ i ?? "" }}', name: 'Ada' } };
    expect(await render('{{ render(inputs.t) }}', {}, ctx)).toBe('Hi Ada');
    expect(await render('{% for i in [1, 2] %}{{ render(inputs.t) }};{% endfor %}', {}, ctx)).toBe('Hi Ada1;Hi Ada2;');
  });

  it('is not recursive unless asked', async () => {
    const ctx = { a: '{{ b }}', b: '{{ c }}', c: 'done' };
    expect(await render('{{ render(a) }}', {}, ctx)).toBe('{{ c }}');
    expect(await render('{{ render(a, recursive=true) }}', {}, ctx)).toBe('done');
    // Stops once the output no longer changes.
    expect(await render('{{ render(l, true) }}', {}, { l: '{{ l }}' })).toBe('{{ l }}');
  });

  it('returns non-strings unchanged', async () => {
    expect(await render('{{ render(5) }}{{ render(null) }}', {}, {})).toBe('5');
  });

  it('a nested error keeps its code', async () => {
    const error = await failure(render('{{ render("{{ nope }}") }}', {}, {}));
    expect(error.message).toBe('undefined variable: nope');
    expect(error.details).toMatchObject({ offset: 3 });
  });

  it('EvalContext.render rejects non-strings', async () => {
    const f: ExpressionFunction = (_args, _kwargs, ctx) => ctx.render(42 as unknown as string);
    expect((await failure(render('{{ f() }}', { functions: { f } }, {}))).code).toBe('SLU_EXPR_TYPE');
  });
});

describe('rendering values', () => {
  it('prints null as nothing, maps and lists as JSON, bigint as digits', async () => {
    expect(await render('[{{ a }}][{{ b }}][{{ c }}][{{ d }}]', {}, { a: null, b: { x: [1, null, 'q"'] }, c: 10n, d: [] })).toBe(
      '[][{"x":[1,null,"q\\""]}][10][[]]',
    );
  });

  it('leaves out undefined properties in JSON and prints non-finite numbers as null', async () => {
    expect(await render('{{ m }}', {}, { m: { a: undefined, b: Number.POSITIVE_INFINITY, c: [10n] } })).toBe(
      '{"b":null,"c":[10]}',
    );
  });

  it('cannot print a class instance', async () => {
    const error = await failure(render('{{ u }}', {}, { u: new URL('https://example.com') }));
    expect(error.code).toBe('SLU_EXPR_TYPE');
    expect(error.message).toBe('cannot render a object');
  });
});

describe('evaluateExpression', () => {
  it.each([
    ["inputs.x == 1 and inputs.name == 'world'", true],
    ['inputs.list', [1, 2, 3]],
    ['inputs.map.a + 1', 2],
    ["{'k': inputs.list | length}", { k: 3 }],
    ['inputs.nothing', null],
    ["inputs.missing ?? 'd'", 'd'],
    ['{{ inputs.list }}', [1, 2, 3]],
    ['  {{ inputs.x > 0 }}  ', true],
    ['{{ inputs.x }}-{{ inputs.x }}', '1-1'],
    ["x == '{{'", false],
  ])('%s', async (expression, expected) => {
    expect(await evaluateExpression(expression, { ...context, x: 'y' }, options)).toEqual(expected);
  });

  it('reports syntax errors at their offset', async () => {
    const error = await failure(evaluateExpression('inputs.x ==', context));
    expect(error.code).toBe('SLU_EXPR_SYNTAX');
    expect(error.message).toBe('expression syntax error: unexpected end of expression (at offset 11)');
    const trailing = await failure(evaluateExpression('a b', { a: 1 }));
    expect(trailing.message).toBe("expression syntax error: unexpected token 'b' (at offset 2)");
  });

  it('rejects a non-string expression or context', async () => {
    expect((await failure(evaluateExpression(1 as unknown as string, {}))).code).toBe('SLU_EXPR_TYPE');
    expect((await failure(evaluateExpression('1', null as unknown as Record<string, unknown>))).code).toBe('SLU_EXPR_TYPE');
    expect((await failure(renderTemplate('x', [] as unknown as Record<string, unknown>))).code).toBe('SLU_EXPR_TYPE');
  });
});

describe('renderValue', () => {
  it('deep-renders strings in arrays and plain objects, leaving the rest', async () => {
    const date = new Date(0);
    const input = {
      id: '{{ flow.id }}',
      n: 3,
      flag: false,
      none: null,
      when: date,
      list: ['{{ inputs.x + 1 }}', 'static', { nested: "{{ inputs.name | upper }}" }],
      '{{ key }}': 'keys are not rendered',
    };
    const output = await renderValue(input, context, options);
    expect(output).toEqual({
      id: 'hello',
      n: 3,
      flag: false,
      none: null,
      when: date,
      list: ['2', 'static', { nested: 'WORLD' }],
      '{{ key }}': 'keys are not rendered',
    });
    expect((output as { when: Date }).when).toBe(date);
    expect(input.id).toBe('{{ flow.id }}');
  });

  it('copies getters without calling them and keeps __proto__ keys as data', async () => {
    let called = false;
    const input = JSON.parse('{"__proto__": "{{ 1 + 1 }}"}') as Record<string, unknown>;
    Object.defineProperty(input, 'lazy', {
      enumerable: true,
      get() {
        called = true;
        return 'x';
      },
    });
    const output = (await renderValue(input, {})) as Record<string, unknown>;
    expect(called).toBe(false);
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(output, '__proto__')?.value).toBe('2');
    expect(Object.getOwnPropertyDescriptor(output, 'lazy')?.get).toBeTypeOf('function');
  });

  it('renders a single string and passes scalars through', async () => {
    expect(await renderValue('{{ 1 + 1 }}', {})).toBe('2');
    expect(await renderValue('plain', {})).toBe('plain');
    expect(await renderValue(5, {})).toBe(5);
    expect(await renderValue(undefined, {})).toBeUndefined();
  });

  it('refuses cyclic data instead of overflowing the stack', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const error = await failure(renderValue(cyclic, {}));
    expect(error.code).toBe('SLU_EXPR_LIMIT');
  });

  it('shares one step budget across all strings', async () => {
    const many = Array.from({ length: 50 }, () => '{% for i in 1..10 %}{{ i }}{% endfor %}');
    const error = await failure(renderValue(many, {}, { limits: { maxSteps: 500 } }));
    expect(error.code).toBe('SLU_EXPR_LIMIT');
  });
});

describe('exports', () => {
  it('lists built-in names', () => {
    expect(builtinFilters).toContain('upper');
    expect(builtinFilters).toContain('default');
    expect(builtinFunctions).toEqual(['fromJson', 'max', 'min', 'now', 'range', 'render']);
    expect(builtinTests).toContain('defined');
    expect(Object.isFrozen(builtinFilters)).toBe(true);
  });

  it('hasExpression', () => {
    expect(hasExpression('a {{ b }}')).toBe(true);
    expect(hasExpression('{% if %}')).toBe(true);
    expect(hasExpression('{# c #}')).toBe(true);
    expect(hasExpression('{ plain } text %}')).toBe(false);
  });

  it('renderTemplate rejects a forged template object', async () => {
    const error = await failure(renderTemplate({ source: 1 } as never, {}));
    expect(error.code).toBe('SLU_EXPR_TYPE');
    expect((await failure(() => parseTemplate(5 as unknown as string))).code).toBe('SLU_EXPR_TYPE');
  });
});

describe('data edge cases', () => {
  const data = {
    holes: [1, , 3], // eslint-disable-line no-sparse-arrays
    m: { a: 1, b: [1, 2] },
    s: 'abc',
    u: undefined,
    d1: new Date('2026-01-01T00:00:00Z'),
    d2: new Date('2026-01-01T00:00:00Z'),
    d3: new Date('2027-01-01T00:00:00Z'),
    inf: Number.POSITIVE_INFINITY,
    big: 5n,
    zero: 0n,
  };

  it.each([
    ['{{ holes[1] }}|{{ holes | join(",") }}|{{ holes }}', '|1,,3|[1,null,3]'],
    ['{{ [true, false, null] }}', '[true,false,null]'],
    ['{{ [d1] }}', '["2026-01-01T00:00:00.000Z"]'],
    ['{% if big %}big{% endif %}{% if zero %}zero{% endif %}', 'big'],
    ['{{ null == null }} {{ null == 1 }} {{ 1 == null }} {{ u == null }} {{ u == u }}', 'true false false true true'],
    ['{{ [1] == [1, 2] }} {{ m == {"a": 1} }} {{ m == {"a": 1, "c": [1, 2]} }} {{ m == {"a": 1, "b": [1, 2]} }}', 'false false false true'],
    ['{{ d1 == d2 }} {{ d1 == d3 }} {{ d1 < d3 }} {{ d3 <= d1 }} {{ d1 >= d2 }}', 'true false true false true'],
    ["{{ 'b' < 'a' }} {{ 'a' > 'a' }} {{ 'a' >= 'a' }} {{ 2 > 1 }} {{ 1 > 1 }}", 'false false true true false'],
    ["{{ {'a': 1} contains null }} {{ {'1': 1} contains 1 }}", 'false true'],
    ['{{ [1, 2] - 5 }}', '[1,2]'],
    ['{{ nothing[null] ?? "absent" }}', 'absent'],
  ])('%s', async (source, expected) => {
    expect(await render(source, {}, { ...data, nothing: null })).toBe(expected);
  });

  it.each([
    ['{{ m[null] }}', 'SLU_EXPR_TYPE', 'a map key must be a string or a number, got null'],
    ['{{ m[inf] }}', 'SLU_EXPR_TYPE', 'a map key must be a string or a number, got number'],
    ['{{ holes[1.5] }}', 'SLU_EXPR_FORBIDDEN', 'forbidden access to "1.5" in an expression'],
    ["{{ holes['x'] }}", 'SLU_EXPR_FORBIDDEN', 'forbidden access to "x" in an expression'],
    ['{{ holes[null] }}', 'SLU_EXPR_FORBIDDEN', 'forbidden access to "null" in an expression'],
    ['{{ s[0] }}', 'SLU_EXPR_FORBIDDEN', 'forbidden access to "0" in an expression'],
    ['{{ nothing[null] }}', 'SLU_EXPR_UNDEFINED_VARIABLE', 'undefined variable: nothing[null]'],
    ["{{ m['a b'] }}", 'SLU_EXPR_UNDEFINED_VARIABLE', "undefined variable: m['a b']"],
    ["{{ m['it\\'s'] }}", 'SLU_EXPR_UNDEFINED_VARIABLE', "undefined variable: m['it\\'s']"],
    ['{{ d1 < 1 }}', 'SLU_EXPR_TYPE', 'cannot compare a date with a number'],
    ['{{ m | json }}', 'SLU_EXPR_LIMIT', 'expression exceeded its maxOutputLength limit of 10'],
  ])('%s', async (source, code, message) => {
    const error = await failure(render(source, { limits: { maxOutputLength: 10 } }, { ...data, nothing: null }));
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
  });
});
