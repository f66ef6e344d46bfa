/**
 * Which task types the engine itself handles, and where a task keeps its children. Kestra's flowable tasks
 * (KESTRA-FLOW §1–2, copied in docs/execution.md) never go to a worker: the scheduler resolves them. WorkingDirectory
 * is the exception: one worker runs it, children included, as one job. `Labels` changes the execution and is applied
 * by the scheduler too (Kestra's executor does the same).
 *
 * Type names are matched case-insensitively, current names and Kestra's old ones (`io.kestra.core.tasks.flows.*`).
 */
import type { TaskSpec } from '@sluice/core';

export type FlowableKind =
  | 'Sequential'
  | 'Parallel'
  | 'If'
  | 'Switch'
  | 'ForEach'
  | 'EachSequential'
  | 'EachParallel'
  | 'AllowFailure'
  | 'Dag'
  | 'Pause'
  | 'WaitFor'
  | 'ForEachItem'
  | 'WorkingDirectory';

/**
 * Tasks the scheduler applies itself (no worker, no flowable children): Labels changes the execution; Subflow starts a
 * child execution and, when it waits, ends once the child has (its result is applied by the scheduler).
 */
export type ExecutorTaskKind = 'Labels' | 'Subflow' | 'ForEachItemExecutable';

const FLOW = 'io.kestra.plugin.core.flow.';
const LEGACY = 'io.kestra.core.tasks.flows.';

/**
 * ForEachItem runs as three children, as in Kestra: `<id>_split`, a worker task that cuts the items file into batch
 * files, then `<id>_items`, which the scheduler applies (one child execution per batch), then `<id>_merge`, a worker
 * task that writes the children's flow outputs into one file. Their types are Kestra's inner class names.
 */
export const FOR_EACH_ITEM_SPLIT = `${FLOW}ForEachItem$ForEachItemSplit`;
export const FOR_EACH_ITEM_EXECUTABLE = `${FLOW}ForEachItem$ForEachItemExecutable`;
export const FOR_EACH_ITEM_MERGE = `${FLOW}ForEachItem$ForEachItemMergeOutputs`;

/** The children of a ForEachItem task (see above), built from its properties. */
export function forEachItemChildren(task: TaskSpec): TaskSpec[] {
  const { id, items, batch, errors: _errors, finally: _finally, type: _type, ...subflow } = task;
  return [
    { id: `${id}_split`, type: FOR_EACH_ITEM_SPLIT, items, ...(batch !== undefined ? { batch } : {}) },
    { id: `${id}_items`, type: FOR_EACH_ITEM_EXECUTABLE, ...subflow },
    { id: `${id}_merge`, type: FOR_EACH_ITEM_MERGE },
  ];
}

/** Canonical type → kind, with aliases. */
const FLOWABLE_NAMES: readonly (readonly [FlowableKind, readonly string[]])[] = [
  ['Sequential', [`${FLOW}Sequential`, `${LEGACY}Sequential`]],
  ['Parallel', [`${FLOW}Parallel`, `${LEGACY}Parallel`]],
  ['If', [`${FLOW}If`, `${LEGACY}If`]],
  ['Switch', [`${FLOW}Switch`, `${LEGACY}Switch`]],
  ['ForEach', [`${FLOW}ForEach`]],
  ['EachSequential', [`${FLOW}EachSequential`, `${LEGACY}EachSequential`]],
  ['EachParallel', [`${FLOW}EachParallel`, `${LEGACY}EachParallel`]],
  ['AllowFailure', [`${FLOW}AllowFailure`, `${LEGACY}AllowFailure`]],
  ['Dag', [`${FLOW}Dag`, `${LEGACY}Dag`]],
  ['Pause', [`${FLOW}Pause`, `${LEGACY}Pause`]],
  ['WaitFor', [`${FLOW}WaitFor`]],
  ['ForEachItem', [`${FLOW}ForEachItem`, `${LEGACY}ForEachItem`]],
  ['WorkingDirectory', [`${FLOW}WorkingDirectory`, `${LEGACY}WorkingDirectory`, `${LEGACY}Worker`]],
];

const EXECUTOR_NAMES: readonly (readonly [ExecutorTaskKind, readonly string[]])[] = [
  ['Labels', ['io.kestra.plugin.core.execution.Labels', 'io.kestra.core.tasks.executions.Labels']],
  ['Subflow', [`${FLOW}Subflow`, `${LEGACY}Subflow`, `${LEGACY}Flow`]],
  ['ForEachItemExecutable', [FOR_EACH_ITEM_EXECUTABLE]],
];

/** Every name (lower case) of each flowable kind: for docs and the task registry. */
export const FLOWABLE_TYPES: ReadonlyMap<FlowableKind, readonly string[]> = new Map(FLOWABLE_NAMES);

