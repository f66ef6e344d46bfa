/**
 * The plugin contracts: what a task, a runner and a trigger provide, and what a task receives when it runs.
 *
 * A definition is data first (type, aliases, JSON Schema) so flows can be validated anywhere — CLI, API, editor —
 * without loading any runtime code. Running is a separate, optional capability:
 * - tasks get a `TaskContext` and never import a runner: they ask `context.runners` for one;
 * - runners know nothing of tasks: they run a `RunnerCommand` and stream lines back.
 *
 * What these contracts leave out, on purpose: scheduling, retries and timeouts (the scheduler and worker own them;
 * a task only sees its `AbortSignal`), persistence (tasks return outputs, the worker stores them) and secrets
 * (rendering and masking happen in the context, before and after the task sees values).
 */
import type { KvType, KvValue, LogLevel, RunnerSchema, TaskSchema, TaskSpec, TriggerSchema } from '@sluice/core';
import type { Registry } from './registry.js';

/** Log lines a task emits; the worker batches them and masks secrets. */
export interface TaskLogger {
  log(level: LogLevel, message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Internal storage as a task sees it: `kestra:///...` URIs in the execution's own folder. */
export interface TaskStorage {
  /**
   * Upload a local file under the task run's folder (`.../tasks/{taskId}/{taskRunId}/{name}`); returns its
   * `kestra:///` URI. `name` is a relative path (`out/data.csv`); `..` or an absolute name is rejected.
   */
  putFile(localPath: string, name: string): Promise<string>;
  /** Download a `kestra:///` URI to a local path (streams; never buffers the whole file). */
  getFile(uri: string, localPath: string): Promise<void>;
}

/**
 * A metric a task records (`::{"metrics":[...]}::` lines end up here), as Kestra's: a `counter` adds up, a `timer` is a
 * duration in seconds (several add up), a `gauge` is a level whose last value wins.
 */
export interface MetricEntry {
  readonly name: string;
  readonly type: 'counter' | 'timer' | 'gauge';
  readonly value: number;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Everything a task may use while it runs. Local vs remote: the context is built by the worker that runs the task,
 * on that worker's machine, so `workingDirectory` is a local path there and `secret()` reads that worker's
 * environment.
 */
export interface TaskContext {
  readonly execution: { readonly id: string; readonly namespace: string; readonly flowId: string; readonly flowRevision: number };
  readonly taskRun: { readonly id: string; readonly taskId: string; readonly attempt: number; readonly parentTaskRunId?: string };
  /** An existing, empty-at-start directory owned by this task run (shared by a WorkingDirectory's children). */
  readonly workingDirectory: string;
  /** Aborted on kill or timeout: stop promptly and clean up. */
  readonly signal: AbortSignal;
  readonly logger: TaskLogger;
  readonly storage: TaskStorage;
  /** Runners by `taskRunner.type`, alias or legacy `runner` name. */
  readonly runners: RunnerProvider;
  /**
   * Render `{{ }}` expressions in a value (deep) against the run's variables (`inputs`, `outputs`, `vars`, `flow`,
   * `execution`, `taskrun`, `labels`), with `secret()` read from the worker's environment. Every secret value
   * rendered is remembered and masked (`******`) in this run's logs and outputs.
   */
  render<V>(value: V): Promise<V>;
  metric(entry: MetricEntry): void;
  /**
   * For tasks that run children as one job (WorkingDirectory): run one child task in this same working directory,
   * as its own task run (own id, state, logs, outputs). Resolves with the child's outcome; never rejects for a task
   * failure (the outcome says FAILED). Absent for ordinary tasks.
   */
  readonly runChild?: (task: TaskSpec) => Promise<ChildOutcome>;
  /**
   * The executions of this Sluice installation and their logs, for the tasks that act on executions
   * (`log.Fetch`, `execution.Resume`). Given by the worker of a Sluice server (over the API's internal routes, or
   * straight over the database in `sluice server local`); absent where the runtime has no execution store, and a
   * task that needs it then fails saying where it can run.
   */
  readonly executions?: ExecutionsAccess;
  /**
   * The KV store (the `kv.*` and `state.*` tasks; `render` gives templates `kv()` over the same store). Given by the
   * worker of a Sluice server (over the API's internal routes, or straight over the database in `sluice server
   * local`) and by `sluice run` (a file store under its data folder); absent elsewhere.
   */
  readonly kv?: KvAccess;
  /**
   * Render like `render`, except that a text that is exactly one `{{ expression }}` gives the expression's value with
   * its type (a number, a map...) instead of its text: Kestra's `renderTyped`, for properties that keep types
   * (`kv.Set`'s `value`). Absent in older runtimes: use `render` then.
   */
  renderTyped?(value: unknown): Promise<unknown>;
}

/** A key of the KV store without its value; dates are ISO-8601. */
export interface KvEntryInfo {
  readonly key: string;
  readonly creationDate: string;
  readonly updateDate: string;
  /** Absent: the key never expires. */
  readonly expirationDate?: string;
}

/** What reading a key finds: its typed value, nothing, or a value whose TTL has passed (the read deleted it). */
export type KvLookup = { readonly status: 'found'; readonly type: KvType; readonly value: unknown } | { readonly status: 'missing' } | { readonly status: 'expired' };

/**
 * The KV store as a task sees it (see `TaskContext.kv`), by namespace and key. Errors are `SluiceError`s:
 * `SLU_KV_INVALID_KEY`, `SLU_FLOW_INVALID_NAMESPACE`, `SLU_KV_VALUE_TOO_LARGE` (a value over 1 MiB),
 * `SLU_KV_INVALID_VALUE`; anything else is a failure to reach the store.
 */
export interface KvAccess {
  get(namespace: string, key: string): Promise<KvLookup>;
  /**
   * Store a value, replacing the key's (one atomic write: concurrent sets leave one value whole). With `overwrite:
   * false` a live key is left as it is and the answer is false. `ttlMs`: the key expires that long after the set.
   */
  set(namespace: string, key: string, value: KvValue, options?: { readonly ttlMs?: number; readonly overwrite?: boolean }): Promise<boolean>;
  /** Delete a key; true when a live one was there. */
  delete(namespace: string, key: string): Promise<boolean>;
  /** The namespace's live keys, sorted by key. */
  list(namespace: string): Promise<KvEntryInfo[]>;
}

/** What a task may know of an execution. */
export interface ExecutionInfo {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
  /** Its current state (`RUNNING`, `PAUSED`, `SUCCESS`...). */
  readonly state: string;
}

/** One stored log line of an execution, as Kestra's log JSON (`GET /api/v1/logs/{id}`); null fields left out. */
export interface ExecutionLogLine {
  readonly namespace: string;
  readonly flowId: string;
  readonly executionId: string;
  readonly taskId?: string;
  readonly taskRunId?: string;
  readonly attemptNumber?: number;
  /** ISO-8601. */
  readonly timestamp: string;
  readonly level: LogLevel;
  readonly message: string;
}

/** Which log lines {@link ExecutionsAccess.fetchLogs} reads. */
export interface ExecutionLogQuery {
  /** This level and the more severe ones (TRACE < DEBUG < INFO < WARN < ERROR). */
  readonly minLevel: LogLevel;
  /** Only the lines of these tasks; every line when absent or empty. */
  readonly taskIds?: readonly string[];
}

/**
 * Executions as a task sees them (see `TaskContext.executions`). Errors are `SluiceError`s:
 * `SLU_API_EXECUTION_NOT_FOUND` for an unknown id, `SLU_API_EXECUTION_NOT_PAUSED` (with `details.state`) for a resume
 * of an execution that is not PAUSED; anything else is a failure to reach the store.
 */
export interface ExecutionsAccess {
  /** The execution, or undefined when there is none with this id. */
  get(executionId: string): Promise<ExecutionInfo | undefined>;
  /**
   * Every log line of the execution that matches `query`, oldest first (by timestamp, then by the order they were
   * stored), handed to `onPage` a page at a time: never the whole log in memory. The next page is read once
   * `onPage` has resolved. An unknown execution has no lines. Stops with `signal.reason` when `signal` aborts.
   */
  fetchLogs(
    executionId: string,
    query: ExecutionLogQuery,
    onPage: (lines: readonly ExecutionLogLine[]) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * Resume a PAUSED execution as `POST /api/v1/executions/{id}/resume` does (its first PAUSED task run ends, the
   * execution goes on), except that `inputs`, when given, become that run's `onResume` output as they are: neither
   * checked nor typed against the Pause's `onResume` declarations (Kestra's Resume task).
   */
  resume(executionId: string, inputs?: Readonly<Record<string, unknown>>): Promise<void>;
  /**
   * The child executions that the task runs under task run `taskRunId` of `executionId` started and wait for (a
   * ForEachItem run, whose `_items` child started them), with their flow outputs, by batch number, handed to `onPage`
   * a page at a time. Absent in runtimes without a server.
   */
  childOutputs?(
    executionId: string,
    taskRunId: string,
    onPage: (children: readonly ChildExecutionOutputs[]) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<void>;
}

/** One child execution of a ForEachItem, as `ExecutionsAccess.childOutputs` gives it. */
export interface ChildExecutionOutputs {
  /** The batch number (1-based). */
  readonly iteration: number;
  readonly executionId: string;
  readonly state: string;
  /** Its flow outputs; absent when it has none (yet). */
  readonly outputs?: Readonly<Record<string, unknown>>;
}

/** How a child task run ended (see `TaskContext.runChild`). */
export interface ChildOutcome {
  readonly taskId: string;
  readonly state: 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'SKIPPED';
  readonly outputs?: Readonly<Record<string, unknown>>;
  /** For FAILED/KILLED: the error, as the task threw it. */
  readonly error?: Error;
}

/** The result of one task run. Outputs are stored and exposed as `outputs.<taskId>.*`. */
export interface TaskResult {
  /** SUCCESS unless stated; WARNING for a run that worked with warnings (stderr with `warningOnStdErr`). */
  readonly state?: 'SUCCESS' | 'WARNING';
  readonly outputs?: Readonly<Record<string, unknown>>;
}

/**
 * A task type. `run` is required for runnable tasks executed by a worker; flowable tasks the worker runs as one job
 * (WorkingDirectory) implement it to drive their children through `context.runChild`.
 *
 * `run` receives the task's properties as written in the flow (expressions NOT rendered: call `context.render` on
 * what you use, right before using it). It resolves with the outputs, or throws a `SluiceError`
 * (`SLU_TASK_FAILED` with `details.exitCode`, `details.outputs` ...) when the task fails. When `context.signal`
 * aborts, it stops promptly and rejects with `context.signal.reason`.
 */
export interface TaskDefinition extends TaskSchema {
  /** JSON Schema of the outputs, for docs and `/plugins`. */
  readonly outputs?: TaskSchema['properties'];
  /** Example flows (YAML) for docs. */
  readonly examples?: readonly string[];
  /**
   * The task runs in the worker's event loop and touches no file of its own: it gets no working directory
   * (`context.workingDirectory` is ''), so a run costs no directory made and removed. Core tasks such as Log, Return
   * and OutputValues. A task that writes files, starts a process or asks for a runner must not set it.
   */
  readonly inProcess?: boolean;
  /**
   * The task's `run` is called before the worker's go-ahead to start it (runTask's `startGate`: the attempt's lease
   * and the kill check), and only its runners' `run` waits for it: rendering its properties and writing files into its
   * own working directory overlap that check instead of following it. For a task whose only effect outside its
   * working directory goes through `context.runners` (Commands, Script); one that calls out otherwise before its
   * runner (HTTP, the KV store, the execution store, storage writes, a child task) must not set it. A preparation the
   * worker gives up (the lease was not taken) is never seen: its lines are dropped and its directory removed.
   */
  readonly preparesBeforeStart?: boolean;
  run?(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<TaskResult>;
}

/** One shell-style command run by a runner. Values are already rendered (no expressions left). */
export interface RunnerCommand {
  /** Default `['/bin/sh', '-c']`. */
  readonly interpreter?: readonly string[];
  readonly beforeCommands?: readonly string[];
  readonly commands: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Prepend `set -e` so the first failing command stops the script. */
  readonly failFast?: boolean;
  /** Absolute path on the worker; the runner makes it the command's working directory. */
  readonly workingDirectory: string;
  /** Container image for runners that use one (the task's `containerImage` or `docker.image`). */
  readonly image?: string;
  /** The runner's own options (`taskRunner` properties or the legacy `docker:` block). */
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface RunnerOutput {
  /** Called once per complete stdout line, as it arrives (never buffered to the end). */
  onStdout(line: string): void;
  onStderr(line: string): void;
}

export interface RunnerResult {
  readonly exitCode: number;
}

/**
 * A way to run commands.
 * - Runs `interpreter` (default `['/bin/sh', '-c']`) with ONE script: `set -e` when `failFast`, then
 *   `beforeCommands`, then `commands`, joined by newlines, in `workingDirectory`, with `env`.
 * - Streams every complete line of stdout/stderr to `output` as it arrives (UTF-8, `\n` or `\r\n` endings, the
 *   last line even without a newline, lines of any length), never buffering the whole output.
 * - A non-zero exit resolves with that `exitCode`. The promise rejects only when the command could not be run at
 *   all (missing engine, image not pullable, interpreter missing), with a `SluiceError` (`SLU_RUNNER_*`).
 * - When `signal` aborts (kill or timeout), it stops everything it started (the whole process group, the
 *   container), waits until it is gone, and rejects with `signal.reason`.
 * - It always leaves nothing behind: no process, no container, also on failure.
 *
 * Local vs remote: a runner runs on the worker that took the job; `workingDirectory` is a path on that machine.
 */
export interface Runner {
  run(command: RunnerCommand, output: RunnerOutput, signal: AbortSignal): Promise<RunnerResult>;
}

export interface RunnerDefinition extends RunnerSchema {
  /** Build a runner for one run; `options` are the worker's settings for this runner type (socket path, ...). */
  create?(options: Readonly<Record<string, unknown>>): Runner;
}

/** The runners a task may use, on this worker. */
export interface RunnerProvider {
  /** The registered runner definitions: what `selectRunner` needs to map `taskRunner` / `runner:` to a type. */
  readonly definitions: Registry<RunnerDefinition>;
  /** A runner instance by canonical type or alias, configured with this worker's settings for that type. */
  get(type: string): Runner;
}

export type TriggerDefinition = TriggerSchema;
