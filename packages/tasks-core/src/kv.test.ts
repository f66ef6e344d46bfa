/**
 * The KV tasks (`kv.Set`, `kv.Get`, `kv.Delete`, `kv.GetKeys`) and the legacy state tasks, over the in-memory KV store
 * of `@sluice/plugin-api/testing` (the rules of the real stores, a clock the test moves): properties, types and
 * `kvType` conversions, TTL, `overwrite`, `errorOnMissing`, outputs, and what a flow may not write. The stores
 * themselves are tested in apps/api (Postgres) and task-runtime (files); the tasks end to end in apps/cli e2e.
 */
import { createFlowValidator, isSluiceError, KV_VALUE_MAX_BYTES } from '@sluice/core';
import type { SluiceError } from '@sluice/core';
import { createPluginRegistries } from '@sluice/plugin-api';
import type { TaskDefinition, TaskResult } from '@sluice/plugin-api';
import { createMemoryKvStore, createMockTaskContext } from '@sluice/plugin-api/testing';
import type { MemoryKvStore, MockContextOptions } from '@sluice/plugin-api/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { corePlugins, kvDeleteTask, kvGetKeysTask, kvGetTask, kvSetTask, stateDeleteTask, stateGetTask, stateKey, stateSetTask } from './index.js';

let store: MemoryKvStore;
beforeEach(() => {
  store = createMemoryKvStore();
});

/** Run a task in a mock context (execution of flow `dev.flow`) over `store`. */
async function run(task: TaskDefinition, properties: Record<string, unknown>, options: MockContextOptions = {}): Promise<TaskResult> {
  const context = await createMockTaskContext({ taskId: 't', kv: store, ...options });
  return task.run!(properties, context);
}

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSluiceError(error)) throw new Error(`expected a SluiceError, got ${String(error)}`);
  return error;
}

describe('kv.Set', () => {
  it('stores the value with its type, in the flow\'s namespace or the one given', async () => {
    await run(kvSetTask, { key: 'n', value: 42 });
    await run(kvSetTask, { key: 'map', value: { a: [1, 'x'] } });
    await run(kvSetTask, { key: 'text', value: 'hello {{ inputs.who }}' }, { variables: { inputs: { who: 'you' } } });
    await run(kvSetTask, { key: 'duration', value: 'PT5S' });
    await run(kvSetTask, { key: 'flag', value: false, namespace: 'other.{{ inputs.who }}' }, { variables: { inputs: { who: 'ns' } } });
    // One expression keeps the type of its result (Kestra's renderTyped).
    await run(kvSetTask, { key: 'typed', value: '{{ inputs.count + 1 }}' }, { variables: { inputs: { count: 2 } } });
    await run(kvSetTask, { key: 'list', value: '{{ inputs.list }}' }, { variables: { inputs: { list: [1, 2] } } });
    expect(store.dump()).toEqual({
      'dev/n': { type: 'NUMBER', value: 42 },
      'dev/map': { type: 'JSON', value: { a: [1, 'x'] } },
      'dev/text': { type: 'STRING', value: 'hello you' },
      'dev/duration': { type: 'DURATION', value: 'PT5S' },
      'other.ns/flag': { type: 'BOOLEAN', value: false },
      'dev/typed': { type: 'NUMBER', value: 3 },
      'dev/list': { type: 'JSON', value: [1, 2] },
    });
  });

  it('converts a text to kvType', async () => {
    const cases: [unknown, string, unknown][] = [
      ['12.5', 'NUMBER', 12.5],
      ['TRUE', 'boolean', true],
      ['2024-01-01', 'DATE', '2024-01-01'],
      ['2024-01-01T10:00:00+02:00', 'DATETIME', '2024-01-01T08:00:00Z'],
      ['P1D', 'DURATION', 'PT24H'],
      ['{"a": 1}', 'JSON', { a: 1 }],
      [7, 'STRING', '7'],
    ];
    for (const [index, [value, kvType, stored]] of cases.entries()) {
      await run(kvSetTask, { key: `k${index}`, value, kvType });
      expect(store.dump()[`dev/k${index}`], `${String(value)} as ${kvType}`).toEqual({ type: kvType.toUpperCase(), value: stored });
    }
  });

  it('fails on a value that does not convert, naming it and the type', async () => {
    for (const [value, kvType] of [
      ['yes', 'BOOLEAN'],
      ['12a', 'NUMBER'],
      ['2024-02-30', 'DATE'],
      ['{a: 1}', 'JSON'],
      ['5 minutes', 'DURATION'],
    ]) {
      const error = await failure(run(kvSetTask, { key: 'k', value, kvType }));
      expect(error.code).toBe('SLU_KV_INVALID_VALUE');
      expect(error.message).toContain(`is not a ${kvType}`);
    }
    expect((await failure(run(kvSetTask, { key: 'k', value: 1, kvType: 'TEXT' }))).code).toBe('SLU_FLOW_INVALID_ENUM');
    expect(store.dump()).toEqual({});
  });

  it('ttl makes the key expire; overwrite false fails on a live key only', async () => {
    await run(kvSetTask, { key: 'k', value: 1, ttl: 'PT1M' });
    const error = await failure(run(kvSetTask, { key: 'k', value: 2, overwrite: false }));
    expect(error.code).toBe('SLU_KV_KEY_EXISTS');
    expect(error.message).toBe('KV key k already exists in namespace dev and overwrite is false');
    store.advance(60_000);
    await run(kvSetTask, { key: 'k', value: 3, overwrite: '{{ false }}' });
    expect(store.dump()).toEqual({ 'dev/k': { type: 'NUMBER', value: 3 } });
    expect((await failure(run(kvSetTask, { key: 'k', value: 1, ttl: 'soon' }))).code).toBe('SLU_KV_INVALID_TTL');
  });

  it('fails on a value over 1 MiB, a bad key, a missing value, or without a store', async () => {
    const big = await failure(run(kvSetTask, { key: 'big', value: 'x'.repeat(KV_VALUE_MAX_BYTES) }));
    expect(big.code).toBe('SLU_KV_VALUE_TOO_LARGE');
    expect(big.message).toContain('a KV value is at most 1048576 bytes (1 MiB)');
    expect((await failure(run(kvSetTask, { key: 'a b', value: 1 }))).code).toBe('SLU_KV_INVALID_KEY');
    expect((await failure(run(kvSetTask, { key: 'k' }))).message).toContain('`value` is required');
    const context = await createMockTaskContext({ taskId: 't' });
    const unavailable = await failure(kvSetTask.run!({ key: 'k', value: 1 }, context));
    expect(unavailable.code).toBe('SLU_KV_UNAVAILABLE');
    expect(unavailable.message).toContain('io.kestra.plugin.core.kv.Set needs the KV store');
  });
});

