/**
 * Hostile corpus: templates written to escape the sandbox or exhaust the host. Every one must be rejected with a
 * SluiceError of the expected code, quickly, without touching globals.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError, type ErrorCode } from '../errors.js';
import { evaluateExpression, renderTemplate, type ExpressionFunction, type RenderOptions, type Template } from './index.js';

interface Case {
  readonly template: string;
  readonly code: ErrorCode;
  readonly context?: Record<string, unknown>;
  readonly options?: RenderOptions;
}

let getterCalls = 0;

function hostileContext(): Record<string, unknown> {
  const inputs: Record<string, unknown> = {
    x: 'text',
    n: 1,
    list: [1, 2, 3],
    t: '{{ render(inputs.t) }}',
    big: 'a'.repeat(2000),
    fn: () => 'code',
    evil: JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
  };
  Object.defineProperty(inputs, 'secret', {
    enumerable: true,
    get() {
      getterCalls += 1;
      return 'leaked';
    },
  });
  const thenable: Record<string, unknown> = {};
  Object.defineProperty(thenable, 'then', {
    enumerable: true,
    get() {
      getterCalls += 1;
      return undefined;
    },
  });
  const cyclic: Record<string, unknown> = {};
  cyclic.a = cyclic;
  return {
    inputs,
    thenable: { value: thenable },
    promise: { value: Promise.resolve(1) },
    url: new URL('https://user:pass@example.com/?q=1'),
    map: new Map([['k', 'v']]),
    cyclic,
    hidden: Object.defineProperty({}, 'h', { value: 1, enumerable: false }),
    execution: { id: 'e1' },
  };
}

const globalFn: ExpressionFunction = () => globalThis;
const functionFn: ExpressionFunction = () => Function;
const processFn: ExpressionFunction = () => process;

const nested = (open: string, close: string, depth: number, inner = '1'): string =>
  open.repeat(depth) + inner + close.repeat(depth);

const CORPUS: readonly Case[] = [
  // Reaching constructors and prototypes by name
  { template: '{{ constructor }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs.constructor.constructor('return process')() }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ ''.constructor }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ ''.constructor.constructor('return this')() }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs['__proto__'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs['__pro' ~ 'to__'].polluted }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs['constr' ~ 'uctor'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs.list['constr' ~ 'uctor'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ [].constructor }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ {}.constructor }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ {'a': 1}['constructor'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ (1).constructor }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.x.toString }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.x.length }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs.x['length'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.list.length }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.list.map }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs | keys | first | constructor }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs[inputs | keys | last] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{% set a = inputs %}{{ a.__proto__ }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{% set a = inputs %}{{ a["__proto__"]["polluted"] }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.prototype }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.__defineGetter__ }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.__lookupGetter__ }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ now().constructor }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ now()['constructor'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ "#{constructor}" }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ "#{inputs[\'__proto__\']}" }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{% for k, v in inputs.evil %}{{ inputs[k] }}{% endfor %}', code: 'SLU_EXPR_FORBIDDEN' },

  // Globals and host functions
  { template: '{{ process.env }}', code: 'SLU_EXPR_UNDEFINED_VARIABLE' },
  { template: "{{ process.mainModule.require('child_process') }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ globalThis }}', code: 'SLU_EXPR_UNDEFINED_VARIABLE' },
  { template: '{{ global.process }}', code: 'SLU_EXPR_UNDEFINED_VARIABLE' },
  { template: '{{ this }}', code: 'SLU_EXPR_UNDEFINED_VARIABLE' },
  { template: '{{ valueOf }}', code: 'SLU_EXPR_UNDEFINED_VARIABLE' },
  { template: '{{ hasOwnProperty }}', code: 'SLU_EXPR_UNDEFINED_VARIABLE' },
  { template: '{{ Function }}', code: 'SLU_EXPR_UNDEFINED_VARIABLE' },
  { template: "{{ require('fs') }}", code: 'SLU_EXPR_UNDEFINED_FUNCTION' },
  { template: "{{ import('fs') }}", code: 'SLU_EXPR_UNDEFINED_FUNCTION' },
  { template: "{{ eval('1') }}", code: 'SLU_EXPR_UNDEFINED_FUNCTION' },
  { template: '{{ toString() }}', code: 'SLU_EXPR_UNDEFINED_FUNCTION' },
  { template: "{{ hasOwnProperty('a') }}", code: 'SLU_EXPR_UNDEFINED_FUNCTION' },
  { template: '{{ __proto__() }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ x | constructor }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.x | toString }}', code: 'SLU_EXPR_UNDEFINED_FILTER' },
  { template: '{{ inputs.x | valueOf }}', code: 'SLU_EXPR_UNDEFINED_FILTER' },
  { template: "{{ inputs.x | hasOwnProperty('a') }}", code: 'SLU_EXPR_UNDEFINED_FILTER' },
  { template: '{{ inputs.x | toString }}', code: 'SLU_EXPR_UNDEFINED_FILTER', options: { filters: {} } },
  { template: '{{ toString() }}', code: 'SLU_EXPR_UNDEFINED_FUNCTION', options: { functions: {} } },

  // Method calls and calling values
  { template: '{{ inputs.fn() }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.fn }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs['fn'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs.x.replace('t', 'x') }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ (inputs.x)() }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ now()() }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs.list[0]() }}', code: 'SLU_EXPR_FORBIDDEN' },

  // Getters, accessors, thenables, class instances in the context
  { template: '{{ inputs.secret }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ inputs['sec' ~ 'ret'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs | toJson }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{% for k, v in inputs %}{{ v }}{% endfor %}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ inputs | values }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ thenable.value }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ thenable }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ promise.value }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ hidden.h }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ url.href }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ url.password }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ url['searchParams'] }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ url }}', code: 'SLU_EXPR_TYPE' },
  { template: '{{ url | json }}', code: 'SLU_EXPR_TYPE' },
  { template: '{{ map.size }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ map | keys }}', code: 'SLU_EXPR_TYPE' },
  { template: '{{ g().process }}', code: 'SLU_EXPR_FORBIDDEN', options: { functions: { g: globalFn } } },
  { template: '{{ g() }}', code: 'SLU_EXPR_TYPE', options: { functions: { g: globalFn } } },
  { template: "{{ f()('return process') }}", code: 'SLU_EXPR_FORBIDDEN', options: { functions: { f: functionFn } } },
  { template: '{{ f() }}', code: 'SLU_EXPR_TYPE', options: { functions: { f: functionFn } } },
  { template: '{{ p().env }}', code: 'SLU_EXPR_FORBIDDEN', options: { functions: { p: processFn } } },

  // Assignments that would pollute prototypes
  { template: '{% set __proto__ = {} %}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{% set constructor = 'x' %}{{ constructor }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{% set prototype = 'x' %}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{% for __proto__ in [{'polluted': true}] %}{% endfor %}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ {'__proto__': {'polluted': true}} }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ {'__pro' ~ 'to__': {'polluted': true}}.polluted }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ {'a': 1} | merge(inputs.evil) }}", code: 'SLU_EXPR_FORBIDDEN' },
  { template: '{{ f(__proto__=1) }}', code: 'SLU_EXPR_FORBIDDEN' },
  { template: "{{ fromJson('{\"__proto__\": {\"polluted\": 1}}').__proto__ }}", code: 'SLU_EXPR_FORBIDDEN' },

  // Work exhaustion
  { template: '{% for i in 0..100000000 %}{% for j in 0..100000000 %}x{% endfor %}{% endfor %}', code: 'SLU_EXPR_LIMIT' },
  { template: '{% for i in 0..9999 %}{% for j in 0..9999 %}x{% endfor %}{% endfor %}', code: 'SLU_EXPR_LIMIT' },
  { template: '{% for i in 1..20000 %}{% endfor %}', code: 'SLU_EXPR_LIMIT' },
  { template: '{% for i in huge %}x{% endfor %}', code: 'SLU_EXPR_LIMIT', context: { huge: new Array(1_000_000).fill(0) } },
  {
    template: '{% for k, v in wide %}x{% endfor %}',
    code: 'SLU_EXPR_LIMIT',
    context: { wide: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])) },
  },
  {
    template: '{% for i in 0..9999 %}{{ huge | first }}{% endfor %}',
    code: 'SLU_EXPR_LIMIT',
    context: { huge: new Array(200_000).fill(0) },
  },
  {
    template: '{% for i in 0..9999 %}{{ huge == huge }}{{ huge contains "x" }}{% endfor %}',
    code: 'SLU_EXPR_LIMIT',
    context: { huge: 'y'.repeat(5_000_000) },
  },
  { template: '{{ 0..1000000000 }}', code: 'SLU_EXPR_LIMIT' },
  { template: '{{ range(0, 1000000000) }}', code: 'SLU_EXPR_LIMIT' },
  { template: "{{ range(0, 1000000000, 1) | join(',') }}", code: 'SLU_EXPR_LIMIT' },
  { template: "{% set s = 'x' %}{% for i in 0..100 %}{% set s = s ~ s %}{% endfor %}{{ s }}", code: 'SLU_EXPR_LIMIT' },
  { template: "{% set s = 'x' %}{% for i in 0..100 %}{% set s = s + s %}{% endfor %}", code: 'SLU_EXPR_LIMIT' },
  { template: '{% set s = "x" %}{% for i in 0..100 %}{% set s = "#{s}#{s}" %}{% endfor %}', code: 'SLU_EXPR_LIMIT' },
  { template: '{% set l = [1] %}{% for i in 0..100 %}{% set l = l + l %}{% endfor %}', code: 'SLU_EXPR_LIMIT' },
  { template: '{% set l = [1] %}{% for i in 0..100 %}{% set l = l | merge(l) %}{% endfor %}', code: 'SLU_EXPR_LIMIT' },
  { template: "{% set s = inputs.big %}{% for i in 0..100 %}{% set s = [s, s] | join('') %}{% endfor %}", code: 'SLU_EXPR_LIMIT' },
  { template: "{{ inputs.big | replace({'a': inputs.big}) }}", code: 'SLU_EXPR_LIMIT' },
  { template: "{{ inputs.big | replace('a', inputs.big ~ inputs.big) }}", code: 'SLU_EXPR_LIMIT' },
  { template: "{{ 'x' | indent(1000000000) }}", code: 'SLU_EXPR_LIMIT' },
  { template: '{% for i in 0..9999 %}{{ inputs.big }}{% endfor %}', code: 'SLU_EXPR_LIMIT' },
  { template: '{{ render(inputs.t) }}', code: 'SLU_EXPR_LIMIT' },
  { template: "{{ render('{{ render(inputs.t) }}', recursive=true) }}", code: 'SLU_EXPR_LIMIT' },
  { template: '{{ cyclic }}', code: 'SLU_EXPR_LIMIT' },
  { template: `{{ cyclic${'.a'.repeat(10_000)} | json }}`, code: 'SLU_EXPR_LIMIT' },
  {
    template: '{{ p == q }}',
    code: 'SLU_EXPR_LIMIT',
    context: (() => {
      const p: Record<string, unknown> = {};
      const q: Record<string, unknown> = {};
      p.x = p;
      q.x = q;
      return { p, q };
    })(),
  },

  // Parser exhaustion
  { template: `{{ ${nested('(', ')', 10_000)} }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ ${nested('[', ']', 10_000)} }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ ${nested("{'a': ", '}', 10_000)} }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ ${'not '.repeat(10_000)}true }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ ${'-'.repeat(10_000)}1 }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ ${'true ? 1 : '.repeat(10_000)}0 }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ ${'abs('.repeat(10_000)}1${')'.repeat(10_000)} }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ inputs${'[inputs'.repeat(10_000)}${']'.repeat(10_000)} }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `{{ ${'"#{'.repeat(5_000)}1${'}"'.repeat(5_000)} }}`, code: 'SLU_EXPR_LIMIT' },
  { template: `${'{% if true %}'.repeat(10_000)}x${'{% endif %}'.repeat(10_000)}`, code: 'SLU_EXPR_LIMIT' },
  { template: `${'{% for i in [1] %}'.repeat(10_000)}x${'{% endfor %}'.repeat(10_000)}`, code: 'SLU_EXPR_LIMIT' },

  // Unclosed and malformed input
  { template: '{{ inputs.x', code: 'SLU_EXPR_SYNTAX' },
  { template: '{{ "unclosed }}', code: 'SLU_EXPR_SYNTAX' },
  { template: "{{ 'unclosed }}", code: 'SLU_EXPR_SYNTAX' },
  { template: '{% if true %}never closed', code: 'SLU_EXPR_SYNTAX' },
  { template: '{% for x in [1] %}never closed', code: 'SLU_EXPR_SYNTAX' },
  { template: '{% if true', code: 'SLU_EXPR_SYNTAX' },
  { template: '{# never closed', code: 'SLU_EXPR_SYNTAX' },
  { template: '{% raw %}never closed', code: 'SLU_EXPR_SYNTAX' },
  { template: '{% endif %}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{% include "/etc/passwd" %}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{% macro m() %}{% endmacro %}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{{ `backtick` }}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{{ a; b }}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{{ a && b }}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{{ a = 1 }}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{{ new Function }}', code: 'SLU_EXPR_SYNTAX' },
  { template: '{{ x => x }}', code: 'SLU_EXPR_SYNTAX' },
];

let prototypeSnapshot: Map<object, string[]>;
let processKeys: string[];
let envSnapshot: string;

const guarded: object[] = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Promise.prototype];

beforeAll(() => {
  prototypeSnapshot = new Map(guarded.map((proto) => [proto, Reflect.ownKeys(proto).map(String).sort()]));
  processKeys = Reflect.ownKeys(process).map(String).sort();
  envSnapshot = JSON.stringify(process.env);
});

describe('hostile corpus', () => {
  it('has at least 30 entries', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CORPUS.map((entry, index) => [index, entry.template.slice(0, 100), entry] as const))(
    '#%i %s',
    async (_index, _label, entry) => {
      const started = performance.now();
      let outcome: unknown;
      try {
        outcome = await renderTemplate(entry.template, entry.context ?? hostileContext(), entry.options);
      } catch (error) {
        outcome = error;
      }
      const elapsed = performance.now() - started;
      if (!(outcome instanceof SluiceError)) {
        const shown = outcome instanceof Error ? outcome.stack : String(outcome);
        throw new Error(`not rejected with a SluiceError: ${String(shown).slice(0, 300)}`);
      }
      expect(outcome.code).toBe(entry.code);
      expect(elapsed).toBeLessThan(1000);
    },
  );

  it('the same expressions are rejected by evaluateExpression', async () => {
    for (const expression of ["inputs['constr' ~ 'uctor']", 'inputs.x.toString', "''.constructor", 'process']) {
      await expect(evaluateExpression(expression, hostileContext())).rejects.toBeInstanceOf(SluiceError);
    }
  });

  it('own data keys named __proto__ are inert data, never a prototype', async () => {
    const rendered = await renderTemplate('{% for k, v in inputs.evil %}{{ k }}={{ v.polluted }}{% endfor %}', hostileContext());
    expect(rendered).toBe('__proto__=true');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never invoked a getter', () => {
    expect(getterCalls).toBe(0);
  });

  it('a render that survives never yields host objects', async () => {
    const value = await evaluateExpression("{'a': inputs.list, 'b': inputs.x, 'c': execution}", hostileContext());
    const seen = new Set<unknown>();
    const visit = (current: unknown): void => {
      expect(current).not.toBe(globalThis);
      expect(current).not.toBe(process);
      expect(typeof current).not.toBe('function');
      if (typeof current === 'object' && current !== null && !seen.has(current)) {
        seen.add(current);
        Object.values(current).forEach(visit);
      }
    };
    visit(value);
  });
});

afterAll(() => {
  for (const [proto, keys] of prototypeSnapshot) expect(Reflect.ownKeys(proto).map(String).sort()).toEqual(keys);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Reflect.ownKeys(process).map(String).sort()).toEqual(processKeys);
  expect(JSON.stringify(process.env)).toBe(envSnapshot);
});

describe('lenient operators never swallow sandbox errors', () => {
  it.each([
    ["{{ inputs.x.length ?? 'd' }}", 'SLU_EXPR_FORBIDDEN'],
    ["{{ inputs.secret | default('d') }}", 'SLU_EXPR_FORBIDDEN'],
    ['{{ inputs.secret is defined }}', 'SLU_EXPR_FORBIDDEN'],
    ["{{ inputs.list.length ??? 'd' }}", 'SLU_EXPR_FORBIDDEN'],
    ["{{ range(0, 10000000) ?? 'd' }}", 'SLU_EXPR_LIMIT'],
  ])('%s', async (template, code) => {
    await expect(renderTemplate(template, hostileContext())).rejects.toMatchObject({ code });
  });

  it('an object with only a getter is refused when serialized or iterated', async () => {
    const context = { o: Object.defineProperty({}, 'g', { enumerable: true, get: () => 'x' }) };
    await expect(renderTemplate('{{ o }}', context)).rejects.toMatchObject({ code: 'SLU_EXPR_FORBIDDEN' });
    await expect(renderTemplate('{% for k, v in o %}{% endfor %}', context)).rejects.toMatchObject({ code: 'SLU_EXPR_FORBIDDEN' });
    await expect(renderTemplate('{{ [o] }}', context)).rejects.toMatchObject({ code: 'SLU_EXPR_FORBIDDEN' });
  });
});

describe('forged syntax trees are checked at run time too', () => {
  const at = { offset: 0 };
  const forged = (nodes: readonly unknown[]): Template => ({ source: 'forged', nodes }) as unknown as Template;
  const variable = (name: string): unknown => ({ type: 'variable', name, ...at });
  const print = (expr: unknown): unknown => ({ type: 'print', expr, ...at });
  const noArgs = { positional: [], named: [] };

  it.each([
    ['a forbidden variable', 'SLU_EXPR_FORBIDDEN', [print(variable('constructor'))]],
    [
      'a forbidden member',
      'SLU_EXPR_FORBIDDEN',
      [
        print({
          type: 'access',
          base: variable('inputs'),
          baseText: 'inputs',
          segments: [{ kind: 'name', name: '__proto__', ...at }],
          ...at,
        }),
      ],
    ],
    [
      'a forbidden set target',
      'SLU_EXPR_FORBIDDEN',
      [{ type: 'set', name: '__proto__', value: { type: 'literal', value: 1, ...at }, ...at }],
    ],
    [
      'a forbidden function',
      'SLU_EXPR_UNDEFINED_FUNCTION',
      [print({ type: 'call', name: 'constructor', args: noArgs, ...at })],
    ],
    [
      'a forbidden filter',
      'SLU_EXPR_UNDEFINED_FILTER',
      [print({ type: 'chain', head: variable('inputs'), links: [{ kind: 'filter', name: 'constructor', args: noArgs, ...at }], ...at })],
    ],
  ] as const)('%s', async (_label, code, nodes) => {
    // Inherited entries must not resolve either.
    const functions = Object.create({ constructor: () => globalThis }) as Record<string, ExpressionFunction>;
    const error = await renderTemplate(forged(nodes), hostileContext(), { functions }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe(code);
  });
});
