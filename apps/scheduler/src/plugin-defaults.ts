import type { Flow, TaskSpec } from '@sluice/core';

/** Resolves a task type or alias to its canonical type, or undefined when unknown. */
export type TypeResolver = (type: string) => { readonly type: string; readonly aliases?: readonly string[] } | undefined;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The task with the flow's `pluginDefaults` (and deprecated `taskDefaults`) applied, as Kestra does: an entry applies
 * when its `type` names the task's type or one of its aliases, or is a package prefix of one of them
 * (`io.kestra.plugin.scripts` covers every script task); the task's own values win unless the entry is `forced`.
 * Nested objects merge key by key. Children of flowable tasks (a WorkingDirectory's `tasks`) get theirs too.
 */
export function applyPluginDefaults(flow: Flow, task: TaskSpec, resolve: TypeResolver): TaskSpec {
  const entries = [flow.pluginDefaults, flow.taskDefaults].flatMap((list) => (Array.isArray(list) ? list : []));
  if (entries.length === 0) return task;
  return applyTo(task, entries, resolve);
}

function applyTo(task: TaskSpec, entries: NonNullable<Flow['pluginDefaults']>, resolve: TypeResolver): TaskSpec {
  const definition = resolve(task.type);
  const names = [task.type, ...(definition ? [definition.type, ...(definition.aliases ?? [])] : [])].map((n) => n.toLowerCase());
  let result: Record<string, unknown> = { ...task };
  for (const entry of entries) {
    if (!isPlainObject(entry.values)) continue;
    const prefix = entry.type.toLowerCase();
    if (!names.some((name) => name === prefix || name.startsWith(`${prefix}.`))) continue;
    result = entry.forced === true ? merge(result, entry.values) : merge(entry.values, result);
  }
  if (Array.isArray(result.tasks)) {
    result.tasks = (result.tasks as unknown[]).map((child) => (isPlainObject(child) && typeof child.type === 'string' ? applyTo(child as TaskSpec, entries, resolve) : child));
  }
  return result as TaskSpec;
}

/** `base` overlaid with `over` (objects merged recursively; arrays and scalars of `over` replace). */
function merge(base: Readonly<Record<string, unknown>>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : value;
  }
  return out;
}
