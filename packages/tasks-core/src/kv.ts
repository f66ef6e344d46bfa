/**
 * The KV store's tasks (`io.kestra.plugin.core.kv.*`, KESTRA-compatible) and Kestra's legacy state store
 * (`io.kestra.plugin.core.state.*`, aliases `io.kestra.core.tasks.states.*`), which Sluice keeps on the same store.
 * They run on a worker, in-process (no runner, no spawn), through `context.kv`: the API's internal routes on a remote
 * worker, the database in `sluice server local`, a file store in `sluice run`.
 *
 * | task | properties (default) | outputs |
 * |---|---|---|
 * | `kv.Set` | `key`, `value` (its type kept), `namespace` (the flow's), `overwrite` (true), `ttl`, `kvType` | none |
 * | `kv.Get` | `key`, `namespace`, `errorOnMissing` (false) | `value` (null when missing) |
 * | `kv.Delete` | `key`, `namespace`, `errorOnMissing` (false) | `deleted` |
 * | `kv.GetKeys` | `prefix`, `namespace` | `keys` |
 * | `state.Set` | `data`, `name` (`default`), `namespace` (false), `taskrunValue` (true) | `count`, `key` |
 * | `state.Get` | `name`, `namespace`, `taskrunValue`, `errorOnMissing` (false) | `count`, `data` |
 * | `state.Delete` | `name`, `namespace`, `taskrunValue`, `errorOnMissing` (false) | `deleted` |
 *
 * A state is one JSON key of the flow's namespace (see {@link stateKey}); `state.Set` merges `data` into it (read,
 * merge, write: two tasks merging into one state at once may lose one's fields, as in Kestra).
 */
import { createHash } from 'node:crypto';
import { assertKvKey, convertKvValue, isKvType, isValidDuration, KV_KEY_PATTERN, KV_TYPES, kvValueOf, parseKvTtl, SluiceError } from '@sluice/core';
import type { KvType, KvValue, PluginIssue } from '@sluice/core';
import type { KvAccess, TaskContext, TaskDefinition, TaskResult } from '@sluice/plugin-api';

type Properties = Readonly<Record<string, unknown>>;

export const KV_SET_TYPE = 'io.kestra.plugin.core.kv.Set';
export const KV_GET_TYPE = 'io.kestra.plugin.core.kv.Get';
export const KV_DELETE_TYPE = 'io.kestra.plugin.core.kv.Delete';
export const KV_GET_KEYS_TYPE = 'io.kestra.plugin.core.kv.GetKeys';
export const STATE_SET_TYPE = 'io.kestra.plugin.core.state.Set';
export const STATE_GET_TYPE = 'io.kestra.plugin.core.state.Get';
export const STATE_DELETE_TYPE = 'io.kestra.plugin.core.state.Delete';

function failed(context: TaskContext, reason: string): SluiceError {
  return new SluiceError('SLU_TASK_FAILED', { taskId: context.taskRun.taskId, reason });
}

function storeOf(context: TaskContext, type: string): KvAccess {
  if (context.kv) return context.kv;
  throw new SluiceError('SLU_KV_UNAVAILABLE', { what: type });
}

