/**
 * Kestra's schedule conditions, on the ticks of a Schedule trigger: a tick starts an execution only when every one of
 * the trigger's `conditions` holds for it; otherwise the trigger moves on to its next tick, as Kestra does.
 *
 * Supported (`io.kestra.plugin.core.condition.<Name>`, or the older `io.kestra.core.models.conditions.types.<Name>
 * Condition`): `DayWeek` (`dayOfWeek`), `DayWeekInMonth` (`dayOfWeek`, `dayInMonth`: FIRST, SECOND, THIRD, FOURTH,
 * LAST), `Weekend`, `DateTimeBetween` (`after`, `before`: date-times, both exclusive), `TimeBetween` (`after`,
 * `before`: times with an offset such as `16:00:00+02:00`, both exclusive), `Not` and `Or` (`conditions`).
 * Each tests its `date`, which may only be the tick (`{{ trigger.date }}`, the default) or a fixed date-time. Days are
 * those of the trigger's time zone, where Kestra's `trigger.date` is zoned.
 */

import { offsetFunction } from './timezone.js';

export const SCHEDULE_CONDITIONS = ['DayWeek', 'DayWeekInMonth', 'Weekend', 'DateTimeBetween', 'TimeBetween', 'Not', 'Or'] as const;
export type ScheduleConditionName = (typeof SCHEDULE_CONDITIONS)[number];

export const DAYS_OF_WEEK = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'] as const;
export const DAYS_IN_MONTH = ['FIRST', 'SECOND', 'THIRD', 'FOURTH', 'LAST'] as const;

const PREFIXES = ['io.kestra.plugin.core.condition.', 'io.kestra.core.models.conditions.types.'];

/** The supported condition a `type` names (either package, with or without the `Condition` suffix), if any. */
export function scheduleConditionName(type: unknown): ScheduleConditionName | undefined {
  if (typeof type !== 'string') return undefined;
  const prefix = PREFIXES.find((p) => type.toLowerCase().startsWith(p));
  if (!prefix) return undefined;
  const name = type.slice(prefix.length).replace(/Condition$/i, '').toLowerCase();
  return SCHEDULE_CONDITIONS.find((n) => n.toLowerCase() === name);
}

/** An ISO-8601 time with its offset (Java's OffsetTime): `HH:MM[:SS[.fraction]]` then `Z` or `±HH:MM`. */
const OFFSET_TIME = /^(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Seconds of an offset `Z` or `±HH:MM`, or undefined when it is not one (over 18 hours, as java.time refuses). */
function offsetSeconds(text: string): number | undefined {
  if (text === 'Z') return 0;
  const match = /^([+-])(\d{2}):(\d{2})$/.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[2]) * 3600 + Number(match[3]) * 60;
  if (Number(match[3]) > 59 || seconds > 18 * 3600) return undefined;
  return match[1] === '-' ? -seconds : seconds;
}

/**
 * An OffsetTime as java.time compares two of them (`isAfter`, `isBefore`): its time of day minus its offset, in
 * seconds (so below 0 or past a day when the offset crosses midnight). Undefined when `text` is not one.
 */
export function offsetTimeSeconds(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = OFFSET_TIME.exec(text);
  if (!match) return undefined;
  const [hours, minutes, seconds] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
  const offset = offsetSeconds(match[5] ?? '');
  if (hours > 23 || minutes > 59 || seconds > 59 || offset === undefined) return undefined;
  return hours * 3600 + minutes * 60 + seconds + Number(match[4] ?? 0) - offset;
}

/** `{{ trigger.date }}`, however spaced: the tick itself. */
export function isTickExpression(value: unknown): boolean {
  return typeof value === 'string' && /^\{\{\s*trigger\.date\s*\}\}$/.test(value.trim());
}

