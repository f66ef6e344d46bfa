import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '@sluice/core';
import { isTerminalExecutionState } from '@sluice/engine';
import { ApiClient, apiPath, reportingApiErrors } from '../api-client.js';
import type { ServerOptions } from '../api-client.js';
import type { CliIO } from '../io.js';

export interface ExecuteOptions {
  readonly server: ServerOptions;
  readonly namespace: string;
  readonly flowId: string;
  /** `key=value`; `key=@path` sends the file as a FILE input (`key=@@text` sends the text `@text`). */
  readonly inputs?: readonly string[];
  /** `key=value` */
  readonly labels?: readonly string[];
  /** Poll until the execution ends, printing its log. */
  readonly wait?: boolean;
  readonly output?: 'text' | 'json';
  /** Stops the waiting (exit 130, the execution keeps running). Default: Ctrl-C. */
  readonly signal?: AbortSignal;
}

/** An execution as the API returns it (only what is read here). */
interface ExecutionJson {
  readonly id: string;
  readonly namespace?: string;
  readonly flowId?: string;
  readonly state: { readonly current: string; readonly startDate?: string; readonly endDate?: string };
  /** The first execution of its retry chain (retry behavior CREATE_NEW_EXECUTION), when it is a retry. */
  readonly originalId?: string;
  readonly metadata?: { readonly attemptNumber?: number };
  readonly taskRunList: readonly { readonly taskId: string; readonly value?: string | null; readonly outputs?: Record<string, unknown> }[];
  readonly outputs?: Record<string, unknown>;
}

/** A log line as the API returns it. */
export interface LogJson {
  readonly taskId?: string;
  readonly timestamp: string;
  readonly level: string;
  readonly message: string;
}

const SUCCESSFUL = new Set(['SUCCESS', 'WARNING']);
/** Poll every 200 ms for the first 10 s, then every second. */
const FAST_POLL_MS = 200;
const SLOW_POLL_MS = 1000;
const FAST_POLL_FOR_MS = 10_000;

/**
 * `sluice execute NAMESPACE FLOW_ID`: create an execution (inputs as multipart form fields, files as file parts) and
 * print its id; with `wait`, follow it to its end (and a retry as a new execution to that one's end; a PAUSED
 * execution is reported and waited for until it is resumed): 0 on SUCCESS or WARNING, 1 otherwise, 130 when
 * interrupted.
 */
export async function executeCommand(options: ExecuteOptions, io: CliIO): Promise<number> {
  const form = await formOf(options.inputs ?? []);
  const query = new URLSearchParams((options.labels ?? []).map((text): [string, string] => ['labels', label(text)])).toString();
  const path = `${apiPath('api', 'v1', 'executions', options.namespace, options.flowId)}${query ? `?${query}` : ''}`;
  const json = options.output === 'json';
  const api = new ApiClient(options.server);
  return reportingApiErrors(io, async () => {
    const created = await api.request<ExecutionJson>('POST', path, form ? { body: form } : {});
    if (json && !options.wait) io.stdout(JSON.stringify(created, null, 2));
    if (!json) io.stdout(`execution ${created.id} created (${created.state.current})`);
    if (!options.wait) return 0;

    let last = created;
    const ended = await interruptible(options.signal, async (signal) => {
      const started = Date.now();
      for (;;) {
        const printLogs = json ? async () => undefined : logPrinter(api, last.id, io);
        let paused = false;
        for (;;) {
          // The state first: every line stored before the execution ended is then read below.
          last = await api.request<ExecutionJson>('GET', apiPath('api', 'v1', 'executions', last.id), { signal });
          await printLogs(signal);
          if (isTerminalExecutionState(last.state.current)) break;
          // PAUSED is not an end: say so once per pause (with --output json on stderr, stdout being the JSON), and wait.
          const nowPaused = last.state.current === 'PAUSED';
          if (nowPaused && !paused && json) io.stderr(pausedLine(last.id));
          else if (nowPaused && !paused) io.stdout(pausedLine(last.id));
          else if (!nowPaused && paused && !json) io.stdout(`execution ${last.id} resumed (${last.state.current})`);
          paused = nowPaused;
          await sleep(!paused && Date.now() - started < FAST_POLL_FOR_MS ? FAST_POLL_MS : SLOW_POLL_MS, undefined, { signal });
        }
        // A retry with behavior CREATE_NEW_EXECUTION: the flow goes on as a new execution, which decides the outcome.
        const retry = last.state.current === 'RETRIED' ? await retryOf(api, last, signal) : undefined;
        if (!retry) return last;
        if (!json) io.stdout(`execution ${last.id} RETRIED: following execution ${retry.id} (attempt ${retry.metadata?.attemptNumber ?? '?'})`);
        last = retry;
      }
    });
    if (ended === undefined) {
      io.stderr(`sluice: stopped waiting; execution ${last.id} is still ${last.state.current} (it was not killed)`);
      return 130;
    }
    if (json) io.stdout(JSON.stringify(ended, null, 2));
    else for (const line of summary(ended)) io.stdout(line);
    return SUCCESSFUL.has(ended.state.current) ? 0 : 1;
  });
}

