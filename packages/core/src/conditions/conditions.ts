/**
 * Kestra's execution conditions (`io.kestra.plugin.core.condition.*`), evaluated against one execution: the Webhook
 * trigger tests them against the execution it is about to create, the Flow trigger against the upstream execution
 * that ended. Pure: everything it reads comes in a {@link ConditionContext}, templates included (its `render`).
 *
 * | condition | properties | true when |
 * |---|---|---|
 * | `ExecutionStatus` | `in[]`, `notIn[]` | the execution's state is in `in` (when given) and not in `notIn` (when given) |
 * | `ExecutionFlow` | `namespace`, `flowId` (both required) | the execution belongs to that flow |
 * | `ExecutionNamespace` | `namespace`; `comparison` EQUALS, PREFIX or SUFFIX; legacy `prefix` (bool) | the execution's namespace compares so (a string test, not dot-aware); without `comparison`, PREFIX when `prefix` is true, else EQUALS |
 * | `ExecutionLabels` | `labels` (a list of `{key, value}` or a map) | the execution carries every pair, exactly |
 * | `Expression` | `expression` | it renders to a text that is not blank and, trimmed, not `false` (`0` is true here, unlike If) |
 * | `ExecutionOutputs` | `expression` | the execution has outputs and the expression holds, as `Expression` |
 * | `Not` / `Or` | `conditions[]` | none holds / any holds |
 * | `FlowCondition`, `FlowNamespaceCondition` (deprecated) | `namespace`, `flowId` / `namespace`, `prefix` | the same tests on the **triggered** flow |
 *
 * Each name is also accepted with the `Condition` suffix and in Kestra's older package
 * (`io.kestra.core.models.conditions.types.ExecutionStatusCondition`); `Expression` also as `ExpressionCondition`
 * and the old `VariableCondition`. A condition that throws (a template that fails, a missing property) counts as
 * false, as in Kestra. `MultipleCondition` holds state over a time window: the caller evaluates it, not this module
 * ({@link isMultipleCondition}); here it is false.
 */

/** The conditions this module evaluates, by canonical name. */
export const EXECUTION_CONDITIONS = [
  'ExecutionStatus',
  'ExecutionFlow',
  'ExecutionNamespace',
  'ExecutionLabels',
  'Expression',
  'ExecutionOutputs',
  'Not',
  'Or',
  'FlowCondition',
  'FlowNamespaceCondition',
] as const;
export type ExecutionConditionName = (typeof EXECUTION_CONDITIONS)[number];

const PACKAGES = ['io.kestra.plugin.core.condition.', 'io.kestra.core.models.conditions.types.'];

/** Names other than `<Name>` and `<Name>Condition` a condition is known by (lower-cased). */
const OTHER_NAMES: Readonly<Record<string, ExecutionConditionName>> = {
  variablecondition: 'Expression',
  variable: 'Expression',
  flow: 'FlowCondition',
  flownamespace: 'FlowNamespaceCondition',
};

const NAMESPACE_COMPARISONS = ['EQUALS', 'PREFIX', 'SUFFIX'] as const;

/** The simple name of a condition type of either Kestra package, or undefined for another type. */
function simpleName(type: unknown): string | undefined {
  if (typeof type !== 'string') return undefined;
  const prefix = PACKAGES.find((p) => type.toLowerCase().startsWith(p));
  return prefix ? type.slice(prefix.length) : undefined;
}

/** The condition a `type` names (any of its aliases, case-insensitive), if this module evaluates it. */
export function executionConditionName(type: unknown): ExecutionConditionName | undefined {
  const name = simpleName(type)?.toLowerCase();
  if (name === undefined) return undefined;
  const other = OTHER_NAMES[name];
  if (other) return other;
  return EXECUTION_CONDITIONS.find((n) => n.toLowerCase() === name || `${n.toLowerCase()}condition` === name);
}

/** Kestra's `MultipleCondition` (`io.kestra.core.models.conditions.types.MultipleCondition` or the new package). */
export function isMultipleCondition(condition: unknown): boolean {
  const type = (condition as { type?: unknown } | null)?.type;
  return simpleName(type)?.toLowerCase() === 'multiplecondition';
}

/** One label, as executions carry them. */
export interface ConditionLabel {
  readonly key: string;
  readonly value: string;
}

