/**
 * Kestra's `MultipleCondition` and the Flow trigger's `preconditions`: conditions over several upstream executions,
 * each of which must have held at least once inside a time window (docs/execution.md, "Flow triggers").
 *
 * A multiple condition is an `id`, named sub-conditions, a `timeWindow` and `resetOnSuccess`:
 * - `MultipleCondition` (in the trigger's `conditions`): `conditions` maps each name to an execution condition;
 *   legacy `window` / `windowAdvance` override `timeWindow.window` / `timeWindow.windowAdvance`.
 * - `preconditions`: every `flows[]` entry is the sub-condition `condition_<n>`, every `where[]` entry
 *   `condition_<n>_<its id>` (n counts from 1 over both, flows first), as Kestra names them.
 *
 * For each upstream end that passes the trigger's `states` and plain `conditions`, each multiple condition:
 * 1. takes its window: the stored one if `now` is inside it, else a new one from {@link windowBounds} with no results;
 *    a window `now` is not inside (a daily window before its start or after its end) is not evaluated;
 * 2. tests every sub-condition against this one end, independently, and stores those that hold: true is sticky;
 * 3. holds when every name has a stored true in the window (possibly from different executions);
 * 4. after the trigger was decided, a window whose names are all true is deleted (the next start needs every
 *    sub-condition again), unless `resetOnSuccess: false`: then every later matching end in the window fires again.
 *
 * Times are UTC (Kestra uses the server's zone). Pure but for the {@link FlowTriggerWindowStore} it is given: the
 * scheduler's is on the transaction that takes the ends (packages/db/src/scheduler-store.ts).
 */
import { evaluateCondition, isMultipleCondition, isTruthy, parseDuration } from '@sluice/core';
import type { ConditionContext } from '@sluice/core';
import type { FlowTriggerWindow, FlowTriggerWindowKey, FlowTriggerWindowStore } from '@sluice/db';
import { windowLockKey } from '@sluice/db';

export const WINDOW_TYPES = ['DURATION_WINDOW', 'SLIDING_WINDOW', 'DAILY_TIME_WINDOW', 'DAILY_TIME_DEADLINE'] as const;

/** A `timeWindow` as written in the flow (durations ISO-8601, times `HH:mm[:ss[.SSS]]`). */
export interface TimeWindowSpec {
  readonly type?: string;
  readonly window?: string;
  readonly windowAdvance?: string;
  readonly deadline?: string;
  readonly startTime?: string;
  readonly endTime?: string;
}

/** One named sub-condition: whether it holds for the upstream end of `context`. */
export type SubCondition = (context: ConditionContext) => Promise<boolean>;

/** A MultipleCondition or `preconditions`, ready to evaluate. */
export interface MultipleConditionSpec {
  readonly id: string;
  readonly timeWindow: TimeWindowSpec;
  readonly resetOnSuccess: boolean;
  readonly conditions: ReadonlyMap<string, SubCondition>;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DEFAULT_WINDOW = 'P1D';

/** Milliseconds since midnight of a `LocalTime` text: `HH:mm`, `HH:mm:ss` or `HH:mm:ss.fraction`. */
export function parseLocalTime(text: string): number {
  const match = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?$/.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)} is not a time of day (HH:mm or HH:mm:ss)`);
  const [, h, m, s, fraction] = match;
  return Number(h) * HOUR + Number(m) * MINUTE + Number(s ?? 0) * SECOND + Math.floor(Number(`0.${fraction ?? 0}`) * SECOND);
}

function midnight(now: Date): number {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
}

/**
 * The window a multiple condition opens at `now` (UTC), as Kestra computes it:
 * - DURATION_WINDOW (default; `window` default P1D): `now` truncated to the second, then to midnight when the window
 *   is at least a day, to the hour when at least an hour, to a multiple of its minutes inside the hour when at least a
 *   minute; plus `windowAdvance`. It ends 1 ms before start + window.
 * - SLIDING_WINDOW: from `now` to `now` + `window` (default P1D).
 * - DAILY_TIME_WINDOW: today's `startTime` to today's `endTime`.
 * - DAILY_TIME_DEADLINE: today's midnight to today's `deadline`.
 */
export function windowBounds(timeWindow: TimeWindowSpec, now: Date): { start: Date; end: Date } {
  const type = timeWindow.type ?? 'DURATION_WINDOW';
  const day = midnight(now);
  switch (type) {
    case 'DURATION_WINDOW': {
      const window = parseDuration(timeWindow.window ?? DEFAULT_WINDOW);
      if (window <= 0) throw new Error('window must be longer than zero');
      const at = new Date(Math.floor(now.getTime() / SECOND) * SECOND);
      if (window >= DAY) at.setUTCHours(0);
      if (window >= HOUR) at.setUTCMinutes(0);
      if (window >= MINUTE) {
        const minutes = Math.floor(window / MINUTE);
        at.setUTCMinutes(minutes * Math.floor(at.getUTCMinutes() / minutes), 0);
      }
      const start = at.getTime() + (timeWindow.windowAdvance === undefined ? 0 : parseDuration(timeWindow.windowAdvance));
      return { start: new Date(start), end: new Date(start + window - 1) };
    }
    case 'SLIDING_WINDOW': {
      const window = parseDuration(timeWindow.window ?? DEFAULT_WINDOW);
      return { start: new Date(now.getTime()), end: new Date(now.getTime() + window) };
    }
    case 'DAILY_TIME_WINDOW':
      return { start: new Date(day + parseLocalTime(String(timeWindow.startTime))), end: new Date(day + parseLocalTime(String(timeWindow.endTime))) };
    case 'DAILY_TIME_DEADLINE':
      return { start: new Date(day), end: new Date(day + parseLocalTime(String(timeWindow.deadline))) };
    default:
      throw new Error(`timeWindow.type must be one of ${WINDOW_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  }
}

