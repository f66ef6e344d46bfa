/**
 * What the editor knows about a flow's YAML: the flow's own keys, input and output declarations, and the plugins of
 * `GET /plugins` (looked up by type or alias, with their properties in the order the docs and completion show them).
 */
import type { JsonSchema, PluginDescription, PluginListing } from '../types.js';
import { cursorContext, kindOf, pathOf } from './yaml-context.js';
import type { CursorContext, Scope, ScopeKind } from './yaml-context.js';

export interface KeyDoc {
  readonly name: string;
  readonly type: string;
  readonly required?: boolean;
  readonly description: string;
}

export const FLOW_KEYS: readonly KeyDoc[] = [
  { name: 'id', type: 'string', required: true, description: 'The flow id, unique in its namespace (letters, digits, - and _).' },
  { name: 'namespace', type: 'string', required: true, description: 'The namespace the flow lives in, dot-separated (company.team).' },
  { name: 'tasks', type: 'array', required: true, description: 'The tasks the flow runs, in order.' },
  { name: 'description', type: 'string', description: 'What the flow does (Markdown).' },
  { name: 'labels', type: 'object', description: 'Key/value labels, copied to every execution.' },
  { name: 'inputs', type: 'array', description: 'The values an execution starts with (STRING, INT, FILE...).' },
  { name: 'variables', type: 'object', description: 'Values the tasks read as {{ vars.name }}.' },
  { name: 'errors', type: 'array', description: 'Tasks that run when a task of the flow fails.' },
  { name: 'finally', type: 'array', description: 'Tasks that run at the end, whatever the state.' },
  { name: 'afterExecution', type: 'array', description: 'Tasks that run once the execution has ended.' },
  { name: 'triggers', type: 'array', description: 'What starts the flow: a schedule, a webhook, another flow.' },
  { name: 'outputs', type: 'array', description: 'Values the execution returns (id, type, value).' },
  { name: 'pluginDefaults', type: 'array', description: 'Default property values for every task or trigger of a type.' },
  { name: 'concurrency', type: 'object', description: 'How many executions may run at once (limit, behavior: QUEUE, CANCEL, FAIL).' },
  { name: 'retry', type: 'object', description: 'How a failed execution is retried.' },
  { name: 'disabled', type: 'boolean', description: 'A disabled flow cannot be executed and its triggers do not fire.' },
];

export const INPUT_TYPES = ['STRING', 'INT', 'FLOAT', 'BOOLEAN', 'SELECT', 'MULTISELECT', 'ENUM', 'DATETIME', 'DATE', 'TIME', 'DURATION', 'FILE', 'JSON', 'YAML', 'URI', 'SECRET', 'ARRAY', 'EMAIL', 'BOOL'] as const;
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

export const INPUT_KEYS: readonly KeyDoc[] = [
  { name: 'id', type: 'string', required: true, description: 'The input id, read as {{ inputs.id }}.' },
  { name: 'type', type: 'string', required: true, description: `One of ${INPUT_TYPES.slice(0, -1).join(', ')}.` },
  { name: 'description', type: 'string', description: 'What the input is for.' },
  { name: 'displayName', type: 'string', description: 'The label shown in the execute form.' },
  { name: 'required', type: 'boolean', description: 'Whether an execution must give it (default true).' },
  { name: 'defaults', type: 'any', description: 'The value used when none is given.' },
  { name: 'values', type: 'array', description: 'The choices of a SELECT or MULTISELECT input.' },
  { name: 'allowCustomValue', type: 'boolean', description: 'A SELECT input may take a value outside its list.' },
  { name: 'itemType', type: 'string', description: 'The type of the items of an ARRAY input.' },
  { name: 'min', type: 'number', description: 'Smallest value (INT, FLOAT, dates).' },
  { name: 'max', type: 'number', description: 'Largest value (INT, FLOAT, dates).' },
  { name: 'minLength', type: 'integer', description: 'Shortest STRING.' },
  { name: 'maxLength', type: 'integer', description: 'Longest STRING.' },
  { name: 'validator', type: 'string', description: 'A regular expression a STRING must match.' },
  { name: 'after', type: 'string', description: 'Earliest date or time.' },
  { name: 'before', type: 'string', description: 'Latest date or time.' },
  { name: 'dependsOn', type: 'object', description: 'Inputs this one depends on, and a condition.' },
];

