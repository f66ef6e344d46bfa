/**
 * Flow validation: YAML → positions → JSON Schema (ajv, compiled once per plugin set) → cross-field checks.
 *
 * The flow document is checked against `flowSchema`; every task is then checked against the schema of its own type,
 * found in the task registry by name or alias (case-insensitive), so an unknown type yields one precise error with
 * suggestions instead of a wall of `oneOf` failures. Runners (`taskRunner`) are resolved the same way. After the
 * schemas come the checks JSON Schema cannot express: duplicate ids anywhere in the flow, WorkingDirectory rules,
 * input defaults, plugin `check`s, expression syntax, and size limits. Every problem carries the YAML path, line and
 * column of the offending key or value.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { formatErrorMessage, SluiceError } from '../errors.js';
import type { ErrorCode, ErrorParams } from '../errors.js';
import { hasExpression, parseTemplate } from '../expression/index.js';
import { parseDuration } from '../schedule/index.js';
import { didYouMean, formatSuggestion as suggestion } from '../suggest.js';
import { findInvalidCharacter } from '../text.js';
import { FLOW_ID_MAX, FLOW_ID_PATTERN, INPUT_ID_MAX, INPUT_ID_PATTERN, NAMESPACE_MAX, NAMESPACE_PATTERN, TASK_ID_MAX, TASK_ID_PATTERN } from './model.js';
import type { Flow } from './model.js';
import type { FlowPlugins, JsonSchema, PluginSchema, RunnerSchema, TaskSchema, TriggerSchema } from './plugin-schemas.js';
import { createSchemaCompiler } from './schema-compiler.js';
import type { CompiledSchemaCache } from './schema-compiler.js';
import { commonTaskProperties, commonTriggerProperties, flowSchema, flowTaskLists, taskListSchema } from './schema.js';
import { formatPath, parseYamlDocuments } from './source.js';
import type { FlowProblem, ParsedDocument, PathSegment } from './source.js';

export interface FlowValidatorOptions {
  /** Most tasks a flow may hold, counting nested ones. Default 5000. */
  readonly maxTasks?: number;
  /** Deepest nesting of task lists. Default 32. */
  readonly maxDepth?: number;
  /** Upper bound on YAML alias expansion. Default 1000. */
  readonly maxAliasCount?: number;
  /**
   * Compile every plugin schema now, so a broken plugin fails at start-up (servers). Default false: each schema is
   * compiled on first use and reused, which keeps a CLI run that touches three task types fast.
   */
  readonly eager?: boolean;
  /** Compiled schemas kept between runs (the CLI keeps them on disk); default none: every schema is compiled. */
  readonly compiledSchemas?: CompiledSchemaCache;
}

/** The outcome for one YAML document. */
export interface DocumentValidation {
  /** 0-based index of the document in the source. */
  readonly index: number;
  /** The document's text, verbatim. */
  readonly source: string;
  /** Problems, sorted by position. Empty when the flow is valid. */
  readonly problems: readonly FlowProblem[];
  /** The flow, present only when there are no problems. */
  readonly flow?: Flow;
}

export interface FlowValidator {
  /** Validate every document of a YAML source (`---` separated), each on its own. */
  validateSource(source: string): DocumentValidation[];
  /**
   * Parse a source holding exactly one flow. Throws a `SluiceError` whose `details.problems` lists every problem
   * (the first one's code and message are the error's own).
   */
  parseFlow(source: string): { flow: Flow; source: string };
}

type Located = { readonly path: readonly PathSegment[]; readonly target?: 'key' | 'value' };

const VALUE_KEYWORDS = new Set(['type', 'format', 'enum', 'const', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'multipleOf']);

