import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { addToDate, formatDate, fromLocal, parseDate, resolveZone, toZoned } from './date-time.js';

function typeFailure(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof SluiceError && error.code === 'SLU_EXPR_TYPE') return error.message;
    throw error;
  }
  throw new Error('expected a type error');
}

const UTC = resolveZone('UTC');
const PARIS = resolveZone('Europe/Paris');
const KOLKATA = resolveZone('Asia/Kolkata');
// Saturday 2026-11-28 15:53:07.123 UTC
const T = Date.UTC(2026, 10, 28, 15, 53, 7, 123);

describe('formatDate', () => {
  it.each([
    ['yyyy-MM-dd HH:mm:ss.SSS', '2026-11-28 15:53:07.123'],
    ['yy y yyy yyyyy uuuu', '26 2026 2026 02026 2026'],
    ['G GGGG', 'AD Anno Domini'],
    ['M MM MMM MMMM MMMMM L', '11 11 Nov November N 11'],
    ['d dd D DDD', '28 28 332 332'],
    ['Q QQ QQQ QQQQ q', '4 04 Q4 4th quarter 4'],
    ['E EEE EEEE EEEEE e ee eee c', 'Sat Sat Saturday S 7 07 Sat 7'],
    ['h hh K k H a', '3 03 3 15 15 PM'],
    ['m s S SS SSSSSS SSSSSSSSS', '53 7 1 12 123000 123000000'],
    ['A n N', '57187123 123000000 57187123000000'],
    ["'literal' '''quoted''' 'it''s' '' [yyyy] - / :", "literal 'quoted' it's ' 2026 - / :"],
    ['X XX XXX XXXX XXXXX x xxx Z ZZZZ ZZZZZ O OOOO', 'Z Z Z Z Z +00 +00:00 +0000 GMT Z GMT GMT'],
    ['VV z zzzz', 'UTC UTC Coordinated Universal Time'],
  ])('%s in UTC', (pattern, expected) => {
    expect(formatDate(T, pattern, UTC)).toBe(expected);
  });

  it.each([
    ['yyyy-MM-dd HH:mm XXX', PARIS, '2026-11-28 16:53 +01:00'],
    ['X XX XXX x xx Z ZZZZ ZZZZZ O OOOO', PARIS, '+01 +0100 +01:00 +01 +0100 +0100 GMT+01:00 +01:00 GMT+1 GMT+01:00'],
    ['X XXX O OOOO', KOLKATA, '+0530 +05:30 GMT+5:30 GMT+05:30'],
    ['X xxx', resolveZone('-03:00'), '-03 -03:00'],
    ['VV', PARIS, 'Europe/Paris'],
    ['HH:mm', resolveZone('UTC+2'), '17:53'],
    ['HH:mm', resolveZone('GMT-0530'), '10:23'],
    ['h a', resolveZone('Pacific/Kiritimati'), '5 AM'],
  ])('%s in a zone', (pattern, zone, expected) => {
    expect(formatDate(T, pattern, zone)).toBe(expected);
  });

  it('prints zone names through Intl (or the offset for fixed zones)', () => {
    expect(formatDate(T, 'z', PARIS)).toMatch(/^(GMT\+1|CET)$/);
    expect(formatDate(T, 'zzzz', PARIS)).toMatch(/Central European/);
    expect(formatDate(T, 'z', resolveZone('+02:00'))).toMatch(/^(GMT\+02:00|\+02:00|GMT\+2)$/);
  });

  it('knows Kestra named formats', () => {
    expect(formatDate(T, 'iso', UTC)).toBe('2026-11-28T15:53:07.123000Z');
    expect(formatDate(T, 'iso_local_date', PARIS)).toBe('2026-11-28');
    expect(formatDate(T, 'iso_instant', PARIS)).toBe('2026-11-28T15:53:07.123Z');
    expect(formatDate(T, 'iso_zoned_date_time', PARIS)).toBe('2026-11-28T16:53:07.123+01:00[Europe/Paris]');
    expect(formatDate(T, 'sql', UTC)).toBe('2026-11-28 15:53:07.123000');
  });

  it('handles midnight, noon and years BC', () => {
    const midnight = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(formatDate(midnight, 'h K k a', UTC)).toBe('12 0 24 AM');
    const noon = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(formatDate(noon, 'h K a', UTC)).toBe('12 0 PM');
    const bc = new Date(0);
    bc.setUTCFullYear(-44, 2, 15);
    expect(formatDate(bc.getTime(), 'y u G GGGG', UTC)).toBe('45 -44 BC Before Christ');
    expect(formatDate(bc.getTime(), 'yyyy-MM-dd G', PARIS)).toBe('0045-03-15 BC');
  });

  it.each([
    ['ww', "unsupported date pattern letter 'w'"],
    ["'open", 'unclosed quote in date pattern "\'open"'],
    ['yyyy#', 'reserved character \'#\' in date pattern "yyyy#"'],
    ['y'.repeat(300), 'date pattern longer than 256 characters'],
  ])('rejects %s', (pattern, reason) => {
    expect(typeFailure(() => formatDate(T, pattern, UTC))).toBe(reason);
  });
});

