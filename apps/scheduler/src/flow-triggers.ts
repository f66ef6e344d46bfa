/**
 * Flow triggers (`io.kestra.plugin.core.trigger.Flow`, alias `io.kestra.core.models.triggers.types.Flow`): a flow
 * starts when an execution of another flow ends in one of the trigger's `states` and its `conditions` hold for it.
 *
 * Exactly once per execution end, with any number of schedulers: the statement that ends an execution also notes it in
 * `execution_ends` (same transaction; only while some live flow declares a Flow trigger). Every scheduler runs this
 * loop: it takes the oldest ends with `FOR UPDATE SKIP LOCKED` (another scheduler takes others), evaluates every live
 * Flow trigger against them, stores the executions they start and deletes the ends, in one transaction. A scheduler
 * that dies mid-way leaves its transaction rolled back: the ends are taken again by whoever comes next. The new
 * executions are started once the transaction committed (a lost start message is found by the reconciliation of
 * CREATED executions).
 *
 * As in Kestra (docs/execution.md, "Flow triggers"):
 * - an execution never triggers its own flow; a disabled flow or trigger (in its YAML, or over the API) is not
 *   evaluated;
 * - `states` defaults to every end state;
 * - conditions and `inputs` see the triggered flow as `flow.*` and the upstream execution as `execution.*`,
 *   `outputs.*` (its flow outputs), `labels.*`, `inputs.*` (its inputs over the triggered flow's input defaults) and
 *   `trigger.*` (its own trigger's variables); inside `inputs` and `labels`, `trigger` is the upstream itself:
 *   `executionId`, `namespace`, `flowId`, `flowRevision`, `state` and `outputs`;
 * - the new execution's `trigger` is `{id, type, variables: {executionId, namespace, flowId, flowRevision, state}}`;
 * - inputs that cannot be rendered or typed start nothing: a WARN line in the scheduler's log says why;
 * - MultipleConditions and `preconditions` hold over a window of upstream ends (./multiple-conditions.ts): their
 *   windows are read and written on the transaction that takes the ends, so they change once per end too.
 */
import { CORRELATION_ID_LABEL, evaluateConditions, flowLabels, isMultipleCondition, mergeLabels, renderValue, resolveInputs } from '@sluice/core';
import type { ConditionContext, Flow, TriggerSpec } from '@sluice/core';
import type { ChildExecution, Db, EndedExecution, FlowTriggerWindowKey, FlowTriggerWindowStore, FlowWithFlowTrigger } from '@sluice/db';
import { newExecutionId } from '@sluice/db';
import type { QueueDriver } from '@sluice/queue';
import { memoryWindowStore, multipleConditionsOf, recordInWindow, settleWindow } from './multiple-conditions.js';
import type { MultipleConditionSpec, WindowEvaluation } from './multiple-conditions.js';

const FLOW_TRIGGER_TYPES = ['io.kestra.plugin.core.trigger.flow', 'io.kestra.core.models.triggers.types.flow'];
/** The type the new execution's `trigger` names, whichever alias the flow used. */
const FLOW_TRIGGER_TYPE = 'io.kestra.plugin.core.trigger.Flow';
const END_STATES = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED'];

function isFlowTrigger(trigger: TriggerSpec): boolean {
  return typeof trigger.type === 'string' && FLOW_TRIGGER_TYPES.includes(trigger.type.toLowerCase()) && trigger.disabled !== true;
}

/** `labels.*` of the upstream execution: its labels by key, dotted keys nested too (`labels.system.correlationId`). */
function labelVariables(labels: readonly { key: string; value: string }[]): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const { key, value } of labels) {
    variables[key] = value;
    const parts = key.split('.');
    if (parts.length < 2) continue;
    let node = variables;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== 'object' || next === null) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return variables;
}

/** The triggered flow's input defaults (literal ones), under the upstream's inputs. */
function inputDefaults(flow: Flow): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  for (const input of flow.inputs ?? []) if (input.defaults !== undefined && input.defaults !== null) defaults[input.id] = input.defaults;
  return defaults;
}

/** The variables conditions and `inputs` are rendered with (see the top of this file). */
function variablesFor(flow: FlowWithFlowTrigger, parsed: Flow, end: EndedExecution): Record<string, unknown> {
  return {
    flow: { id: parsed.id, namespace: parsed.namespace, revision: flow.revision },
    execution: { id: end.id, state: end.state, startDate: end.startDate.toISOString(), ...(end.endDate ? { endDate: end.endDate.toISOString() } : {}) },
    outputs: end.outputs ?? {},
    labels: labelVariables(end.labels),
    inputs: { ...inputDefaults(parsed), ...end.inputs },
    vars: parsed.variables ?? {},
    ...(end.trigger ? { trigger: end.trigger.variables } : {}),
  };
}

