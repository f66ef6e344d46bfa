import { describe, expect, it } from 'vitest';
import { meetsScheduleConditions, offsetTimeSeconds, scheduleConditionName, scheduleConditionProblems } from './conditions.js';

const NEW = 'io.kestra.plugin.core.condition.';
const OLD = 'io.kestra.core.models.conditions.types.';
const at = (iso: string): Date => new Date(iso);

describe('schedule conditions', () => {
  it('know their types in both packages, with or without the Condition suffix', () => {
    expect(scheduleConditionName(`${NEW}DayWeekInMonth`)).toBe('DayWeekInMonth');
    expect(scheduleConditionName(`${OLD}DayWeekInMonthCondition`)).toBe('DayWeekInMonth');
    expect(scheduleConditionName(`${NEW}WeekendCondition`)).toBe('Weekend');
    expect(scheduleConditionName(`${NEW}PublicHoliday`)).toBeUndefined();
    expect(scheduleConditionName('DayWeek')).toBeUndefined();
  });

  it('DayWeek and Weekend read the day in the trigger\'s time zone', () => {
    const sundayNightUtc = at('2026-01-04T23:30:00Z'); // Monday 08:30 in Tokyo
    const monday = [{ type: `${NEW}DayWeek`, dayOfWeek: 'MONDAY' }];
    expect(meetsScheduleConditions(monday, sundayNightUtc)).toBe(false);
    expect(meetsScheduleConditions(monday, sundayNightUtc, 'Asia/Tokyo')).toBe(true);
    expect(meetsScheduleConditions([{ type: `${NEW}Weekend` }], sundayNightUtc)).toBe(true);
    expect(meetsScheduleConditions([{ type: `${NEW}Weekend` }], sundayNightUtc, 'Asia/Tokyo')).toBe(false);
  });

  it('DayWeekInMonth: FIRST to FOURTH, and LAST', () => {
    const on = (iso: string, dayInMonth: string, dayOfWeek = 'MONDAY'): boolean =>
      meetsScheduleConditions([{ type: `${OLD}DayWeekInMonthCondition`, date: '{{ trigger.date }}', dayOfWeek, dayInMonth }], at(iso));
    // January 2026: Mondays on the 5th, 12th, 19th, 26th; Fridays up to the 30th.
    expect(on('2026-01-05T09:00:00Z', 'FIRST')).toBe(true);
    expect(on('2026-01-12T09:00:00Z', 'FIRST')).toBe(false);
    expect(on('2026-01-12T09:00:00Z', 'SECOND')).toBe(true);
    expect(on('2026-01-26T09:00:00Z', 'FOURTH')).toBe(true);
    expect(on('2026-01-26T09:00:00Z', 'LAST')).toBe(true);
    expect(on('2026-01-19T09:00:00Z', 'LAST')).toBe(false);
    expect(on('2026-01-30T09:00:00Z', 'LAST', 'FRIDAY')).toBe(true);
    expect(on('2026-01-06T09:00:00Z', 'FIRST')).toBe(false); // a Tuesday
  });

  it('DateTimeBetween (both bounds exclusive), a fixed date, Not and Or', () => {
    const between = { type: `${NEW}DateTimeBetween`, after: '2026-01-01T00:00:00Z', before: '2026-02-01T00:00:00Z' };
    expect(meetsScheduleConditions([between], at('2026-01-15T00:00:00Z'))).toBe(true);
    expect(meetsScheduleConditions([between], at('2026-02-01T00:00:00Z'))).toBe(false);
    expect(meetsScheduleConditions([between], at('2026-01-01T00:00:00Z'))).toBe(false);
    expect(meetsScheduleConditions([{ ...between, date: '2026-01-20T00:00:00Z' }], at('2030-01-01T00:00:00Z'))).toBe(true);
    const notWeekend = { type: `${NEW}Not`, conditions: [{ type: `${NEW}Weekend` }] };
    expect(meetsScheduleConditions([notWeekend], at('2026-01-03T09:00:00Z'))).toBe(false); // a Saturday
    expect(meetsScheduleConditions([notWeekend], at('2026-01-05T09:00:00Z'))).toBe(true);
    const mondayOrFriday = { type: `${NEW}Or`, conditions: [{ type: `${NEW}DayWeek`, dayOfWeek: 'MONDAY' }, { type: `${NEW}DayWeek`, dayOfWeek: 'FRIDAY' }] };
    expect(meetsScheduleConditions([mondayOrFriday], at('2026-01-09T09:00:00Z'))).toBe(true);
    expect(meetsScheduleConditions([mondayOrFriday], at('2026-01-08T09:00:00Z'))).toBe(false);
    // Every condition must hold.
    expect(meetsScheduleConditions([mondayOrFriday, between], at('2026-02-06T09:00:00Z'))).toBe(false);
    expect(meetsScheduleConditions(undefined, at('2026-02-06T09:00:00Z'))).toBe(true);
  });

  it("TimeBetween compares times as java.time's OffsetTime does: the tick in the trigger's zone, bounds exclusive", () => {
    const evening = [{ type: `${NEW}TimeBetween`, after: '16:00:00+02:00', before: '20:00:00+02:00' }];
    expect(meetsScheduleConditions(evening, at('2026-07-01T15:00:00Z'), 'Europe/Paris')).toBe(true); // 17:00+02:00
    expect(meetsScheduleConditions(evening, at('2026-07-01T18:30:00Z'), 'Europe/Paris')).toBe(false); // 20:30+02:00
    expect(meetsScheduleConditions(evening, at('2026-07-01T14:00:00Z'), 'Europe/Paris')).toBe(false); // 16:00: exclusive
    // The same instants compare alike in any zone: 15:30Z is 16:30+01:00 in Paris in winter, after 16:00+02:00.
    expect(meetsScheduleConditions(evening, at('2026-01-15T15:30:00Z'), 'Europe/Paris')).toBe(true);
    expect(meetsScheduleConditions(evening, at('2026-01-15T15:30:00Z'))).toBe(true);
    const morning = [{ type: `${OLD}TimeBetweenCondition`, before: '09:00Z' }];
    expect(meetsScheduleConditions(morning, at('2026-03-02T08:59:00Z'))).toBe(true);
    expect(meetsScheduleConditions(morning, at('2026-03-02T09:00:00.500Z'))).toBe(false);
    // As in Kestra, a time whose offset moves it across midnight compares below 00:00: 08:30+09:00 is -00:30.
    expect(meetsScheduleConditions([{ type: `${NEW}TimeBetween`, after: '00:00Z' }], at('2026-01-04T23:30:00Z'), 'Asia/Tokyo')).toBe(false);
    expect(meetsScheduleConditions([{ type: `${NEW}TimeBetween`, before: '00:00Z' }], at('2026-01-04T23:30:00Z'), 'Asia/Tokyo')).toBe(true);
    // A fixed date-time keeps its own offset.
    const fixed = [{ type: `${NEW}TimeBetween`, date: '2026-01-01T10:00:00+05:00', after: '09:00:00+05:00', before: '11:00+05:00' }];
    expect(meetsScheduleConditions(fixed, at('2030-01-01T23:00:00Z'))).toBe(true);
    expect(offsetTimeSeconds('16:00:00+02:00')).toBe(14 * 3600);
    expect(offsetTimeSeconds('16:00')).toBeUndefined();
  });

  it('name each problem with its path', () => {
    expect(scheduleConditionProblems({ type: `${NEW}PublicHoliday` }, ['conditions', 0])).toEqual([
      [['conditions', 0, 'type'], expect.stringContaining('condition type "io.kestra.plugin.core.condition.PublicHoliday" is not supported on a Schedule trigger yet')],
    ]);
    expect(scheduleConditionProblems({ type: `${NEW}DayWeekInMonth`, dayOfWeek: 'MON', dayInMonth: 'FIFTH', date: '{{ now() }}' })).toEqual([
      [['date'], 'only {{ trigger.date }} (the default) or a fixed date-time is supported'],
      [['dayOfWeek'], 'must be one of SUNDAY, MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, got "MON"'],
      [['dayInMonth'], 'must be one of FIRST, SECOND, THIRD, FOURTH, LAST, got "FIFTH"'],
    ]);
    expect(scheduleConditionProblems({ type: `${NEW}Not`, conditions: [{ type: `${NEW}DateTimeBetween`, after: 'soon' }] })).toEqual([
      [['conditions', 0, 'after'], 'must be a date-time such as 2024-01-01T00:00:00Z, got "soon"'],
    ]);
    expect(scheduleConditionProblems({ type: `${NEW}Or`, conditions: [] })).toEqual([[['conditions'], 'must be a non-empty list of conditions']]);
    expect(scheduleConditionProblems({ type: `${NEW}TimeBetween` }, ['conditions', 1])).toEqual([[['conditions', 1], 'needs `after`, `before` or both']]);
    expect(scheduleConditionProblems({ type: `${NEW}TimeBetween`, after: '16:00', before: '25:00+01:00' })).toEqual([
      [['after'], 'must be a time with its offset such as 16:00:00+02:00 or 08:30Z, got "16:00"'],
      [['before'], 'must be a time with its offset such as 16:00:00+02:00 or 08:30Z, got "25:00+01:00"'],
    ]);
    expect(scheduleConditionProblems({ type: `${NEW}DayWeek`, dayOfWeek: 'FRIDAY', date: '{{trigger.date}}' })).toEqual([]);
  });
});
