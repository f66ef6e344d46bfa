/**
 * A flow's tasks as the engine needs them: every task by id (ids are unique across the whole flow, nested tasks and
 * `errors` included, so the engine finds tasks by id only, as Kestra does), with its parent, its branch and its kind.
 * Built once per flow object and cached.
 */
import type { Flow, RetryPolicy, TaskSpec } from '@sluice/core';
import { childLists, dagEntries, executorTaskKind, flowableKind } from './flowables.js';
import type { Branch, ExecutorTaskKind, FlowableKind } from './flowables.js';

export interface TaskNode {
  readonly task: TaskSpec;
  /** The flowable kind, or undefined for a task a worker runs. */
  readonly kind: FlowableKind | undefined;
  /** Labels: applied by the scheduler. */
  readonly executor: ExecutorTaskKind | undefined;
  /** The flowable holding it; undefined at top level. */
  readonly parent: TaskNode | undefined;
  readonly branch: Branch;
  /** A retry policy that applies to it: its own, else the nearest ancestor's, else the flow's (Kestra's rule). */
  readonly retry: RetryPolicy | undefined;
  /** Enabled tasks of its main list(s) and of `errors` (flowables; WorkingDirectory's are run by its worker). */
  readonly main: readonly TaskSpec[];
  readonly errors: readonly TaskSpec[];
  /** Enabled tasks of `finally`: run after the main tasks and `errors`, whatever their outcome. */
  readonly finally: readonly TaskSpec[];
  /** Dag: each enabled child's dependencies. */
  readonly dependsOn?: ReadonlyMap<string, readonly string[]>;
}

export interface FlowStructure {
  readonly flow: Flow;
  readonly byId: ReadonlyMap<string, TaskNode>;
  /** The flow's own enabled `tasks`, `errors`, `finally` and `afterExecution`. */
  readonly main: readonly TaskSpec[];
  readonly errors: readonly TaskSpec[];
  readonly finally: readonly TaskSpec[];
  /** Kestra 0.24+: run after the execution's final state is known, which they do not change. */
  readonly afterExecution: readonly TaskSpec[];
}

const cache = new WeakMap<Flow, FlowStructure>();

export function enabled(tasks: readonly TaskSpec[] | undefined): TaskSpec[] {
  return (tasks ?? []).filter((task) => task.disabled !== true);
}

export function structureOf(flow: Flow): FlowStructure {
  const cached = cache.get(flow);
  if (cached) return cached;
  const byId = new Map<string, TaskNode>();
  const visit = (tasks: readonly TaskSpec[], parent: TaskNode | undefined, branch: Branch, inherited: RetryPolicy | undefined): void => {
    for (const task of tasks) {
      const kind = flowableKind(task.type);
      const lists = childLists(task);
      const node: TaskNode = {
        task,
        kind,
        executor: kind ? undefined : executorTaskKind(task.type),
        parent,
        branch,
        retry: task.retry ?? inherited,
        main: enabled(lists.filter((list) => list.branch === 'main').flatMap((list) => list.tasks)),
        errors: enabled(lists.filter((list) => list.branch === 'errors').flatMap((list) => list.tasks)),
        finally: enabled(lists.filter((list) => list.branch === 'finally').flatMap((list) => list.tasks)),
        ...(kind === 'Dag' ? { dependsOn: new Map(dagEntries(task).map((entry) => [entry.task.id, entry.dependsOn])) } : {}),
      };
      if (!byId.has(task.id)) byId.set(task.id, node);
      for (const list of lists) visit(list.tasks, node, list.branch, node.retry);
    }
  };
  visit(flow.tasks, undefined, 'main', flow.retry);
  visit(flow.errors ?? [], undefined, 'errors', flow.retry);
  visit(flow.finally ?? [], undefined, 'finally', flow.retry);
  visit(flow.afterExecution ?? [], undefined, 'afterExecution', flow.retry);
  const structure: FlowStructure = {
    flow,
    byId,
    main: enabled(flow.tasks),
    errors: enabled(flow.errors),
    finally: enabled(flow.finally),
    afterExecution: enabled(flow.afterExecution),
  };
  cache.set(flow, structure);
  return structure;
}
