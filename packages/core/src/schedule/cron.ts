/**
 * Cron schedules as Kestra's Schedule trigger reads them (cron-utils' UNIX definition): five fields
 * `minute hour day-of-month month day-of-week`, or six with a leading `second` when the trigger sets
 * `withSeconds: true`, or a nickname (`@daily`, ...). Fire times are computed in an IANA time zone with `Intl` only.
 *
 * Semantics worth knowing:
 * - Day-of-month and day-of-week combine like Vixie cron: when both are restricted (neither is exactly `*` or `?`),
 *   a day matches if EITHER matches (`0 0 1 * MON` fires on the 1st and on every Monday).
 * - Daylight saving time. A wall-clock time skipped by a spring-forward gap fires at the first instant after the gap
 *   (`30 2 * * *` in Europe/Paris on 2026-03-29 fires at 03:00 CEST), like Vixie cron runs jobs it skipped; several
 *   times inside one gap collapse into that single fire. A wall-clock time that occurs twice (fall back) fires once,
 *   at its first occurrence: an hourly job does not fire again during the repeated hour.
 */

import { SluiceError } from '../errors.js';
import { civilFromDays, daysFromCivil, offsetFunction, wallTime, type OffsetFunction } from './timezone.js';

/** Options of {@link parseCron}. */
export interface CronOptions {
  /** Six fields with a leading `second` field, like Kestra's `withSeconds: true`. Default `false`. */
  readonly withSeconds?: boolean;
}

/** A parsed cron expression. Immutable; safe to share and to call concurrently. */
export interface CronSchedule {
  /** The expression as given to {@link parseCron}. */
  readonly expression: string;
  /** Whether the expression has a leading seconds field. */
  readonly withSeconds: boolean;
  /**
   * The first fire time strictly after `after`, evaluated in `timeZone` (an IANA name, default `UTC`).
   *
   * @throws SluiceError `SLU_FLOW_INVALID_TIMEZONE` for an unknown zone; `SLU_FLOW_INVALID_CRON` when `after` is
   *   not a valid date between years 1 and 9999, or nothing fires within the next 8 years ("never fires").
   */
  next(after: Date, timeZone?: string): Date;
  /**
   * The last fire time strictly before `before` (for backfills), evaluated in `timeZone` (default `UTC`).
   *
   * @throws SluiceError as {@link CronSchedule.next}, searching the previous 8 years.
   */
  previous(before: Date, timeZone?: string): Date;
  /** Whether `date` is exactly a fire time (to the millisecond) in `timeZone` (default `UTC`). */
  matches(date: Date, timeZone?: string): boolean;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Upper-case names (JAN, MON) to values. */
  readonly names?: Readonly<Record<string, number>>;
  /** Whether `?` may stand for `*` (day fields only). */
  readonly question?: boolean;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_LONG_NAMES = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 };
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31, question: true };
const MONTH: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  names: Object.fromEntries(MONTH_NAMES.map((name, index) => [name, index + 1])),
};
const DAY_OF_WEEK: FieldSpec = {
  name: 'day-of-week',
  min: 0,
  max: 7,
  names: Object.fromEntries(DAY_NAMES.map((name, index) => [name, index])),
  question: true,
};

const NICKNAMES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const NICKNAME_LIST = Object.keys(NICKNAMES).join(', ');

// 8 years, not 5: `0 0 29 2 *` fired on 2096-02-29 next fires on 2104-02-29 (2100 is not a leap year).
const SEARCH_YEARS = 8;
const MIN_YEAR = 1;
const MAX_YEAR = 9999;
const DAY_MS = 86_400_000;
const MIN_INSTANT = daysFromCivil(MIN_YEAR, 1, 2) * DAY_MS;
const MAX_INSTANT = daysFromCivil(MAX_YEAR, 12, 31) * DAY_MS;

function cronError(cron: string, reason: string): SluiceError {
  return new SluiceError('SLU_FLOW_INVALID_CRON', { cron, reason });
}

/** One parsed field: `allowed[v]` for every value, `star` when written exactly `*` or `?`. */
interface Field {
  readonly allowed: readonly boolean[];
  readonly star: boolean;
}

class FieldParser {
  constructor(
    private readonly spec: FieldSpec,
    private readonly fail: (reason: string) => SluiceError,
  ) {}

