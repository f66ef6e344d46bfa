/**
 * Execution endpoints, with Kestra's paths and JSON shapes (KESTRA.md A6, A7), under `/api/v1`:
 *
 * | route | success | errors |
 * |---|---|---|
 * | `POST /executions/{namespace}/{id}?labels=k:v&revision&scheduleDate&wait` (multipart/form-data or no body) | 200 execution (CREATED) | 400 inputs (`SLU_INPUT_INVALID`, every problem listed), bad label, bad `scheduleDate`, disabled flow, a malformed body; 404 flow; 413 file larger than the upload limit; 415 |
 * | `GET /executions/search?namespace&flowId&state&labels&startDate&endDate&page&size&sort` and Kestra 1.x's `filters[field][OP]=value` (search-query.ts) | 200 `{results, total}` | 400, also for an unknown parameter, filter field or operation |
 * | `GET /executions/{id}` | 200 execution | 404 |
 * | `GET /executions?namespace&flowId&page&size` (Kestra's executions of one flow: this namespace only) | 200 `{results, total}` | 400 a missing or unknown parameter |
 * | `DELETE /executions/{id}/kill`, `DELETE /executions/{id}/actions/kill` | 202 execution (KILLING) | 404; 409 already ended |
 * | `POST /executions/{id}/restart`, `POST /executions/{id}/actions/restart` | 200 execution (RESTARTED; the `errors` branch runs removed, to start over) | 404; 409 not FAILED |
 * | `POST /executions/{id}/replay?taskRunId&revision` | 200 the NEW execution (`originalId` = the first of the original's chain: the original unless it was itself a replay or retry); CREATED from the start, RESTARTED with the runs before `taskRunId` copied | 400 a bad or unknown parameter; 404 execution (`SLU_API_EXECUTION_NOT_FOUND`), task run not of this execution (`SLU_API_TASK_RUN_NOT_FOUND`), revision (`SLU_API_FLOW_NOT_FOUND`); 409 not ended (`SLU_API_EXECUTION_NOT_ENDED`) |
 * | `DELETE /executions/kill/by-ids`, `POST /executions/restart/by-ids`, `POST /executions/replay/by-ids` (JSON list of ids) | 200 `{count}` (Kestra's BulkResponse) | 400 an id unknown or in a state that refuses it (none acted on, `details.invalids`) |
 * | `DELETE /executions/kill/by-query`, `POST /executions/restart/by-query`, `POST /executions/replay/by-query` (the search's filters, 0.x and `filters[...]`, without paging) | the same as by-ids, for every execution matched | the same; 400 more than {@link BULK_MAX} matched, or an unknown parameter |
 * | `POST /executions/{id}/resume` (multipart/form-data, application/json object or no body: the `onResume` inputs) | 204 (the first PAUSED task run resumed; RESTARTED unless another run is PAUSED) | 400 inputs (`SLU_INPUT_INVALID`); 404; 409 not PAUSED |
 * | `POST /executions/{id}/resume/validate` (the same body) | 200 `{executionId, taskRunId, taskId, inputs}` (nothing stored) | the same as the resume |
 * | `POST /executions/resume/by-ids` (JSON list of ids) | 200 `{count}` | 400 an id unknown, not PAUSED or needing inputs (none resumed, `details.invalids`) |
 * | `GET /executions/{id}/file?path=kestra:///...` | 200 the bytes, streamed | 400 bad URI or outside the execution's folder; 404 |
 * | `GET /executions/{id}/file/metas?path=kestra:///...` | 200 `{size}` (Kestra's FileMetas) | the same as the download |
 *
 * Creating an execution: form fields are inputs (a repeated field is a list, for MULTISELECT and ARRAY), file parts
 * are FILE inputs, streamed into the internal storage at `.../executions/{id}/inputs/{input}/{filename}` as they
 * arrive (never held in memory). The inputs are typed (`resolveInputs`), the execution is stored CREATED, then handed
 * to the scheduler through the {@link ExecutionQueue}. A request that fails leaves nothing behind: files already
 * stored are deleted. `?wait=true` answers once the execution has ended (on the scheduler's live update, or polling).
 */
import { finished } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import { executionJson, flowLabels, isSluiceError, mergeLabels, resolveInputs, SluiceError } from '@sluice/core';
import type { Flow, FlowInput, InputProblem } from '@sluice/core';
import type { ExecutionSearch, LabelEntry, StoredExecution, StoredTaskRun } from '@sluice/db';
import { classifyDbError, EXECUTION_SORT_FIELDS, ExecutionRepository, executionFromWire, executionSnapshot, KILLABLE_STATES, newExecutionId, TERMINAL_STATES } from '@sluice/db';
import type { Storage, StorageObject } from '@sluice/storage';
import { executionPrefixUri, formatStorageUri, inputFileUri, parseStorageUri } from '@sluice/storage';
import { replaySelection, structureOf } from '@sluice/engine';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ExecutionQueue, ExecutionStarter, ExecutionWaiter } from '../execution-queue.js';
import { QUEUE_PUBLISH_TIMEOUT_MS, within } from '../queue-handoff.js';
import type { FlowStore } from '../flow-store.js';
import { secretInputMasker } from '../secret-inputs.js';
import { rejectInvalidCharacters, rejectInvalidCharactersDeep } from '../invalid-characters.js';
import { INTEGER_PARAMETER_MAX, pagingQueryProperties, parseDate, rejectUnknownQueryParameters } from './http.js';
import { filtersDescription, parseSearchQuery, rejectUnknownSearchParameters, searchErrors, sortProperty } from './search-query.js';

/** Kestra's states (KESTRA.md A7). */
export const EXECUTION_STATES = [
  'CREATED', 'QUEUED', 'RUNNING', 'PAUSED', 'RESTARTED', 'KILLING', 'SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED',
  'RETRYING', 'RETRIED', 'SKIPPED',
] as const;

/** Default largest FILE input, in bytes. */
export const DEFAULT_UPLOAD_LIMIT = 1024 * 1024 * 1024;

export type ExecutionStore = Pick<ExecutionRepository, 'create' | 'prepare' | 'get' | 'stateOf' | 'search' | 'transition' | 'restart' | 'resume' | 'replay' | 'childOutputsPage'>;

export interface ExecutionRouteOptions {
  readonly flows: FlowStore;
  readonly executions: ExecutionStore;
  readonly storage: Storage;
  readonly queue: ExecutionQueue;
  /** Live updates for `?wait=true`; without it, waiting polls the database. */
  readonly waiter?: ExecutionWaiter;
  /** Takes a new execution's first step here, with its INSERT (see ExecutionStarter); without it, `queue` hands it over. */
  readonly starter?: ExecutionStarter;
  /** How often `?wait=true` re-reads the execution besides live updates (ms). Default 1000. */
  readonly waitPollMs?: number;
  /** Largest FILE input in bytes (each file part). Default {@link DEFAULT_UPLOAD_LIMIT}. */
  readonly uploadLimit?: number;
  /**
   * Where users reach Sluice (`SLUICE_PUBLIC_URL`): a created execution's JSON then carries Kestra's `url`,
   * `{publicUrl}/ui/{tenant}/executions/{namespace}/{flowId}/{id}`. Without it, no `url`.
   */
  readonly publicUrl?: string;
  /** The tenant named in that `url`. Default `main`. */
  readonly tenant?: string;
}

