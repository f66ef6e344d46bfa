/** The API's JSON shapes the UI reads (Kestra's, as Sluice serves them). Only the fields the UI uses. */

export type StateType =
  | 'CREATED'
  | 'QUEUED'
  | 'RUNNING'
  | 'PAUSED'
  | 'RESTARTED'
  | 'KILLING'
  | 'SUCCESS'
  | 'WARNING'
  | 'FAILED'
  | 'KILLED'
  | 'CANCELLED'
  | 'RETRYING'
  | 'RETRIED'
  | 'SKIPPED'
  | 'BREAKPOINT';

export const TERMINAL_STATES: readonly StateType[] = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED'];
export const ALL_STATES: readonly StateType[] = ['CREATED', 'QUEUED', 'RUNNING', 'PAUSED', 'RESTARTED', 'KILLING', 'SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRYING', 'RETRIED', 'SKIPPED'];

export const isTerminal = (state: string): boolean => (TERMINAL_STATES as readonly string[]).includes(state);

export interface State {
  current: StateType;
  histories?: { state: StateType; date: string }[];
  startDate?: string;
  endDate?: string;
  duration?: string | number;
}

export interface Label {
  key: string;
  value: string;
}

export interface FlowInput {
  id: string;
  type: string;
  required?: boolean;
  defaults?: unknown;
  description?: string;
  displayName?: string;
  values?: string[];
  allowCustomValue?: boolean;
  [key: string]: unknown;
}

export interface FlowTask {
  id: string;
  type: string;
  [key: string]: unknown;
}

export interface Flow {
  id: string;
  namespace: string;
  revision: number;
  description?: string;
  labels?: Label[];
  inputs?: FlowInput[];
  tasks?: FlowTask[];
  triggers?: FlowTask[];
  disabled?: boolean;
  deleted?: boolean;
  source?: string;
  updated?: string;
  [key: string]: unknown;
}

export interface Attempt {
  state: State;
  workerId?: string;
}

export interface TaskRun {
  id: string;
  taskId: string;
  parentTaskRunId?: string;
  value?: string | null;
  iteration?: number;
  state: State;
  attempts?: Attempt[];
  outputs?: Record<string, unknown>;
  workerGroup?: string;
}

export interface Execution {
  id: string;
  namespace: string;
  flowId: string;
  flowRevision: number;
  state: State;
  taskRunList?: TaskRun[];
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  labels?: Label[];
  trigger?: { id: string; type: string; variables?: Record<string, unknown> };
  parentId?: string;
  originalId?: string;
  scheduleDate?: string;
}

export interface LogLine {
  namespace: string;
  flowId: string;
  taskId?: string;
  executionId: string;
  taskRunId?: string;
  attemptNumber?: number;
  timestamp: string;
  level: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE';
  message: string;
}

export interface Paged<T> {
  results: T[];
  total: number;
}

/** Kestra's FlowGraph, as `GET /flows/{ns}/{id}/graph` serves it. */
export interface FlowGraph {
  nodes: GraphNode[];
  edges: { source: string; target: string; relation?: { relationType?: string; value?: string } }[];
  clusters: { cluster: GraphNode; nodes: string[]; parents?: string[]; start?: string; end?: string }[];
}

export interface GraphNode {
  uid: string;
  type: string;
  task?: { id: string; type: string };
  trigger?: { id: string; type: string };
  /** A trigger node's declaration (Sluice's graph, as Kestra's GraphTrigger). */
  triggerDeclaration?: { id: string; type: string; [key: string]: unknown };
  /** `ERROR` for the nodes of an `errors` branch. */
  branchType?: string;
  /** A cluster's flowable task node. */
  taskNode?: GraphNode;
  relationType?: string;
  [key: string]: unknown;
}

/** `GET /plugins`. */
export interface PluginDescription {
  type: string;
  aliases: string[];
  title: string;
  description?: string;
  kind?: string;
  schema: { type: 'object'; properties: Record<string, JsonSchema>; required: string[] };
}

export interface JsonSchema {
  type?: string | string[];
  description?: string;
  title?: string;
  enum?: unknown[];
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  [key: string]: unknown;
}

export interface PluginListing {
  tasks: PluginDescription[];
  runners: PluginDescription[];
  triggers: PluginDescription[];
}

/** `POST /flows/validate`: one entry per YAML document. */
export interface ValidationResult {
  index: number;
  flow?: string;
  namespace?: string;
  constraints?: string;
  problems: { code: string; message: string; path: string; line: number; column: number }[];
  warnings?: string[];
}