describe('kv.Get, kv.Delete and kv.GetKeys', () => {
  beforeEach(async () => {
    await store.set('dev', 'cfg', { type: 'JSON', value: { port: 5432 } });
    await store.set('dev', 'cfg.old', { type: 'NUMBER', value: 1 });
    await store.set('dev', 'other', { type: 'STRING', value: 'x' });
    await store.set('dev', 'short', { type: 'STRING', value: 'x' }, { ttlMs: 1000 });
    await store.set('team', 'cfg', { type: 'STRING', value: 'team value' });
  });

  it('Get outputs the value with its type, null when missing, and fails with errorOnMissing or when expired', async () => {
    expect(await run(kvGetTask, { key: 'cfg' })).toEqual({ outputs: { value: { port: 5432 } } });
    expect(await run(kvGetTask, { key: 'cfg', namespace: 'team' })).toEqual({ outputs: { value: 'team value' } });
    expect(await run(kvGetTask, { key: 'nope' })).toEqual({ outputs: { value: null } });
    expect((await failure(run(kvGetTask, { key: 'nope', errorOnMissing: true }))).code).toBe('SLU_KV_NOT_FOUND');
    store.advance(1000);
    expect((await failure(run(kvGetTask, { key: 'short' }))).code).toBe('SLU_KV_EXPIRED');
  });

  it('Delete outputs whether the key was there; errorOnMissing fails on a missing one', async () => {
    expect(await run(kvDeleteTask, { key: 'other' })).toEqual({ outputs: { deleted: true } });
    expect(await run(kvDeleteTask, { key: 'other' })).toEqual({ outputs: { deleted: false } });
    const error = await failure(run(kvDeleteTask, { key: 'other', errorOnMissing: true }));
    expect(error.message).toBe('no KV key other in namespace dev');
  });

  it('GetKeys lists the live keys, those starting with prefix only when given', async () => {
    expect(await run(kvGetKeysTask, {})).toEqual({ outputs: { keys: ['cfg', 'cfg.old', 'other', 'short'] } });
    expect(await run(kvGetKeysTask, { prefix: 'cfg' })).toEqual({ outputs: { keys: ['cfg', 'cfg.old'] } });
    expect(await run(kvGetKeysTask, { namespace: 'team' })).toEqual({ outputs: { keys: ['cfg'] } });
    store.advance(1000);
    expect(await run(kvGetKeysTask, { prefix: 's' })).toEqual({ outputs: { keys: [] } });
  });
});

