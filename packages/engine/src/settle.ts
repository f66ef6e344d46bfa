/**
 * The first state of a task run the engine asked to create (a `create` action), once the caller rendered the
 * expressions the action listed (`evaluate`) with the new run's variables. Pure; shared by the scheduler and
 * `sluice run`, so both create runs the same way.
 */
import { isTruthy, parseDuration } from '@sluice/core';
import type { TaskSpec } from '@sluice/core';
import { executorTaskKind, flowableKind } from './flowables.js';
import type { EngineAction, EngineRunState, Evaluation, TaskRunStateName } from './types.js';

export interface Settled {
  /** SKIPPED (`runIf` false), FAILED (an expression failed), RUNNING (a flowable), CREATED (to send to a worker), or SUCCESS (Labels). */
  readonly state: Extract<TaskRunStateName, 'SKIPPED' | 'FAILED' | 'RUNNING' | 'CREATED' | 'SUCCESS'>;
  readonly outputs?: Record<string, unknown>;
  readonly engineState?: EngineRunState;
  readonly iteration?: number;
  /** Why it FAILED, or a line about the run for the logs. */
  readonly error?: string;
  /** Labels to add to (or change on) the execution. */
  readonly labels?: readonly { key: string; value: string }[];
}

type CreateAction = Extract<EngineAction, { type: 'create' }>;

/**
 * The state, outputs and engine state of a new run. `evaluations` holds the rendered `action.evaluate` entries (a
 * value, or the error that rendering raised). `now` is epoch ms.
 */
export function settleCreated(action: CreateAction, evaluations: Readonly<Record<string, Evaluation>>, now: number): Settled {
  const { task } = action;
  const evaluated = Object.keys(evaluations).length > 0 ? { evaluated: evaluations } : {};
  const runIf = evaluations.runIf;
  if (runIf) {
    if ('error' in runIf) return { state: 'FAILED', error: `task ${task.id}: runIf: ${runIf.error}`, engineState: evaluated };
    if (!isTruthy(runIf.value)) return { state: 'SKIPPED', engineState: evaluated };
  }
  if (executorTaskKind(task.type) === 'Labels') return settleLabels(task, evaluations.labels);
  const kind = flowableKind(task.type);
  if (action.role !== 'flowable' || !kind) return { state: 'CREATED', ...(Object.keys(evaluated).length > 0 ? { engineState: evaluated } : {}) };
  const failed = (key: string): Settled | undefined => {
    const result = evaluations[key];
    return result && 'error' in result ? { state: 'FAILED', error: `task ${task.id}: ${key}: ${result.error}`, engineState: evaluated } : undefined;
  };
  switch (kind) {
    case 'If': {
      const result = evaluations.condition;
      if (!result) return { state: 'FAILED', error: `task ${task.id}: it has no condition` };
      return failed('condition') ?? { state: 'RUNNING', outputs: { evaluationResult: 'value' in result && isTruthy(result.value) }, engineState: evaluated };
    }
    case 'Switch': {
      const result = evaluations.value;
      if (!result) return { state: 'FAILED', error: `task ${task.id}: it has no value` };
      const bad = failed('value');
      if (bad) return bad;
      const value = 'value' in result ? textOf(result.value) : '';
      const cases = (task.cases ?? {}) as Record<string, unknown>;
      return { state: 'RUNNING', outputs: { value, defaults: !Object.prototype.hasOwnProperty.call(cases, value) }, engineState: evaluated };
    }
    case 'ForEach':
    case 'EachSequential':
    case 'EachParallel': {
      const bad = failed('values');
      if (bad) return bad;
      const result = evaluations.values;
      const parsed = loopValues(result && 'value' in result ? result.value : undefined);
      if ('error' in parsed) return { state: 'FAILED', error: `task ${task.id}: ${parsed.error}`, engineState: evaluated };
      return { state: 'RUNNING', engineState: { ...evaluated, values: parsed.values } };
    }
    case 'Pause': {
      const bad = failed('delay') ?? failed('timeout');
      if (bad) return bad;
      for (const key of ['delay', 'timeout']) {
        const result = evaluations[key];
        if (!result || !('value' in result) || result.value === null || result.value === undefined || result.value === '') continue;
        try {
          parseDuration(String(result.value));
        } catch (error) {
          return { state: 'FAILED', error: `task ${task.id}: ${key}: ${error instanceof Error ? error.message : String(error)}`, engineState: evaluated };
        }
      }
      return { state: 'RUNNING', engineState: evaluated };
    }
    case 'WaitFor':
      return { state: 'RUNNING', outputs: { iterationCount: 1 }, iteration: 1, engineState: { ...evaluated, createdAt: now } };
    default:
      return { state: 'RUNNING', ...(Object.keys(evaluated).length > 0 ? { engineState: evaluated } : {}) };
  }
}

