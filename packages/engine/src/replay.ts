/**
 * What a replay from one task run keeps of an ended execution (Kestra's `POST /executions/{id}/replay?taskRunId=`).
 * The new execution starts with copies of some of the original's task runs, and the engine carries on from them as it
 * would after a restart: whatever was not copied is created again when its turn comes.
 *
 * Kept, for the run replayed from (the "target"):
 * - the runs created before it, outside its ancestors: each with everything below it (a sibling branch of a Parallel
 *   that started before the target keeps its children even when they were created after the target);
 * - its ancestors (the flowables holding it), to be reopened in state RUNNING so the engine goes on inside them.
 * Left out: the target, what is below it, every run created after it (outside a kept branch), and the runs of an
 * `errors`, `finally` or `afterExecution` list (with what is below them), which the engine runs again when due.
 *
 * A WorkingDirectory runs as one job, children included: a replay from one of its children replays from the
 * WorkingDirectory (its outermost one).
 *
 * Creation order is the execution's task run order (oldest first). Since siblings are created in the order of their
 * plan (Sequential, Parallel, loops), what stays of a group of siblings is always the start of its plan, which is what
 * the engine's counts expect.
 */
import type { Flow } from '@sluice/core';
import { structureOf } from './structure.js';
import type { TaskNode } from './structure.js';

/** What a replay reads of a task run. */
export interface ReplayRun {
  readonly id: string;
  readonly taskId: string;
  readonly parentTaskRunId: string | null | undefined;
}

export interface ReplaySelection {
  /** The run the replay starts from: the one asked for, or the outermost WorkingDirectory run holding it. */
  readonly from: string;
  /** Runs copied as they are (they ended before the target). */
  readonly copied: ReadonlySet<string>;
  /** The target's ancestors: copied, but in state RUNNING. */
  readonly reopened: ReadonlySet<string>;
}

/**
 * The runs of `runs` (an ended execution's, oldest first) that a replay from run `taskRunId` keeps, read with the
 * flow revision that produced them (undefined when it is gone: every task then counts as a main one, and no
 * WorkingDirectory is recognised). Undefined when `taskRunId` is not one of `runs`.
 */
export function replaySelection(flow: Flow | undefined, runs: readonly ReplayRun[], taskRunId: string): ReplaySelection | undefined {
  const byId = new Map(runs.map((run) => [run.id, run]));
  const position = new Map(runs.map((run, index) => [run.id, index]));
  const structure = flow ? structureOf(flow) : undefined;
  const nodeOf = (run: ReplayRun): TaskNode | undefined => structure?.byId.get(run.taskId);
  /** The run's parent, grand-parent... nearest first (a cycle or a missing parent ends the chain). */
  const ancestorsOf = (run: ReplayRun): ReplayRun[] => {
    const found: ReplayRun[] = [];
    const seen = new Set([run.id]);
    for (let parent = run.parentTaskRunId ? byId.get(run.parentTaskRunId) : undefined; parent && !seen.has(parent.id); ) {
      seen.add(parent.id);
      found.push(parent);
      parent = parent.parentTaskRunId ? byId.get(parent.parentTaskRunId) : undefined;
    }
    return found;
  };
  const outsideMain = (run: ReplayRun): boolean => [run, ...ancestorsOf(run)].some((r) => (nodeOf(r)?.branch ?? 'main') !== 'main');

  let target = byId.get(taskRunId);
  if (!target) return undefined;
  for (const ancestor of ancestorsOf(target)) if (nodeOf(ancestor)?.kind === 'WorkingDirectory') target = ancestor;
  const from = target;
  const ancestors = new Set(ancestorsOf(from).map((run) => run.id));
  const limit = position.get(from.id) ?? 0;

  const copied = new Set<string>();
  for (const run of runs) {
    if (run.id === from.id || ancestors.has(run.id) || outsideMain(run)) continue;
    // The top of the run's branch below the target's ancestors: the branch is kept whole when it started first.
    let top = run;
    for (const parent of ancestorsOf(run)) {
      if (ancestors.has(parent.id)) break;
      top = parent;
    }
    if ((position.get(top.id) ?? limit) < limit) copied.add(run.id);
  }
  const reopened = new Set([...ancestors].filter((id) => !outsideMain(byId.get(id) as ReplayRun)));
  return { from: from.id, copied, reopened };
}
