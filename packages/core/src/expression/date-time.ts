/**
 * Dates for the `date`, `dateAdd` and `timestamp` filters: Java `DateTimeFormatter` patterns (`yyyy-MM-dd`,
 * `HH:mm:ss.SSSXXX`, `EEE, d MMM yyyy`...), Kestra's named formats (`iso`, `sql`, `iso_local_date`...), IANA time
 * zones through `Intl` and fixed offsets (`+02:00`). English names only (the Java default locale of a server).
 *
 * Instants are epoch milliseconds; a "zoned" value is the calendar fields of an instant in a zone.
 */

import { isValidTimeZone, offsetFunction } from '../schedule/timezone.js';
import { typeError } from './expression-errors.js';

/** A time zone: an id and its offset (milliseconds east of UTC) at any instant. */
export interface Zone {
  readonly id: string;
  offsetAt(epochMs: number): number;
}

/** Calendar fields of an instant in a zone. */
export interface Zoned {
  readonly year: number;
  /** 1-12 */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
  /** 1 = Monday ... 7 = Sunday (ISO). */
  readonly dayOfWeek: number;
  readonly dayOfYear: number;
  /** Milliseconds east of UTC. */
  readonly offset: number;
  readonly zone: Zone;
  readonly epochMs: number;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** Kestra's named formats (approximations of Java's ISO formatters, which print a variable fraction). */
const NAMED_FORMATS: ReadonlyMap<string, string> = new Map([
  ['iso', "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"],
  ['iso_sec', "yyyy-MM-dd'T'HH:mm:ssXXX"],
  ['sql', 'yyyy-MM-dd HH:mm:ss.SSSSSS'],
  ['sql_seq', 'yyyy-MM-dd HH:mm:ss'],
  ['iso_date_time', "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"],
  ['iso_offset_date_time', "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"],
  ['iso_zoned_date_time', "yyyy-MM-dd'T'HH:mm:ss.SSSXXX'['VV']'"],
  ['iso_date', 'yyyy-MM-ddXXX'],
  ['iso_time', 'HH:mm:ss.SSSXXX'],
  ['iso_local_date', 'yyyy-MM-dd'],
  ['iso_local_date_time', "yyyy-MM-dd'T'HH:mm:ss.SSS"],
  ['iso_local_time', 'HH:mm:ss.SSS'],
  ['iso_instant', "yyyy-MM-dd'T'HH:mm:ss.SSSX"],
]);

const MAX_PATTERN_LENGTH = 256;
const DAY = 86_400_000;

// ---- zones

const UTC: Zone = { id: 'UTC', offsetAt: () => 0 };
const MAX_CACHED_ZONES = 256;
const zones = new Map<string, Zone>();

function fixedZone(id: string, offset: number): Zone {
  return { id, offsetAt: () => offset };
}

// One Intl-based offset computation for the whole of core: the cron scheduler's.
function intlZone(id: string): Zone | null {
  return isValidTimeZone(id) ? { id, offsetAt: offsetFunction(id) } : null;
}

/**
 * A zone by id: an IANA name (`Europe/Paris`), `UTC`/`Z`, or a fixed offset (`+02:00`, `UTC+2`, `GMT-05:30`).
 *
 * @throws SluiceError `SLU_EXPR_TYPE` for an unknown zone.
 */
