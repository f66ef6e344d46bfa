/**
 * Kestra's small core tasks that need no process: a worker runs them in-process, so they cost no spawn. Sleep waits,
 * Fail fails (on a condition or always), Return renders a text into an output, Echo logs (Kestra's deprecated
 * cousin of Log), OutputValues renders values into outputs. Labels is only a definition: it changes the execution,
 * so the scheduler applies it (as Kestra's executor does) and it never reaches a worker.
 *
 * As every task, they receive their properties unrendered and render what they use, right before using it.
 */
import { isTruthy, LOG_LEVELS, parseDuration, SluiceError } from '@sluice/core';
import type { LogLevel, PluginIssue } from '@sluice/core';
import type { TaskContext, TaskDefinition, TaskResult } from '@sluice/plugin-api';

type Properties = Readonly<Record<string, unknown>>;

/** setTimeout's longest delay (about 24.8 days); longer sleeps are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolve after `ms`, or reject with `signal.reason` as soon as it aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const step = (left: number): void => {
      timer = setTimeout(() => {
        if (left > MAX_TIMER_MS) return step(left - MAX_TIMER_MS);
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, Math.min(left, MAX_TIMER_MS));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    step(ms);
  });
}

/** A rendered scalar as text (Kestra's properties are strings); null and undefined stay absent. */
function asText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

async function runSleep(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const { duration } = await context.render({ duration: properties.duration });
  const ms = parseDuration(String(duration)); // SLU_FLOW_INVALID_DURATION for a bad rendered value
  if (ms < 0) {
    throw new SluiceError('SLU_TASK_FAILED', { taskId: context.taskRun.taskId, reason: `cannot sleep for a negative duration (${String(duration)})` });
  }
  await wait(ms, context.signal);
  return {};
}

export const sleepTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.flow.Sleep',
  title: 'Wait for a duration',
  description: 'Waits for `duration`, then succeeds. Runs in the worker without a process; a kill or timeout stops it at once.',
  kind: 'runnable',
  inProcess: true,
  properties: {
    duration: { type: 'string', format: 'duration', description: 'How long to wait: an ISO-8601 duration (PT30S, PT5M).' },
  },
  required: ['duration'],
  run: runSleep,
  examples: ['id: wait\ntype: io.kestra.plugin.core.flow.Sleep\nduration: PT5S'],
};

const DEFAULT_ERROR_MESSAGE = 'Task failure';

/**
 * No condition: always fail, with the rendered `errorMessage`. With a condition, rendered and read by Kestra's If
 * rules (`isTruthy`): true logs the message at ERROR and fails with "Fail on a condition"; false succeeds. The message
 * is rendered only when it is used.
 */
async function runFail(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const taskId = context.taskRun.taskId;
  const message = async (): Promise<string> => {
    const { errorMessage } = await context.render({ errorMessage: properties.errorMessage ?? DEFAULT_ERROR_MESSAGE });
    return asText(errorMessage) ?? DEFAULT_ERROR_MESSAGE;
  };
  if (properties.condition === undefined || properties.condition === null) {
    throw new SluiceError('SLU_TASK_FAILED', { taskId, reason: await message() });
  }
  const { condition } = await context.render({ condition: properties.condition });
  if (!isTruthy(condition)) return {};
  context.logger.error(await message());
  throw new SluiceError('SLU_TASK_FAILED', { taskId, reason: 'Fail on a condition' });
}

export const failTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.execution.Fail',
  aliases: ['io.kestra.core.tasks.executions.Fail'],
  title: 'Fail the execution',
  description:
    'Fails, with `errorMessage`. With `condition`, fails only when the condition is true (Kestra\'s rules: false ' +
    'only for nothing, `false`, `0`, `-0` and an empty string), logging `errorMessage` at ERROR; otherwise succeeds.',
  kind: 'runnable',
  inProcess: true,
  properties: {
    condition: { type: ['string', 'boolean', 'number'], description: 'Fail only when this is true; usually an expression.' },
    errorMessage: { type: 'string', default: DEFAULT_ERROR_MESSAGE, description: 'The error message; default "Task failure".' },
  },
  run: runFail,
  examples: ['id: stop\ntype: io.kestra.plugin.core.execution.Fail\ncondition: "{{ inputs.rows == 0 }}"\nerrorMessage: nothing to load'],
};

/** Render `format` into the output `value`; metrics `length` (characters) and `duration` (rendering time, seconds). */
async function runReturn(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const start = performance.now();
  const { format } = await context.render({ format: properties.format });
  const value = asText(format);
  const seconds = (performance.now() - start) / 1000;
  context.metric({ name: 'length', type: 'counter', value: value?.length ?? 0 });
  context.metric({ name: 'duration', type: 'timer', value: seconds });
  return { outputs: value === undefined ? {} : { value } };
}

export const returnTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.debug.Return',
  aliases: ['io.kestra.core.tasks.debugs.Return'],
  title: 'Render a value into an output',
  description: 'Renders `format` and returns it as the output `value` (outputs.<id>.value). Runs in the worker without a process.',
  kind: 'runnable',
  inProcess: true,
  properties: {
    format: { type: ['string', 'number', 'boolean'], description: 'The text to render.' },
  },
  run: runReturn,
  outputs: {
    value: { type: 'string', description: 'The rendered format.' },
  },
  examples: ['id: greeting\ntype: io.kestra.plugin.core.debug.Return\nformat: "Hello {{ inputs.name }}"'],
};

