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
import { commonTaskProperties, commonTriggerProperties, flowSchema, flowTaskLists, inputSchema, taskListSchema } from './schema.js';
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
  /**
   * Things that do not stop the flow from being valid (a deprecated form Sluice still accepts, such as an input's
   * legacy `name` key), sorted by position. Present only when there is at least one.
   */
  readonly warnings?: readonly FlowProblem[];
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

/** Default schemas of the properties a task names as holding children or inputs (see `TaskSchema`). */
const childMapSchema = { type: 'object', additionalProperties: { type: 'array' } } as const;
const errorListSchema = { type: 'array' } as const;
const entryListSchema = (key: string): JsonSchema => ({ type: 'array', minItems: 1, items: { type: 'object', required: [key] } });
const inputListSchema: JsonSchema = { type: 'array', items: inputSchema };

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
    for (const child of task.childTaskMaps ?? []) properties[child] = properties[child] ?? childMapSchema;
    for (const { property, key } of task.childTaskEntries ?? []) properties[property] = properties[property] ?? entryListSchema(key);
    for (const child of task.errorTasks ?? []) properties[child] = properties[child] ?? errorListSchema;
    for (const list of task.inputDeclarations ?? []) properties[list] = properties[list] ?? inputListSchema;
    return objectSchema(properties, ['id', 'type', ...(task.required ?? [])]);
  });
  // Properties of any task that hold input declarations: their ids follow the input id pattern, not the task one.
  const inputListNames = new Set(plugins.tasks.list().flatMap((task) => task.inputDeclarations ?? []));
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
    const warnings: FlowProblem[] = [];
    const result = (flow?: Flow): DocumentValidation => ({
      index: document.index,
      source: document.text,
      problems: sortProblems(problems),
      ...(warnings.length > 0 ? { warnings: sortProblems(warnings) } : {}),
      ...(problems.length === 0 && flow ? { flow } : {}),
    });
    if (problems.length > 0) return result();

    const problemAt = (code: ErrorCode, params: ErrorParams, where: Located): FlowProblem => {
      const { line, column } = document.locate(where.path, where.target);
      return { code, message: formatErrorMessage(code, params), path: formatPath(where.path), line, column, document: document.index, params };
    };
    const report: Report = (code, params, where) => {
      problems.push(problemAt(code, params, where));
    };
    const warn: Report = (code, params, where) => {
      warnings.push(problemAt(code, params, where));
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
      for (const error of validate.errors ?? []) translateError(error, data, base, report, inputListNames);
      return false;
    };

    // First, so that a NUL in an id is reported as such (before the id pattern's complaint at the same place).
    checkCharacters(value, [], report);
    runSchema(validateFlowDocument, value, []);

    // Tasks, recursively, with their runners; ids must be unique across the whole flow.
    const taskIds = new Map<string, IdSite>();
    let taskCount = 0;
    let tooMany = false;
    const defaultsFor = collectPluginDefaults(value, plugins);

    const checkTask = (task: unknown, path: readonly PathSegment[], parent: Parent | undefined, depth: number): void => {
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
          translateError(error, task, path, report, inputListNames);
        }
      }
      if (parent?.oneJob) {
        if (def.kind !== 'runnable') {
          report('SLU_FLOW_TASK_NOT_ALLOWED', { reason: `${def.type} cannot run inside ${parent.def.type}: only runnable tasks can` }, { path: [...path, 'type'] });
        }
        if (task.workerGroup !== undefined) {
          report('SLU_FLOW_WORKER_GROUP_IN_CHILD', { parentType: parent.def.type, parentId: parent.id }, { path: [...path, 'workerGroup'], target: 'key' });
        }
      }
      if (def.usesRunner) checkTaskRunner(task.taskRunner, [...path, 'taskRunner']);
      if (problems.length === before) runPluginCheck(def, task, path, report);
      for (const property of def.inputDeclarations ?? []) checkInputs(task[property], [...path, property], document, report, warn);
      walkChildren(def, task, path, depth);
    };

    /** Every child of a task, wherever the task keeps them (`TaskSchema.childTasks` and the like). */
    const walkChildren = (def: TaskSchema, task: Record<string, unknown>, path: readonly PathSegment[], depth: number): void => {
      const id = String(task.id);
      const deeper = (at: readonly PathSegment[]): boolean => {
        if (depth + 1 <= maxDepth) return true;
        report('SLU_FLOW_TOO_LARGE', { reason: `tasks nested more than ${maxDepth} levels deep` }, { path: at });
        return false;
      };
      const list = (children: unknown, at: readonly PathSegment[], parent: Parent): void => {
        if (!Array.isArray(children) || !deeper(at)) return;
        children.forEach((child, i) => checkTask(child, [...at, i], parent, depth + 1));
      };
      const main: Parent = { def, id, oneJob: def.runsChildrenAsOneJob === true };
      for (const property of def.childTasks ?? []) list(task[property], [...path, property], main);
      for (const property of def.childTaskMaps ?? []) {
        const map = task[property];
        if (!isPlainObject(map)) continue;
        for (const [key, children] of Object.entries(map)) list(children, [...path, property, key], main);
      }
      for (const { property, key } of def.childTaskEntries ?? []) {
        const entries = task[property];
        if (!Array.isArray(entries) || !deeper([...path, property])) continue;
        entries.forEach((entry, i) => {
          if (isPlainObject(entry) && entry[key] !== undefined) checkTask(entry[key], [...path, property, i, key], main, depth + 1);
        });
      }
      for (const property of def.errorTasks ?? []) list(task[property], [...path, property], { def, id, oneJob: false });
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

    const triggerIds = new Map<string, IdSite>();
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

    checkInputs(value.inputs, ['inputs'], document, report, warn);
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

/** The task whose child is being checked, and whether its children run as its one job (WorkingDirectory's `tasks`). */
type Parent = { readonly def: TaskSchema; readonly id: string; readonly oneJob: boolean };

/** Where an id was first seen: the object's path, and the key that holds the id (`id`, or an input's legacy `name`). */
type IdSite = { readonly path: readonly PathSegment[]; readonly key: string };

function recordId(
  seen: Map<string, IdSite>,
  id: unknown,
  path: readonly PathSegment[],
  kind: 'task' | 'trigger' | 'input',
  document: ParsedDocument,
  report: Report,
  key = 'id',
): void {
  if (typeof id !== 'string') return;
  const first = seen.get(id);
  if (!first) {
    seen.set(id, { path, key });
    return;
  }
  const params = { id, firstPath: formatPath(first.path), firstLine: document.locate([...first.path, first.key]).line };
  if (kind === 'task') report('SLU_FLOW_DUPLICATE_TASK_ID', params, { path: [...path, key] });
  else report('SLU_FLOW_DUPLICATE_ID', { ...params, kind }, { path: [...path, key] });
}

function runPluginCheck(plugin: PluginSchema, value: Record<string, unknown>, path: readonly PathSegment[], report: Report): void {
  for (const issue of plugin.check?.(value) ?? []) report(issue.code, issue.params, { path: [...path, ...issue.path], ...(issue.target ? { target: issue.target } : {}) });
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

/**
 * Input declarations (the flow's `inputs`, Pause's `onResume`), after their schema: unique ids, SELECT values,
 * defaults of the declared type, no defaults on a FILE input (a file is uploaded with each execution), no ARRAY of
 * ARRAY (Kestra's rules).
 *
 * Kestra's legacy key `name` stands in for a missing `id`, with a warning. The declaration is then replaced, in the
 * validated document, by one with `id` (and no `name`), so that everything past validation (stored flows, input
 * typing, the engine) only ever sees `id`. With both keys, `id` wins and `name` is dropped, with a warning too.
 */
function checkInputs(inputs: unknown, listPath: readonly PathSegment[], document: ParsedDocument, report: Report, warn: Report): void {
  if (!Array.isArray(inputs)) return;
  const seen = new Map<string, IdSite>();
  inputs.forEach((input: unknown, i) => {
    if (!isPlainObject(input)) return;
    const path = [...listPath, i];
    let idKey = 'id';
    if (input.name !== undefined) {
      const { name, ...rest } = input;
      if (input.id === undefined) {
        idKey = 'name';
        warn('SLU_FLOW_DEPRECATED', { what: 'the input key "name"', instead: 'write "id" instead' }, { path: [...path, 'name'], target: 'key' });
        inputs[i] = { id: name, ...rest };
      } else {
        warn('SLU_FLOW_DEPRECATED', { what: 'the input key "name"', instead: 'it is ignored, since this input has an "id"' }, { path: [...path, 'name'], target: 'key' });
        inputs[i] = rest;
      }
    } else if (input.id === undefined) {
      report('SLU_FLOW_REQUIRED_PROPERTY', { property: 'id' }, { path });
    }
    recordId(seen, input[idKey], path, 'input', document, report, idKey);
    const type = input.type;
    if ((type === 'SELECT' || type === 'ENUM' || type === 'MULTISELECT') && input.values === undefined) {
      report('SLU_FLOW_REQUIRED_PROPERTY', { property: 'values' }, { path });
    }
    if (type === 'ARRAY' && input.itemType === 'ARRAY') {
      report('SLU_FLOW_INVALID_VALUE', { reason: 'the itemType of an ARRAY input cannot be ARRAY (lists of lists are not supported)' }, { path: [...path, 'itemType'] });
    }
    if (!('defaults' in input) || input.defaults === null) return;
    if (type === 'FILE') {
      report(
        'SLU_FLOW_INVALID_VALUE',
        { reason: 'a FILE input cannot have defaults: its file is uploaded with each execution (remove defaults, or make the input required: false)' },
        { path: [...path, 'defaults'], target: 'key' },
      );
      return;
    }
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
function translateError(error: ErrorObject, data: unknown, base: readonly PathSegment[], report: Report, inputLists: ReadonlySet<string>): void {
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
      if (last === 'id' || last === 'namespace') return reportId(last, value, path, report, inputLists);
      if (last === 'name' && isInputPath(path, inputLists)) return reportId('id', value, path, report, inputLists);
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

function reportId(kind: 'id' | 'namespace', value: unknown, path: readonly PathSegment[], report: Report, inputLists: ReadonlySet<string>): void {
  const actual = JSON.stringify(value);
  if (kind === 'namespace') return report('SLU_FLOW_INVALID_NAMESPACE', { actual, pattern: NAMESPACE_PATTERN, max: NAMESPACE_MAX }, { path });
  if (path.length === 1) return report('SLU_FLOW_INVALID_ID', { actual, pattern: FLOW_ID_PATTERN, max: FLOW_ID_MAX }, { path });
  if (isInputPath(path, inputLists)) {
    return report('SLU_FLOW_INVALID_ID', { actual, pattern: INPUT_ID_PATTERN, max: INPUT_ID_MAX }, { path });
  }
  report('SLU_FLOW_INVALID_ID', { actual, pattern: TASK_ID_PATTERN, max: TASK_ID_MAX }, { path });
}

/** Whether `path` is a key of an input declaration: the flow's `inputs[i].x` or `outputs[i].x`, or a task's `onResume[i].x`. */
function isInputPath(path: readonly PathSegment[], inputLists: ReadonlySet<string>): boolean {
  if (path[0] === 'inputs' || path[0] === 'outputs') return true;
  const list = path[path.length - 3];
  return path.length > 3 && typeof list === 'string' && inputLists.has(list);
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
