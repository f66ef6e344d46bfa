/**
 * The metrics Sluice records for every task run a worker ran, beside the ones the task reported itself (issue #17):
 * `duration`, a timer of the attempt from its start to its end, and `exitCode`, a gauge, for a task that ran a command
 * and has one (a script task, passed or failed). Kestra keeps such figures in its Micrometer registry only; here they are
 * rows like any other metric, so `GET /metrics/{executionId}` and the aggregates answer "how long did it take" without
 * scanning task runs.
 *
 * A name the task reported itself (of any type) is not recorded again: the task's own figure wins. An end that no worker
 * ran (a lost worker's run, failed by the watchdog) has no duration to tell, and gets none.
 */
import type { ReportedMetric } from '@sluice/db';
import type { ResultMessage } from '@sluice/queue';

type Ended = Extract<ResultMessage, { type: 'ended' }>;

export const DURATION_METRIC = 'duration';
export const EXIT_CODE_METRIC = 'exitCode';

/** The exit code the run's outputs (or its failure's details) carry, if it is an integer. */
function exitCodeOf(message: Ended): number | undefined {
  const candidates: unknown[] = [message.outputs.exitCode];
  const details = message.error?.details;
  if (details) {
    candidates.push(details.exitCode);
    const outputs = details.outputs;
    if (outputs && typeof outputs === 'object' && !Array.isArray(outputs)) candidates.push((outputs as Record<string, unknown>).exitCode);
  }
  return candidates.find((value): value is number => typeof value === 'number' && Number.isInteger(value));
}

export function builtInMetrics(message: Ended): ReportedMetric[] {
  if (message.error?.code === 'SLU_TASK_WORKER_LOST') return [];
  const started = Date.parse(message.startedAt);
  const ended = Date.parse(message.endedAt);
  if (!Number.isFinite(started) || !Number.isFinite(ended)) return [];
  const reported = new Set((message.metrics ?? []).map((metric) => metric.name));
  const metrics: ReportedMetric[] = [];
  // A timer is reported in seconds, as a script reports it; the rows keep milliseconds.
  if (!reported.has(DURATION_METRIC)) metrics.push({ name: DURATION_METRIC, type: 'timer', value: Math.max(0, ended - started) / 1000, timestamp: message.endedAt });
  const exitCode = exitCodeOf(message);
  if (exitCode !== undefined && !reported.has(EXIT_CODE_METRIC)) metrics.push({ name: EXIT_CODE_METRIC, type: 'gauge', value: exitCode, timestamp: message.endedAt });
  return metrics;
}