/** What a condition is tested against. Plain data and one function: no database, no clock. */
export interface ConditionContext {
  /** The execution the conditions are about (the new one for a Webhook, the upstream one for a Flow trigger). */
  readonly execution: {
    readonly id: string;
    readonly namespace: string;
    readonly flowId: string;
    readonly state: string;
    readonly labels: readonly ConditionLabel[];
    /** Its flow outputs (`ExecutionOutputs`); absent or empty when it has none. */
    readonly outputs?: Record<string, unknown>;
  };
  /** The flow whose trigger holds the conditions. */
  readonly flow: { readonly namespace: string; readonly id: string };
  /** The trigger's variables, for the caller's `render` (not read here). */
  readonly trigger?: unknown;
  /** Render a template with the variables the caller chose (`trigger.*`, `execution.*`, `flow.*`...). */
  readonly render: (template: string) => Promise<string>;
}

type Condition = Record<string, unknown>;

const strings = (value: unknown): string[] | undefined => (Array.isArray(value) ? value.map(String) : undefined);

/** A `labels` property as pairs: a list of `{key, value}` or a map (values compared as text). */
function labelPairs(value: unknown): ConditionLabel[] {
  if (Array.isArray(value)) {
    return value.map((entry) => {
      const { key, value: v } = (entry ?? {}) as { key?: unknown; value?: unknown };
      return { key: String(key), value: String(v) };
    });
  }
  if (value !== null && typeof value === 'object') return Object.entries(value).map(([key, v]) => ({ key, value: String(v) }));
  throw new Error('labels must be a list or a map');
}

/** Kestra's Expression truthiness: not blank, and not `false` once trimmed (`0`, `False` and `null` are true). */
export function isConditionTrue(rendered: string): boolean {
  const trimmed = rendered.trim();
  return trimmed !== '' && trimmed !== 'false';
}

function namespaceMatches(actual: string, expected: string, comparison: string): boolean {
  switch (comparison) {
    case 'PREFIX':
      return actual.startsWith(expected);
    case 'SUFFIX':
      return actual.endsWith(expected);
    default:
      return actual === expected;
  }
}

function required(condition: Condition, key: string): string {
  const value = condition[key];
  if (typeof value !== 'string') throw new Error(`${key} is required`);
  return value;
}

/** Whether one condition holds; throws when it cannot be evaluated (the caller counts that as false). */
async function holds(condition: Condition, context: ConditionContext, depth: number): Promise<boolean> {
  if (depth > 32) throw new Error('conditions nested too deeply');
  const { execution, flow } = context;
  switch (executionConditionName(condition.type)) {
    case 'ExecutionStatus': {
      const within = strings(condition.in);
      const without = strings(condition.notIn);
      return (within === undefined || within.includes(execution.state)) && (without === undefined || !without.includes(execution.state));
    }
    case 'ExecutionFlow':
      return execution.namespace === required(condition, 'namespace') && execution.flowId === required(condition, 'flowId');
    case 'ExecutionNamespace': {
      const comparison = typeof condition.comparison === 'string' ? condition.comparison : condition.prefix === true ? 'PREFIX' : 'EQUALS';
      return namespaceMatches(execution.namespace, required(condition, 'namespace'), comparison);
    }
    case 'ExecutionLabels': {
      const wanted = labelPairs(condition.labels);
      return wanted.every((w) => execution.labels.some((l) => l.key === w.key && l.value === w.value));
    }
    case 'Expression':
      return isConditionTrue(await context.render(required(condition, 'expression')));
    case 'ExecutionOutputs':
      if (execution.outputs === undefined || Object.keys(execution.outputs).length === 0) return false;
      return isConditionTrue(await context.render(required(condition, 'expression')));
    case 'Not':
      return !(await anyHolds(condition.conditions, context, depth));
    case 'Or':
      return anyHolds(condition.conditions, context, depth);
    case 'FlowCondition':
      return flow.namespace === required(condition, 'namespace') && flow.id === required(condition, 'flowId');
    case 'FlowNamespaceCondition':
      return namespaceMatches(flow.namespace, required(condition, 'namespace'), condition.prefix === true ? 'PREFIX' : 'EQUALS');
    default:
      return false;
  }
}

async function anyHolds(conditions: unknown, context: ConditionContext, depth: number): Promise<boolean> {
  if (!Array.isArray(conditions)) throw new Error('conditions must be a list');
  for (const nested of conditions) if (await evaluate(nested, context, depth + 1)) return true;
  return false;
}

async function evaluate(condition: unknown, context: ConditionContext, depth: number): Promise<boolean> {
  if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) return false;
  try {
    return await holds(condition as Condition, context, depth);
  } catch {
    return false; // Kestra: a condition that fails does not hold
  }
}