/** Problems of one condition (and of those it nests), as `[path, message]` pairs; empty when it can be evaluated. */
export function scheduleConditionProblems(condition: unknown, path: (string | number)[] = []): [(string | number)[], string][] {
  if (typeof condition !== 'object' || condition === null) return [[path, 'must be a condition (a mapping with a type)']];
  const c = condition as Record<string, unknown>;
  const name = scheduleConditionName(c.type);
  if (!name) {
    return [[[...path, 'type'], `condition type ${JSON.stringify(c.type)} is not supported on a Schedule trigger yet (supported: ${SCHEDULE_CONDITIONS.join(', ')})`]];
  }
  const problems: [(string | number)[], string][] = [];
  const dateTime = (key: string): void => {
    const value = c[key];
    if (value === undefined) return;
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) problems.push([[...path, key], `must be a date-time such as 2024-01-01T00:00:00Z, got ${JSON.stringify(value)}`]);
  };
  if (name === 'Not' || name === 'Or') {
    if (!Array.isArray(c.conditions) || c.conditions.length === 0) return [[[...path, 'conditions'], 'must be a non-empty list of conditions']];
    c.conditions.forEach((nested, i) => problems.push(...scheduleConditionProblems(nested, [...path, 'conditions', i])));
    return problems;
  }
  if (c.date !== undefined && !isTickExpression(c.date)) {
    if (typeof c.date === 'string' && c.date.includes('{{')) problems.push([[...path, 'date'], 'only {{ trigger.date }} (the default) or a fixed date-time is supported']);
    else dateTime('date');
  }
  if (name === 'DayWeek' || name === 'DayWeekInMonth') {
    if (!DAYS_OF_WEEK.includes(c.dayOfWeek as never)) problems.push([[...path, 'dayOfWeek'], `must be one of ${DAYS_OF_WEEK.join(', ')}, got ${JSON.stringify(c.dayOfWeek)}`]);
  }
  if (name === 'DayWeekInMonth' && !DAYS_IN_MONTH.includes(c.dayInMonth as never)) {
    problems.push([[...path, 'dayInMonth'], `must be one of ${DAYS_IN_MONTH.join(', ')}, got ${JSON.stringify(c.dayInMonth)}`]);
  }
  if (name === 'DateTimeBetween') {
    dateTime('after');
    dateTime('before');
  }
  if (name === 'TimeBetween') {
    if (c.after === undefined && c.before === undefined) problems.push([path, 'needs `after`, `before` or both']);
    for (const key of ['after', 'before']) {
      if (c[key] !== undefined && offsetTimeSeconds(c[key]) === undefined) {
        problems.push([[...path, key], `must be a time with its offset such as 16:00:00+02:00 or 08:30Z, got ${JSON.stringify(c[key])}`]);
      }
    }
  }
  return problems;
}

/** Weekday (0 = Sunday), day of the month and the month's length of an instant, in a time zone. */
function calendarDay(at: Date, timeZone: string): { weekday: number; day: number; daysInMonth: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', weekday: 'short' }).formatToParts(at);
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const year = Number(part('year'));
  const month = Number(part('month'));
  return {
    weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(part('weekday')),
    day: Number(part('day')),
    daysInMonth: new Date(Date.UTC(year, month, 0)).getUTCDate(),
  };
}

/**
 * A date's time of day as java.time's OffsetTime compares it ({@link offsetTimeSeconds}): for the tick, its time in
 * the trigger's time zone with that zone's offset then (Kestra zones `trigger.date`); for a fixed date-time, the
 * time and offset written in it.
 */
function timeOfDaySeconds(date: Date, timeZone: string, written?: string): number {
  const fixed = written === undefined ? undefined : /T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:\d{2})$/i.exec(written);
  const fromText = fixed ? offsetTimeSeconds(`${fixed[1]}${(fixed[2] ?? '').toUpperCase()}`) : undefined;
  if (fromText !== undefined) return fromText;
  const offset = offsetFunction(timeZone)(date.getTime());
  const day = 86_400_000;
  const localMs = (((date.getTime() + offset) % day) + day) % day;
  return (localMs - offset) / 1000;
}

/** Whether one condition (checked by {@link scheduleConditionProblems}) holds for a tick. */
function holds(condition: Record<string, unknown>, tick: Date, timeZone: string): boolean {
  const name = scheduleConditionName(condition.type);
  const date = condition.date === undefined || isTickExpression(condition.date) ? tick : new Date(String(condition.date));
  const nested = (): Record<string, unknown>[] => (Array.isArray(condition.conditions) ? (condition.conditions as Record<string, unknown>[]) : []);
  switch (name) {
    case 'DayWeek':
      return DAYS_OF_WEEK[calendarDay(date, timeZone).weekday] === condition.dayOfWeek;
    case 'DayWeekInMonth': {
      const { weekday, day, daysInMonth } = calendarDay(date, timeZone);
      if (DAYS_OF_WEEK[weekday] !== condition.dayOfWeek) return false;
      return condition.dayInMonth === 'LAST' ? day + 7 > daysInMonth : Math.ceil(day / 7) === DAYS_IN_MONTH.indexOf(condition.dayInMonth as never) + 1;
    }
    case 'Weekend': {
      const { weekday } = calendarDay(date, timeZone);
      return weekday === 0 || weekday === 6;
    }
    case 'DateTimeBetween': {
      const after = typeof condition.after === 'string' ? Date.parse(condition.after) : undefined;
      const before = typeof condition.before === 'string' ? Date.parse(condition.before) : undefined;
      return (after === undefined || date.getTime() > after) && (before === undefined || date.getTime() < before);
    }
    case 'TimeBetween': {
      const time = timeOfDaySeconds(date, timeZone, condition.date === undefined || isTickExpression(condition.date) ? undefined : String(condition.date));
      const after = offsetTimeSeconds(condition.after);
      const before = offsetTimeSeconds(condition.before);
      return (after === undefined || time > after) && (before === undefined || time < before);
    }
    case 'Not':
      return !nested().some((c) => holds(c, tick, timeZone));
    case 'Or':
      return nested().some((c) => holds(c, tick, timeZone));
    default:
      return false; // refused when the flow is saved
  }
}

/** Whether a tick meets every condition (none: it does). */
export function meetsScheduleConditions(conditions: unknown, tick: Date, timeZone = 'UTC'): boolean {
  if (!Array.isArray(conditions)) return true;
  return conditions.every((condition) => holds(condition as Record<string, unknown>, tick, timeZone));
}