export interface TriggeredOptions {
  readonly now: () => Date;
  readonly log: (line: string) => void;
  readonly newId?: () => string;
  /**
   * The windows of MultipleConditions and `preconditions` (the scheduler's: on the transaction that takes the ends).
   * Default: windows in memory, for this call only.
   */
  readonly windows?: FlowTriggerWindowStore;
}

/** A trigger an end passed the `states` and plain `conditions` of, with what evaluating it further needs. */
interface Candidate {
  readonly end: EndedExecution;
  readonly flow: FlowWithFlowTrigger;
  readonly parsed: Flow;
  readonly trigger: TriggerSpec;
  readonly variables: Record<string, unknown>;
  readonly context: ConditionContext;
  readonly now: Date;
  readonly multiples: MultipleConditionSpec[];
}

const windowKey = (candidate: Candidate, spec: MultipleConditionSpec): FlowTriggerWindowKey => ({
  namespace: candidate.parsed.namespace,
  flowId: candidate.parsed.id,
  triggerId: candidate.trigger.id,
  conditionId: spec.id,
});

/** The triggers `ends` pass the `states` and plain conditions of: for each end, in order, each flow's in order. */
async function candidates(ends: readonly EndedExecution[], flows: readonly FlowWithFlowTrigger[], options: TriggeredOptions): Promise<Candidate[]> {
  const found: Candidate[] = [];
  for (const end of ends) {
    for (const flow of flows) {
      const parsed = flow.parsed as Flow;
      if (parsed.disabled === true) continue;
      // An execution never triggers its own flow.
      if (parsed.namespace === end.namespace && parsed.id === end.flowId) continue;
      for (const trigger of parsed.triggers ?? []) {
        if (!isFlowTrigger(trigger) || flow.disabledTriggers?.includes(trigger.id)) continue;
        const states = Array.isArray(trigger.states) ? (trigger.states as unknown[]).map(String) : END_STATES;
        if (!states.includes(end.state)) continue;
        const variables = variablesFor(flow, parsed, end);
        const now = options.now();
        const render = async (template: string): Promise<string> => {
          const value = await renderValue(template, variables, { now: () => now });
          return typeof value === 'string' ? value : JSON.stringify(value);
        };
        const context: ConditionContext = {
          execution: { id: end.id, namespace: end.namespace, flowId: end.flowId, state: end.state, labels: end.labels, ...(end.outputs ? { outputs: end.outputs } : {}) },
          flow: { namespace: parsed.namespace, id: parsed.id },
          trigger: variables.trigger,
          render,
        };
        const conditions = Array.isArray(trigger.conditions) ? (trigger.conditions as unknown[]).filter((c) => !isMultipleCondition(c)) : undefined;
        if (!(await evaluateConditions(conditions, context))) continue;
        found.push({ end, flow, parsed, trigger, variables, context, now, multiples: multipleConditionsOf(trigger) });
      }
    }
  }
  return found;
}

/**
 * The executions that `ends` start, by the Flow triggers of `flows` (pure but for `log`, the ids and the windows of
 * `options.windows`): for each end, in order, each flow's triggers in their order. A trigger with MultipleConditions
 * or `preconditions` records the end in their windows (apps/scheduler/src/multiple-conditions.ts) and starts its flow
 * when each of them holds; the windows it needs are locked first, all at once, in one order.
 */