/** A rendered scalar as text; null and undefined stay absent. */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A rendered flag: a boolean, or `true`/`false` as text (an expression's result). */
function flag(context: TaskContext, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  const lower = String(value).trim().toLowerCase();
  if (lower === 'true' || lower === 'false') return lower === 'true';
  throw failed(context, `\`${name}\` must be true or false, got ${JSON.stringify(value)}`);
}

function requiredText(context: TaskContext, name: string, value: unknown): string {
  const found = text(value);
  if (found === undefined || found === '') throw failed(context, `\`${name}\` is required`);
  return found;
}

/** The rendered `namespace` property, or the flow's. */
function namespaceOf(context: TaskContext, value: unknown): string {
  return text(value) || context.execution.namespace;
}

/** A text holding an expression or a tag: its value is known only once rendered. */
function isDynamic(value: unknown): boolean {
  return typeof value === 'string' && (value.includes('{{') || value.includes('{%'));
}

/** Literal properties that cannot work are refused when the flow is saved (rendered ones fail the task). */
function checkKvProperties(value: Properties): PluginIssue[] {
  const issues: PluginIssue[] = [];
  const { key, kvType, ttl } = value;
  if (typeof key === 'string' && !isDynamic(key)) {
    try {
      assertKvKey(key);
    } catch (error) {
      issues.push({ path: ['key'], code: 'SLU_FLOW_INVALID_VALUE', params: { reason: error instanceof Error ? error.message : String(error) } });
    }
  }
  if (typeof kvType === 'string' && !isDynamic(kvType) && !isKvType(kvType.toUpperCase())) {
    issues.push({ path: ['kvType'], code: 'SLU_FLOW_INVALID_ENUM', params: { allowed: KV_TYPES.join(', '), actual: kvType } });
  }
  if (typeof ttl === 'string' && !isDynamic(ttl) && !isValidDuration(ttl)) {
    issues.push({ path: ['ttl'], code: 'SLU_FLOW_INVALID_DURATION', params: { value: ttl, reason: 'expected ISO-8601 like PT30S, PT5M, PT1H30M or P1D' } });
  }
  return issues;
}

const namespaceProperty = { type: 'string', description: 'The namespace of the key; default the flow\'s. Expressions are rendered.' } as const;
const keyProperty = { type: 'string', description: `The key: it must match ${KV_KEY_PATTERN}. Expressions are rendered.` } as const;
const errorOnMissingProperty = { type: ['boolean', 'string'], default: false, description: 'Fail when the key is missing (default: go on).' } as const;

/** The value `kv.Set` stores: its rendered value, typed, converted to `kvType` when one is given. */
export function kvSetValue(rendered: unknown, kvType: KvType | undefined): KvValue {
  if (kvType === undefined) return kvValueOf(rendered);
  return convertKvValue(rendered, kvType);
}

async function runSet(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const rendered = await context.render({ key: properties.key, namespace: properties.namespace, overwrite: properties.overwrite, ttl: properties.ttl, kvType: properties.kvType });
  const key = requiredText(context, 'key', rendered.key);
  if (properties.value === undefined || properties.value === null) throw failed(context, '`value` is required');
  const value = context.renderTyped ? await context.renderTyped(properties.value) : await context.render(properties.value);
  const typeText = text(rendered.kvType)?.trim().toUpperCase();
  if (typeText !== undefined && typeText !== '' && !isKvType(typeText)) {
    throw new SluiceError('SLU_FLOW_INVALID_ENUM', { allowed: KV_TYPES.join(', '), actual: text(rendered.kvType) ?? '' });
  }
  const typed = kvSetValue(value, typeText === '' ? undefined : (typeText as KvType | undefined));
  const ttl = text(rendered.ttl);
  const overwrite = flag(context, 'overwrite', rendered.overwrite, true);
  const namespace = namespaceOf(context, rendered.namespace);
  const written = await storeOf(context, KV_SET_TYPE).set(namespace, key, typed, {
    overwrite,
    ...(ttl === undefined || ttl === '' ? {} : { ttlMs: parseKvTtl(ttl) }),
  });
  if (!written) throw new SluiceError('SLU_KV_KEY_EXISTS', { key, namespace }, { key, namespace });
  context.logger.debug(`set KV key ${key} of namespace ${namespace} (${typed.type})`);
  return {};
}

export const kvSetTask: TaskDefinition = {
  type: KV_SET_TYPE,
  title: 'Set a key of the KV store',
  description:
    'Stores `value` under `key` in the KV store of `namespace` (the flow\'s by default), replacing the key\'s value ' +
    'unless `overwrite` is false (then an existing key fails the task). The value keeps its type: a number, a ' +
    'boolean, a map or a list written in the flow, or the value of a property that is exactly one `{{ expression }}`; ' +
    'a text that is an ISO duration is a DURATION. `kvType` converts a text to STRING, NUMBER, BOOLEAN (true or ' +
    'false), DATETIME, DATE (`2024-01-01`), DURATION or JSON. `ttl` (an ISO-8601 duration) makes the key expire. A ' +
    'value is at most 1 MiB. Runs in the worker without a process.',
  kind: 'runnable',
  inProcess: true,
  properties: {
    key: keyProperty,
    value: { description: 'The value (any type; required). Expressions are rendered; one `{{ expression }}` keeps the type of its result.' },
    namespace: namespaceProperty,
    overwrite: { type: ['boolean', 'string'], default: true, description: 'Replace an existing key (default); false fails the task when the key exists.' },
    ttl: { type: 'string', description: 'How long the key lives, an ISO-8601 duration (PT1H, P7D); default forever.' },
    kvType: { type: 'string', description: `Convert the value to this type: ${KV_TYPES.join(', ')}.` },
  },
  required: ['key', 'value'],
  check: checkKvProperties,
  run: runSet,
  examples: ['id: remember\ntype: io.kestra.plugin.core.kv.Set\nkey: last_run\nvalue: "{{ execution.startDate }}"\nkvType: DATETIME\nttl: P30D'],
};

async function lookup(context: TaskContext, type: string, namespace: string, key: string, errorOnMissing: boolean): Promise<{ found: boolean; value: unknown }> {
  const found = await storeOf(context, type).get(namespace, key);
  if (found.status === 'expired') throw new SluiceError('SLU_KV_EXPIRED', { key, namespace }, { key, namespace });
  if (found.status === 'missing') {
    if (errorOnMissing) throw new SluiceError('SLU_KV_NOT_FOUND', { key, namespace }, { key, namespace });
    return { found: false, value: null };
  }
  return { found: true, value: found.value };
}

async function runGet(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const rendered = await context.render({ key: properties.key, namespace: properties.namespace, errorOnMissing: properties.errorOnMissing });
  const key = requiredText(context, 'key', rendered.key);
  const { value } = await lookup(context, KV_GET_TYPE, namespaceOf(context, rendered.namespace), key, flag(context, 'errorOnMissing', rendered.errorOnMissing, false));
  return { outputs: { value } };
}

export const kvGetTask: TaskDefinition = {
  type: KV_GET_TYPE,
  title: 'Read a key of the KV store',
  description:
    'Reads `key` from the KV store of `namespace` (the flow\'s by default) into the `value` output, with its type. A ' +
    'missing key gives null, or fails the task with `errorOnMissing: true`; an expired key always fails it. Runs in ' +
    'the worker without a process.',
  kind: 'runnable',
  inProcess: true,
  properties: { key: keyProperty, namespace: namespaceProperty, errorOnMissing: errorOnMissingProperty },
  required: ['key'],
  check: checkKvProperties,
  run: runGet,
  outputs: { value: { description: 'The value, with its type; null when the key is missing.' } },
};

async function runDelete(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const rendered = await context.render({ key: properties.key, namespace: properties.namespace, errorOnMissing: properties.errorOnMissing });
  const key = requiredText(context, 'key', rendered.key);
  const namespace = namespaceOf(context, rendered.namespace);
  const deleted = await storeOf(context, KV_DELETE_TYPE).delete(namespace, key);
  if (!deleted && flag(context, 'errorOnMissing', rendered.errorOnMissing, false)) throw new SluiceError('SLU_KV_NOT_FOUND', { key, namespace }, { key, namespace });
  return { outputs: { deleted } };
}

export const kvDeleteTask: TaskDefinition = {
  type: KV_DELETE_TYPE,
  title: 'Delete a key of the KV store',
  description:
    'Deletes `key` from the KV store of `namespace` (the flow\'s by default); `deleted` says whether it was there. A ' +
    'missing key fails the task only with `errorOnMissing: true`. Runs in the worker without a process.',
  kind: 'runnable',
  inProcess: true,
  properties: { key: keyProperty, namespace: namespaceProperty, errorOnMissing: errorOnMissingProperty },
  required: ['key'],
  check: checkKvProperties,
  run: runDelete,
  outputs: { deleted: { type: 'boolean', description: 'Whether the key was there (and not expired).' } },
};

async function runGetKeys(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const rendered = await context.render({ prefix: properties.prefix, namespace: properties.namespace });
  const prefix = text(rendered.prefix) ?? '';
  const entries = await storeOf(context, KV_GET_KEYS_TYPE).list(namespaceOf(context, rendered.namespace));
  return { outputs: { keys: entries.map((entry) => entry.key).filter((key) => key.startsWith(prefix)) } };
}

export const kvGetKeysTask: TaskDefinition = {
  type: KV_GET_KEYS_TYPE,
  title: 'List the keys of a namespace\'s KV store',
  description: 'Lists the keys of the KV store of `namespace` (the flow\'s by default) that start with `prefix` (every key without it), sorted; expired keys are left out. Runs in the worker without a process.',
  kind: 'runnable',
  inProcess: true,
  properties: { prefix: { type: 'string', description: 'Only the keys starting with it.' }, namespace: namespaceProperty },
  run: runGetKeys,
  outputs: { keys: { type: 'array', items: { type: 'string' }, description: 'The keys, sorted.' } },
};

/**
 * The KV key of a state: `states.<flowId>.<name>.<hash>` (`states._namespace.<name>.<hash>` for a namespace-wide
 * state), the name cut to the key's characters and the hash (of the flow, the name and the loop value) keeping states
 * whose names or loop values differ apart.
 */
export function stateKey(flowId: string | undefined, name: string, taskrunValue: string | undefined): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([flowId ?? null, name, taskrunValue ?? null]))
    .digest('hex')
    .slice(0, 16);
  const readable = name.replace(/[^a-zA-Z0-9._-]/g, '_').slice(0, 64) || '_';
  return `states.${flowId ?? '_namespace'}.${readable}.${hash}`;
}

