/**
 * The Subflow task (`io.kestra.plugin.core.flow.Subflow`, legacy `io.kestra.core.tasks.flows.Subflow` and `...Flow`):
 * the pure parts of what the scheduler does with it (issue #18; docs/execution.md, "Subflows").
 *
 * The scheduler starts it instead of sending it to a worker: it renders `namespace`, `flowId`, `inputs`, `labels`,
 * `revision` and `scheduleDate` with the parent run's variables, checks the chain of parents for a cycle or too deep a
 * nesting, types the inputs against the child flow's, and stores the child execution (CREATED) in the parent's step.
 * With `wait` (the default) the task run stays RUNNING until the child ends: the child's end writes a result in the
 * transaction that ends it (`subflow_results`), and the parent's next step applies it (state and outputs).
 */
import { CORRELATION_ID_LABEL } from '@sluice/core';
import type { Evaluation } from '@sluice/engine';

/** How many executions deep a chain of waiting subflows may go: the parent at depth 1, its child at 2, and so on. */
export const SUBFLOW_MAX_DEPTH = 10;

/** Kestra's task properties, as the scheduler reads them (the dynamic ones rendered). */
export interface SubflowSpec {
  readonly namespace: string;
  readonly flowId: string;
  readonly revision?: number;
  readonly inputs: Record<string, unknown>;
  readonly labels: { key: string; value: string }[];
  readonly wait: boolean;
  readonly transmitFailed: boolean;
  readonly inheritLabels: boolean;
  readonly scheduleDate?: Date;
}

const SYSTEM_PREFIX = 'system.';

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A boolean property: literal, or rendered text "true"/"false". */
function flag(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  const text = asText(value).trim().toLowerCase();
  return text === '' ? fallback : text === 'true';
}

/** The rendered labels: a map, or a list of `{key, value}`; `system.` keys refused. */
function labelList(value: unknown): { key: string; value: string }[] | string {
  if (value === undefined || value === null) return [];
  const entries: [string, unknown][] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item !== 'object' || item === null || !('key' in item)) return 'labels: a list entry is not {key, value}';
      entries.push([asText((item as { key: unknown }).key), (item as { value?: unknown }).value]);
    }
  } else if (typeof value === 'object') {
    entries.push(...Object.entries(value as Record<string, unknown>));
  } else {
    return 'labels: expected a map of labels or a list of {key, value}';
  }
  const labels: { key: string; value: string }[] = [];
  for (const [key, label] of entries) {
    if (key === '') return 'labels: a label key is empty';
    if (key.startsWith(SYSTEM_PREFIX)) return `labels: label "${key}" cannot be set by a task: labels starting with "${SYSTEM_PREFIX}" are reserved`;
    labels.push({ key, value: asText(label) });
  }
  return labels;
}

/**
 * The task's properties from its rendered dynamic ones (`rendered`: namespace, flowId, inputs, labels, scheduleDate,
 * revision, each a value or the error rendering raised) and its literal ones. Returns the reason it cannot start.
 */
export function subflowSpec(task: Readonly<Record<string, unknown>>, rendered: Readonly<Record<string, Evaluation>>): SubflowSpec | { error: string } {
  for (const [key, result] of Object.entries(rendered)) if ('error' in result) return { error: `${key}: ${result.error}` };
  const value = (key: string): unknown => {
    const result = rendered[key];
    return result && 'value' in result ? result.value : undefined;
  };
  const namespace = asText(value('namespace')).trim();
  const flowId = asText(value('flowId')).trim();
  if (namespace === '') return { error: 'namespace: it renders to nothing' };
  if (flowId === '') return { error: 'flowId: it renders to nothing' };
  let inputs = value('inputs');
  // A whole map given as one expression renders to its JSON text.
  if (typeof inputs === 'string' && inputs.trim().startsWith('{')) {
    try {
      inputs = JSON.parse(inputs) as unknown;
    } catch {
      return { error: 'inputs: the rendered text is not a JSON object' };
    }
  }
  if (inputs !== undefined && inputs !== null && (typeof inputs !== 'object' || Array.isArray(inputs))) return { error: 'inputs: expected a map of input id to value' };
  const labels = labelList(value('labels'));
  if (typeof labels === 'string') return { error: labels };
  let revision: number | undefined;
  const rawRevision = value('revision');
  if (rawRevision !== undefined && rawRevision !== null && rawRevision !== '') {
    revision = Number(rawRevision);
    if (!Number.isInteger(revision) || revision < 1) return { error: `revision: expected an integer of 1 or more, got ${JSON.stringify(rawRevision)}` };
  }
  let scheduleDate: Date | undefined;
  const rawDate = value('scheduleDate');
  if (rawDate !== undefined && rawDate !== null && rawDate !== '') {
    scheduleDate = rawDate instanceof Date ? rawDate : new Date(asText(rawDate));
    if (Number.isNaN(scheduleDate.getTime())) return { error: `scheduleDate: not an ISO-8601 date-time: ${JSON.stringify(asText(rawDate))}` };
  }
  return {
    namespace,
    flowId,
    ...(revision !== undefined ? { revision } : {}),
    inputs: (inputs ?? {}) as Record<string, unknown>,
    labels,
    wait: flag(task.wait, true),
    transmitFailed: flag(task.transmitFailed, true),
    inheritLabels: flag(task.inheritLabels, false),
    ...(scheduleDate ? { scheduleDate } : {}),
  };
}