/** What `execute --wait` prints when the execution it follows is PAUSED (it keeps waiting). */
export function pausedLine(executionId: string): string {
  return `execution ${executionId} PAUSED: waiting for a resume (sluice resume ${executionId}, or POST /api/v1/executions/${executionId}/resume)`;
}

export interface ResumeOptions {
  readonly server: ServerOptions;
  readonly executionId: string;
  /** The paused task's `onResume` inputs, as `execute` takes flow inputs: `key=value`, `key=@path` for a FILE input. */
  readonly inputs?: readonly string[];
}

/**
 * `sluice resume EXECUTION_ID`: resume a PAUSED execution (`POST /api/v1/executions/{id}/resume`, inputs as multipart
 * form fields and files as file parts, as `execute` sends them), then print the state it is in: 0 resumed, 1 an API
 * error (unknown execution, not PAUSED, invalid inputs), 2 usage error, unreadable file or unreachable server.
 */
export async function resumeCommand(options: ResumeOptions, io: CliIO): Promise<number> {
  const form = await formOf(options.inputs ?? []);
  const api = new ApiClient(options.server);
  const { executionId } = options;
  return reportingApiErrors(io, async () => {
    await api.request<undefined>('POST', apiPath('api', 'v1', 'executions', executionId, 'resume'), form ? { body: form } : {});
    const now = await api.request<ExecutionJson>('GET', apiPath('api', 'v1', 'executions', executionId));
    const state = now.state.current;
    io.stdout(`execution ${executionId} resumed (${state === 'PAUSED' ? 'still PAUSED: another task is paused' : state})`);
    return 0;
  });
}

/**
 * The execution that retries `retried` (ended RETRIED): of the same flow, in the same retry chain, the next attempt.
 * The scheduler stores it in the transaction that ends `retried`, with `retried`'s end as its start date.
 */
async function retryOf(api: ApiClient, retried: ExecutionJson, signal: AbortSignal): Promise<ExecutionJson | undefined> {
  const { namespace, flowId } = retried;
  const since = retried.state.endDate;
  if (namespace === undefined || flowId === undefined || since === undefined) return undefined;
  const chain = retried.originalId ?? retried.id;
  const attempt = (retried.metadata?.attemptNumber ?? 1) + 1;
  const query = new URLSearchParams({ namespace, flowId, startDate: since, size: '100' }).toString();
  const found = await api.request<{ results: ExecutionJson[] }>('GET', `${apiPath('api', 'v1', 'executions', 'search')}?${query}`, { signal });
  return found.results.find((e) => e.originalId === chain && e.metadata?.attemptNumber === attempt);
}

