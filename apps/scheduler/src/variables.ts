/**
 * Template variables of an execution and of one of its task runs, Kestra's way (docs/execution.md, "Expressions
 * inside loops and branches"). Shared by the scheduler (jobs, flowable expressions, flow outputs) and `sluice run`.
 *
 * - `outputs.<taskId>`: a run's outputs; a run inside loops is indexed by the values of its ancestors (outermost
 *   first) and its own: `outputs.t[value]`, `outputs.t[outer][inner]`. Runs of one task id are merged.
 * - `taskrun`: `{id, startDate, value, iteration, parentId}`; `parents`: the ancestors that have a value or outputs, closest
 *   first, each `{taskrun: {value}, outputs}`; `parent` = `parents[0]`.
 * - `labels`: the flow's, then the execution's; dotted keys are also nested (`labels.system.correlationId`), and
 *   `system.correlationId` is the execution's id unless a label sets it.
 */
import { CORRELATION_ID_LABEL, flowLabels, isRecord, mergeRecords, renderValue } from '@sluice/core';
import type { Flow } from '@sluice/core';
import type { Evaluation } from '@sluice/engine';

/** The execution as template variables see it (`execution`, `flow.revision`, `inputs`, `labels`). */
export interface VariableScope {
  readonly id: string;
  readonly flowRevision: number;
  readonly startDate: Date;
  readonly state: string;
  readonly inputs: Record<string, unknown>;
  readonly labels: readonly { key: string; value: string }[];
  /** The trigger that started it, if one did: its variables are `trigger.*`. */
  readonly trigger?: { readonly variables: Record<string, unknown> } | null;
}

/** What variables need of a task run. */
export interface VariableRun {
  readonly id: string;
  readonly taskId: string;
  readonly state: string;
  readonly outputs: unknown;
  readonly parentTaskRunId?: string | null;
  readonly value?: string | null;
  readonly iteration?: number | null;
  /** Its state history, oldest first: `taskrun.startDate` is the first entry's date (when it was created), as in Kestra. */
  readonly stateHistory?: readonly { readonly date: string }[];
}

function hasOutputs(run: VariableRun): run is VariableRun & { outputs: Record<string, unknown> } {
  return isRecord(run.outputs) && Object.keys(run.outputs).length > 0 && run.state !== 'CREATED';
}

/** Every run's outputs by task id, indexed by loop values (see the file's comment). */
export function executionOutputs(runs: readonly VariableRun[]): Record<string, unknown> {
  const byId = new Map<string, VariableRun>();
  for (const run of runs) byId.set(run.id, run);
  const outputs: Record<string, unknown> = {};
  for (const run of runs) {
    if (!hasOutputs(run)) continue;
    const path: string[] = [];
    let ancestor = run.parentTaskRunId ? byId.get(run.parentTaskRunId) : undefined;
    for (let depth = 0; ancestor && depth < 64; depth++) {
      if (ancestor.value !== null && ancestor.value !== undefined) path.unshift(ancestor.value);
      ancestor = ancestor.parentTaskRunId ? byId.get(ancestor.parentTaskRunId) : undefined;
    }
    if (run.value !== null && run.value !== undefined) path.push(run.value);
    let node: Record<string, unknown> = outputs;
    let key = run.taskId;
    for (const segment of path) {
      const next = isRecord(node[key]) ? (node[key] as Record<string, unknown>) : {};
      node[key] = next;
      node = next;
      key = segment;
    }
    node[key] = mergeRecords(isRecord(node[key]) ? { ...(node[key] as Record<string, unknown>) } : {}, run.outputs);
  }
  return outputs;
}

/** Labels as a map, dotted keys nested too; `system.correlationId` defaults to the execution's id. */
export function labelVariables(flow: Flow, execution: VariableScope): Record<string, unknown> {
  const labels: Record<string, unknown> = {};
  const all = [...flowLabels(flow), ...execution.labels];
  if (!all.some((label) => label.key === CORRELATION_ID_LABEL)) all.unshift({ key: CORRELATION_ID_LABEL, value: execution.id });
  for (const label of all) labels[label.key] = label.value;
  for (const label of all) {
    const parts = label.key.split('.');
    if (parts.length < 2) continue;
    let node = labels;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (next !== undefined && !isRecord(next)) {
        node = {};
        break;
      }
      node[part] = next ?? {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1] as string] = label.value;
  }
  return labels;
}

/**
 * Template variables of the execution: inputs, outputs (see {@link executionOutputs}), vars, flow, execution,
 * labels and, when a trigger started it, `trigger`. Pass `outputs` when already computed for these runs.
 */
export function templateVariables(flow: Flow, execution: VariableScope, runs: readonly VariableRun[], outputs?: Record<string, unknown>): Record<string, unknown> {
  return {
    inputs: execution.inputs,
    outputs: outputs ?? executionOutputs(runs),
    vars: flow.variables ?? {},
    flow: { id: flow.id, namespace: flow.namespace, revision: execution.flowRevision },
    execution: { id: execution.id, startDate: execution.startDate.toISOString(), state: execution.state },
    labels: labelVariables(flow, execution),
    ...(execution.trigger ? { trigger: execution.trigger.variables } : {}),
  };
}

/** The execution's variables plus those of one run: `taskrun`, `parents` and `parent`. */
export function runVariables(base: Record<string, unknown>, run: VariableRun, byId: ReadonlyMap<string, VariableRun>): Record<string, unknown> {
  const parents: Record<string, unknown>[] = [];
  let ancestor = run.parentTaskRunId ? byId.get(run.parentTaskRunId) : undefined;
  for (let depth = 0; ancestor && depth < 64; depth++) {
    const entry: Record<string, unknown> = {};
    if (ancestor.value !== null && ancestor.value !== undefined) entry.taskrun = { value: ancestor.value };
    if (hasOutputs(ancestor)) entry.outputs = ancestor.outputs;
    if (Object.keys(entry).length > 0) parents.push(entry);
    ancestor = ancestor.parentTaskRunId ? byId.get(ancestor.parentTaskRunId) : undefined;
  }
  return {
    ...base,
    taskrun: {
      id: run.id,
      ...(run.stateHistory?.[0] ? { startDate: run.stateHistory[0].date } : {}),
      ...(run.value !== null && run.value !== undefined ? { value: run.value } : {}),
      ...(run.iteration !== null && run.iteration !== undefined ? { iteration: run.iteration } : {}),
      ...(run.parentTaskRunId ? { parentId: run.parentTaskRunId } : {}),
    },
    ...(parents.length > 0 ? { parents, parent: parents[0] } : {}),
  };
}

const NO_SECRETS = {
  secret: () => {
    throw new Error('secret() is not available in a flowable task\'s expressions: the scheduler never reads secrets');
  },
};

/** Render an expression for the engine (a flowable's condition, values...): its value, or why it failed. */
export async function evaluate(expression: unknown, variables: Record<string, unknown>, now: Date): Promise<Evaluation> {
  try {
    return { value: await renderValue(expression, variables, { now: () => now, functions: NO_SECRETS }) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
