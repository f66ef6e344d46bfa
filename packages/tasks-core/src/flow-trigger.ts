/**
 * The Flow trigger: starts the flow when another flow's execution ends in one of `states` and its `conditions` hold
 * (apps/scheduler/src/flow-triggers.ts evaluates it, exactly once per execution end). Checked here: the states (only
 * ends: Sluice evaluates an execution when it ends), the conditions (each type known, its properties well formed),
 * MultipleConditions and `preconditions` (ids, time windows, sub-conditions, flows and where filters), each problem
 * with its YAML path.
 */
import { executionConditionProblems, isMultipleCondition, isValidDuration, parseDuration } from '@sluice/core';
import type { ConditionProblem, PluginIssue } from '@sluice/core';
import type { TriggerDefinition } from '@sluice/plugin-api';

/** The states an ended execution can be in: the Flow trigger's default `states`, as in Kestra. */
export const FLOW_TRIGGER_END_STATES = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED'] as const;

export const flowTrigger: TriggerDefinition = {
  type: 'io.kestra.plugin.core.trigger.Flow',
  aliases: ['io.kestra.core.models.triggers.types.Flow'],
  title: "Start the flow when another flow's execution ends",
  description:
    "When an execution of another flow ends in one of `states` (default: every end) and every condition holds for it, " +
    'starts this flow, with `inputs` rendered from the upstream execution (`trigger.outputs` is its flow outputs there) ' +
    'and `labels`. The new execution reads `{{ trigger.executionId }}`, `trigger.namespace`, `trigger.flowId`, ' +
    '`trigger.flowRevision` and `trigger.state`. Each end starts it once, whatever the number of schedulers.',
  properties: {
    states: { type: 'array', items: { enum: [...FLOW_TRIGGER_END_STATES] }, description: 'The end states that trigger the flow (default: all of them).' },
    conditions: {
      type: 'array',
      items: { type: 'object' },
      description: 'Conditions on the upstream execution, all of which must hold: ExecutionStatus, ExecutionFlow, ExecutionNamespace, ExecutionLabels, Expression, ExecutionOutputs, Not, Or, and MultipleCondition (named conditions each satisfied once in a time window).',
    },
    inputs: { type: 'object', description: "The new execution's inputs, input id → value, rendered with the upstream execution's variables." },
    labels: { type: ['object', 'array'], description: 'Labels of the new execution (rendered): key → value, or a list of {key, value}.' },
    preconditions: {
      type: 'object',
      description:
        'Conditions over several upstream executions inside a time window: `id`, `timeWindow`, `resetOnSuccess` (default true), ' +
        '`flows[]` ({namespace, flowId, states, labels}) and `where[]` ({id, operand AND|OR, filters[{field, type, value|values}]}); ' +
        'each entry must be satisfied at least once in the window, possibly by different executions.',
    },
  },
  check(value): PluginIssue[] {
    const problems: ConditionProblem[] = [];
    const ids = new Map<string, (string | number)[]>();
    const noteId = (id: unknown, path: (string | number)[]): void => {
      if (typeof id !== 'string') return;
      const first = ids.get(id);
      if (first) problems.push([path, `${JSON.stringify(id)} is already the id of ${first.join('.')}: each MultipleCondition and the preconditions need their own id (it names their window)`]);
      else ids.set(id, path);
    };
    const conditions = Array.isArray(value.conditions) ? value.conditions : [];
    conditions.forEach((condition, i) => {
      if (!isMultipleCondition(condition) || !isObject(condition)) return;
      problems.push(...multipleConditionProblems(condition, ['conditions', i]));
      noteId(condition.id, ['conditions', i, 'id']);
    });
    if (value.preconditions !== undefined) {
      problems.push(...preconditionsProblems(value.preconditions, ['preconditions']));
      if (isObject(value.preconditions)) noteId(value.preconditions.id, ['preconditions', 'id']);
    }
    problems.push(...executionConditionProblems(value.conditions, ['conditions'], { owner: 'a Flow trigger', allowMultiple: true }));
    return problems.map(([path, reason]) => ({ path, code: 'SLU_FLOW_INVALID_VALUE', params: { reason } }));
  },
};

