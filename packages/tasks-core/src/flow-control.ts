/**
 * Kestra's flowable tasks, as definitions: type names, aliases and JSON Schemas for validation and docs, plus the
 * cross-field checks JSON Schema cannot express (Switch needs a branch; a Dag's dependencies must exist and must not
 * loop). None of them has `run`: the scheduler resolves them through the engine (`packages/engine`), they never go
 * to a worker. WorkingDirectory, the one flowable a worker runs, lives in `working-directory.ts`.
 *
 * Type names and aliases are exactly those of the engine's table (`packages/engine/src/flowables.ts`). Where Kestra
 * renders a value (`concurrent`, `delay`, `values`...), an expression string is accepted too: the validator skips the
 * type and format checks of a value holding `{{ }}`, which is then checked when rendered.
 *
 * Every flowable has `errors`: tasks that run when a child fails. They do not rescue the failure: the task still ends
 * FAILED once they ran (Kestra's rule).
 */
import { inputSchema } from '@sluice/core';
import type { JsonSchema, PluginIssue } from '@sluice/core';
import type { TaskDefinition } from '@sluice/plugin-api';

const FLOW = 'io.kestra.plugin.core.flow.';
const LEGACY = 'io.kestra.core.tasks.flows.';

const taskList = (description: string): JsonSchema => ({ type: 'array', description });
const nonEmptyTaskList = (description: string): JsonSchema => ({ type: 'array', minItems: 1, description });
const errors: JsonSchema = taskList('Tasks to run when a child task fails. They do not rescue it: this task still ends FAILED.');
const finallyTasks: JsonSchema = taskList(
  'Tasks run once the others (and `errors`) ended, whatever their outcome, one after another (Kestra 0.24+). A failure among them fails this task.',
);
const duration = (description: string): JsonSchema => ({ type: 'string', format: 'duration', description });
const concurrent: JsonSchema = {
  type: 'integer',
  minimum: 0,
  default: 0,
  description: 'How many children may run at once; 0 (the default) means no limit.',
};
/** A loop's values: a list, or a string that renders to a JSON array. */
const loopValues = (description: string): JsonSchema => ({ type: ['array', 'string'], description });
/** A condition: rendered, then true unless it is null, `false`, `0`, `-0` or empty (Kestra's rules, see isTruthy). */
const condition = (description: string): JsonSchema => ({ type: ['string', 'boolean'], description });

export const sequentialTask: TaskDefinition = {
  type: `${FLOW}Sequential`,
  aliases: [`${LEGACY}Sequential`],
  title: 'Run tasks one after another',
  description: 'Runs its tasks in order, each once the previous one ended; mostly used to group tasks (in a Parallel branch, say).',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors', 'finally'],
  properties: {
    tasks: taskList('The tasks, run in order.'),
    errors,
    finally: finallyTasks,
  },
  examples: ['id: group\ntype: io.kestra.plugin.core.flow.Sequential\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: one\n  - id: second\n    type: io.kestra.plugin.core.log.Log\n    message: two'],
};

export const parallelTask: TaskDefinition = {
  type: `${FLOW}Parallel`,
  aliases: [`${LEGACY}Parallel`],
  title: 'Run tasks in parallel',
  description:
    'Starts all its tasks at once, or `concurrent` at a time. The first failure stops new tasks from starting. ' +
    'To run several steps in order inside one branch, wrap them in a Sequential.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors', 'finally'],
  properties: {
    tasks: nonEmptyTaskList('The tasks, run in parallel.'),
    concurrent,
    errors,
    finally: finallyTasks,
  },
  required: ['tasks'],
  examples: ['id: fan_out\ntype: io.kestra.plugin.core.flow.Parallel\nconcurrent: 2\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b'],
};

export const ifTask: TaskDefinition = {
  type: `${FLOW}If`,
  aliases: [`${LEGACY}If`],
  title: 'Branch on a condition',
  description:
    'Renders `condition` and runs `then` when it is true, `else` otherwise. The condition is false only when it renders ' +
    'to nothing, `false`, `0`, `-0` or an empty string (exactly: `False` is true). Output `evaluationResult`.',
  kind: 'flowable',
  childTasks: ['then', 'else'],
  errorTasks: ['errors', 'finally'],
  properties: {
    condition: condition('The condition; usually an expression such as "{{ inputs.mode == \'full\' }}".'),
    then: nonEmptyTaskList('Tasks to run, in order, when the condition is true.'),
    else: taskList('Tasks to run, in order, when the condition is false.'),
    errors,
    finally: finallyTasks,
  },
  required: ['condition', 'then'],
  outputs: {
    evaluationResult: { type: 'boolean', description: 'What the condition evaluated to.' },
  },
  examples: ['id: check\ntype: io.kestra.plugin.core.flow.If\ncondition: "{{ inputs.full }}"\nthen:\n  - id: full\n    type: io.kestra.plugin.core.log.Log\n    message: full run\nelse:\n  - id: quick\n    type: io.kestra.plugin.core.log.Log\n    message: quick run'],
};