async function runEcho(properties: Properties, context: TaskContext): Promise<TaskResult> {
  const { format } = await context.render({ format: properties.format });
  const level = String(properties.level ?? 'INFO').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new SluiceError('SLU_FLOW_INVALID_ENUM', { allowed: LOG_LEVELS.join(', '), actual: String(properties.level) });
  }
  context.logger.log(level as LogLevel, asText(format) ?? '');
  return {};
}

export const echoTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.debug.Echo',
  aliases: ['io.kestra.core.tasks.debugs.Echo'],
  title: 'Log a message (deprecated: use Log)',
  description: 'Kestra\'s older Log: renders `format` and logs it at `level` (default INFO). No outputs.',
  kind: 'runnable',
  inProcess: true,
  properties: {
    format: { type: ['string', 'number', 'boolean'], minLength: 1, description: 'The message to render and log.' },
    level: { enum: [...LOG_LEVELS], default: 'INFO', description: 'Log level; default INFO.' },
  },
  required: ['format'],
  run: runEcho,
  examples: ['id: say\ntype: io.kestra.plugin.core.debug.Echo\nformat: "{{ flow.id }} started"'],
};

async function runOutputValues(properties: Properties, context: TaskContext): Promise<TaskResult> {
  if (properties.values === undefined || properties.values === null) return { outputs: {} };
  const { values } = await context.render({ values: properties.values });
  return { outputs: { values } };
}

export const outputValuesTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.output.OutputValues',
  title: 'Output values',
  description:
    'Renders `values` (a map; strings inside lists and maps too) and returns it as the output `values`, read as ' +
    'outputs.<id>.values.<key>. A rendered expression stays text ("4", not 4).',
  kind: 'runnable',
  inProcess: true,
  properties: {
    values: { type: 'object', description: 'The values, by key; expressions are rendered.' },
  },
  run: runOutputValues,
  outputs: {
    values: { type: 'object', description: 'The rendered values.' },
  },
  examples: ['id: result\ntype: io.kestra.plugin.core.output.OutputValues\nvalues:\n  rows: "{{ outputs.load.vars.rows }}"\n  table: sales'],
};

const SYSTEM_PREFIX = 'system.';

/** System labels (`system.*`) are Sluice's own: a literal one is refused at save (a rendered one fails the task). */
function checkLabels(value: Properties): PluginIssue[] {
  const labels = value.labels;
  const refuse = (key: string, path: PluginIssue['path'], target?: 'key'): PluginIssue => ({
    path,
    ...(target ? { target } : {}),
    code: 'SLU_FLOW_INVALID_VALUE',
    params: { reason: `label "${key}" cannot be set by a task: labels starting with "${SYSTEM_PREFIX}" are reserved for Sluice` },
  });
  const issues: PluginIssue[] = [];
  if (Array.isArray(labels)) {
    labels.forEach((label: unknown, i) => {
      const key = typeof label === 'object' && label !== null ? (label as { key?: unknown }).key : undefined;
      if (typeof key === 'string' && key.startsWith(SYSTEM_PREFIX)) issues.push(refuse(key, ['labels', i, 'key']));
    });
  } else if (typeof labels === 'object' && labels !== null) {
    for (const key of Object.keys(labels)) if (key.startsWith(SYSTEM_PREFIX)) issues.push(refuse(key, ['labels', key], 'key'));
  } else if (typeof labels === 'string' && !labels.includes('{{') && !labels.includes('{%')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(labels);
    } catch {
      return []; // not JSON: the task fails when it runs, as in Kestra
    }
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      for (const key of Object.keys(parsed)) if (key.startsWith(SYSTEM_PREFIX)) issues.push(refuse(key, ['labels']));
    }
  }
  return issues;
}

const labelValue = { type: ['string', 'number', 'boolean', 'object'] } as const;

export const labelsTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.execution.Labels',
  aliases: ['io.kestra.core.tasks.executions.Labels'],
  title: 'Add or change the execution\'s labels',
  description:
    'Adds labels to the running execution, replacing those with the same key. `labels` is a map, a list of ' +
    '{key, value}, or a string that renders to a JSON object; keys and values are rendered. Labels starting with ' +
    '`system.` are refused. Applied by the scheduler itself: it never goes to a worker.',
  kind: 'runnable',
  inProcess: true,
  properties: {
    labels: {
      type: ['object', 'array', 'string'],
      additionalProperties: labelValue,
      items: {
        type: 'object',
        required: ['key', 'value'],
        properties: { key: { type: 'string', minLength: 1 }, value: labelValue },
        additionalProperties: false,
      },
      description: 'The labels: key → value, a list of {key, value}, or a JSON object as a string.',
    },
  },
  required: ['labels'],
  check: checkLabels,
  examples: ['id: tag\ntype: io.kestra.plugin.core.execution.Labels\nlabels:\n  customer: "{{ inputs.customer }}"'],
};

/** The in-process core tasks (and Labels, applied by the scheduler). */
export const coreTasks: readonly TaskDefinition[] = [sleepTask, failTask, returnTask, echoTask, outputValuesTask, labelsTask];