type Json = Record<string, unknown>;
type Path = (string | number)[];
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Kestra's pattern for the id of a MultipleCondition or preconditions. */
const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;
const WINDOW_TYPES = ['DURATION_WINDOW', 'SLIDING_WINDOW', 'DAILY_TIME_WINDOW', 'DAILY_TIME_DEADLINE'] as const;
/** The properties of `timeWindow` each type reads (others are refused rather than ignored). */
const WINDOW_PROPERTIES: Record<(typeof WINDOW_TYPES)[number], string[]> = {
  DURATION_WINDOW: ['window', 'windowAdvance'],
  SLIDING_WINDOW: ['window'],
  DAILY_TIME_WINDOW: ['startTime', 'endTime'],
  DAILY_TIME_DEADLINE: ['deadline'],
};
const FILTER_FIELDS = ['FLOW_ID', 'NAMESPACE', 'STATE', 'EXPRESSION'] as const;
const FILTER_TYPES = ['EQUAL_TO', 'NOT_EQUAL_TO', 'IN', 'NOT_IN', 'IS_TRUE', 'IS_FALSE', 'IS_NULL', 'IS_NOT_NULL', 'STARTS_WITH', 'ENDS_WITH', 'REGEX', 'CONTAINS'] as const;
/** Filter types that compare with a list (`values`); every other one reads `value`, as Kestra validates them. */
const LIST_FILTER_TYPES = ['IN', 'NOT_IN'];
const LOCAL_TIME = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?$/;

/** Milliseconds since midnight of a time of day that {@link LOCAL_TIME} matches. */
function timeOfDay(text: string): number {
  const [, h, m, sec, fraction] = LOCAL_TIME.exec(text) ?? [];
  return ((Number(h) * 60 + Number(m)) * 60 + Number(sec ?? 0)) * 1000 + Math.floor(Number(`0.${fraction ?? 0}`) * 1000);
}

const oneOf = (allowed: readonly string[], actual: unknown): string => `must be one of ${allowed.join(', ')}, got ${JSON.stringify(actual)}`;

function idProblems(id: unknown, path: Path): ConditionProblem[] {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) return [[path, `is required: letters, digits, _ and - (starting with a letter or digit), got ${JSON.stringify(id)}`]];
  return [];
}

function durationProblems(owner: Json, key: string, path: Path): ConditionProblem[] {
  const value = owner[key];
  if (value === undefined) return [];
  if (!isValidDuration(value)) return [[[...path, key], `must be an ISO-8601 duration such as PT1H or P1D, got ${JSON.stringify(value)}`]];
  if (key === 'window' && parseDuration(value as string) === 0) return [[[...path, key], 'must be longer than zero']];
  return [];
}

function timeWindowProblems(timeWindow: unknown, path: Path): ConditionProblem[] {
  if (timeWindow === undefined) return [];
  if (!isObject(timeWindow)) return [[path, 'must be a mapping: {type, window, windowAdvance, deadline, startTime, endTime}']];
  const problems: ConditionProblem[] = [];
  const type = timeWindow.type ?? 'DURATION_WINDOW';
  if (!WINDOW_TYPES.includes(type as never)) return [[[...path, 'type'], oneOf(WINDOW_TYPES, type)]];
  const reads = WINDOW_PROPERTIES[type as (typeof WINDOW_TYPES)[number]];
  for (const key of Object.keys(timeWindow)) {
    if (key === 'type') continue;
    if (key === 'timezone') {
      if (timeWindow.timezone !== 'UTC' && timeWindow.timezone !== 'Etc/UTC') problems.push([[...path, key], `Sluice computes windows in UTC: only UTC is accepted, got ${JSON.stringify(timeWindow.timezone)}`]);
      continue;
    }
    if (!reads.includes(key)) problems.push([[...path, key], `is not read by a ${String(type)} window (it reads ${reads.join(', ')})`]);
  }
  problems.push(...durationProblems(timeWindow, 'window', path), ...durationProblems(timeWindow, 'windowAdvance', path));
  for (const key of ['startTime', 'endTime', 'deadline']) {
    if (!reads.includes(key)) continue;
    const time = timeWindow[key];
    if (typeof time !== 'string' || !LOCAL_TIME.test(time)) problems.push([[...path, key], `is required for a ${String(type)} window: a time of day HH:mm or HH:mm:ss (UTC), got ${JSON.stringify(time)}`]);
  }
  if (type === 'DAILY_TIME_WINDOW' && problems.length === 0 && timeOfDay(timeWindow.startTime as string) >= timeOfDay(timeWindow.endTime as string)) {
    problems.push([[...path, 'endTime'], 'must be after startTime (a daily window lies within one day)']);
  }
  return problems;
}