interface StateTarget {
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
}

async function stateTarget(properties: Properties, context: TaskContext): Promise<StateTarget & { rendered: Record<string, unknown> }> {
  const rendered = (await context.render({ name: properties.name, namespace: properties.namespace, taskrunValue: properties.taskrunValue, errorOnMissing: properties.errorOnMissing })) as Record<
    string,
    unknown
  >;
  const name = text(rendered.name) || 'default';
  const wholeNamespace = flag(context, 'namespace', rendered.namespace, false);
  const byValue = flag(context, 'taskrunValue', rendered.taskrunValue, true);
  const loopValue = byValue ? text(await context.render("{{ taskrun.value ?? '' }}")) : undefined;
  return {
    key: stateKey(wholeNamespace ? undefined : context.execution.flowId, name, loopValue === '' ? undefined : loopValue),
    name,
    namespace: context.execution.namespace,
    rendered,
  };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readState(context: TaskContext, type: string, target: StateTarget): Promise<Record<string, unknown> | undefined> {
  const found = await storeOf(context, type).get(target.namespace, target.key);
  if (found.status !== 'found') return undefined;
  return isMap(found.value) ? found.value : {};
}

function noState(context: TaskContext, target: StateTarget): SluiceError {
  return failed(context, `no state "${target.name}" (KV key ${target.key} of namespace ${target.namespace})`);
}

async function runStateSet(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const target = await stateTarget(properties, context);
  let data = await context.render(properties.data);
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data) as unknown;
    } catch {
      throw failed(context, '`data` must be a map');
    }
  }
  if (!isMap(data)) throw failed(context, '`data` must be a map');
  const merged = { ...((await readState(context, STATE_SET_TYPE, target)) ?? {}), ...data };
  await storeOf(context, STATE_SET_TYPE).set(target.namespace, target.key, { type: 'JSON', value: merged });
  return { outputs: { count: Object.keys(merged).length, key: target.key } };
}

