/**
 * The KV store in the task runtime: the file store of `sluice run` (on real files: types, TTL with a clock the test
 * moves, `overwrite: false`, keys differing by case, concurrent sets, the 1 MiB limit), and `kv()` in templates
 * through runTask (positional and named arguments, the flow's namespace by default, typed values, missing and expired
 * keys, no store). The Postgres store is tested in apps/api (kv.test.ts), remote workers end to end (apps/cli e2e).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSluiceError, KV_VALUE_MAX_BYTES } from '@sluice/core';
import type { TaskSpec } from '@sluice/core';
import { Registry } from '@sluice/plugin-api';
import type { KvAccess, RunnerDefinition, TaskDefinition } from '@sluice/plugin-api';
import { LocalFileStorage } from '@sluice/storage';
import { createFileKvStore, kvFileName, runTask } from '@sluice/task-runtime';
import type { TaskRunOutcome } from '@sluice/task-runtime';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-kv-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the file KV store (sluice run)', () => {
  it('stores typed values per namespace and key, lists them by key, deletes them', async () => {
    const kv = createFileKvStore(join(dir, 'kv'));
    expect(await kv.set('team.a', 'cfg', { type: 'JSON', value: { a: [1, 'x'] } })).toBe(true);
    expect(await kv.set('team.a', 'n', { type: 'NUMBER', value: 2 })).toBe(true);
    expect(await kv.set('team.b', 'n', { type: 'STRING', value: 'other namespace' })).toBe(true);
    expect(await kv.get('team.a', 'cfg')).toEqual({ status: 'found', type: 'JSON', value: { a: [1, 'x'] } });
    expect(await kv.get('team.b', 'n')).toEqual({ status: 'found', type: 'STRING', value: 'other namespace' });
    expect(await kv.get('team.a', 'none')).toEqual({ status: 'missing' });
    expect((await kv.list('team.a')).map((e) => e.key)).toEqual(['cfg', 'n']);
    expect(await kv.list('team.c')).toEqual([]);
    expect(await kv.delete('team.a', 'n')).toBe(true);
    expect(await kv.delete('team.a', 'n')).toBe(false);
    expect((await kv.list('team.a')).map((e) => e.key)).toEqual(['cfg']);
  });

  it('keeps keys that differ only by case apart, on any file system', async () => {
    expect(kvFileName('Key.A')).toBe('~key.~a.json');
    const kv = createFileKvStore(join(dir, 'kv'));
    await kv.set('ns', 'Key', { type: 'NUMBER', value: 1 });
    await kv.set('ns', 'key', { type: 'NUMBER', value: 2 });
    expect(await kv.get('ns', 'Key')).toMatchObject({ value: 1 });
    expect(await kv.get('ns', 'key')).toMatchObject({ value: 2 });
    expect((await kv.list('ns')).map((e) => e.key)).toEqual(['Key', 'key']);
  });

  it('expires a key after its TTL: hidden from the list, deleted when read', async () => {
    let now = Date.UTC(2026, 0, 1);
    const kv = createFileKvStore(join(dir, 'kv'), () => new Date(now));
    await kv.set('ns', 'short', { type: 'STRING', value: 'x' }, { ttlMs: 60_000 });
    expect(await kv.list('ns')).toEqual([{ key: 'short', creationDate: '2026-01-01T00:00:00Z', updateDate: '2026-01-01T00:00:00Z', expirationDate: '2026-01-01T00:01:00Z' }]);
    now += 59_999;
    expect(await kv.get('ns', 'short')).toMatchObject({ status: 'found' });
    now += 1;
    expect(await kv.list('ns')).toEqual([]);
    expect(await kv.get('ns', 'short')).toEqual({ status: 'expired' });
    expect(await kv.get('ns', 'short')).toEqual({ status: 'missing' });
  });

  it('overwrite false leaves a live key, replaces an expired one; a replace keeps the creation date', async () => {
    let now = Date.UTC(2026, 0, 1);
    const kv = createFileKvStore(join(dir, 'kv'), () => new Date(now));
    expect(await kv.set('ns', 'k', { type: 'NUMBER', value: 1 }, { overwrite: false, ttlMs: 1000 })).toBe(true);
    expect(await kv.set('ns', 'k', { type: 'NUMBER', value: 2 }, { overwrite: false })).toBe(false);
    now += 500;
    expect(await kv.set('ns', 'k', { type: 'NUMBER', value: 3 }, { ttlMs: 1000 })).toBe(true);
    expect((await kv.list('ns'))[0]).toMatchObject({ creationDate: '2026-01-01T00:00:00Z', updateDate: '2026-01-01T00:00:00.500Z' });
    now += 1000;
    expect(await kv.set('ns', 'k', { type: 'NUMBER', value: 4 }, { overwrite: false })).toBe(true);
    expect(await kv.get('ns', 'k')).toEqual({ status: 'found', type: 'NUMBER', value: 4 });
  });

  it('concurrent sets of one key leave one whole value and no temporary file', async () => {
    const kv = createFileKvStore(join(dir, 'kv'));
    const values = Array.from({ length: 20 }, (_, i) => ({ writer: i, payload: String(i % 10).repeat(50_000 + i) }));
    await Promise.all(values.map((value) => kv.set('ns', 'raced', { type: 'JSON', value })));
    const found = await kv.get('ns', 'raced');
    expect(found.status).toBe('found');
    expect(values).toContainEqual((found as { value: unknown }).value);
    expect(await readdir(join(dir, 'kv', 'ns'))).toEqual(['raced.json']);
    // With overwrite false, exactly one of them writes.
    const once = await Promise.all(values.map((value) => kv.set('ns', 'once', { type: 'JSON', value }, { overwrite: false })));
    expect(once.filter(Boolean)).toHaveLength(1);
  });

  it('refuses a value over 1 MiB, a bad key and a bad namespace, writing nothing', async () => {
    const kv = createFileKvStore(join(dir, 'kv'));
    const error = await kv.set('ns', 'big', { type: 'STRING', value: 'x'.repeat(KV_VALUE_MAX_BYTES) }).catch((e: unknown) => e);
    expect(isSluiceError(error) && error.code).toBe('SLU_KV_VALUE_TOO_LARGE');
    await expect(kv.set('ns', '../escape', { type: 'NUMBER', value: 1 })).rejects.toMatchObject({ code: 'SLU_KV_INVALID_KEY' });
    await expect(kv.set('../ns', 'k', { type: 'NUMBER', value: 1 })).rejects.toMatchObject({ code: 'SLU_FLOW_INVALID_NAMESPACE' });
    expect(await kv.get('ns', 'big')).toEqual({ status: 'missing' });
  });
});

/** Renders `value` and returns it (for expression tests). */
const renderTask: TaskDefinition = {
  type: 'test.Render',
  title: 'render',
  kind: 'runnable',
  properties: {},
  async run(properties, context) {
    return { outputs: { value: await context.render(properties.value), typed: context.renderTyped ? await context.renderTyped(properties.value) : null } };
  },
};