function resetProblems(owner: Json, path: Path): ConditionProblem[] {
  return owner.resetOnSuccess === undefined || typeof owner.resetOnSuccess === 'boolean' ? [] : [[[...path, 'resetOnSuccess'], 'must be true or false']];
}

/** Kestra's MultipleCondition: `id`, `conditions` (name → condition), `timeWindow`, `resetOnSuccess`, legacy `window`/`windowAdvance`. */
function multipleConditionProblems(condition: Json, path: Path): ConditionProblem[] {
  const problems: ConditionProblem[] = [...idProblems(condition.id, [...path, 'id']), ...timeWindowProblems(condition.timeWindow, [...path, 'timeWindow']), ...resetProblems(condition, path)];
  problems.push(...durationProblems(condition, 'window', path), ...durationProblems(condition, 'windowAdvance', path));
  if (isObject(condition.timeWindow) && (condition.window !== undefined || condition.windowAdvance !== undefined) && (condition.timeWindow.type ?? 'DURATION_WINDOW') !== 'DURATION_WINDOW') {
    problems.push([[...path, condition.window !== undefined ? 'window' : 'windowAdvance'], 'applies to a DURATION_WINDOW only: set it in timeWindow']);
  }
  if (!isObject(condition.conditions) || Object.keys(condition.conditions).length === 0) {
    problems.push([[...path, 'conditions'], 'is required: a mapping of names to conditions, each of which must hold once in the window']);
    return problems;
  }
  for (const [name, sub] of Object.entries(condition.conditions)) {
    for (const [subPath, reason] of executionConditionProblems([sub], [...path, 'conditions', name], { owner: 'a MultipleCondition' })) {
      // executionConditionProblems names the entry by its index in the list it was given: here, by its name.
      problems.push([[...path, 'conditions', name, ...subPath.slice(path.length + 3)], reason]);
    }
  }
  return problems;
}

function preconditionsProblems(preconditions: unknown, path: Path): ConditionProblem[] {
  if (!isObject(preconditions)) return [[path, 'must be a mapping: {id, timeWindow, resetOnSuccess, flows, where}']];
  const problems: ConditionProblem[] = [...idProblems(preconditions.id, [...path, 'id']), ...timeWindowProblems(preconditions.timeWindow, [...path, 'timeWindow']), ...resetProblems(preconditions, path)];
  const { flows, where } = preconditions;
  if (flows !== undefined && !Array.isArray(flows)) problems.push([[...path, 'flows'], 'must be a list of {namespace, flowId, states, labels}']);
  if (where !== undefined && !Array.isArray(where)) problems.push([[...path, 'where'], 'must be a list of {id, operand, filters}']);
  const flowList = Array.isArray(flows) ? flows : [];
  const whereList = Array.isArray(where) ? where : [];
  if (flowList.length + whereList.length === 0 && problems.length === 0) {
    problems.push([path, 'needs at least one entry in flows or where: each must be satisfied once in the window']);
  }
  flowList.forEach((entry, i) => problems.push(...upstreamFlowProblems(entry, [...path, 'flows', i])));
  const whereIds = new Set<string>();
  whereList.forEach((entry, i) => {
    problems.push(...whereProblems(entry, [...path, 'where', i]));
    if (isObject(entry) && typeof entry.id === 'string') {
      if (whereIds.has(entry.id)) problems.push([[...path, 'where', i, 'id'], `${JSON.stringify(entry.id)} is already the id of another where entry`]);
      whereIds.add(entry.id);
    }
  });
  return problems;
}

