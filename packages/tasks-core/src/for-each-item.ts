/**
 * ForEachItem (`io.kestra.plugin.core.flow.ForEachItem`, legacy `io.kestra.core.tasks.flows.ForEachItem`): runs a
 * subflow once per batch of an items file. The engine gives it two children (packages/engine/src/flowables.ts,
 * `forEachItemChildren`):
 * - `<id>_split` (ForEachItem$ForEachItemSplit, here): a worker cuts the items file into batch files, streaming: the
 *   file is downloaded to the working directory and read a chunk at a time, each batch written as it fills, so a file
 *   of any size takes the memory of one chunk (the batch files go to the internal storage one by one);
 * - `<id>_items` (ForEachItem$ForEachItemExecutable): the scheduler starts one child execution per batch, with
 *   `{{ taskrun.items }}` (the batch's URI) and `{{ taskrun.iteration }}` (1-based) in `inputs`, and counts their ends
 *   (apps/scheduler/src/scheduler.ts).
 *
 * Batches, as Kestra cuts them (`batch.bytes` first, then `partitions`, then `rows`, default 1 row): a batch is whole
 * lines (split on `separator`, default a newline); `bytes` closes a batch once it holds that many bytes (a line longer
 * than that is a batch of its own); `partitions` spreads the lines over that many batches (counted in a first pass).
 * Batch files keep the items file's extension.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { SluiceError } from '@sluice/core';
import type { TaskContext, TaskDefinition, TaskResult } from '@sluice/plugin-api';

const FLOW = 'io.kestra.plugin.core.flow.';

/** Most batches one ForEachItem cuts: each is a child execution, started together. */
export const FOR_EACH_ITEM_MAX_BATCHES = 10_000;

const SIZE_UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** A size as Kestra writes it (`10MB`, `512KB`, `1GB`, a number of bytes). */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+)\s*(B|KB|MB|GB)?\s*$/i.exec(value);
  if (!match) return undefined;
  const bytes = Number(match[1]) * (SIZE_UNITS[(match[2] ?? 'B').toUpperCase()] ?? 1);
  return bytes > 0 ? bytes : undefined;
}

export interface BatchOptions {
  readonly rows?: number;
  readonly bytes?: number;
  readonly partitions?: number;
  readonly separator: string;
}

/** The batch options of a rendered `batch` property; a reason when it is malformed. */
export function batchOptions(value: unknown): BatchOptions | { error: string } {
  if (value === undefined || value === null) return { rows: 1, separator: '\n' };
  if (typeof value !== 'object' || Array.isArray(value)) return { error: 'batch: expected {rows, bytes, partitions, separator}' };
  const batch = value as Record<string, unknown>;
  const separator = batch.separator === undefined ? '\n' : String(batch.separator);
  if (separator === '') return { error: 'batch.separator: must not be empty' };
  const count = (key: string): number | undefined | { error: string } => {
    const raw = batch[key];
    if (raw === undefined || raw === null) return undefined;
    const n = Number(raw);
    return Number.isInteger(n) && n >= 1 ? n : { error: `batch.${key}: expected an integer of 1 or more, got ${JSON.stringify(raw)}` };
  };
  if (batch.bytes !== undefined && batch.bytes !== null) {
    const bytes = parseSize(batch.bytes);
    return bytes === undefined ? { error: `batch.bytes: expected a size such as 10MB, got ${JSON.stringify(batch.bytes)}` } : { bytes, separator };
  }
  const partitions = count('partitions');
  if (typeof partitions === 'object') return partitions;
  if (partitions !== undefined) return { partitions, separator };
  const rows = count('rows');
  if (typeof rows === 'object') return rows;
  return { rows: rows ?? 1, separator };
}

function failed(context: TaskContext, reason: string): SluiceError {
  return new SluiceError('SLU_TASK_FAILED', { taskId: context.taskRun.taskId, reason });
}

/** Each record (a line, without its separator) of a local file, read a chunk at a time. */
async function* records(path: string, separator: string, signal: AbortSignal): AsyncGenerator<Buffer> {
  const sep = Buffer.from(separator, 'utf8');
  let rest = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal })) {
    let buffer = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let at = buffer.indexOf(sep);
    while (at >= 0) {
      yield buffer.subarray(0, at);
      buffer = buffer.subarray(at + sep.length);
      at = buffer.indexOf(sep);
    }
    rest = Buffer.from(buffer);
  }
  if (rest.length > 0) yield rest;
}

/**
 * Cut the local file `path` into batch files under `dir` (`1.ext`, `2.ext`...); `onBatch` receives each closed batch
 * file, in order, before the next one is written. Returns the number of batches.
 */
