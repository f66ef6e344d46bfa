import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { parseTemplate, renderTemplate } from './index.js';
import { lexExpression, lexTemplate } from './lexer.js';

function syntaxFailure(source: string): SluiceError {
  try {
    parseTemplate(source);
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error(`expected ${source} not to parse`);
}

describe('parseTemplate syntax errors', () => {
  it.each([
    ['{{ inputs.x', "unclosed '{{'", 0],
    ['ab {% if x', "unclosed '{%'", 3],
    ['{{ "a#{b" }}', 'unclosed string', 8],
    ['{{ "a#{b }}', 'unclosed string', 3],
    ['{{ "a#{b', "unclosed '#{'", 5],
    ["{{ 'abc }}", 'unclosed string', 3],
    ['{# comment', "unclosed comment '{#'", 0],
    ['x {% raw %}abc', 'missing {% endraw %}', 2],
    ['{{ }}', "unexpected token '}}'", 3],
    ['{{ 1 + }}', "unexpected token '}}'", 7],
    ['{{ a b }}', "unexpected token 'b'", 5],
    ['{{ a %}', "unexpected token '%}'", 5],
    ['{% if a }}x{% endif %}', "unexpected token '}}'", 8],
    ['{% foo %}', "unknown tag 'foo'", 3],
    ['{% endif %}', "unexpected tag 'endif'", 3],
    ['{% if a %}{% else %}{% elseif b %}{% endif %}', "unexpected tag 'elseif'", 23],
    ['{% for x in y %}{% endif %}', "unexpected tag 'endif'", 19],
    ['\n\n  {% if a %}x', 'missing {% endif %}', 4],
    ['{% if a %}{% else %}x', 'missing {% endif %}', 0],
    ['{% for x in y %}x', 'missing {% endfor %}', 0],
    ['{% for x in y %}{% else %}x', 'missing {% endfor %}', 0],
    ['{% for x of y %}{% endfor %}', "unexpected token 'of'", 9],
    ['{% for 1 in y %}{% endfor %}', "unexpected token '1'", 7],
    ['{% set null = 1 %}', "cannot assign to 'null'", 7],
    ['{% set x 1 %}', "unexpected token '1'", 9],
    ['{% %}', "unexpected token '%}'", 3],
    ['{{ x is foo }}', "unknown test 'foo'", 8],
    ['{{ x is 1 }}', "unexpected token '1'", 8],
    ['{{ x | 1 }}', "unexpected token '1'", 7],
    ['{{ x. }}', "unexpected token '}}'", 6],
    ['{{ x[1 }}', "unexpected token '}}'", 7],
    ['{{ f(a=1, 2) }}', 'positional arguments must come before named arguments', 10],
    ['{{ f(a=1, a=2) }}', "duplicate argument 'a'", 10],
    ['{{ f(1 2) }}', "unexpected token '2'", 7],
    ['{{ [1 2] }}', "unexpected token '2'", 6],
    ["{{ {'a' 1} }}", "unexpected token '1'", 8],
    ["{{ {'a': 1 'b': 2} }}", "unexpected token ''b''", 11],
    ['{{ (1 }}', "unexpected token '}}'", 6],
    ['{{ ) }}', "unexpected token ')'", 3],
    ['{{ true ? 1 }}', "unexpected token '}}'", 12],
    ['{{ a & b }}', "unexpected character '&'", 5],
    ['{{ a ! b }}', "unexpected character '!'", 5],
    ['{{ "#{}" }}', "unexpected end of expression", 6],
    ['{{ "#{a b}" }}', "unexpected token 'b'", 8],
    ['{{ "a" "b" }}', `unexpected token '"b"'`, 7],
    [`{{ '${'x'.repeat(60)}' 1 }}`, `unexpected token '1'`, 66],
    [`{{ 1 '${'x'.repeat(60)}' }}`, `unexpected token ''${'x'.repeat(39)}...'`, 5],
  ])('%s → %s', (source, reason, offset) => {
    const error = syntaxFailure(source);
    expect(error.code).toBe('SLU_EXPR_SYNTAX');
    expect(error.params).toEqual({ reason, offset });
    expect(error.message).toBe(`expression syntax error: ${reason} (at offset ${offset})`);
    expect(error.details.offset).toBe(offset);
  });

  it('reports 1-based line and column', () => {
    const error = syntaxFailure('first line\nsecond {{ oops oops }}\n');
    expect(error.details).toEqual({ offset: 26, line: 2, column: 16 });
  });

  it('reports forbidden names with their position', () => {
    try {
      parseTemplate('ok\n {{ a.constructor }}');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe('SLU_EXPR_FORBIDDEN');
      expect((error as SluiceError).details).toEqual({ offset: 9, line: 2, column: 7 });
    }
  });

  it('limits nesting with maxDepth', () => {
    expect(() => parseTemplate('{{ ((1)) }}', { maxDepth: 2 })).toThrow(/maxDepth limit of 2/);
    expect(parseTemplate('{{ ((1)) }}', { maxDepth: 3 }).nodes).toHaveLength(1);
    expect(() => parseTemplate('{% if a %}{% if b %}{% endif %}{% endif %}', { maxDepth: 1 })).toThrow(/maxDepth/);
  });
});

describe('parse tree', () => {
  it('keeps text, prints and tags in order', () => {
    const template = parseTemplate('a{{ b }}{% set c = 1 %}{% if c %}d{% endif %}');
    expect(template.nodes.map((node) => node.type)).toEqual(['text', 'print', 'set', 'if']);
    expect(Object.isFrozen(template)).toBe(true);
  });

  it('flattens operator sequences into one chain', () => {
    const [node] = parseTemplate('{{ a ~ b ~ c | upper }}').nodes;
    expect(node).toMatchObject({ type: 'print', expr: { type: 'chain', head: { type: 'variable', name: 'a' } } });
    expect(node?.type === 'print' && node.expr.type === 'chain' ? node.expr.links.map((link) => link.kind) : []).toEqual([
      'binary',
      'binary',
      'filter',
    ]);
  });

  it('drops an empty raw block', () => {
    expect(parseTemplate('a{% raw %}{% endraw %}b').nodes).toEqual([
      { type: 'text', value: 'a' },
      { type: 'text', value: 'b' },
    ]);
  });

  it('accepts TRUE/FALSE/NONE/NULL like Pebble', async () => {
    expect(await renderTemplate('{{ TRUE }}{{ FALSE }}[{{ NONE }}][{{ NULL }}][{{ none }}]', {})).toBe('truefalse[][][]');
  });

  it('evaluates long flat chains without deep recursion', async () => {
    const sum = `{{ ${Array.from({ length: 5000 }, () => '1').join(' + ')} }}`;
    expect(await renderTemplate(sum, {})).toBe('5000');
    const filters = `{{ 'a'${' | upper'.repeat(5000)} }}`;
    expect(await renderTemplate(filters, {})).toBe('A');
    const members = `{{ a${'.a'.repeat(5000)} is defined }}`;
    expect(await renderTemplate(members, { a: {} })).toBe('false');
  });
});

describe('lexer', () => {
  it('cuts text and expressions', () => {
    expect(lexTemplate('a {{ b.c[0] }} d').map((token) => `${token.kind}:${token.value}`)).toEqual([
      'text:a ',
      'print-open:{{',
      'name:b',
      'punct:.',
      'name:c',
      'punct:[',
      'number:0',
      'punct:]',
      'print-close:}}',
      'text: d',
      'eof:',
    ]);
  });

  it('reads numbers, ranges and member indexes', () => {
    const values = (source: string): string[] => lexExpression(source).map((token) => token.value);
    expect(values('1..5')).toEqual(['1', '..', '5', '']);
    expect(values('1.5 + 2')).toEqual(['1.5', '+', '2', '']);
    expect(values('a.0.1')).toEqual(['a', '.', '0', '.', '1', '']);
    expect(values('a ??? b ?? c ? d : e')).toEqual(['a', '???', 'b', '??', 'c', '?', 'd', ':', 'e', '']);
  });

  it('unescapes strings', () => {
    const [token] = lexExpression(String.raw`'a\'b\\c\n\t\r\b\f\0\/\#\"\u00e9\d\x'`);
    expect(token?.value).toBe('a\'b\\c\n\t\r\b\f\0/#"é\\d\\x');
    const [double] = lexExpression(String.raw`"q\"\#{x}"`);
    expect(double?.value).toBe('q"#{x}');
  });

  it('reports an unterminated escape as an unclosed string', () => {
    expect(() => lexExpression("'a\\")).toThrow(/unclosed string/);
  });

  it('keeps interpolation parts', () => {
    const [token] = lexExpression('"a#{b}c"');
    expect(token?.parts?.map((part) => (typeof part === 'string' ? part : part.map((t) => t.value).join(' ')))).toEqual([
      'a',
      'b ',
      'c',
    ]);
  });

  it('trims whitespace around delimiters with -', () => {
    expect(lexTemplate('a \n{{- x -}}\n b').filter((t) => t.kind === 'text').map((t) => t.value)).toEqual(['a', 'b']);
    expect(lexTemplate('  {#- c -#}  ').filter((t) => t.kind === 'text')).toEqual([]);
    expect(lexTemplate('{#-#}').filter((t) => t.kind === 'text')).toEqual([]);
  });
});