export function resolveZone(id: string): Zone {
  if (id === 'UTC' || id === 'Z' || id === 'Etc/UTC' || id === 'GMT') return UTC;
  const cached = zones.get(id);
  if (cached !== undefined) return cached;
  const fixed = /^(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(id);
  let zone: Zone | null;
  if (fixed !== null) {
    const minutes = Number(fixed[2]) * 60 + Number(fixed[3] ?? 0);
    zone = minutes <= 18 * 60 ? fixedZone(id, (fixed[1] === '-' ? -minutes : minutes) * 60_000) : null;
  } else {
    zone = intlZone(id);
  }
  if (zone === null) throw typeError(`unknown time zone "${id}"`);
  // Zone ids come from templates: bound the cache rather than trust them.
  if (zones.size >= MAX_CACHED_ZONES) zones.clear();
  zones.set(id, zone);
  return zone;
}

// ---- calendar arithmetic

/** Epoch milliseconds of a UTC calendar time (years 0-99 are not shifted to the 1900s). */
function utc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

/** The calendar fields of `epochMs` in `zone`. */
export function toZoned(epochMs: number, zone: Zone): Zoned {
  const offset = zone.offsetAt(epochMs);
  const wall = new Date(epochMs + offset);
  const year = wall.getUTCFullYear();
  const startOfYear = utc(year, 1, 1, 0, 0, 0, 0);
  return {
    year,
    month: wall.getUTCMonth() + 1,
    day: wall.getUTCDate(),
    hour: wall.getUTCHours(),
    minute: wall.getUTCMinutes(),
    second: wall.getUTCSeconds(),
    millisecond: wall.getUTCMilliseconds(),
    dayOfWeek: ((wall.getUTCDay() + 6) % 7) + 1,
    dayOfYear: Math.floor((wall.getTime() - startOfYear) / DAY) + 1,
    offset,
    zone,
    epochMs,
  };
}

interface LocalFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

/**
 * The instant of a local calendar time in `zone`, like `java.time`: in a DST gap the time moves forward by the
 * length of the gap; in an overlap the earlier instant wins.
 */
export function fromLocal(fields: LocalFields, zone: Zone): number {
  const { year, month, day, hour, minute, second, millisecond } = fields;
  const wall = utc(year, month, day, hour, minute, second, millisecond);
  // Offsets a day apart bracket any transition near this wall time.
  const before = zone.offsetAt(wall - DAY);
  const after = zone.offsetAt(wall + DAY);
  const valid = [wall - before, wall - after].filter((instant) => zone.offsetAt(instant) === wall - instant);
  return valid.length > 0 ? Math.min(...valid) : wall - before;
}

const TIME_UNITS: ReadonlyMap<string, number> = new Map([
  ['NANOS', 1e-6],
  ['MICROS', 1e-3],
  ['MILLIS', 1],
  ['SECONDS', 1000],
  ['MINUTES', 60_000],
  ['HOURS', 3_600_000],
  ['HALF_DAYS', 43_200_000],
]);
const DATE_UNITS: ReadonlyMap<string, { days?: number; months?: number }> = new Map([
  ['DAYS', { days: 1 }],
  ['WEEKS', { days: 7 }],
  ['MONTHS', { months: 1 }],
  ['YEARS', { months: 12 }],
  ['DECADES', { months: 120 }],
  ['CENTURIES', { months: 1200 }],
  ['MILLENNIA', { months: 12_000 }],
]);

/**
 * `epochMs` plus `amount` `unit`s (Java `ChronoUnit` names, any case). Date-based units move the calendar in
 * `zone` (a day is 23 or 25 hours across a DST change; Jan 31 plus a month is Feb 28/29).
 */
export function addToDate(epochMs: number, amount: number, unit: string, zone: Zone): number {
  const name = unit.toUpperCase();
  const time = TIME_UNITS.get(name);
  if (time !== undefined) return epochMs + Math.trunc(amount * time);
  const date = DATE_UNITS.get(name);
  if (date === undefined) throw typeError(`unknown date unit "${unit}"`);
  const zoned = toZoned(epochMs, zone);
  const months = zoned.month - 1 + (date.months ?? 0) * amount;
  const year = zoned.year + Math.floor(months / 12);
  const month = (((months % 12) + 12) % 12) + 1;
  const lastDay = new Date(utc(year, month + 1, 0, 0, 0, 0, 0)).getUTCDate();
  const day = Math.min(zoned.day, lastDay) + (date.days ?? 0) * amount;
  return fromLocal({ ...zoned, year, month, day }, zone);
}

// ---- patterns

type PatternItem = { readonly letter: string; readonly count: number } | { readonly text: string };

/** Java pattern → items. Quoted text is literal, `''` is a quote, `[` `]` (optional sections) are dropped. */
function compilePattern(pattern: string): PatternItem[] {
  if (pattern.length > MAX_PATTERN_LENGTH) throw typeError(`date pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  const items: PatternItem[] = [];
  let i = 0;
  while (i < pattern.length) {
    const char = pattern[i] as string;
    if (/[A-Za-z]/.test(char)) {
      let end = i;
      while (pattern[end] === char) end += 1;
      items.push({ letter: char, count: end - i });
      i = end;
    } else if (char === "'") {
      if (pattern[i + 1] === "'") {
        items.push({ text: "'" });
        i += 2;
        continue;
      }
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= pattern.length) throw typeError(`unclosed quote in date pattern "${pattern}"`);
        if (pattern[j] === "'") {
          if (pattern[j + 1] !== "'") break;
          text += "'";
          j += 2;
        } else {
          text += pattern[j];
          j += 1;
        }
      }
      items.push({ text });
      i = j + 1;
    } else {
      if (char === '{' || char === '}' || char === '#') {
        throw typeError(`reserved character '${char}' in date pattern "${pattern}"`);
      }
      if (char !== '[' && char !== ']') items.push({ text: char });
      i += 1;
    }
  }
  return items;
}

function pad(value: number, width: number): string {
  const text = String(Math.abs(value)).padStart(width, '0');
  return value < 0 ? `-${text}` : text;
}

function formatOffset(offsetMs: number, withColon: boolean, hoursOnly: boolean): string {
  const total = Math.round(offsetMs / 1000);
  const sign = total < 0 ? '-' : '+';
  const hours = Math.floor(Math.abs(total) / 3600);
  const minutes = Math.floor((Math.abs(total) % 3600) / 60);
  if (hoursOnly && minutes === 0) return `${sign}${pad(hours, 2)}`;
  return `${sign}${pad(hours, 2)}${withColon ? ':' : ''}${pad(minutes, 2)}`;
}

function zoneName(zoned: Zoned, style: 'short' | 'long'): string {
  if (zoned.zone === UTC) return style === 'short' ? 'UTC' : 'Coordinated Universal Time';
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zoned.zone.id, timeZoneName: style }).formatToParts(
      zoned.epochMs,
    );
    return parts.find((part) => part.type === 'timeZoneName')?.value ?? zoned.zone.id;
  } catch {
    return `GMT${formatOffset(zoned.offset, true, false)}`;
  }
}

function text(names: readonly string[], index: number, count: number): string {
  const name = names[index] as string;
  if (count === 4) return name;
  if (count === 5) return name.slice(0, 1);
  return name.slice(0, 3);
}

function formatField(letter: string, count: number, z: Zoned): string {
  switch (letter) {
    case 'G':
      return count === 4 ? (z.year > 0 ? 'Anno Domini' : 'Before Christ') : z.year > 0 ? 'AD' : 'BC';
    case 'y':
    case 'u':
    case 'Y': {
      const year = letter === 'y' && z.year <= 0 ? 1 - z.year : z.year;
      return count === 2 ? pad(((year % 100) + 100) % 100, 2) : pad(year, count);
    }
    case 'Q':
    case 'q': {
      const quarter = Math.ceil(z.month / 3);
      if (count >= 4) return `${quarter}${['st', 'nd', 'rd', 'th'][quarter - 1] as string} quarter`;
      return count === 3 ? `Q${quarter}` : pad(quarter, count);
    }
    case 'M':
    case 'L':
      return count >= 3 ? text(MONTHS, z.month - 1, count) : pad(z.month, count);
    case 'd':
      return pad(z.day, count);
    case 'D':
      return pad(z.dayOfYear, count);
    case 'E':
      return text(DAYS, z.dayOfWeek - 1, count);
    case 'e':
    case 'c':
      // Localized day-of-week number with a US week (Sunday = 1).
      return count >= 3 ? text(DAYS, z.dayOfWeek - 1, count) : pad((z.dayOfWeek % 7) + 1, count);
    case 'a':
      return z.hour < 12 ? 'AM' : 'PM';
    case 'h':
      return pad(z.hour % 12 || 12, count);
    case 'K':
      return pad(z.hour % 12, count);
    case 'k':
      return pad(z.hour || 24, count);
    case 'H':
      return pad(z.hour, count);
    case 'm':
      return pad(z.minute, count);
    case 's':
      return pad(z.second, count);
    case 'S':
      return pad(z.millisecond, 3).padEnd(count, '0').slice(0, count);
    case 'A':
      return pad(((z.hour * 60 + z.minute) * 60 + z.second) * 1000 + z.millisecond, count);
    case 'n':
      return pad(z.millisecond * 1_000_000, count);
    case 'N':
      return pad((((z.hour * 60 + z.minute) * 60 + z.second) * 1000 + z.millisecond) * 1_000_000, count);
    case 'V':
      return z.zone.id;
    case 'z':
      return zoneName(z, count >= 4 ? 'long' : 'short');
    case 'O':
      if (z.offset === 0) return 'GMT';
      // 'O' is the short form: GMT+1, GMT+5:30; 'OOOO' the full one: GMT+01:00.
      if (count >= 4) return `GMT${formatOffset(z.offset, true, false)}`;
      return `GMT${formatOffset(z.offset, true, true).replace(/^([+-])0/, '$1')}`;
    case 'X':
    case 'x': {
      if (letter === 'X' && z.offset === 0) return 'Z';
      return formatOffset(z.offset, count === 3 || count === 5, count === 1);
    }
    case 'Z':
      if (count === 4) return z.offset === 0 ? 'GMT' : `GMT${formatOffset(z.offset, true, false)}`;
      if (count === 5) return z.offset === 0 ? 'Z' : formatOffset(z.offset, true, false);
      return formatOffset(z.offset, false, false);
    default:
      throw typeError(`unsupported date pattern letter '${letter}'`);
  }
}

/** The pattern behind a format name: Kestra's named formats, else the format itself. */
function patternOf(format: string): string {
  return NAMED_FORMATS.get(format) ?? format;
}

/**
 * Format an instant with a Java `DateTimeFormatter` pattern or one of Kestra's named formats.
 *
 * @throws SluiceError `SLU_EXPR_TYPE` for an unsupported pattern letter or a malformed pattern.
 */
export function formatDate(epochMs: number, format: string, zone: Zone): string {
  const zoned = toZoned(epochMs, format === 'iso_instant' ? UTC : zone);
  return compilePattern(patternOf(format))
    .map((item) => ('text' in item ? item.text : formatField(item.letter, item.count, zoned)))
    .join('');
}

// ---- parsing

const ISO_DATE_TIME = new RegExp(
  [
    '^([+-]?\\d{4,6})-(\\d{2})-(\\d{2})', // date
    '(?:[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d{1,9}))?)?)?', // time
    '(Z|[+-]\\d{2}(?::?\\d{2})?)?', // offset
    '(?:\\[([A-Za-z0-9_/+:-]{1,64})\\])?$', // [zone]
  ].join(''),
  'i',
);

function parseOffset(text: string): number {
  if (/^(?:Z|UTC|GMT)$/i.test(text)) return 0;
  const match = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/i.exec(text) as RegExpExecArray;
  const seconds = Number(match[2]) * 3600 + Number(match[3] ?? 0) * 60 + Number(match[4] ?? 0);
  return (match[1] === '-' ? -seconds : seconds) * 1000;
}

function checkFields(fields: LocalFields, input: string): void {
  const { year, month, day, hour, minute, second } = fields;
  const lastDay = new Date(utc(year, month + 1, 0, 0, 0, 0, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > lastDay || hour > 23 || minute > 59 || second > 59) {
    throw typeError(`invalid date "${input}"`);
  }
}

interface ParsedDate {
  fields: LocalFields;
  offset: number | null;
  zone: string | null;
}

/** ISO-8601 date, date-time, with or without offset or `[zone]`. */
function parseIso(input: string): ParsedDate | null {
  const match = ISO_DATE_TIME.exec(input.trim());
  if (match === null) return null;
  const fraction = (match[7] ?? '').padEnd(3, '0').slice(0, 3);
  return {
    fields: {
      year: Number(match[1]),
      month: Number(match[2]),
      day: Number(match[3]),
      hour: Number(match[4] ?? 0),
      minute: Number(match[5] ?? 0),
      second: Number(match[6] ?? 0),
      millisecond: Number(fraction),
    },
    offset: match[8] === undefined ? null : parseOffset(match[8]),
    zone: match[9] ?? null,
  };
}

/** Case-insensitive longest name of `names` (or their 3-letter forms) at `input[pos]`; returns [index, length]. */
function matchName(input: string, pos: number, names: readonly string[], count: number): [number, number] | null {
  const candidates = names.map((name) => (count === 4 ? name : name.slice(0, 3)).toLowerCase());
  const rest = input.slice(pos).toLowerCase();
  let best: [number, number] | null = null;
  candidates.forEach((candidate, index) => {
    if (rest.startsWith(candidate) && (best === null || candidate.length > best[1])) best = [index, candidate.length];
  });
  return best;
}

/**
 * Parse with a Java pattern, greedily and without backtracking (like `DateTimeFormatter`), so a hostile pattern
 * cannot make parsing slow.
 */
function parseWithPattern(input: string, format: string): ParsedDate | null {
  const fields: LocalFields = { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, millisecond: 0 };
  let offset: number | null = null;
  let zone: string | null = null;
  let pm: boolean | null = null;
  let pos = 0;
  const digits = (min: number, max: number): number | null => {
    let end = pos;
    const isDigit = (at: number): boolean => input.charCodeAt(at) >= 48 && input.charCodeAt(at) <= 57;
    while (end < input.length && end - pos < max && isDigit(end)) end += 1;
    if (end - pos < min) return null;
    const value = Number(input.slice(pos, end));
    pos = end;
    return value;
  };
  for (const item of compilePattern(patternOf(format))) {
    if ('text' in item) {
      if (!input.startsWith(item.text, pos)) return null;
      pos += item.text.length;
      continue;
    }
    const { letter, count } = item;
    const width = count === 1 ? [1, 2] : [count, count];
    let value: number | null = 0;
    switch (letter) {
      case 'y':
      case 'u':
      case 'Y':
        value = count === 2 ? digits(2, 2) : digits(count === 1 ? 1 : count, count === 1 ? 9 : count);
        if (value !== null) fields.year = count === 2 ? 2000 + value : value;
        break;
      case 'M':
      case 'L':
        if (count >= 3) {
          const name = matchName(input, pos, MONTHS, count);
          if (name === null) return null;
          fields.month = name[0] + 1;
          pos += name[1];
        } else if ((value = digits(width[0] as number, width[1] as number)) !== null) fields.month = value;
        break;
      case 'E': {
        const name = matchName(input, pos, DAYS, count);
        if (name === null) return null;
        pos += name[1];
        break;
      }
      case 'd':
        if ((value = digits(width[0] as number, width[1] as number)) !== null) fields.day = value;
        break;
      case 'H':
      case 'k':
      case 'h':
      case 'K':
        if ((value = digits(width[0] as number, width[1] as number)) !== null) {
          fields.hour = letter === 'k' && value === 24 ? 0 : value;
        }
        break;
      case 'm':
        if ((value = digits(width[0] as number, width[1] as number)) !== null) fields.minute = value;
        break;
      case 's':
        if ((value = digits(width[0] as number, width[1] as number)) !== null) fields.second = value;
        break;
      case 'S': {
        const start = pos;
        if (digits(count, count) !== null) fields.millisecond = Number(input.slice(start, start + 3).padEnd(3, '0'));
        else value = null;
        break;
      }
      case 'a': {
        const marker = input.slice(pos, pos + 2).toUpperCase();
        if (marker !== 'AM' && marker !== 'PM') return null;
        pm = marker === 'PM';
        pos += 2;
        break;
      }
      case 'X':
      case 'x':
      case 'Z':
      case 'z': {
        const match = /^(?:Z|(?:GMT|UTC)?[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?|GMT|UTC)/i.exec(input.slice(pos));
        if (match === null) return null;
        offset = parseOffset(match[0]);
        pos += match[0].length;
        break;
      }
      case 'V': {
        const match = /^[A-Za-z0-9_/+:-]{1,64}/.exec(input.slice(pos));
        if (match === null) return null;
        zone = match[0];
        pos += match[0].length;
        break;
      }
      default:
        throw typeError(`unsupported date pattern letter '${letter}' for parsing`);
    }
    if (value === null) return null;
  }
  if (pos !== input.length) return null;
  if (pm !== null) fields.hour = (fields.hour % 12) + (pm ? 12 : 0);
  return { fields, offset, zone };
}

/**
 * The instant a string denotes: ISO-8601 (date, local date-time interpreted in `zone`, or with offset/`[zone]`),
 * or the given `existingFormat` pattern.
 *
 * @throws SluiceError `SLU_EXPR_TYPE` when the string does not parse.
 */
export function parseDate(input: string, zone: Zone, existingFormat?: string): number {
  const parsed = existingFormat === undefined ? parseIso(input) : parseWithPattern(input, existingFormat);
  if (parsed === null) {
    throw typeError(
      existingFormat === undefined
        ? `cannot parse "${input}" as an ISO-8601 date`
        : `cannot parse "${input}" with format "${existingFormat}"`,
    );
  }
  checkFields(parsed.fields, input);
  if (parsed.offset !== null) {
    const { year, month, day, hour, minute, second, millisecond } = parsed.fields;
    return utc(year, month, day, hour, minute, second, millisecond) - parsed.offset;
  }
  return fromLocal(parsed.fields, parsed.zone === null ? zone : resolveZone(parsed.zone));
}