export function createFlowValidator(plugins: FlowPlugins, options: FlowValidatorOptions = {}): FlowValidator {
  const maxTasks = options.maxTasks ?? 5000;
  const maxDepth = options.maxDepth ?? 32;
  const compileSchema = createSchemaCompiler(options.compiledSchemas);

  const compile = (kind: string, plugin: PluginSchema | undefined, schema: JsonSchema): ValidateFunction => {
    try {
      return compileSchema(schema);
    } catch (error) {
      throw new SluiceError('SLU_PLUGIN_INVALID_DEFINITION', {
        kind,
        type: plugin?.type ?? 'flow',
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  };

  const runnerList = plugins.runners.list();
  const legacyRunnerNames = runnerList.flatMap((r) => (r.legacyName ? [r.legacyName] : []));
  const runnerProperties: Record<string, JsonSchema> = {
    taskRunner: { type: 'object', required: ['type'], properties: { type: { type: 'string', minLength: 1 } } },
  };
  if (legacyRunnerNames.length > 0) runnerProperties.runner = { enum: legacyRunnerNames };
  for (const runner of runnerList) {
    if (runner.legacyOptions) runnerProperties[runner.legacyOptions.property] = runner.legacyOptions.schema;
  }

  const objectSchema = (properties: Record<string, JsonSchema>, required: readonly string[]): JsonSchema => ({
    type: 'object',
    properties,
    required: [...new Set(required)],
    additionalProperties: false,
  });

  const validateFlowDocument = compile('flow', undefined, flowSchema);
  const validateUnknownTask = compile('task', undefined, {
    type: 'object',
    required: ['id', 'type'],
    properties: { id: commonTaskProperties.id, type: commonTaskProperties.type },
  });
  const cached = <T extends PluginSchema>(kind: string, build: (plugin: T) => JsonSchema): ((plugin: T) => ValidateFunction) => {
    const validators = new Map<T, ValidateFunction>();
    return (plugin) => {
      let validate = validators.get(plugin);
      if (!validate) {
        validate = compile(kind, plugin, build(plugin));
        validators.set(plugin, validate);
      }
      return validate;
    };
  };
  const taskValidator = cached<TaskSchema>('task', (task) => {
    const properties: Record<string, JsonSchema> = { ...commonTaskProperties, ...(task.usesRunner ? runnerProperties : {}), ...task.properties };
    for (const child of task.childTasks ?? []) properties[child] = properties[child] ?? taskListSchema;
    return objectSchema(properties, ['id', 'type', ...(task.required ?? [])]);
  });
  const runnerValidator = cached<RunnerSchema>('runner', (runner) =>
    objectSchema({ type: { type: 'string' }, ...runner.properties }, ['type', ...(runner.required ?? [])]),
  );
  const triggerValidator = cached<TriggerSchema>('trigger', (trigger) =>
    objectSchema({ ...commonTriggerProperties, ...trigger.properties }, ['id', 'type', ...(trigger.required ?? [])]),
  );
  if (options.eager) {
    plugins.tasks.list().forEach(taskValidator);
    runnerList.forEach(runnerValidator);
    plugins.triggers.list().forEach(triggerValidator);
  }
  const validateUnknownTrigger = compile('trigger', undefined, {
    type: 'object',
    required: ['id', 'type'],
    properties: { id: commonTriggerProperties.id, type: commonTriggerProperties.type },
  });

  function validateDocument(document: ParsedDocument): DocumentValidation {
    const problems: FlowProblem[] = [...document.problems];
    const result = (flow?: Flow): DocumentValidation => ({
      index: document.index,
      source: document.text,
      problems: sortProblems(problems),
      ...(problems.length === 0 && flow ? { flow } : {}),
    });
    if (problems.length > 0) return result();

    const report = (code: ErrorCode, params: ErrorParams, where: Located): void => {
      const { line, column } = document.locate(where.path, where.target);
      problems.push({ code, message: formatErrorMessage(code, params), path: formatPath(where.path), line, column, document: document.index, params });
    };

    const value = document.value;
    if (value === null || value === undefined) {
      report('SLU_FLOW_EMPTY', {}, { path: [] });
      return result();
    }
    if (!isPlainObject(value)) {
      report('SLU_FLOW_NOT_AN_OBJECT', { actual: describeValue(value) }, { path: [] });
      return result();
    }

    const runSchema = (validate: ValidateFunction, data: unknown, base: readonly PathSegment[]): boolean => {
      if (validate(data)) return true;
      for (const error of validate.errors ?? []) translateError(error, data, base, report);
      return false;
    };

    // First, so that a NUL in an id is reported as such (before the id pattern's complaint at the same place).
    checkCharacters(value, [], report);
    runSchema(validateFlowDocument, value, []);

    // Tasks, recursively, with their runners; ids must be unique across the whole flow.
    const taskIds = new Map<string, readonly PathSegment[]>();
    let taskCount = 0;
    let tooMany = false;
    const defaultsFor = collectPluginDefaults(value, plugins);

    const checkTask = (task: unknown, path: readonly PathSegment[], parent: { def: TaskSchema; id: string } | undefined, depth: number): void => {
      taskCount++;
      if (taskCount > maxTasks) {
        if (!tooMany) report('SLU_FLOW_TOO_LARGE', { reason: `more than ${maxTasks} tasks` }, { path });
        tooMany = true;
        return;
      }
      if (!isPlainObject(task)) {
        report('SLU_FLOW_NOT_AN_OBJECT', { actual: describeValue(task) }, { path });
        return;
      }
      recordId(taskIds, task.id, path, 'task', document, report);
      const type = task.type;
      const def = typeof type === 'string' ? plugins.tasks.find(type) : undefined;
      if (!def) {
        runSchema(validateUnknownTask, task, path);
        if (typeof type === 'string') {
          report('SLU_FLOW_UNKNOWN_TASK_TYPE', { type, suggestion: suggestion(plugins.tasks.suggest(type)) }, { path: [...path, 'type'] });
        }
        return;
      }
      const validator = taskValidator(def);
      const before = problems.length;
      if (!validator(task)) {
        const provided = defaultsFor(def);
        for (const error of validator.errors ?? []) {
          // A required property may come from the flow's pluginDefaults, as in Kestra.
          if (error.keyword === 'required' && error.instancePath === '' && provided.has(String(error.params.missingProperty))) continue;
          translateError(error, task, path, report);
        }
      }
      if (parent?.def.runsChildrenAsOneJob) {
        if (def.kind !== 'runnable') {
          report('SLU_FLOW_TASK_NOT_ALLOWED', { reason: `${def.type} cannot run inside ${parent.def.type}: only runnable tasks can` }, { path: [...path, 'type'] });
        }
        if (task.workerGroup !== undefined) {
          report('SLU_FLOW_WORKER_GROUP_IN_CHILD', { parentType: parent.def.type, parentId: parent.id }, { path: [...path, 'workerGroup'], target: 'key' });
        }
      }
      if (def.usesRunner) checkTaskRunner(task.taskRunner, [...path, 'taskRunner']);
      if (problems.length === before) runPluginCheck(def, task, path, report);
      for (const property of def.childTasks ?? []) {
        const children = task[property];
        if (!Array.isArray(children)) continue;
        if (depth + 1 > maxDepth) {
          report('SLU_FLOW_TOO_LARGE', { reason: `tasks nested more than ${maxDepth} levels deep` }, { path: [...path, property] });
          continue;
        }
        children.forEach((child, i) => checkTask(child, [...path, property, i], { def, id: String(task.id) }, depth + 1));
      }
    };

    const checkTaskRunner = (taskRunner: unknown, path: readonly PathSegment[]): void => {
      if (!isPlainObject(taskRunner) || typeof taskRunner.type !== 'string') return; // the task schema reported it
      const runner: RunnerSchema | undefined = plugins.runners.find(taskRunner.type);
      if (!runner) {
        report('SLU_FLOW_UNKNOWN_RUNNER_TYPE', { type: taskRunner.type, suggestion: suggestion(plugins.runners.suggest(taskRunner.type)) }, { path: [...path, 'type'] });
        return;
      }
      if (runSchema(runnerValidator(runner), taskRunner, path)) runPluginCheck(runner, taskRunner, path, report);
    };

    for (const list of flowTaskLists) {
      const tasks = value[list];
      if (Array.isArray(tasks)) tasks.forEach((task, i) => checkTask(task, [list, i], undefined, 1));
    }

    const triggerIds = new Map<string, readonly PathSegment[]>();
    if (Array.isArray(value.triggers)) {
      value.triggers.forEach((trigger: unknown, i) => {
        const path = ['triggers', i];
        if (!isPlainObject(trigger)) return report('SLU_FLOW_NOT_AN_OBJECT', { actual: describeValue(trigger) }, { path });
        recordId(triggerIds, trigger.id, path, 'trigger', document, report);
        const def = typeof trigger.type === 'string' ? plugins.triggers.find(trigger.type) : undefined;
        if (!def) {
          runSchema(validateUnknownTrigger, trigger, path);
          if (typeof trigger.type === 'string') {
            report('SLU_PLUGIN_UNKNOWN_TYPE', { kind: 'trigger', type: trigger.type, suggestion: suggestion(plugins.triggers.suggest(trigger.type)) }, { path: [...path, 'type'] });
          }
          return;
        }
        if (runSchema(triggerValidator(def), trigger, path)) runPluginCheck(def, trigger, path, report);
      });
    }

    checkInputs(value.inputs, document, report);
    checkExpressions(value, [], report, 0);

    return result(value as unknown as Flow);
  }

  return {
    validateSource(source: string): DocumentValidation[] {
      const documents = parseYamlDocuments(source, { maxAliasCount: options.maxAliasCount ?? 1000 });
      if (documents.length === 0) {
        return [{ index: 0, source, problems: [emptyProblem()] }];
      }
      return documents.map(validateDocument);
    },
    parseFlow(source: string): { flow: Flow; source: string } {
      const results = this.validateSource(source);
      if (results.length > 1) {
        throw new SluiceError('SLU_FLOW_INVALID_VALUE', { reason: `expected one flow, found ${results.length} YAML documents` });
      }
      const [only] = results;
      if (!only?.flow) {
        const problems = only?.problems ?? [emptyProblem()];
        const first = problems[0] ?? emptyProblem();
        throw new SluiceError(first.code, first.params, { path: first.path, line: first.line, column: first.column, problems });
      }
      return { flow: only.flow, source: only.source };
    },
  };
}

function emptyProblem(): FlowProblem {
  return { code: 'SLU_FLOW_EMPTY', message: formatErrorMessage('SLU_FLOW_EMPTY'), path: '', line: 1, column: 1, document: 0, params: {} };
}

type Report = (code: ErrorCode, params: ErrorParams, where: Located) => void;

function recordId(
  seen: Map<string, readonly PathSegment[]>,
  id: unknown,
  path: readonly PathSegment[],
  kind: 'task' | 'trigger' | 'input',
  document: ParsedDocument,
  report: Report,
): void {
  if (typeof id !== 'string') return;
  const first = seen.get(id);
  if (!first) {
    seen.set(id, path);
    return;
  }
  const params = { id, firstPath: formatPath(first), firstLine: document.locate([...first, 'id']).line };
  if (kind === 'task') report('SLU_FLOW_DUPLICATE_TASK_ID', params, { path: [...path, 'id'] });
  else report('SLU_FLOW_DUPLICATE_ID', { ...params, kind }, { path: [...path, 'id'] });
}

function runPluginCheck(plugin: PluginSchema, value: Record<string, unknown>, path: readonly PathSegment[], report: Report): void {
  for (const issue of plugin.check?.(value) ?? []) report(issue.code, issue.params, { path: [...path, ...issue.path] });
}

/** Which required properties the flow's `pluginDefaults` provide for a task type (Kestra matches by prefix). */
function collectPluginDefaults(flow: Record<string, unknown>, plugins: FlowPlugins): (def: TaskSchema) => Set<string> {
  const entries = [flow.pluginDefaults, flow.taskDefaults].flatMap((list) => (Array.isArray(list) ? list : []));
  const cache = new Map<string, Set<string>>();
  return (def) => {
    const cached = cache.get(def.type);
    if (cached) return cached;
    const names = [def.type, ...(def.aliases ?? [])].map((n) => n.toLowerCase());
    const provided = new Set<string>();
    for (const entry of entries) {
      if (!isPlainObject(entry) || typeof entry.type !== 'string' || !isPlainObject(entry.values)) continue;
      const prefix = entry.type.toLowerCase();
      const found = plugins.tasks.find(entry.type);
      if (found === def || names.some((n) => n.startsWith(`${prefix}.`))) for (const key of Object.keys(entry.values)) provided.add(key);
    }
    cache.set(def.type, provided);
    return provided;
  };
}

function checkInputs(inputs: unknown, document: ParsedDocument, report: Report): void {
  if (!Array.isArray(inputs)) return;
  const seen = new Map<string, readonly PathSegment[]>();
  inputs.forEach((input: unknown, i) => {
    if (!isPlainObject(input)) return;
    const path = ['inputs', i];
    recordId(seen, input.id, path, 'input', document, report);
    const type = input.type;
    if ((type === 'SELECT' || type === 'ENUM' || type === 'MULTISELECT') && input.values === undefined) {
      report('SLU_FLOW_REQUIRED_PROPERTY', { property: 'values' }, { path });
    }
    if (!('defaults' in input) || input.defaults === null) return;
    const defaults = input.defaults;
    if (typeof defaults === 'string' && hasExpression(defaults)) return;
    const where = { path: [...path, 'defaults'] };
    const expect = (ok: boolean, expected: string): void => {
      if (!ok) report('SLU_FLOW_INVALID_TYPE', { expected, actual: describeValue(defaults) }, where);
    };
    switch (type) {
      case 'INT':
        return expect(Number.isInteger(defaults), 'an integer');
      case 'FLOAT':
        return expect(typeof defaults === 'number', 'a number');
      case 'BOOLEAN':
      case 'BOOL':
        return expect(typeof defaults === 'boolean', 'a boolean');
      case 'STRING':
      case 'SECRET':
      case 'EMAIL':
      case 'URI':
        return expect(typeof defaults === 'string', 'a string');
      case 'DURATION':
        if (typeof defaults !== 'string') return expect(false, 'an ISO-8601 duration string');
        try {
          parseDuration(defaults);
        } catch (error) {
          if (error instanceof SluiceError) report(error.code, error.params, where);
        }
        return;
      case 'DATETIME':
      case 'DATE':
        return expect((typeof defaults === 'string' && !Number.isNaN(Date.parse(defaults))) || defaults instanceof Date, 'an ISO-8601 date');
      case 'ARRAY':
      case 'MULTISELECT':
        return expect(Array.isArray(defaults), 'a list');
      case 'SELECT':
      case 'ENUM':
        if (Array.isArray(input.values) && !input.values.includes(defaults) && input.allowCustomValue !== true) {
          report('SLU_FLOW_INVALID_ENUM', { allowed: input.values.map(String).join(', '), actual: JSON.stringify(defaults) }, where);
        }
        return;
      default:
        return;
    }
  });
}

/** Most invalid-character problems reported for one document (a flow full of NULs needs no thousand lines). */
const MAX_CHARACTER_PROBLEMS = 20;

/**
 * Every string and key must be storable: no NUL and no lone surrogate, written escaped (`"\0"`, `"\uD800"`) since raw
 * ones are found by the parser. Descriptions included: the whole flow is stored.
 */
function checkCharacters(root: unknown, rootPath: PathSegment[], report: Report): void {
  let reported = 0;
  const walk = (value: unknown, path: PathSegment[], depth: number): void => {
    if (reported >= MAX_CHARACTER_PROBLEMS || depth > 1000) return;
    if (typeof value === 'string') {
      const invalid = findInvalidCharacter(value);
      if (invalid) {
        reported++;
        report('SLU_FLOW_INVALID_CHARACTER', { character: invalid.description }, { path });
      }
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, [...path, i], depth + 1));
      return;
    }
    if (isPlainObject(value)) {
      for (const [key, item] of Object.entries(value)) {
        const invalid = findInvalidCharacter(key);
        if (invalid && reported < MAX_CHARACTER_PROBLEMS) {
          reported++;
          report('SLU_FLOW_INVALID_CHARACTER', { character: invalid.description }, { path: [...path, key], target: 'key' });
        }
        walk(item, [...path, key], depth + 1);
      }
    }
  };
  walk(root, rootPath, 0);
}

const NOT_RENDERED = new Set(['description', 'displayName']);

/** Every string that holds `{{ }}` or `{% %}` must parse. Descriptions are prose and are never rendered. */
function checkExpressions(value: unknown, path: PathSegment[], report: Report, depth: number): void {
  if (depth > 200) return;
  if (typeof value === 'string') {
    if (!hasExpression(value)) return;
    try {
      parseTemplate(value);
    } catch (error) {
      const reason = error instanceof Error ? error.message.replace(/^expression syntax error: /, '') : String(error);
      report('SLU_FLOW_INVALID_EXPRESSION', { reason }, { path: [...path] });
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkExpressions(item, [...path, i], report, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (!NOT_RENDERED.has(key)) checkExpressions(item, [...path, key], report, depth + 1);
    }
  }
}

/** Turn one ajv error into a problem with a precise code, path and message. */
function translateError(error: ErrorObject, data: unknown, base: readonly PathSegment[], report: Report): void {
  const relative = pointerToPath(error.instancePath, data);
  const path = [...base, ...relative];
  const value = error.data;
  const last = relative[relative.length - 1];
  if (error.keyword === 'if') return; // its `then` errors say what is missing
  if (VALUE_KEYWORDS.has(error.keyword) && typeof value === 'string' && hasExpression(value)) return; // checked when rendered
  switch (error.keyword) {
    case 'required':
      return report('SLU_FLOW_REQUIRED_PROPERTY', { property: String(error.params.missingProperty) }, { path });
    case 'additionalProperties': {
      const property = String(error.params.additionalProperty);
      const known = Object.keys((error.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
      return report('SLU_FLOW_UNKNOWN_PROPERTY', { property, suggestion: didYouMean(property, known) }, { path: [...path, property], target: 'key' });
    }
    case 'type':
      return report('SLU_FLOW_INVALID_TYPE', { expected: describeTypes(error.params.type as string | string[]), actual: describeValue(value) }, { path });
    case 'enum':
      return report('SLU_FLOW_INVALID_ENUM', { allowed: (error.params.allowedValues as unknown[]).map(String).join(', '), actual: JSON.stringify(value) }, { path });
    case 'const':
      return report('SLU_FLOW_INVALID_ENUM', { allowed: String(error.params.allowedValue), actual: JSON.stringify(value) }, { path });
    case 'pattern':
    case 'maxLength':
      if (last === 'id' || last === 'namespace') return reportId(last, value, path, report);
      break;
    case 'format':
      if (error.params.format === 'duration') {
        try {
          parseDuration(String(value));
        } catch (cause) {
          if (cause instanceof SluiceError) return report(cause.code, cause.params, { path });
        }
      }
      break;
    case 'minItems':
      if (error.params.limit === 1) return report('SLU_FLOW_INVALID_VALUE', { reason: 'must not be empty' }, { path });
      break;
    default:
      break;
  }
  report('SLU_FLOW_INVALID_VALUE', { reason: error.message ?? `fails ${error.keyword}` }, { path });
}

function reportId(kind: 'id' | 'namespace', value: unknown, path: readonly PathSegment[], report: Report): void {
  const actual = JSON.stringify(value);
  if (kind === 'namespace') return report('SLU_FLOW_INVALID_NAMESPACE', { actual, pattern: NAMESPACE_PATTERN, max: NAMESPACE_MAX }, { path });
  if (path.length === 1) return report('SLU_FLOW_INVALID_ID', { actual, pattern: FLOW_ID_PATTERN, max: FLOW_ID_MAX }, { path });
  if (path[0] === 'inputs' || path[0] === 'outputs') {
    return report('SLU_FLOW_INVALID_ID', { actual, pattern: INPUT_ID_PATTERN, max: INPUT_ID_MAX }, { path });
  }
  report('SLU_FLOW_INVALID_ID', { actual, pattern: TASK_ID_PATTERN, max: TASK_ID_MAX }, { path });
}

/** JSON pointer → path segments; array indexes become numbers so paths print as `tasks[0]`. */
function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const path: PathSegment[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(segment)) {
      const index = Number(segment);
      path.push(index);
      node = node[index];
    } else {
      path.push(segment);
      node = isPlainObject(node) ? node[segment] : undefined;
    }
  }
  return path;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function describeTypes(types: string | string[]): string {
  const list = (Array.isArray(types) ? types : String(types).split(',')).map((t) => TYPE_WORDS[t] ?? t);
  return list.length === 1 ? (list[0] ?? '') : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'number') return Number.isInteger(value) ? `an integer (${value})` : `a number (${value})`;
  return `a ${typeof value} (${String(value)})`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function sortProblems(problems: FlowProblem[]): FlowProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = `${p.code}|${p.path}|${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}
