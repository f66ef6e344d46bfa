/**
 * Errors as data: every error Sluice reports has a stable code, a message template and the HTTP status an API
 * answers with. Nothing else in the code base formats an error message by hand, so the API's error handler needs
 * no special cases and `docs/errors.md` (generated from this table, checked by a test) is always complete.
 *
 * Compatibility: codes are part of the public API (they appear in HTTP bodies and `--format json` output).
 * Never rename or reuse a code; add a new one instead.
 */

export interface ErrorSpec {
  /** HTTP status an API responds with when this error reaches a client. */
  readonly status: number;
  /** Message template; `{name}` is replaced by the parameter `name`. */
  readonly message: string;
  /** One line for docs/errors.md: when this happens and what to do. */
  readonly description: string;
}

export const errorTable = {
  // Flow documents
  SLU_FLOW_YAML_SYNTAX: {
    status: 400,
    message: 'invalid YAML: {reason}',
    description: 'The document is not well-formed YAML (bad indentation, unclosed quote, duplicate key, tab indent...).',
  },
  SLU_FLOW_YAML_ALIAS_LIMIT: {
    status: 400,
    message: 'YAML aliases expand to too many nodes (more than {max}): refusing to expand',
    description: 'Anchors and aliases nest so deeply that expanding them would explode ("billion laughs").',
  },
  SLU_FLOW_EMPTY: {
    status: 400,
    message: 'the document is empty: a flow needs at least id, namespace and tasks',
    description: 'An empty document (or one holding only comments) was given where a flow was expected.',
  },
  SLU_FLOW_NOT_AN_OBJECT: {
    status: 400,
    message: 'must be a mapping of properties, got {actual}',
    description: 'The document or a task is a list or a scalar where a YAML mapping is expected.',
  },
  SLU_FLOW_REQUIRED_PROPERTY: {
    status: 400,
    message: 'missing required property "{property}"',
    description: 'A property the flow, task or runner needs is absent.',
  },
  SLU_FLOW_UNKNOWN_PROPERTY: {
    status: 400,
    message: 'unknown property "{property}"{suggestion}',
    description: 'A property is not part of the flow, task or runner schema; the closest known names are suggested.',
  },
  SLU_FLOW_INVALID_TYPE: {
    status: 400,
    message: 'must be {expected}, got {actual}',
    description: 'A value has the wrong type (a string where a list is expected, and so on).',
  },
  SLU_FLOW_INVALID_ENUM: {
    status: 400,
    message: 'must be one of {allowed}, got {actual}',
    description: 'A value is not one of the allowed constants.',
  },
  SLU_FLOW_INVALID_VALUE: {
    status: 400,
    message: '{reason}',
    description: 'A value breaks a schema constraint (pattern, length, range, item count, ...); the message says which.',
  },
  SLU_FLOW_INVALID_CHARACTER: {
    status: 400,
    message: 'contains {character}: a flow cannot hold NUL characters or lone surrogates',
    description:
      'A string or key of the flow, or its YAML text (comments included), contains a NUL character (U+0000: a raw 0x00 byte, `"\\0"`, `"\\x00"`, `"\\u0000"`) or a lone UTF-16 surrogate (`"\\uD800"`), which cannot be stored; the problem gives its path, line and column.',
  },
  SLU_FLOW_INVALID_ID: {
    status: 400,
    message: 'invalid id {actual}: must match {pattern} and be 1 to {max} characters',
    description: 'A flow, task or input id does not follow Kestra\'s id pattern.',
  },
  SLU_FLOW_INVALID_NAMESPACE: {
    status: 400,
    message: 'invalid namespace {actual}: must match {pattern} (lower case) and be 1 to {max} characters',
    description: 'A namespace does not follow Kestra\'s namespace pattern.',
  },
  SLU_FLOW_DUPLICATE_TASK_ID: {
    status: 400,
    message: 'duplicate task id "{id}": already used at {firstPath} (line {firstLine})',
    description: 'Two tasks anywhere in the flow (including errors and nested tasks) share an id.',
  },
  SLU_FLOW_DUPLICATE_ID: {
    status: 400,
    message: 'duplicate {kind} id "{id}": already used at {firstPath} (line {firstLine})',
    description: 'Two inputs or two triggers share an id.',
  },
  SLU_FLOW_INVALID_CRON: {
    status: 400,
    message: 'invalid cron expression "{cron}": {reason}',
    description: 'A Schedule trigger\'s cron is not a valid 5-field (or 6-field with seconds) cron or @nickname.',
  },
  SLU_FLOW_INVALID_TIMEZONE: {
    status: 400,
    message: 'unknown time zone "{timezone}"',
    description: 'A Schedule trigger names a time zone that is not in the IANA database.',
  },
  SLU_FLOW_INVALID_DURATION: {
    status: 400,
    message: 'invalid duration "{value}": {reason}',
    description: 'A duration is not ISO-8601 (PT30S, PT1H30M, P1D).',
  },
  SLU_FLOW_INVALID_EXPRESSION: {
    status: 400,
    message: 'invalid expression: {reason}',
    description: 'A {{ ... }} or {% ... %} expression in a property does not parse.',
  },
  SLU_FLOW_UNKNOWN_TASK_TYPE: {
    status: 400,
    message: 'unknown task type "{type}"{suggestion}',
    description: 'No registered task has this type or alias; the closest known types are suggested.',
  },
  SLU_FLOW_UNKNOWN_RUNNER_TYPE: {
    status: 400,
    message: 'unknown task runner type "{type}"{suggestion}',
    description: 'No registered runner has this taskRunner type or alias.',
  },
  SLU_FLOW_TASK_NOT_ALLOWED: {
    status: 400,
    message: '{reason}',
    description: 'A task is used where it cannot run (a flowable task inside WorkingDirectory, for instance).',
  },
  SLU_FLOW_WORKER_GROUP_IN_CHILD: {
    status: 400,
    message: 'workerGroup cannot be set on a task inside {parentType}: set it on the parent task "{parentId}"',
    description: 'A WorkingDirectory and its children run as one job on one worker; only the parent may pick the group.',
  },
  SLU_FLOW_TOO_LARGE: {
    status: 413,
    message: 'the flow is too large: {reason}',
    description: 'The flow exceeds a size limit (bytes, tasks or nesting depth).',
  },
  SLU_FLOW_UNSUPPORTED_PROPERTY: {
    status: 400,
    message: '{property} is not supported by Sluice yet: {reason}',
    description:
      'The flow sets a property Kestra has but Sluice does not implement yet (`WorkingDirectory.cache`); it is refused rather than silently ignored. Remove it.',
  },
  SLU_FLOW_DEPRECATED: {
    status: 400,
    message: '{what} is deprecated: {instead}',
    description:
      'A warning, not an error: the flow uses a deprecated form that Sluice still accepts (an input\'s legacy `name` key instead of `id`). Validation results list it under `warnings`; the flow is valid.',
  },

  // Expressions
  SLU_EXPR_SYNTAX: {
    status: 400,
    message: 'expression syntax error: {reason} (at offset {offset})',
    description: 'A template does not parse: unclosed {{, unknown operator, unbalanced {% if %}, and so on.',
  },
  SLU_EXPR_UNDEFINED_VARIABLE: {
    status: 400,
    message: 'undefined variable: {name}',
    description: 'A template names a variable or property that does not exist. Use `| default(...)` or `??` for optional values.',
  },
  SLU_EXPR_UNDEFINED_FUNCTION: {
    status: 400,
    message: 'unknown function: {name}',
    description: 'A template calls a function that is not available here.',
  },
  SLU_EXPR_UNDEFINED_FILTER: {
    status: 400,
    message: 'unknown filter: {name}',
    description: 'A template uses a filter that is not available here.',
  },
  SLU_EXPR_FORBIDDEN: {
    status: 400,
    message: 'forbidden access to "{name}" in an expression',
    description: 'A template tried to reach a prototype, constructor or other non-data property. Templates see data only.',
  },
  SLU_EXPR_LIMIT: {
    status: 400,
    message: 'expression exceeded its {limit} limit of {max}',
    description: 'A template did too much work (steps, loop iterations, output size or nesting depth) and was stopped.',
  },
  SLU_EXPR_TYPE: {
    status: 400,
    message: '{reason}',
    description: 'An operator, filter or function got a value of the wrong type.',
  },
  SLU_EXPR_FUNCTION_FAILED: {
    status: 400,
    message: 'function {name}() failed: {reason}',
    description: 'A function such as secret() or read() failed (a missing secret, an unreadable file).',
  },

  // Plugins
  SLU_PLUGIN_UNKNOWN_TYPE: {
    status: 400,
    message: 'unknown {kind} type "{type}"{suggestion}',
    description: 'No registered plugin has this type or alias.',
  },
  SLU_PLUGIN_DUPLICATE_TYPE: {
    status: 500,
    message: '{kind} type "{type}" is already registered (by "{existing}")',
    description: 'Two plugins claim the same type or alias (compared case-insensitively). A packaging bug.',
  },
  SLU_PLUGIN_INVALID_DEFINITION: {
    status: 500,
    message: 'invalid {kind} definition "{type}": {reason}',
    description: 'A plugin definition is malformed (empty type, schema that does not compile, ...). A packaging bug.',
  },

  // Execution inputs
  SLU_INPUT_INVALID: {
    status: 400,
    message: 'invalid inputs: {summary}',
    description: 'Inputs given to a new execution do not match the flow\'s `inputs` (missing, unknown, wrong type, not an allowed value); `details.problems` lists each input with its problem.',
  },

  // Internal storage
  SLU_STORAGE_INVALID_URI: {
    status: 400,
    message: 'invalid storage URI "{uri}": {reason}',
    description: 'A storage URI or file name is not a confined kestra:/// path (`..`, an absolute path, a NUL byte, a wrong scheme).',
  },
  SLU_STORAGE_NOT_FOUND: {
    status: 404,
    message: 'no file at {uri}',
    description: 'Nothing is stored at this internal-storage URI.',
  },
  SLU_STORAGE_REMOTE_FAILED: {
    status: 502,
    message: 'the internal storage at {url} failed: {reason}',
    description: 'A worker\'s storage client (`HttpStorage`) could not reach the API (`SLUICE_API_URL`) or got an unexpected answer.',
  },

  // Runners
  SLU_RUNNER_ENGINE_UNAVAILABLE: {
    status: 503,
    message: 'cannot reach the Docker engine at {host}: {reason}. Start Docker, mount its socket, or set `runner: PROCESS` (or `taskRunner: {type: io.kestra.plugin.core.runner.Process}`) to run without containers',
    description: 'The DOCKER runner cannot talk to a Docker engine.',
  },
  SLU_RUNNER_IMAGE_PULL_FAILED: {
    status: 502,
    message: 'cannot pull image {image}: {reason}',
    description: 'The image does not exist, the registry is unreachable, or the pull policy is NEVER and the image is absent.',
  },
  SLU_RUNNER_REGISTRY_AUTH_FAILED: {
    status: 401,
    message: 'registry {registry} refused the credentials for image {image}: {reason}',
    description: 'The registry rejected the username/password or token from `docker.config` / `credentials`.',
  },
  SLU_RUNNER_START_FAILED: {
    status: 500,
    message: 'cannot start the command: {reason}',
    description: 'The runner could not start the process or container (missing interpreter, bad working directory, ...).',
  },

  // Tasks
  SLU_TASK_FAILED: {
    status: 500,
    message: 'task {taskId} failed: {reason}',
    description: 'A task ended in error (a non-zero exit code, an exception). `details` carries the exit code and the end of stderr.',
  },
  SLU_TASK_TIMEOUT: {
    status: 500,
    message: 'task {taskId} exceeded its timeout of {timeout} and was killed',
    description: 'A task ran longer than its `timeout`; its process group or container was killed.',
  },
  SLU_TASK_NO_WORKER: {
    status: 500,
    message: 'no live worker in worker group "{group}" (fallback {fallback}): start one with "sluice server worker --worker-group {group}"',
    description:
      'A task asked for a worker group (`workerGroup.key`) that no running worker serves, and its `workerGroup.fallback` is FAIL or CANCEL (WAIT, the default, leaves it queued until a worker of the group starts).',
  },
  SLU_TASK_WORKER_LOST: {
    status: 500,
    message: 'worker {workerId} stopped sending heartbeats while running task {taskId}: the task run is failed (its retry policy applies)',
    description:
      'The worker running a task disappeared (no heartbeat for a while) and no other worker took the task over. The scheduler fails the task run so the execution does not hang; a `retry` policy retries it.',
  },
  SLU_TASK_KILLED: {
    status: 500,
    message: 'task {taskId} was killed{reason}',
    description: 'The execution was killed while the task ran; its process group or container was stopped.',
  },
  SLU_TASK_INVALID_PATH: {
    status: 400,
    message: 'path "{path}" escapes the working directory',
    description: 'A file name or directory in a task (inputFiles, outputFiles, Clone directory) points outside the working directory.',
  },
  SLU_TASK_GIT_FAILED: {
    status: 502,
    message: 'git clone of {url} failed: {reason}',
    description: 'A Clone task failed: repository or branch not found, bad credentials, host unreachable.',
  },

  // REST API
  SLU_API_BAD_REQUEST: {
    status: 400,
    message: '{reason}',
    description: 'The request is malformed: a bad parameter, a body that is not UTF-8 text, a repeated flow in a deploy.',
  },
  SLU_API_INVALID_CHARACTER: {
    status: 400,
    message: '{field} contains {character}: NUL characters and lone surrogates are not accepted',
    description:
      'An execution input, a label, a path segment (an id, a namespace) or a query parameter contains a NUL character (U+0000, `%00`) or a lone UTF-16 surrogate (`\\uD800`), which cannot be stored; `details.field` names it (`inputs.name`, `labels.team`, `path.executionId`, `query.namespace`). Without `details.field`, the database refused a value of the request.',
  },
  SLU_API_UNAUTHORIZED: {
    status: 401,
    message: 'missing or invalid credentials: send {expected}',
    description: 'Auth is on (`SLUICE_API_TOKEN` and/or `SLUICE_API_BASIC_AUTH`) and the request did not carry a valid credential; on `/api/v1/internal/...` only the worker token (`SLUICE_WORKER_TOKEN`) is accepted.',
  },
  SLU_API_ROUTE_NOT_FOUND: {
    status: 404,
    message: 'no route {method} {url}',
    description: 'No endpoint at this method and path.',
  },
  SLU_API_TENANT_NOT_FOUND: {
    status: 404,
    message: 'tenant "{tenant}" not found: this server serves tenant "{expected}" (/api/v1/{expected}/...) and the same routes without a tenant (/api/v1/...)',
    description:
      'A Kestra 1.x path `/api/v1/{tenant}/...` named a tenant this server does not serve. Sluice serves one tenant, `main` (as an open-source Kestra does) unless `SLUICE_TENANT` sets another, and every route without a tenant too.',
  },
  SLU_API_FLOW_NOT_FOUND: {
    status: 404,
    message: 'flow {namespace}.{id} not found{revision}',
    description: 'No flow (or no such revision) with this namespace and id; deleted flows count as absent.',
  },
  SLU_API_FLOW_EXISTS: {
    status: 409,
    message: 'flow id already exists: {namespace}.{id} (update it with PUT /api/v1/flows/{namespace}/{id})',
    description: '`POST /flows` of a flow that exists: use `PUT` to add a revision.',
  },
  SLU_API_FLOW_MISMATCH: {
    status: 400,
    message: 'the flow\'s {property} "{actual}" does not match "{expected}" from the URL',
    description: 'The id or namespace in the YAML differs from the one in the path.',
  },
  SLU_API_EXECUTION_NOT_FOUND: {
    status: 404,
    message: 'execution {id} not found',
    description: 'No execution has this id.',
  },
  SLU_API_EXECUTION_ENDED: {
    status: 409,
    message: 'execution {id} has already ended (state {state}): it cannot be killed',
    description: '`DELETE /executions/{id}/kill` of an execution in a terminal state (SUCCESS, WARNING, FAILED, KILLED, CANCELLED...).',
  },
  SLU_API_EXECUTION_NOT_RESTARTABLE: {
    status: 409,
    message: 'execution {id} is {state}: only a FAILED execution can be restarted',
    description: '`POST /executions/{id}/restart` of an execution that is not FAILED.',
  },
  SLU_API_EXECUTION_NOT_ENDED: {
    status: 409,
    message: 'execution {id} is {state}: only an execution that has ended can be replayed',
    description: '`POST /executions/{id}/replay` of an execution that has not ended yet (CREATED, QUEUED, RUNNING, PAUSED, RESTARTED, KILLING...): kill it or wait for its end.',
  },
  SLU_API_TASK_RUN_NOT_FOUND: {
    status: 404,
    message: 'execution {id} has no task run {taskRunId}',
    description: '`POST /executions/{id}/replay?taskRunId=` naming a task run that is not one of this execution\'s.',
  },
  SLU_API_EXECUTION_NOT_PAUSED: {
    status: 409,
    message: 'execution {id} is {state}: only a PAUSED execution can be resumed',
    description: '`POST /executions/{id}/resume` (or `.../resume/validate`) of an execution that is not PAUSED (already resumed, still running, ended...).',
  },
  SLU_API_WEBHOOK_NOT_FOUND: {
    status: 404,
    message: 'webhook not found: flow {namespace}.{flowId} has no Webhook trigger with this key',
    description: 'A call to `/executions/webhook/{namespace}/{flowId}/{key}` whose key matches none of the flow\'s Webhook triggers (the key is compared in constant time and never echoed).',
  },
  SLU_API_FLOW_DISABLED: {
    status: 409,
    message: 'flow {namespace}.{flowId} is disabled: its webhook starts no execution',
    description: 'A webhook call for a flow whose YAML says `disabled: true`. Enable the flow to use its webhook.',
  },
  SLU_API_TRIGGER_DISABLED: {
    status: 409,
    message: 'trigger {triggerId} of flow {namespace}.{flowId} is disabled ({where})',
    description:
      'A webhook call for a Webhook trigger that is disabled, in the flow\'s YAML (`disabled: true`) or over the API (`sluice trigger disable`, `PUT /triggers`). Enable it to use it.',
  },
  SLU_API_TRIGGER_NOT_FOUND: {
    status: 404,
    message: 'flow {namespace}.{flowId} has no trigger {triggerId}',
    description: 'The trigger named is not declared by the latest revision of the flow (or the flow does not exist).',
  },
  SLU_API_RATE_LIMITED: {
    status: 429,
    message: 'too many calls to the webhook of {namespace}.{flowId}: at most {limit} per {period}; retry in {retryAfter} s',
    description: 'A webhook was called more often than `SLUICE_WEBHOOK_RATE_LIMIT` allows (counted per flow and key, per API process). The answer carries `Retry-After` (seconds).',
  },
  SLU_API_BODY_TOO_LARGE: {
    status: 413,
    message: 'request body is larger than {limit} bytes',
    description: 'The body exceeds the server\'s limit (`SLUICE_API_BODY_LIMIT`).',
  },
  SLU_API_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'unsupported content type {contentType}: send {expected}',
    description: 'The body has the wrong content type (JSON where YAML is expected, ...).',
  },
  SLU_API_INTERNAL: {
    status: 500,
    message: 'internal error (request {requestId}): see the server log',
    description: 'An unexpected error; its details are in the server log under this request id, never in the response.',
  },

  // KV store
  SLU_KV_INVALID_KEY: {
    status: 400,
    message: 'invalid KV key {key}: {reason}',
    description: 'A KV key does not follow Kestra\'s format `[a-zA-Z0-9][a-zA-Z0-9._-]*` (at most 255 characters).',
  },
  SLU_KV_INVALID_VALUE: {
    status: 422,
    message: 'invalid KV value: {reason}',
    description:
      'A KV value cannot be read or stored: a `PUT` body that is not a value (quote texts: `"hello world"`), null, or a `kv.Set` value that does not convert to its `kvType`. HTTP 422, as Kestra.',
  },
  SLU_KV_INVALID_TTL: {
    status: 400,
    message: 'invalid KV ttl "{ttl}": {reason}',
    description: 'The `ttl` header of a KV `PUT` (or the `ttl` of a `kv.Set` task) is not a positive ISO-8601 duration (`PT5M`, `P1D`).',
  },
  SLU_KV_VALUE_TOO_LARGE: {
    status: 413,
    message: 'the value of KV key {key} is {size} bytes: a KV value is at most {max} bytes (1 MiB)',
    description: 'A KV value is larger than 1 MiB (counted as the UTF-8 bytes of its JSON form). Store large data as a file and keep its URI in the KV store.',
  },
  SLU_KV_NOT_FOUND: {
    status: 404,
    message: 'no KV key {key} in namespace {namespace}',
    description: 'The namespace has no such key (`kv()` with `errorOnMissing=true`, `kv.Get`/`kv.Delete` with `errorOnMissing: true`, `GET .../kv/{key}`).',
  },
  SLU_KV_EXPIRED: {
    status: 410,
    message: 'the value of KV key {key} in namespace {namespace} has expired',
    description: 'The key had a TTL that has passed. Reading it deletes it; `kv()` fails on it whatever `errorOnMissing` says, as Kestra.',
  },
  SLU_KV_KEY_EXISTS: {
    status: 409,
    message: 'KV key {key} already exists in namespace {namespace} and overwrite is false',
    description: 'A `kv.Set` task with `overwrite: false` found the key already set (and not expired).',
  },
  SLU_KV_UNAVAILABLE: {
    status: 500,
    message: '{what} needs the KV store, which this runtime does not give to tasks: it runs on the workers of a Sluice server or in "sluice run"',
    description: 'A `kv()` call or a `kv.*`/`state.*` task ran where no KV store is available (an embedding of the task runtime without one).',
  },

  // Database
  SLU_DB_UNAVAILABLE: {
    status: 503,
    message: 'cannot reach the database: {reason}',
    description: 'Postgres is down, restarting or unreachable, or `DATABASE_URL` is wrong. The API answers 503 with `Retry-After: 5` (seconds): retry then.',
  },
  SLU_DB_MIGRATION_FAILED: {
    status: 500,
    message: 'migration {migration} {reason}',
    description: 'A migration failed, or an applied migration was changed after it ran (checksum mismatch): the server refuses to start.',
  },

  // Queue
  SLU_QUEUE_UNAVAILABLE: {
    status: 503,
    message: 'cannot reach the queue: {reason}',
    description:
      'Redis is down, restarting or unreachable, or `REDIS_URL` is wrong, and the request needed it. The API answers 503 with `Retry-After: 5` (seconds): retry then. Creating, restarting and killing executions do not need it: they are stored and answered as usual, and the scheduler sends them on once Redis is back.',
  },

  // Command line
  SLU_CLI_USAGE: {
    status: 400,
    message: '{reason}',
    description: 'The command line is wrong (unknown command, missing argument, bad option). Run `sluice --help`.',
  },
  SLU_CLI_FILE_NOT_FOUND: {
    status: 404,
    message: 'no such file or directory: {path}',
    description: 'A path given to the CLI does not exist.',
  },
  SLU_CLI_NO_FLOWS: {
    status: 400,
    message: 'no flow files (*.yml, *.yaml) found in {path}',
    description: 'A directory given to `sluice flow validate` holds no YAML files.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorTable;

export type ErrorParams = Record<string, string | number | boolean | undefined>;

/** Replace `{name}` placeholders; an unknown placeholder stays visible rather than becoming empty. */
export function formatErrorMessage(code: ErrorCode, params: ErrorParams = {}): string {
  return errorTable[code].message.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

/**
 * The one error class. `details` carries structured data for clients (a flow error's path, line and column;
 * the list of problems of a validation).
 */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly params: ErrorParams;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, params: ErrorParams = {}, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(formatErrorMessage(code, params), options);
    this.name = 'SluiceError';
    this.code = code;
    this.status = errorTable[code].status;
    this.params = params;
    this.details = details;
  }

  /** The JSON body an API returns: `{code, message, details}`. */
  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isSluiceError(value: unknown): value is SluiceError {
  return value instanceof SluiceError;
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errorTable, code);
}

