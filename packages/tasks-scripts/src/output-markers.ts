import { LOG_LEVELS } from '@sluice/core';
import type { LogLevel } from '@sluice/core';
import type { MetricEntry } from '@sluice/plugin-api';

/**
 * Kestra's `::{...}::` convention (PluginUtilsService): a line that is exactly `::` + a JSON object + `::` carries
 * `outputs` (merged into `vars`), `metrics` (`[{name, type: counter|timer|gauge, value, tags}]`, a timer's value in
 * seconds; an entry of another type, without a name or a finite value is dropped) and `logs`
 * (`[{level, message}]`). Returns undefined for any other line, including one whose JSON does not parse.
 */
export interface Marker {
  readonly outputs?: Record<string, unknown>;
  readonly metrics: MetricEntry[];
  readonly logs: { level: LogLevel; message: string }[];
}

const MARKER = /^::(\{.*\})::$/;
/** Kestra's metric types (its `Counter`, `Timer` and `Gauge`). */
const METRIC_TYPES: readonly MetricEntry['type'][] = ['counter', 'timer', 'gauge'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseMarker(line: string): Marker | undefined {
  const match = MARKER.exec(line);
  if (!match) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(match[1] as string);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const metrics: MetricEntry[] = [];
  for (const m of Array.isArray(parsed.metrics) ? parsed.metrics : []) {
    if (!isRecord(m) || typeof m.name !== 'string') continue;
    const type = METRIC_TYPES.find((known) => known === m.type);
    const value = Number(m.value);
    if (type === undefined || !Number.isFinite(value)) continue;
    const tags = isRecord(m.tags) ? Object.fromEntries(Object.entries(m.tags).map(([k, v]) => [k, String(v)])) : undefined;
    metrics.push({ name: m.name, type, value, ...(tags ? { tags } : {}) });
  }
  const logs: { level: LogLevel; message: string }[] = [];
  for (const l of Array.isArray(parsed.logs) ? parsed.logs : []) {
    if (!isRecord(l) || l.message === undefined) continue;
    const level = String(l.level ?? 'INFO').toUpperCase();
    logs.push({ level: (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : 'INFO', message: String(l.message) });
  }
  return { ...(isRecord(parsed.outputs) ? { outputs: parsed.outputs } : {}), metrics, logs };
}