describe('parseDate', () => {
  it.each([
    ['2026-11-28', UTC, '2026-11-28T00:00:00.000Z'],
    ['2026-11-28', PARIS, '2026-11-27T23:00:00.000Z'],
    ['2026-11-28T10:30', UTC, '2026-11-28T10:30:00.000Z'],
    ['2026-11-28 10:30:15', PARIS, '2026-11-28T09:30:15.000Z'],
    ['2026-11-28T10:30:15.5Z', PARIS, '2026-11-28T10:30:15.500Z'],
    ['2026-11-28T10:30:15,123456789+02:00', UTC, '2026-11-28T08:30:15.123Z'],
    ['2026-11-28T10:30:15-0530', UTC, '2026-11-28T16:00:15.000Z'],
    ['2026-11-28T10:30:15+01:00[Europe/Paris]', UTC, '2026-11-28T09:30:15.000Z'],
    ['2026-11-28T10:30:15[Europe/Paris]', UTC, '2026-11-28T09:30:15.000Z'],
    ['  2026-11-28T10:30:15z  ', UTC, '2026-11-28T10:30:15.000Z'],
    ['0099-01-01', UTC, '0099-01-01T00:00:00.000Z'],
  ])('%s', (input, zone, expected) => {
    expect(new Date(parseDate(input, zone)).toISOString()).toBe(expected);
  });

  it.each([
    ['28/11/2026', 'dd/MM/yyyy', UTC, '2026-11-28T00:00:00.000Z'],
    ['1/2/26 3:04 PM', 'd/M/yy h:mm a', UTC, '2026-02-01T15:04:00.000Z'],
    ['12:30 am', 'hh:mm a', UTC, '1970-01-01T00:30:00.000Z'],
    ['Sat, 28 Nov 2026 15:53:07 GMT', 'EEE, d MMM yyyy HH:mm:ss z', UTC, '2026-11-28T15:53:07.000Z'],
    ['Saturday 28 November 2026', 'EEEE d MMMM yyyy', PARIS, '2026-11-27T23:00:00.000Z'],
    ['20261128T155307.123+0100', "yyyyMMdd'T'HHmmss.SSSZ", UTC, '2026-11-28T14:53:07.123Z'],
    ['2026-11-28 24:00', 'yyyy-MM-dd kk:mm', UTC, '2026-11-28T00:00:00.000Z'],
    ['2026-11-28T10:00Z', "yyyy-MM-dd'T'HH:mmXXX", PARIS, '2026-11-28T10:00:00.000Z'],
    ['2026-11-28 10:00 Europe/Paris', 'yyyy-MM-dd HH:mm VV', UTC, '2026-11-28T09:00:00.000Z'],
    ['2026-11-28T10:30:15.123456+01:00', 'iso', UTC, '2026-11-28T09:30:15.123Z'],
    ['2026', 'y', UTC, '2026-01-01T00:00:00.000Z'],
    ['7', 'S', UTC, '1970-01-01T00:00:00.700Z'],
  ])('%s with %s', (input, pattern, zone, expected) => {
    expect(new Date(parseDate(input, zone, pattern)).toISOString()).toBe(expected);
  });

  it.each([
    ['not a date', undefined, 'cannot parse "not a date" as an ISO-8601 date'],
    ['2026-13-01', undefined, 'invalid date "2026-13-01"'],
    ['2026-02-30', undefined, 'invalid date "2026-02-30"'],
    ['2026-01-01T24:00', undefined, 'invalid date "2026-01-01T24:00"'],
    ['2026-01-01T10:00[Mars/Olympus]', undefined, 'unknown time zone "Mars/Olympus"'],
    ['28-11-2026', 'dd/MM/yyyy', 'cannot parse "28-11-2026" with format "dd/MM/yyyy"'],
    ['2026-11-28x', 'yyyy-MM-dd', 'cannot parse "2026-11-28x" with format "yyyy-MM-dd"'],
    ['20261', 'yyyyMM', 'cannot parse "20261" with format "yyyyMM"'],
    ['Foo 2026', 'MMM yyyy', 'cannot parse "Foo 2026" with format "MMM yyyy"'],
    ['Foo 2026', 'EEE yyyy', 'cannot parse "Foo 2026" with format "EEE yyyy"'],
    ['10:00 XM', 'HH:mm a', 'cannot parse "10:00 XM" with format "HH:mm a"'],
    ['10:00 +1', 'HH:mm X', 'cannot parse "10:00 +1" with format "HH:mm X"'],
    ['10:00 ', 'HH:mm VV', 'cannot parse "10:00 " with format "HH:mm VV"'],
    ['2026 1', 'yyyy Q', "unsupported date pattern letter 'Q' for parsing"],
    ['1', 'SS', 'cannot parse "1" with format "SS"'],
    ['x', 'd', 'cannot parse "x" with format "d"'],
  ])('rejects %s', (input, pattern, reason) => {
    expect(typeFailure(() => parseDate(input, UTC, pattern))).toBe(reason);
  });
});