/**
 * The error an API answer's body stands for (`{code, message, details}`, as {@link SluiceError.toJSON} writes it, its
 * parameters in `details.params` when it sends them), or undefined when the body is not one with a known code. Where
 * the parameters the message needs were not sent (an auth error, ...), the API's own message is kept.
 */
export function sluiceErrorFromBody(text: string): SluiceError | undefined {
  let parsed: { code?: unknown; message?: unknown; details?: Record<string, unknown> } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return undefined;
  }
  if (!parsed || !isErrorCode(parsed.code)) return undefined;
  const { params, ...details } = parsed.details ?? {};
  const error = new SluiceError(parsed.code, (typeof params === 'object' && params !== null ? params : {}) as ErrorParams, details);
  if (typeof parsed.message === 'string' && /\{\w+\}/.test(error.message)) error.message = parsed.message;
  return error;
}

/** Markdown for docs/errors.md, generated from the table (a test keeps the file in sync). */
export function renderErrorsMarkdown(): string {
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from packages/core/src/errors.ts by `npm run docs:errors`. Do not edit by hand. -->',
    '',
    'Every error Sluice reports carries one of these codes. API responses are JSON `{code, message, details}` with the',
    'HTTP status below; the CLI prints the message and exits non-zero. Flow errors add `path`, `line` and `column` to',
    '`details`.',
    '',
    '| code | HTTP | message | when |',
    '|---|---|---|---|',
  ];
  for (const [code, spec] of Object.entries(errorTable) as [ErrorCode, ErrorSpec][]) {
    const escape = (s: string): string => s.replace(/\|/g, '\\|');
    lines.push(`| \`${code}\` | ${spec.status} | ${escape('`' + spec.message + '`')} | ${escape(spec.description)} |`);
  }
  return lines.join('\n') + '\n';
}
