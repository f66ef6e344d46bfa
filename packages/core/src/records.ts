/**
 * Mappings as task outputs hold them (JSON objects): shared by the scheduler, which merges the outputs of the runs of
 * one task into `outputs.<taskId>`, and the worker, which gives a follow-on task the same variables (TaskJob.next).
 */

/** A mapping (not a list, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `source` merged into `target` (changed and returned), mappings deeply; any other value of `source` replaces. */
export function mergeRecords(target: Record<string, unknown>, source: Readonly<Record<string, unknown>>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    target[key] = isRecord(existing) && isRecord(value) ? mergeRecords({ ...existing }, value) : value;
  }
  return target;
}
