/**
 * An execution's task runs, indexed for the engine: children by parent, branch and iteration, each group with the
 * counts a decision needs (open, running, created, per final state), the runs still open, the flowable runs to
 * resolve and the paused ones. `upsert` keeps it current in constant time per run, so a caller that keeps the index
 * between decisions pays for what changed, and a decision costs what is open, not the execution's history: a ForEach
 * over 10,000 values decides as fast at its end as at its start.
 */
import type { Branch } from './flowables.js';
import type { FlowStructure, TaskNode } from './structure.js';
import type { EngineTaskRun, TaskRunStateName } from './types.js';

const OPEN_STATES: ReadonlySet<string> = new Set(['CREATED', 'RUNNING', 'RETRYING', 'KILLING', 'PAUSED']);

export function isOpenState(state: string): boolean {
  return OPEN_STATES.has(state);
}

/** The children of one flowable run in one branch (and, under a WaitFor, one iteration). */
export class ChildGroup {
  count = 0;
  /** Not ended: CREATED, RUNNING, RETRYING, KILLING, PAUSED. */
  open = 0;
  /** RUNNING or KILLING (Kestra's count for `concurrent`). */
  running = 0;
  created = 0;
  /** Ended runs by state; a SUCCESS after retries with `warningOnRetry` counts as WARNING. */
  readonly ended = new Map<string, number>();
  /** Runs in FAILED: a retry or allowFailure may still apply. */
  readonly failed = new Set<string>();
  /** The run of each task id (and value): `taskId` or `taskId\u0000value`. */
  readonly byTask = new Map<string, string>();
  /** ForEach with a concurrency limit: per value, runs created and open, and the values ready for their next task. */
  readonly perValue = new Map<string, { count: number; open: number }>();
  readonly readyValues = new Set<string>();
  finishedValues = 0;
  /** Tasks per value (the loop's enabled tasks), when the parent is a loop. */
  constructor(readonly tasksPerValue: number) {}

  endedCount(state: string): number {
    return this.ended.get(state) ?? 0;
  }
}

export function groupKey(parentId: string, branch: Branch, iteration: number | undefined): string {
  return `${parentId}\u0000${branch}\u0000${iteration ?? ''}`;
}

const ROOT = '';

export class RunIndex {
  readonly #runs = new Map<string, EngineTaskRun>();
  readonly #groups = new Map<string, ChildGroup>();
  /** Open runs, in creation order. */
  readonly open = new Set<string>();
  /** Flowable runs the engine resolves (RUNNING), in creation order. */
  readonly flowables = new Set<string>();
  readonly paused = new Set<string>();

  constructor(readonly structure: FlowStructure) {}

  /**
   * Index `runs`, parents before their children whatever their order: runs created in the same millisecond come back
   * from storage in any order, and a child's group needs its parent's task to count loop values.
   */
  static build(structure: FlowStructure, runs: readonly EngineTaskRun[]): RunIndex {
    const index = new RunIndex(structure);
    const byId = new Map(runs.map((run) => [run.id, run]));
    const add = (run: EngineTaskRun, depth: number): void => {
      if (index.#runs.has(run.id)) return;
      const parent = run.parentTaskRunId === undefined ? undefined : byId.get(run.parentTaskRunId);
      if (parent && depth < 64) add(parent, depth + 1);
      index.upsert(run);
    };
    for (const run of runs) add(run, 0);
    return index;
  }

  get size(): number {
    return this.#runs.size;
  }

  get(id: string): EngineTaskRun | undefined {
    return this.#runs.get(id);
  }

  node(run: EngineTaskRun): TaskNode | undefined {
    return this.structure.byId.get(run.taskId);
  }

  /** The group of `parentId`'s children (ROOT for top level), created empty when absent. */
  group(parentId: string | undefined, branch: Branch, iteration?: number): ChildGroup {
    const key = groupKey(parentId ?? ROOT, branch, iteration);
    let group = this.#groups.get(key);
    if (!group) {
      group = new ChildGroup(this.#tasksPerValue(parentId));
      this.#groups.set(key, group);
    }
    return group;
  }

  /** Insert or replace a run. Runs must arrive parents first (as they are created). */
  upsert(run: EngineTaskRun): void {
    const previous = this.#runs.get(run.id);
    if (previous) this.#account(previous, -1);
    this.#runs.set(run.id, run);
    this.#account(run, 1);
  }

  #tasksPerValue(parentId: string | undefined): number {
    if (parentId === undefined || parentId === ROOT) return 0;
    const parent = this.#runs.get(parentId);
    const node = parent ? this.structure.byId.get(parent.taskId) : undefined;
    return node?.main.length ?? 0;
  }

  #groupOf(run: EngineTaskRun): ChildGroup {
    const node = this.structure.byId.get(run.taskId);
    const parent = run.parentTaskRunId === undefined ? undefined : this.#runs.get(run.parentTaskRunId);
    // Only a WaitFor's children are grouped by iteration.
    const byIteration = parent !== undefined && this.structure.byId.get(parent.taskId)?.kind === 'WaitFor';
    return this.group(run.parentTaskRunId, node?.branch ?? 'main', byIteration ? run.iteration : undefined);
  }

