import { describe, expect, it } from 'vitest';
import { assertKvKey, convertKvValue, isIsoDuration, KV_VALUE_MAX_BYTES, kvValueOf, kvValueSize, parseKvBody, parseKvTtl } from './kv.js';

const code = (work: () => unknown): string | undefined => {
  try {
    work();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe('KV keys', () => {
  it("accept Kestra's format only", () => {
    for (const key of ['a', 'A1', 'my.key_1-x', '0', 'a'.repeat(255)]) expect(code(() => assertKvKey(key)), key).toBeUndefined();
    for (const key of ['', '-a', '.a', '_a', 'a b', 'a/b', 'é', 'a'.repeat(256)]) expect(code(() => assertKvKey(key)), key).toBe('SLU_KV_INVALID_KEY');
  });
});

describe('parseKvBody (a PUT body, read as ION)', () => {
  it('types each kind of body as Kestra does', () => {
    expect(parseKvBody('"hello"')).toEqual({ type: 'STRING', value: 'hello' });
    expect(parseKvBody("'single'")).toEqual({ type: 'STRING', value: 'single' });
    expect(parseKvBody('symbol_1')).toEqual({ type: 'STRING', value: 'symbol_1' });
    expect(parseKvBody('1')).toEqual({ type: 'NUMBER', value: 1 });
    expect(parseKvBody('1.0')).toEqual({ type: 'NUMBER', value: 1 });
    expect(parseKvBody('-0.5e1')).toEqual({ type: 'NUMBER', value: -5 });
    expect(parseKvBody('1d2')).toEqual({ type: 'NUMBER', value: 100 });
    expect(parseKvBody('true')).toEqual({ type: 'BOOLEAN', value: true });
    expect(parseKvBody('2021-09-01')).toEqual({ type: 'DATE', value: '2021-09-01' });
    expect(parseKvBody('2021-09-01T')).toEqual({ type: 'DATE', value: '2021-09-01' });
    expect(parseKvBody('2021-09-01T01:02:03Z')).toEqual({ type: 'DATETIME', value: '2021-09-01T01:02:03Z' });
    expect(parseKvBody('2021-09-01T01:02Z')).toEqual({ type: 'DATETIME', value: '2021-09-01T01:02:00Z' });
    expect(parseKvBody('2021-09-01T01:02:03.5-01:00')).toEqual({ type: 'DATETIME', value: '2021-09-01T02:02:03.500Z' });
    expect(parseKvBody('"PT5S"')).toEqual({ type: 'DURATION', value: 'PT5S' });
    expect(parseKvBody('"P2DT1H"')).toEqual({ type: 'DURATION', value: 'PT49H' });
    expect(parseKvBody('{"a": null}')).toEqual({ type: 'JSON', value: { a: null } });
    expect(parseKvBody(' [] ')).toEqual({ type: 'JSON', value: [] });
  });

  it('refuses what is not one value, with SLU_KV_INVALID_VALUE', () => {
    for (const body of ['', '  ', 'null', 'null.string', 'two words', '{a: 1}', '"a" "b"', '01', '2021-02-30', '2021-09-01T25:00:00Z', '2021-09-01T01:02:03', '1e999', "'it''s'"]) {
      expect(code(() => parseKvBody(body)), body).toBe('SLU_KV_INVALID_VALUE');
    }
  });
});

describe('kvValueOf and convertKvValue', () => {
  it('types a rendered value as Kestra does without kvType', () => {
    expect(kvValueOf('text')).toEqual({ type: 'STRING', value: 'text' });
    expect(kvValueOf('PT1M')).toEqual({ type: 'DURATION', value: 'PT1M' });
    expect(kvValueOf('P1W')).toEqual({ type: 'STRING', value: 'P1W' });
    expect(kvValueOf(3)).toEqual({ type: 'NUMBER', value: 3 });
    expect(kvValueOf(new Date('2024-01-01T00:00:00.123Z'))).toEqual({ type: 'DATETIME', value: '2024-01-01T00:00:00.123Z' });
    expect(kvValueOf({ a: [1] })).toEqual({ type: 'JSON', value: { a: [1] } });
    for (const value of [null, undefined, Number.NaN, Infinity]) expect(code(() => kvValueOf(value)), String(value)).toBe('SLU_KV_INVALID_VALUE');
  });

  it('converts texts to a kvType, strictly', () => {
    expect(convertKvValue(' 42 ', 'NUMBER')).toEqual({ type: 'NUMBER', value: 42 });
    expect(convertKvValue('False', 'BOOLEAN')).toEqual({ type: 'BOOLEAN', value: false });
    expect(convertKvValue('2024-01-01', 'DATE')).toEqual({ type: 'DATE', value: '2024-01-01' });
    expect(convertKvValue('2024-01-01T23:30:00-02:00', 'DATE')).toEqual({ type: 'DATE', value: '2024-01-02' });
    expect(convertKvValue('2024-01-01T00:00:00Z', 'DATETIME')).toEqual({ type: 'DATETIME', value: '2024-01-01T00:00:00Z' });
    expect(convertKvValue('PT90M', 'DURATION')).toEqual({ type: 'DURATION', value: 'PT1H30M' });
    expect(convertKvValue('[1]', 'JSON')).toEqual({ type: 'JSON', value: [1] });
    expect(convertKvValue({ a: 1 }, 'STRING')).toEqual({ type: 'STRING', value: '{"a":1}' });
    for (const [value, type] of [['yes', 'BOOLEAN'], ['', 'NUMBER'], ['0x10', 'NUMBER'], ['2024-01-01', 'DATETIME'], ['1 day', 'DURATION'], [3, 'DATE']] as const) {
      expect(code(() => convertKvValue(value, type)), `${value} ${type}`).toBe('SLU_KV_INVALID_VALUE');
    }
  });
});

describe('sizes, durations and TTLs', () => {
  it('counts a value by the UTF-8 bytes of its JSON form', () => {
    expect(kvValueSize('ab')).toBe(4);
    expect(kvValueSize('é')).toBe(4);
    expect(kvValueSize('😀')).toBe(6);
    expect(kvValueSize({ a: 1 })).toBe(7);
    expect(KV_VALUE_MAX_BYTES).toBe(1_048_576);
  });

  it("knows Java's ISO durations", () => {
    for (const text of ['PT5S', 'P1D', 'PT1.5S', '-PT1M', 'pt1h']) expect(isIsoDuration(text), text).toBe(true);
    for (const text of ['P', 'PT', 'P1W', 'P1M', '5s', 'PT5']) expect(isIsoDuration(text), text).toBe(false);
  });

  it('reads a TTL as positive milliseconds', () => {
    expect(parseKvTtl('PT1M')).toBe(60_000);
    for (const ttl of ['PT0S', 'P1M', 'x', '']) expect(code(() => parseKvTtl(ttl)), ttl).toBe('SLU_KV_INVALID_TTL');
  });
});
