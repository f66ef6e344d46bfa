/**
 * ISO-8601 durations as Kestra reads them (`timeout`, retry `interval`, `maxDuration`, ...). Kestra parses them with
 * Java's `Duration.parse`, so this module accepts the same grammar: `PnDTnHnMn.nS`, case-insensitive, each number
 * optionally signed, a fraction on seconds only. Two deliberate differences: weeks (`P1W`, `P2W3D`) are accepted as an
 * extension, and negative durations are rejected because no Kestra property means anything by them.
 */

import { SluiceError } from '../errors.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

const EXPECTED = 'expected ISO-8601 like PT30S, PT5M, PT1H30M or P1D';

// Java's Duration.parse pattern plus an optional weeks group. Groups: sign, weeks, days, T-part, hours, minutes,
// seconds, fraction (Java takes `.` or `,` and up to nine digits).
const DURATION_PATTERN =
  /^([-+]?)P(?:([-+]?\d+)W)?(?:([-+]?\d+)D)?(T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$/i;

// Shorthands people write out of habit (`30s`, `5m`, `1h`, `2d`) get a "did you mean" hint.
const SHORTHAND_PATTERN = /^(\d+)\s*([smhd])$/i;

function invalid(value: string, reason: string): SluiceError {
  return new SluiceError('SLU_FLOW_INVALID_DURATION', { value, reason });
}

/** Why `value` does not match the grammar, as specific as we can cheaply be. */
function explain(value: string): string {
  const shorthand = SHORTHAND_PATTERN.exec(value);
  if (shorthand) {
    const [, amount, unit] = shorthand;
    const upper = (unit ?? '').toUpperCase();
    const suggestion = upper === 'D' ? `P${amount}D` : `PT${amount}${upper}`;
    return `${EXPECTED} (did you mean ${suggestion}?)`;
  }
  const designator = /^[-+]?P([^T]*)(T.*)?$/i.exec(value);
  if (designator) {
    const datePart = designator[1] ?? '';
    const timePart = designator[2];
    if (/\d[YM]/i.test(datePart)) {
      return 'years and months are not fixed durations: use days (P30D), weeks (P4W) or hours (PT720H) instead';
    }
    if (/\d[.,]\d*[WDHM]/i.test(value)) {
      return 'only seconds may have a fraction: write PT90M rather than PT1.5H';
    }
    if (datePart === '' && timePart === undefined) return `'P' must be followed by a value: ${EXPECTED}`;
    if (timePart !== undefined && timePart.length === 1) {
      return `'T' must be followed by hours, minutes or seconds: ${EXPECTED}`;
    }
  }
  return EXPECTED;
}

function signedMs(text: string | undefined, unit: number): number {
  return text === undefined ? 0 : Number(text) * unit;
}

/**
 * Parse an ISO-8601 duration into milliseconds.
 *
 * Accepts what Java's `Duration.parse` accepts (`PT30S`, `PT1H30M`, `PT0.5S`, `P1D`, `P2DT3H4M`, `pt1h`, signed
 * components such as `PT1H-10M`) plus weeks (`P1W`). Years and months are rejected: they have no fixed length.
 * Sub-millisecond fractions are truncated, like Java's `Duration.toMillis()`.
 *
 * @throws SluiceError `SLU_FLOW_INVALID_DURATION` with `{value, reason}` when the text is not a duration, is
 *   negative, or exceeds `Number.MAX_SAFE_INTEGER` milliseconds.
 */
export function parseDuration(value: string): number {
  if (typeof value !== 'string') {
    throw invalid(String(value), `must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.trim() === '') throw invalid(value, `must not be empty: ${EXPECTED}`);
  const match = DURATION_PATTERN.exec(value);
  // Java rejects a bare `P` and a `T` with nothing after it.
  if (!match || value.length === (match[1] ?? '').length + 1 || match[4]?.length === 1) {
    throw invalid(value, explain(value));
  }
  const [, sign, weeks, days, , hours, minutes, seconds, fraction] = match;
  let secondsMs = signedMs(seconds, SECOND);
  if (fraction) {
    const fractionMs = Number(`0.${fraction}`) * SECOND;
    secondsMs += seconds?.startsWith('-') ? -fractionMs : fractionMs;
  }
  const parts = [signedMs(weeks, WEEK), signedMs(days, DAY), signedMs(hours, HOUR), signedMs(minutes, MINUTE), secondsMs];
  if (parts.some((part) => Math.abs(part) > Number.MAX_SAFE_INTEGER)) throw invalid(value, 'is too large');
  const total = parts.reduce((sum, part) => sum + part, 0) * (sign === '-' ? -1 : 1);
  if (total < 0) throw invalid(value, 'must not be negative');
  const ms = Math.floor(total) + 0; // `+ 0` turns -0 (from `-PT0S`) into 0
  if (ms > Number.MAX_SAFE_INTEGER) throw invalid(value, 'is too large');
  return ms;
}

/** Whether `value` is a string {@link parseDuration} accepts. Never throws. */
export function isValidDuration(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    parseDuration(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Format milliseconds the way Java's `Duration.toString()` does (and so the way Kestra shows durations): hours,
 * minutes and seconds only, e.g. 5400000 → `PT1H30M`, 86400000 → `PT24H`, 1500 → `PT1.5S`, 0 → `PT0S`.
 *
 * @throws SluiceError `SLU_FLOW_INVALID_DURATION` when `ms` is negative, not finite or not a whole number.
 */
export function formatDuration(ms: number): string {
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) {
    throw invalid(String(ms), 'must be a non-negative whole number of milliseconds');
  }
  const hours = Math.floor(ms / HOUR);
  const minutes = Math.floor((ms % HOUR) / MINUTE);
  const seconds = Math.floor((ms % MINUTE) / SECOND);
  const millis = ms % SECOND;
  let text = 'PT';
  if (hours > 0) text += `${hours}H`;
  if (minutes > 0) text += `${minutes}M`;
  if (seconds > 0 || millis > 0) {
    text += millis > 0 ? `${seconds}.${String(millis).padStart(3, '0').replace(/0+$/, '')}S` : `${seconds}S`;
  }
  return text === 'PT' ? 'PT0S' : text;
}