/** Switch needs somewhere to go: at least one case, or defaults. */
function checkSwitch(value: Readonly<Record<string, unknown>>): PluginIssue[] {
  const cases = value.cases;
  const hasCases = typeof cases === 'object' && cases !== null && Object.keys(cases).length > 0;
  const hasDefaults = Array.isArray(value.defaults) && value.defaults.length > 0;
  if (hasCases || hasDefaults) return [];
  return [{ path: [], code: 'SLU_FLOW_INVALID_VALUE', params: { reason: 'a Switch needs at least one of cases or defaults, with tasks' } }];
}

export const switchTask: TaskDefinition = {
  type: `${FLOW}Switch`,
  aliases: [`${LEGACY}Switch`],
  title: 'Branch on a value',
  description:
    'Renders `value` and runs the tasks of the case whose key equals it (compared as text), or `defaults` when no case ' +
    'matches. No match and no defaults: the task fails. Outputs `value` and `defaults` (true when no case matched).',
  kind: 'flowable',
  childTasks: ['defaults'],
  childTaskMaps: ['cases'],
  errorTasks: ['errors', 'finally'],
  properties: {
    value: { type: ['string', 'number', 'boolean'], minLength: 1, description: 'The value to match against the case keys.' },
    cases: {
      type: 'object',
      additionalProperties: { type: 'array' },
      description: 'Case key → the tasks to run, in order, when the value equals the key.',
    },
    defaults: taskList('Tasks to run, in order, when no case matches.'),
    errors,
    finally: finallyTasks,
  },
  required: ['value'],
  check: checkSwitch,
  outputs: {
    value: { type: 'string', description: 'The rendered value.' },
    defaults: { type: 'boolean', description: 'True when no case matched and defaults ran.' },
  },
  examples: ['id: route\ntype: io.kestra.plugin.core.flow.Switch\nvalue: "{{ inputs.kind }}"\ncases:\n  csv:\n    - id: parse_csv\n      type: io.kestra.plugin.core.log.Log\n      message: csv\ndefaults:\n  - id: unknown\n    type: io.kestra.plugin.core.log.Log\n    message: unknown kind'],
};

export const forEachTask: TaskDefinition = {
  type: `${FLOW}ForEach`,
  title: 'Run tasks for each value of a list',
  description:
    'Runs its tasks once per distinct value of `values` (a list, or a string that renders to a JSON array). ' +
    '`concurrencyLimit` value groups run at once: 1 (the default) one after another, 0 all at once. Children read ' +
    'the value as `{{ taskrun.value }}` (`{{ parent.taskrun.value }}` one level deeper); their outputs are indexed ' +
    'by it: `{{ outputs.task[value] }}`.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors', 'finally'],
  properties: {
    values: loopValues('The values: a list, or a string holding a JSON array (usually an expression).'),
    concurrencyLimit: {
      type: 'integer',
      minimum: 0,
      default: 1,
      description: 'How many values are processed at once: 1 (the default) in order, 0 without limit.',
    },
    tasks: nonEmptyTaskList('The tasks to run for each value.'),
    errors,
    finally: finallyTasks,
  },
  required: ['values', 'tasks'],
  examples: ['id: each_region\ntype: io.kestra.plugin.core.flow.ForEach\nvalues: ["eu", "us"]\ntasks:\n  - id: deploy\n    type: io.kestra.plugin.core.log.Log\n    message: "deploying {{ taskrun.value }}"'],
};

export const eachSequentialTask: TaskDefinition = {
  type: `${FLOW}EachSequential`,
  aliases: [`${LEGACY}EachSequential`],
  title: 'Run tasks for each value, in order (deprecated: use ForEach)',
  description:
    'Kestra\'s older loop: runs its tasks for each distinct value of `value` (a list or a JSON array string), one ' +
    'after another. Use ForEach in new flows.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors', 'finally'],
  properties: {
    value: loopValues('The values: a list, or a string holding a JSON array.'),
    tasks: taskList('The tasks to run for each value.'),
    errors,
    finally: finallyTasks,
  },
  required: ['value'],
};

