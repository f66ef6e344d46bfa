/**
 * `kv(key, namespace?, errorOnMissing?)`: a value of the KV store, with its type (a map can be navigated, a number
 * stays a number), as Kestra's `kv()` function. Arguments by position or by name:
 * `kv('k', namespace='company', errorOnMissing=true)`.
 *
 * - `namespace` defaults to the flow's. Kestra allows a flow its own namespace and its parents, and (open source)
 *   every other one: so does Sluice.
 * - A missing key gives null, or fails the render with `SLU_KV_NOT_FOUND` when `errorOnMissing` is true.
 * - An expired key always fails the render (`SLU_KV_EXPIRED`), whatever `errorOnMissing` says, as Kestra.
 * - Without a KV store (a runtime embedded without one) the render fails with `SLU_KV_UNAVAILABLE`.
 */
import { SluiceError } from '@sluice/core';
import type { ExpressionFunction } from '@sluice/core';
import type { KvAccess } from '@sluice/plugin-api';

const ARGUMENTS = ['key', 'namespace', 'errorOnMissing'] as const;

function failed(reason: string): SluiceError {
  return new SluiceError('SLU_EXPR_FUNCTION_FAILED', { name: 'kv', reason });
}

/** `kv()` over `kv`, for a task of a flow in `flowNamespace`. */
export function kvFunction(kv: KvAccess | undefined, flowNamespace: string): ExpressionFunction {
  return async (args, kwargs) => {
    if (args.length > ARGUMENTS.length) throw failed(`takes at most ${ARGUMENTS.length} arguments (key, namespace, errorOnMissing), got ${args.length}`);
    const given: Record<string, unknown> = {};
    args.forEach((value, index) => {
      given[ARGUMENTS[index]!] = value;
    });
    for (const [name, value] of Object.entries(kwargs)) {
      if (!(ARGUMENTS as readonly string[]).includes(name)) throw failed(`unknown argument ${JSON.stringify(name)}: it takes key, namespace and errorOnMissing`);
      if (Object.hasOwn(given, name)) throw failed(`${name} is given twice (by position and by name)`);
      given[name] = value;
    }
    const { key, namespace = flowNamespace, errorOnMissing = false } = given;
    if (typeof key !== 'string') throw failed(`the key must be a text, got ${key === null || key === undefined ? 'nothing' : typeof key}`);
    if (namespace !== null && typeof namespace !== 'string') throw failed(`namespace must be a text, got ${typeof namespace}`);
    if (typeof errorOnMissing !== 'boolean') throw failed(`errorOnMissing must be true or false, got ${JSON.stringify(errorOnMissing)}`);
    if (!kv) throw new SluiceError('SLU_KV_UNAVAILABLE', { what: 'kv()' });
    const at = namespace ?? flowNamespace;
    const found = await kv.get(at, key);
    if (found.status === 'expired') throw new SluiceError('SLU_KV_EXPIRED', { key, namespace: at }, { key, namespace: at });
    if (found.status === 'missing') {
      if (errorOnMissing) throw new SluiceError('SLU_KV_NOT_FOUND', { key, namespace: at }, { key, namespace: at });
      return null;
    }
    return found.value;
  };
}
