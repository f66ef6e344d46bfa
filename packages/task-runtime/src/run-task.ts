/**
 * Runs ONE task on a worker: builds its TaskContext, enforces its timeout and the kill signal, masks secrets, and
 * turns whatever happens into a {@link TaskRunOutcome}. A WorkingDirectory (any definition with
 * `runsChildrenAsOneJob`) also gets `runChild`, which runs each child through this same machinery, in the same
 * directory, as its own task run.
 *
 * How a run ends:
 * - `disabled: true` → SKIPPED; nothing runs and no directory is created.
 * - `run` resolves → SUCCESS (or WARNING when the task says so), with masked outputs.
 * - `run` rejects → FAILED with the error (a non-Sluice error becomes `SLU_TASK_FAILED`); outputs are the error's
 *   `details.outputs` when it carries some (a failed command still reports its exit code).
 * - the timeout elapses → FAILED with `SLU_TASK_TIMEOUT` (as Kestra: a timeout is a failure, so it is retried).
 * - the caller's signal aborts → KILLED with `SLU_TASK_KILLED`.
 * - the caller's `startGate` rejects → FAILED with its error; the task's code never started.
 * On timeout or kill the task's signal aborts; it gets `abortGracePeriodMs` to stop and clean up, after which the
 * outcome is reported anyway (the runner contract promises to wait for its processes; a misbehaving task must not
 * hold the worker forever).
 *
 * `runTask` never rejects: setup problems (an unknown task type, a bad `timeout`, an unwritable `workRoot`) are
 * FAILED outcomes too.
 */
import { mkdir } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { evaluateExpression, LOG_LEVELS, parseDuration, renderValue, SluiceError, startTimer } from '@sluice/core';
import type { ErrorCode, ExpressionFunction, LogLevel, TaskSpec } from '@sluice/core';
import type {
  ChildOutcome,
  ExecutionsAccess,
  KvAccess,
  MetricEntry,
  Registry,
  Runner,
  RunnerProvider,
  TaskContext,
  TaskDefinition,
  TaskLogger,
  TaskResult,
} from '@sluice/plugin-api';
import type { Storage } from '@sluice/storage';
import { kvFunction } from './kv-function.js';
import { Masker } from './masker.js';
import { DEFAULT_READ_MAX_BYTES, readText } from './read-function.js';
import { createRunnerProvider, type RuntimeRunners } from './runner-provider.js';
import { createSecretProvider, type SecretProvider } from './secrets.js';
import { createTaskStorage, parentScope } from './task-storage.js';
import { createWorkingDirectoryPool, type WorkingDirectoryPool } from './working-directories.js';

/**
 * How a task run ended. Compatibility: the worker publishes this on the queue and the scheduler stores it, so
 * fields are added, never renamed; dates are ISO-8601 strings so the object is JSON as is.
 */
export interface TaskRunOutcome {
  readonly taskRunId: string;
  readonly taskId: string;
  /** Set for the children of a WorkingDirectory. */
  readonly parentTaskRunId?: string;
  /** 1-based attempt number. */
  readonly attempt: number;
  readonly state: TaskRunState;
  /** The task's outputs, secrets masked. Empty when it produced none. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** For FAILED and KILLED: what went wrong, secrets masked. */
  readonly error?: TaskRunError;
  readonly startedAt: string;
  readonly endedAt: string;
}

export type TaskRunState = 'SUCCESS' | 'WARNING' | 'FAILED' | 'KILLED' | 'SKIPPED';

/** An error as the API reports it (`SluiceError.toJSON()`). */
export interface TaskRunError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** One log line. Compatibility: queued to the scheduler and stored; add fields, never rename. */
export interface TaskLogEntry {
  readonly taskRunId: string;
  readonly taskId: string;
  readonly level: LogLevel;
  /** Secrets masked. */
  readonly message: string;
  /** ISO-8601. */
  readonly timestamp: string;
}

/** A metric a task recorded, with where and when. */
export interface TaskMetricEntry extends MetricEntry {
  readonly taskRunId: string;
  readonly taskId: string;
  /** ISO-8601. */
  readonly timestamp: string;
}

