import { SluiceError } from '@sluice/core';
import type { PluginIssue, TaskSpec } from '@sluice/core';
import type { ChildOutcome, TaskContext, TaskDefinition, TaskResult } from '@sluice/plugin-api';
import { inputFilesSchema, outputFilesSchema } from './files-schema.js';
import { parseInputFiles, parseOutputFiles, uploadOutputFiles, writeInputFiles } from './files.js';

/**
 * Write `inputFiles`, run the children in order in the shared directory (`context.runChild`), then upload
 * `outputFiles`.
 * - A `disabled` child is skipped (no task run, as Kestra).
 * - The first FAILED or KILLED child stops the group, unless it has `allowFailure: true`; the group then fails
 *   with `SLU_TASK_FAILED` naming that child, and `outputFiles` are not uploaded.
 * - The group is WARNING when a child was WARNING or failed with `allowFailure`, SUCCESS otherwise.
 * - On abort it rejects with `context.signal.reason` (the runtime aborts the running child through its own signal).
 */
async function runWorkingDirectory(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<TaskResult> {
  const taskId = context.taskRun.taskId;
  const runChild = context.runChild;
  if (!runChild) {
    throw new SluiceError('SLU_TASK_FAILED', { taskId, reason: 'this runtime cannot run child tasks (TaskContext.runChild is missing)' });
  }
  const { inputFiles, outputFiles } = await context.render({ inputFiles: properties.inputFiles, outputFiles: properties.outputFiles });
  const patterns = parseOutputFiles(outputFiles);
  await writeInputFiles(parseInputFiles(inputFiles), context);

  const children = Array.isArray(properties.tasks) ? (properties.tasks as TaskSpec[]) : [];
  let warning = false;
  const outcomes: ChildOutcome[] = [];
  for (const child of children) {
    context.signal.throwIfAborted();
    if (child.disabled === true) continue;
    const outcome = await runChild(child);
    outcomes.push(outcome);
    context.signal.throwIfAborted();
    if (outcome.state === 'WARNING') warning = true;
    if (outcome.state !== 'FAILED' && outcome.state !== 'KILLED') continue;
    if (child.allowFailure === true) {
      warning = true;
      context.logger.warn(`child task ${child.id} ended ${outcome.state}; continuing because it has allowFailure: true`);
      continue;
    }
    const why = outcome.error ? `: ${outcome.error.message}` : '';
    throw new SluiceError(
      'SLU_TASK_FAILED',
      { taskId, reason: `child task ${child.id} ended ${outcome.state}${why}` },
      { childTaskId: child.id, childState: outcome.state, children: outcomes.map((o) => ({ taskId: o.taskId, state: o.state })) },
      outcome.error ? { cause: outcome.error } : undefined,
    );
  }

  const uploaded = await uploadOutputFiles(patterns, context);
  return { state: warning ? 'WARNING' : 'SUCCESS', outputs: { outputFiles: uploaded } };
}

/**
 * `cache` is Kestra's (files kept between executions, by pattern, for `ttl`), but Sluice does not implement it yet:
 * every run starts from an empty directory. Refused at save, so that a flow relying on it does not silently run without.
 */
function checkWorkingDirectory(value: Readonly<Record<string, unknown>>): PluginIssue[] {
  if (value.cache === undefined) return [];
  return [
    {
      path: ['cache'],
      target: 'key',
      code: 'SLU_FLOW_UNSUPPORTED_PROPERTY',
      params: { property: 'WorkingDirectory.cache', reason: 'every run starts from an empty directory, nothing is cached between executions; remove cache' },
    },
  ];
}

export const workingDirectoryTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.flow.WorkingDirectory',
  aliases: ['io.kestra.core.tasks.flows.WorkingDirectory', 'io.kestra.core.tasks.flows.Worker'],
  title: 'Run tasks in one shared directory',
  description:
    'Runs its child tasks in order, on one worker, in one fresh temporary directory that is deleted afterwards. ' +
    'Each child is reported as its own task run. Set `workerGroup` here, not on the children. `errors` run as ' +
    'ordinary tasks, outside the directory, when a child fails. `cache` is not supported yet and refused.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors'],
  runsChildrenAsOneJob: true,
  properties: {
    inputFiles: inputFilesSchema,
    outputFiles: outputFilesSchema,
    namespaceFiles: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean' },
        include: { type: 'array', items: { type: 'string' } },
        exclude: { type: 'array', items: { type: 'string' } },
      },
      additionalProperties: false,
    },
    cache: {
      type: 'object',
      required: ['patterns'],
      properties: {
        patterns: { type: 'array', items: { type: 'string' }, minItems: 1 },
        ttl: { type: 'string', format: 'duration' },
      },
      additionalProperties: false,
      description: 'Not supported by Sluice yet: refused at save (Kestra keeps matching files between executions for ttl).',
    },
    errors: { type: 'array', description: 'Tasks to run when a child task fails. They do not rescue it: this task still ends FAILED.' },
  },
  required: ['tasks'],
  check: checkWorkingDirectory,
  run: runWorkingDirectory,
  outputs: {
    outputFiles: { type: 'object', additionalProperties: { type: 'string' }, description: 'Path → kestra:/// URI of each uploaded file.' },
  },
};