  #effectiveState(run: EngineTaskRun): TaskRunStateName {
    if (run.state === 'SUCCESS' && run.attempt > 1 && this.structure.byId.get(run.taskId)?.retry?.warningOnRetry === true) return 'WARNING';
    return run.state;
  }

  #account(run: EngineTaskRun, sign: 1 | -1): void {
    const group = this.#groupOf(run);
    const state = this.#effectiveState(run);
    const open = OPEN_STATES.has(state);
    group.count += sign;
    if (open) group.open += sign;
    if (state === 'RUNNING' || state === 'KILLING') group.running += sign;
    if (state === 'CREATED') group.created += sign;
    if (!open) group.ended.set(state, (group.ended.get(state) ?? 0) + sign);
    const taskKey = run.value === undefined ? run.taskId : `${run.taskId}\u0000${run.value}`;
    if (state === 'FAILED') {
      if (sign > 0) group.failed.add(run.id);
      else group.failed.delete(run.id);
    }
    if (sign > 0) group.byTask.set(taskKey, run.id);
    else if (group.byTask.get(taskKey) === run.id) group.byTask.delete(taskKey);
    if (run.value !== undefined && group.tasksPerValue > 0) this.#accountValue(group, run.value, open, sign);

    // A WorkingDirectory's children are run and reported by its worker: the engine neither waits for nor cancels them.
    const node = this.structure.byId.get(run.taskId);
    const dynamic = run.parentTaskRunId !== undefined && (node === undefined || (node.parent?.kind === 'WorkingDirectory' && node.branch === 'main'));
    if (sign > 0) {
      if (open && !dynamic) this.open.add(run.id);
      else this.open.delete(run.id);
      const resolved = node?.kind !== undefined && (node.kind !== 'WorkingDirectory' || run.engineState?.errorsPhase === true);
      if (resolved && state === 'RUNNING') this.flowables.add(run.id);
      else this.flowables.delete(run.id);
      if (state === 'PAUSED') this.paused.add(run.id);
      else this.paused.delete(run.id);
    } else {
      this.open.delete(run.id);
      this.flowables.delete(run.id);
      this.paused.delete(run.id);
    }
  }

  #accountValue(group: ChildGroup, value: string, open: boolean, sign: 1 | -1): void {
    const per = group.perValue.get(value) ?? { count: 0, open: 0 };
    const status = (p: { count: number; open: number }): 'ready' | 'finished' | 'busy' =>
      p.open > 0 ? 'busy' : p.count >= group.tasksPerValue ? 'finished' : p.count > 0 ? 'ready' : 'busy';
    const before = group.perValue.has(value) ? status(per) : undefined;
    per.count += sign;
    if (open) per.open += sign;
    if (per.count <= 0) group.perValue.delete(value);
    else group.perValue.set(value, per);
    const after = per.count > 0 ? status(per) : undefined;
    if (before === 'finished') group.finishedValues--;
    if (after === 'finished') group.finishedValues++;
    if (after === 'ready') group.readyValues.add(value);
    else group.readyValues.delete(value);
  }
}