/** The properties the scheduler renders before it starts the child. */
export const SUBFLOW_DYNAMIC_PROPERTIES = ['namespace', 'flowId', 'inputs', 'labels', 'revision', 'scheduleDate'] as const;

/**
 * The child's labels, as Kestra builds them: the parent's `system.` labels (its correlation id goes on), or all of the
 * parent's with `inheritLabels`, then the task's own (they win on a shared key). A correlation id is added when none
 * came from the parent: the child's own id.
 */
export function childLabels(parent: readonly { key: string; value: string }[], own: readonly { key: string; value: string }[], inheritLabels: boolean, childId: string): { key: string; value: string }[] {
  const labels = new Map<string, string>();
  for (const label of parent) if (inheritLabels || label.key.startsWith(SYSTEM_PREFIX)) labels.set(label.key, label.value);
  for (const label of own) labels.set(label.key, label.value);
  if (!labels.has(CORRELATION_ID_LABEL)) labels.set(CORRELATION_ID_LABEL, childId);
  return [...labels].map(([key, value]) => ({ key, value }));
}

/**
 * Why starting `flowId` of `namespace` from the chain of waiting parents (the parent first) would run away: the flow is
 * already in the chain (a cycle), or the child would be deeper than {@link SUBFLOW_MAX_DEPTH}.
 */
export function chainProblem(chain: readonly { namespace: string; flowId: string; id: string }[], namespace: string, flowId: string, maxDepth = SUBFLOW_MAX_DEPTH): string | undefined {
  const path = (links: readonly { namespace: string; flowId: string }[]): string => links.map((link) => `${link.namespace}.${link.flowId}`).join(' → ');
  const outermostFirst = [...chain].reverse();
  const repeated = outermostFirst.findIndex((link) => link.namespace === namespace && link.flowId === flowId);
  if (repeated >= 0) {
    return `subflow cycle: ${path([...outermostFirst.slice(repeated), { namespace, flowId }])} (execution ${outermostFirst[repeated]?.id} already runs ${namespace}.${flowId}, and waits for this call)`;
  }
  if (chain.length + 1 > maxDepth) return `subflows nested too deep: ${path([...outermostFirst, { namespace, flowId }])} is ${chain.length + 1} executions deep, more than the ${maxDepth} allowed`;
  return undefined;
}

/**
 * The Subflow task run's final state from its child's (Kestra's): with `transmitFailed`, a FAILED, KILLED or WARNING
 * child passes its state on; otherwise, and for every other end, SUCCESS. (allowFailure and allowWarning then apply
 * to the run as to any task's.)
 */
export function subflowRunState(childState: string, transmitFailed: boolean): 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' {
  if (transmitFailed && (childState === 'FAILED' || childState === 'KILLED' || childState === 'WARNING')) return childState;
  return 'SUCCESS';
}

/**
 * The state of a ForEachItem's `_items` run once every child ended (Kestra's): without `transmitFailed`, SUCCESS;
 * otherwise the worst of the children's ends: FAILED, then KILLED, then WARNING, else SUCCESS.
 */
export function forEachItemState(iterations: Readonly<Record<string, number>>, transmitFailed: boolean): 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' {
  if (!transmitFailed) return 'SUCCESS';
  for (const state of ['FAILED', 'KILLED', 'WARNING'] as const) if ((iterations[state] ?? 0) > 0) return state;
  return 'SUCCESS';
}

/** The ends of child executions that count toward a ForEachItem's `numberOfBatches`. */
export const CHILD_END_STATES: readonly string[] = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED'];