export async function triggeredExecutions(ends: readonly EndedExecution[], flows: readonly FlowWithFlowTrigger[], options: TriggeredOptions): Promise<ChildExecution[]> {
  const created: ChildExecution[] = [];
  const newId = options.newId ?? newExecutionId;
  const windows = options.windows ?? memoryWindowStore();
  const found = await candidates(ends, flows, options);
  const keys = found.flatMap((candidate) => candidate.multiples.map((spec) => windowKey(candidate, spec)));
  if (keys.length > 0) await windows.lock(keys);
  for (const candidate of found) {
    const { end, flow, parsed, trigger, variables, now } = candidate;
    const evaluations: [MultipleConditionSpec, WindowEvaluation][] = [];
    for (const spec of candidate.multiples) {
      try {
        evaluations.push([spec, await recordInWindow(spec, windowKey(candidate, spec), candidate.context, windows, now)]);
      } catch (error) {
        // A window that cannot be computed (a malformed timeWindow saved before validation knew it) never holds.
        options.log(`scheduler: flow ${parsed.namespace}.${parsed.id}, trigger ${trigger.id}: condition ${spec.id}: ${error instanceof Error ? error.message : String(error)}`);
        evaluations.push([spec, { key: windowKey(candidate, spec), holds: false }]);
      }
    }
    const holds = evaluations.every(([, evaluation]) => evaluation.holds);
    for (const [spec, evaluation] of evaluations) await settleWindow(spec, evaluation, windows);
    if (!holds) continue;
    const where = `flow ${parsed.namespace}.${parsed.id}, trigger ${trigger.id}, upstream execution ${end.id}`;
    const upstream = { executionId: end.id, namespace: end.namespace, flowId: end.flowId, flowRevision: end.flowRevision, state: end.state };
    let inputs: Record<string, unknown>;
    let labels: { key: string; value: string }[];
    try {
      const withUpstream = { ...variables, trigger: { ...upstream, outputs: end.outputs ?? {} } };
      const given = (await renderValue(trigger.inputs ?? {}, withUpstream, { now: () => now })) as Record<string, unknown>;
      inputs = resolveInputs(parsed.inputs, given);
      const ownLabels = trigger.labels === undefined ? [] : flowLabels({ labels: (await renderValue(trigger.labels, withUpstream, { now: () => now })) as Flow['labels'] });
      labels = mergeLabels(flowLabels(parsed).filter((label) => !label.key.startsWith('system.')), ownLabels).map(({ key, value }) => ({ key, value }));
    } catch (error) {
      options.log(`scheduler: ${where}: nothing started: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const id = newId();
    // The chain of executions shares one correlation id: the upstream's.
    const correlation = end.labels.find((label) => label.key === CORRELATION_ID_LABEL)?.value ?? end.id;
    created.push({
      id,
      namespace: parsed.namespace,
      flowId: parsed.id,
      flowRevision: flow.revision,
      inputs,
      labels: [...labels.filter((label) => label.key !== CORRELATION_ID_LABEL), { key: CORRELATION_ID_LABEL, value: correlation }],
      trigger: { id: trigger.id, type: FLOW_TRIGGER_TYPE, variables: upstream },
      parentId: null,
      scheduleDate: null,
    });
  }
  if (keys.length > 0) await windows.deleteExpired(options.now());
  return created;
}

export interface FlowTriggerLoopOptions {
  readonly db: Db;
  readonly queue: QueueDriver;
  /** How often to look for ends when there were none. */
  readonly intervalMs: number;
  /** Ends taken per transaction. Default 100. */
  readonly batch?: number;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/** The loop every scheduler runs (see the top of this file). */
export class FlowTriggerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  /** An end was noted while a look ran: look again at once after it. */
  private again = false;
  /**
   * Whether some live flow declared a Flow trigger at the last look. While none does, no end is noted (the note is
   * conditional on one, in SQL), so an execution's end does not make the loop look at once; the looks at the interval
   * go on, and see the first Flow trigger saved.
   */
  private listening = true;

  constructor(private readonly options: FlowTriggerLoopOptions) {}

  start(): void {
    this.stopped = false;
    this.timer = setTimeout(() => this.run(), this.options.intervalMs);
  }

  private run(): void {
    this.running = this.drain()
      .catch((error: unknown) => this.options.log(`scheduler: Flow triggers: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        this.running = undefined;
        const again = this.again;
        this.again = false;
        if (!this.stopped) this.timer = setTimeout(() => this.run(), again ? 0 : this.options.intervalMs);
      });
  }

  /** Look for ends now (an execution just ended here), unless a look is running: it takes them. */
  poke(): void {
    if (this.stopped || !this.listening) return;
    // A look running now may have checked for ends just before this one committed: look again right after it.
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Take ends until none is left (or the loop stops); returns how many executions were started. */
  async drain(): Promise<number> {
    const { db, queue, log, now } = this.options;
    let started = 0;
    const state = await db.scheduler.executionEndsState();
    this.listening = state.listening;
    if (!state.ends) return 0;
    while (!this.stopped) {
      const created = await db.scheduler.takeExecutionEnds(this.options.batch ?? 100, (ends, flows, windows) => triggeredExecutions(ends, flows, { now, log, windows }), now);
      if (created === undefined) break;
      await Promise.all(created.map((execution) => queue.publishExecution({ type: 'created', executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId })));
      for (const execution of created) {
        const upstream = execution.trigger.variables as { executionId: string; state: string };
        log(`scheduler: execution ${execution.id} of ${execution.namespace}.${execution.flowId} started by Flow trigger ${execution.trigger.id} (upstream ${upstream.executionId} ended ${upstream.state})`);
      }
      started += created.length;
    }
    return started;
  }
}