export const OUTPUT_KEYS: readonly KeyDoc[] = [
  { name: 'id', type: 'string', required: true, description: 'The output id.' },
  { name: 'value', type: 'any', required: true, description: "The value, usually an expression over the tasks' outputs." },
  { name: 'type', type: 'string', description: 'The value type (STRING, INT, FILE...).' },
  { name: 'description', type: 'string', description: 'What the output is.' },
  { name: 'displayName', type: 'string', description: 'The label shown with the value.' },
  { name: 'required', type: 'boolean', description: 'Whether the execution fails when the value is missing.' },
];

export const PLUGIN_DEFAULT_KEYS: readonly KeyDoc[] = [
  { name: 'type', type: 'string', required: true, description: 'The task or trigger type (or a prefix of it) the defaults apply to.' },
  { name: 'values', type: 'object', required: true, description: 'The default property values.' },
  { name: 'forced', type: 'boolean', description: "Whether the defaults override the tasks' own values." },
];

export type PluginCategory = 'tasks' | 'triggers' | 'runners';

/** Where a plugin of a scope of this kind is looked up. */
export function categoriesOf(kind: ScopeKind): PluginCategory[] {
  switch (kind) {
    case 'trigger':
      return ['triggers'];
    case 'runner':
      return ['runners'];
    case 'plugin-default':
      return ['tasks', 'triggers'];
    default:
      return ['tasks'];
  }
}

/** The plugin of `type` (its type or one of its aliases), looked up in `categories` first, then anywhere. */
export function findPlugin(plugins: PluginListing | undefined, type: string | undefined, categories: readonly PluginCategory[] = ['tasks', 'triggers', 'runners']): PluginDescription | undefined {
  if (!plugins || !type) return undefined;
  const name = unquote(type);
  const order: PluginCategory[] = [...categories, ...(['tasks', 'triggers', 'runners'] as const).filter((c) => !categories.includes(c))];
  for (const category of order) {
    const found = plugins[category].find((p) => p.type === name || p.aliases.includes(name));
    if (found) return found;
  }
  return undefined;
}

export function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}

export interface PropertyDoc {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly deprecated?: boolean;
}

/** A JSON schema's type, readably: `string`, `integer | string`, `one of: A, B`, `array of string`. */
export function schemaType(schema: JsonSchema | undefined): string {
  if (!schema) return 'any';
  if (Array.isArray(schema.enum)) return `one of: ${schema.enum.map((v) => String(v)).join(', ')}`;
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants) && variants.length > 0) return [...new Set(variants.map(schemaType))].join(' | ');
  const type = schema.type;
  if (Array.isArray(type)) return type.join(' | ');
  if (type === 'array') return schema.items ? `array of ${schemaType(schema.items)}` : 'array';
  if (typeof type === 'string') {
    const format = typeof schema.format === 'string' ? ` (${schema.format})` : '';
    return type + format;
  }
  if (schema.properties) return 'object';
  return 'any';
}

/** Scripts tasks run on a task runner; the plugin listing does not list that common property. */
const TASK_RUNNER: PropertyDoc = {
  name: 'taskRunner',
  type: 'object',
  required: false,
  description: 'Where the commands run: a task runner with its `type`, such as io.kestra.plugin.core.runner.Process (a local process) or io.kestra.plugin.scripts.runner.docker.Docker.',
};

/** What the properties every task or trigger accepts do, for schemas that do not say. */
const COMMON_DESCRIPTIONS: Readonly<Record<string, string>> = {
  id: 'The id, unique in the flow.',
  type: 'The plugin type.',
  description: 'What this step does.',
  retry: 'How a failed attempt is retried (type: constant, exponential or random; maxAttempts, interval...).',
  timeout: 'Longest run of an attempt (an ISO 8601 duration such as PT10M); the attempt fails after it.',
  disabled: 'A disabled task is skipped; a disabled trigger does not fire.',
  allowFailure: 'A failure of this task leaves the execution in WARNING instead of FAILED.',
  allowWarning: 'A WARNING of this task counts as SUCCESS.',
  workerGroup: 'The worker group that runs it (key, and fallback: FAIL, WAIT or CANCEL).',
  logLevel: 'The lowest level of the logs kept.',
  logToFile: 'Keep the logs in a file of the internal storage instead of the log store.',
  runIf: 'An expression: the task runs only when it renders to true.',
  stopAfter: 'Execution states after which the trigger is disabled.',
};

