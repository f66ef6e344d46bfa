/**
 * Kestra-compatible schedules: ISO-8601 durations, cron expressions with time zones, and the conditions of a Schedule
 * trigger. Pure and dependency-free:
 * time zones come from the runtime's `Intl` data.
 */

export { formatDuration, isValidDuration, parseDuration } from './duration.js';
export { isValidCron, parseCron, type CronOptions, type CronSchedule } from './cron.js';
export { assertTimeZone, isValidTimeZone } from './timezone.js';
export { meetsScheduleConditions, scheduleConditionProblems } from './conditions.js';