/** A WorkingDirectory child that is about to run. */
export interface ChildTaskRunStart {
  readonly taskRunId: string;
  readonly taskId: string;
  readonly parentTaskRunId: string;
  readonly attempt: number;
  /** ISO-8601. */
  readonly startedAt: string;
}

/** The variables templates see (`{{ inputs.x }}`); `taskrun` and `task` are added by the runtime. */
export interface TaskVariables {
  readonly inputs?: Readonly<Record<string, unknown>>;
  /** Outputs of earlier task runs by task id (`outputs.clone.directory`). */
  readonly outputs?: Readonly<Record<string, unknown>>;
  readonly vars?: Readonly<Record<string, unknown>>;
  readonly flow?: Readonly<Record<string, unknown>>;
  readonly execution?: Readonly<Record<string, unknown>>;
  readonly labels?: Readonly<Record<string, unknown>>;
  readonly [name: string]: unknown;
}

export interface RunTaskOptions {
  readonly definition: TaskDefinition;
  /** The task as written in the flow (expressions not rendered: the task renders what it uses). */
  readonly task: TaskSpec;
  readonly taskRunId: string;
  /** The task run of the flowable this one runs under (the scheduler's tree), given to the task as `taskRun.parentTaskRunId`. */
  readonly parentTaskRunId?: string;
  /** 1-based. `taskrun.attemptsCount` is `attempt - 1`, the number of earlier attempts. */
  readonly attempt: number;
  readonly execution: { readonly id: string; readonly namespace: string; readonly flowId: string; readonly flowRevision: number };
  readonly variables: TaskVariables;
  /** Values masked in this run's logs and outputs from the start (SECRET inputs), as `secret()` values are. */
  readonly masked?: readonly string[];
  /** Run in this existing directory (created if missing) and keep it. Default: a fresh one, removed afterwards. */
  readonly workingDirectory?: string;
  /** Where fresh working directories are created. Default: the OS temporary directory. Not used with `workingDirectories`. */
  readonly workRoot?: string;
  /**
   * Where the fresh working directory comes from and goes back to (a worker's pool: an empty directory is kept for a
   * later task rather than removed and made again). Default: one made under `workRoot`, removed afterwards.
   */
  readonly workingDirectories?: WorkingDirectoryPool;
  readonly storage: Storage;
  /** Runner registry and the worker's settings per runner type; see {@link createRunnerProvider}. */
  readonly runners: RuntimeRunners;
  /** Task definitions, for a WorkingDirectory's children. */
  readonly tasks: Registry<TaskDefinition>;
  /** The worker's environment, for `secret()` (`SECRET_X` base64, `SLUICE_SECRET_X` plain). */
  readonly secrets: Readonly<Record<string, string | undefined>>;
  /**
   * The execution store, as `context.executions` of the task and of a WorkingDirectory's children (`log.Fetch`,
   * `execution.Resume`). Absent: those tasks fail, saying where they can run.
   */
  readonly executions?: ExecutionsAccess;
  /**
   * The KV store: `kv()` in templates and `context.kv` of the task and its children (`kv.*`, `state.*`). Absent:
   * those fail with `SLU_KV_UNAVAILABLE`.
   */
  readonly kv?: KvAccess;
  /** Kill: aborting it stops the task (and its children) and ends it KILLED. */
  readonly signal?: AbortSignal;
  /**
   * The task's code starts only once this resolves. It is awaited after the working directory and the context are
   * ready, right before the definition's `run` (so before any process, container or WorkingDirectory child); for a
   * definition that prepares before its start (`preparesBeforeStart`: Commands, Script), before each of its runners'
   * `run` instead, so that its rendering and input files overlap the wait too: a
   * caller can overlap a check of its own (the worker's "was the execution killed?") with that preparation instead of
   * making it wait. If it rejects, the task does not run and ends FAILED with that error; a signal that aborts
   * meanwhile ends the wait at once and the task KILLED. The wait counts toward the task's `timeout`. A disabled
   * task, and a run whose setup fails before that point, end without waiting for it.
   */
  readonly startGate?: Promise<void>;
  /**
   * Given, runTask does not wait for the removal of the fresh working directory it made: it returns the outcome as
   * soon as the task ended and hands the removal here, so the caller can report the outcome first. The removal starts
   * in a later turn of the event loop (setImmediate), once the caller has sent the outcome on its way: an empty
   * directory's one rmdir(2), which blocks the event loop for as long as the file system's journal makes it wait (up
   * to milliseconds while a database on the same disk commits), then overlaps the report's round trip instead of
   * delaying it; a directory with files left goes the recursive way, through the thread pool. With
   * `workingDirectories`, the directory goes back to that pool instead (kept when the task left it empty). The
   * promise never rejects; a removal that fails logs its WARN line through `onLog`, after the outcome. Not called
   * when there is nothing to remove (a `workingDirectory` given, a disabled task, a directory that could not be made).
   */
  readonly onCleanup?: (removal: Promise<void>) => void;
  /** How long a task may take to stop after its signal aborts before its outcome is reported anyway. Default 60 s. */
  readonly abortGracePeriodMs?: number;
  /** Largest file `read()` accepts. Default 10 MiB. */
  readonly readMaxBytes?: number;
  /** Ids of children's task runs. Default `{parentTaskRunId}.{childTaskId}` (`.2`, `.3`... when a child runs again). */
  readonly childTaskRunId?: (parentTaskRunId: string, child: TaskSpec) => string;
  /** The clock, for timestamps and `now()`. */
  readonly now?: () => Date;
  /** Every log line of the task and its children, masked, at or above the task's `logLevel`. */
  onLog(entry: TaskLogEntry): void;
  onChildStart?(child: ChildTaskRunStart): void;
  onChildEnd?(outcome: TaskRunOutcome): void;
  onMetric?(metric: TaskMetricEntry): void;
}