describe('the legacy state tasks, on the KV store', () => {
  it('Set merges data into the flow\'s state; Get reads it; Delete removes it', async () => {
    expect(await run(stateSetTask, { data: { a: 1, b: '{{ inputs.b }}' } }, { variables: { inputs: { b: 'two' } } })).toEqual({
      outputs: { count: 2, key: stateKey('flow', 'default', undefined) },
    });
    expect((await run(stateSetTask, { data: { b: 3, c: true } })).outputs).toMatchObject({ count: 3 });
    expect(await run(stateGetTask, {})).toEqual({ outputs: { count: 3, data: { a: 1, b: 3, c: true } } });
    expect(store.dump()[`dev/${stateKey('flow', 'default', undefined)}`]).toEqual({ type: 'JSON', value: { a: 1, b: 3, c: true } });
    expect(await run(stateDeleteTask, {})).toEqual({ outputs: { deleted: true } });
    expect(await run(stateGetTask, {})).toEqual({ outputs: { count: 0, data: {} } });
    expect((await failure(run(stateGetTask, { errorOnMissing: true }))).message).toContain('no state "default"');
    expect((await failure(run(stateDeleteTask, { name: 'x', errorOnMissing: true }))).message).toContain('no state "x"');
  });

  it('keeps names, namespace-wide states and loop values apart', async () => {
    await run(stateSetTask, { name: 'a', data: { v: 'flow a' } });
    await run(stateSetTask, { name: 'a', namespace: true, data: { v: 'namespace a' } });
    await run(stateSetTask, { name: 'a', data: { v: 'loop x' } }, { variables: { taskrun: { value: 'x' } } });
    await run(stateSetTask, { name: 'a', taskrunValue: false, data: { w: 'not by loop' } }, { variables: { taskrun: { value: 'x' } } });
    await run(stateSetTask, { name: 'weird name/ü', data: { v: 1 } });
    expect((await run(stateGetTask, { name: 'a' })).outputs).toEqual({ count: 2, data: { v: 'flow a', w: 'not by loop' } });
    expect((await run(stateGetTask, { name: 'a', namespace: true })).outputs).toEqual({ count: 1, data: { v: 'namespace a' } });
    expect((await run(stateGetTask, { name: 'a' }, { variables: { taskrun: { value: 'x' } } })).outputs).toEqual({ count: 1, data: { v: 'loop x' } });
    expect(Object.keys(store.dump()).sort()).toHaveLength(4);
    expect(stateKey('flow', 'weird name/ü', undefined)).toMatch(/^states\.flow\.weird_name__\.[0-9a-f]{16}$/);
  });
});

describe('registration and flow checks', () => {
  const validator = createFlowValidator(createPluginRegistries([corePlugins]), { eager: true });
  const problems = (tasks: string): string[] =>
    validator.validateSource(`id: f\nnamespace: dev\ntasks:\n${tasks}`).flatMap((r) => r.problems.map((p) => `${p.path ?? ''}: ${p.message}`));

  it('registers the KV tasks and the state tasks under their old names too', () => {
    const registries = createPluginRegistries([corePlugins]);
    for (const type of ['io.kestra.plugin.core.kv.Set', 'io.kestra.plugin.core.kv.Get', 'io.kestra.plugin.core.kv.Delete', 'io.kestra.plugin.core.kv.GetKeys']) {
      expect(registries.tasks.get(type).kind).toBe('runnable');
    }
    for (const name of ['Set', 'Get', 'Delete']) {
      expect(registries.tasks.get(`io.kestra.core.tasks.states.${name}`).type).toBe(`io.kestra.plugin.core.state.${name}`);
    }
  });

  it('accepts valid KV tasks and refuses literal keys, types and TTLs that cannot work', () => {
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.kv.Set\n    key: "{{ inputs.k }}"\n    value: 1\n    kvType: NUMBER\n    ttl: PT1H\n')).toEqual([]);
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.kv.Set\n    key: bad key\n    value: 1\n').join('\n')).toContain('invalid KV key "bad key"');
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n    value: 1\n    kvType: TEXT\n').join('\n')).toContain('must be one of STRING');
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n    value: 1\n    ttl: 5m\n').join('\n')).toContain('invalid duration "5m"');
    expect(problems('  - id: s\n    type: io.kestra.plugin.core.kv.Set\n    key: k\n').join('\n')).toContain('missing required property "value"');
    expect(problems('  - id: g\n    type: io.kestra.plugin.core.kv.Get\n    key: k\n    errorOnMisssing: true\n').join('\n')).toContain('unknown property "errorOnMisssing"');
  });
});