export const eachParallelTask: TaskDefinition = {
  type: `${FLOW}EachParallel`,
  aliases: [`${LEGACY}EachParallel`],
  title: 'Run tasks for each value, in parallel (deprecated: use ForEach)',
  description:
    'Kestra\'s older parallel loop: runs every task for every distinct value of `value` at once (or `concurrent` at a ' +
    'time), in no particular order. Use ForEach with concurrencyLimit in new flows.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors', 'finally'],
  properties: {
    value: loopValues('The values: a list, or a string holding a JSON array.'),
    concurrent,
    tasks: taskList('The tasks to run for each value.'),
    errors,
    finally: finallyTasks,
  },
  required: ['value'],
};

export const allowFailureTask: TaskDefinition = {
  type: `${FLOW}AllowFailure`,
  aliases: [`${LEGACY}AllowFailure`],
  title: 'Run tasks whose failure does not fail the flow',
  description:
    'Runs its tasks in order. When one fails, the rest are skipped (its `errors` run) and this task ends WARNING ' +
    'instead of FAILED, so the flow goes on.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors', 'finally'],
  properties: {
    tasks: taskList('The tasks, run in order.'),
    errors,
    finally: finallyTasks,
  },
};

/** A Dag's tasks: ids that `dependsOn` names must be siblings, and following them must never lead back. */
function checkDag(value: Readonly<Record<string, unknown>>): PluginIssue[] {
  const entries = Array.isArray(value.tasks) ? value.tasks : [];
  const nodes: { index: number; id: string; dependsOn: unknown[] }[] = [];
  entries.forEach((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null) return;
    const { task, dependsOn } = entry as { task?: unknown; dependsOn?: unknown };
    const id = typeof task === 'object' && task !== null ? (task as { id?: unknown }).id : undefined;
    if (typeof id === 'string') nodes.push({ index, id, dependsOn: Array.isArray(dependsOn) ? dependsOn : [] });
  });
  const ids = new Set(nodes.map((n) => n.id));
  const issues: PluginIssue[] = [];
  for (const node of nodes) {
    node.dependsOn.forEach((dependency, j) => {
      if (typeof dependency === 'string' && !ids.has(dependency)) {
        issues.push({
          path: ['tasks', node.index, 'dependsOn', j],
          code: 'SLU_FLOW_INVALID_VALUE',
          params: { reason: `Not existing task id in dependency: ${dependency}` },
        });
      }
    });
  }
  if (issues.length > 0) return issues;

  // A task is on a cycle when its dependencies lead back to it. The first task found on one is blamed, at its first
  // dependency that leads back, and the message names every task on a cycle, as Kestra does.
  const dependencies = new Map<string, string[]>();
  for (const node of nodes) {
    if (!dependencies.has(node.id)) dependencies.set(node.id, node.dependsOn.filter((d): d is string => typeof d === 'string'));
  }
  const reaches = (from: string, target: string): boolean => {
    const seen = new Set<string>([from]);
    const stack = [from];
    while (stack.length > 0) {
      for (const next of dependencies.get(stack.pop() as string) ?? []) {
        if (next === target) return true;
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return false;
  };
  const cyclic = nodes.filter((n) => n.dependsOn.length > 0 && reaches(n.id, n.id));
  const first = cyclic[0];
  if (!first) return [];
  const j = first.dependsOn.findIndex((d) => typeof d === 'string' && (d === first.id || reaches(d, first.id)));
  return [
    {
      path: ['tasks', first.index, 'dependsOn', Math.max(j, 0)],
      code: 'SLU_FLOW_INVALID_VALUE',
      params: { reason: `Cyclic dependency detected: ${cyclic.map((n) => n.id).join(', ')}` },
    },
  ];
}

export const dagTask: TaskDefinition = {
  type: `${FLOW}Dag`,
  aliases: [`${LEGACY}Dag`],
  title: 'Run tasks in the order their dependencies give',
  description:
    'Each entry holds a `task` and the ids of the sibling tasks it `dependsOn`. A task starts once all its ' +
    'dependencies ended; tasks without dependencies start first, `concurrent` at a time (0: no limit). Unknown ids ' +
    'and cycles are refused when the flow is saved.',
  kind: 'flowable',
  childTaskEntries: [{ property: 'tasks', key: 'task' }],
  errorTasks: ['errors', 'finally'],
  properties: {
    tasks: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['task'],
        properties: {
          task: { description: 'The task.' },
          dependsOn: { type: 'array', items: { type: 'string' }, description: 'Ids of sibling tasks that must end before this one starts.' },
        },
        additionalProperties: false,
      },
      description: 'The tasks, each with its dependencies.',
    },
    concurrent,
    errors,
    finally: finallyTasks,
  },
  required: ['tasks'],
  check: checkDag,
  examples: ['id: build\ntype: io.kestra.plugin.core.flow.Dag\ntasks:\n  - task:\n      id: fetch\n      type: io.kestra.plugin.core.log.Log\n      message: fetch\n  - task:\n      id: report\n      type: io.kestra.plugin.core.log.Log\n      message: report\n    dependsOn: [fetch]'],
};