export async function splitFile(
  path: string,
  dir: string,
  options: BatchOptions,
  extension: string,
  signal: AbortSignal,
  onBatch: (file: string, iteration: number) => Promise<void>,
): Promise<number> {
  const sep = Buffer.from(options.separator, 'utf8');
  let rowsPerBatch = options.rows;
  if (options.partitions !== undefined) {
    let total = 0;
    for await (const _record of records(path, options.separator, signal)) total++;
    rowsPerBatch = Math.max(1, Math.ceil(total / options.partitions));
  }
  let iteration = 0;
  let out: WriteStream | undefined;
  let file = '';
  let rows = 0;
  let bytes = 0;
  const close = async (): Promise<void> => {
    if (!out) return;
    const closing = once(out, 'close');
    out.end();
    await closing;
    out = undefined;
    await onBatch(file, iteration);
  };
  for await (const record of records(path, options.separator, signal)) {
    const full = options.bytes !== undefined && out !== undefined && bytes + record.length + sep.length > options.bytes;
    if (full) await close();
    if (!out) {
      iteration++;
      if (iteration > FOR_EACH_ITEM_MAX_BATCHES) throw new Error(`more than ${FOR_EACH_ITEM_MAX_BATCHES} batches: make them bigger (batch.rows, batch.bytes or batch.partitions)`);
      file = join(dir, `${iteration}${extension}`);
      out = createWriteStream(file);
      rows = 0;
      bytes = 0;
    }
    if (!out.write(record) || !out.write(sep)) await once(out, 'drain');
    rows++;
    bytes += record.length + sep.length;
    if (rowsPerBatch !== undefined && rows >= rowsPerBatch) await close();
  }
  await close();
  return iteration;
}

