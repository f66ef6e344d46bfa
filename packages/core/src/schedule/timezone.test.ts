import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { assertTimeZone, civilFromDays, daysFromCivil, isValidTimeZone, offsetFunction, wallTime } from './timezone.js';

const HOUR = 3_600_000;

describe('time zones', () => {
  it.each(['UTC', 'Etc/UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'US/Eastern', 'utc'])(
    'accepts %s',
    (zone) => {
      expect(isValidTimeZone(zone)).toBe(true);
      expect(() => assertTimeZone(zone)).not.toThrow();
    },
  );

  it.each(['', 'Mars/Olympus', 'Europe/Pariss', '+01:00', 'not a zone', 42, null, undefined])('rejects %j', (zone) => {
    expect(isValidTimeZone(zone)).toBe(false);
    let caught: unknown;
    try {
      assertTimeZone(zone);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceError);
    expect((caught as SluiceError).code).toBe('SLU_FLOW_INVALID_TIMEZONE');
    expect((caught as SluiceError).params).toEqual({ timezone: String(zone) });
    expect((caught as SluiceError).message).toBe(`unknown time zone "${String(zone)}"`);
  });

  it('keeps answering correctly after the formatter cache fills up', () => {
    for (let i = 0; i < 300; i++) expect(isValidTimeZone(`Nowhere/Zone${i}`)).toBe(false);
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('Nowhere/Zone0')).toBe(false);
  });

  it('computes offsets, including half hours, DST and milliseconds', () => {
    expect(offsetFunction('UTC')(Date.UTC(2026, 0, 1))).toBe(0);
    expect(offsetFunction('Asia/Kolkata')(Date.UTC(2026, 0, 1))).toBe(5.5 * HOUR);
    const paris = offsetFunction('Europe/Paris');
    expect(paris(Date.UTC(2026, 0, 15, 12))).toBe(HOUR);
    expect(paris(Date.UTC(2026, 6, 15, 12))).toBe(2 * HOUR);
    expect(paris(Date.UTC(2026, 2, 29, 0, 59, 59, 999))).toBe(HOUR);
    expect(paris(Date.UTC(2026, 2, 29, 1))).toBe(2 * HOUR);
    const newYork = offsetFunction('America/New_York');
    expect(newYork(Date.UTC(2026, 10, 1, 5, 59, 59))).toBe(-4 * HOUR);
    expect(newYork(Date.UTC(2026, 10, 1, 6))).toBe(-5 * HOUR);
    expect(newYork(Date.UTC(1969, 11, 31, 23, 59, 59, 500))).toBe(-5 * HOUR);
  });

  it('converts calendar dates like Date.UTC, for any year', () => {
    for (let day = -800_000; day <= 3_000_000; day += 997) {
      const date = new Date(day * 86_400_000);
      const civil = civilFromDays(day);
      expect(civil).toEqual({ year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() });
      expect(daysFromCivil(civil.year, civil.month, civil.day)).toBe(day);
    }
    expect(civilFromDays(daysFromCivil(2024, 2, 29))).toEqual({ year: 2024, month: 2, day: 29 });
    expect(daysFromCivil(1, 1, 1)).toBe(-719_162);
    expect(wallTime(2026, 3, 29, 2, 30, 15)).toBe(Date.UTC(2026, 2, 29, 2, 30, 15));
  });
});
