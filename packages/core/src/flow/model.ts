/**
 * The flow model: what a validated flow document looks like. Property names are Kestra's, so a flow written for
 * Kestra reads unchanged. Compatibility: flows are stored verbatim (source YAML) and re-parsed into these types, so
 * renaming a field here breaks stored flows; add, never rename.
 */

export const FLOW_ID_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9._-]*$';
export const FLOW_ID_MAX = 100;
export const NAMESPACE_PATTERN = '^[a-z0-9][a-z0-9._-]*$';
export const NAMESPACE_MAX = 150;
/** Task ids have no dots: `outputs.<taskId>.vars` must stay unambiguous. */
export const TASK_ID_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_-]*$';
export const TASK_ID_MAX = 256;
export const INPUT_ID_PATTERN = '^[a-zA-Z0-9][.a-zA-Z0-9_-]*$';
export const INPUT_ID_MAX = 100;

export const INPUT_TYPES = [
  'STRING', 'ENUM', 'SELECT', 'MULTISELECT', 'INT', 'FLOAT', 'BOOLEAN', 'BOOL', 'DATETIME', 'DATE', 'TIME',
  'DURATION', 'FILE', 'JSON', 'YAML', 'URI', 'SECRET', 'ARRAY', 'EMAIL',
] as const;
export type InputType = (typeof INPUT_TYPES)[number];

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const WORKER_GROUP_FALLBACKS = ['WAIT', 'FAIL', 'CANCEL'] as const;
export const CONCURRENCY_BEHAVIORS = ['QUEUE', 'CANCEL', 'FAIL'] as const;
export const RETRY_TYPES = ['constant', 'exponential', 'random'] as const;
export const RETRY_BEHAVIORS = ['RETRY_FAILED_TASK', 'CREATE_NEW_EXECUTION'] as const;

export interface Label {
  readonly key: string;
  readonly value: string;
}

export interface FlowInput {
  readonly id: string;
  readonly type: InputType;
  readonly description?: string;
  readonly displayName?: string;
  /** Default true, as in Kestra. */
  readonly required?: boolean;
  readonly defaults?: unknown;
  /** SELECT / ENUM / MULTISELECT choices. */
  readonly values?: readonly unknown[];
  readonly [property: string]: unknown;
}

export interface RetryPolicy {
  readonly type: (typeof RETRY_TYPES)[number];
  /** Kestra's name before 0.24; still accepted, as Kestra does. */
  readonly maxAttempt?: number;
  /** Attempts in all, the first included (Kestra 0.24+; `maxAttempt` is its older alias). */
  readonly maxAttempts?: number;
  readonly maxDuration?: string;
  readonly interval?: string;
  readonly maxInterval?: string;
  readonly minInterval?: string;
  readonly delayFactor?: number;
  readonly warningOnRetry?: boolean;
  readonly behavior?: (typeof RETRY_BEHAVIORS)[number];
}

export interface WorkerGroup {
  readonly key: string;
  readonly fallback?: (typeof WORKER_GROUP_FALLBACKS)[number];
}

/** A task as written in the flow: the common properties plus the task type's own. */
export interface TaskSpec {
  readonly id: string;
  readonly type: string;
  readonly description?: string;
  readonly retry?: RetryPolicy;
  /** ISO-8601 duration. */
  readonly timeout?: string;
  readonly disabled?: boolean;
  readonly allowFailure?: boolean;
  readonly workerGroup?: WorkerGroup;
  readonly logLevel?: LogLevel;
  readonly [property: string]: unknown;
}

export interface TriggerSpec {
  readonly id: string;
  readonly type: string;
  readonly disabled?: boolean;
  readonly [property: string]: unknown;
}

export interface PluginDefault {
  readonly type: string;
  readonly forced?: boolean;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface Flow {
  readonly id: string;
  readonly namespace: string;
  readonly revision?: number;
  readonly description?: string;
  /** Kestra accepts a map or a list of `{key, value}`; see `flowLabels()` for one shape. */
  readonly labels?: Readonly<Record<string, string>> | readonly Label[];
  readonly inputs?: readonly FlowInput[];
  readonly variables?: Readonly<Record<string, unknown>>;
  readonly tasks: readonly TaskSpec[];
  readonly errors?: readonly TaskSpec[];
  /** Kestra 0.24+: tasks run after `tasks` and `errors`, whatever their outcome. */
  readonly finally?: readonly TaskSpec[];
  /** Kestra 0.24+: tasks run once the execution's final state is known (`{{ execution.state }}`); they do not change it. */
  readonly afterExecution?: readonly TaskSpec[];
  readonly triggers?: readonly TriggerSpec[];
  readonly retry?: RetryPolicy;
  readonly concurrency?: { readonly limit: number; readonly behavior?: (typeof CONCURRENCY_BEHAVIORS)[number] };
  readonly disabled?: boolean;
  readonly pluginDefaults?: readonly PluginDefault[];
  /** Deprecated Kestra name of `pluginDefaults`. */
  readonly taskDefaults?: readonly PluginDefault[];
  readonly outputs?: readonly { readonly id: string; readonly value: unknown; readonly type?: string }[];
}

/** Labels as a list, whichever shape the flow used. */
/** The label Kestra puts on every execution: the id of the execution that started the chain (its own, at first). */
export const CORRELATION_ID_LABEL = 'system.correlationId';

export function flowLabels(flow: Pick<Flow, 'labels'>): Label[] {
  const labels = flow.labels;
  if (!labels) return [];
  if (Array.isArray(labels)) return labels.map((l: Label) => ({ key: l.key, value: String(l.value) }));
  return Object.entries(labels as Record<string, unknown>).map(([key, value]) => ({ key, value: String(value) }));
}

/**
 * Label lists merged the way Kestra layers them (a flow's, then a trigger's or a request's...): a later label replaces
 * an earlier one of the same key, which keeps its place.
 */
export function mergeLabels(...lists: readonly (readonly Label[])[]): Label[] {
  const byKey = new Map<string, string>();
  for (const list of lists) for (const label of list) byKey.set(label.key, label.value);
  return [...byKey].map(([key, value]) => ({ key, value }));
}

/** Every task of the flow (tasks, errors and nested children), depth first, with its parent's id. */
export function* walkTasks(
  tasks: readonly TaskSpec[],
  childProperties: (task: TaskSpec) => readonly string[],
  parentId?: string,
): Generator<{ task: TaskSpec; parentId: string | undefined }> {
  for (const task of tasks) {
    yield { task, parentId };
    for (const property of childProperties(task)) {
      const children = task[property];
      if (Array.isArray(children)) yield* walkTasks(children as TaskSpec[], childProperties, task.id);
    }
  }
}