/** Whether `now` is inside the window: from its start (included) to its end (excluded). */
export function isWindowOpen(window: { start: Date; end: Date }, now: Date): boolean {
  return window.start.getTime() <= now.getTime() && now.getTime() < window.end.getTime();
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function timeWindowOf(value: unknown): TimeWindowSpec {
  if (!isObject(value)) return {};
  const spec: Record<string, string> = {};
  for (const key of ['type', 'window', 'windowAdvance', 'deadline', 'startTime', 'endTime']) {
    if (value[key] !== undefined && value[key] !== null) spec[key] = String(value[key]);
  }
  return spec;
}

/** A `flows[]` entry of `preconditions`: the upstream is of that namespace, flow, state, and has these labels. */
function upstreamFlowCondition(entry: Json): SubCondition {
  return async ({ execution }) => {
    if (typeof entry.namespace === 'string' && execution.namespace !== entry.namespace) return false;
    if (typeof entry.flowId === 'string' && execution.flowId !== entry.flowId) return false;
    if (Array.isArray(entry.states) && !entry.states.map(String).includes(execution.state)) return false;
    if (isObject(entry.labels)) {
      return Object.entries(entry.labels).every(([key, value]) => execution.labels.some((label) => label.key === key && label.value === String(value)));
    }
    return true;
  };
}

/** One filter of a `where[]` entry (Kestra's semantics, including EXPRESSION comparing with its own `value`). */
async function filterHolds(filter: Json, context: ConditionContext): Promise<boolean> {
  const value = text(filter.value);
  let field: string | undefined;
  switch (filter.field) {
    case 'FLOW_ID':
      field = context.execution.flowId;
      break;
    case 'NAMESPACE':
      field = context.execution.namespace;
      break;
    case 'STATE':
      field = context.execution.state;
      break;
    case 'EXPRESSION':
      if (value === undefined) throw new Error('an EXPRESSION filter needs a value');
      field = await context.render(value);
      break;
    default:
      throw new Error(`unknown filter field ${JSON.stringify(filter.field)}`);
  }
  const values = Array.isArray(filter.values) ? filter.values.map(String) : [];
  switch (filter.type) {
    case 'EQUAL_TO':
      return value === field;
    case 'NOT_EQUAL_TO':
      return value !== field;
    case 'IN':
      return field !== undefined && values.includes(field);
    case 'NOT_IN':
      return field === undefined || !values.includes(field);
    case 'IS_TRUE':
      return isTruthy(field);
    case 'IS_FALSE':
      return !isTruthy(field);
    case 'IS_NULL':
      return field === undefined;
    case 'IS_NOT_NULL':
      return field !== undefined;
    case 'STARTS_WITH':
      return field !== undefined && value !== undefined && field.startsWith(value);
    case 'ENDS_WITH':
      return field !== undefined && value !== undefined && field.endsWith(value);
    case 'REGEX':
      // Java's String.matches: the whole text must match.
      return field !== undefined && value !== undefined && new RegExp(`^(?:${value})$`, 'u').test(field);
    case 'CONTAINS':
      return field !== undefined && value !== undefined && field.includes(value);
    default:
      throw new Error(`unknown filter type ${JSON.stringify(filter.type)}`);
  }
}

/** A `where[]` entry: its filters, all of them (operand AND, the default) or any (OR). One that throws is false. */
function whereCondition(entry: Json): SubCondition {
  const filters = Array.isArray(entry.filters) ? entry.filters.filter(isObject) : [];
  const any = entry.operand === 'OR';
  return async (context) => {
    try {
      for (const filter of filters) {
        const holds = await filterHolds(filter, context);
        if (any && holds) return true;
        if (!any && !holds) return false;
      }
      return !any;
    } catch {
      return false;
    }
  };
}

/** The multiple conditions of a Flow trigger: its MultipleConditions, in order, then its `preconditions`. */
export function multipleConditionsOf(trigger: object): MultipleConditionSpec[] {
  const { conditions: given, preconditions } = trigger as { conditions?: unknown; preconditions?: unknown };
  const specs: MultipleConditionSpec[] = [];
  const conditions = Array.isArray(given) ? given : [];
  conditions.forEach((condition, i) => {
    if (!isMultipleCondition(condition)) return;
    const c = condition as Json;
    const timeWindow: Record<string, string | undefined> = { ...timeWindowOf(c.timeWindow) };
    if (typeof c.window === 'string') timeWindow.window = c.window;
    if (typeof c.windowAdvance === 'string') timeWindow.windowAdvance = c.windowAdvance;
    const named = new Map<string, SubCondition>();
    for (const [name, sub] of Object.entries(isObject(c.conditions) ? c.conditions : {})) named.set(name, (context) => evaluateCondition(sub, context));
    specs.push({ id: text(c.id) ?? `multiple_${i}`, timeWindow: timeWindow as TimeWindowSpec, resetOnSuccess: c.resetOnSuccess !== false, conditions: named });
  });
  if (isObject(preconditions)) {
    const p = preconditions;
    const named = new Map<string, SubCondition>();
    let n = 0;
    for (const entry of Array.isArray(p.flows) ? p.flows : []) if (isObject(entry)) named.set(`condition_${++n}`, upstreamFlowCondition(entry));
    for (const entry of Array.isArray(p.where) ? p.where : []) if (isObject(entry)) named.set(`condition_${++n}_${String(entry.id)}`, whereCondition(entry));
    specs.push({ id: text(p.id) ?? 'preconditions', timeWindow: timeWindowOf(p.timeWindow), resetOnSuccess: p.resetOnSuccess !== false, conditions: named });
  }
  return specs;
}

/** What one end made of one multiple condition's window. */
export interface WindowEvaluation {
  readonly key: FlowTriggerWindowKey;
  /** Whether every sub-condition has held in the open window (this end included). */
  readonly holds: boolean;
  /** The window after this end: undefined when it was not open (not evaluated). */
  readonly window?: FlowTriggerWindow;
}

/**
 * Record one upstream end in a multiple condition's window (steps 1 to 3 of the top of this file) and store it; the
 * caller then calls {@link settleWindow}. The window must be locked ({@link FlowTriggerWindowStore.lock}).
 */
export async function recordInWindow(
  spec: MultipleConditionSpec,
  key: FlowTriggerWindowKey,
  context: ConditionContext,
  store: FlowTriggerWindowStore,
  now: Date,
): Promise<WindowEvaluation> {
  const stored = await store.get(key);
  const current = stored && isWindowOpen(stored, now) ? stored : { ...key, ...windowBounds(spec.timeWindow, now), results: {} };
  // A daily window outside its hours, or a duration window its advance has not opened yet: not evaluated.
  if (!isWindowOpen(current, now)) return { key, holds: false };
  const results: Record<string, boolean> = { ...current.results };
  for (const [name, condition] of spec.conditions) {
    if (results[name] === true) continue; // sticky: it held already in this window
    if (await condition(context)) results[name] = true;
  }
  const window: FlowTriggerWindow = { ...key, start: current.start, end: current.end, results };
  const holds = spec.conditions.size > 0 && [...spec.conditions.keys()].every((name) => results[name] === true);
  // As Kestra, a window is stored once some sub-condition held in it.
  if (Object.keys(results).length > 0 && (stored === undefined || !sameWindow(stored, window))) await store.save(window);
  return { key, holds, window };
}

function sameWindow(a: FlowTriggerWindow, b: FlowTriggerWindow): boolean {
  return a.start.getTime() === b.start.getTime() && a.end.getTime() === b.end.getTime() && JSON.stringify(a.results) === JSON.stringify(b.results);
}

/** Step 4: delete a window whose sub-conditions all held, unless `resetOnSuccess: false`. */
export async function settleWindow(spec: MultipleConditionSpec, evaluation: WindowEvaluation, store: FlowTriggerWindowStore): Promise<void> {
  if (evaluation.holds && spec.resetOnSuccess) await store.delete(evaluation.key);
}

/** A {@link FlowTriggerWindowStore} in memory (tests, and evaluations given no store). */
export function memoryWindowStore(): FlowTriggerWindowStore & { readonly windows: Map<string, FlowTriggerWindow> } {
  const windows = new Map<string, FlowTriggerWindow>();
  return {
    windows,
    async lock() {},
    async get(key) {
      return windows.get(windowLockKey(key));
    },
    async save(window) {
      windows.set(windowLockKey(window), { ...window, results: { ...window.results } });
    },
    async delete(key) {
      windows.delete(windowLockKey(key));
    },
    async deleteExpired(now) {
      for (const [k, window] of windows) if (window.end.getTime() < now.getTime()) windows.delete(k);
    },
  };
}