/** `HH:MM:SS.mmm LEVEL taskId  message` (local time; no task id for a line of the execution itself). */
export function logLine(line: LogJson): string {
  const t = new Date(line.timestamp);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
  return `${time} ${line.level.padEnd(5)} ${line.taskId ? `${line.taskId}  ` : ''}${line.message}`;
}

/**
 * Prints the lines it has not printed yet. `GET /logs/{id}` has no cursor, so every poll reads the whole log; a line
 * is new when it appears more times than it was printed (lines may arrive late with an earlier timestamp).
 */
function logPrinter(api: ApiClient, executionId: string, io: CliIO): (signal: AbortSignal) => Promise<void> {
  const printed = new Map<string, number>();
  return async (signal) => {
    const lines = await api.request<LogJson[]>('GET', apiPath('api', 'v1', 'logs', executionId), { signal });
    const seen = new Map<string, number>();
    for (const line of lines) {
      const key = JSON.stringify(line);
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      if (count <= (printed.get(key) ?? 0)) continue;
      printed.set(key, count);
      io.stdout(logLine(line));
    }
  };
}

/** `execution ID STATE in 1.2 s`, then one line per output of each task run and of the flow. */
function summary(execution: ExecutionJson): string[] {
  const { startDate, endDate } = execution.state;
  const ms = (endDate ? Date.parse(endDate) : Date.now()) - (startDate ? Date.parse(startDate) : Date.now());
  const lines = [`execution ${execution.id} ${execution.state.current} in ${(Math.max(0, ms) / 1000).toFixed(1)} s`];
  for (const run of execution.taskRunList) {
    const name = run.value ? `${run.taskId}[${run.value}]` : run.taskId;
    for (const [key, value] of Object.entries(run.outputs ?? {})) lines.push(`  ${name}.${key} = ${JSON.stringify(value)}`);
  }
  for (const [key, value] of Object.entries(execution.outputs ?? {})) lines.push(`  outputs.${key} = ${JSON.stringify(value)}`);
  return lines;
}

/** `run(signal)`, or undefined once the signal (default: Ctrl-C) aborts it. */
async function interruptible<T>(given: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  if (given?.aborted) abort();
  else if (given) given.addEventListener('abort', abort, { once: true });
  else process.once('SIGINT', abort);
  try {
    return await run(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return undefined;
    throw error;
  } finally {
    given?.removeEventListener('abort', abort);
    process.off('SIGINT', abort);
  }
}

/** The inputs as a multipart form (undefined when there are none: the request then has no body). */
async function formOf(inputs: readonly string[]): Promise<FormData | undefined> {
  if (inputs.length === 0) return undefined;
  const form = new FormData();
  for (const text of inputs) {
    const [key, value] = keyValue('--input', text, 'key=value, or key=@path for a FILE input');
    if (!value.startsWith('@') || value.startsWith('@@')) {
      form.append(key, value.startsWith('@@') ? value.slice(1) : value);
      continue;
    }
    const file = value.slice(1);
    if (file === '') throw usage(`--input "${text}" needs a file path after @`);
    if (!(await stat(file).catch(() => undefined))?.isFile()) throw new SluiceError('SLU_CLI_FILE_NOT_FOUND', { path: file });
    form.append(key, await openAsBlob(file), basename(file)); // streamed from disk, never read into memory
  }
  return form;
}

/** `key=value` as the API's `key:value` label. */
function label(text: string): string {
  const [key, value] = keyValue('--label', text, 'key=value');
  if (key.includes(':')) throw usage(`--label "${text}": a label key cannot contain ":"`);
  return `${key}:${value}`;
}

function keyValue(option: string, text: string, form: string): [string, string] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw usage(`${option} "${text}" must be written ${form}`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}

function usage(reason: string): SluiceError {
  return new SluiceError('SLU_CLI_USAGE', { reason });
}
