import { describe, expect, it } from 'vitest';
import { dateLiteral, jsonLiteral, literal } from './rows.js';

describe('SQL literals of a locked step', () => {
  it('quotes text so that it cannot end its literal', () => {
    expect(literal(`it's`)).toBe(`'it''s'`);
    expect(literal(`a\\b`)).toBe(` E'a\\\\b'`);
    expect(literal(`'); DROP TABLE x; --`)).toBe(`'''); DROP TABLE x; --'`);
    expect(literal(null)).toBe('NULL');
    expect(literal(undefined)).toBe('NULL');
  });

  it('writes integers as they are and refuses any other number', () => {
    expect(literal(42)).toBe('42');
    expect(literal(-7)).toBe('-7');
    expect(() => literal(1.5)).toThrow(RangeError);
    expect(() => literal(Number.NaN)).toThrow(RangeError);
    expect(() => literal(2 ** 60)).toThrow(RangeError);
  });

  it('types JSON and dates', () => {
    expect(jsonLiteral({ a: "it's" })).toBe(`'{"a":"it''s"}'::jsonb`);
    expect(jsonLiteral(null)).toBe('NULL');
    expect(jsonLiteral(undefined)).toBe('NULL');
    expect(dateLiteral(new Date('2026-01-02T03:04:05.678Z'))).toBe(`'2026-01-02T03:04:05.678Z'::timestamptz`);
    expect(dateLiteral(null)).toBe('NULL');
  });
});