async function runStateGet(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const target = await stateTarget(properties, context);
  const data = await readState(context, STATE_GET_TYPE, target);
  if (data === undefined && flag(context, 'errorOnMissing', target.rendered.errorOnMissing, false)) throw noState(context, target);
  return { outputs: { count: Object.keys(data ?? {}).length, data: data ?? {} } };
}

async function runStateDelete(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const target = await stateTarget(properties, context);
  const deleted = await storeOf(context, STATE_DELETE_TYPE).delete(target.namespace, target.key);
  if (!deleted && flag(context, 'errorOnMissing', target.rendered.errorOnMissing, false)) throw noState(context, target);
  return { outputs: { deleted } };
}

const stateProperties = {
  name: { type: 'string', default: 'default', description: 'The name of the state.' },
  namespace: { type: ['boolean', 'string'], default: false, description: 'Share the state with every flow of the namespace (default: this flow\'s own).' },
  taskrunValue: { type: ['boolean', 'string'], default: true, description: 'Keep one state per loop value (`taskrun.value`) inside a ForEach (default).' },
} as const;

const STATE_NOTE =
  'Kestra\'s legacy state store, kept on the KV store: the state is one JSON key of the flow\'s namespace (`states.<flowId>.<name>.<hash>`). ';

export const stateSetTask: TaskDefinition = {
  type: STATE_SET_TYPE,
  aliases: ['io.kestra.core.tasks.states.Set'],
  title: 'Merge data into a state (legacy; use kv.Set)',
  description: `${STATE_NOTE}Merges \`data\` into the state \`name\`; \`count\` is its number of fields, \`key\` its KV key.`,
  kind: 'runnable',
  inProcess: true,
  properties: { ...stateProperties, data: { type: ['object', 'string'], description: 'The fields to merge into the state (required).' } },
  required: ['data'],
  run: runStateSet,
  outputs: { count: { type: 'integer', description: 'Fields in the state after the merge.' }, key: { type: 'string', description: 'The state\'s KV key.' } },
};