/** Whether one condition holds for the context; one that throws does not. */
export async function evaluateCondition(condition: unknown, context: ConditionContext): Promise<boolean> {
  return evaluate(condition, context, 0);
}

/** Whether every condition holds (none given: true), tested in order and stopping at the first that does not. */
export async function evaluateConditions(conditions: readonly unknown[] | undefined, context: ConditionContext): Promise<boolean> {
  for (const condition of conditions ?? []) if (!(await evaluate(condition, context, 0))) return false;
  return true;
}

/** Where a problem is in the flow and what it is. */
export type ConditionProblem = [path: (string | number)[], message: string];

export interface ConditionCheckOptions {
  /** What holds the conditions, for the messages: `a Webhook trigger`. */
  readonly owner: string;
  /** Whether `MultipleCondition` is allowed (the Flow trigger evaluates it itself). Default false. */
  readonly allowMultiple?: boolean;
}

const isStringList = (value: unknown): boolean => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** Problems of one condition's own properties (the type is known). */
function propertyProblems(name: ExecutionConditionName, c: Condition, path: (string | number)[]): ConditionProblem[] {
  const problems: ConditionProblem[] = [];
  const needString = (key: string): void => {
    if (typeof c[key] !== 'string' || (c[key] as string).trim() === '') problems.push([[...path, key], `is required: a non-empty string, got ${JSON.stringify(c[key])}`]);
  };
  switch (name) {
    case 'ExecutionStatus':
      for (const key of ['in', 'notIn']) if (c[key] !== undefined && !isStringList(c[key])) problems.push([[...path, key], 'must be a list of states']);
      break;
    case 'ExecutionFlow':
    case 'FlowCondition':
      needString('namespace');
      needString('flowId');
      break;
    case 'ExecutionNamespace':
    case 'FlowNamespaceCondition':
      needString('namespace');
      if (c.comparison !== undefined && !NAMESPACE_COMPARISONS.includes(c.comparison as never)) {
        problems.push([[...path, 'comparison'], `must be one of ${NAMESPACE_COMPARISONS.join(', ')}, got ${JSON.stringify(c.comparison)}`]);
      }
      if (c.prefix !== undefined && typeof c.prefix !== 'boolean') problems.push([[...path, 'prefix'], 'must be true or false']);
      break;
    case 'ExecutionLabels':
      if (c.labels === null || typeof c.labels !== 'object') problems.push([[...path, 'labels'], 'is required: a list of {key, value} or a map']);
      break;
    case 'Expression':
    case 'ExecutionOutputs':
      needString('expression');
      break;
    case 'Not':
    case 'Or':
      if (!Array.isArray(c.conditions) || c.conditions.length === 0) problems.push([[...path, 'conditions'], 'must be a non-empty list of conditions']);
      break;
  }
  return problems;
}

/**
 * Problems of a list of conditions (each with its YAML path, under `path`), for flow validation: an unknown type, a
 * missing or malformed property, a `MultipleCondition` where it is not allowed. Empty when every one can be evaluated.
 */
export function executionConditionProblems(conditions: unknown, path: (string | number)[], options: ConditionCheckOptions): ConditionProblem[] {
  if (conditions === undefined) return [];
  if (!Array.isArray(conditions)) return [[path, 'must be a list of conditions']];
  return conditions.flatMap((condition, i) => conditionProblems(condition, [...path, i], options, 0));
}

function conditionProblems(condition: unknown, path: (string | number)[], options: ConditionCheckOptions, depth: number): ConditionProblem[] {
  if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) return [[path, 'must be a condition (a mapping with a type)']];
  if (depth > 32) return [[path, 'conditions are nested too deeply (at most 32 levels)']];
  const c = condition as Condition;
  if (isMultipleCondition(c)) {
    if (options.allowMultiple) return [];
    return [[[...path, 'type'], `MultipleCondition is not allowed on ${options.owner}: it needs a window of upstream executions, which ${options.owner} does not have`]];
  }
  const name = executionConditionName(c.type);
  if (!name) {
    return [[[...path, 'type'], `condition type ${JSON.stringify(c.type)} is not supported on ${options.owner} (supported: ${EXECUTION_CONDITIONS.join(', ')})`]];
  }
  const problems = propertyProblems(name, c, path);
  if ((name === 'Not' || name === 'Or') && Array.isArray(c.conditions)) {
    c.conditions.forEach((nested, i) => problems.push(...conditionProblems(nested, [...path, 'conditions', i], options, depth + 1)));
  }
  return problems;
}