function upstreamFlowProblems(entry: unknown, path: Path): ConditionProblem[] {
  if (!isObject(entry)) return [[path, 'must be a mapping: {namespace, flowId, states, labels}']];
  const problems: ConditionProblem[] = [];
  if (typeof entry.namespace !== 'string' || entry.namespace.trim() === '') problems.push([[...path, 'namespace'], `is required: a non-empty string, got ${JSON.stringify(entry.namespace)}`]);
  if (entry.flowId !== undefined && (typeof entry.flowId !== 'string' || entry.flowId.trim() === '')) problems.push([[...path, 'flowId'], `must be a non-empty string, got ${JSON.stringify(entry.flowId)}`]);
  if (entry.states !== undefined) {
    if (!Array.isArray(entry.states)) problems.push([[...path, 'states'], 'must be a list of end states']);
    else {
      entry.states.forEach((state, j) => {
        if (!FLOW_TRIGGER_END_STATES.includes(state as never)) problems.push([[...path, 'states', j], `${oneOf(FLOW_TRIGGER_END_STATES, state)} (Sluice evaluates an upstream execution when it ends)`]);
      });
    }
  }
  if (entry.labels !== undefined && !isObject(entry.labels)) problems.push([[...path, 'labels'], 'must be a mapping of label keys to values']);
  return problems;
}

function whereProblems(entry: unknown, path: Path): ConditionProblem[] {
  if (!isObject(entry)) return [[path, 'must be a mapping: {id, operand, filters}']];
  const problems: ConditionProblem[] = [];
  if (typeof entry.id !== 'string' || entry.id.trim() === '') problems.push([[...path, 'id'], `is required: a non-empty string, got ${JSON.stringify(entry.id)}`]);
  if (entry.operand !== undefined && entry.operand !== 'AND' && entry.operand !== 'OR') problems.push([[...path, 'operand'], oneOf(['AND', 'OR'], entry.operand)]);
  if (!Array.isArray(entry.filters) || entry.filters.length === 0) {
    problems.push([[...path, 'filters'], 'is required: a non-empty list of {field, type, value | values}']);
    return problems;
  }
  entry.filters.forEach((filter, j) => problems.push(...filterProblems(filter, [...path, 'filters', j])));
  return problems;
}

function filterProblems(filter: unknown, path: Path): ConditionProblem[] {
  if (!isObject(filter)) return [[path, 'must be a mapping: {field, type, value | values}']];
  const problems: ConditionProblem[] = [];
  if (!FILTER_FIELDS.includes(filter.field as never)) problems.push([[...path, 'field'], oneOf(FILTER_FIELDS, filter.field)]);
  if (!FILTER_TYPES.includes(filter.type as never)) {
    problems.push([[...path, 'type'], oneOf(FILTER_TYPES, filter.type)]);
    return problems;
  }
  const type = filter.type as string;
  if (LIST_FILTER_TYPES.includes(type)) {
    if (!Array.isArray(filter.values)) problems.push([[...path, 'values'], `is required for ${type}: a list of values`]);
    if (filter.value !== undefined) problems.push([[...path, 'value'], `must not be set for ${type} (it reads values)`]);
  } else {
    if (typeof filter.value !== 'string') problems.push([[...path, 'value'], `is required for ${type}: a string, got ${JSON.stringify(filter.value)}`]);
    if (filter.values !== undefined) problems.push([[...path, 'values'], `must not be set for ${type} (it reads value)`]);
    if (type === 'REGEX' && typeof filter.value === 'string') {
      try {
        new RegExp(filter.value, 'u');
      } catch (error) {
        problems.push([[...path, 'value'], `is not a regular expression: ${error instanceof Error ? error.message : String(error)}`]);
      }
    }
  }
  if (filter.field === 'EXPRESSION' && LIST_FILTER_TYPES.includes(type)) {
    problems.push([[...path, 'type'], `an EXPRESSION filter renders its value, which ${type} does not allow: use IS_TRUE or IS_FALSE`]);
  }
  return problems;
}