export const stateGetTask: TaskDefinition = {
  type: STATE_GET_TYPE,
  aliases: ['io.kestra.core.tasks.states.Get'],
  title: 'Read a state (legacy; use kv.Get)',
  description: `${STATE_NOTE}Reads the state \`name\` into \`data\` (empty when there is none, or a failure with \`errorOnMissing: true\`).`,
  kind: 'runnable',
  inProcess: true,
  properties: { ...stateProperties, errorOnMissing: errorOnMissingProperty },
  run: runStateGet,
  outputs: { count: { type: 'integer', description: 'Fields in the state.' }, data: { type: 'object', description: 'The state.' } },
};

export const stateDeleteTask: TaskDefinition = {
  type: STATE_DELETE_TYPE,
  aliases: ['io.kestra.core.tasks.states.Delete'],
  title: 'Delete a state (legacy; use kv.Delete)',
  description: `${STATE_NOTE}Deletes the state \`name\`; \`deleted\` says whether there was one.`,
  kind: 'runnable',
  inProcess: true,
  properties: { ...stateProperties, errorOnMissing: errorOnMissingProperty },
  run: runStateDelete,
  outputs: { deleted: { type: 'boolean', description: 'Whether there was a state.' } },
};

/** The tasks of the KV store, legacy state tasks included. */
export const kvTasks: readonly TaskDefinition[] = [kvSetTask, kvGetTask, kvDeleteTask, kvGetKeysTask, stateSetTask, stateGetTask, stateDeleteTask];
