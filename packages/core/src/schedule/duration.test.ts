import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { formatDuration, isValidDuration, parseDuration } from './duration.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

function failure(run: () => unknown): SluiceError {
  try {
    run();
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected a SluiceError');
}

describe('parseDuration', () => {
  it.each([
    ['PT30S', 30 * S],
    ['PT5M', 5 * M],
    ['PT1H', H],
    ['PT1H30M', H + 30 * M],
    ['PT1H30M15S', H + 30 * M + 15 * S],
    ['PT0S', 0],
    ['PT0.5S', 500],
    ['PT0,25S', 250],
    ['PT1.123456789S', 1123],
    ['PT0.0009S', 0], // truncated like Duration.toMillis()
    ['PT1.S', S], // Java accepts an empty fraction
    ['PT90M', 90 * M],
    ['PT36H', 36 * H],
    ['P1D', D],
    ['P2DT3H4M', 2 * D + 3 * H + 4 * M],
    ['P1DT0.5S', D + 500],
    ['P1W', 7 * D],
    ['P2W3D', 17 * D],
    ['P1WT1H', 7 * D + H],
    ['pt1h', H],
    ['p1dt2h', D + 2 * H],
    ['Pt1m', M],
    ['+PT1M', M],
    ['PT+5M', 5 * M],
    ['PT1H-10M', 50 * M],
    ['-PT0S', 0],
    ['PT-0S', 0],
    ['P0D', 0],
    ['PT000012S', 12 * S],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(Object.is(parseDuration(text), -0)).toBe(false);
    expect(isValidDuration(text)).toBe(true);
  });

  const expected = 'expected ISO-8601 like PT30S, PT5M, PT1H30M or P1D';
  it.each([
    ['', `must not be empty: ${expected}`],
    ['   ', `must not be empty: ${expected}`],
    ['P', `'P' must be followed by a value: ${expected}`],
    ['-P', `'P' must be followed by a value: ${expected}`],
    ['PT', `'T' must be followed by hours, minutes or seconds: ${expected}`],
    ['P1DT', `'T' must be followed by hours, minutes or seconds: ${expected}`],
    ['1h', `${expected} (did you mean PT1H?)`],
    ['30s', `${expected} (did you mean PT30S?)`],
    ['5 m', `${expected} (did you mean PT5M?)`],
    ['2d', `${expected} (did you mean P2D?)`],
    ['PT1.5H', 'only seconds may have a fraction: write PT90M rather than PT1.5H'],
    ['PT0.5M', 'only seconds may have a fraction: write PT90M rather than PT1.5H'],
    ['P1.5D', 'only seconds may have a fraction: write PT90M rather than PT1.5H'],
    ['P1Y', 'years and months are not fixed durations: use days (P30D), weeks (P4W) or hours (PT720H) instead'],
    ['P1M', 'years and months are not fixed durations: use days (P30D), weeks (P4W) or hours (PT720H) instead'],
    ['P1Y2M3DT4H', 'years and months are not fixed durations: use days (P30D), weeks (P4W) or hours (PT720H) instead'],
    ['-PT6H', 'must not be negative'],
    ['PT-6H3M', 'must not be negative'],
    ['P-1D', 'must not be negative'],
    ['PT-0.5S', 'must not be negative'],
    ['PT99999999999999999999S', 'is too large'],
    ['P9999999999999D', 'is too large'],
    ['PT5000000000000000S', 'is too large'],
    ['garbage', expected],
    ['PT30', expected],
    ['T30S', expected],
    ['PT30S ', expected],
    [' PT30S', expected],
    ['PT1M1H', expected],
    ['PT1.1234567891S', expected],
    ['PT.5S', expected],
    ['P1D1W', expected],
    ['30', expected],
  ])('rejects %j: %s', (text, reason) => {
    const error = failure(() => parseDuration(text));
    expect(error.code).toBe('SLU_FLOW_INVALID_DURATION');
    expect(error.params).toEqual({ value: text, reason });
    expect(error.message).toBe(`invalid duration "${text}": ${reason}`);
    expect(isValidDuration(text)).toBe(false);
  });

  it('rejects non-strings that slip through untyped YAML', () => {
    expect(failure(() => parseDuration(30 as unknown as string)).params).toEqual({ value: '30', reason: 'must be a string, got number' });
    expect(failure(() => parseDuration(null as unknown as string)).params).toEqual({ value: 'null', reason: 'must be a string, got null' });
    expect(isValidDuration(30)).toBe(false);
    expect(isValidDuration(undefined)).toBe(false);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, 'PT0S'],
    [1, 'PT0.001S'],
    [10, 'PT0.01S'],
    [500, 'PT0.5S'],
    [1500, 'PT1.5S'],
    [1234, 'PT1.234S'],
    [30 * S, 'PT30S'],
    [M, 'PT1M'],
    [H + 30 * M, 'PT1H30M'],
    [5_400_000, 'PT1H30M'],
    [H + 1, 'PT1H0.001S'],
    [H + 5 * S, 'PT1H5S'],
    [D, 'PT24H'],
    [7 * D + 2 * M + 3 * S, 'PT168H2M3S'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1])('rejects %d', (ms) => {
    const error = failure(() => formatDuration(ms));
    expect(error.code).toBe('SLU_FLOW_INVALID_DURATION');
    expect(error.params.reason).toBe('must be a non-negative whole number of milliseconds');
  });

  it('round-trips every parsed duration to the same milliseconds', () => {
    for (const text of ['P2DT3H4M', 'P1W', 'PT0.5S', 'PT1H-10M', 'pt90m', 'P3W6DT23H59M59.999S']) {
      const ms = parseDuration(text);
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
