import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { renderTemplate, type RenderOptions } from './index.js';

async function failure(run: Promise<unknown>): Promise<SluiceError> {
  try {
    await run;
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected a SluiceError');
}

const context = {
  s: '  Hello World  ',
  list: [3, 1, 2],
  words: ['b', 'a', 'c'],
  map: { a: 1, b: 'two' },
  nested: [[1, 2], [3], 4],
  none: null,
  date: new Date('2026-11-28T15:53:07.123Z'),
  epoch: 1_700_000_000_000,
};

function render(source: string, options: RenderOptions = {}): Promise<string> {
  return renderTemplate(source, context, { now: () => new Date('2026-11-28T15:53:00.000Z'), ...options });
}

describe('built-in filters', () => {
  it.each([
    ['{{ -5 | abs }}{{ none | abs }}', '5'],
    ["{{ 'Hello world' | abbreviate(8) }}|{{ 'short' | abbreviate(10) }}", 'Hello...|short'],
    ["{{ 'héllo ✓' | base64encode }}", 'aMOpbGxvIOKckw=='],
    ["{{ 'aMOpbGxvIOKckw==' | base64decode }}", 'héllo ✓'],
    ["{{ 'hello world' | capitalize }}{{ '' | capitalize }}", 'Hello world'],
    ['{{ [1, 2, 3, 4, 5] | chunk(2) }}', '[[1,2],[3,4],[5]]'],
    ["{{ none | default('d') }}{{ '' | default('e') }}{{ 0 | default('z') }}{{ [] | default('l') }}{{ none | default }}", 'de0l'],
    ["{{ [1, 2, 1, '1', [1], [1], {'a': 1}, {'a': 1}] | distinct }}", '[1,2,"1",[1],{"a":1}]'],
    ["{{ 'file.csv' | endsWith('.csv') }} {{ 'file.csv' | startsWith('x') }}", 'true false'],
    ["{{ list | first }}{{ list | last }}{{ 'abc' | first }}{{ 'abc' | last }}{{ [] | first }}{{ '' | last }}{{ none | first }}", '32ac'],
    ['{{ nested | flatten }}', '[1,2,3,4]'],
    ["{{ 'a\nb\nc' | indent(2) }}", 'a\n  b\n  c'],
    ["{{ 'a\nb' | indent(1, '\t') }}", 'a\n\tb'],
    ["{{ 'a\nb' | nindent(2) }}", '\n  a\n  b'],
    ["{{ words | join(', ') }}|{{ list | join }}|{{ none | join }}|{{ [1, none, 'x'] | join('-') }}", 'b, a, c|312||1--x'],
    ["{{ map | json }} {{ 'a' | toJson }} {{ none | toJson }} {{ [1, 'x'] | json }}", '{"a":1,"b":"two"} "a" null [1,"x"]'],
    ['{{ map | keys }} {{ map | values }}', '["a","b"] [1,"two"]'],
    ["{{ 'abc' | length }} {{ list | length }} {{ map | length }} {{ none | length }}", '3 3 2 0'],
    ["{{ s | lower }}|{{ s | upper }}|{{ s | trim }}|{{ none | upper }}", '  hello world  |  HELLO WORLD  |Hello World|'],
    ["{{ 'hello big WORLD' | title }}", 'Hello Big World'],
    ["{{ [1, 2] | merge([3]) }} {{ {'a': 1, 'b': 1} | merge({'b': 2}) }}", '[1,2,3] {"a":1,"b":2}'],
    ["{{ '42' | number + 1 }} {{ ' 1.5 ' | number }} {{ '-3' | number('INT') }} {{ 7 | number }} {{ '1e3' | number('DOUBLE') }}", '43 1.5 -3 7 1000'],
    ["{{ 'I like %this% and %that%.' | replace({'%this%': 'cake', '%that%': 2}) }}", 'I like cake and 2.'],
    ["{{ 'a.b.c' | replace('.', '/') }}{{ 'abc' | replace('', 'x') }}", 'a/b/cabc'],
    ["{{ list | reverse }} {{ 'abc' | reverse }} {{ none | reverse }}", '[2,1,3] cba '],
    ['{{ list | sort }} {{ words | sort }} {{ list | rsort }} {{ [2, none, 1] | sort }}', '[1,2,3] ["a","b","c"] [3,2,1] [null,1,2]'],
    ['{{ [none, 2, none] | sort }}', '[null,null,2]'],
    ["{{ 'abcdef' | slice(1, 3) }} {{ [1, 2, 3, 4] | slice(2) }} {{ 'abc' | slice(-5, 99) }} {{ none | slice(1) }}", 'bc [3,4] abc '],
    ["{{ 'Héllo, World! 2026' | slugify }}", 'hello-world-2026'],
    ["{{ 'a,b,,c,,' | split(',') }} {{ 'a,b,c' | split(',', 2) }} {{ 'ab' | split('') }} {{ 'a,b' | split(',', -1) }}", '["a","b","","c"] ["a","b,c"] ["a","b"] ["a","b"]'],
    ["{{ 'a,b,,' | split(',', -1) }}", '["a","b","",""]'],
    [
      "{{ 'a.b.c' | substringBefore('.') }} {{ 'a.b.c' | substringBeforeLast('.') }} {{ 'a.b.c' | substringAfter('.') }} {{ 'a.b.c' | substringAfterLast('.') }}",
      'a a.b b.c c',
    ],
    [
      "[{{ 'abc' | substringBefore('x') }}][{{ 'abc' | substringBeforeLast('x') }}][{{ 'abc' | substringAfter('x') }}][{{ 'abc' | substringAfterLast('x') }}]",
      '[abc][abc][][]',
    ],
    ["[{{ 'abc' | substringBeforeLast('') }}][{{ 'abc' | substringAfterLast('') }}]", '[abc][]'],
    ["{{ 'a b&c=d/é~!' | urlencode }}", 'a+b%26c%3Dd%2F%C3%A9%7E%21'],
    ["{{ 'a+b%26c%3Dd%2F%C3%A9' | urldecode }}", 'a b&c=d/é'],
    ["{{ date | timestamp }} {{ '2026-11-28T00:00:00Z' | timestamp }} {{ '2026-11-28' | timestamp(timeZone='Europe/Paris') }}", '1795881187 1795824000 1795820400'],
  ])('%s', async (source, expected) => {
    expect(await render(source)).toBe(expected);
  });

  it.each([
    ['{{ 1 | upper }}', 'upper expects a string, got number'],
    ['{{ 1 | chunk(0) }}', 'chunk size must be at least 1'],
    ['{{ 1 | chunk(2) }}', 'chunk expects a list, got number'],
    ["{{ 'abcdef' | abbreviate(2) }}", 'abbreviate length must be at least 3'],
    ["{{ 'abc' | abbreviate('x') }}", 'abbreviate length must be a number, got string'],
    ["{{ 'abc' | abbreviate(1.5) }}", 'abbreviate length must be an integer, got 1.5'],
    ["{{ '%%%' | base64decode }}", 'base64decode: the input is not base64-encoded UTF-8 text'],
    ["{{ '%E0%A4%A' | urldecode }}", 'urldecode: malformed percent-encoding'],
    ["{{ s | urlencode }}", null],
    ['{{ map | first }}', 'first expects a list, got map'],
    ['{{ list | keys }}', 'keys expects a map, got list'],
    ['{{ 5 | length }}', 'length expects a map, got number'],
    ["{{ 'x' | indent(-1) }}", 'indent amount must not be negative'],
    ["{{ 'x' | indent(1, 2) }}", 'indent prefix must be a string, got number'],
    ["{{ 'abc' | number }}", 'number: cannot convert "abc" to a number'],
    ["{{ '1.5' | number('LONG') }}", 'number: cannot convert "1.5" to a number'],
    ["{{ [1] | merge({'a': 1}) }}", 'merge argument expects a list, got map'],
    ['{{ [1, "a"] | sort }}', 'cannot compare a string with a number'],
    ["{{ 'x' | replace(1, 'y') }}", 'replace search must be a string, got number'],
    ["{{ 'x' | split(1) }}", 'split delimiter must be a string, got number'],
    ["{{ 'x' | startsWith(1) }}", 'startsWith value must be a string, got number'],
    ["{{ 'x' | substringAfter(1) }}", 'substringAfter separator must be a string, got number'],
    ['{{ [1] | date }}', 'date expects a date, an ISO-8601 string or epoch milliseconds, got list'],
  ])('%s', async (source, reason) => {
    if (reason === null) {
      expect(await renderTemplate('{{ s | urlencode }}', { s: '\ud800' }).catch((error: SluiceError) => error.message)).toBe(
        'urlencode: the input is not valid Unicode text',
      );
      return;
    }
    const error = await failure(render(source));
    expect(error.code).toBe('SLU_EXPR_TYPE');
    expect(error.message).toBe(reason);
  });

  it('size checks stop amplifying filters before they allocate', async () => {
    const limits = { maxOutputLength: 100 };
    for (const source of [
      "{{ 'x' | indent(200) }}",
      "{{ 'aaaaaaaaaa' | replace('a', 'bbbbbbbbbbbbbbbbbbbb') }}",
      "{{ range(1, 60) | join(',') }}",
      "{{ [range(1, 60), range(1, 60)] | flatten }}",
      '{{ range(1, 60) | merge(range(1, 60)) }}',
      "{{ 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' ~ 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' }}",
    ]) {
      const error = await failure(render(source, { limits }));
      expect(error.code).toBe('SLU_EXPR_LIMIT');
      expect(error.message).toBe('expression exceeded its maxOutputLength limit of 100');
    }
  });
});

describe('date filters', () => {
  it.each([
    ["{{ date | date('yyyy-MM-dd HH:mm:ss.SSS') }}", '2026-11-28 15:53:07.123'],
    ['{{ date | date }}', '2026-11-28T15:53:07.123000Z'],
    ["{{ date | date('iso_sec', timeZone='Europe/Paris') }}", '2026-11-28T16:53:07+01:00'],
    ["{{ date | date('yyyy-MM-dd', 'America/New_York') }}", '2026-11-28'],
    ["{{ '2026-11-28T15:53:07Z' | date('EEE d MMM yyyy') }}", 'Sat 28 Nov 2026'],
    ["{{ epoch | date('yyyy-MM-dd HH:mm') }}", '2023-11-14 22:13'],
    ["{{ '28/11/2026 10:30' | date('yyyy-MM-dd\\'T\\'HH:mm', existingFormat='dd/MM/yyyy HH:mm') }}", '2026-11-28T10:30'],
    ["{{ '2026-01-31' | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}", '2026-02-28'],
    ["{{ now() | dateAdd(-1, 'DAYS', format='yyyy-MM-dd') }}", '2026-11-27'],
    ["{{ now() | dateAdd(90, 'minutes', 'HH:mm') }}", '17:23'],
    ["{{ now() | dateAdd(1, 'DAYS', 'yyyy-MM-dd HH:mm XXX', timeZone='Europe/Paris') }}", '2026-11-29 16:53 +01:00'],
  ])('%s', async (source, expected) => {
    expect(await render(source)).toBe(expected);
  });

  it.each([
    ["{{ 'yesterday' | date }}", 'cannot parse "yesterday" as an ISO-8601 date'],
    ["{{ date | date('yyyy', timeZone='Mars/Olympus') }}", 'unknown time zone "Mars/Olympus"'],
    ["{{ date | date('yyyy', timeZone=1) }}", 'timeZone must be a string, got number'],
    ["{{ date | date('ww') }}", "unsupported date pattern letter 'w'"],
    ["{{ now() | dateAdd(1, 'FORTNIGHTS') }}", 'unknown date unit "FORTNIGHTS"'],
    ["{{ now() | dateAdd(1.5, 'DAYS') }}", 'dateAdd amount must be an integer, got 1.5'],
    ['{{ bad | date }}', 'date: invalid date'],
  ])('%s', async (source, reason) => {
    const error = await failure(renderTemplate(source, { ...context, bad: new Date(Number.NaN) }, { now: () => context.date }));
    expect(error.code).toBe('SLU_EXPR_TYPE');
    expect(error.message).toBe(reason);
  });
});

describe('built-in functions', () => {
  it.each([
    ['{{ range(1, 3) }} {{ range(0, 10, 5) }} {{ range(3, 1, -1) }} {{ range(1, 0) }}', '[1,2,3] [0,5,10] [3,2,1] []'],
    ["{{ range('a', 'c') }}", '["a","b","c"]'],
    ["{{ max(1, 5, 3) }} {{ min(4, 2, 8) }} {{ max([1, 9]) }} {{ min(['b', 'a']) }} {{ max() }} {{ max(none, 2) }}", '5 2 9 a  2'],
    ['{{ fromJson(\'{"a": [1, 2]}\').a[1] }} {{ fromJson(none) }}', '2 '],
    ['{{ now() }}', '2026-11-28T15:53:00.000Z'],
  ])('%s', async (source, expected) => {
    expect(await render(source)).toBe(expected);
  });

  it.each([
    ['{{ range(1, 5, 0) }}', 'range step must not be 0'],
    ["{{ fromJson('{oops') }}", null],
    ['{{ fromJson(1) }}', 'fromJson input must be a string, got number'],
    ["{{ max(1, 'a') }}", 'cannot compare a string with a number'],
  ])('%s', async (source, reason) => {
    const error = await failure(render(source));
    expect(error.code).toBe('SLU_EXPR_TYPE');
    if (reason === null) expect(error.message).toMatch(/^fromJson: invalid JSON/);
    else expect(error.message).toBe(reason);
  });

  it('now() refuses a clock that returns no valid date', async () => {
    const invalid = await failure(renderTemplate('{{ now() }}', {}, { now: () => new Date(Number.NaN) }));
    expect(invalid.message).toBe('now: the clock returned date, not a valid date');
    const wrong = await failure(renderTemplate('{{ now() }}', {}, { now: () => 'x' as unknown as Date }));
    expect(wrong.message).toBe('now: the clock returned string, not a valid date');
  });

  it('range() and .. respect maxRangeSize', async () => {
    const error = await failure(renderTemplate('{{ range(1, 11) }}', {}, { limits: { maxRangeSize: 10 } }));
    expect(error.message).toBe('expression exceeded its maxRangeSize limit of 10');
    expect(await renderTemplate('{{ 1..10 | length }}', {}, { limits: { maxRangeSize: 10 } })).toBe('10');
  });

  it('fromJson rethrows unexpected errors', async () => {
    const parse = JSON.parse;
    JSON.parse = () => {
      throw new RangeError('boom');
    };
    try {
      const error = await failure(renderTemplate("{{ fromJson('1') }}", {}));
      expect(error.code).toBe('SLU_EXPR_FUNCTION_FAILED');
    } finally {
      JSON.parse = parse;
    }
  });
});