export const pauseTask: TaskDefinition = {
  type: `${FLOW}Pause`,
  aliases: [`${LEGACY}Pause`],
  title: 'Pause the execution until it is resumed',
  description:
    'Pauses the execution until it is resumed (POST /api/v1/executions/{id}/resume, with the `onResume` inputs), ' +
    'or after `delay`. With only `timeout`, a pause not resumed in time fails. Output `onResume`: the inputs given ' +
    'when resuming.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors'],
  inputDeclarations: ['onResume'],
  properties: {
    delay: duration('Resume on its own after this ISO-8601 duration (PT10M).'),
    timeout: duration('Fail the pause when it was not resumed within this ISO-8601 duration (ignored with delay).'),
    onResume: {
      type: 'array',
      items: inputSchema,
      description: 'Inputs asked for when resuming, declared like flow inputs; read as outputs.<id>.onResume.<input>.',
    },
    tasks: taskList('Deprecated: tasks to run, in order, once resumed. Put them after the Pause instead.'),
    errors,
  },
  outputs: {
    onResume: { type: 'object', description: 'The onResume inputs given when resuming, typed like flow inputs.' },
  },
  examples: ['id: approve\ntype: io.kestra.plugin.core.flow.Pause\nonResume:\n  - id: approved\n    type: BOOLEAN\n    defaults: true'],
};

/** A WaitFor directly inside a WaitFor is refused: both loops would share the children's `iteration`. */
function checkWaitFor(value: Readonly<Record<string, unknown>>): PluginIssue[] {
  const tasks = Array.isArray(value.tasks) ? value.tasks : [];
  const issues: PluginIssue[] = [];
  tasks.forEach((task: unknown, i) => {
    const type = typeof task === 'object' && task !== null ? (task as { type?: unknown }).type : undefined;
    if (typeof type === 'string' && type.toLowerCase() === `${FLOW}WaitFor`.toLowerCase()) {
      issues.push({
        path: ['tasks', i, 'type'],
        code: 'SLU_FLOW_TASK_NOT_ALLOWED',
        params: { reason: 'a WaitFor cannot be a direct child of a WaitFor in Sluice: wrap it in a Sequential (both loops would share their iteration numbers)' },
      });
    }
  });
  return issues;
}

export const waitForTask: TaskDefinition = {
  type: `${FLOW}WaitFor`,
  title: 'Run tasks again until a condition holds',
  description:
    'Runs its tasks, then renders `condition` (which may read their outputs): when false, waits `checkFrequency.interval` ' +
    'and runs them again, until it is true or `maxIterations` or `maxDuration` is reached (then FAILED with ' +
    '`failOnMaxReached`, else SUCCESS). Output `iterationCount`.',
  kind: 'flowable',
  childTasks: ['tasks'],
  errorTasks: ['errors', 'finally'],
  properties: {
    tasks: nonEmptyTaskList('The tasks of one iteration, run in order.'),
    condition: condition('The exit condition, rendered after each iteration; the loop stops when it is true.'),
    failOnMaxReached: { type: 'boolean', default: false, description: 'Fail when a maximum is reached before the condition holds.' },
    checkFrequency: {
      type: 'object',
      properties: {
        maxIterations: { type: 'integer', minimum: 1, default: 100, description: 'Most iterations; default 100.' },
        maxDuration: duration('Longest the loop may run; default PT1H.'),
        interval: duration('Wait between iterations; default PT1S.'),
      },
      additionalProperties: false,
      description: 'How often and how long to try.',
    },
    errors,
    finally: finallyTasks,
  },
  required: ['tasks', 'condition'],
  check: checkWaitFor,
  outputs: {
    iterationCount: { type: 'integer', description: 'The current iteration, from 1.' },
  },
  examples: ['id: poll\ntype: io.kestra.plugin.core.flow.WaitFor\ncondition: "{{ outputs.status.value == \'done\' }}"\ncheckFrequency:\n  interval: PT30S\ntasks:\n  - id: status\n    type: io.kestra.plugin.core.debug.Return\n    format: done'],
};

/** The flowable tasks the engine resolves (WorkingDirectory, run by a worker, is defined on its own). */
export const flowControlTasks: readonly TaskDefinition[] = [
  sequentialTask,
  parallelTask,
  ifTask,
  switchTask,
  forEachTask,
  eachSequentialTask,
  eachParallelTask,
  allowFailureTask,
  dagTask,
  pauseTask,
  waitForTask,
];