describe('kv() in templates', () => {
  let kv: KvAccess;
  let now: number;
  beforeEach(async () => {
    now = Date.UTC(2026, 0, 1);
    kv = createFileKvStore(join(dir, 'kv'), () => new Date(now));
    await kv.set('company.team', 'cfg', { type: 'JSON', value: { db: { port: 5432 } } });
    await kv.set('company.team', 'n', { type: 'NUMBER', value: 41 });
    await kv.set('company.team', 'when', { type: 'DATETIME', value: '2021-09-01T01:02:03Z' });
    await kv.set('company', 'shared', { type: 'STRING', value: 'from the parent namespace' });
    await kv.set('company.team', 'short', { type: 'STRING', value: 'x' }, { ttlMs: 1000 });
  });

  const render = async (value: unknown, store: KvAccess | null = kv): Promise<TaskRunOutcome> =>
    runTask({
      definition: renderTask,
      task: { id: 'r', type: 'test.Render', value } as TaskSpec,
      taskRunId: 'r-1',
      attempt: 1,
      execution: { id: 'e1', namespace: 'company.team', flowId: 'f', flowRevision: 1 },
      variables: {},
      storage: new LocalFileStorage({ root: join(dir, 'storage') }),
      runners: { registry: new Registry<RunnerDefinition>('runner') },
      tasks: new Registry<TaskDefinition>('task'),
      secrets: {},
      workRoot: dir,
      ...(store ? { kv: store } : {}),
      onLog: () => undefined,
    });

  it('reads the flow\'s namespace by default, with the value\'s type', async () => {
    const outcome = await render({ port: "{{ kv('cfg').db.port + 1 }}", n: "{{ kv('n') * 2 }}", when: "{{ kv('when') }}" });
    expect(outcome.state).toBe('SUCCESS');
    expect(outcome.outputs.value).toEqual({ port: '5433', n: '82', when: '2021-09-01T01:02:03Z' });
    // One expression keeps the type (Kestra's renderTyped).
    expect((await render("{{ kv('cfg') }}")).outputs.typed).toEqual({ db: { port: 5432 } });
  });

  it('takes the namespace and errorOnMissing by position or by name', async () => {
    const outcome = await render({
      positional: "{{ kv('shared', 'company') }}",
      named: "{{ kv('shared', namespace='company') }}",
      keyByName: "{{ kv(key='shared', namespace='company', errorOnMissing=true) }}",
    });
    expect(outcome.state).toBe('SUCCESS');
    expect(outcome.outputs.value).toEqual({ positional: 'from the parent namespace', named: 'from the parent namespace', keyByName: 'from the parent namespace' });
  });

  it('gives null for a missing key, and fails the task with errorOnMissing', async () => {
    const missing = await render("{{ kv('nope') ?? 'none' }}");
    expect(missing.outputs.value).toBe('none');
    expect((await render("[{{ kv('nope', errorOnMissing=false) }}]")).outputs.value).toBe('[]');
    for (const call of ["{{ kv('nope', errorOnMissing=true) }}", "{{ kv('nope', 'company.team', true) }}"]) {
      const failed = await render(call);
      expect(failed.state, call).toBe('FAILED');
      expect(failed.error).toMatchObject({ code: 'SLU_KV_NOT_FOUND', message: 'no KV key nope in namespace company.team' });
    }
  });

  it('fails on an expired key whatever errorOnMissing says', async () => {
    now += 1000;
    const failed = await render("{{ kv('short', errorOnMissing=false) }}");
    expect(failed.state).toBe('FAILED');
    expect(failed.error).toMatchObject({ code: 'SLU_KV_EXPIRED', message: 'the value of KV key short in namespace company.team has expired' });
  });

  it('refuses bad arguments, naming them', async () => {
    const cases: [string, RegExp][] = [
      ["{{ kv('n', nameSpace='x') }}", /unknown argument "nameSpace"/],
      ["{{ kv('n', 'company.team', 'yes') }}", /errorOnMissing must be true or false/],
      ['{{ kv(1) }}', /the key must be a text/],
      ["{{ kv('n', namespace='company.team', namespace2='x') }}", /unknown argument/],
      ["{{ kv('n', 'company.team', false, 1) }}", /at most 3 arguments/],
      ["{{ kv('bad key') }}", /invalid KV key "bad key"/],
    ];
    for (const [call, message] of cases) {
      const failed = await render(call);
      expect(failed.state, call).toBe('FAILED');
      expect(failed.error?.message, call).toMatch(message);
    }
  });

  it('fails saying so when the runtime has no KV store', async () => {
    const failed = await render("{{ kv('n') }}", null);
    expect(failed.state).toBe('FAILED');
    expect(failed.error?.code).toBe('SLU_KV_UNAVAILABLE');
  });
});
