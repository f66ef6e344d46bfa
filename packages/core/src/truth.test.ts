import { describe, expect, it } from 'vitest';
import { isTruthy } from './truth.js';

describe('isTruthy (Kestra\'s If rules)', () => {
  it('is false only for nothing, "false", "0", "-0" and the empty string, compared exactly', () => {
    for (const value of [null, undefined, 'false', '0', '-0', '', false, 0, -0]) expect(isTruthy(value), JSON.stringify(value)).toBe(false);
  });

  it('is true for everything else: other case, spaces, other zeros, null as text, lists and maps', () => {
    const truthy = ['true', 'False', 'FALSE', ' false', 'false ', '0.0', '00', '+0', 'null', 'no', 'off', ' ', 'x', true, 1, -1, 0.5, Number.NaN, [], {}, [0]];
    for (const value of truthy) expect(isTruthy(value), JSON.stringify(value)).toBe(true);
  });
});