const byName = new Map<string, FlowableKind>();
for (const [kind, names] of FLOWABLE_NAMES) for (const name of names) byName.set(name.toLowerCase(), kind);
const executorByName = new Map<string, ExecutorTaskKind>();
for (const [kind, names] of EXECUTOR_NAMES) for (const name of names) executorByName.set(name.toLowerCase(), kind);

/** The flowable kind of a task type, or undefined for a runnable task. */
export function flowableKind(type: string): FlowableKind | undefined {
  return byName.get(type.toLowerCase());
}

/** The executor-side kind of a task type (Labels), or undefined. */
export function executorTaskKind(type: string): ExecutorTaskKind | undefined {
  return executorByName.get(type.toLowerCase());
}

/** Which list of a flowable (or of the flow) a task is in. */
export type Branch = 'main' | 'errors' | 'finally' | 'afterExecution';

/** One list of child tasks of a task: where it is (for errors and graphs) and what it holds. */
export interface ChildList {
  /** `tasks`, `then`, `else`, `defaults`, `errors`, or `cases.<key>`; `tasks` for a Dag (items are `{task}`). */
  readonly property: string;
  /** Path of the list below the task, e.g. `['cases', 'a']`. */
  readonly path: readonly (string | number)[];
  /** `errors` for the error branch, `finally` for the tasks run after the others whatever their outcome, `main` for the rest. */
  readonly branch: Branch;
  readonly tasks: readonly TaskSpec[];
}

function asTasks(value: unknown): TaskSpec[] {
  return Array.isArray(value) ? value.filter((t): t is TaskSpec => typeof t === 'object' && t !== null && !Array.isArray(t)) : [];
}

/** A Dag's `tasks` entries: `{task, dependsOn}`. */
export interface DagEntry {
  readonly task: TaskSpec;
  readonly dependsOn: readonly string[];
}

export function dagEntries(task: TaskSpec): DagEntry[] {
  const list = Array.isArray(task.tasks) ? task.tasks : [];
  const entries: DagEntry[] = [];
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue;
    const entry = item as { task?: unknown; dependsOn?: unknown };
    if (typeof entry.task !== 'object' || entry.task === null) continue;
    entries.push({ task: entry.task as TaskSpec, dependsOn: Array.isArray(entry.dependsOn) ? entry.dependsOn.map(String) : [] });
  }
  return entries;
}

/**
 * The child task lists of a task, in declaration order: the main lists, then `errors`. Empty for runnable tasks.
 * WorkingDirectory's `tasks` are listed too (its worker runs them).
 */
export function childLists(task: TaskSpec): ChildList[] {
  const kind = flowableKind(task.type);
  if (!kind) return [];
  const lists: ChildList[] = [];
  const list = (property: string): void => {
    if (task[property] !== undefined) lists.push({ property, path: [property], branch: 'main', tasks: asTasks(task[property]) });
  };
  switch (kind) {
    case 'If':
      list('then');
      list('else');
      break;
    case 'Switch': {
      const cases = task.cases;
      if (typeof cases === 'object' && cases !== null && !Array.isArray(cases)) {
        for (const [key, value] of Object.entries(cases)) lists.push({ property: `cases.${key}`, path: ['cases', key], branch: 'main', tasks: asTasks(value) });
      }
      list('defaults');
      break;
    }
    case 'Dag': {
      const raw = Array.isArray(task.tasks) ? task.tasks : [];
      const tasks: TaskSpec[] = [];
      raw.forEach((item) => {
        const entry = item as { task?: unknown } | null;
        if (entry && typeof entry.task === 'object' && entry.task !== null) tasks.push(entry.task as TaskSpec);
      });
      lists.push({ property: 'tasks', path: ['tasks'], branch: 'main', tasks });
      break;
    }
    case 'ForEachItem':
      lists.push({ property: 'tasks', path: [], branch: 'main', tasks: forEachItemChildren(task) });
      break;
    default:
      list('tasks');
  }
  if (task.errors !== undefined) lists.push({ property: 'errors', path: ['errors'], branch: 'errors', tasks: asTasks(task.errors) });
  // Kestra 0.24's `finally` (not on WorkingDirectory, whose worker runs its tasks).
  if (task.finally !== undefined && kind !== 'WorkingDirectory') lists.push({ property: 'finally', path: ['finally'], branch: 'finally', tasks: asTasks(task.finally) });
  return lists;
}

/** Every task of `tasks`, nested ones included, depth first, with its parent task (undefined at top level). */
export function* allTasks(tasks: readonly TaskSpec[], parent?: TaskSpec): Generator<{ task: TaskSpec; parent: TaskSpec | undefined }> {
  for (const task of tasks) {
    yield { task, parent };
    for (const list of childLists(task)) yield* allTasks(list.tasks, task);
  }
}