/** Kestra's `url` of an execution: its page in the UI, under the public URL (a trailing `/` dropped). */
export function executionUrl(publicUrl: string, tenant: string, execution: Pick<StoredExecution, 'id' | 'namespace' | 'flowId'>): string {
  return `${publicUrl.replace(/\/+$/, '')}/ui/${tenant}/executions/${execution.namespace}/${execution.flowId}/${execution.id}`;
}

/** An execution as Kestra returns it (the JSON lives in @sluice/core, shared with `sluice run --output json`). */
export { executionJson };

/** `?scheduleDate=`: a date-time (an ISO-8601 instant, with its offset); 400 otherwise. */
function parseScheduleDate(raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const date = new Date(raw);
  if (!/\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(date.getTime())) {
    throw new SluiceError(
      'SLU_API_BAD_REQUEST',
      { reason: `scheduleDate must be a date-time such as 2030-01-01T09:00:00Z, got ${JSON.stringify(raw)}` },
      { in: 'query', parameter: 'scheduleDate' },
    );
  }
  return date;
}

/** `k:v` strings (Kestra's `labels` query parameter) as labels; 400 for one without a colon or with an empty key. */
function parseLabels(raw: readonly string[] | undefined): LabelEntry[] {
  return (raw ?? []).map((text) => {
    const colon = text.indexOf(':');
    const key = colon < 0 ? '' : text.slice(0, colon).trim();
    if (colon < 0 || key === '') {
      throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `label ${JSON.stringify(text)} must be written key:value` }, { in: 'query', parameter: 'labels' });
    }
    return { key, value: text.slice(colon + 1) };
  });
}


function executionNotFound(id: string): SluiceError {
  return new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id }, { id });
}

function executionNotPaused(id: string, state: string): SluiceError {
  return new SluiceError('SLU_API_EXECUTION_NOT_PAUSED', { id, state }, { id, state });
}

function executionEnded(id: string, state: string): SluiceError {
  return new SluiceError('SLU_API_EXECUTION_ENDED', { id, state }, { id, state });
}

function executionNotRestartable(id: string, state: string): SluiceError {
  return new SluiceError('SLU_API_EXECUTION_NOT_RESTARTABLE', { id, state }, { id, state });
}

function executionNotEnded(id: string, state: string): SluiceError {
  return new SluiceError('SLU_API_EXECUTION_NOT_ENDED', { id, state }, { id, state });
}

/** Whether `uri` is one of the execution's values: a FILE input, a flow output, or in a task run's outputs. */
function refersTo(execution: StoredExecution, uri: string): boolean {
  const holds = (value: unknown, depth: number): boolean => {
    if (typeof value === 'string') return value === uri;
    if (depth > 64 || value === null || typeof value !== 'object') return false;
    return Object.values(value as Record<string, unknown>).some((member) => holds(member, depth + 1));
  };
  return holds(execution.inputs, 0) || holds(execution.outputs, 0) || execution.taskRuns.some((run) => holds(run.outputs, 0));
}

/** Why execution `id` (as read, undefined when absent) cannot be replayed, or undefined: only an ended one can. */
function replayRefusal(id: string, execution: StoredExecution | undefined): SluiceError | undefined {
  if (!execution) return executionNotFound(id);
  if (!TERMINAL_STATES.includes(execution.state)) return executionNotEnded(id, execution.state);
  return undefined;
}

/** Kestra's label on a replay (the original is not relabelled: see docs/execution.md, "Replay"). */
export const REPLAY_LABEL = { key: 'system.replay', value: 'true' } as const;

/** Why execution `id` (as read, undefined when absent) cannot be killed, or undefined: one still KILLING can be, again. */
function killRefusal(id: string, execution: StoredExecution | undefined): SluiceError | undefined {
  if (!execution) return executionNotFound(id);
  if (!KILLABLE_STATES.includes(execution.state) && execution.state !== 'KILLING') return executionEnded(id, execution.state);
  return undefined;
}

/** Why execution `id` (as read, undefined when absent) cannot be restarted, or undefined: only a FAILED one can. */
function restartRefusal(id: string, execution: StoredExecution | undefined): SluiceError | undefined {
  if (!execution) return executionNotFound(id);
  if (execution.state !== 'FAILED') return executionNotRestartable(id, execution.state);
  return undefined;
}

