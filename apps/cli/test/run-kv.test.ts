/**
 * `sluice run` and the KV store: with no server, `kv()` and the KV tasks use a file store under the data folder
 * (`<data>/kv/<namespace>/<key>.json`), so a value set by one run is read by the next.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-run-kv-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(flow: string): Promise<{ code: number; execution: { state: { current: string }; taskRunList: { taskId: string; outputs?: Record<string, unknown> }[] } }> {
  const file = join(dir, `flow-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(file, flow);
  const out: string[] = [];
  const code = await main(['run', file, '--output', 'json'], { stdout: (t) => out.push(t), stderr: () => undefined }, { ...process.env, SLUICE_DATA_DIR: join(dir, 'data') });
  return { code, execution: JSON.parse(out.join('')) as never };
}

describe('sluice run with the KV store', () => {
  it('keeps values in files under the data folder, from one run to the next', async () => {
    const first = await run(
      ['id: writer', 'namespace: demo.kv', 'tasks:', '  - id: set', '    type: io.kestra.plugin.core.kv.Set', '    key: Last', '    value:', '      runs: 1'].join('\n'),
    );
    expect(first.code).toBe(0);
    expect(await readdir(join(dir, 'data', 'kv', 'demo.kv'))).toEqual(['~last.json']);
    const second = await run(
      [
        'id: reader',
        'namespace: demo.kv',
        'tasks:',
        '  - id: read',
        '    type: io.kestra.plugin.core.debug.Return',
        '    format: "{{ kv(\'Last\').runs + 1 }}"',
        '  - id: keys',
        '    type: io.kestra.plugin.core.kv.GetKeys',
      ].join('\n'),
    );
    expect(second.code).toBe(0);
    expect(second.execution.taskRunList.map((r) => r.outputs)).toEqual([{ value: '2' }, { keys: ['Last'] }]);
  });
});