  parse(text: string): Field {
    const { spec } = this;
    const allowed = new Array<boolean>(spec.max + 1).fill(false);
    if (text === '*' || (text === '?' && spec.question)) {
      for (let value = spec.min; value <= spec.max; value++) allowed[value] = true;
      return { allowed, star: true };
    }
    if (text.includes('?')) {
      throw this.error(spec.question ? `'?' must stand alone` : `'?' is only allowed in day-of-month and day-of-week`);
    }
    if (text.includes('#')) throw this.error(`'#' is not supported`);
    for (const item of text.split(',')) {
      if (item === '') throw this.error(`empty element in list '${text}'`);
      const [low, high, step] = this.parseItem(item);
      for (let value = low; value <= high; value += step) allowed[value] = true;
    }
    return { allowed, star: false };
  }

  private error(problem: string): SluiceError {
    return this.fail(`${this.spec.name}: ${problem}`);
  }

  /** `[low, high, step]` of one list element: `5`, `1-5`, `*\/15`, `10-50/5`, `5/15` or names. */
  private parseItem(item: string): [number, number, number] {
    const { spec } = this;
    const slash = item.split('/');
    if (slash.length > 2) throw this.error(`invalid step '${item}'`);
    const [base = '', stepText] = slash;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) throw this.error(`invalid step '${item}'`);
      step = Number(stepText);
      const span = spec.max - spec.min + 1;
      if (step > span) throw this.error(`step ${stepText} in '${item}' is larger than the range ${spec.min}-${spec.max}`);
    }
    if (base === '*') return [spec.min, spec.max, step];
    const dash = base.split('-');
    if (dash.length > 2 || dash.some((part) => part === '')) throw this.error(`invalid range '${base}'`);
    const low = this.parseValue(dash[0] ?? '');
    if (dash.length === 1) return [low, stepText === undefined ? low : spec.max, step];
    let high = this.parseValue(dash[1] ?? '');
    // SAT-SUN and 5-0 mean "to the end of the week": Sunday is also 7.
    if (spec === DAY_OF_WEEK && high === 0 && low > 0) high = 7;
    if (low > high) throw this.error(`range '${base}' is reversed: the start must not exceed the end`);
    return [low, high, step];
  }

  private parseValue(token: string): number {
    const { spec } = this;
    if (/^\d+$/.test(token)) {
      const value = Number(token);
      if (value < spec.min || value > spec.max) throw this.error(`${token} is out of range ${spec.min}-${spec.max}`);
      return value;
    }
    const named = spec.names?.[token.toUpperCase()];
    if (named !== undefined) return named;
    if (/^(\d*L|LW)$/i.test(token)) throw this.error(`'L' is not supported`);
    if (/^\d*W$/i.test(token)) throw this.error(`'W' is not supported`);
    const names = spec.names ? Object.keys(spec.names) : [];
    const expected = names.length > 0 ? ` or ${names[0]}-${names[names.length - 1]}` : '';
    throw this.error(`invalid value '${token}' (expected ${spec.min}-${spec.max}${expected})`);
  }
}

/** `table[v]` = the smallest allowed value ≥ v (or -1), for v in 0..max+1. */
function nextTable(allowed: readonly boolean[]): Int8Array {
  const table = new Int8Array(allowed.length + 1).fill(-1);
  for (let value = allowed.length - 1; value >= 0; value--) {
    table[value] = allowed[value] ? value : (table[value + 1] ?? -1);
  }
  return table;
}

