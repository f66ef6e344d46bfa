/**
 * The examples of examples/flows-that-start-flows/ run as their comments say (issue #18, "Docs and examples"), on
 * `sluice server local`: the three-flow pipeline (a webhook starts `ingest`, which runs `transform` once per batch with
 * ForEachItem; a Flow trigger starts `summary` when `ingest` ends, which counts successes in the KV store), and the
 * Subflow pair.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ExecutionJson } from './stack.js';
import { taskRun, useStack } from './stack.js';

const folder = fileURLToPath(new URL('../../../../examples/flows-that-start-flows/', import.meta.url));
const example = (name: string): Promise<string> => readFile(`${folder}${name}`, 'utf8');

describe('examples/flows-that-start-flows on sluice server local', () => {
  const stack = useStack('local');

  async function executionsOf(namespace: string, flowId: string, count: number): Promise<ExecutionJson[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const page = (await (await stack.api(`/api/v1/main/executions/search?filters[namespace][EQUALS]=${namespace}&filters[flowId][EQUALS]=${flowId}&size=100`)).json()) as {
        results: ExecutionJson[];
      };
      const ended = page.results.filter((e) => ['SUCCESS', 'WARNING', 'FAILED', 'KILLED'].includes(e.state.current));
      if (ended.length >= count || Date.now() > deadline) return ended;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const logsOf = async (id: string): Promise<string[]> => ((await (await stack.api(`/api/v1/main/logs/${id}`)).json()) as { message: string }[]).map((l) => l.message);

  it('the pipeline: webhook → ingest → a transform per batch (ForEachItem) → summary (Flow trigger) → a count in the KV store', async () => {
    for (const file of ['transform.yml', 'summary.yml', 'ingest.yml']) await stack.deploy(await example(file));
    const ingestSource = await example('ingest.yml');
    const key = /key: (\S+)/.exec(ingestSource)?.[1];
    expect(key).toBe('change-me-to-a-long-random-key');

    const hook = await fetch(`${stack.url}/api/v1/main/executions/webhook/examples.pipeline/ingest/${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orders: 1000 }),
    });
    expect(hook.status).toBe(200);
    const ingest = await stack.waitFor(((await hook.json()) as { id: string }).id, undefined, 60_000);
    expect(ingest.state.current).toBe('SUCCESS');
    expect(taskRun(ingest, 'each_batch_items').outputs).toEqual({ numberOfBatches: 4, iterations: { CREATED: 0, SUCCESS: 4 } });

    // The merge wrote the four children's outputs, one line per batch, in batch order.
    const merged = taskRun(ingest, 'each_batch_merge').outputs?.subflowOutputs as string;
    expect(merged).toMatch(/^kestra:\/\/\/.*\/subflow-outputs\.jsonl$/);
    const file = await (await stack.api(`/api/v1/main/executions/${ingest.id}/file?path=${encodeURIComponent(merged)}`)).text();
    const lines = file.trim().split('\n').map((line) => JSON.parse(line) as { iteration: number; state: string; outputs: Record<string, unknown> });
    expect(lines.map(({ iteration, state, outputs }) => ({ iteration, state, outputs }))).toEqual(
      [1, 2, 3, 4].map((iteration) => ({ iteration, state: 'SUCCESS', outputs: { orders: 250 } })),
    );

    const transforms = await executionsOf('examples.pipeline', 'transform', 4);
    expect(transforms).toHaveLength(4);
    expect(transforms.map((t) => taskRun(t, 'count').outputs?.vars)).toEqual([{ orders: 250 }, { orders: 250 }, { orders: 250 }, { orders: 250 }]);

    const [summary] = await executionsOf('examples.pipeline', 'summary', 1);
    expect(summary?.state.current).toBe('SUCCESS');
    expect(await logsOf(summary!.id)).toContain(`ingest ${ingest.id} ended SUCCESS with 4 batches`);
    const kv = await stack.api('/api/v1/main/namespaces/examples.pipeline/kv/ingests_succeeded');
    expect(await kv.json()).toEqual({ type: 'NUMBER', value: 1 });
  }, 120_000);

  it('the Subflow pair: the parent waits for the child and reads its outputs', async () => {
    await stack.deploy(await example('child.yml'));
    await stack.deploy(await example('parent_and_child.yml'));
    const parent = await stack.execute('examples.subflows', 'parent', { wait: true });
    expect(parent.state.current).toBe('SUCCESS');
    const childId = taskRun(parent, 'call').outputs?.executionId as string;
    expect(await logsOf(parent.id)).toContain(`the child (${childId}) said: hello world`);
    expect(await logsOf(childId)).toContain(`started by parent ${parent.id}`);
  }, 60_000);
});
