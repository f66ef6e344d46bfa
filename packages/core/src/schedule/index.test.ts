import { describe, expect, it } from 'vitest';
import * as schedule from './index.js';

describe('schedule public API', () => {
  it('exports the documented functions and nothing internal', () => {
    expect(Object.keys(schedule).sort()).toEqual([
      'assertTimeZone',
      'formatDuration',
      'isValidCron',
      'isValidDuration',
      'isValidTimeZone',
      'meetsScheduleConditions',
      'parseCron',
      'parseDuration',
      'scheduleConditionProblems',
    ]);
    expect(schedule.parseCron('@daily').next(new Date('2026-01-01T12:00:00Z'), 'UTC').toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(schedule.formatDuration(schedule.parseDuration('PT1H30M'))).toBe('PT1H30M');
  });
});