/** A plugin's properties: required ones first (then by schema order), the common ones last. */
export function propertiesOf(plugin: PluginDescription): PropertyDoc[] {
  const schema = plugin.schema;
  const required = new Set(schema.required);
  const common = new Set(['id', 'type', 'description', 'retry', 'timeout', 'disabled', 'allowFailure', 'allowWarning', 'workerGroup', 'logLevel', 'logToFile', 'runIf', 'stopAfter']);
  const docs: PropertyDoc[] = Object.entries(schema.properties).map(([name, property]) => ({
    name,
    type: schemaType(property),
    required: required.has(name),
    ...(typeof property.description === 'string'
      ? { description: property.description }
      : typeof property.title === 'string'
        ? { description: property.title }
        : COMMON_DESCRIPTIONS[name]
          ? { description: COMMON_DESCRIPTIONS[name] }
          : {}),
    ...(property.default !== undefined ? { default: property.default } : {}),
    ...(Array.isArray(property.enum) ? { enum: property.enum } : {}),
    ...(property.deprecated === true ? { deprecated: true } : {}),
  }));
  for (const name of required) if (!(name in schema.properties)) docs.push({ name, type: 'any', required: true });
  if ('containerImage' in schema.properties && !('taskRunner' in schema.properties)) docs.push(TASK_RUNNER);
  const rank = (p: PropertyDoc): number => (p.name === 'id' ? 0 : p.name === 'type' ? 1 : p.required ? 2 : common.has(p.name) ? 4 : 3);
  return docs.map((doc, index) => ({ doc, index })).sort((a, b) => rank(a.doc) - rank(b.doc) || a.index - b.index).map(({ doc }) => doc);
}

export interface ScopeInfo {
  readonly scope: Scope;
  readonly kind: ScopeKind;
  readonly path: readonly string[];
  /** The scope's `type:` value, when it has one. */
  readonly type?: string;
  readonly plugin?: PluginDescription;
}

/** What the scope at `index` is: its kind, path, `type:` and plugin. */
export function scopeInfo(context: CursorContext, index: number, plugins: PluginListing | undefined): ScopeInfo {
  const scope = context.scopes[index]!;
  const outer = context.scopes[context.scopes.length - 1]!;
  const path = pathOf(context.scopes, index);
  let kind = kindOf(path, outer.kind === 'map' && outer.col === 0);
  const typeValue = scope.keys.get('type')?.value;
  const type = typeValue ? unquote(typeValue) : undefined;
  let plugin = kind === 'input' || kind === 'output' || kind === 'flow' ? undefined : findPlugin(plugins, type, categoriesOf(kind));
  // A mapping somewhere else whose type is a known task (a custom list key) is a task too.
  if (kind === 'other' && plugin) kind = plugins?.triggers.includes(plugin) ? 'trigger' : plugins?.runners.includes(plugin) ? 'runner' : 'task';
  if (kind === 'plugin-default') plugin = undefined;
  return { scope, kind, path, ...(type ? { type } : {}), ...(plugin ? { plugin } : {}) };
}

/** The innermost task, trigger or runner mapping around `pos`, for the docs panel. */
export function pluginAt(text: string, pos: number, plugins: PluginListing | undefined): { type?: string; plugin?: PluginDescription; kind?: ScopeKind } {
  const context = cursorContext(text, pos);
  for (let i = 0; i < context.scopes.length; i++) {
    if (context.scopes[i]!.kind !== 'map') continue;
    const info = scopeInfo(context, i, plugins);
    if (info.kind === 'task' || info.kind === 'trigger' || info.kind === 'runner') {
      if (info.type || info.plugin) return { ...(info.type ? { type: info.type } : {}), ...(info.plugin ? { plugin: info.plugin } : {}), kind: info.kind };
    }
  }
  return {};
}
