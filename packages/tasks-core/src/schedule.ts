import { assertTimeZone, parseCron, scheduleConditionProblems, SluiceError } from '@sluice/core';
import type { PluginIssue } from '@sluice/core';
import type { TriggerDefinition } from '@sluice/plugin-api';

export const scheduleTrigger: TriggerDefinition = {
  type: 'io.kestra.plugin.core.trigger.Schedule',
  aliases: ['io.kestra.core.models.triggers.types.Schedule'],
  title: 'Run the flow on a cron schedule',
  description: 'Fires the flow at each tick of a cron expression, in a time zone (default UTC), exactly once across schedulers.',
  properties: {
    cron: { type: 'string', minLength: 1, description: 'Cron expression (5 fields, or 6 with `withSeconds`) or @hourly, @daily, ...' },
    timezone: { type: 'string', description: 'IANA time zone, e.g. Europe/Paris. Default UTC.' },
    withSeconds: { type: 'boolean', description: 'The cron has a leading seconds field.' },
    inputs: { type: 'object', description: 'Inputs passed to each execution.' },
    labels: { type: ['object', 'array'] },
    backfill: {
      type: 'object',
      description: 'Fire every tick from `start` (a date-time, e.g. 2024-01-01T00:00:00Z) to `end` (default: now) when the trigger is new.',
      required: ['start'],
      properties: {
        start: { type: 'string' },
        end: { type: 'string' },
        labels: { type: ['object', 'array'] },
      },
      additionalProperties: false,
    },
    lateMaximumDelay: { type: 'string', format: 'duration' },
    conditions: {
      type: 'array',
      items: { type: 'object' },
      description: 'A tick fires only when every condition holds: DayWeek, DayWeekInMonth, Weekend, DateTimeBetween, TimeBetween, Not, Or.',
    },
    recoverMissedSchedules: { enum: ['LAST', 'NONE', 'ALL'], description: 'Ticks missed while no scheduler ran: ALL (default) fires them all, LAST the most recent, NONE none.' },
  },
  required: ['cron'],
  check(value): PluginIssue[] {
    const issues: PluginIssue[] = [];
    const collect = (path: string, run: () => unknown): void => {
      try {
        run();
      } catch (error) {
        if (!(error instanceof SluiceError)) throw error;
        issues.push({ path: [path], code: error.code, params: error.params });
      }
    };
    if (typeof value.cron === 'string' && !value.cron.includes('{{')) {
      collect('cron', () => parseCron(value.cron as string, { withSeconds: value.withSeconds === true }));
    }
    if (typeof value.timezone === 'string') collect('timezone', () => assertTimeZone(value.timezone as string));
    if (Array.isArray(value.conditions)) {
      value.conditions.forEach((condition, i) => {
        for (const [path, reason] of scheduleConditionProblems(condition, ['conditions', i])) {
          issues.push({ path, code: 'SLU_FLOW_INVALID_VALUE', params: { reason } });
        }
      });
    }
    const backfill = value.backfill as Record<string, unknown> | undefined;
    if (backfill && typeof backfill === 'object') {
      const dates: Record<string, number> = {};
      for (const key of ['start', 'end']) {
        const text = backfill[key];
        if (typeof text !== 'string' || text.includes('{{')) continue;
        const time = Date.parse(text);
        if (Number.isNaN(time)) {
          issues.push({ path: ['backfill', key], code: 'SLU_FLOW_INVALID_VALUE', params: { reason: `must be a date-time such as 2024-01-01T00:00:00Z, got ${JSON.stringify(text)}` } });
        } else dates[key] = time;
      }
      if (dates.start !== undefined && dates.end !== undefined && dates.end < dates.start) {
        issues.push({ path: ['backfill', 'end'], code: 'SLU_FLOW_INVALID_VALUE', params: { reason: `must not be before backfill.start (${String(backfill.start)})` } });
      }
    }
    return issues;
  },
};
