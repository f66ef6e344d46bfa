/**
 * The core tasks that act on executions through the execution store (`context.executions`): `log.Fetch` copies an
 * execution's logs into a file of the internal storage, `execution.Resume` resumes a PAUSED execution. Both run on
 * a worker, in-process (no runner, no spawn); the worker gives them the store (over the API's internal routes, or
 * straight over the database in `sluice server local`). Without it they fail, saying where they can run.
 *
 * Which execution (KESTRA-FLOW.md §2.11, Kestra's `executionFromTaskParameters`), from the rendered `executionId`,
 * `namespace` and `flowId`:
 * - no `executionId`: the current execution; `namespace` and `flowId` are then refused;
 * - `executionId` alone: that execution, taken to be of the current flow;
 * - `executionId` with `namespace` and `flowId`: that execution, of that flow; one of the two without the other is
 *   refused.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { isSluiceError, LOG_LEVELS, SluiceError } from '@sluice/core';
import type { LogLevel, PluginIssue } from '@sluice/core';
import type { ExecutionsAccess, TaskContext, TaskDefinition, TaskResult } from '@sluice/plugin-api';

type Properties = Readonly<Record<string, unknown>>;

export const FETCH_TYPE = 'io.kestra.plugin.core.log.Fetch';
export const RESUME_TYPE = 'io.kestra.plugin.core.execution.Resume';

/** The execution a task acts on. */
export interface ExecutionTarget {
  readonly executionId: string;
  readonly namespace: string;
  readonly flowId: string;
  /** The execution running the task itself (no `executionId` given). */
  readonly current: boolean;
  /** `namespace` and `flowId` were given (not taken from the current flow). */
  readonly explicitFlow: boolean;
}

function failed(context: TaskContext, reason: string): SluiceError {
  return new SluiceError('SLU_TASK_FAILED', { taskId: context.taskRun.taskId, reason });
}

/** A rendered scalar as text; null, undefined and nothing at all stay absent. */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * The target of a task from its rendered `executionId`, `namespace` and `flowId` (see the top of this file).
 * @throws SluiceError SLU_TASK_FAILED for a combination Kestra refuses.
 */
export function executionTarget(rendered: { executionId?: unknown; namespace?: unknown; flowId?: unknown }, context: TaskContext): ExecutionTarget {
  const executionId = text(rendered.executionId);
  const namespace = text(rendered.namespace);
  const flowId = text(rendered.flowId);
  if (executionId === undefined) {
    if (namespace !== undefined || flowId !== undefined) {
      throw failed(context, '`namespace` and `flowId` name the flow of `executionId`: give them with `executionId`, or neither to act on the current execution');
    }
    const { id, namespace: currentNamespace, flowId: currentFlowId } = context.execution;
    return { executionId: id, namespace: currentNamespace, flowId: currentFlowId, current: true, explicitFlow: false };
  }
  if ((namespace === undefined) !== (flowId === undefined)) {
    throw failed(context, `\`namespace\` and \`flowId\` go together: with \`executionId\`, give both or neither (${namespace === undefined ? 'flowId' : 'namespace'} is given alone)`);
  }
  if (namespace !== undefined && flowId !== undefined) {
    return { executionId, namespace, flowId, current: executionId === context.execution.id, explicitFlow: true };
  }
  return { executionId, namespace: context.execution.namespace, flowId: context.execution.flowId, current: executionId === context.execution.id, explicitFlow: false };
}

/** The store, or a failure that says where the task can run. */
function accessOf(context: TaskContext, type: string): ExecutionsAccess {
  if (context.executions) return context.executions;
  throw failed(
    context,
    `${type} needs the execution store, which this runtime does not give to tasks: it runs on the workers of a Sluice server ` +
      '("sluice server local", or "sluice server worker" connected to the API)',
  );
}

/** A text holding an expression or a tag: its value is known only once rendered. */
function isDynamic(value: unknown): boolean {
  return typeof value === 'string' && (value.includes('{{') || value.includes('{%'));
}

/** A literal `level` that is not a log level is refused when the flow is saved (a rendered one fails the task). */
function checkLevel(value: Properties): PluginIssue[] {
  const level = value.level;
  if (typeof level !== 'string' || isDynamic(level) || (LOG_LEVELS as readonly string[]).includes(level.toUpperCase())) return [];
  return [{ path: ['level'], code: 'SLU_FLOW_INVALID_ENUM', params: { allowed: LOG_LEVELS.join(', '), actual: level } }];
}

