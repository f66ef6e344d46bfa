/**
 * The invalid-flow corpus: every file in invalid-flows/ must fail validation with exactly the problems listed here
 * (code, YAML path, line and message), and the valid flows (the seed flows and examples/) must pass unchanged.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createFlowValidator } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { createDefaultRegistries } from '../src/index.js';
import { seedFlows } from '@sluice/testing';

interface Expected {
  code: string;
  path: string;
  line: number;
  message: string;
  document?: number;
}

const corpusDir = fileURLToPath(new URL('./invalid-flows/', import.meta.url));
const examplesDir = fileURLToPath(new URL('../../../examples/', import.meta.url));
const validator = createFlowValidator(createDefaultRegistries(), { eager: true });

const expectations: Record<string, Expected[]> = {
  'bad-flow-id': [
    { code: 'SLU_FLOW_INVALID_ID', path: 'id', line: 1, message: "invalid id \"-starts-with-dash\": must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$ and be 1 to 100 characters" },
  ],
  'bad-namespace-uppercase': [
    { code: 'SLU_FLOW_INVALID_NAMESPACE', path: 'namespace', line: 2, message: "invalid namespace \"Company.Data\": must match ^[a-z0-9][a-z0-9._-]*$ (lower case) and be 1 to 150 characters" },
  ],
  'clone-bad-commit': [
    { code: 'SLU_FLOW_INVALID_VALUE', path: 'tasks[0].commit', line: 7, message: "must match pattern \"^[0-9a-fA-F]{4,40}$\"" },
  ],
  'clone-depth-zero': [
    { code: 'SLU_FLOW_INVALID_VALUE', path: 'tasks[0].depth', line: 7, message: "must be >= 1" },
  ],
  'clone-missing-url': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0].tasks[0]', line: 7, message: "missing required property \"url\"" },
  ],
  'commands-missing': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0]', line: 4, message: "missing required property \"commands\"" },
  ],
  'commands-not-a-list': [
    { code: 'SLU_FLOW_INVALID_TYPE', path: 'tasks[0].commands', line: 7, message: "must be a list, got a string (\"echo hi\")" },
  ],
  'concurrency-bad-behavior': [
    { code: 'SLU_FLOW_INVALID_ENUM', path: 'concurrency.behavior', line: 5, message: "must be one of QUEUE, CANCEL, FAIL, got \"DROP\"" },
  ],
  'concurrency-limit-zero': [
    { code: 'SLU_FLOW_INVALID_VALUE', path: 'concurrency.limit', line: 4, message: "must be >= 1" },
  ],
  'cron-hour-out-of-range': [
    { code: 'SLU_FLOW_INVALID_CRON', path: 'triggers[0].cron', line: 10, message: "invalid cron expression \"0 25 * * *\": hour: 25 is out of range 0-23" },
  ],
  'cron-wrong-field-count': [
    { code: 'SLU_FLOW_INVALID_CRON', path: 'triggers[0].cron', line: 10, message: "invalid cron expression \"0 9 * *\": expected 5 fields (minute hour day-of-month month day-of-week), got 4" },
  ],
  'schedule-backfill-bad-start': [
    { code: 'SLU_FLOW_INVALID_VALUE', path: 'triggers[0].backfill.start', line: 12, message: 'must be a date-time such as 2024-01-01T00:00:00Z, got "last tuesday"' },
  ],
  'schedule-backfill-end-before-start': [
    { code: 'SLU_FLOW_INVALID_VALUE', path: 'triggers[0].backfill.end', line: 13, message: 'must not be before backfill.start (2024-02-01T00:00:00Z)' },
  ],
  'schedule-condition-unsupported': [
    {
      code: 'SLU_FLOW_INVALID_VALUE',
      path: 'triggers[0].conditions[0].type',
      line: 12,
      message: 'condition type "io.kestra.plugin.core.condition.PublicHoliday" is not supported on a Schedule trigger yet (supported: DayWeek, DayWeekInMonth, Weekend, DateTimeBetween, TimeBetween, Not, Or)',
    },
  ],
  'schedule-timebetween-no-offset': [
    {
      code: 'SLU_FLOW_INVALID_VALUE',
      path: 'triggers[0].conditions[0].after',
      line: 13,
      message: 'must be a time with its offset such as 16:00:00+02:00 or 08:30Z, got "09:00"',
    },
  ],
  'schedule-backfill-no-start': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'triggers[0].backfill', line: 12, message: 'missing required property "start"' },
  ],
  'disabled-not-boolean': [
    { code: 'SLU_FLOW_INVALID_TYPE', path: 'disabled', line: 3, message: "must be a boolean, got a string (\"no\")" },
  ],
  'docker-bad-pull-policy': [
    { code: 'SLU_FLOW_INVALID_ENUM', path: 'tasks[0].docker.pullPolicy', line: 9, message: "must be one of IF_NOT_PRESENT, ALWAYS, NEVER, got \"SOMETIMES\"" },
  ],
  'docker-unknown-property': [
    { code: 'SLU_FLOW_UNKNOWN_PROPERTY', path: 'tasks[0].docker.imagee', line: 9, message: "unknown property \"imagee\"; did you mean \"image\"?" },
  ],
  'document-is-a-list': [
    { code: 'SLU_FLOW_NOT_AN_OBJECT', path: '', line: 1, message: "must be a mapping of properties, got a list" },
  ],
  'duplicate-task-id': [
    { code: 'SLU_FLOW_DUPLICATE_TASK_ID', path: 'tasks[1].id', line: 7, message: "duplicate task id \"same\": already used at tasks[0] (line 4)" },
  ],
  'duplicate-task-id-in-errors': [
    { code: 'SLU_FLOW_DUPLICATE_TASK_ID', path: 'errors[0].id', line: 8, message: "duplicate task id \"main\": already used at tasks[0] (line 4)" },
  ],
  'duplicate-task-id-nested': [
    { code: 'SLU_FLOW_DUPLICATE_TASK_ID', path: 'tasks[1].tasks[0].id', line: 10, message: "duplicate task id \"step\": already used at tasks[0] (line 4)" },
  ],
  'duplicate-trigger-id': [
    { code: 'SLU_FLOW_DUPLICATE_ID', path: 'triggers[1].id', line: 11, message: "duplicate trigger id \"t\": already used at triggers[0] (line 8)" },
  ],
  'empty-document': [
    { code: 'SLU_FLOW_EMPTY', path: '', line: 1, message: "the document is empty: a flow needs at least id, namespace and tasks" },
  ],
  'empty-tasks': [
    { code: 'SLU_FLOW_INVALID_VALUE', path: 'tasks', line: 3, message: "must not be empty" },
  ],
  'env-value-is-a-list': [
    { code: 'SLU_FLOW_INVALID_TYPE', path: 'tasks[0].env.PATHS', line: 8, message: "must be a string, a number or a boolean, got a list" },
  ],
  'expression-in-docker-config': [
    { code: 'SLU_FLOW_INVALID_EXPRESSION', path: 'tasks[0].docker.config', line: 9, message: "invalid expression: unexpected token '}}' (at offset 58)" },
  ],
  'expression-unclosed': [
    { code: 'SLU_FLOW_INVALID_EXPRESSION', path: 'tasks[0].message', line: 6, message: "invalid expression: unclosed '{{' (at offset 6)" },
  ],
  'expression-unknown-tag': [
    { code: 'SLU_FLOW_INVALID_EXPRESSION', path: 'tasks[0].commands[1]', line: 9, message: "invalid expression: unknown tag 'frobnicate' (at offset 3)" },
  ],
  'input-duplicate-id': [
    { code: 'SLU_FLOW_DUPLICATE_ID', path: 'inputs[1].id', line: 6, message: "duplicate input id \"name\": already used at inputs[0] (line 4)" },
  ],
  'input-duration-default-invalid': [
    { code: 'SLU_FLOW_INVALID_DURATION', path: 'inputs[0].defaults', line: 6, message: "invalid duration \"1 hour\": expected ISO-8601 like PT30S, PT5M, PT1H30M or P1D" },
  ],
  'input-int-default-string': [
    { code: 'SLU_FLOW_INVALID_TYPE', path: 'inputs[0].defaults', line: 6, message: "must be an integer, got a string (\"three\")" },
  ],
  'input-select-without-values': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'inputs[0]', line: 4, message: "missing required property \"values\"" },
  ],
  'input-unknown-type': [
    { code: 'SLU_FLOW_INVALID_ENUM', path: 'inputs[0].type', line: 5, message: "must be one of STRING, ENUM, SELECT, MULTISELECT, INT, FLOAT, BOOLEAN, BOOL, DATETIME, DATE, TIME, DURATION, FILE, JSON, YAML, URI, SECRET, ARRAY, EMAIL, got \"INTEGER\"" },
  ],
  'labels-list-missing-value': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'labels[0]', line: 4, message: "missing required property \"value\"" },
  ],
  'local-files-outputs-not-list': [
    { code: 'SLU_FLOW_INVALID_TYPE', path: 'tasks[0].tasks[0].outputs', line: 9, message: "must be a list, got a string (\"*.csv\")" },
  ],
  'log-level-invalid': [
    { code: 'SLU_FLOW_INVALID_ENUM', path: 'tasks[0].level', line: 7, message: "must be one of TRACE, DEBUG, INFO, WARN, ERROR, got \"LOUD\"" },
  ],
  'log-missing-message': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0]', line: 4, message: "missing required property \"message\"" },
  ],
  'missing-id': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: '', line: 1, message: "missing required property \"id\"" },
  ],
  'missing-namespace': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: '', line: 1, message: "missing required property \"namespace\"" },
  ],
  'missing-tasks': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: '', line: 1, message: "missing required property \"tasks\"" },
  ],
  'namespace-too-long': [
    { code: 'SLU_FLOW_INVALID_NAMESPACE', path: 'namespace', line: 2, message: "invalid namespace \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must match ^[a-z0-9][a-z0-9._-]*$ (lower case) and be 1 to 150 characters" },
  ],
  'plugin-defaults-missing-values': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'pluginDefaults[0]', line: 4, message: "missing required property \"values\"" },
  ],
  'retry-constant-missing-interval': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0].retry', line: 8, message: "missing required property \"interval\"" },
  ],
  'retry-max-attempt-zero': [
    { code: 'SLU_FLOW_INVALID_VALUE', path: 'retry.maxAttempt', line: 6, message: "must be >= 1" },
  ],
  'retry-missing-type': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0].retry', line: 8, message: "missing required property \"type\"" },
  ],
  'retry-unknown-type': [
    { code: 'SLU_FLOW_INVALID_ENUM', path: 'tasks[0].retry.type', line: 8, message: "must be one of constant, exponential, random, got \"linear\"" },
  ],
  'runner-not-in-enum': [
    { code: 'SLU_FLOW_INVALID_ENUM', path: 'tasks[0].tasks[1].runner', line: 14, message: "must be one of DOCKER, PROCESS, got \"DOCKERS\"" },
  ],
  'schedule-bad-timezone': [
    { code: 'SLU_FLOW_INVALID_TIMEZONE', path: 'triggers[0].timezone', line: 11, message: "unknown time zone \"Europe/Pariss\"" },
  ],
  'schedule-missing-cron': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'triggers[0]', line: 8, message: "missing required property \"cron\"" },
  ],
  'script-missing': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0]', line: 4, message: "missing required property \"script\"" },
  ],
  'second-document-invalid': [
    { code: 'SLU_FLOW_UNKNOWN_TASK_TYPE', path: 'tasks[0].type', line: 12, document: 1, message: "unknown task type \"io.kestra.plugin.core.log.Lg\"; did you mean \"io.kestra.plugin.core.log.Log\", \"io.kestra.plugin.core.flow.Dag\" or \"io.kestra.plugin.core.flow.If\"?" },
  ],
  'task-id-with-dot': [
    { code: 'SLU_FLOW_INVALID_ID', path: 'tasks[0].id', line: 4, message: "invalid id \"my.task\": must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*$ and be 1 to 256 characters" },
  ],
  'task-missing-id': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0]', line: 4, message: "missing required property \"id\"" },
  ],
  'task-missing-type': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0]', line: 4, message: "missing required property \"type\"" },
  ],
  'task-not-a-mapping': [
    { code: 'SLU_FLOW_NOT_AN_OBJECT', path: 'tasks[0]', line: 4, message: "must be a mapping of properties, got a string (\"io.kestra.plugin.core.log.Log\")" },
  ],
  'task-runner-missing-type': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0].taskRunner', line: 8, message: "missing required property \"type\"" },
  ],
  'task-runner-unknown-property': [
    { code: 'SLU_FLOW_UNKNOWN_PROPERTY', path: 'tasks[0].taskRunner.image', line: 9, message: "unknown property \"image\"" },
  ],
  'task-runner-unknown-type': [
    { code: 'SLU_FLOW_UNKNOWN_RUNNER_TYPE', path: 'tasks[0].taskRunner.type', line: 8, message: "unknown task runner type \"io.kestra.plugin.scripts.runner.docker.Dokcer\"; did you mean \"io.kestra.plugin.scripts.runner.docker.Docker\"?" },
  ],
  'timeout-not-iso': [
    { code: 'SLU_FLOW_INVALID_DURATION', path: 'tasks[0].timeout', line: 7, message: "invalid duration \"10m\": expected ISO-8601 like PT30S, PT5M, PT1H30M or P1D (did you mean PT10M?)" },
  ],
  'unknown-task-property': [
    { code: 'SLU_FLOW_UNKNOWN_PROPERTY', path: 'tasks[0].comands', line: 6, message: "unknown property \"comands\"; did you mean \"commands\"?" },
  ],
  'unknown-task-type': [
    { code: 'SLU_FLOW_UNKNOWN_TASK_TYPE', path: 'tasks[0].type', line: 5, message: "unknown task type \"io.kestra.plugin.scripts.python.Comands\"; did you mean \"io.kestra.plugin.scripts.python.Commands\", \"io.kestra.plugin.scripts.node.Commands\" or \"io.kestra.plugin.scripts.shell.Commands\"?" },
  ],
  'unknown-top-level-property': [
    { code: 'SLU_FLOW_UNKNOWN_PROPERTY', path: 'taks', line: 3, message: "unknown property \"taks\"; did you mean \"tasks\"?" },
  ],
  'unknown-trigger-type': [
    { code: 'SLU_PLUGIN_UNKNOWN_TYPE', path: 'triggers[0].type', line: 9, message: "unknown trigger type \"io.kestra.plugin.core.trigger.Shedule\"; did you mean \"io.kestra.plugin.core.trigger.Schedule\"?" },
  ],
  'worker-group-bad-fallback': [
    { code: 'SLU_FLOW_INVALID_ENUM', path: 'tasks[0].workerGroup.fallback', line: 10, message: "must be one of WAIT, FAIL, CANCEL, got \"RETRY\"" },
  ],
  'worker-group-in-working-directory-child': [
    { code: 'SLU_FLOW_WORKER_GROUP_IN_CHILD', path: 'tasks[0].tasks[0].workerGroup', line: 11, message: "workerGroup cannot be set on a task inside io.kestra.plugin.core.flow.WorkingDirectory: set it on the parent task \"wdir\"" },
  ],
  'worker-group-missing-key': [
    { code: 'SLU_FLOW_REQUIRED_PROPERTY', path: 'tasks[0].workerGroup', line: 9, message: "missing required property \"key\"" },
  ],
  'working-directory-nested': [
    { code: 'SLU_FLOW_TASK_NOT_ALLOWED', path: 'tasks[0].tasks[0].type', line: 8, message: "io.kestra.plugin.core.flow.WorkingDirectory cannot run inside io.kestra.plugin.core.flow.WorkingDirectory: only runnable tasks can" },
  ],
  'yaml-billion-laughs': [
    { code: 'SLU_FLOW_YAML_ALIAS_LIMIT', path: '', line: 1, message: "YAML aliases expand to too many nodes (more than 1000): refusing to expand" },
  ],
  'yaml-duplicate-key': [
    { code: 'SLU_FLOW_YAML_SYNTAX', path: '', line: 3, message: "invalid YAML: Map keys must be unique" },
  ],
  'yaml-unclosed-quote': [
    { code: 'SLU_FLOW_YAML_SYNTAX', path: '', line: 7, message: "invalid YAML: Missing closing \"quote" },
  ],
};

describe('invalid flow corpus', () => {
  const files = readdirSync(corpusDir).filter((f) => f.endsWith('.yml')).sort();

  it('has at least 40 flows, each with expectations', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(files.map((f) => f.replace(/\.yml$/, '')).sort()).toEqual(Object.keys(expectations).sort());
  });

  it.each(files)('%s', (file) => {
    const results = validator.validateSource(readFileSync(corpusDir + file, 'utf8'));
    const problems = results.flatMap((r) => r.problems);
    const actual = problems.map((p) => ({
      code: p.code,
      path: p.path,
      line: p.line,
      message: p.message,
      ...(p.document ? { document: p.document } : {}),
    }));
    expect(actual).toEqual(expectations[file.replace(/\.yml$/, '')]);
    for (const p of problems) expect(p.column).toBeGreaterThanOrEqual(1);
    // A document with problems never yields a flow.
    for (const r of results) if (r.problems.length > 0) expect(r.flow).toBeUndefined();
  });
});

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => dir + f)
    .sort();
}

describe('valid flows', () => {
  const examples = yamlFiles(examplesDir);

  it('examples/ holds the seed flows and at least 10 more', () => {
    expect(examples.filter((f) => f.includes('/seed/'))).toHaveLength(3);
    expect(examples.filter((f) => !f.includes('/seed/')).length).toBeGreaterThanOrEqual(10);
  });

  it.each(examples.map((f) => [f.slice(examplesDir.length), f]))('examples/%s validates', (_name, file) => {
    const results = validator.validateSource(readFileSync(file, 'utf8'));
    expect(results.flatMap((r) => r.problems)).toEqual([]);
    for (const r of results) expect(r.flow?.tasks.length).toBeGreaterThan(0);
  });

  it('the seed flows in the seed document (packages/testing/fixtures/seed) validate unchanged, straight from the source document', () => {
    const flows = seedFlows();
    expect(flows).toHaveLength(3);
    const ids = flows.map((source) => {
      const { flow } = validator.parseFlow(source);
      return flow.id;
    });
    expect(ids).toEqual(['python_in_container', 'local_python_script', 'gpu_task']);
    // And they are the very flows in examples/seed.
    for (const [i, id] of ids.entries()) {
      expect(readFileSync(`${examplesDir}seed/${id}.yml`, 'utf8').trim()).toBe(flows[i]?.trim());
    }
  });
});