/** An execution a bulk request could not act on, and why (the error its own route would answer). */
interface BulkInvalid {
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

/** Most executions a bulk request acts on: the ids of a by-ids body, the matches of a by-query. */
export const BULK_MAX = 1000;

/** Moved to http.ts; still exported from here for the route files that import it from this one. */
export { rejectUnknownQueryParameters };

/** The filters of `GET /executions/search`, also those of the by-query bulk routes (which have no paging). */
const searchFilterProperties = {
  namespace: { type: 'string', description: 'This namespace and its child namespaces' },
  flowId: { type: 'string' },
  state: { type: 'array', items: { enum: [...EXECUTION_STATES] } },
  labels: { type: 'array', items: { type: 'string' }, description: 'key:value, every one must match' },
  startDate: { type: 'string', description: 'Started at or after this ISO-8601 date-time' },
  endDate: { type: 'string', description: 'Started at or before this ISO-8601 date-time' },
} as const;

interface SearchFilterQuery {
  readonly namespace?: string;
  readonly flowId?: string;
  readonly state?: string[];
  readonly labels?: string[];
  readonly startDate?: string;
  readonly endDate?: string;
}

/** The search filters of a query validated against {@link searchFilterProperties}: 400 for a bad date or label. */
function searchFilter(query: SearchFilterQuery): Omit<ExecutionSearch, 'page' | 'size'> {
  const startDate = parseDate('startDate', query.startDate);
  const endDate = parseDate('endDate', query.endDate);
  return {
    ...(query.namespace ? { namespace: query.namespace } : {}),
    ...(query.flowId ? { flowId: query.flowId } : {}),
    ...(query.state && query.state.length > 0 ? { states: query.state } : {}),
    ...(query.labels && query.labels.length > 0 ? { labels: parseLabels(query.labels) } : {}),
    ...(startDate ? { startDate } : {}),
    ...(endDate ? { endDate } : {}),
  };
}

/** The body of the bulk by-ids routes: Kestra's JSON list of execution ids. */
const idListBody = { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: BULK_MAX, description: 'The execution ids' } as const;

/** Kestra's BulkResponse: how many executions were acted on (and, rarely, those that changed state meanwhile). */
const bulkResponse = {
  type: 'object',
  required: ['count'],
  properties: {
    count: { type: 'integer' },
    invalids: {
      type: 'array',
      description: 'Only when some changed state between their check and the action (by someone else): those, not counted',
      items: { type: 'object', properties: { id: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const;

/** An `application/json` body parsed (an empty one is no body); invalid JSON is a 400. */
export function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: (error: Error | null, body?: unknown) => void): void {
  const text = body.toString();
  if (text.trim() === '') {
    done(null, undefined);
    return;
  }
  try {
    done(null, JSON.parse(text) as unknown);
  } catch (error) {
    done(new SluiceError('SLU_API_BAD_REQUEST', { reason: `the request body is not valid JSON: ${(error as Error).message}` }, { in: 'body' }), undefined);
  }
}

/** The Pause task's type names (KESTRA-FLOW.md §2.10), lower-cased: task types are matched case-insensitively. */
const PAUSE_TYPES: ReadonlySet<string> = new Set(['io.kestra.plugin.core.flow.pause', 'io.kestra.core.tasks.flows.pause']);

/** What resuming needs to know of the task of a PAUSED run. */
export interface PausedTask {
  /** A Pause task (the run then ends SUCCESS unless it has legacy `tasks`); false for another type (WaitFor...). */
  readonly isPause: boolean;
  /** Its `onResume` inputs, when it declares them. */
  readonly onResume: readonly FlowInput[] | undefined;
  /** A Pause with the deprecated `tasks`: resumed to RUNNING, its children run next. */
  readonly hasTasks: boolean;
}

/**
 * The task `taskId` anywhere in the flow: `tasks`, `errors`, `finally` and every nested list or map of tasks
 * (flowables' `tasks`, `then`/`else`, Switch `cases.<key>`, Dag `tasks[i].task`...). Task ids are unique in a flow;
 * inputs (`inputs`, a Pause's `onResume`) also have an id and a type, so they are not searched.
 */
function findTask(flow: Flow, taskId: string): Record<string, unknown> | undefined {
  const walk = (node: unknown, depth: number): Record<string, unknown> | undefined => {
    if (depth > 200 || node === null || typeof node !== 'object') return undefined;
    if (Array.isArray(node)) {
      for (const item of node) {
        const found = walk(item, depth + 1);
        if (found) return found;
      }
      return undefined;
    }
    const object = node as Record<string, unknown>;
    if (object.id === taskId && typeof object.type === 'string') return object;
    for (const [key, value] of Object.entries(object)) {
      if (key === 'inputs' || key === 'onResume') continue;
      const found = walk(value, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  const root = flow as unknown as Record<string, unknown>;
  return walk([root.tasks, root.errors, root.finally, root.afterExecution], 0);
}

/** What the task `taskId` of `flow` is, for resuming its PAUSED run (no flow, or no Pause task: not a Pause). */
export function pausedTask(flow: Flow | undefined, taskId: string): PausedTask {
  const task = flow ? findTask(flow, taskId) : undefined;
  const isPause = typeof task?.type === 'string' && PAUSE_TYPES.has(task.type.toLowerCase());
  if (!task || !isPause) return { isPause: false, onResume: undefined, hasTasks: false };
  return {
    isPause,
    onResume: Array.isArray(task.onResume) ? (task.onResume as FlowInput[]) : undefined,
    hasTasks: Array.isArray(task.tasks) && task.tasks.length > 0,
  };
}

/**
 * The given inputs typed against the declared ones (`resolveInputs`: defaults applied, required ones checked), or
 * `SLU_INPUT_INVALID` listing every problem, those `readBody` found first.
 */
function typedInputs(
  declared: readonly FlowInput[] | undefined,
  given: Record<string, unknown>,
  found: readonly InputProblem[],
  scope: { namespace: string; flowId: string; executionId: string },
): Record<string, unknown> {
  const problems = [...found];
  let inputs: Record<string, unknown> = {};
  try {
    inputs = resolveInputs(declared, given, { fileUriPrefix: executionPrefixUri(scope) });
  } catch (error) {
    if (!isSluiceError(error) || error.code !== 'SLU_INPUT_INVALID') throw error;
    problems.push(...(error.details.problems as InputProblem[]).filter((p) => !problems.some((q) => q.input === p.input)));
  }
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.input}: ${p.message}`).join('; ');
    throw new SluiceError('SLU_INPUT_INVALID', { summary }, { problems });
  }
  // What the inputs became (a JSON input's "\u0000" is a NUL only once parsed) must be storable too.
  rejectInvalidCharactersDeep(['inputs'], inputs, 'body');
  return inputs;
}

/** What the paused run of `task` becomes when resumed with `inputs` (the typed `onResume` inputs). */
export function resumePlan(task: PausedTask, inputs: Record<string, unknown>): ResumePlan {
  return {
    state: task.isPause && !task.hasTasks ? 'SUCCESS' : 'RUNNING',
    ...(task.onResume ? { outputs: { onResume: inputs } } : {}),
  };
}

export type ResumePlan = ReturnType<Parameters<ExecutionRepository['resume']>[1]>;

/** A request whose body is `application/json` (`application/json; charset=utf-8` included). */
function isJsonRequest(request: FastifyRequest): boolean {
  return /^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '');
}

/**
 * The file's bytes, failing with `error` once they exceed `limit`. An async generator rather than a piped stream: it
 * reads only when the storage pulls, so nothing flows (and nothing can fail unobserved) before the storage is ready.
 */
async function* limitedBytes(file: AsyncIterable<Buffer>, limit: number, error: () => Error): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of file) {
    seen += chunk.length;
    if (seen > limit) throw error();
    yield chunk;
  }
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;

/** The `boundary` parameter of a multipart content type, if any. */
function multipartBoundary(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match?.[1] ?? match?.[2];
}

/**
 * A multipart body too short to hold any part: its declared length is at most that of the close delimiter and a CRLF
 * (`--boundary--\r\n`, what clients send for a form without fields, as most executions are), while a part needs its
 * delimiter, a Content-Disposition header and the close delimiter. Such a body is read as it is, without starting the
 * multipart parser (which cost the API about half a millisecond per execution here); anything else is left to it.
 */
function tooShortForAPart(request: FastifyRequest, boundary: string): boolean {
  const length = Number(request.headers['content-length']);
  return Number.isInteger(length) && length <= boundary.length + 6;
}

/** Read a body known to be a few bytes: an empty form is nothing or the close delimiter, with an epilogue if any. */
async function readEmptyForm(request: FastifyRequest, boundary: string): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request.raw) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('latin1');
  if (body !== '' && !body.startsWith(`--${boundary}--`)) {
    throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `the multipart body is malformed: ${JSON.stringify(body)} is neither a part nor the close delimiter --${boundary}--` });
  }
}

/**
 * A create's answer (Kestra's ExecutionResponse): the execution as the API shows it (SECRET inputs masked) and, with a
 * public URL, its `url`. Shared by `POST /executions/{namespace}/{id}` and the webhook.
 */
export function createdExecutionJson(
  flows: FlowStore,
  options: Pick<ExecutionRouteOptions, 'publicUrl' | 'tenant'>,
): (execution: StoredExecution) => Promise<Record<string, unknown>> {
  const masked = secretInputMasker(flows);
  const { publicUrl } = options;
  return async (execution) => ({
    ...executionJson(await masked(execution)),
    ...(publicUrl ? { url: executionUrl(publicUrl, options.tenant ?? 'main', execution) } : {}),
  });
}

/**
 * Hand a new execution (stored CREATED) to the scheduler: with its snapshot, or `delayMs` later without one. One that
 * cannot be handed over is failed rather than left CREATED forever, and the error thrown. Shared by
 * `POST /executions/{namespace}/{id}` and the webhook.
 */
export async function handOffCreated(executions: Pick<ExecutionStore, 'transition'>, queue: ExecutionQueue, execution: StoredExecution, delayMs = 0): Promise<void> {
  const { id: executionId, namespace, flowId } = execution;
  try {
    await queue.executionCreated({ executionId, namespace, flowId, ...(delayMs > 0 ? { delayMs } : { snapshot: executionSnapshot(execution) }) });
  } catch (error) {
    await executions.transition(executionId, ['CREATED'], 'FAILED').catch(() => undefined);
    throw error;
  }
}

/**
 * Store a new execution with its first step, through `starter`. The API waits for what follows the commit (the task
 * jobs queued) as long as it waits for a hand-off to the queue; past that, or when it failed, the scheduler's
 * reconciliation queues the jobs again. Resolves with the stored execution, or with undefined when the step failed
 * for another reason than the database and nothing was stored: the caller then stores the execution and hands it to
 * the scheduler as usual, whose own step reports the problem on the execution.
 */
async function startHere(starter: ExecutionStarter, stored: StoredExecution, warn: (line: string) => void): Promise<StoredExecution | undefined> {
  let started: { readonly after: Promise<void> };
  try {
    started = await starter.start(stored);
  } catch (error) {
    if (classifyDbError(error) !== undefined) throw error;
    warn(`execution ${stored.id}: its first step failed here (${error instanceof Error ? error.message : String(error)}): handing it to the scheduler`);
    return undefined;
  }
  const after = started.after.then(
    () => true,
    (error: unknown) => {
      warn(`execution ${stored.id}: queueing its first tasks failed (the scheduler's reconciliation queues them again): ${error instanceof Error ? error.message : String(error)}`);
      return true;
    },
  );
  if ((await within(after, QUEUE_PUBLISH_TIMEOUT_MS)) === undefined) {
    warn(`execution ${stored.id}: its first tasks are not queued after ${QUEUE_PUBLISH_TIMEOUT_MS} ms (the queue is slow or unreachable: they are queued when it answers, or by the scheduler's reconciliation)`);
  }
  return stored;
}

export const executionRoutes: FastifyPluginAsync<ExecutionRouteOptions> = async (app, options) => {
  const { flows, executions, storage, queue } = options;
  const masked = secretInputMasker(flows);
  const present = async (execution: StoredExecution): Promise<Record<string, unknown>> => executionJson(await masked(execution));
  const created = createdExecutionJson(flows, options);
  const uploadLimit = options.uploadLimit ?? DEFAULT_UPLOAD_LIMIT;
  // One byte more than the limit reaches us, so an over-limit file is told apart from one of exactly the limit.
  await app.register(multipart, { limits: { fileSize: uploadLimit + 1, files: 100, fields: 1000, parts: 1100 }, throwFileSizeLimit: false });

  const tooLarge = (): SluiceError => new SluiceError('SLU_API_BODY_TOO_LARGE', { limit: uploadLimit }, { in: 'file' });
  // A multipart body the answer leaves unread (an error in the middle, bytes after the close delimiter) would stay
  // in the connection, and the next request a client sends on it would never be read: close it after the answer.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.isMultipart() && !request.raw.readableEnded) reply.header('connection', 'close');
    return payload;
  });

  /**
   * Read the multipart body: fields as strings (repeated ones as lists), file parts streamed into the storage. With
   * `json`, an `application/json` object of inputs is taken as well; with `dryRun`, file parts are read to their end
   * but not stored (each stands for the URI it would have).
   */
  async function readBody(
    request: FastifyRequest,
    scope: { namespace: string; flowId: string; executionId: string },
    declared: readonly FlowInput[],
    stored: string[],
    mode: { readonly json?: boolean; readonly dryRun?: boolean } = {},
  ): Promise<{ given: Record<string, unknown>; problems: InputProblem[] }> {
    const given: Record<string, unknown> = {};
    const problems: InputProblem[] = [];
    const add = (name: string, value: unknown): void => {
      const before = given[name];
      given[name] = before === undefined ? value : Array.isArray(before) ? [...(before as unknown[]), value] : [before, value];
    };
    if (!request.isMultipart()) {
      const body = request.body;
      if (mode.json && isJsonRequest(request)) {
        if (body === undefined || body === null) return { given, problems };
        if (typeof body !== 'object' || Array.isArray(body)) {
          throw new SluiceError('SLU_API_BAD_REQUEST', { reason: 'the JSON body must be an object of inputs ({"inputId": value, ...})' }, { in: 'body' });
        }
        rejectInvalidCharactersDeep(['inputs'], body, 'body');
        return { given: { ...(body as Record<string, unknown>) }, problems };
      }
      if (body !== undefined && body !== null && body !== '') {
        throw new SluiceError('SLU_API_UNSUPPORTED_MEDIA_TYPE', {
          contentType: request.headers['content-type'] ?? 'none',
          expected: mode.json ? 'multipart/form-data or application/json' : 'multipart/form-data',
        });
      }
      return { given, problems };
    }
    const boundary = multipartBoundary(request.headers['content-type']);
    if (boundary === undefined) {
      // Without one, the parser reads the body's first `----` as the end of an empty form: the inputs would be lost.
      throw new SluiceError('SLU_API_BAD_REQUEST', { reason: 'the multipart/form-data content type has no boundary (`; boundary=...`)' }, { in: 'header' });
    }
    if (tooShortForAPart(request, boundary)) {
      await readEmptyForm(request, boundary);
      return { given, problems };
    }
    const byId = new Map(declared.map((input) => [input.id, input]));
    for await (const part of request.parts()) {
      rejectInvalidCharacters(`inputs.${part.fieldname}`, part.fieldname, 'body');
      if (part.type === 'field') {
        if (typeof part.value === 'string') rejectInvalidCharacters(`inputs.${part.fieldname}`, part.value, 'body');
        if (part.valueTruncated) problems.push({ input: part.fieldname, message: 'the value is too long' });
        else add(part.fieldname, typeof part.value === 'string' ? part.value : String(part.value));
        continue;
      }
      const input = byId.get(part.fieldname);
      const drain = async (message: string): Promise<void> => {
        problems.push({ input: part.fieldname, message });
        part.file.resume();
        await finished(part.file);
      };
      if (!input) {
        add(part.fieldname, { uri: '(not stored)' }); // reported as an unknown input by resolveInputs
        part.file.resume();
        await finished(part.file);
        continue;
      }
      if (input.type !== 'FILE') {
        await drain(`is ${input.type}: send it as a form field, not as a file`);
        continue;
      }
      if (given[part.fieldname] !== undefined) {
        await drain('expects one file, got several');
        continue;
      }
      let uri: string;
      try {
        uri = inputFileUri({ ...scope, inputId: input.id }, part.filename || input.id);
      } catch (error) {
        if (!isSluiceError(error)) throw error;
        await drain(`bad file name ${JSON.stringify(part.filename)}: ${String(error.params.reason ?? error.message)}`);
        continue;
      }
      if (mode.dryRun) {
        // Read to its end (and held to the upload limit) as a real upload would be, then dropped.
        try {
          for await (const chunk of limitedBytes(part.file, uploadLimit, tooLarge)) void chunk;
        } catch (error) {
          part.file.resume();
          throw error;
        }
        add(part.fieldname, { uri });
        continue;
      }
      stored.push(uri);
      try {
        await storage.put(uri, limitedBytes(part.file, uploadLimit, tooLarge));
      } catch (error) {
        part.file.resume(); // never leave the parser waiting on an unread part
        throw error;
      }
      add(part.fieldname, { uri });
    }
    return { given, problems };
  }

  /**
   * `?wait=true`: answer when the execution has ended — on the scheduler's live update, or at the latest on the
   * next database poll (updates are fire-and-forget) — or when the client goes away.
   */
  async function waitForEnd(executionId: string, ended: Promise<unknown> | undefined, reply: FastifyReply): Promise<StoredExecution> {
    const pollMs = options.waitPollMs ?? 1000;
    // The response's 'close' fires when the client goes away (the request's fires once its body is read).
    const gone = new Promise<void>((resolve) => reply.raw.once('close', () => resolve()));
    // With a live watch (set up before the scheduler heard of the execution), the first read waits for its update.
    let read = ended === undefined;
    for (;;) {
      if (read) {
        const current = await executions.get(executionId);
        if (!current) throw new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id: executionId }, { id: executionId });
        if (TERMINAL_STATES.includes(current.state) || reply.raw.destroyed) return current;
      }
      read = true;
      let timer: NodeJS.Timeout | undefined;
      const live = ended?.then((execution) => ({ execution }));
      const winner = await Promise.race([live ?? new Promise<never>(() => undefined), gone, new Promise((resolve) => (timer = setTimeout(resolve, pollMs)))]);
      clearTimeout(timer);
      if (winner && typeof winner === 'object' && 'execution' in winner) {
        ended = undefined; // fired once: from now on poll only
        // The update carried the execution as stored at its end: no need to read it back.
        const carried = executionFromWire(winner.execution);
        if (carried?.id === executionId && TERMINAL_STATES.includes(carried.state)) return carried;
      }
    }
  }

  app.post(
    '/executions/:namespace/:id',
    {
      schema: {
        tags: ['executions'],
        summary: 'Create an execution (inputs as multipart form fields, FILE inputs as file parts)',
        consumes: ['multipart/form-data'],
        params: { type: 'object', required: ['namespace', 'id'], properties: { namespace: { type: 'string' }, id: { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: {
            labels: { type: 'array', items: { type: 'string' } },
            revision: { type: 'integer', minimum: 1, maximum: INTEGER_PARAMETER_MAX },
            wait: { type: 'boolean', default: false },
            scheduleDate: { type: 'string', description: 'Start the execution at this date-time (it stays CREATED until then), as Kestra does.' },
          },
        },
      },
    },
    async (request, reply) => {
      const { namespace, id } = request.params as { namespace: string; id: string };
      const query = request.query as { labels?: string[]; revision?: number; wait: boolean; scheduleDate?: string };
      const scheduleDate = parseScheduleDate(query.scheduleDate);
      const labels = parseLabels(query.labels);
      const stored = await flows.get(namespace, id, query.revision);
      if (!stored || stored.deleted) {
        throw new SluiceError(
          'SLU_API_FLOW_NOT_FOUND',
          { namespace, id, revision: query.revision === undefined ? '' : ` (revision ${query.revision})` },
          { namespace, id, ...(query.revision === undefined ? {} : { revision: query.revision }) },
        );
      }
      const flow = stored.flow as unknown as Flow;
      if (flow.disabled === true) {
        throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `flow ${namespace}.${id} is disabled: enable it to run it` }, { namespace, id });
      }

      const executionId = newExecutionId();
      const scope = { namespace, flowId: id, executionId };
      const storedFiles: string[] = [];
      try {
        const { given, problems } = await readBody(request, scope, flow.inputs ?? [], storedFiles);
        const inputs = typedInputs(flow.inputs, given, problems, scope);
        // Kestra: the flow's labels, then the request's (a request label replaces a flow label of the same key).
        const fresh = {
          id: executionId,
          namespace,
          flowId: id,
          flowRevision: stored.revision,
          inputs,
          labels: mergeLabels(flowLabels(flow), labels),
          ...(scheduleDate ? { scheduleDate } : {}),
        };
        // Started here, with its first step, unless it is to start later (the scheduler puts it off until its date).
        const starter = !scheduleDate && options.starter?.ready() ? options.starter : undefined;
        let execution: StoredExecution | undefined;
        let watch: Awaited<ReturnType<ExecutionWaiter['watch']>> | undefined;
        if (starter) {
          // Watched before it is stored: its first step may end it.
          watch = query.wait ? await options.waiter?.watch(executionId) : undefined;
          try {
            execution = await startHere(starter, executions.prepare(fresh), (line) => request.log.warn(line));
          } catch (error) {
            watch?.cancel();
            throw error;
          }
          if (execution) storedFiles.length = 0; // from here on the files belong to a stored execution
          else watch?.cancel();
        }
        if (!execution) {
          execution = await executions.create(fresh);
          storedFiles.length = 0; // from here on the files belong to a stored execution
          watch = query.wait ? await options.waiter?.watch(executionId) : undefined;
          // One to start later reaches the scheduler at its date, without a snapshot: the scheduler then reads it, date
          // included, and puts it off again should it come early (a scheduler that restarts resumes it at once).
          const delayMs = scheduleDate ? scheduleDate.getTime() - Date.now() : 0;
          try {
            await handOffCreated(executions, queue, execution, delayMs);
          } catch (error) {
            watch?.cancel();
            throw error;
          }
        }
        if (!query.wait) return created(execution);
        try {
          return created(await waitForEnd(executionId, watch?.ended, reply));
        } finally {
          watch?.cancel();
        }
      } catch (error) {
        await Promise.all(storedFiles.map((uri) => storage.delete(uri).catch(() => false)));
        throw error;
      }
    },
  );

  const searchQuery = { type: 'object', properties: { ...searchFilterProperties, ...pagingQueryProperties, sort: sortProperty(EXECUTION_SORT_FIELDS) } } as const;
  app.get(
    '/executions/search',
    {
      schema: {
        tags: ['executions'],
        summary: 'Search executions (newest first)',
        description: filtersDescription('executions'),
        querystring: searchQuery,
      },
      preValidation: rejectUnknownSearchParameters(searchQuery),
    },
    async (request) => {
      const query = request.query as SearchFilterQuery & { page: number; size: number };
      const { filters, sort } = parseSearchQuery(request.query as Record<string, unknown>, 'executions', EXECUTION_SORT_FIELDS);
      const found = await searchErrors(executions.search({ ...searchFilter(query), filters, sort, page: query.page, size: query.size }));
      return { results: await Promise.all(found.results.map(present)), total: found.total };
    },
  );

  const byFlowQuery = {
    type: 'object',
    required: ['namespace', 'flowId'],
    properties: {
      namespace: { type: 'string', minLength: 1, description: 'The flow namespace (this namespace only, not its children)' },
      flowId: { type: 'string', minLength: 1, description: 'The flow id' },
      ...pagingQueryProperties,
    },
  } as const;

  app.get(
    '/executions',
    {
      schema: {
        tags: ['executions'],
        summary: 'The executions of one flow (newest first)',
        description: "Kestra's executions of a flow: `namespace` and `flowId` are required, any other parameter but `page` and `size` is a 400 naming it.",
        querystring: byFlowQuery,
      },
      preValidation: rejectUnknownQueryParameters(byFlowQuery),
    },
    async (request) => {
      const query = request.query as { namespace: string; flowId: string; page: number; size: number };
      const found = await executions.search({ namespace: query.namespace, exactNamespace: true, flowId: query.flowId, page: query.page, size: query.size });
      return { results: await Promise.all(found.results.map(present)), total: found.total };
    },
  );

  app.get('/executions/:id', { schema: { tags: ['executions'], summary: 'Get an execution', params: idParams } }, async (request) => {
    const { id } = request.params as { id: string };
    const execution = await executions.get(id);
    if (!execution) throw executionNotFound(id);
    return present(execution);
  });

  /** Kill execution `id` (→ KILLING) and hand the kill to the scheduler: 404 unknown, 409 already ended. */
  async function killOne(id: string): Promise<StoredExecution> {
    const result = await executions.transition(id, KILLABLE_STATES, 'KILLING');
    if (result.status === 'not-found') throw executionNotFound(id);
    // A second kill of an execution still KILLING is accepted again (and re-sent: a lost kill must not stick).
    if (result.status === 'refused' && result.execution.state !== 'KILLING') throw executionEnded(id, result.execution.state);
    await queue.killRequested(id);
    return result.execution;
  }

  /** Restart FAILED execution `id` (→ RESTARTED) and hand it to the scheduler: 404 unknown, 409 not FAILED. */
  async function restartOne(id: string): Promise<StoredExecution> {
    // The flow revision it ran: a restart starts the `errors` branch over (its earlier runs are removed).
    const current = await executions.get(id);
    if (!current) throw executionNotFound(id);
    const stored = await flows.get(current.namespace, current.flowId, current.flowRevision);
    // Every errors branch starts over: the flow's and those of flowable tasks (their runs are removed).
    const storedFlow = stored?.flow as unknown as Flow | undefined;
    const errorsTaskIds = storedFlow ? [...structureOf(storedFlow).byId.values()].filter((node) => node.branch !== 'main').map((node) => node.task.id) : [];
    const result = await executions.restart(id, { errorsTaskIds });
    if (result.status === 'not-found') throw executionNotFound(id);
    if (result.status === 'refused') throw executionNotRestartable(id, result.execution.state);
    const { execution } = result;
    await queue.executionRestarted({ executionId: id, namespace: execution.namespace, flowId: execution.flowId });
    return execution;
  }

  /**
   * Replay ended execution `id` as a new execution (see the repository's `replay`): from the start, or from task run
   * `taskRunId` (the runs before it copied, its flowable ancestors reopened), on the original's flow revision or on
   * `revision`. 404 unknown execution, task run or revision; 409 not ended. Handed to the scheduler as a new execution
   * when nothing is copied, as a restarted one otherwise.
   */
  async function replayOne(id: string, request: { readonly taskRunId?: string; readonly revision?: number } = {}): Promise<StoredExecution> {
    const original = await executions.get(id);
    const refused = replayRefusal(id, original);
    if (refused || !original) throw refused ?? executionNotFound(id);
    const { taskRunId, revision } = request;
    if (taskRunId !== undefined && !original.taskRuns.some((run) => run.id === taskRunId)) {
      throw new SluiceError('SLU_API_TASK_RUN_NOT_FOUND', { id, taskRunId }, { id, taskRunId });
    }
    if (revision !== undefined) {
      const target = await flows.get(original.namespace, original.flowId, revision);
      if (!target || target.deleted) {
        throw new SluiceError(
          'SLU_API_FLOW_NOT_FOUND',
          { namespace: original.namespace, id: original.flowId, revision: ` (revision ${revision})` },
          { namespace: original.namespace, id: original.flowId, revision },
        );
      }
    }
    // The runs are read with the revision that produced them (deleted revisions included, as restart reads them).
    const flow = taskRunId === undefined ? undefined : ((await flows.get(original.namespace, original.flowId, original.flowRevision))?.flow as unknown as Flow | undefined);
    const result = await executions.replay(id, {
      ...(revision !== undefined ? { flowRevision: revision } : {}),
      labels: [REPLAY_LABEL],
      ...(taskRunId !== undefined
        ? {
            plan: (locked: StoredExecution) => {
              const selection = replaySelection(flow, locked.taskRuns, taskRunId);
              if (!selection) throw new SluiceError('SLU_API_TASK_RUN_NOT_FOUND', { id, taskRunId }, { id, taskRunId });
              return selection;
            },
          }
        : {}),
    });
    if (result.status === 'not-found') throw executionNotFound(id);
    if (result.status === 'refused') throw executionNotEnded(id, result.execution.state);
    const { execution } = result;
    if (execution.taskRuns.length === 0) await handOffCreated(executions, queue, execution);
    else await queue.executionRestarted({ executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId });
    return execution;
  }

  const replayQuery = {
    type: 'object',
    properties: {
      taskRunId: { type: 'string', minLength: 1, description: 'Replay from this task run: the runs before it are kept, it and what follows run again' },
      revision: { type: 'integer', minimum: 1, maximum: INTEGER_PARAMETER_MAX, description: "Run this revision of the flow (default: the original's)" },
    },
  } as const;

  app.post(
    '/executions/:id/replay',
    {
      schema: {
        tags: ['executions'],
        summary: 'Replay an ended execution as a new one',
        description:
          "A new execution of the same flow with the original's inputs and labels, whose `originalId` is the original (the first of its chain, " +
          'when it was itself a replay or a retry). Without `taskRunId` it runs from the start; with it, the task runs that ended before that one ' +
          'are kept (copied with their outputs), the flowables holding it go on, and it and everything after it run again. ' +
          '404 unknown execution, task run or revision; 409 SLU_API_EXECUTION_NOT_ENDED while the original runs.',
        params: idParams,
        querystring: replayQuery,
      },
      preValidation: rejectUnknownQueryParameters(replayQuery),
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const query = request.query as { taskRunId?: string; revision?: number };
      return present(await replayOne(id, query));
    },
  );

  // Kestra 0.x's paths and the `actions/` ones, one handler each.
  for (const path of ['/executions/:id/kill', '/executions/:id/actions/kill']) {
    app.delete(path, { schema: { tags: ['executions'], summary: 'Kill an execution (→ KILLING)', params: idParams } }, async (request, reply) => {
      const { id } = request.params as { id: string };
      return reply.status(202).send(await present(await killOne(id)));
    });
  }

  for (const path of ['/executions/:id/restart', '/executions/:id/actions/restart']) {
    app.post(path, { schema: { tags: ['executions'], summary: 'Restart a FAILED execution', params: idParams } }, async (request) => {
      const { id } = request.params as { id: string };
      return present(await restartOne(id));
    });
  }

  /** A bulk action: what may refuse an execution as read, what acts on one, and the verb for messages. */
  interface BulkAction {
    readonly verb: 'kill' | 'restart' | 'replay';
    readonly refusal: (id: string, execution: StoredExecution | undefined) => SluiceError | undefined;
    readonly apply: (id: string) => Promise<StoredExecution>;
  }

  const bulkActions: Record<BulkAction['verb'], BulkAction> = {
    kill: { verb: 'kill', refusal: killRefusal, apply: killOne },
    restart: { verb: 'restart', refusal: restartRefusal, apply: restartOne },
    replay: { verb: 'replay', refusal: replayRefusal, apply: (id) => replayOne(id) },
  };

  /**
   * Act on every execution of `ids` (duplicates once), as Kestra's by-ids routes do: each is read first, and when one
   * is unknown or in a state that refuses the action, nothing is done and the answer is a 400 listing each of them
   * (`details.invalids: [{id, code, message}]`). Otherwise each is acted on, as its own route would: `{count}`. One
   * that changed in between (killed, restarted or ended by someone else) is not counted and is listed in `invalids`.
   */
  async function bulk(action: BulkAction, requested: readonly string[]): Promise<{ count: number; invalids?: BulkInvalid[] }> {
    const ids = [...new Set(requested)];
    ids.forEach((id, index) => rejectInvalidCharacters(`body[${index}]`, id, 'body'));
    const invalids: BulkInvalid[] = [];
    for (const id of ids) {
      const refused = action.refusal(id, await executions.get(id));
      if (refused) invalids.push({ id, code: refused.code, message: refused.message });
    }
    if (invalids.length > 0) {
      const listed = invalids.slice(0, 10).map((i) => i.message).join('; ') + (invalids.length > 10 ? `; and ${invalids.length - 10} more (details.invalids)` : '');
      const reason = `cannot ${action.verb} ${invalids.length} of ${ids.length} executions (none was acted on): ${listed}`;
      throw new SluiceError('SLU_API_BAD_REQUEST', { reason }, { invalids });
    }
    let count = 0;
    for (const id of ids) {
      try {
        await action.apply(id);
        count++;
      } catch (error) {
        const changed = ['SLU_API_EXECUTION_NOT_FOUND', 'SLU_API_EXECUTION_ENDED', 'SLU_API_EXECUTION_NOT_RESTARTABLE', 'SLU_API_EXECUTION_NOT_ENDED'];
        if (!isSluiceError(error) || !changed.includes(error.code)) throw error;
        invalids.push({ id, code: error.code, message: error.message });
      }
    }
    return invalids.length > 0 ? { count, invalids } : { count };
  }

  /** The ids of every execution matching the search filters, at most {@link BULK_MAX} (400 beyond, nothing done). */
  async function idsMatching(action: BulkAction, query: SearchFilterQuery): Promise<string[]> {
    const { filters } = parseSearchQuery(query as Record<string, unknown>, 'executions', EXECUTION_SORT_FIELDS);
    const found = await searchErrors(executions.search({ ...searchFilter(query), filters, page: 1, size: BULK_MAX }));
    if (found.total > BULK_MAX) {
      throw new SluiceError(
        'SLU_API_BAD_REQUEST',
        { reason: `the query matches ${found.total} executions, more than ${BULK_MAX} can be acted on at once (none was): narrow it, or ${action.verb} them by ids` },
        { in: 'query', total: found.total, max: BULK_MAX },
      );
    }
    return found.results.map((e) => e.id);
  }

  /** Resume requests: what the route read (the execution, its first PAUSED run and the typed `onResume` inputs). */
  interface ResumeRequest {
    readonly execution: StoredExecution;
    readonly flow: Flow | undefined;
    readonly paused: StoredTaskRun | undefined;
    readonly task: PausedTask;
    readonly given: Record<string, unknown>;
    readonly inputs: Record<string, unknown>;
  }

  /**
   * Read a resume request: 404 unknown execution, 409 not PAUSED, then the body's `onResume` inputs of the first
   * PAUSED task run, typed as flow inputs are (FILE inputs stored under the execution's `inputs/` folder, as a new
   * execution's are, unless `dryRun`).
   */
  async function readResume(request: FastifyRequest, id: string, dryRun: boolean, stored: string[]): Promise<ResumeRequest> {
    const execution = await executions.get(id);
    if (!execution) throw executionNotFound(id);
    if (execution.state !== 'PAUSED') throw executionNotPaused(id, execution.state);
    const paused = ExecutionRepository.pausedRunToResume(execution.taskRuns);
    // The flow revision it runs (deleted revisions included, as restart reads them).
    const flow = (await flows.get(execution.namespace, execution.flowId, execution.flowRevision))?.flow as unknown as Flow | undefined;
    const task = paused ? pausedTask(flow, paused.taskId) : pausedTask(undefined, '');
    const scope = { namespace: execution.namespace, flowId: execution.flowId, executionId: id };
    const { given, problems } = await readBody(request, scope, task.onResume ?? [], stored, { json: true, dryRun });
    return { execution, flow, paused, task, given, inputs: typedInputs(task.onResume, given, problems, scope) };
  }

  /**
   * Resume the execution read by `readResume`. The run resumed is the first PAUSED one when the lock is held: if that is
   * no longer a run of the task the inputs were typed for (another request resumed it meanwhile), the same inputs are
   * typed again for the task it is (an error then rolls the resume back).
   */
  async function applyResume(read: ResumeRequest): Promise<StoredExecution> {
    const { execution } = read;
    const scope = { namespace: execution.namespace, flowId: execution.flowId, executionId: execution.id };
    const result = await executions.resume(execution.id, (run) => {
      if (run.taskId === read.paused?.taskId) return resumePlan(read.task, read.inputs);
      const task = pausedTask(read.flow, run.taskId);
      return resumePlan(task, typedInputs(task.onResume, read.given, [], scope));
    });
    if (result.status === 'not-found') throw executionNotFound(execution.id);
    if (result.status === 'refused') throw executionNotPaused(execution.id, result.execution.state);
    await queue.executionRestarted({ executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId });
    return result.execution;
  }

  // The resume routes also take an application/json body (an object of inputs; a list of ids for by-ids).
  await app.register(async (resumeApp) => {
    resumeApp.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);

    const resumeSchema = {
      tags: ['executions'],
      params: idParams,
      consumes: ['multipart/form-data', 'application/json'],
    };

    resumeApp.post(
      '/executions/:id/resume',
      {
        schema: {
          ...resumeSchema,
          summary: 'Resume a PAUSED execution',
          description:
            "The first PAUSED task run ends SUCCESS (RUNNING for a Pause with legacy `tasks`), with its Pause's `onResume` inputs " +
            '(form fields and file parts, or a JSON object; typed and checked like flow inputs) as its outputs `onResume`. ' +
            'The execution is RESTARTED and handed to the scheduler, or stays PAUSED while another task run is PAUSED. ' +
            '404 unknown execution; 409 SLU_API_EXECUTION_NOT_PAUSED; 400 SLU_INPUT_INVALID naming each input.',
          response: { 204: { description: 'Resumed', type: 'null' } },
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const stored: string[] = [];
        try {
          await applyResume(await readResume(request, id, false, stored));
        } catch (error) {
          await Promise.all(stored.map((uri) => storage.delete(uri).catch(() => false)));
          throw error;
        }
        return reply.status(204).send();
      },
    );

    resumeApp.post(
      '/executions/:id/resume/validate',
      {
        schema: {
          ...resumeSchema,
          summary: 'Check the inputs to resume a PAUSED execution, without resuming it',
          description:
            'The same checks as the resume (files are read but not stored): 200 `{executionId, taskRunId, taskId, inputs}` with the typed ' +
            'inputs (FILE inputs as the URI they would get), or the error the resume would answer.',
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const read = await readResume(request, id, true, []);
        return { executionId: id, taskRunId: read.paused?.id ?? null, taskId: read.paused?.taskId ?? null, inputs: read.inputs };
      },
    );

    resumeApp.post(
      '/executions/resume/by-ids',
      {
        schema: {
          tags: ['executions'],
          summary: 'Resume PAUSED executions by id, without inputs',
          description:
            "Each execution's first PAUSED task run is resumed as by `POST /executions/{id}/resume` with no inputs (the `onResume` defaults apply). " +
            'Nothing is resumed when one of them is unknown, not PAUSED or needs inputs: 400 with `details.invalids: [{id, message}]`. ' +
            'Answers `{count}`, the executions resumed.',
          consumes: ['application/json'],
          body: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 1000 },
        },
      },
      async (request) => {
        const ids = [...new Set(request.body as string[])];
        ids.forEach((id, index) => rejectInvalidCharacters(`body[${index}]`, id, 'body'));
        const invalids: { id: string; message: string }[] = [];
        const reads: ResumeRequest[] = [];
        for (const id of ids) {
          const execution = await executions.get(id);
          if (!execution) {
            invalids.push({ id, message: 'execution not found' });
            continue;
          }
          if (execution.state !== 'PAUSED') {
            invalids.push({ id, message: `execution is ${execution.state}, not PAUSED` });
            continue;
          }
          const paused = ExecutionRepository.pausedRunToResume(execution.taskRuns);
          const flow = (await flows.get(execution.namespace, execution.flowId, execution.flowRevision))?.flow as unknown as Flow | undefined;
          const task = paused ? pausedTask(flow, paused.taskId) : pausedTask(undefined, '');
          const scope = { namespace: execution.namespace, flowId: execution.flowId, executionId: id };
          try {
            reads.push({ execution, flow, paused, task, given: {}, inputs: typedInputs(task.onResume, {}, [], scope) });
          } catch (error) {
            if (!isSluiceError(error) || error.code !== 'SLU_INPUT_INVALID') throw error;
            invalids.push({ id, message: `task ${paused?.taskId ?? '?'} needs onResume inputs: ${String(error.params.summary)}` });
          }
        }
        if (invalids.length > 0) {
          const reason = `cannot resume ${invalids.length} of ${ids.length} executions (none was resumed): ${invalids.map((i) => `${i.id}: ${i.message}`).join('; ')}`;
          throw new SluiceError('SLU_API_BAD_REQUEST', { reason }, { invalids });
        }
        let count = 0;
        for (const read of reads) {
          try {
            await applyResume(read);
            count++;
          } catch (error) {
            // Resumed, killed or removed by someone else since it was read: not counted.
            if (!isSluiceError(error) || !['SLU_API_EXECUTION_NOT_PAUSED', 'SLU_API_EXECUTION_NOT_FOUND', 'SLU_INPUT_INVALID'].includes(error.code)) throw error;
          }
        }
        return { count };
      },
    );
  });

  // The bulk routes: by-ids take a JSON list of ids, by-query the search's filters.
  await app.register(async (bulkApp) => {
    bulkApp.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
    const byQuery = { type: 'object', properties: searchFilterProperties } as const;
    const refusals = {
      kill: 'unknown, or already ended (KILLING is accepted again)',
      restart: 'unknown, or not FAILED',
      replay: 'unknown, or not ended',
    } as const;
    const titles = { kill: 'Kill', restart: 'Restart', replay: 'Replay (from the start, as new executions)' } as const;
    for (const [method, action] of [['DELETE', bulkActions.kill], ['POST', bulkActions.restart], ['POST', bulkActions.replay]] as const) {
      const { verb } = action;
      const answers = `Answers \`{count}\` (Kestra's BulkResponse), the executions acted on, each as by \`${method} /executions/{id}/${verb}\`.`;
      bulkApp.route({
        method,
        url: `/executions/${verb}/by-ids`,
        schema: {
          tags: ['executions'],
          summary: `${titles[verb]} executions by id`,
          description:
            `${answers} Nothing is done when one of them is ${refusals[verb]}: 400 with \`details.invalids: [{id, code, message}]\` naming each. ` +
            `At most ${BULK_MAX} ids; a repeated id counts once.`,
          consumes: ['application/json'],
          body: idListBody,
          response: { 200: bulkResponse },
        },
        preValidation: rejectUnknownQueryParameters({}),
        handler: async (request) => bulk(action, request.body as string[]),
      });
      bulkApp.route({
        method,
        url: `/executions/${verb}/by-query`,
        schema: {
          tags: ['executions'],
          summary: `${titles[verb]} every execution matching the search filters`,
          description:
            `The filters of \`GET /executions/search\` (no paging), the 0.x parameters and Kestra 1.x's \`filters[field][OPERATION]=value\`. ${answers} ` +
            `Nothing is done when one of the executions matched is ${refusals[verb]} ` +
            `(filter by \`state\` to leave those out): 400 with \`details.invalids\`; nor when more than ${BULK_MAX} match. An unknown parameter, filter field or operation is a 400 naming it.`,
          querystring: byQuery,
          response: { 200: bulkResponse },
        },
        preValidation: rejectUnknownSearchParameters(byQuery),
        handler: async (request) => bulk(action, await idsMatching(action, request.query as SearchFilterQuery)),
      });
    }
  });

  app.get(
    '/executions/:id/file',
    {
      schema: {
        tags: ['executions'],
        summary: "Download one of the execution's files",
        params: idParams,
        querystring: { type: 'object', required: ['path'], properties: { path: { type: 'string' } } },
      },
    },
    async (request, reply: FastifyReply) => {
      const { id } = request.params as { id: string };
      const { path } = request.query as { path: string };
      const { uri, segments, info } = await executionFile(id, path);
      const stream = await storage.get(uri);
      const name = segments[segments.length - 1] ?? 'file';
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(info.size))
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
        .send(stream);
    },
  );

  app.get(
    '/executions/:id/file/metas',
    {
      schema: {
        tags: ['executions'],
        summary: "The size of one of the execution's files",
        params: idParams,
        querystring: { type: 'object', required: ['path'], properties: { path: { type: 'string' } } },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { path } = request.query as { path: string };
      const { info } = await executionFile(id, path);
      return { size: info.size };
    },
  );

  /**
   * A stored file of execution `id`, confined to its folder: 404 execution or file, 400 bad URI or outside the folder.
   * A replay or a retry (an execution with an `originalId`) also reaches the files of earlier executions of its flow
   * that it refers to: its FILE inputs and the outputs of the task runs a replay copied stay where they were stored.
   */
  async function executionFile(id: string, path: string): Promise<{ uri: string; segments: string[]; info: StorageObject }> {
    const execution = await executions.get(id);
    if (!execution) throw executionNotFound(id);
    const segments = parseStorageUri(path); // 400 SLU_STORAGE_INVALID_URI for `..`, another scheme, ...
    const uri = formatStorageUri(segments);
    const prefix = executionPrefixUri({ namespace: execution.namespace, flowId: execution.flowId, executionId: execution.id });
    const flowPrefix = prefix.slice(0, prefix.length - `${encodeURIComponent(execution.id)}/`.length);
    const inherited = execution.restartedFrom !== null && uri.startsWith(flowPrefix) && refersTo(execution, uri);
    if (!uri.startsWith(prefix) && !inherited) {
      throw new SluiceError('SLU_STORAGE_INVALID_URI', { uri: path, reason: `it is not a file of execution ${id} (its files are under ${prefix})` }, { id });
    }
    const info = await storage.stat(uri);
    if (!info) throw new SluiceError('SLU_STORAGE_NOT_FOUND', { uri: path }, { id });
    return { uri, segments, info };
  }
};