/** A rendered value as text: strings as they are, nothing as the empty string, lists and maps as their JSON. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * A loop's values, Kestra's way: a string is parsed as a JSON array (non-string elements become their JSON text);
 * in a YAML list, strings stay, integers become their decimal text, mappings their JSON text, and anything else is
 * refused. Nulls are refused. Duplicates are dropped, the first kept.
 */
export function loopValues(raw: unknown): { values: string[] } | { error: string } {
  let list: unknown[];
  let fromJson = false;
  if (typeof raw === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return { error: `values: not a JSON array: ${raw.length > 80 ? `${raw.slice(0, 80)}…` : raw}` };
    }
    if (!Array.isArray(parsed)) return { error: 'values: the JSON is not an array' };
    list = parsed;
    fromJson = true;
  } else if (Array.isArray(raw)) {
    list = raw;
  } else {
    return { error: 'values: expected a list or a JSON array string' };
  }
  const nulls = list.filter((value) => value === null || value === undefined).length;
  if (nulls > 0) return { error: `values: found ${nulls} null values` };
  const values: string[] = [];
  for (const value of list) {
    if (typeof value === 'string') values.push(value);
    else if (fromJson) values.push(JSON.stringify(value));
    else if (typeof value === 'number' && Number.isInteger(value)) values.push(String(value));
    else if (typeof value === 'object' && !Array.isArray(value)) values.push(JSON.stringify(value));
    else return { error: `values: unknown value element type (${Array.isArray(value) ? 'list' : typeof value}): use strings, integers or mappings, or a JSON string` };
  }
  return { values: [...new Set(values)] };
}

/** Labels: a JSON object string, a list of `{key, value}`, or a mapping; `system.` keys are refused. */
function settleLabels(task: TaskSpec, result: Evaluation | undefined): Settled {
  if (!result) return { state: 'FAILED', error: `task ${task.id}: it has no labels` };
  if ('error' in result) return { state: 'FAILED', error: `task ${task.id}: labels: ${result.error}` };
  let raw = result.value;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      return { state: 'FAILED', error: `task ${task.id}: labels: not a JSON object` };
    }
  }
  const labels: { key: string; value: string }[] = [];
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      if (typeof entry !== 'object' || entry === null || !('key' in entry)) return { state: 'FAILED', error: `task ${task.id}: labels: each entry needs a key and a value` };
      const { key, value } = entry as { key: unknown; value: unknown };
      labels.push({ key: String(key), value: textOf(value) });
    }
  } else if (typeof raw === 'object' && raw !== null) {
    for (const [key, value] of Object.entries(raw)) labels.push({ key, value: textOf(value) });
  } else {
    return { state: 'FAILED', error: `task ${task.id}: labels: expected a mapping, a list of {key, value} or a JSON object` };
  }
  const system = labels.find((label) => label.key.startsWith('system.'));
  if (system) return { state: 'FAILED', error: `task ${task.id}: labels: ${system.key}: system labels cannot be set by a task` };
  return { state: 'SUCCESS', labels };
}