async function split(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<TaskResult> {
  const rendered = await context.render({ items: properties.items, batch: properties.batch });
  const items = rendered.items;
  if (typeof items !== 'string' || !items.startsWith('kestra://')) {
    throw failed(context, `items: expected a kestra:// URI of the internal storage, got ${JSON.stringify(items)}`);
  }
  const options = batchOptions(rendered.batch);
  if ('error' in options) throw failed(context, options.error);
  const dir = join(context.workingDirectory, `.sluice-items-${context.taskRun.id}`);
  await mkdir(dir, { recursive: true });
  const local = join(dir, 'items');
  try {
    await context.storage.getFile(items, local);
    const splits: string[] = [];
    const extension = extname(new URL(items).pathname);
    const count = await splitFile(local, dir, options, extension, context.signal, async (file, iteration) => {
      splits.push(await context.storage.putFile(file, `batches/${iteration}${extension}`));
      await rm(file, { force: true });
    }).catch((error: unknown) => {
      throw error instanceof SluiceError ? error : failed(context, error instanceof Error ? error.message : String(error));
    });
    context.logger.info(`${count} batch${count === 1 ? '' : 'es'} cut from ${items}`);
    return { outputs: { splits, numberOfBatches: count } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const labelValue = { type: ['string', 'number', 'boolean'] } as const;

const subflowProperties = {
  namespace: { type: 'string', minLength: 1, description: 'The namespace of the flow to run per batch (rendered).' },
  flowId: { type: 'string', minLength: 1, description: 'The id of the flow to run per batch (rendered).' },
  revision: { type: ['integer', 'string'], minimum: 1, description: 'The revision to run; the latest when absent.' },
  inputs: { type: ['object', 'string'], description: 'Inputs of each child: `{{ taskrun.items }}` is the batch file, `{{ taskrun.iteration }}` its number (from 1).' },
  labels: {
    type: ['object', 'array', 'string'],
    additionalProperties: labelValue,
    items: { type: 'object', required: ['key', 'value'], properties: { key: { type: 'string', minLength: 1 }, value: labelValue }, additionalProperties: false },
    description: 'Labels of each child execution.',
  },
  wait: { type: ['boolean', 'string'], default: true, description: 'Wait for every child execution to end.' },
  transmitFailed: { type: ['boolean', 'string'], default: true, description: 'With `wait`: a FAILED, KILLED or WARNING child ends the task in the worst of those states.' },
  inheritLabels: { type: ['boolean', 'string'], default: false, description: "Give each child all of the parent's labels." },
  scheduleDate: { type: 'string', description: 'When the children start (ISO-8601, rendered).' },
} as const;

export const forEachItemTask: TaskDefinition = {
  type: `${FLOW}ForEachItem`,
  aliases: ['io.kestra.core.tasks.flows.ForEachItem'],
  title: 'Run a subflow once per batch of an items file',
  description:
    'Cuts `items` (a kestra:// file) into batches of `batch.rows` lines (default 1), `batch.bytes` or `batch.partitions`, ' +
    'then starts `namespace`.`flowId` once per batch, with `{{ taskrun.items }}` (the batch file) and `{{ taskrun.iteration }}` ' +
    'in `inputs`. Its children are `<id>_split` (cuts the file on a worker, streaming), `<id>_items` (the child ' +
    'executions; outputs `numberOfBatches` and `iterations`, the count of children per state) and `<id>_merge` ' +
    '(`subflowOutputs`: the children\'s flow outputs in one JSON-lines file). With `wait` it ends ' +
    `once every child ended. At most ${FOR_EACH_ITEM_MAX_BATCHES} batches.`,
  kind: 'flowable',
  childTasks: [],
  errorTasks: ['errors', 'finally'],
  properties: {
    items: { type: 'string', minLength: 1, description: 'The kestra:// URI of the items file (rendered).' },
    batch: {
      type: 'object',
      properties: {
        rows: { type: ['integer', 'string'], minimum: 1, description: 'Lines per batch (default 1).' },
        bytes: { type: ['string', 'integer'], description: 'Bytes per batch, e.g. 10MB (whole lines).' },
        partitions: { type: ['integer', 'string'], minimum: 1, description: 'How many batches to spread the lines over.' },
        separator: { type: 'string', minLength: 1, default: '\n', description: 'What ends a line.' },
      },
      additionalProperties: false,
    },
    ...subflowProperties,
    errors: { type: 'array', description: 'Tasks to run when the task fails.' },
    finally: { type: 'array', description: 'Tasks run once it ended, whatever its outcome.' },
  },
  required: ['items', 'namespace', 'flowId'],
  examples: [
    'id: each_batch\ntype: io.kestra.plugin.core.flow.ForEachItem\nitems: "{{ outputs.extract.uri }}"\nbatch:\n  rows: 100\nnamespace: company.data\nflowId: transform\ninputs:\n  file: "{{ taskrun.items }}"\n  batch: "{{ taskrun.iteration }}"',
  ],
};

/** `<id>_split`: never written in a flow; the engine adds it under a ForEachItem. */
export const forEachItemSplitTask: TaskDefinition = {
  type: `${FLOW}ForEachItem$ForEachItemSplit`,
  title: "Cut a ForEachItem's items file into batches",
  description: 'Added by the engine under a ForEachItem (`<id>_split`): outputs `splits` (the batch files, in order) and `numberOfBatches`.',
  kind: 'runnable',
  properties: { items: { type: 'string' }, batch: { type: 'object' } },
  run: split,
};

/** `<id>_items`: never written in a flow; the scheduler applies it (one child execution per batch). */
export const forEachItemExecutableTask: TaskDefinition = {
  type: `${FLOW}ForEachItem$ForEachItemExecutable`,
  title: 'One child execution per batch',
  description: 'Added by the engine under a ForEachItem (`<id>_items`); started by the scheduler, never by a worker.',
  kind: 'runnable',
  properties: { ...subflowProperties },
};

/**
 * `<id>_merge`: writes the flow outputs of the children, one JSON line per batch that has outputs
 * (`{"iteration", "executionId", "state", "outputs"}`, by batch number), into one file: `subflowOutputs`, null when
 * no child has outputs. It reads them a page at a time through the execution store (the API's internal routes on a
 * remote worker), never all at once.
 */
async function merge(_properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<TaskResult> {
  const executions = context.executions;
  if (!executions?.childOutputs) {
    throw failed(context, "a ForEachItem's merge needs the execution store: it runs on the workers of a Sluice server");
  }
  const parent = context.taskRun.parentTaskRunId;
  if (!parent) throw failed(context, 'it runs under a ForEachItem task run only');
  const local = join(context.workingDirectory, `.sluice-merge-${context.taskRun.id}.jsonl`);
  const out = createWriteStream(local, { encoding: 'utf8' });
  const closed = once(out, 'close');
  closed.catch(() => undefined);
  let lines = 0;
  try {
    await executions.childOutputs(
      context.execution.id,
      parent,
      async (children) => {
        const text = children
          .filter((child) => child.outputs !== undefined && Object.keys(child.outputs).length > 0)
          .map((child) => `${JSON.stringify({ iteration: child.iteration, executionId: child.executionId, state: child.state, outputs: child.outputs })}\n`)
          .join('');
        if (text === '') return;
        lines += text.split('\n').length - 1;
        if (!out.write(text)) await Promise.race([once(out, 'drain'), closed]);
      },
      context.signal,
    );
    out.end();
    await closed;
    if (lines === 0) return { outputs: { subflowOutputs: null } };
    return { outputs: { subflowOutputs: await context.storage.putFile(local, 'subflow-outputs.jsonl') } };
  } finally {
    out.destroy();
    await rm(local, { force: true });
  }
}

/** `<id>_merge`: never written in a flow; the engine adds it under a ForEachItem. */
export const forEachItemMergeTask: TaskDefinition = {
  type: `${FLOW}ForEachItem$ForEachItemMergeOutputs`,
  title: "Merge the flow outputs of a ForEachItem's children",
  description: 'Added by the engine under a ForEachItem (`<id>_merge`): outputs `subflowOutputs`, a JSON-lines file of the children\'s flow outputs by batch (null when none has outputs).',
  kind: 'runnable',
  properties: {},
  run: merge,
};

export const forEachItemTasks: readonly TaskDefinition[] = [forEachItemTask, forEachItemSplitTask, forEachItemExecutableTask, forEachItemMergeTask];
