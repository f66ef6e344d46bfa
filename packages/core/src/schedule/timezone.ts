/**
 * IANA time zones through `Intl.DateTimeFormat` only: no tz library, no bundled database. The runtime's ICU data
 * decides which zones exist and what their offsets are.
 *
 * Instants are epoch milliseconds. A "wall" time is the local calendar time of a zone encoded as if it were UTC
 * (`Date.UTC(year, month - 1, day, hour, minute, second)`), which makes wall-clock arithmetic plain integer arithmetic.
 */

import { SluiceError } from '../errors.js';

const MAX_CACHED_FORMATTERS = 256;
const formatters = new Map<string, Intl.DateTimeFormat | null>();

// `format()` is about three times faster than `formatToParts()`; with a fixed locale its output is stable:
// "3/29/2026, 02:30:00".
const FORMAT_PATTERN = /^(\d+)\/(\d+)\/(\d+),? (\d+):(\d+):(\d+)$/;

/** The cached formatter for `timeZone`, or `null` when the runtime does not know the zone. */
function formatterFor(timeZone: string): Intl.DateTimeFormat | null {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch {
      formatter = null;
    }
    // Keys are caller-supplied strings: bound the cache rather than trust them.
    if (formatters.size >= MAX_CACHED_FORMATTERS) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * Whether the runtime knows `timeZone` as an IANA zone name or alias (`Europe/Paris`, `UTC`, `US/Eastern`).
 * Offset strings such as `+01:00` are not zones. Never throws.
 */
export function isValidTimeZone(timeZone: unknown): timeZone is string {
  return typeof timeZone === 'string' && timeZone !== '' && formatterFor(timeZone) !== null;
}

/**
 * Check that `timeZone` is a known IANA zone.
 *
 * @throws SluiceError `SLU_FLOW_INVALID_TIMEZONE` with `{timezone}` when it is not.
 */
export function assertTimeZone(timeZone: unknown): asserts timeZone is string {
  if (!isValidTimeZone(timeZone)) throw new SluiceError('SLU_FLOW_INVALID_TIMEZONE', { timezone: String(timeZone) });
}

/** A zone's offset function: `offset(instant)` is wall time minus instant, in milliseconds. */
export type OffsetFunction = (instant: number) => number;

const utcOffset: OffsetFunction = () => 0;

// The tz database has no transition before the 1800s, so any earlier instant has the offset of year 1000. Asking for
// that instead also keeps years BC (which `format()` prints without their era) out of the parsing below.
const OFFSET_FLOOR = Date.UTC(1000, 0, 1);

/**
 * The offset function of a zone (validated). Offsets are whole seconds (historical local mean times such as
 * +00:09:21 included).
 *
 * @internal
 */
export function offsetFunction(timeZone: string): OffsetFunction {
  assertTimeZone(timeZone);
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return utcOffset;
  const formatter = formatterFor(timeZone) as Intl.DateTimeFormat;
  return (instant) => {
    const whole = Math.floor(Math.max(instant, OFFSET_FLOOR) / 1000) * 1000;
    const match = FORMAT_PATTERN.exec(formatter.format(whole));
    /* v8 ignore next 3 -- en-US with these options always matches; guard against a future ICU format change */
    if (!match) {
      throw new SluiceError('SLU_FLOW_INVALID_TIMEZONE', { timezone: timeZone });
    }
    const [, month, day, year, hour, minute, second] = match.map(Number) as number[];
    const wall = wallTime(year ?? 0, month ?? 1, day ?? 1, (hour ?? 0) % 24, minute ?? 0, second ?? 0);
    return wall - whole;
  };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (any year; `Date.UTC` maps years 0-99 to 1900-1999). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const monthIndex = (month + 9) % 12; // March = 0
  const dayOfYear = Math.floor((153 * monthIndex + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** The proleptic Gregorian date of a day number from {@link daysFromCivil}. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153); // March = 0
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** The wall time (see the module comment) of a local calendar time. */
export function wallTime(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  return daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000;
}
