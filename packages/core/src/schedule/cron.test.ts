import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors.js';
import { isValidCron, parseCron, type CronOptions } from './cron.js';

function failure(run: () => unknown): SluiceError {
  try {
    run();
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected a SluiceError');
}

/** The next `count` fire times after `start`, as ISO strings. */
function fires(expression: string, start: string, count: number, timeZone?: string, options?: CronOptions): string[] {
  const schedule = parseCron(expression, options);
  const result: string[] = [];
  let at = new Date(start);
  for (let i = 0; i < count; i++) {
    at = schedule.next(at, timeZone);
    result.push(at.toISOString());
  }
  return result;
}

/** The previous `count` fire times before `start`, latest first. */
function previousFires(expression: string, start: string, count: number, timeZone?: string, options?: CronOptions): string[] {
  const schedule = parseCron(expression, options);
  const result: string[] = [];
  let at = new Date(start);
  for (let i = 0; i < count; i++) {
    at = schedule.previous(at, timeZone);
    result.push(at.toISOString());
  }
  return result;
}

describe('parseCron: accepted expressions', () => {
  it.each([
    ['* * * * *'],
    ['0 0 * * *'],
    ['*/15 * * * *'],
    ['0 9-17 * * MON-FRI'],
    ['0 9-17 * * mon-fri'],
    ['5,10,15 1-3 1,15 JAN,jul,Dec SUN'],
    ['10-50/5 */2 1-31/10 */3 1-5/2'],
    ['5/15 5/6 5/7 5/4 1/3'],
    ['0 0 ? * MON'],
    ['0 0 1 * ?'],
    ['0 0 * * 7'],
    ['0 0 * * 0-7'],
    ['0 0 * * SAT-SUN'],
    ['0 0 * * 5-0'],
    ['00 07 01 01 *'],
    ['  0   0\t* *  *  '],
    ['*/60 */24 */31 */12 */8'],
    ['0 0 29 2 *'],
    ['0 0 31 1-12 *'],
    ['0 0 30 2 MON'],
    ['@yearly'],
    ['@annually'],
    ['@monthly'],
    ['@weekly'],
    ['@daily'],
    ['@midnight'],
    ['@hourly'],
    ['@DAILY'],
  ])('%j', (expression) => {
    const schedule = parseCron(expression);
    expect(schedule.expression).toBe(expression);
    expect(schedule.withSeconds).toBe(false);
    expect(String(schedule)).toBe(expression);
    expect(isValidCron(expression)).toBe(true);
  });

  it.each([['0 * * * * *'], ['*/10 0 9 * * MON-FRI'], ['30 5/15 * * * ?'], ['@daily'], ['@hourly']])(
    'with seconds: %j',
    (expression) => {
      expect(parseCron(expression, { withSeconds: true }).withSeconds).toBe(true);
      expect(isValidCron(expression, { withSeconds: true })).toBe(true);
    },
  );
});

describe('parseCron: rejected expressions', () => {
  const FIVE = 'expected 5 fields (minute hour day-of-month month day-of-week)';
  const SIX = 'expected 6 fields (second minute hour day-of-month month day-of-week)';
  const NICKS = '@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly';
  it.each<[string, string, CronOptions?]>([
    ['', 'must not be empty'],
    ['   ', 'must not be empty'],
    ['* * * *', `${FIVE}, got 4`],
    ['*', `${FIVE}, got 1`],
    ['* * * * * * *', `${FIVE}, got 7`],
    ['0 * * * * *', `${FIVE}, got 6 (a seconds field needs withSeconds: true)`],
    ['* * * * *', `${SIX}, got 5 (withSeconds is set: add a leading seconds field)`, { withSeconds: true }],
    ['* * * *', `${SIX}, got 4`, { withSeconds: true }],
    ['0 25 * * *', 'hour: 25 is out of range 0-23'],
    ['60 * * * *', 'minute: 60 is out of range 0-59'],
    ['0 0 0 * *', 'day-of-month: 0 is out of range 1-31'],
    ['0 0 32 * *', 'day-of-month: 32 is out of range 1-31'],
    ['0 0 * 13 *', 'month: 13 is out of range 1-12'],
    ['0 0 * 0 *', 'month: 0 is out of range 1-12'],
    ['0 0 * * 8', 'day-of-week: 8 is out of range 0-7'],
    ['60 0 * * * *', 'second: 60 is out of range 0-59', { withSeconds: true }],
    ['*/0 * * * *', "minute: invalid step '*/0'"],
    ['*/x * * * *', "minute: invalid step '*/x'"],
    ['*/ * * * *', "minute: invalid step '*/'"],
    ['1/2/3 * * * *', "minute: invalid step '1/2/3'"],
    ['*/61 * * * *', "minute: step 61 in '*/61' is larger than the range 0-59"],
    ['0 */25 * * *', "hour: step 25 in '*/25' is larger than the range 0-23"],
    ['50-10 * * * *', "minute: range '50-10' is reversed: the start must not exceed the end"],
    ['0 0 * DEC-JAN *', "month: range 'DEC-JAN' is reversed: the start must not exceed the end"],
    ['0 0 * * 1-2-3', "day-of-week: invalid range '1-2-3'"],
    ['0 0 * * -1', "day-of-week: invalid range '-1'"],
    ['0 0 * * 1-', "day-of-week: invalid range '1-'"],
    ['1,,2 * * * *', "minute: empty element in list '1,,2'"],
    ['1, * * * *', "minute: empty element in list '1,'"],
    ['x * * * *', "minute: invalid value 'x' (expected 0-59)"],
    ['0 0 * FOO *', "month: invalid value 'FOO' (expected 1-12 or JAN-DEC)"],
    ['0 0 * * MONDAY', "day-of-week: invalid value 'MONDAY' (expected 0-7 or SUN-SAT)"],
    ['0 0 * MON *', "month: invalid value 'MON' (expected 1-12 or JAN-DEC)"],
    ['0 0 * * JAN', "day-of-week: invalid value 'JAN' (expected 0-7 or SUN-SAT)"],
    ['H * * * *', "minute: invalid value 'H' (expected 0-59)"],
    ['0 0 L * *', "day-of-month: 'L' is not supported"],
    ['0 0 L-3 * *', "day-of-month: 'L' is not supported"],
    ['0 0 LW * *', "day-of-month: 'L' is not supported"],
    ['0 0 15W * *', "day-of-month: 'W' is not supported"],
    ['0 0 W * *', "day-of-month: 'W' is not supported"],
    ['0 0 * * 5L', "day-of-week: 'L' is not supported"],
    ['0 0 * * MON#2', "day-of-week: '#' is not supported"],
    ['0 0 * * 1#3', "day-of-week: '#' is not supported"],
    ['? * * * *', "minute: '?' is only allowed in day-of-month and day-of-week"],
    ['0 0 * ? *', "month: '?' is only allowed in day-of-month and day-of-week"],
    ['0 0 ?/2 * *', "day-of-month: '?' must stand alone"],
    ['0 0 1,? * *', "day-of-month: '?' must stand alone"],
    ['0 0 30 2 *', 'never fires: day-of-month 30 does not occur in February'],
    ['0 0 31 2 *', 'never fires: day-of-month 31 does not occur in February'],
    ['0 0 30,31 FEB ?', 'never fires: day-of-month 30,31 does not occur in February'],
    ['0 0 31 4,6,9,11 *', 'never fires: day-of-month 31 does not occur in April or June or September or November'],
    ['0 0 0 31 APR *', 'never fires: day-of-month 31 does not occur in April', { withSeconds: true }],
    ['@reboot', `@reboot is not valid for a schedule: use a cron expression or one of ${NICKS}`],
    ['@every 5m', `unknown nickname '@every 5m': expected one of ${NICKS}`],
    ['@weekdays', `unknown nickname '@weekdays': expected one of ${NICKS}`],
  ])('%j: %s', (expression, reason, options) => {
    const error = failure(() => parseCron(expression, options));
    expect(error.code).toBe('SLU_FLOW_INVALID_CRON');
    expect(error.params).toEqual({ cron: expression, reason });
    expect(error.message).toBe(`invalid cron expression "${expression}": ${reason}`);
    expect(isValidCron(expression, options)).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(failure(() => parseCron(5 as unknown as string)).params).toEqual({ cron: '5', reason: 'must be a string, got number' });
    expect(failure(() => parseCron(null as unknown as string)).params.reason).toBe('must be a string, got null');
    expect(isValidCron(undefined)).toBe(false);
    expect(isValidCron(['* * * * *'])).toBe(false);
  });
});

describe('next() in UTC', () => {
  it.each<[string, string, string[], CronOptions?]>([
    ['* * * * *', '2026-01-01T00:00:00Z', ['2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z']],
    ['* * * * *', '2026-01-01T00:00:59.999Z', ['2026-01-01T00:01:00.000Z']],
    ['0 0 * * *', '2026-01-31T23:59:59Z', ['2026-02-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z']],
    ['*/15 * * * *', '2026-05-05T10:07:00Z', ['2026-05-05T10:15:00.000Z', '2026-05-05T10:30:00.000Z', '2026-05-05T10:45:00.000Z', '2026-05-05T11:00:00.000Z']],
    ['10-50/20 * * * *', '2026-05-05T10:00:00Z', ['2026-05-05T10:10:00.000Z', '2026-05-05T10:30:00.000Z', '2026-05-05T10:50:00.000Z', '2026-05-05T11:10:00.000Z']],
    ['5/20 * * * *', '2026-05-05T10:00:00Z', ['2026-05-05T10:05:00.000Z', '2026-05-05T10:25:00.000Z', '2026-05-05T10:45:00.000Z', '2026-05-05T11:05:00.000Z']],
    ['0 */6 * * *', '2026-05-05T19:00:00Z', ['2026-05-06T00:00:00.000Z', '2026-05-06T06:00:00.000Z']],
    // month ends
    ['0 12 31 * *', '2026-01-31T12:00:00Z', ['2026-03-31T12:00:00.000Z', '2026-05-31T12:00:00.000Z', '2026-07-31T12:00:00.000Z', '2026-08-31T12:00:00.000Z']],
    ['0 0 30 * *', '2026-01-30T00:00:00Z', ['2026-03-30T00:00:00.000Z', '2026-04-30T00:00:00.000Z']],
    ['59 23 31 12 *', '2026-06-01T00:00:00Z', ['2026-12-31T23:59:00.000Z', '2027-12-31T23:59:00.000Z']],
    ['0 0 1 * *', '2026-12-15T00:00:00Z', ['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z']],
    // leap years
    ['0 0 29 2 *', '2026-01-01T00:00:00Z', ['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']],
    ['0 0 29 2 *', '2096-02-29T00:00:00Z', ['2104-02-29T00:00:00.000Z']],
    ['0 0 28-29 FEB *', '2027-02-28T00:00:00Z', ['2028-02-28T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2029-02-28T00:00:00.000Z']],
    // names
    ['0 9 * * MON-FRI', '2026-05-08T09:00:00Z', ['2026-05-11T09:00:00.000Z', '2026-05-12T09:00:00.000Z']], // Friday → Monday
    ['0 9 * * sat,SUN', '2026-05-04T00:00:00Z', ['2026-05-09T09:00:00.000Z', '2026-05-10T09:00:00.000Z', '2026-05-16T09:00:00.000Z']],
    ['0 9 * * SAT-SUN', '2026-05-04T00:00:00Z', ['2026-05-09T09:00:00.000Z', '2026-05-10T09:00:00.000Z', '2026-05-16T09:00:00.000Z']],
    ['0 9 * * 7', '2026-05-04T00:00:00Z', ['2026-05-10T09:00:00.000Z', '2026-05-17T09:00:00.000Z']],
    ['0 9 * * 0', '2026-05-04T00:00:00Z', ['2026-05-10T09:00:00.000Z', '2026-05-17T09:00:00.000Z']],
    ['0 0 1 jun-aug *', '2026-01-01T00:00:00Z', ['2026-06-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z', '2026-08-01T00:00:00.000Z', '2027-06-01T00:00:00.000Z']],
    ['0 0 ? * 1/3', '2026-05-04T00:00:00Z', ['2026-05-07T00:00:00.000Z', '2026-05-10T00:00:00.000Z', '2026-05-11T00:00:00.000Z']], // Mon, Thu, Sun(7)
    // nicknames
    ['@hourly', '2026-05-05T10:30:00Z', ['2026-05-05T11:00:00.000Z']],
    ['@daily', '2026-05-05T10:30:00Z', ['2026-05-06T00:00:00.000Z']],
    ['@midnight', '2026-05-05T10:30:00Z', ['2026-05-06T00:00:00.000Z']],
    ['@weekly', '2026-05-05T10:30:00Z', ['2026-05-10T00:00:00.000Z']],
    ['@monthly', '2026-05-05T10:30:00Z', ['2026-06-01T00:00:00.000Z']],
    ['@yearly', '2026-05-05T10:30:00Z', ['2027-01-01T00:00:00.000Z']],
    ['@annually', '2026-05-05T10:30:00Z', ['2027-01-01T00:00:00.000Z']],
    // seconds
    ['*/20 * * * * *', '2026-05-05T10:00:05.500Z', ['2026-05-05T10:00:20.000Z', '2026-05-05T10:00:40.000Z', '2026-05-05T10:01:00.000Z'], { withSeconds: true }],
    ['30 0 9 * * MON', '2026-05-04T09:00:30Z', ['2026-05-11T09:00:30.000Z'], { withSeconds: true }],
    ['0 0 * * * *', '2026-05-05T10:59:59.999Z', ['2026-05-05T11:00:00.000Z'], { withSeconds: true }],
    ['59 59 23 31 12 *', '2026-12-31T23:59:58Z', ['2026-12-31T23:59:59.000Z', '2027-12-31T23:59:59.000Z'], { withSeconds: true }],
    ['@hourly', '2026-05-05T10:30:00Z', ['2026-05-05T11:00:00.000Z'], { withSeconds: true }],
  ])('%j after %s', (expression, start, expected, options) => {
    expect(fires(expression, start, expected.length, undefined, options)).toEqual(expected);
  });

  it('is strictly after: a fire time is not its own next', () => {
    const schedule = parseCron('0 12 * * *');
    const noon = new Date('2026-05-05T12:00:00Z');
    expect(schedule.next(noon).toISOString()).toBe('2026-05-06T12:00:00.000Z');
    expect(schedule.next(new Date(noon.getTime() - 1)).toISOString()).toBe('2026-05-05T12:00:00.000Z');
  });

  it('ORs day-of-month and day-of-week when both are restricted (Vixie cron)', () => {
    // 1st and 15th of the month, or any Monday
    expect(fires('0 0 1,15 * MON', '2026-05-31T00:00:00Z', 5)).toEqual([
      '2026-06-01T00:00:00.000Z', // the 1st, also a Monday
      '2026-06-08T00:00:00.000Z', // Monday
      '2026-06-15T00:00:00.000Z', // the 15th, a Monday
      '2026-06-22T00:00:00.000Z', // Monday
      '2026-06-29T00:00:00.000Z', // Monday
    ]);
    expect(fires('0 0 13 * FRI', '2026-02-01T00:00:00Z', 4)).toEqual([
      '2026-02-06T00:00:00.000Z',
      '2026-02-13T00:00:00.000Z',
      '2026-02-20T00:00:00.000Z',
      '2026-02-27T00:00:00.000Z',
    ]);
    // a step is a restriction too: odd days, or Sundays
    expect(fires('0 0 */2 * SUN', '2026-05-01T00:00:00Z', 4)).toEqual([
      '2026-05-03T00:00:00.000Z',
      '2026-05-05T00:00:00.000Z',
      '2026-05-07T00:00:00.000Z',
      '2026-05-09T00:00:00.000Z',
    ]);
    expect(fires('0 0 */2 * SUN', '2026-05-09T00:00:00Z', 2)).toEqual(['2026-05-10T00:00:00.000Z', '2026-05-11T00:00:00.000Z']);
    // Feb 30 never exists, but Mondays do
    expect(fires('0 0 30 2 MON', '2026-02-01T00:00:00Z', 2)).toEqual(['2026-02-02T00:00:00.000Z', '2026-02-09T00:00:00.000Z']);
  });

  it('uses only the restricted day field when the other is * or ?', () => {
    expect(fires('0 0 13 * *', '2026-02-01T00:00:00Z', 2)).toEqual(['2026-02-13T00:00:00.000Z', '2026-03-13T00:00:00.000Z']);
    expect(fires('0 0 ? * FRI', '2026-02-01T00:00:00Z', 2)).toEqual(['2026-02-06T00:00:00.000Z', '2026-02-13T00:00:00.000Z']);
    expect(fires('0 0 13 * ?', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-13T00:00:00.000Z']);
  });
});

describe('previous() in UTC', () => {
  it.each<[string, string, string[], CronOptions?]>([
    ['0 0 * * *', '2026-03-01T00:00:00Z', ['2026-02-28T00:00:00.000Z', '2026-02-27T00:00:00.000Z']],
    ['0 0 * * *', '2026-03-01T00:00:00.001Z', ['2026-03-01T00:00:00.000Z']],
    ['*/15 * * * *', '2026-05-05T10:07:00Z', ['2026-05-05T10:00:00.000Z', '2026-05-05T09:45:00.000Z']],
    ['0 12 31 * *', '2026-05-01T00:00:00Z', ['2026-03-31T12:00:00.000Z', '2026-01-31T12:00:00.000Z', '2025-12-31T12:00:00.000Z']],
    ['0 0 29 2 *', '2026-01-01T00:00:00Z', ['2024-02-29T00:00:00.000Z', '2020-02-29T00:00:00.000Z']],
    ['0 0 29 2 *', '2104-01-01T00:00:00Z', ['2096-02-29T00:00:00.000Z']],
    ['30 8-9 * * MON-FRI', '2026-05-11T08:00:00Z', ['2026-05-08T09:30:00.000Z', '2026-05-08T08:30:00.000Z', '2026-05-07T09:30:00.000Z']],
    ['0 0 1,15 * MON', '2026-06-16T00:00:00Z', ['2026-06-15T00:00:00.000Z', '2026-06-08T00:00:00.000Z', '2026-06-01T00:00:00.000Z', '2026-05-25T00:00:00.000Z']],
    ['0 0 1 jun-aug *', '2027-01-01T00:00:00Z', ['2026-08-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z', '2026-06-01T00:00:00.000Z', '2025-08-01T00:00:00.000Z']],
    ['*/20 * * * * *', '2026-05-05T10:00:05.500Z', ['2026-05-05T10:00:00.000Z', '2026-05-05T09:59:40.000Z'], { withSeconds: true }],
    ['10 5 * * * *', '2026-05-05T10:05:10Z', ['2026-05-05T09:05:10.000Z'], { withSeconds: true }],
    ['0 0 1 1 *', '2026-01-01T00:00:00Z', ['2025-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z']],
  ])('%j before %s', (expression, start, expected, options) => {
    expect(previousFires(expression, start, expected.length, undefined, options)).toEqual(expected);
  });
});

describe('time zones', () => {
  it('fires at wall-clock times in America/New_York', () => {
    expect(fires('0 9 * * *', '2026-01-15T00:00:00Z', 2, 'America/New_York')).toEqual([
      '2026-01-15T14:00:00.000Z', // EST, UTC-5
      '2026-01-16T14:00:00.000Z',
    ]);
    expect(fires('0 9 * * *', '2026-07-15T00:00:00Z', 1, 'America/New_York')).toEqual(['2026-07-15T13:00:00.000Z']); // EDT
    // the calendar day is New York's: 22:00 on the 31st there is already the 1st in UTC
    expect(fires('0 22 31 * *', '2026-01-01T00:00:00Z', 3, 'America/New_York')).toEqual([
      '2026-01-01T03:00:00.000Z', // 2026-01-01T00:00Z is still Dec 31, 19:00 in New York
      '2026-02-01T03:00:00.000Z',
      '2026-04-01T02:00:00.000Z',
    ]);
  });

  it('handles the half-hour offset of Asia/Kolkata', () => {
    expect(fires('0 9 * * *', '2026-01-01T00:00:00Z', 2, 'Asia/Kolkata')).toEqual(['2026-01-01T03:30:00.000Z', '2026-01-02T03:30:00.000Z']);
    expect(fires('0 * * * *', '2026-01-01T00:00:00Z', 2, 'Asia/Kolkata')).toEqual(['2026-01-01T00:30:00.000Z', '2026-01-01T01:30:00.000Z']);
    expect(fires('0 0 * * MON', '2026-05-03T18:00:00Z', 1, 'Asia/Kolkata')).toEqual(['2026-05-03T18:30:00.000Z']); // Monday 00:00 IST
    expect(previousFires('0 0 * * MON', '2026-05-03T18:30:00Z', 1, 'Asia/Kolkata')).toEqual(['2026-04-26T18:30:00.000Z']);
  });

  describe('Europe/Paris spring forward (2026-03-29, 02:00 CET → 03:00 CEST at 01:00Z)', () => {
    it('fires a skipped wall-clock time at the first instant after the gap', () => {
      expect(fires('30 2 * * *', '2026-03-28T00:00:00Z', 3, 'Europe/Paris')).toEqual([
        '2026-03-28T01:30:00.000Z', // 02:30 CET
        '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
        '2026-03-30T00:30:00.000Z', // 02:30 CEST
      ]);
    });

    it('collapses several skipped times into one fire', () => {
      expect(fires('*/15 2 * * *', '2026-03-29T00:00:00Z', 2, 'Europe/Paris')).toEqual([
        '2026-03-29T01:00:00.000Z',
        '2026-03-30T00:00:00.000Z',
      ]);
      expect(fires('*/30 * * * *', '2026-03-29T00:15:00Z', 4, 'Europe/Paris')).toEqual([
        '2026-03-29T00:30:00.000Z', // 01:30 CET
        '2026-03-29T01:00:00.000Z', // 02:00 and 02:30 → 03:00 CEST, which also matches
        '2026-03-29T01:30:00.000Z', // 03:30 CEST
        '2026-03-29T02:00:00.000Z',
      ]);
    });

    it('previous() sees the same fire times', () => {
      expect(previousFires('30 2 * * *', '2026-03-30T00:30:00Z', 2, 'Europe/Paris')).toEqual([
        '2026-03-29T01:00:00.000Z',
        '2026-03-28T01:30:00.000Z',
      ]);
      expect(previousFires('*/30 * * * *', '2026-03-29T01:30:00Z', 3, 'Europe/Paris')).toEqual([
        '2026-03-29T01:00:00.000Z',
        '2026-03-29T00:30:00.000Z',
        '2026-03-29T00:00:00.000Z',
      ]);
    });

    it('matches() the collapsed fire', () => {
      const schedule = parseCron('30 2 * * *');
      expect(schedule.matches(new Date('2026-03-29T01:00:00Z'), 'Europe/Paris')).toBe(true);
      expect(schedule.matches(new Date('2026-03-29T00:30:00Z'), 'Europe/Paris')).toBe(false);
    });
  });

  describe('Europe/Paris fall back (2026-10-25, 03:00 CEST → 02:00 CET at 01:00Z)', () => {
    it('fires a repeated wall-clock time once, at its first occurrence', () => {
      expect(fires('30 2 * * *', '2026-10-24T00:00:00Z', 3, 'Europe/Paris')).toEqual([
        '2026-10-24T00:30:00.000Z', // 02:30 CEST
        '2026-10-25T00:30:00.000Z', // 02:30 CEST, first of two 02:30s
        '2026-10-26T01:30:00.000Z', // 02:30 CET
      ]);
      // asked during the repeated hour, after the first 02:30: the next one is tomorrow
      expect(fires('30 2 * * *', '2026-10-25T01:10:00Z', 1, 'Europe/Paris')).toEqual(['2026-10-26T01:30:00.000Z']);
    });

    it('does not repeat an hourly job during the repeated hour', () => {
      expect(fires('0 * * * *', '2026-10-24T23:30:00Z', 4, 'Europe/Paris')).toEqual([
        '2026-10-25T00:00:00.000Z', // 02:00 CEST
        '2026-10-25T02:00:00.000Z', // 03:00 CET (02:00 CET already fired as 02:00 CEST)
        '2026-10-25T03:00:00.000Z',
        '2026-10-25T04:00:00.000Z',
      ]);
      expect(previousFires('0 * * * *', '2026-10-25T03:30:00Z', 4, 'Europe/Paris')).toEqual([
        '2026-10-25T03:00:00.000Z',
        '2026-10-25T02:00:00.000Z',
        '2026-10-25T00:00:00.000Z',
        '2026-10-24T23:00:00.000Z',
      ]);
    });

    it('previous() from inside the repeated hour finds the first occurrence', () => {
      expect(previousFires('30 2 * * *', '2026-10-25T01:10:00Z', 2, 'Europe/Paris')).toEqual([
        '2026-10-25T00:30:00.000Z',
        '2026-10-24T00:30:00.000Z',
      ]);
      expect(previousFires('*/20 * * * *', '2026-10-25T01:10:00Z', 4, 'Europe/Paris')).toEqual([
        '2026-10-25T00:40:00.000Z', // 02:40 CEST
        '2026-10-25T00:20:00.000Z',
        '2026-10-25T00:00:00.000Z',
        '2026-10-24T23:40:00.000Z',
      ]);
    });

    it('matches() only the first occurrence', () => {
      const schedule = parseCron('30 2 * * *');
      expect(schedule.matches(new Date('2026-10-25T00:30:00Z'), 'Europe/Paris')).toBe(true);
      expect(schedule.matches(new Date('2026-10-25T01:30:00Z'), 'Europe/Paris')).toBe(false);
    });
  });

  it('handles both America/New_York transitions', () => {
    // 2026-03-08: 02:00 EST → 03:00 EDT at 07:00Z
    expect(fires('30 2 * * *', '2026-03-07T12:00:00Z', 3, 'America/New_York')).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
    // 2026-11-01: 02:00 EDT → 01:00 EST at 06:00Z
    expect(fires('*/30 * * * *', '2026-11-01T04:50:00Z', 4, 'America/New_York')).toEqual([
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T07:00:00.000Z', // 02:00 EST
      '2026-11-01T07:30:00.000Z',
    ]);
    expect(fires('30 1 * * *', '2026-11-01T06:00:00Z', 1, 'America/New_York')).toEqual(['2026-11-02T06:30:00.000Z']);
    expect(previousFires('30 1 * * *', '2026-11-01T06:40:00Z', 2, 'America/New_York')).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-10-31T05:30:00.000Z',
    ]);
  });

  it('handles a whole skipped day (Pacific/Apia, 2011-12-30)', () => {
    expect(fires('0 12 * * *', '2011-12-28T22:00:00Z', 3, 'Pacific/Apia')).toEqual([
      '2011-12-29T22:00:00.000Z', // 12:00 on the 29th, UTC-10
      '2011-12-30T10:00:00.000Z', // the 30th never happened: 00:00 on the 31st
      '2011-12-30T22:00:00.000Z', // 12:00 on the 31st, UTC+14
    ]);
  });

  it('defaults to UTC and validates the zone', () => {
    const schedule = parseCron('0 9 * * *');
    const after = new Date('2026-01-01T00:00:00Z');
    expect(schedule.next(after)).toEqual(schedule.next(after, 'UTC'));
    expect(schedule.next(after, 'Etc/UTC')).toEqual(schedule.next(after, 'UTC'));
    const error = failure(() => schedule.next(after, 'Mars/Olympus'));
    expect(error.code).toBe('SLU_FLOW_INVALID_TIMEZONE');
    expect(error.params).toEqual({ timezone: 'Mars/Olympus' });
    expect(failure(() => schedule.previous(after, '')).code).toBe('SLU_FLOW_INVALID_TIMEZONE');
  });
});

describe('limits and bad arguments', () => {
  it('rejects invalid dates', () => {
    const schedule = parseCron('* * * * *');
    expect(failure(() => schedule.next(new Date(Number.NaN))).params).toEqual({
      cron: '* * * * *',
      reason: 'after must be a valid date between years 1 and 9999',
    });
    expect(failure(() => schedule.previous('2026-01-01' as unknown as Date)).params.reason).toBe(
      'before must be a valid date between years 1 and 9999',
    );
    expect(failure(() => schedule.matches(new Date(Date.UTC(10_000, 0, 1)))).params.reason).toBe(
      'date must be a valid date between years 1 and 9999',
    );
  });

  it('says "never fires" at the end of the supported range', () => {
    const error = failure(() => parseCron('0 0 1 1 *').next(new Date('9999-06-01T00:00:00Z')));
    expect(error.code).toBe('SLU_FLOW_INVALID_CRON');
    expect(error.params).toEqual({ cron: '0 0 1 1 *', reason: 'never fires' });
    expect(failure(() => parseCron('0 0 31 12 *').previous(new Date('0001-06-01T00:00:00Z'))).params.reason).toBe('never fires');
  });

  it('computes 10,000 consecutive fires of a busy cron quickly', () => {
    const schedule = parseCron('*/5 * * * * *', { withSeconds: true });
    let at = new Date('2026-03-28T23:00:00Z');
    for (let i = 0; i < 10_000; i++) at = schedule.next(at, 'Europe/Paris');
    expect(at.toISOString()).toBe('2026-03-29T12:53:20.000Z');
    for (let i = 0; i < 10_000; i++) at = schedule.previous(at, 'Europe/Paris');
    expect(at.toISOString()).toBe('2026-03-28T23:00:00.000Z');
    const minutely = parseCron('* * * * *');
    at = new Date('2026-01-01T00:00:00Z');
    for (let i = 0; i < 10_000; i++) at = minutely.next(at);
    expect(at.toISOString()).toBe('2026-01-07T22:40:00.000Z');
  });

  it('jumps over long stretches without matches', () => {
    expect(fires('59 23 29 2 *', '2029-03-01T00:00:00Z', 1, 'America/New_York')).toEqual(['2032-03-01T04:59:00.000Z']);
    expect(previousFires('0 0 29 FEB *', '2029-03-01T00:00:00Z', 1, 'Asia/Kolkata')).toEqual(['2028-02-28T18:30:00.000Z']);
  });
});

describe('agrees with a brute-force minute scan', () => {
  interface Wall {
    minute: number;
    hour: number;
    day: number;
    month: number;
    weekday: number;
  }
  const cases: [string, (w: Wall) => boolean][] = [
    ['*/15 9-17 * * MON-FRI', (w) => w.minute % 15 === 0 && w.hour >= 9 && w.hour <= 17 && w.weekday >= 1 && w.weekday <= 5],
    ['0 0 1,15 * 1', (w) => w.minute === 0 && w.hour === 0 && (w.day === 1 || w.day === 15 || w.weekday === 1)],
    ['5/20 */3 */2 * *', (w) => w.minute % 20 === 5 && w.hour % 3 === 0 && w.day % 2 === 1],
    ['0 12 * FEB,AUG SUN', (w) => w.minute === 0 && w.hour === 12 && (w.month === 2 || w.month === 8) && w.weekday === 0],
    ['30 23 31 * *', (w) => w.minute === 30 && w.hour === 23 && w.day === 31],
    ['0-10/5,50 1,13 10-20 JAN-MAR,NOV *', (w) => [0, 5, 10, 50].includes(w.minute) && (w.hour === 1 || w.hour === 13) && w.day >= 10 && w.day <= 20 && [1, 2, 3, 11].includes(w.month)],
    ['59 * 28-31 * 6-7', (w) => w.minute === 59 && (w.day >= 28 || w.weekday === 6 || w.weekday === 0)],
  ];
  const start = Date.UTC(2027, 11, 20);
  const end = Date.UTC(2028, 2, 20);

  it.each([
    ['UTC', 0],
    ['Asia/Kolkata', 5.5 * 3_600_000],
  ])('in %s', (timeZone, offset) => {
    for (const [expression, matches] of cases) {
      const expected: string[] = [];
      for (let t = start + 60_000; t < end; t += 60_000) {
        const wall = new Date(t + offset);
        const w = {
          minute: wall.getUTCMinutes(),
          hour: wall.getUTCHours(),
          day: wall.getUTCDate(),
          month: wall.getUTCMonth() + 1,
          weekday: wall.getUTCDay(),
        };
        if (matches(w)) expected.push(new Date(t).toISOString());
      }
      const schedule = parseCron(expression);
      const actual: string[] = [];
      for (let at = schedule.next(new Date(start), timeZone); at.getTime() < end; at = schedule.next(at, timeZone)) {
        actual.push(at.toISOString());
      }
      expect(actual, expression).toEqual(expected);
      const backwards: string[] = [];
      for (let at = schedule.previous(new Date(end), timeZone); at.getTime() > start; at = schedule.previous(at, timeZone)) {
        backwards.push(at.toISOString());
      }
      expect(backwards.reverse(), expression).toEqual(expected);
    }
  });
});

describe('agrees with a brute-force definition across DST transitions', () => {
  // Independent statement of the documented semantics: instant t fires iff some matching wall-clock time W satisfies
  // (largest wall time seen before t) < W <= wall(t). A gap's skipped times fire at the first instant after it; a
  // repeated wall time fires only the first time.
  interface Wall {
    minute: number;
    hour: number;
    day: number;
    weekday: number;
  }
  const cases: [string, (w: Wall) => boolean][] = [
    ['*/30 * * * *', (w) => w.minute % 30 === 0],
    ['30 2 * * *', (w) => w.minute === 30 && w.hour === 2],
    ['0 * * * *', (w) => w.minute === 0],
    ['15,45 1-3 * * *', (w) => (w.minute === 15 || w.minute === 45) && w.hour >= 1 && w.hour <= 3],
    ['0 2 * * SUN', (w) => w.minute === 0 && w.hour === 2 && w.weekday === 0],
    ['*/7 2 * * *', (w) => w.minute % 7 === 0 && w.hour === 2],
  ];
  const windows: [string, string][] = [
    ['Europe/Paris', '2026-03-28T00:00:00Z'],
    ['Europe/Paris', '2026-10-24T00:00:00Z'],
    ['America/New_York', '2026-03-07T00:00:00Z'],
    ['America/New_York', '2026-10-31T00:00:00Z'],
    ['Australia/Lord_Howe', '2026-04-03T00:00:00Z'], // 02:00 → 01:30 on 2026-04-05
    ['Australia/Lord_Howe', '2026-10-02T00:00:00Z'], // 02:00 → 02:30 on 2026-10-04
  ];
  const MINUTE = 60_000;

  it.each(windows)('%s around %s', (timeZone, startText) => {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    const wallOf = (t: number): number => {
      const parts = Object.fromEntries(format.formatToParts(t).map((p) => [p.type, Number(p.value)]));
      return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
    };
    const start = Date.parse(startText);
    const end = start + 4 * 24 * 60 * MINUTE;
    for (const [expression, matches] of cases) {
      const matchesWall = (w: number): boolean => {
        const d = new Date(w);
        return matches({ minute: d.getUTCMinutes(), hour: d.getUTCHours(), day: d.getUTCDate(), weekday: d.getUTCDay() });
      };
      const expected: string[] = [];
      let seen = wallOf(start);
      for (let t = start + MINUTE; t < end; t += MINUTE) {
        const wall = wallOf(t);
        let fire = false;
        for (let w = seen + MINUTE; w <= wall; w += MINUTE) if (matchesWall(w)) fire = true;
        if (fire) expected.push(new Date(t).toISOString());
        seen = Math.max(seen, wall);
      }
      const schedule = parseCron(expression);
      const forwards: string[] = [];
      for (let at = schedule.next(new Date(start), timeZone); at.getTime() < end; at = schedule.next(at, timeZone)) {
        forwards.push(at.toISOString());
      }
      expect(forwards, expression).toEqual(expected);
      const backwards: string[] = [];
      for (let at = schedule.previous(new Date(end), timeZone); at.getTime() > start; at = schedule.previous(at, timeZone)) {
        backwards.push(at.toISOString());
      }
      expect(backwards.reverse(), expression).toEqual(expected);
      for (const fire of expected.slice(0, 20)) expect(schedule.matches(new Date(fire), timeZone), fire).toBe(true);
    }
  });
});
