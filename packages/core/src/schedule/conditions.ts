/**
 * Kestra's schedule conditions, on the ticks of a Schedule trigger: a tick starts an execution only when every one of
 * the trigger's `conditions` holds for it; otherwise the trigger moves on to its next tick, as Kestra does.
 *
 * Supported (`io.kestra.plugin.core.condition.<Name>`, or the older `io.kestra.core.models.conditions.types.<Name>
 * Condition`): `DayWeek` (`dayOfWeek`), `DayWeekInMonth` (`dayOfWeek`, `dayInMonth`: FIRST, SECOND, THIRD, FOURTH,
 * LAST), `Weekend`, `DateTimeBetween` (`after`, `before`: date-times, both exclusive), `Not` and `Or` (`conditions`).
 * Each tests its `date`, which may only be the tick (`{{ trigger.date }}`, the default) or a fixed date-time. Days are
 * those of the trigger's time zone, where Kestra's `trigger.date` is zoned.
 */

export const SCHEDULE_CONDITIONS = ['DayWeek', 'DayWeekInMonth', 'Weekend', 'DateTimeBetween', 'Not', 'Or'] as const;
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