const DEFAULT_ABORT_GRACE_MS = 60_000;

/** What a task and its children share: one job, one masker, one runner cache. */
interface Job {
  readonly options: RunTaskOptions;
  readonly masker: Masker;
  readonly secrets: SecretProvider;
  readonly runners: RunnerProvider;
  readonly now: () => Date;
}

/** One task run inside a job. */
interface Run {
  readonly task: TaskSpec;
  readonly definition?: TaskDefinition;
  readonly taskRunId: string;
  readonly attempt: number;
  readonly parentTaskRunId?: string;
  readonly variables: TaskVariables;
  readonly workingDirectory: string;
  /** Aborted on kill (or the parent's timeout). */
  readonly signal?: AbortSignal;
  /** The job's `startGate`: only the top task run waits for it (its children start from its `run`). */
  readonly startGate?: Promise<void>;
}

/** Run one task (and, for a WorkingDirectory, its children). Never rejects. */
export async function runTask(options: RunTaskOptions): Promise<TaskRunOutcome> {
  const job: Job = {
    options,
    masker: new Masker(),
    secrets: createSecretProvider(options.secrets),
    runners: createRunnerProvider(options.runners),
    now: options.now ?? (() => new Date()),
  };
  for (const value of options.masked ?? []) job.masker.add(value);
  // A run that ends before it waits for the gate (disabled, setup failed) must not leave its rejection unhandled.
  options.startGate?.catch(() => undefined);
  const run = {
    task: options.task,
    definition: options.definition,
    taskRunId: options.taskRunId,
    attempt: options.attempt,
    variables: options.variables,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.startGate ? { startGate: options.startGate } : {}),
  };
  // No working directory for a disabled task, nor for one that runs in the event loop and writes no file (Log,
  // Return...: TaskDefinition.inProcess) unless one is given.
  const inProcess = options.definition?.inProcess === true && options.workingDirectory === undefined;
  if (options.task.disabled === true || inProcess) return (await runOne(job, { ...run, workingDirectory: '' })).outcome;

  const owned = options.workingDirectory === undefined;
  const directories = options.workingDirectories ?? createWorkingDirectoryPool({ ...(options.workRoot !== undefined ? { root: options.workRoot } : {}), max: 0 });
  let workingDirectory: string;
  try {
    if (options.workingDirectory === undefined) {
      workingDirectory = directories.take();
    } else {
      workingDirectory = options.workingDirectory;
      await mkdir(workingDirectory, { recursive: true });
    }
  } catch (error) {
    const at = job.now().toISOString();
    return failedBeforeStart(job, run, error, at);
  }
  try {
    return (await runOne(job, { ...run, workingDirectory })).outcome;
  } finally {
    if (owned) {
      const removal = (options.onCleanup ? nextTurn() : Promise.resolve())
        .then(() => directories.give(workingDirectory))
        .catch((error: unknown) => {
          emitLog(job, run, 'WARN', `could not remove the working directory ${workingDirectory}: ${error instanceof Error ? error.message : String(error)}`);
        });
      if (options.onCleanup) options.onCleanup(removal);
      else await removal;
    }
  }
}

