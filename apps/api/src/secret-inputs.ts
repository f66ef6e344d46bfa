/**
 * SECRET inputs stay out of API responses: an execution's SECRET-type inputs are shown as `******`, as `secret()`
 * values are in task logs. The execution keeps the value (its tasks need it); only what the API sends is masked.
 * Which inputs are SECRET comes from the flow revision the execution runs (revisions never change: cached).
 */
import type { Flow } from '@sluice/core';
import type { StoredExecution } from '@sluice/db';
import type { FlowStore } from './flow-store.js';

export const MASK = '******';

export type SecretMasker = (execution: StoredExecution) => Promise<StoredExecution>;

export function secretInputMasker(flows: FlowStore, cacheSize = 1000): SecretMasker {
  const cache = new Map<string, ReadonlySet<string>>();
  const secretIds = async (execution: StoredExecution): Promise<ReadonlySet<string>> => {
    const key = `${execution.namespace}\u0000${execution.flowId}\u0000${execution.flowRevision}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const stored = await flows.get(execution.namespace, execution.flowId, execution.flowRevision);
    const inputs = (stored?.flow as unknown as Flow | undefined)?.inputs ?? [];
    const ids = new Set(inputs.filter((input) => input.type === 'SECRET').map((input) => input.id));
    if (cache.size >= cacheSize) cache.clear();
    cache.set(key, ids);
    return ids;
  };
  return async (execution) => {
    const ids = await secretIds(execution);
    if (ids.size === 0 || !Object.keys(execution.inputs).some((key) => ids.has(key))) return execution;
    const inputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(execution.inputs)) inputs[key] = ids.has(key) && value !== null && value !== undefined ? MASK : value;
    return { ...execution, inputs };
  };
}