describe('zones and calendar arithmetic', () => {
  it('resolves ids, offsets and caches them', () => {
    expect(resolveZone('Z')).toBe(UTC);
    expect(resolveZone('Etc/UTC')).toBe(UTC);
    expect(resolveZone('Europe/Paris')).toBe(PARIS);
    expect(resolveZone('+05:30').offsetAt(0)).toBe(5.5 * 3_600_000);
    expect(typeFailure(() => resolveZone('+25:00'))).toBe('unknown time zone "+25:00"');
    expect(typeFailure(() => resolveZone('Not/AZone'))).toBe('unknown time zone "Not/AZone"');
  });

  it('bounds the zone cache', () => {
    for (let minutes = 0; minutes < 300; minutes++) resolveZone(`+${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`);
    expect(resolveZone('+01:00').offsetAt(0)).toBe(3_600_000);
  });

  it('converts local times across DST', () => {
    // 2026-03-29 02:30 does not exist in Paris (clocks jump 02:00 -> 03:00): it becomes 03:30+02:00.
    const gap = fromLocal({ year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0, millisecond: 0 }, PARIS);
    expect(new Date(gap).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    // 2026-10-25 02:30 happens twice: the earlier instant (summer offset) wins.
    const overlap = fromLocal({ year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0, millisecond: 0 }, PARIS);
    expect(new Date(overlap).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(toZoned(T, PARIS)).toMatchObject({ hour: 16, dayOfWeek: 6, dayOfYear: 332, offset: 3_600_000 });
  });

  it('adds calendar and time units', () => {
    const day = addToDate(Date.UTC(2026, 2, 28, 12), 1, 'DAYS', PARIS);
    expect(new Date(day).toISOString()).toBe('2026-03-29T11:00:00.000Z');
    expect(new Date(addToDate(Date.UTC(2024, 1, 29), 1, 'years', UTC)).toISOString()).toBe('2025-02-28T00:00:00.000Z');
    expect(new Date(addToDate(Date.UTC(2026, 0, 31), -2, 'MONTHS', UTC)).toISOString()).toBe('2025-11-30T00:00:00.000Z');
    expect(new Date(addToDate(Date.UTC(2026, 0, 1), 2, 'WEEKS', UTC)).toISOString()).toBe('2026-01-15T00:00:00.000Z');
    expect(new Date(addToDate(Date.UTC(2026, 0, 1), 1, 'DECADES', UTC)).toISOString()).toBe('2036-01-01T00:00:00.000Z');
    expect(addToDate(0, 1, 'HALF_DAYS', UTC)).toBe(43_200_000);
    expect(addToDate(0, 1500, 'MICROS', UTC)).toBe(1);
    expect(addToDate(0, 3_000_000, 'NANOS', UTC)).toBe(3);
    expect(addToDate(0, 5, 'MILLIS', UTC)).toBe(5);
  });
});