/** `runners` whose runs wait for `waitForStart` first (TaskDefinition.preparesBeforeStart). */
function gatedRunners(runners: RunnerProvider, waitForStart: () => Promise<void>): RunnerProvider {
  // One wrapper per runner: `get` answers the same object for the same runner, as the provider does.
  const gated = new Map<Runner, Runner>();
  return {
    definitions: runners.definitions,
    get(type: string): Runner {
      const runner = runners.get(type);
      let wrapper = gated.get(runner);
      if (!wrapper) {
        wrapper = {
          run: async (command, output, signal) => {
            await waitForStart();
            signal.throwIfAborted();
            return runner.run(command, output, signal);
          },
        };
        gated.set(runner, wrapper);
      }
      return wrapper;
    },
  };
}

function failedBeforeStart(job: Job, run: Omit<Run, 'workingDirectory'>, error: unknown, at: string): TaskRunOutcome {
  const masked = maskError(job.masker, toSluiceError(error, run.task.id));
  emitLog(job, run, 'ERROR', masked.message);
  return {
    taskRunId: run.taskRunId,
    taskId: run.task.id,
    attempt: run.attempt,
    state: 'FAILED',
    outputs: {},
    error: masked.toJSON(),
    startedAt: at,
    endedAt: at,
  };
}