/** `table[v]` = the largest allowed value ≤ v (or -1), for v in 0..max. */
function previousTable(allowed: readonly boolean[]): Int8Array {
  const table = new Int8Array(allowed.length).fill(-1);
  for (let value = 0; value < allowed.length; value++) {
    table[value] = allowed[value] ? value : value > 0 ? (table[value - 1] ?? -1) : -1;
  }
  return table;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function weekday(year: number, month: number, day: number): number {
  return (((daysFromCivil(year, month, day) + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

/** Wall-clock calendar fields, mutated while searching. */
interface Cursor {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function cursorAt(wall: number): Cursor {
  const days = Math.floor(wall / DAY_MS);
  const secondOfDay = Math.floor((wall - days * DAY_MS) / 1000);
  const { year, month, day } = civilFromDays(days);
  return {
    year,
    month,
    day,
    hour: Math.floor(secondOfDay / 3600),
    minute: Math.floor(secondOfDay / 60) % 60,
    second: secondOfDay % 60,
  };
}

class Schedule implements CronSchedule {
  private readonly nextSecond: Int8Array;
  private readonly nextMinute: Int8Array;
  private readonly nextHour: Int8Array;
  private readonly nextMonth: Int8Array;
  private readonly previousSecond: Int8Array;
  private readonly previousMinute: Int8Array;
  private readonly previousHour: Int8Array;
  private readonly previousMonth: Int8Array;
  private readonly daysOfMonth: readonly boolean[];
  private readonly daysOfWeek: readonly boolean[];
  private readonly dayMode: 'any' | 'dom' | 'dow' | 'either';

  constructor(
    readonly expression: string,
    readonly withSeconds: boolean,
    fields: { second: Field; minute: Field; hour: Field; dayOfMonth: Field; month: Field; dayOfWeek: Field },
  ) {
    this.nextSecond = nextTable(fields.second.allowed);
    this.nextMinute = nextTable(fields.minute.allowed);
    this.nextHour = nextTable(fields.hour.allowed);
    this.nextMonth = nextTable(fields.month.allowed);
    this.previousSecond = previousTable(fields.second.allowed);
    this.previousMinute = previousTable(fields.minute.allowed);
    this.previousHour = previousTable(fields.hour.allowed);
    this.previousMonth = previousTable(fields.month.allowed);
    this.daysOfMonth = fields.dayOfMonth.allowed;
    const daysOfWeek = [...fields.dayOfWeek.allowed];
    daysOfWeek[0] = daysOfWeek[0] === true || daysOfWeek[7] === true;
    this.daysOfWeek = daysOfWeek.slice(0, 7);
    const { star: domStar } = fields.dayOfMonth;
    const { star: dowStar } = fields.dayOfWeek;
    this.dayMode = domStar && dowStar ? 'any' : dowStar ? 'dom' : domStar ? 'dow' : 'either';
  }

  toString(): string {
    return this.expression;
  }

  next(after: Date, timeZone = 'UTC'): Date {
    const instant = this.instantOf(after, 'after');
    const offset = offsetFunction(timeZone);
    let from = instant + offset(instant);
    for (;;) {
      const wall = this.nextWall(from);
      const fire = resolveWall(wall, offset);
      // Only false for the repeated hour after a fall back: that wall time already fired at its first occurrence.
      if (fire > instant) return new Date(fire);
      from = wall;
    }
  }

  previous(before: Date, timeZone = 'UTC'): Date {
    const instant = this.instantOf(before, 'before');
    const offset = offsetFunction(timeZone);
    const now = offset(instant);
    let to = instant + now;
    // In the repeated hour after a fall back, wall times later than ours first occurred before us: start the
    // search from our wall time under the earlier, larger offset.
    const earlier = offset(instant - 3 * 3_600_000);
    if (earlier > now && offset(instant - (earlier - now)) === earlier) to = instant + earlier;
    for (;;) {
      const wall = this.previousWall(to);
      const fire = resolveWall(wall, offset);
      if (fire < instant) return new Date(fire);
      to = wall;
    }
  }

  matches(date: Date, timeZone = 'UTC'): boolean {
    const instant = this.instantOf(date, 'date');
    return this.next(new Date(instant - 1), timeZone).getTime() === instant;
  }

  private instantOf(date: Date, name: string): number {
    const instant = date instanceof Date ? date.getTime() : Number.NaN;
    if (!(instant >= MIN_INSTANT && instant <= MAX_INSTANT)) {
      throw cronError(this.expression, `${name} must be a valid date between years ${MIN_YEAR} and ${MAX_YEAR}`);
    }
    return instant;
  }

  private dayMatches(year: number, month: number, day: number): boolean {
    const { dayMode } = this;
    if (dayMode === 'any') return true;
    if (dayMode === 'dom') return this.daysOfMonth[day] === true;
    const dow = this.daysOfWeek[weekday(year, month, day)] === true;
    return dayMode === 'dow' ? dow : dow || this.daysOfMonth[day] === true;
  }

  /** The smallest matching wall time strictly after `from` (a wall time, possibly with milliseconds). */
  private nextWall(from: number): number {
    const c = cursorAt(Math.floor(from / 1000) * 1000 + 1000);
    const lastYear = Math.min(c.year + SEARCH_YEARS, MAX_YEAR);
    const startOfDay = (): void => {
      c.hour = 0;
      c.minute = 0;
      c.second = 0;
    };
    while (c.year <= lastYear) {
      if (c.month > 12) {
        c.year += 1;
        c.month = 1;
        c.day = 1;
        continue;
      }
      const month = this.nextMonth[c.month] ?? -1;
      if (month === -1) {
        c.month = 13;
        startOfDay();
        continue;
      }
      if (month !== c.month) {
        c.month = month;
        c.day = 1;
        startOfDay();
      }
      const lastDay = daysInMonth(c.year, c.month);
      while (c.day <= lastDay && !this.dayMatches(c.year, c.month, c.day)) {
        c.day += 1;
        startOfDay();
      }
      if (c.day > lastDay) {
        c.month += 1;
        c.day = 1;
        startOfDay();
        continue;
      }
      const hour = this.nextHour[c.hour] ?? -1;
      if (hour === -1) {
        c.day += 1;
        startOfDay();
        continue;
      }
      if (hour !== c.hour) {
        c.hour = hour;
        c.minute = 0;
        c.second = 0;
      }
      const minute = this.nextMinute[c.minute] ?? -1;
      if (minute === -1) {
        c.hour += 1;
        c.minute = 0;
        c.second = 0;
        continue;
      }
      if (minute !== c.minute) {
        c.minute = minute;
        c.second = 0;
      }
      const second = this.nextSecond[c.second] ?? -1;
      if (second === -1) {
        c.minute += 1;
        c.second = 0;
        continue;
      }
      return wallTime(c.year, c.month, c.day, c.hour, c.minute, second);
    }
    throw cronError(this.expression, 'never fires');
  }

  /** The largest matching wall time strictly before `to` (a wall time, possibly with milliseconds). */
  private previousWall(to: number): number {
    const c = cursorAt(Math.ceil(to / 1000) * 1000 - 1000);
    const firstYear = Math.max(c.year - SEARCH_YEARS, MIN_YEAR);
    const endOfDay = (): void => {
      c.hour = 23;
      c.minute = 59;
      c.second = 59;
    };
    while (c.year >= firstYear) {
      if (c.month < 1) {
        c.year -= 1;
        c.month = 12;
        c.day = 31;
        continue;
      }
      const month = this.previousMonth[c.month] ?? -1;
      if (month === -1) {
        c.month = 0;
        endOfDay();
        continue;
      }
      if (month !== c.month) {
        c.month = month;
        c.day = 31;
        endOfDay();
      }
      c.day = Math.min(c.day, daysInMonth(c.year, c.month));
      while (c.day >= 1 && !this.dayMatches(c.year, c.month, c.day)) {
        c.day -= 1;
        endOfDay();
      }
      if (c.day < 1) {
        c.month -= 1;
        c.day = 31;
        endOfDay();
        continue;
      }
      const hour = c.hour < 0 ? -1 : (this.previousHour[c.hour] ?? -1);
      if (hour === -1) {
        c.day -= 1;
        endOfDay();
        continue;
      }
      if (hour !== c.hour) {
        c.hour = hour;
        c.minute = 59;
        c.second = 59;
      }
      const minute = c.minute < 0 ? -1 : (this.previousMinute[c.minute] ?? -1);
      if (minute === -1) {
        c.hour -= 1;
        c.minute = 59;
        c.second = 59;
        continue;
      }
      if (minute !== c.minute) {
        c.minute = minute;
        c.second = 59;
      }
      const second = c.second < 0 ? -1 : (this.previousSecond[c.second] ?? -1);
      if (second === -1) {
        c.minute -= 1;
        c.second = 59;
        continue;
      }
      return wallTime(c.year, c.month, c.day, c.hour, c.minute, second);
    }
    throw cronError(this.expression, 'never fires');
  }
}

/**
 * The instant a wall time fires at: its only occurrence; its first occurrence when the clocks fall back; the first
 * instant after the gap when the clocks spring forward over it.
 */
function resolveWall(wall: number, offset: OffsetFunction): number {
  // Offsets a day either side bracket any single transition near `wall`.
  const offsetBefore = offset(wall - DAY_MS);
  const offsetAfter = offset(wall + DAY_MS);
  const early = wall - Math.max(offsetBefore, offsetAfter);
  const late = wall - Math.min(offsetBefore, offsetAfter);
  if (offset(early) === wall - early) return early;
  if (late !== early && offset(late) === wall - late) return late;
  // In a gap: the local time runs from below `wall` at `early` to above it at `late`. Find the transition.
  let low = early;
  let high = late;
  while (high - low > 1000) {
    const middle = low + Math.floor((high - low) / 2000) * 1000;
    if (middle + offset(middle) > wall) high = middle;
    else low = middle;
  }
  return high;
}

function parseFields(cron: string, text: string, withSeconds: boolean): Schedule {
  const fail = (reason: string): SluiceError => cronError(cron, reason);
  const parts = text.split(/\s+/);
  const expected = withSeconds ? 6 : 5;
  if (parts.length !== expected) {
    const names = withSeconds
      ? 'second minute hour day-of-month month day-of-week'
      : 'minute hour day-of-month month day-of-week';
    let hint = '';
    if (!withSeconds && parts.length === 6) hint = ' (a seconds field needs withSeconds: true)';
    if (withSeconds && parts.length === 5) hint = ' (withSeconds is set: add a leading seconds field)';
    throw fail(`expected ${expected} fields (${names}), got ${parts.length}${hint}`);
  }
  const [second, minute, hour, dayOfMonth, month, dayOfWeek] = withSeconds ? parts : ['0', ...parts];
  const fields = {
    second: new FieldParser(SECOND, fail).parse(second ?? ''),
    minute: new FieldParser(MINUTE, fail).parse(minute ?? ''),
    hour: new FieldParser(HOUR, fail).parse(hour ?? ''),
    dayOfMonth: new FieldParser(DAY_OF_MONTH, fail).parse(dayOfMonth ?? ''),
    month: new FieldParser(MONTH, fail).parse(month ?? ''),
    dayOfWeek: new FieldParser(DAY_OF_WEEK, fail).parse(dayOfWeek ?? ''),
  };
  // With day-of-week unrestricted only the day-of-month selects days: make sure one of them exists in one of the
  // months (February counts 29 days; leap years come round).
  if (fields.dayOfWeek.star && !fields.dayOfMonth.star) {
    const months: number[] = [];
    let possible = false;
    for (let m = 1; m <= 12; m++) {
      if (!fields.month.allowed[m]) continue;
      months.push(m);
      const longest = m === 2 ? 29 : daysInMonth(2001, m);
      for (let d = 1; d <= longest; d++) if (fields.dayOfMonth.allowed[d]) possible = true;
    }
    if (!possible) {
      const monthList = months.map((m) => MONTH_LONG_NAMES[m - 1]).join(' or ');
      throw fail(`never fires: day-of-month ${dayOfMonth} does not occur in ${monthList}`);
    }
  }
  return new Schedule(cron, withSeconds, fields);
}

/**
 * Parse a Kestra Schedule cron: 5 fields (`minute hour day-of-month month day-of-week`), 6 with a leading `second`
 * when `options.withSeconds` is set, or a nickname (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
 * `@midnight`, `@hourly`; any case).
 *
 * Fields take `*`, values, lists `1,2,5`, ranges `1-5`, steps `*\/15`, `10-50/5` and `5/15` (from 5 to the field's
 * end); months JAN-DEC and days SUN-SAT by name (any case); day-of-week 0-7 with 0 and 7 both Sunday; `?` as `*` in
 * the day fields. Quartz extras `L`, `W` and `#` are rejected.
 *
 * @throws SluiceError `SLU_FLOW_INVALID_CRON` with `{cron, reason}`; the reason names the field and the problem,
 *   e.g. `hour: 25 is out of range 0-23`. Impossible dates (`0 0 30 2 *`) are rejected as `never fires: ...`.
 */
export function parseCron(expression: string, options: CronOptions = {}): CronSchedule {
  if (typeof expression !== 'string') {
    throw cronError(String(expression), `must be a string, got ${expression === null ? 'null' : typeof expression}`);
  }
  const withSeconds = options.withSeconds === true;
  const text = expression.trim();
  if (text === '') throw cronError(expression, 'must not be empty');
  if (text.startsWith('@')) {
    const nickname = text.toLowerCase();
    const fields = NICKNAMES[nickname];
    if (fields === undefined) {
      if (nickname === '@reboot') {
        throw cronError(expression, `@reboot is not valid for a schedule: use a cron expression or one of ${NICKNAME_LIST}`);
      }
      throw cronError(expression, `unknown nickname '${text}': expected one of ${NICKNAME_LIST}`);
    }
    return parseFields(expression, withSeconds ? `0 ${fields}` : fields, withSeconds);
  }
  return parseFields(expression, text, withSeconds);
}

/** Whether {@link parseCron} accepts `expression` with these options. Never throws. */
export function isValidCron(expression: unknown, options: CronOptions = {}): boolean {
  if (typeof expression !== 'string') return false;
  try {
    parseCron(expression, options);
    return true;
  } catch {
    return false;
  }
}
