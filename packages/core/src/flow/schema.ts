/**
 * JSON Schemas of the flow document and of the properties every task and trigger shares. Plugin schemas are
 * assembled on top of these by `createFlowValidator`. Task lists are typed here only as lists of objects: each task
 * is checked against the schema of its own type, looked up in the registry (case-insensitive, with aliases).
 */
import {
  CONCURRENCY_BEHAVIORS,
  FLOW_ID_MAX,
  FLOW_ID_PATTERN,
  INPUT_ID_MAX,
  INPUT_ID_PATTERN,
  INPUT_TYPES,
  LOG_LEVELS,
  NAMESPACE_MAX,
  NAMESPACE_PATTERN,
  RETRY_BEHAVIORS,
  RETRY_TYPES,
  TASK_ID_MAX,
  TASK_ID_PATTERN,
  WORKER_GROUP_FALLBACKS,
} from './model.js';
import type { JsonSchema } from './plugin-schemas.js';

export const durationSchema = { type: 'string', format: 'duration' } as const;

const stringList = { type: 'array', items: { type: 'string' } } as const;

// Items are not typed here: each task is checked (object, type, own schema) by the validator's task walk.
export const taskListSchema = { type: 'array', minItems: 1 } as const;
const optionalTaskListSchema = { type: 'array' } as const;

const retryProperties = {
  type: { enum: [...RETRY_TYPES] },
  maxAttempt: { type: 'integer', minimum: 1 },
  maxAttempts: { type: 'integer', minimum: 1 },
  maxDuration: durationSchema,
  interval: durationSchema,
  maxInterval: durationSchema,
  minInterval: durationSchema,
  delayFactor: { type: 'number', exclusiveMinimum: 0 },
  warningOnRetry: { type: 'boolean' },
  behavior: { enum: [...RETRY_BEHAVIORS] },
} as const;

export const retrySchema: JsonSchema = {
  type: 'object',
  required: ['type'],
  properties: retryProperties,
  additionalProperties: false,
  allOf: [
    { if: { required: ['type'], properties: { type: { const: 'constant' } } }, then: { required: ['interval'] } },
    { if: { required: ['type'], properties: { type: { const: 'exponential' } } }, then: { required: ['interval', 'maxInterval'] } },
    { if: { required: ['type'], properties: { type: { const: 'random' } } }, then: { required: ['minInterval', 'maxInterval'] } },
  ],
};

export const workerGroupSchema: JsonSchema = {
  type: 'object',
  required: ['key'],
  properties: {
    key: { type: 'string', minLength: 1 },
    fallback: { enum: [...WORKER_GROUP_FALLBACKS] },
  },
  additionalProperties: false,
};

/** Properties every task accepts (Kestra's Task.java). */
export const commonTaskProperties: Readonly<Record<string, JsonSchema>> = {
  id: { type: 'string', pattern: TASK_ID_PATTERN, maxLength: TASK_ID_MAX },
  type: { type: 'string', minLength: 1 },
  description: { type: 'string' },
  retry: retrySchema,
  timeout: durationSchema,
  disabled: { type: 'boolean' },
  allowFailure: { type: 'boolean' },
  allowWarning: { type: 'boolean' },
  workerGroup: workerGroupSchema,
  logLevel: { enum: [...LOG_LEVELS] },
  logToFile: { type: 'boolean' },
  runIf: { type: ['string', 'boolean'] },
};

/** Properties every trigger accepts. */
export const commonTriggerProperties: Readonly<Record<string, JsonSchema>> = {
  id: { type: 'string', pattern: TASK_ID_PATTERN, maxLength: TASK_ID_MAX },
  type: { type: 'string', minLength: 1 },
  description: { type: 'string' },
  disabled: { type: 'boolean' },
  workerGroup: workerGroupSchema,
  logLevel: { enum: [...LOG_LEVELS] },
  stopAfter: stringList,
};

const labelValue = { type: ['string', 'number', 'boolean'] } as const;

/**
 * One input declaration: the flow's `inputs` and Pause's `onResume`. `id` is required, but Kestra's legacy key `name`
 * may stand in for it: the validator checks that one of them is there, warns about `name` and normalises it to `id`.
 */
export const inputSchema: JsonSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    id: { type: 'string', pattern: INPUT_ID_PATTERN, maxLength: INPUT_ID_MAX },
    name: { type: 'string', pattern: INPUT_ID_PATTERN, maxLength: INPUT_ID_MAX },
    type: { enum: [...INPUT_TYPES] },
    description: { type: 'string' },
    displayName: { type: 'string', maxLength: 64 },
    required: { type: 'boolean' },
    defaults: {},
    dependsOn: { type: 'object' },
    values: { type: ['array', 'string'] },
    allowCustomValue: { type: 'boolean' },
    isRadio: { type: 'boolean' },
    itemType: { enum: [...INPUT_TYPES] },
    min: { type: ['number', 'string'] },
    max: { type: ['number', 'string'] },
    minLength: { type: 'integer', minimum: 0 },
    maxLength: { type: 'integer', minimum: 0 },
    validator: { type: 'string' },
    after: { type: 'string' },
    before: { type: 'string' },
    extension: { type: 'string' },
    expression: { type: 'string' },
    prefill: {},
    autoSelectFirst: { type: 'boolean' },
  },
  additionalProperties: false,
};

const pluginDefaultsSchema: JsonSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['type', 'values'],
    properties: {
      type: { type: 'string', minLength: 1 },
      forced: { type: 'boolean' },
      values: { type: 'object' },
    },
    additionalProperties: false,
  },
};

/** The flow document itself (Kestra's Flow.java). */
export const flowSchema: JsonSchema = {
  type: 'object',
  required: ['id', 'namespace', 'tasks'],
  properties: {
    id: { type: 'string', pattern: FLOW_ID_PATTERN, maxLength: FLOW_ID_MAX },
    namespace: { type: 'string', pattern: NAMESPACE_PATTERN, maxLength: NAMESPACE_MAX },
    revision: { type: 'integer', minimum: 1 },
    description: { type: 'string' },
    labels: {
      type: ['object', 'array'],
      additionalProperties: labelValue,
      items: {
        type: 'object',
        required: ['key', 'value'],
        properties: { key: { type: 'string', minLength: 1 }, value: labelValue },
        additionalProperties: false,
      },
    },
    inputs: { type: 'array', items: inputSchema },
    variables: { type: 'object' },
    tasks: taskListSchema,
    errors: optionalTaskListSchema,
    finally: optionalTaskListSchema,
    afterExecution: optionalTaskListSchema,
    triggers: { type: 'array' },
    retry: retrySchema,
    concurrency: {
      type: 'object',
      required: ['limit'],
      properties: { limit: { type: 'integer', minimum: 1 }, behavior: { enum: [...CONCURRENCY_BEHAVIORS] } },
      additionalProperties: false,
    },
    disabled: { type: 'boolean' },
    deleted: { type: 'boolean' },
    pluginDefaults: pluginDefaultsSchema,
    taskDefaults: pluginDefaultsSchema,
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'value'],
        properties: {
          id: { type: 'string', pattern: INPUT_ID_PATTERN },
          type: { enum: [...INPUT_TYPES] },
          value: {},
          description: { type: 'string' },
          displayName: { type: 'string' },
          required: { type: 'boolean' },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
};

/** Top-level properties that hold task lists (each task validated by its own type). */
export const flowTaskLists = ['tasks', 'errors', 'finally', 'afterExecution'] as const;
