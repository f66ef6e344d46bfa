/**
 * ForEachItem (issue #18): the peak memory of cutting a big items file into batches, which must stream (the issue:
 * "a 1 GiB items file must not be read into memory: measure the peak RSS").
 *
 * The task a worker runs, `<id>_split` (ForEachItem$ForEachItemSplit), is run through the worker's own runtime
 * (`runTask`, with the local internal storage) in a fresh child process, on a generated file of `--size-mb` MiB of
 * ~100-byte lines cut into batches of `--rows` lines. The child reports its peak RSS (`process.resourceUsage().maxRSS`)
 * once the task ended; the baseline, in the same run, is the same child loading the same modules and running nothing.
 *
 *   npm run bench:for-each-item -- [--size-mb 1024] [--rows 100000]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ChildReport {
  readonly maxRssKiB: number;
  readonly ms: number;
  readonly state?: string;
  readonly batches?: number;
  readonly error?: string;
}

const self = fileURLToPath(import.meta.url);

/** In the child: run the split task (or nothing, for the baseline) and report. */
async function child(mode: 'split' | 'baseline', root: string, rows: number): Promise<void> {
  const { createDefaultRegistries } = await import('@sluice/plugins');
  const { runTask } = await import('@sluice/task-runtime');
  const { LocalFileStorage, inputFileUri } = await import('@sluice/storage');
  const { createReadStream } = await import('node:fs');
  const registries = createDefaultRegistries();
  const storage = new LocalFileStorage({ root: join(root, 'storage') });
  const execution = { id: 'benchExecution1', namespace: 'bench', flowId: 'items', flowRevision: 1 };
  const started = performance.now();
  let report: ChildReport;
  if (mode === 'baseline') {
    report = { maxRssKiB: process.resourceUsage().maxRSS, ms: performance.now() - started };
  } else {
    const uri = inputFileUri({ namespace: execution.namespace, flowId: execution.flowId, executionId: execution.id, inputId: 'items' }, 'items.txt');
    await storage.put(uri, createReadStream(join(root, 'items.txt')));
    const definition = registries.tasks.get('io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit');
    if (!definition) throw new Error('the split task is not registered');
    const outcome = await runTask({
      definition,
      task: { id: 'each_split', type: 'io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit', items: uri, batch: { rows } },
      taskRunId: 'benchSplitRun1',
      attempt: 1,
      execution,
      variables: {},
      storage,
      workRoot: join(root, 'work'),
      runners: { registry: registries.runners },
      tasks: registries.tasks,
      secrets: {},
      onLog: () => undefined,
    });
    report = {
      maxRssKiB: process.resourceUsage().maxRSS,
      ms: performance.now() - started,
      state: outcome.state,
      batches: outcome.outputs.numberOfBatches as number,
      ...(outcome.error ? { error: outcome.error.message } : {}),
    };
  }
  process.send?.(report);
}

async function runChild(mode: 'split' | 'baseline', root: string, rows: number): Promise<ChildReport> {
  const proc = fork(self, ['--child', mode, '--root', root, '--rows', String(rows)], {
    execArgv: ['--conditions=@sluice/source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [report] = (await once(proc, 'message')) as [ChildReport];
  await once(proc, 'exit');
  return report;
}

/** A file of `bytes` bytes of ~100-byte lines, written a chunk at a time. */
async function writeItems(path: string, bytes: number): Promise<number> {
  const out = createWriteStream(path);
  let written = 0;
  let line = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000 && written < bytes; i++) {
      const text = `${++line},${'x'.repeat(90)},${line % 97}\n`;
      lines.push(text);
      written += text.length;
    }
    if (!out.write(lines.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return line;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { child: { type: 'string' }, root: { type: 'string' }, rows: { type: 'string', default: '100000' }, 'size-mb': { type: 'string', default: '1024' } },
  });
  const rows = Number(values.rows);
  if (values.child) {
    await child(values.child as 'split' | 'baseline', values.root ?? '', rows);
    return;
  }
  const sizeMb = Number(values['size-mb']);
  const root = await mkdtemp(join(tmpdir(), 'sluice-bench-items-'));
  try {
    await mkdir(join(root, 'work'));
    const lines = await writeItems(join(root, 'items.txt'), sizeMb * 1024 * 1024);
    const size = (await stat(join(root, 'items.txt'))).size;
    console.log(`items file: ${(size / 1024 ** 2).toFixed(0)} MiB, ${lines} lines; batches of ${rows} lines`);
    const baseline = await runChild('baseline', root, rows);
    const split = await runChild('split', root, rows);
    const mib = (kib: number): string => (kib / 1024).toFixed(0);
    console.log('\n| process | peak RSS (MiB) | time (s) | result |');
    console.log('|---|---|---|---|');
    console.log(`| baseline: the same modules loaded, nothing run | ${mib(baseline.maxRssKiB)} | ${(baseline.ms / 1000).toFixed(1)} | |`);
    console.log(`| ForEachItem split of the ${(size / 1024 ** 3).toFixed(2)} GiB file | ${mib(split.maxRssKiB)} | ${(split.ms / 1000).toFixed(1)} | ${split.state} ${split.batches ?? 0} batches${split.error ? `: ${split.error}` : ''} |`);
    console.log(`\nthe split's peak RSS is ${mib(split.maxRssKiB - baseline.maxRssKiB)} MiB over the baseline, for a file of ${mib(size / 1024)} MiB`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
