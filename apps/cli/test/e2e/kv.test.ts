/**
 * The KV store end to end (issue #18): a flow sets, reads (`kv()` in templates and `kv.Get`), lists and deletes keys,
 * and uses the legacy state tasks, while the REST API reads and writes the same keys; parallel sets of one key leave
 * one whole value; a value over 1 MiB fails its task with a clear error. Once with `sluice server local` (its worker
 * reaches the database directly), once with the distributed apps, where the worker is a separate process that reaches
 * the KV store only through the API's internal routes with the worker token. See stack.ts.
 */
import { describe, expect, it } from 'vitest';
import { taskRun, taskRuns, useStack } from './stack.js';

for (const mode of ['local', 'distributed'] as const) {
  describe(`the KV store end to end (${mode === 'local' ? 'sluice server local' : 'distributed apps, a remote worker'})`, () => {
    const stack = useStack(mode);
    const ns = `kv.e2e.${mode}`;
    const kv = (path: string, init?: RequestInit): Promise<Response> => stack.api(`/api/v1/main/namespaces/${ns}/kv${path}`, init);

    it('tasks and kv() read and write the keys the REST API sees, both ways', async () => {
      expect((await kv('/from_api', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"region": "eu", "replicas": 3}' })).status).toBe(200);
      expect((await kv('/doomed', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '"bye"' })).status).toBe(200);
      await stack.deploy(
        [
          'id: kv_flow',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: set_map',
          '    type: io.kestra.plugin.core.kv.Set',
          '    key: greeting',
          '    value:',
          '      msg: hello',
          '      n: 41',
          '  - id: set_typed',
          '    type: io.kestra.plugin.core.kv.Set',
          '    key: counter',
          '    value: "{{ kv(\'from_api\').replicas * 2 }}"',
          '    ttl: PT1H',
          '  - id: set_date',
          '    type: io.kestra.plugin.core.kv.Set',
          '    key: day',
          '    value: "2024-01-01"',
          '    kvType: DATE',
          '  - id: use',
          '    type: io.kestra.plugin.core.debug.Return',
          '    format: "{{ kv(\'greeting\').msg }} {{ kv(\'greeting\').n + 1 }} {{ kv(\'from_api\', namespace=\'' + ns + '\').region }} [{{ kv(\'missing\') }}]"',
          '  - id: get',
          '    type: io.kestra.plugin.core.kv.Get',
          '    key: counter',
          '  - id: delete',
          '    type: io.kestra.plugin.core.kv.Delete',
          '    key: doomed',
          '  - id: keys',
          '    type: io.kestra.plugin.core.kv.GetKeys',
          '  - id: state',
          '    type: io.kestra.core.tasks.states.Set',
          '    data:',
          '      seen: true',
          '  - id: state_read',
          '    type: io.kestra.plugin.core.state.Get',
        ].join('\n'),
      );
      const done = await stack.execute(ns, 'kv_flow', { wait: true });
      expect(done.state.current, JSON.stringify(done.taskRunList.map((r) => [r.taskId, r.state.current, r.outputs]))).toBe('SUCCESS');
      expect(taskRun(done, 'use').outputs).toEqual({ value: 'hello 42 eu []' });
      expect(taskRun(done, 'get').outputs).toEqual({ value: 6 });
      expect(taskRun(done, 'delete').outputs).toEqual({ deleted: true });
      const stateKey = (taskRun(done, 'state').outputs as { key: string }).key;
      expect((taskRun(done, 'keys').outputs as { keys: string[] }).keys).toEqual(['counter', 'day', 'from_api', 'greeting']);
      expect(taskRun(done, 'state_read').outputs).toEqual({ count: 1, data: { seen: true } });

      expect(await (await kv('/greeting')).json()).toEqual({ type: 'JSON', value: { msg: 'hello', n: 41 } });
      expect(await (await kv('/counter')).json()).toEqual({ type: 'NUMBER', value: 6 });
      expect(await (await kv('/day')).json()).toEqual({ type: 'DATE', value: '2024-01-01' });
      expect((await kv('/doomed')).status).toBe(404);
      const listed = (await (await kv('')).json()) as { key: string; expirationDate?: string }[];
      expect(listed.map((entry) => entry.key)).toEqual(['counter', 'day', 'from_api', 'greeting', stateKey]);
      expect(listed.find((entry) => entry.key === 'counter')?.expirationDate).toBeDefined();
    });

    it('parallel sets of one key leave one whole value', async () => {
      const writers = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
      await stack.deploy(
        [
          'id: kv_race',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: each',
          '    type: io.kestra.plugin.core.flow.ForEach',
          `    values: ${JSON.stringify(writers)}`,
          '    concurrencyLimit: 0',
          '    tasks:',
          '      - id: write',
          '        type: io.kestra.plugin.core.kv.Set',
          '        key: raced',
          '        value:',
          '          writer: "{{ taskrun.value }}"',
          '          payload: "{{ taskrun.value }}{{ taskrun.value }}{{ taskrun.value }}"',
        ].join('\n'),
      );
      const done = await stack.execute(ns, 'kv_race', { wait: true });
      expect(done.state.current).toBe('SUCCESS');
      expect(taskRuns(done, 'write')).toHaveLength(writers.length);
      const stored = (await (await kv('/raced')).json()) as { type: string; value: { writer: string; payload: string } };
      expect(stored.type).toBe('JSON');
      expect(writers).toContain(stored.value.writer);
      expect(stored.value.payload).toBe(stored.value.writer.repeat(3));
    });

    it('a value over 1 MiB fails its task with a clear error, and a missing key with errorOnMissing too', async () => {
      const half = 'x'.repeat(600 * 1024);
      expect((await kv('/half', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(half) })).status).toBe(200);
      await stack.deploy(
        [
          'id: kv_too_big',
          `namespace: ${ns}`,
          'tasks:',
          '  - id: big',
          '    type: io.kestra.plugin.core.kv.Set',
          '    key: big',
          '    value: "{{ [kv(\'half\'), kv(\'half\')] }}"',
        ].join('\n'),
      );
      const done = await stack.execute(ns, 'kv_too_big', { wait: true });
      expect(done.state.current).toBe('FAILED');
      const logs = (await (await stack.api(`/api/v1/logs/${done.id}`)).json()) as { level: string; message: string }[];
      expect(logs.map((line) => line.message).join('\n')).toMatch(/the value of KV key big is \d+ bytes: a KV value is at most 1048576 bytes \(1 MiB\)/);
      expect((await kv('/big')).status).toBe(404);

      await stack.deploy(
        ['id: kv_missing', `namespace: ${ns}`, 'tasks:', '  - id: read', '    type: io.kestra.plugin.core.debug.Return', '    format: "{{ kv(\'nope\', errorOnMissing=true) }}"'].join('\n'),
      );
      const missing = await stack.execute(ns, 'kv_missing', { wait: true });
      expect(missing.state.current).toBe('FAILED');
      const missingLogs = (await (await stack.api(`/api/v1/logs/${missing.id}`)).json()) as { message: string }[];
      expect(missingLogs.map((line) => line.message).join('\n')).toContain(`no KV key nope in namespace ${ns}`);
    });
  });
}