/** Rendered `tasksId`: a list, or a text that is a JSON list (an expression's result) or one task id. */
function taskIdsOf(rendered: unknown, context: TaskContext): string[] {
  if (rendered === undefined || rendered === null) return [];
  let list: unknown = rendered;
  if (typeof rendered === 'string') {
    const trimmed = rendered.trim();
    if (trimmed.startsWith('[')) {
      try {
        list = JSON.parse(trimmed) as unknown;
      } catch {
        throw failed(context, `\`tasksId\` is not a list of task ids: ${JSON.stringify(rendered)}`);
      }
    } else {
      list = trimmed === '' ? [] : [trimmed];
    }
  }
  if (!Array.isArray(list)) throw failed(context, `\`tasksId\` must be a list of task ids, got ${JSON.stringify(rendered)}`);
  return list.map((id) => text(id) ?? '').filter((id) => id !== '');
}

/** Name of the file in the task run's storage folder. */
const FETCH_FILE = 'logs.jsonl';

async function runFetch(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const rendered = await context.render({
    executionId: properties.executionId,
    namespace: properties.namespace,
    flowId: properties.flowId,
    tasksId: properties.tasksId,
    level: properties.level ?? 'INFO',
  });
  const target = executionTarget(rendered, context);
  const level = (text(rendered.level) ?? 'INFO').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new SluiceError('SLU_FLOW_INVALID_ENUM', { allowed: LOG_LEVELS.join(', '), actual: text(rendered.level) ?? '' });
  }
  const taskIds = taskIdsOf(rendered.tasksId, context);
  const executions = accessOf(context, FETCH_TYPE);

  // Another execution must be of the target flow (Kestra reads the logs by namespace, flow and execution): one of
  // another flow, or none, has no lines here.
  let known = true;
  if (target.current) {
    const { namespace, flowId } = context.execution;
    if (namespace !== target.namespace || flowId !== target.flowId) {
      context.logger.warn(`execution ${target.executionId} is of flow ${namespace}.${flowId}, not ${target.namespace}.${target.flowId}: no log line fetched`);
      known = false;
    }
  } else {
    const info = await executions.get(target.executionId);
    if (!info) {
      context.logger.warn(`no execution ${target.executionId}: no log line fetched`);
      known = false;
    } else if (info.namespace !== target.namespace || info.flowId !== target.flowId) {
      context.logger.warn(
        `execution ${target.executionId} is of flow ${info.namespace}.${info.flowId}, not ${target.namespace}.${target.flowId}: no log line fetched` +
          (target.explicitFlow ? '' : ' (give `namespace` and `flowId` to read an execution of another flow)'),
      );
      known = false;
    }
  }

  // A name of its own in the working directory: a WorkingDirectory's children share it, and its files are the user's.
  const local = join(context.workingDirectory, `.sluice-fetch-${randomBytes(6).toString('hex')}.jsonl`);
  const out = createWriteStream(local, { encoding: 'utf8' });
  const closed = once(out, 'close');
  // An error of the stream (a full disk) rejects `closed`, and the next write or end fails with it.
  closed.catch(() => undefined);
  let size = 0;
  try {
    if (known) {
      await executions.fetchLogs(
        target.executionId,
        { minLevel: level as LogLevel, ...(taskIds.length > 0 ? { taskIds } : {}) },
        async (lines) => {
          if (lines.length === 0) return;
          size += lines.length;
          if (!out.write(lines.map((line) => `${JSON.stringify(line)}\n`).join(''))) await Promise.race([once(out, 'drain'), closed]);
        },
        context.signal,
      );
    }
    out.end();
    await closed;
    const uri = await context.storage.putFile(local, FETCH_FILE);
    return { outputs: { uri, size } };
  } finally {
    out.destroy();
    await rm(local, { force: true });
  }
}

export const fetchTask: TaskDefinition = {
  type: FETCH_TYPE,
  aliases: ['io.kestra.core.tasks.log.Fetch'],
  title: 'Fetch an execution\'s logs into a file',
  description:
    'Copies the log lines of an execution (the current one by default) at or above `level` (default INFO), of the ' +
    'tasks in `tasksId` only when it is given, into a file of the internal storage: `uri`, with `size` lines. Sluice ' +
    'writes one JSON object per line (JSON lines, with the fields of GET /api/v1/logs/{executionId}), where Kestra ' +
    'writes ION; each JSON line is also a valid ION value. `executionId` alone names an execution of the current ' +
    'flow; add `namespace` and `flowId` for another flow. Lines are read a page at a time, never all at once. Runs ' +
    'in the worker without a process.',
  kind: 'runnable',
  properties: {
    executionId: { type: 'string', description: 'The execution whose logs to fetch; default the current one. Expressions are rendered.' },
    namespace: { type: 'string', description: 'The namespace of the flow of `executionId` (with `flowId`); default the current flow\'s.' },
    flowId: { type: 'string', description: 'The flow of `executionId` (with `namespace`); default the current flow.' },
    tasksId: {
      type: ['array', 'string'],
      items: { type: 'string' },
      description: 'Only the lines of these tasks (a list, or an expression that renders to a JSON list); default every line.',
    },
    level: { type: 'string', default: 'INFO', description: `The lowest level fetched: ${LOG_LEVELS.join(', ')}; default INFO.` },
  },
  check: checkLevel,
  run: runFetch,
  outputs: {
    uri: { type: 'string', description: 'The file, in the internal storage: one log line per line, as a JSON object.' },
    size: { type: 'integer', description: 'The number of log lines in the file.' },
  },
  examples: [
    'id: fetch\ntype: io.kestra.plugin.core.log.Fetch\nlevel: ERROR',
    'id: fetch_hello\ntype: io.kestra.plugin.core.log.Fetch\ntasksId:\n  - hello',
  ],
};