function toSluiceError(error: unknown, taskId: string): SluiceError {
  if (error instanceof SluiceError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new SluiceError('SLU_TASK_FAILED', { taskId, reason }, {}, { cause: error });
}

/** The same error with secrets masked in its parameters (hence its message) and details; no cause (it may leak). */
function maskError(masker: Masker, error: SluiceError): SluiceError {
  return new SluiceError(error.code, masker.maskDeep(error.params), masker.maskDeep(error.details));
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function emitLog(job: Job, run: Pick<Run, 'taskRunId' | 'task'>, level: LogLevel, message: string): void {
  const threshold = run.task.logLevel ? LOG_LEVELS.indexOf(run.task.logLevel) : 0;
  if (LOG_LEVELS.indexOf(level) < threshold) return;
  job.options.onLog({
    taskRunId: run.taskRunId,
    taskId: run.task.id,
    level,
    message: job.masker.mask(typeof message === 'string' ? message : String(message)),
    timestamp: job.now().toISOString(),
  });
}

/**
 * Wait for the task; once `signal` aborts, wait at most `graceMs` more. Resolves with the result, rejects with the
 * task's error or — whenever the signal aborted, whatever the task did — with the abort reason.
 */
async function settleOrAbort(running: Promise<TaskResult>, signal: AbortSignal, graceMs: number): Promise<TaskResult> {
  let cancelGrace: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  const graceOver = new Promise<void>((resolve) => {
    onAbort = () => {
      cancelGrace = startTimer(graceMs, resolve);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const settled = running.then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  try {
    const first = await Promise.race([settled, graceOver]);
    if (signal.aborted) throw signal.reason;
    if (first === undefined) throw signal.reason; // unreachable: graceOver resolves only after an abort
    if (!first.ok) throw first.error;
    return first.result;
  } finally {
    cancelGrace?.();
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Resolves when `gate` does; rejects with its error, or with the abort reason as soon as `signal` aborts (a kill or
 * the timeout must not wait for a gate that is slow to answer).
 */
async function passGate(gate: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw signal.reason;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([gate, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

async function runOne(job: Job, run: Run): Promise<{ outcome: TaskRunOutcome; error?: SluiceError }> {
  const { task, taskRunId } = run;
  const startedAt = job.now().toISOString();
  const base = {
    taskRunId,
    taskId: task.id,
    ...(run.parentTaskRunId !== undefined ? { parentTaskRunId: run.parentTaskRunId } : {}),
    attempt: run.attempt,
    startedAt,
  };
  if (task.disabled === true) return { outcome: { ...base, state: 'SKIPPED', outputs: {}, endedAt: startedAt } };

  let open = true;
  const log = (level: LogLevel, message: string): void => {
    // A task still logging after its outcome was reported (it ignored its signal) is not heard any more.
    if (open) emitLog(job, run, level, message);
  };
  const controller = new AbortController();
  const onKill = (): void => controller.abort(new SluiceError('SLU_TASK_KILLED', { taskId: task.id, reason: '' }));
  let cancelTimeout: (() => void) | undefined;
  try {
    if (run.signal?.aborted) onKill();
    else run.signal?.addEventListener('abort', onKill, { once: true });
    const definition = run.definition ?? job.options.tasks.get(task.type);
    const runTaskFunction = definition.run?.bind(definition);
    if (!runTaskFunction) {
      throw new SluiceError('SLU_PLUGIN_INVALID_DEFINITION', { kind: 'task', type: definition.type, reason: 'it has no run(): a worker cannot run it' });
    }
    // A task that prepares before its start (TaskDefinition.preparesBeforeStart) is called at once; its runners wait.
    const gate = run.startGate;
    const atRunner = gate !== undefined && definition.preparesBeforeStart === true;
    const context = buildContext(job, run, definition, controller.signal, log, atRunner ? () => passGate(gate, controller.signal) : undefined);
    if (task.timeout !== undefined) {
      const timeout = String(await context.render(task.timeout));
      const ms = parseDuration(timeout);
      cancelTimeout = startTimer(ms, () => controller.abort(new SluiceError('SLU_TASK_TIMEOUT', { taskId: task.id, timeout })));
    }
    if (gate && !atRunner) await passGate(gate, controller.signal);
    if (controller.signal.aborted) throw controller.signal.reason;
    const running = Promise.resolve().then(() => runTaskFunction(task, context));
    const result = await settleOrAbort(running, controller.signal, job.options.abortGracePeriodMs ?? DEFAULT_ABORT_GRACE_MS);
    const outputs = job.masker.maskDeep(isPlainRecord(result?.outputs) ? result.outputs : {});
    const state = result?.state === 'WARNING' ? 'WARNING' : 'SUCCESS';
    return { outcome: { ...base, state, outputs, endedAt: job.now().toISOString() } };
  } catch (thrown) {
    // Once the signal aborted, its reason is what happened, whatever the task rejected with on its way out.
    const cause = controller.signal.aborted ? controller.signal.reason : thrown;
    const error = maskError(job.masker, toSluiceError(cause, task.id));
    const state = controller.signal.aborted && error.code === 'SLU_TASK_KILLED' ? 'KILLED' : 'FAILED';
    log('ERROR', error.message);
    const failedOutputs = error.details.outputs;
    return {
      outcome: {
        ...base,
        state,
        outputs: isPlainRecord(failedOutputs) ? failedOutputs : {},
        error: error.toJSON(),
        endedAt: job.now().toISOString(),
      },
      error,
    };
  } finally {
    open = false;
    cancelTimeout?.();
    run.signal?.removeEventListener('abort', onKill);
  }
}

function buildContext(
  job: Job,
  run: Run,
  definition: TaskDefinition,
  signal: AbortSignal,
  log: (level: LogLevel, message: string) => void,
  waitForStart?: () => Promise<void>,
): TaskContext {
  const { options } = job;
  const { task, taskRunId } = run;
  const scope = {
    namespace: options.execution.namespace,
    flowId: options.execution.flowId,
    executionId: options.execution.id,
    taskId: task.id,
    taskRunId,
    // A subflow's child may read its parent's files (the scheduler writes `trigger` with the parent's ids).
    parent: parentScope(options.variables.trigger),
  };
  const functions: Record<string, ExpressionFunction> = {
    secret: ([name]) => {
      const value = job.secrets.secret(typeof name === 'string' ? name : '');
      job.masker.add(value);
      return value;
    },
    read: ([uri]) => readText(options.storage, scope, uri, options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES),
    kv: kvFunction(options.kv, options.execution.namespace),
  };
  const variables = {
    ...run.variables,
    task: { id: task.id, type: task.type },
    // The scheduler sends the run's place in the tree (`value`, `iteration`, `parentId`) in `taskrun`.
    taskrun: {
      ...(isRecord(run.variables.taskrun) ? run.variables.taskrun : {}),
      id: taskRunId,
      attemptsCount: run.attempt - 1,
      ...(run.parentTaskRunId !== undefined ? { parentId: run.parentTaskRunId } : {}),
    },
  };
  const renderOptions = { functions, now: job.now };
  const logger: TaskLogger = {
    log,
    debug: (message) => log('DEBUG', message),
    info: (message) => log('INFO', message),
    warn: (message) => log('WARN', message),
    error: (message) => log('ERROR', message),
  };
  const context: TaskContext = {
    execution: { ...options.execution },
    taskRun: {
      id: taskRunId,
      taskId: task.id,
      attempt: run.attempt,
      // A WorkingDirectory's child names its WorkingDirectory; a top-level job the flowable above it, when it has one.
      ...(run.parentTaskRunId !== undefined ? { parentTaskRunId: run.parentTaskRunId } : options.parentTaskRunId !== undefined && taskRunId === options.taskRunId ? { parentTaskRunId: options.parentTaskRunId } : {}),
    },
    workingDirectory: run.workingDirectory,
    signal,
    logger,
    storage: createTaskStorage(options.storage, scope),
    runners: waitForStart ? gatedRunners(job.runners, waitForStart) : job.runners,
    render: <V>(value: V) => renderValue(value, variables, renderOptions) as Promise<V>,
    // One `{{ expression }}` as its value (Kestra's renderTyped); anything else as `render`.
    renderTyped: (value) => (typeof value === 'string' && /^\s*\{\{/.test(value) ? evaluateExpression(value, variables, renderOptions) : renderValue(value, variables, renderOptions)),
    metric: (entry) => options.onMetric?.({ ...entry, taskRunId, taskId: task.id, timestamp: job.now().toISOString() }),
    ...(definition.runsChildrenAsOneJob ? { runChild: childRunner(job, run, signal) } : {}),
    ...(options.executions ? { executions: options.executions } : {}),
    ...(options.kv ? { kv: options.kv } : {}),
  };
  return context;
}

/**
 * `runChild` of a WorkingDirectory: children run one after the other, in the parent's directory, under the
 * parent's signal (so a kill or the parent's timeout stops them: they end KILLED), each as its own task run with
 * the parent's attempt number. Each child sees the outputs of the children before it.
 */
function childRunner(job: Job, parent: Run, parentSignal: AbortSignal): (task: TaskSpec) => Promise<ChildOutcome> {
  const { options } = job;
  const childOutputs: Record<string, unknown> = {};
  const seen = new Map<string, number>();
  const childId = (child: TaskSpec): string => {
    if (options.childTaskRunId) return options.childTaskRunId(parent.taskRunId, child);
    const count = (seen.get(child.id) ?? 0) + 1;
    seen.set(child.id, count);
    return count === 1 ? `${parent.taskRunId}.${child.id}` : `${parent.taskRunId}.${child.id}.${count}`;
  };
  return async (child: TaskSpec): Promise<ChildOutcome> => {
    const taskRunId = childId(child);
    options.onChildStart?.({
      taskRunId,
      taskId: child.id,
      parentTaskRunId: parent.taskRunId,
      attempt: parent.attempt,
      startedAt: job.now().toISOString(),
    });
    const { outcome, error } = await runOne(job, {
      task: child,
      taskRunId,
      attempt: parent.attempt,
      parentTaskRunId: parent.taskRunId,
      variables: { ...parent.variables, outputs: { ...parent.variables.outputs, ...childOutputs } },
      workingDirectory: parent.workingDirectory,
      signal: parentSignal,
    });
    if (outcome.state !== 'SKIPPED') childOutputs[child.id] = outcome.outputs;
    options.onChildEnd?.(outcome);
    return {
      taskId: child.id,
      state: outcome.state,
      ...(outcome.state === 'SKIPPED' ? {} : { outputs: outcome.outputs }),
      ...(error ? { error } : {}),
    };
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
