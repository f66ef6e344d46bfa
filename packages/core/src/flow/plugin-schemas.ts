/**
 * What the flow validator needs to know about plugins: their types, aliases and JSON Schemas. `core` defines these
 * shapes so it never depends on the plugin API; `@sluice/plugin-api` definitions extend them and its `Registry`
 * satisfies `PluginLookup`.
 */
import type { ErrorCode, ErrorParams } from '../errors.js';
import type { PathSegment } from './source.js';

/** A JSON Schema (draft-07 subset as understood by ajv). Kept loose on purpose: plugins write plain objects. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** A problem a plugin's own cross-field check reports; the path is relative to the plugin's object. */
export interface PluginIssue {
  readonly path: readonly PathSegment[];
  readonly code: ErrorCode;
  readonly params: ErrorParams;
}

export interface PluginSchema {
  /** Canonical type, exactly as flows write it: `io.kestra.plugin.git.Clone`. */
  readonly type: string;
  /** Other names flows may use (Kestra's older package names). Looked up case-insensitively. */
  readonly aliases?: readonly string[];
  readonly title: string;
  readonly description?: string;
  /** JSON Schemas of the plugin's own properties (the common ones, `id`, `type`, ..., are added by core). */
  readonly properties: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  /**
   * Cross-field checks JSON Schema cannot express (a cron that depends on `withSeconds`). Runs only when the
   * object passed its schema. Must be pure.
   */
  readonly check?: (value: Readonly<Record<string, unknown>>) => readonly PluginIssue[];
}

export interface TaskSchema extends PluginSchema {
  /**
   * `runnable` tasks run on a worker; `flowable` tasks orchestrate children. A WorkingDirectory is flowable but is
   * sent to one worker as one job with its children.
   */
  readonly kind: 'runnable' | 'flowable';
  /** Properties holding lists of child tasks (validated as tasks, recursively). */
  readonly childTasks?: readonly string[];
  /** Children must be runnable and must not set `workerGroup` (WorkingDirectory: one job on one worker). */
  readonly runsChildrenAsOneJob?: boolean;
  /** The task runs commands through a runner: `runner`, `taskRunner` and the runners' legacy blocks apply. */
  readonly usesRunner?: boolean;
}

export interface RunnerSchema extends PluginSchema {
  /** Value of the legacy `runner:` property that selects this runner (`DOCKER`, `PROCESS`). */
  readonly legacyName?: string;
  /** A legacy options block on the task itself (`docker: {image, config, ...}`) and its schema. */
  readonly legacyOptions?: { readonly property: string; readonly schema: JsonSchema };
}

export type TriggerSchema = PluginSchema;

/** Read access to a registry of plugin schemas. `@sluice/plugin-api`'s `Registry` implements it. */
export interface PluginLookup<T extends PluginSchema> {
  /** The plugin for a type or alias (case-insensitive), or undefined. */
  find(type: string): T | undefined;
  /** The closest known names to an unknown type, best first. */
  suggest(type: string): string[];
  /** Every registered plugin, once each (canonical entries). */
  list(): readonly T[];
}

export interface FlowPlugins {
  readonly tasks: PluginLookup<TaskSchema>;
  readonly runners: PluginLookup<RunnerSchema>;
  readonly triggers: PluginLookup<TriggerSchema>;
}
