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
  /** Point at the key at `path` rather than its value (default), e.g. for a refused property whose value is a block. */
  readonly target?: 'key' | 'value';
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
  /**
   * Where a task keeps its children. The validator walks every one of them: each child is checked against its own
   * type's schema, recursively, with its YAML path and line, and task ids stay unique across the whole flow.
   * A property named here gets a default schema when the task declares none for it.
   *
   * Properties holding lists of child tasks: `tasks`, If's `then`/`else`, Switch's `defaults`. Default schema: a
   * non-empty list. The `runsChildrenAsOneJob` rules apply to these lists.
   */
  readonly childTasks?: readonly string[];
  /**
   * Properties holding a map of name → list of child tasks (Switch's `cases`: `cases.<key>[i]`). Default schema: a
   * mapping of lists.
   */
  readonly childTaskMaps?: readonly string[];
  /**
   * Properties holding a list of entries that each hold ONE child task under `key` (Dag's `tasks: [{task, dependsOn}]`:
   * `tasks[i].task`). The task declares the entry schema (other entry keys, `additionalProperties`); the child is
   * checked by the walk. Default schema: a non-empty list of mappings that require `key`.
   */
  readonly childTaskEntries?: readonly { readonly property: string; readonly key: string }[];
  /**
   * Properties holding error-branch task lists (`errors`): walked like `childTasks`, but outside the one job of
   * `runsChildrenAsOneJob` (WorkingDirectory's `errors` run as ordinary tasks, so the one-job rules do not apply to
   * them). Default schema: a list.
   */
  readonly errorTasks?: readonly string[];
  /**
   * Properties holding input declarations (Pause's `onResume`): typed by the flow inputs' schema unless the task
   * declares one, and checked by the same rules as the flow's `inputs` (defaults, FILE, ARRAY, duplicate ids, the
   * legacy `name`, normalised to `id`).
   */
  readonly inputDeclarations?: readonly string[];
  /**
   * The children in `childTasks` run together as one job on one worker (WorkingDirectory): they must be runnable
   * and must not set `workerGroup`. Lists in `errorTasks` are not part of that job.
   */
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