/** Rendered `inputs`: a map, or a text that is a JSON object (an expression's result); empty means none. */
function resumeInputsOf(rendered: unknown, context: TaskContext): Record<string, unknown> | undefined {
  if (rendered === undefined || rendered === null) return undefined;
  let inputs: unknown = rendered;
  if (typeof rendered === 'string') {
    if (rendered.trim() === '') return undefined;
    try {
      inputs = JSON.parse(rendered) as unknown;
    } catch {
      throw failed(context, `\`inputs\` must be a map of input values, got ${JSON.stringify(rendered)}`);
    }
  }
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw failed(context, `\`inputs\` must be a map of input values, got ${JSON.stringify(rendered)}`);
  }
  return Object.keys(inputs).length === 0 ? undefined : (inputs as Record<string, unknown>);
}

/** Kestra's message for a resume of an execution that is not PAUSED, with the state it is in. */
function notPaused(context: TaskContext, executionId: string, state: string): SluiceError {
  return failed(context, `The execution is not paused: execution ${executionId} is ${state}`);
}

async function runResume(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const rendered = await context.render({
    executionId: properties.executionId,
    namespace: properties.namespace,
    flowId: properties.flowId,
  });
  const target = executionTarget(rendered, context);
  // The execution running this task is RUNNING, never PAUSED (Kestra fails the same way).
  if (target.current) throw notPaused(context, target.executionId, 'RUNNING (it is running this task)');
  const inputs = resumeInputsOf(properties.inputs === undefined ? undefined : (await context.render({ inputs: properties.inputs })).inputs, context);
  const executions = accessOf(context, RESUME_TYPE);
  if (target.explicitFlow) {
    const info = await executions.get(target.executionId);
    if (!info) throw failed(context, `no execution ${target.executionId} to resume`);
    if (info.namespace !== target.namespace || info.flowId !== target.flowId) {
      throw failed(context, `execution ${target.executionId} is of flow ${info.namespace}.${info.flowId}, not ${target.namespace}.${target.flowId}`);
    }
  }
  try {
    await executions.resume(target.executionId, inputs);
  } catch (error) {
    if (isSluiceError(error) && error.code === 'SLU_API_EXECUTION_NOT_PAUSED') {
      throw notPaused(context, target.executionId, text(error.details.state) ?? text(error.params.state) ?? 'not PAUSED');
    }
    if (isSluiceError(error) && error.code === 'SLU_API_EXECUTION_NOT_FOUND') throw failed(context, `no execution ${target.executionId} to resume`);
    throw error;
  }
  context.logger.info(`resumed execution ${target.executionId}${inputs ? ` with inputs ${Object.keys(inputs).join(', ')}` : ''}`);
  return {};
}

export const resumeTask: TaskDefinition = {
  type: RESUME_TYPE,
  title: 'Resume a paused execution',
  description:
    'Resumes a PAUSED execution as POST /api/v1/executions/{id}/resume does: its first paused task run ends and the ' +
    'execution goes on. `inputs`, when given, become that run\'s `onResume` output as they are: neither checked nor ' +
    'typed against the Pause\'s `onResume` declarations (as Kestra\'s Resume task; the REST resume checks and types ' +
    'them). `executionId` alone names any execution; with `namespace` and `flowId` it must be of that flow. Without ' +
    '`executionId` it targets the current execution, which is running, so it fails with "The execution is not ' +
    'paused". An execution that is not PAUSED fails the task, naming its state. Runs in the worker without a process.',
  kind: 'runnable',
  properties: {
    executionId: { type: 'string', description: 'The execution to resume; default the current one (which fails: it is not paused).' },
    namespace: { type: 'string', description: 'The namespace of the flow of `executionId` (with `flowId`): checked before resuming.' },
    flowId: { type: 'string', description: 'The flow of `executionId` (with `namespace`): checked before resuming.' },
    inputs: {
      type: ['object', 'string'],
      description: 'The `onResume` inputs, by id, stored as given (a map, or an expression that renders to a JSON object).',
    },
  },
  run: runResume,
  examples: ['id: resume\ntype: io.kestra.plugin.core.execution.Resume\nexecutionId: "{{ inputs.paused }}"\nnamespace: company.team\nflowId: approval\ninputs:\n  approved: true'],
};

/** The tasks that need the execution store. */
export const executionTasks: readonly TaskDefinition[] = [fetchTask, resumeTask];
