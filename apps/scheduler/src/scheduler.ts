/**
 * The scheduler (DESIGN.md §1): the executor. It consumes execution events and worker results, advances each
 * execution with the pure engine (`@sluice/engine`) under the execution's row lock, writes states to Postgres, and
 * enqueues ready task runs to their worker group's queue. It renders nothing and never sees a secret: workers render.
 *
 * Safety with several replicas: every change to an execution happens in `SchedulerStore.withExecution` (row lock),
 * jobs are enqueued after the transaction commits with an idempotency key (`<taskRunId>-<attempt>`), duplicate or
 * late worker messages (an attempt that is no longer current, a task run that already ended) are ignored, and
 * concurrency admission takes a per-flow advisory lock.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isRecord, isSluiceError, resolveInputs, SluiceError } from '@sluice/core';
import type { Flow } from '@sluice/core';
import type { Db, ExecutionTx, KnownExecution, LockedExecution, SchedulerTaskRun, StateEntry, StoredExecution } from '@sluice/db';
import { copyRuns, executionWireJson, findRun, KILLABLE_STATES, knownFromWire, knownNew, knownToWire, newExecutionId, newTaskRunId, runsMark, runsWrittenSince, taskRunMetricRows, upsertRun } from '@sluice/db';
import type { RunMark } from '@sluice/db';
import {
  admit,
  decide,
  executionStateFor,
  executorTaskKind,
  isTerminalExecutionState,
  isTerminalTaskRunState,
  needsAnotherDecision,
  retryDelayMs,
  retryPolicyOf,
  roleOf,
  RunIndex,
  settleCreated,
  structureOf,
  workerGroupOf,
} from '@sluice/engine';
import type { EngineAction, EngineExecution, EngineRunState, EngineTaskRun, Evaluation, ExecutionStateName, TaskRunStateName } from '@sluice/engine';
import { DEFAULT_WORKER_GROUP } from '@sluice/queue';
import { executionPrefixUri } from '@sluice/storage';
import type { ConsumeOptions, Consumer, ExecutionMessage, ExecutionUpdate, QueueDriver, ResultMessage, TaskJob, Unsubscribe, WireLogEntry } from '@sluice/queue';
import { builtInMetrics } from './builtin-metrics.js';
import { DatabaseStatus } from './database-status.js';
import type { DatabaseHealth } from './database-status.js';
import { flowOutputs } from './flow-outputs.js';
import { FlowTriggerLoop } from './flow-triggers.js';
import { applyPluginDefaults } from './plugin-defaults.js';
import type { TypeResolver } from './plugin-defaults.js';
import { Reconciler } from './reconcile.js';
import { chainProblem, CHILD_END_STATES, childLabels, forEachItemState, SUBFLOW_DYNAMIC_PROPERTIES, SUBFLOW_MAX_DEPTH, subflowRunState, subflowSpec } from './subflow.js';
import type { SubflowSpec } from './subflow.js';
import { TriggerLoop } from './triggers.js';
import { evaluate, executionOutputs, runVariables, templateVariables } from './variables.js';
import type { VariableScope } from './variables.js';
import { Watchdog } from './watchdog.js';

export interface SchedulerOptions {
  readonly db: Db;
  readonly queue: QueueDriver;
  /** Canonical type and aliases of a task type (for pluginDefaults matching). */
  readonly resolveTaskType: TypeResolver;
  /** Unique per process. Default `scheduler-<host>-<pid>-<random>`. */
  readonly id?: string;
  /**
   * Whether a worker group has a live worker (for `workerGroup.fallback`). Default: a worker of the group sent a
   * heartbeat within `workerLivenessMs` (the workers table). `sluice server local` answers for its own worker.
   */
  readonly hasLiveWorker?: (group: string) => Promise<boolean>;
  /** Default 15 s (5 missed heartbeats of 3 s). */
  readonly workerLivenessMs?: number;
  /** Messages of each channel handled at once. Default 8. */
  readonly concurrency?: number;
  /** A RUNNING task run whose worker is gone and that has not changed for this long is failed. Default 90 s. */
  readonly lostTaskAfterMs?: number;
  /** How often the watchdog looks for lost task runs. Default 5 s. */
  readonly watchdogIntervalMs?: number;
  /** How often Schedule triggers are checked. Default 1000 ms; 0 turns triggers off. */
  readonly triggerIntervalMs?: number;
  /**
   * A task run CREATED (or RETRYING) for this long whose job is not in its group's queue, or an execution CREATED,
   * RESTARTED or QUEUED this long, gets its job or event sent again (the queue lost it: see reconcile.ts). Default
   * 15 s ({@link DEFAULT_REQUEUE_AFTER_MS}); `SLUICE_REQUEUE_AFTER_MS` in `sluice server scheduler` and `local`.
   */
  readonly requeueAfterMs?: number;
  /** How often the reconciliation looks. Default 5 s (at most a third of `requeueAfterMs`). */
  readonly reconcileIntervalMs?: number;
  /**
   * The workers' task run lease TTL (their `leaseTtlMs`, default 15 s). A RUNNING task run with no job in the queue
   * and no lease held on two passes this far apart is run by nobody: its job is sent again (see reconcile.ts).
   */
  readonly workerLeaseTtlMs?: number;
  readonly log?: (line: string) => void;
  readonly now?: () => Date;
}

export interface SchedulerHealth {
  readonly status: 'UP' | 'DOWN';
  readonly checks: { readonly database: DatabaseHealth };
}

export interface Scheduler {
  readonly id: string;
  /** Start consuming, then resume every unfinished execution (after a restart, nothing is lost). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * UP, or DOWN while the database is unreachable (its queries fail with a connection error: results and events then
   * wait in the queue). Asks the database (`SELECT 1`, at most `timeoutMs`, default 2 s) when nothing else did lately.
   */
  health(options?: { readonly timeoutMs?: number }): Promise<SchedulerHealth>;
  /**
   * Store a new execution (ExecutionRepository.prepare) with its first step, in one transaction (its INSERT, then the step a `created`
   * message would take), for a process that creates executions: the API, which then sends no `created` message, and
   * the scheduler no longer reads, claims and steps the execution separately. Resolves once the transaction committed,
   * with what follows the commit (its task jobs queued, an end announced) as `after`; rejects when nothing was stored.
   * `handOff`: this process takes no further step of the execution (an API's scheduler, never started): its task jobs
   * carry the execution as the step left it (TaskJob.known), so the scheduler that applies their results starts from
   * it, and this process keeps no copy.
   */
  startNew(execution: StoredExecution, options?: { readonly handOff?: boolean }): Promise<{ readonly after: Promise<void> }>;
}

/** How long a scheduler that found itself the only one watching steps stops publishing them (see `announce`). */
const ALONE_RECHECK_MS = 1000;

/** Default of {@link SchedulerOptions.requeueAfterMs}: with a 5 s pass, a lost job is sent again within 20 s. */
export const DEFAULT_REQUEUE_AFTER_MS = 15_000;

/** A ForEachItem batch's child execution, before it is stored. */
interface ChildInputs {
  readonly iteration: number;
  readonly inputs: Record<string, unknown>;
}

/** What one locked step decided: the jobs to enqueue after its commit and the execution's state. */
interface Step {
  readonly execution: LockedExecution;
  readonly jobs: readonly { job: TaskJob; delayMs: number }[];
  readonly state: string;
  /** When the step ended the execution: the execution as stored, sent with the update (the API need not read it). */
  readonly ended?: Promise<StoredExecution | undefined>;
  /** The execution the step created to retry this one (behavior CREATE_NEW_EXECUTION), to start in `delayMs`. */
  readonly retry?: { readonly id: string; readonly delayMs: number };
  /** Decide again in this many ms (a Pause's delay or timeout, a WaitFor's interval). */
  readonly wakeMs?: number;
  /** Child executions the step stored (Subflow and ForEachItem tasks), to start once it committed. */
  readonly children?: readonly { readonly id: string; readonly namespace: string; readonly flowId: string }[];
  /** Follow-on runs a worker queued that the step did not store: their jobs are refused once it committed. */
  readonly refused?: readonly FollowOn[];
}

/** A follow-on run a worker queued (ResultMessage 'ended' `next`), and the run it followed. */
interface FollowOn {
  readonly taskRunId: string;
  readonly taskId: string;
  readonly createdAt: string;
  readonly after: string;
}

/** How long the report of a follow-on run waits for the end that queued its run, at most (see deferReport). */
const FOLLOW_ON_WAIT_MS = 3_600_000;

/** How long a scheduler holds a refused follow-on's lease before marking it finished (one round trip later). */
const REFUSE_LEASE_MS = 60_000;

/**
 * How many follow-on tasks a job carries at most (TaskJob.next), and how big they may be together (as JSON): each
 * follow-on job carries the rest of the list, so a chain of big tasks (long inline scripts) would otherwise fill the
 * queue with copies of them. The task after the last one goes through the scheduler's step, which sends the next list.
 */
const MAX_FOLLOW_ONS = 16;
const MAX_FOLLOW_ON_BYTES = 32 * 1024;

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { db, queue } = options;
  const id = options.id ?? `scheduler-${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  const livenessMs = options.workerLivenessMs ?? 15_000;
  // A live group stays live for a heartbeat interval: cache positive answers for 2 s (one query per group, not per task).
  // The query goes through the locked transaction's connection (see ExecutionTx).
  const liveUntil = new Map<string, number>();
  const hasLiveWorker = async (group: string, tx: ExecutionTx): Promise<boolean> => {
    if (options.hasLiveWorker) return options.hasLiveWorker(group);
    const at = now().getTime();
    if ((liveUntil.get(group) ?? 0) > at) return true;
    const live = (await tx.liveWorkerCount(group, new Date(at - livenessMs))) > 0;
    if (live) liveUntil.set(group, at + 2000);
    return live;
  };
  const flowCache = new Map<string, Flow>();
  const consumers: Consumer[] = [];
  let unsubscribeUpdates: Unsubscribe | undefined;
  let triggers: TriggerLoop | undefined;
  let flowTriggers: FlowTriggerLoop | undefined;
  let watchdog: Watchdog | undefined;
  let reconciler: Reconciler | undefined;
  const database = new DatabaseStatus(log, () => now().getTime());
  const requeueAfterMs = options.requeueAfterMs ?? DEFAULT_REQUEUE_AFTER_MS;
  if (!Number.isInteger(requeueAfterMs) || requeueAfterMs < 1) throw new Error(`createScheduler: requeueAfterMs must be a positive integer, got ${requeueAfterMs}`);

  /**
   * Options of the scheduler's consumers: a handler that failed because the database is unreachable keeps its message
   * (retried with a backoff, for as long as it takes: see ConsumeOptions.transient) instead of failing it.
   */
  function consuming(channel: string, concurrency: number): ConsumeOptions {
    return {
      concurrency,
      transient: (error) => database.failed(error),
      onTransient: (status) =>
        log(
          status.recovered
            ? `scheduler: ${channel}: applying again (the database was unreachable since ${status.since.toISOString()})`
            : `scheduler: ${channel}: ${status.reason}: ${status.waiting < 0 ? 'some' : status.waiting} messages waiting, retrying`,
        ),
    };
  }

  /** A handler whose success says the database answered. */
  function reachable<T>(handler: (message: T) => Promise<void>): (message: T) => Promise<void> {
    return async (message) => {
      await handler(message);
      database.succeeded();
    };
  }

  /**
   * One step of an execution at a time in this process: steps of one execution take turns on its row lock anyway, and
   * a step that waited here starts from the copy the previous one left in memory (one round trip), where racing for
   * the lock made all but one read the execution again (a ForEach whose children end together paid that per child).
   */
  const tails = new Map<string, Promise<unknown>>();
  function locked<T>(executionId: string, fn: (execution: LockedExecution, tx: ExecutionTx) => Promise<T>, hint?: KnownExecution, insert?: StoredExecution): Promise<T | undefined> {
    const previous = tails.get(executionId) ?? Promise.resolve();
    const next = previous.then(
      () => db.scheduler.withExecution(executionId, fn, hint, insert),
      () => db.scheduler.withExecution(executionId, fn, hint, insert),
    );
    const tail = next.catch(() => undefined);
    tails.set(executionId, tail);
    void tail.then(() => {
      if (tails.get(executionId) === tail) tails.delete(executionId);
    });
    return next;
  }

  /** The flow of a revision (cached: revisions never change). Inside a lock, pass its `tx` (no second connection). */
  async function loadFlow(namespace: string, flowId: string, revision: number, tx?: ExecutionTx): Promise<Flow> {
    const key = `${namespace}\u0000${flowId}\u0000${revision}`;
    const cached = flowCache.get(key);
    if (cached) return cached;
    const parsed = tx ? await tx.flowRevision(namespace, flowId, revision) : await db.scheduler.flowRevision(namespace, flowId, revision);
    if (!parsed) throw new SluiceError('SLU_API_FLOW_NOT_FOUND', { namespace, id: flowId });
    const flow = parsed as Flow;
    if (flowCache.size > 1000) flowCache.clear();
    flowCache.set(key, flow);
    return flow;
  }

  /**
   * The run index of an execution, kept between its steps: a step starting from the copy the previous one left in
   * memory has the same run objects, so only the runs that changed (a worker's result) are indexed again; any other
   * copy (read from Postgres, a run removed) rebuilds it. A step costs what changed, not the execution's history.
   */
  const indexes = new Map<string, { flow: Flow; index: RunIndex; seen: Map<string, SchedulerTaskRun>; open: boolean; mark: RunMark }>();
  function indexFor(execution: LockedExecution, flow: Flow): { index: RunIndex; seen: Map<string, SchedulerTaskRun> } {
    let entry = indexes.get(execution.id);
    const runs = execution.taskRuns;
    // `open`: a step used it and did not commit (its attempt was abandoned): it may hold runs that were never stored.
    if (entry && entry.flow === flow && !entry.open) {
      const kept = entry;
      kept.open = true;
      const catchUp = (run: SchedulerTaskRun | undefined): void => {
        if (!run || kept.seen.get(run.id) === run) return;
        kept.index.upsert(toEngineRun(run));
        kept.seen.set(run.id, run);
      };
      // The runs written since the last step (a copy of the same runs), else every run (a copy read from Postgres).
      const written = runsWrittenSince(runs, kept.mark);
      if (written) for (const id of written) catchUp(findRun(runs, id));
      else for (const run of runs) catchUp(run);
      kept.mark = runsMark(runs);
      if (kept.seen.size === runs.length && kept.index.size === runs.length) return kept;
    }
    if (indexes.size >= 2000) indexes.clear();
    entry = {
      flow,
      index: RunIndex.build(structureOf(flow), runs.map(toEngineRun)),
      seen: new Map(runs.map((run) => [run.id, run])),
      open: true,
      mark: runsMark(runs),
    };
    indexes.set(execution.id, entry);
    return entry;
  }

  /**
   * Decide and apply inside the lock until the engine has nothing more to do right now; returns the jobs to enqueue
   * after commit. The run index and the outputs are built once per step and kept current as runs are written.
   */
  async function advanceLocked(
    execution: LockedExecution,
    tx: ExecutionTx,
    stepOptions: { subflowResults?: boolean; followOns?: ReadonlyMap<string, FollowOn> } = {},
  ): Promise<Step> {
    const flow = await loadFlow(execution.namespace, execution.flowId, execution.flowRevision, tx);
    // The runs by id, kept between the execution's steps with its index (see indexFor).
    const { index, seen: runs } = indexFor(execution, flow);
    let state = execution.state as ExecutionStateName;
    let labels = execution.labels;
    const jobs: { job: TaskJob; delayMs: number }[] = [];
    let ended: Promise<StoredExecution | undefined> | undefined;
    let retry: Step['retry'];
    let wakeMs: number | undefined;
    const childrenToStart: { id: string; namespace: string; flowId: string }[] = [];
    // Follow-on runs workers queued, by task id: stored when the decision creates that task (see 'create').
    const followOns = new Map(stepOptions.followOns);
    const originalStartDate = (execution.originalCreatedDate ?? execution.startDate).toISOString();
    // The outputs of the execution's runs, computed when first needed and again after a run's outputs changed.
    let outputs: Record<string, unknown> | undefined;
    // `{{ execution.state }}`: the final state while the flow's afterExecution tasks run.
    const scope = (): VariableScope => ({ ...execution, labels, state: executionStateFor(flow, engineExecutionOf(), { now: now(), newTaskRunId, index }) });
    const engineExecutionOf = (): EngineExecution => ({ id: execution.id, state, attempt: execution.attemptNumber, originalStartDate, taskRuns: [] });
    const variablesOf = (run: SchedulerTaskRun): Record<string, unknown> => {
      outputs ??= executionOutputs([...runs.values()]);
      return runVariables(templateVariables(flow, scope(), [], outputs), run, runs);
    };
    const save = async (run: SchedulerTaskRun): Promise<void> => {
      const before = runs.get(run.id);
      runs.set(run.id, run);
      index.upsert(toEngineRun(run));
      if (run.outputs !== null || (before && before.outputs !== null)) outputs = undefined;
      await tx.saveTaskRun(run);
    };
    // Children that ended since: their results end the Subflow task runs waiting for them (asked for by the wake-up a
    // child's end sends, or by the reconciliation: reading them needs the lock, so only then).
    if (stepOptions.subflowResults && !isTerminalExecutionState(state)) await applySubflowResults(now());
    // A worker-group fallback (FAIL/CANCEL) ends a task run at once, and creating a run changes what the engine sees:
    // decide again until it has nothing to add (each round moves at least one run on; the bound is a safety net).
    for (let round = 0; round < 10_000; round++) {
      const date = now();
      const { actions } = decide(flow, engineExecutionOf(), { now: date, newTaskRunId, index });
      let again = false;
      for (const action of actions) {
        const result = await apply(action, date);
        if (result === 'again' || needsAnotherDecision(action)) again = true;
      }
      if (!again || isTerminalExecutionState(state)) break;
    }
    // Follow-ons the decision did not create (the execution is being killed, say): their jobs must not run them.
    const refused = [...followOns.values()].filter((followOn) => !runs.has(followOn.taskRunId));
    for (const followOn of refused) {
      log(`execution ${execution.id}: task run ${followOn.taskRunId} of ${followOn.taskId}, queued by a worker after ${followOn.after}, is not what the execution runs next (${state}): its job is refused`);
    }
    return {
      execution,
      jobs,
      state,
      ...(refused.length > 0 ? { refused } : {}),
      ...(ended ? { ended } : {}),
      ...(retry ? { retry } : {}),
      ...(wakeMs !== undefined ? { wakeMs } : {}),
      ...(childrenToStart.length > 0 ? { children: childrenToStart } : {}),
    };

    /** Apply the results of the children that ended to the Subflow task runs that wait for them. */
    async function applySubflowResults(date: Date): Promise<void> {
      const results = await tx.takeSubflowResults();
      if (results.length === 0) return;
      const iso = date.toISOString();
      const waiting = new Map<string, SchedulerTaskRun>();
      for (const run of runs.values()) {
        const child = (run.engineState as { childExecutionId?: unknown } | null)?.childExecutionId;
        if (run.state === 'RUNNING' && typeof child === 'string') waiting.set(child, run);
      }
      for (const result of results) {
        // A ForEachItem's child names the `_items` run that counts it.
        const counting = result.parentTaskRunId ? runs.get(result.parentTaskRunId) : undefined;
        if (counting) {
          if (counting.state === 'RUNNING') await countItemResult(counting, result, date);
          continue;
        }
        const run = waiting.get(result.childId);
        // A child no run waits for any more (the run was killed, or restarted with a new child): nothing to apply.
        if (!run) continue;
        const next = subflowRunState(result.state, transmitFailedOf(run));
        const outputs = { executionId: result.executionId, state: result.state, ...(result.outputs ? { outputs: result.outputs } : {}) };
        await save(endRun(run, next, iso, date, outputs));
        await tx.appendLogs([
          {
            taskId: run.taskId,
            taskRunId: run.id,
            attemptNumber: Math.max(1, run.attempts.length),
            level: next === 'SUCCESS' ? 'INFO' : next === 'WARNING' ? 'WARN' : 'ERROR',
            message: `subflow execution ${result.executionId} ended ${result.state}${next !== result.state ? `: task ${run.taskId} is ${next}` : ''}`,
            timestamp: date,
          },
        ]);
      }
    }

    /**
     * Start the child execution of a Subflow task run (attempt `attempt`): render its properties, check the chain of
     * parents and the child flow, type the inputs, store the child (CREATED, started after commit). With `wait`, the
     * run is RUNNING until the child's result arrives; without, SUCCESS at once. What cannot start fails the run.
     */
    /** A Subflow or ForEachItem task run that cannot start: FAILED, its attempt recorded, the reason logged. */
    async function failStart(run: SchedulerTaskRun, task: TaskJob['task'], attempt: number, date: Date, reason: string): Promise<'again'> {
      const iso = date.toISOString();
      const error = new SluiceError('SLU_TASK_FAILED', { taskId: task.id, reason });
      const attempts = [...run.attempts.slice(0, attempt - 1), { state: { current: 'CREATED', histories: [{ state: 'CREATED', date: iso }] } }];
      await save({ ...endRun({ ...run, attempts }, 'FAILED', iso, date, { error: error.toJSON() }), startDate: run.startDate ?? date });
      await tx.appendLogs([{ taskId: task.id, taskRunId: run.id, attemptNumber: attempt, level: 'ERROR', message: error.message, timestamp: date }]);
      return 'again';
    }

    /**
     * The child flow a Subflow or ForEachItem task names, its properties rendered with `variables` (`inputs` only when
     * `withInputs`), once the chain of waiting parents and the flow are checked; or why it cannot start.
     */
    async function childFlowOf(task: TaskJob['task'], variables: Record<string, unknown>, date: Date, withInputs: boolean): Promise<{ spec: SubflowSpec; revision: number; flow: Flow } | { error: string }> {
      const rendered: Record<string, Evaluation> = {};
      for (const key of SUBFLOW_DYNAMIC_PROPERTIES) if (task[key] !== undefined && (withInputs || key !== 'inputs')) rendered[key] = await evaluate(task[key], variables, date);
      const spec = subflowSpec(task, rendered);
      if ('error' in spec) return spec;
      if (spec.wait) {
        const problem = chainProblem(await tx.subflowChain(SUBFLOW_MAX_DEPTH + 1), spec.namespace, spec.flowId);
        if (problem) return { error: problem };
      }
      const found = spec.revision === undefined ? await tx.latestFlowRevision(spec.namespace, spec.flowId) : { revision: spec.revision, parsed: await tx.flowRevision(spec.namespace, spec.flowId, spec.revision) };
      if (!found?.parsed) return { error: `flow ${spec.namespace}.${spec.flowId}${spec.revision === undefined ? '' : ` revision ${spec.revision}`} not found` };
      const flow = found.parsed as Flow;
      if (flow.disabled === true) return { error: `flow ${spec.namespace}.${spec.flowId} is disabled` };
      return { spec, revision: found.revision, flow };
    }

    /** The child's inputs, typed against its flow's, or why they are refused. */
    function childInputs(child: { spec: SubflowSpec; flow: Flow }, given: Record<string, unknown>): { inputs: Record<string, unknown> } | { error: string } {
      try {
        // A FILE input takes a file of this execution (the child may read it: task-runtime's parentScope).
        return { inputs: resolveInputs(child.flow.inputs, given, { fileUriPrefix: executionPrefixUri({ namespace: execution.namespace, flowId: execution.flowId, executionId: execution.id }) }) };
      } catch (error) {
        return { error: `the inputs of ${child.spec.namespace}.${child.spec.flowId}: ${isSluiceError(error) || error instanceof Error ? error.message : String(error)}` };
      }
    }

    /**
     * Start the child execution of a Subflow task run (attempt `attempt`): render its properties, check the chain of
     * parents and the child flow, type the inputs, store the child (CREATED, started after commit). With `wait`, the
     * run is RUNNING until the child's result arrives; without, SUCCESS at once. What cannot start fails the run.
     */
    async function startSubflow(run: SchedulerTaskRun, task: TaskJob['task'], attempt: number, date: Date, delayMs: number): Promise<'again' | undefined> {
      const iso = date.toISOString();
      const fail = (reason: string): Promise<'again'> => failStart(run, task, attempt, date, reason);
      const resolved = await childFlowOf(task, variablesOf(run), date, true);
      if ('error' in resolved) return fail(resolved.error);
      const { spec } = resolved;
      const typed = childInputs(resolved, spec.inputs);
      if ('error' in typed) return fail(typed.error);
      const { inputs } = typed;
      const found = { revision: resolved.revision };
      const childId = newExecutionId();
      const retryAt = delayMs > 0 ? new Date(date.getTime() + delayMs) : undefined;
      const scheduleDate = retryAt && (!spec.scheduleDate || spec.scheduleDate < retryAt) ? retryAt : (spec.scheduleDate ?? null);
      await tx.createChildExecution(
        {
          id: childId,
          namespace: spec.namespace,
          flowId: spec.flowId,
          flowRevision: found.revision,
          inputs,
          labels: childLabels(labels, spec.labels, spec.inheritLabels, childId),
          trigger: { id: task.id, type: task.type, variables: { executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId, flowRevision: execution.flowRevision } },
          parentId: spec.wait ? execution.id : null,
          scheduleDate,
        },
        date,
      );
      childrenToStart.push({ id: childId, namespace: spec.namespace, flowId: spec.flowId });
      await tx.appendLogs([
        {
          taskId: task.id,
          taskRunId: run.id,
          attemptNumber: attempt,
          level: 'INFO',
          message: `created execution ${childId} of ${spec.namespace}.${spec.flowId} (revision ${found.revision})${spec.wait ? ', waiting for its end' : ''}`,
          timestamp: date,
        },
      ]);
      const started = startedRun(run, attempt, date, { childExecutionId: childId, transmitFailed: spec.transmitFailed });
      if (spec.wait) {
        await save(started);
        return undefined;
      }
      // Not waited for: done once the child exists (its state is the one it was created in).
      await save(endRun(started, 'SUCCESS', iso, date, { executionId: childId, state: 'CREATED' }));
      return 'again';
    }

    /**
     * Start the children of a ForEachItem's `_items` run: one execution per batch its `_split` sibling cut, each with
     * `{{ taskrun.items }}` and `{{ taskrun.iteration }}` in its inputs, all stored in this step (started after
     * commit). With `wait`, the run stays RUNNING and counts their ends (`iterations`); without, SUCCESS at once.
     */
    async function startItems(run: SchedulerTaskRun, task: TaskJob['task'], attempt: number, date: Date): Promise<'again' | undefined> {
      const iso = date.toISOString();
      const fail = (reason: string): Promise<'again'> => failStart(run, task, attempt, date, reason);
      const splitId = task.id.replace(/_items$/, '_split');
      let split: SchedulerTaskRun | undefined;
      for (const candidate of runs.values()) {
        if (candidate.taskId === splitId && candidate.parentTaskRunId === run.parentTaskRunId && candidate.state === 'SUCCESS') split = candidate;
      }
      const splits = isRecord(split?.outputs) ? split.outputs.splits : undefined;
      if (!Array.isArray(splits)) return fail(`the batches ${splitId} cut are not there`);
      const variables = variablesOf(run);
      const resolved = await childFlowOf(task, variables, date, false);
      if ('error' in resolved) return fail(resolved.error);
      const { spec } = resolved;
      const taskrun = isRecord(variables.taskrun) ? variables.taskrun : {};
      // Every child's inputs first: one that cannot be typed starts none of them.
      const children: ChildInputs[] = [];
      for (const [index, uri] of splits.entries()) {
        const iteration = index + 1;
        const given = task.inputs === undefined ? { value: {} } : await evaluate(task.inputs, { ...variables, taskrun: { ...taskrun, items: uri, iteration } }, date);
        if ('error' in given) return fail(`inputs of batch ${iteration}: ${given.error}`);
        if (!isRecord(given.value)) return fail(`inputs of batch ${iteration}: expected a map of input id to value`);
        const typed = childInputs(resolved, given.value);
        if ('error' in typed) return fail(`batch ${iteration}: ${typed.error}`);
        children.push({ iteration, inputs: typed.inputs });
      }
      for (const child of children) {
        const childId = newExecutionId();
        await tx.createChildExecution(
          {
            id: childId,
            namespace: spec.namespace,
            flowId: spec.flowId,
            flowRevision: resolved.revision,
            inputs: child.inputs,
            labels: childLabels(labels, spec.labels, spec.inheritLabels, childId),
            // `iteration`, the batch number, is Sluice's: the merge reads the children in batch order by it.
            trigger: {
              id: task.id,
              type: task.type,
              variables: { executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId, flowRevision: execution.flowRevision, iteration: child.iteration },
            },
            parentId: spec.wait ? execution.id : null,
            parentTaskRunId: spec.wait ? run.id : null,
            scheduleDate: spec.scheduleDate ?? null,
          },
          date,
        );
        childrenToStart.push({ id: childId, namespace: spec.namespace, flowId: spec.flowId });
      }
      const numberOfBatches = children.length;
      await tx.appendLogs([
        {
          taskId: task.id,
          taskRunId: run.id,
          attemptNumber: attempt,
          level: 'INFO',
          message: `created ${numberOfBatches} execution${numberOfBatches === 1 ? '' : 's'} of ${spec.namespace}.${spec.flowId} (revision ${resolved.revision}), one per batch${spec.wait && numberOfBatches > 0 ? ', waiting for their ends' : ''}`,
          timestamp: date,
        },
      ]);
      const started: SchedulerTaskRun = {
        ...startedRun(run, attempt, date, { transmitFailed: spec.transmitFailed }),
        outputs: { numberOfBatches, iterations: { CREATED: numberOfBatches } },
      };
      if (spec.wait && numberOfBatches > 0) {
        await save(started);
        return undefined;
      }
      // Nothing to wait for: each batch counts as SUCCESS once its execution exists (Kestra's).
      await save(endRun(started, 'SUCCESS', iso, date, { numberOfBatches, iterations: numberOfBatches > 0 ? { SUCCESS: numberOfBatches } : {} }));
      return 'again';
    }

    /** One end of a ForEachItem child, counted on its `_items` run; the run ends with the last one. */
    async function countItemResult(run: SchedulerTaskRun, result: { executionId: string; state: string }, date: Date): Promise<void> {
      const outputs = isRecord(run.outputs) ? run.outputs : {};
      const numberOfBatches = typeof outputs.numberOfBatches === 'number' ? outputs.numberOfBatches : 0;
      const iterations: Record<string, number> = { ...(isRecord(outputs.iterations) ? (outputs.iterations as Record<string, number>) : {}) };
      iterations.CREATED = Math.max(0, (iterations.CREATED ?? 0) - 1);
      iterations[result.state] = (iterations[result.state] ?? 0) + 1;
      const ended = CHILD_END_STATES.reduce((sum, state) => sum + (iterations[state] ?? 0), 0);
      if (ended < numberOfBatches) {
        await save({ ...run, outputs: { ...outputs, iterations } });
        return;
      }
      const next = forEachItemState(iterations, transmitFailedOf(run));
      await save(endRun(run, next, date.toISOString(), date, { ...outputs, iterations }));
      await tx.appendLogs([
        {
          taskId: run.taskId,
          taskRunId: run.id,
          attemptNumber: Math.max(1, run.attempts.length),
          level: next === 'SUCCESS' ? 'INFO' : next === 'WARNING' ? 'WARN' : 'ERROR',
          message: `all ${numberOfBatches} batch executions ended (${Object.entries(iterations).filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`).join(', ')}): task ${run.taskId} is ${next}`,
          timestamp: date,
        },
      ]);
    }

    /**
     * A Subflow or ForEachItem run whose children were stored: RUNNING, with a new attempt, and in its engine state
     * what its children's results will need (`transmitFailed` as read at the start, so the end applies the same value).
     */
    function startedRun(run: SchedulerTaskRun, attempt: number, date: Date, engineState: Record<string, unknown>): SchedulerTaskRun {
      const iso = date.toISOString();
      return {
        ...moved(run, 'RUNNING', iso, date),
        startDate: run.startDate ?? date,
        attempts: [...run.attempts.slice(0, attempt - 1), { state: { current: 'RUNNING', histories: [{ state: 'CREATED', date: iso }, { state: 'RUNNING', date: iso }] } }],
        engineState: { ...((run.engineState ?? {}) as Record<string, unknown>), ...engineState },
      };
    }

    /** `transmitFailed` of a started Subflow or ForEachItem run: as its start read it. */
    function transmitFailedOf(run: SchedulerTaskRun): boolean {
      return (run.engineState as { transmitFailed?: unknown } | null)?.transmitFailed !== false;
    }

    /** A run moves to `next`: history, the last attempt, the end date when it ended. */
    function moved(run: SchedulerTaskRun, next: string, iso: string, date: Date): SchedulerTaskRun {
      if (isTerminalTaskRunState(next)) return endRun(run, next, iso, date);
      return { ...run, state: next, stateHistory: [...run.stateHistory, { state: next, date: iso }], endDate: null };
    }

    async function apply(action: EngineAction, date: Date): Promise<'again' | undefined> {
      const iso = date.toISOString();
      switch (action.type) {
        case 'setState':
          state = action.state;
          await tx.setState(action.state, date);
          return undefined;
        case 'wake':
          wakeMs = wakeMs === undefined ? action.delayMs : Math.min(wakeMs, action.delayMs);
          return undefined;
        case 'end': {
          // A successful end evaluates the flow's outputs; one that cannot be rendered or typed fails the execution.
          let end: ExecutionStateName = action.state;
          if ((end === 'SUCCESS' || end === 'WARNING') && (flow.outputs?.length ?? 0) > 0) {
            outputs ??= executionOutputs([...runs.values()]);
            const result = await flowOutputs(flow, templateVariables(flow, scope(), [], outputs), date);
            if ('outputs' in result) {
              await tx.setOutputs(result.outputs);
            } else {
              end = 'FAILED';
              await tx.appendLogs([{ level: 'ERROR', message: result.error, timestamp: date }]);
            }
          }
          state = end;
          await tx.setState(end, date);
          ended = tx.readBack();
          return undefined;
        }
        case 'retryExecution': {
          // Kestra's retry behavior CREATE_NEW_EXECUTION: the failed task run and this execution end RETRIED (the
          // execution FAILED first, as in Kestra's history), and a new execution takes over at the retry date.
          const run = runs.get(action.taskRunId);
          if (run) await save({ ...run, state: 'RETRIED', stateHistory: [...run.stateHistory, { state: 'RETRIED', date: iso }] });
          const next = { id: newExecutionId(), attemptNumber: action.attempt, scheduleDate: new Date(date.getTime() + action.delayMs) };
          await tx.createRetryExecution(next, date);
          await tx.appendLogs([
            {
              taskId: run?.taskId ?? null,
              taskRunId: action.taskRunId,
              level: 'WARN',
              message: `task ${run?.taskId ?? action.taskRunId} failed: retrying the flow as a new execution, ${next.id} (attempt ${next.attemptNumber}), at ${next.scheduleDate.toISOString()}`,
              timestamp: date,
            },
          ]);
          await tx.setState('FAILED', date);
          state = 'RETRIED';
          await tx.setState('RETRIED', date);
          ended = tx.readBack();
          retry = { id: next.id, delayMs: action.delayMs };
          return undefined;
        }
        case 'cancelTaskRun': {
          const run = runs.get(action.taskRunId);
          if (run) await save(endRun(run, action.state, iso, date));
          return undefined;
        }
        case 'updateTaskRun': {
          const run = runs.get(action.taskRunId);
          if (!run) return undefined;
          let updated = action.state && action.state !== run.state ? moved(run, action.state, iso, date) : run;
          if (action.outputs) updated = { ...updated, outputs: { ...(isRecord(updated.outputs) ? updated.outputs : {}), ...action.outputs } };
          if (action.iteration !== undefined) updated = { ...updated, iteration: action.iteration };
          if (action.engineState) updated = { ...updated, engineState: action.engineState as Record<string, unknown> };
          await save(updated);
          if (action.log) await tx.appendLogs([{ taskId: run.taskId, taskRunId: run.id, level: action.log.level, message: action.log.message, timestamp: date }]);
          return undefined;
        }
        case 'evaluate': {
          const run = runs.get(action.taskRunId);
          if (!run) return undefined;
          const result = await evaluate(action.expression, variablesOf(run), date);
          const engineState = (run.engineState ?? {}) as EngineRunState;
          await save({ ...run, engineState: { ...engineState, evaluated: { ...engineState.evaluated, [action.key]: result } } });
          return undefined;
        }
        case 'create': {
          const task = applyPluginDefaults(flow, action.task, options.resolveTaskType);
          const group = workerGroupOf(task);
          // A worker queued this task's job already (it followed the run that just ended): store that run, queue nothing.
          const followOn = followOns.get(task.id);
          if (
            followOn &&
            action.parentTaskRunId === undefined &&
            action.value === undefined &&
            action.iteration === undefined &&
            action.evaluate === undefined &&
            action.role === 'runnable' &&
            !runs.has(followOn.taskRunId)
          ) {
            followOns.delete(task.id);
            await save({
              id: followOn.taskRunId,
              taskId: task.id,
              parentTaskRunId: null,
              value: null,
              iteration: null,
              engineState: null,
              state: 'CREATED',
              stateHistory: [{ state: 'CREATED', date: followOn.createdAt }],
              attempts: [],
              outputs: null,
              metrics: null,
              workerGroup: group.key !== DEFAULT_WORKER_GROUP ? group.key : null,
              workerId: null,
              startDate: null,
              endDate: null,
            });
            return undefined;
          }
          let run: SchedulerTaskRun = {
            id: action.taskRunId,
            taskId: task.id,
            parentTaskRunId: action.parentTaskRunId ?? null,
            value: action.value ?? null,
            iteration: action.iteration ?? null,
            engineState: null,
            state: 'CREATED',
            stateHistory: [{ state: 'CREATED', date: iso }],
            attempts: [],
            outputs: null,
            metrics: null,
            workerGroup: action.role === 'runnable' && group.key !== DEFAULT_WORKER_GROUP ? group.key : null,
            workerId: null,
            startDate: null,
            endDate: null,
          };
          const evaluations: Record<string, Evaluation> = {};
          for (const [key, expression] of Object.entries(action.evaluate ?? {})) evaluations[key] = await evaluate(expression, variablesOf(run), date);
          const settled = settleCreated({ ...action, task }, evaluations, date.getTime());
          run = {
            ...run,
            ...(settled.outputs ? { outputs: settled.outputs } : {}),
            ...(settled.engineState ? { engineState: settled.engineState as Record<string, unknown> } : {}),
            ...(settled.iteration !== undefined ? { iteration: settled.iteration } : {}),
          };
          if (settled.error) {
            await tx.appendLogs([{ taskId: task.id, taskRunId: run.id, level: 'ERROR', message: settled.error, timestamp: date }]);
            run = { ...run, outputs: { ...(isRecord(run.outputs) ? run.outputs : {}), error: { code: 'SLU_TASK_FAILED', message: settled.error } } };
          }
          if (settled.labels) {
            const merged = new Map(labels.map((label) => [label.key, label.value]));
            for (const label of settled.labels) merged.set(label.key, label.value);
            labels = [...merged].map(([key, value]) => ({ key, value }));
            await tx.setLabels(labels);
          }
          if (settled.state !== 'CREATED') {
            await save(settled.state === 'RUNNING' ? { ...moved(run, 'RUNNING', iso, date), startDate: date } : { ...moved(run, settled.state, iso, date), startDate: date });
            return undefined;
          }
          return dispatchRun(run, task, 1, date, 0);
        }
        case 'dispatch':
        case 'retry': {
          const task = applyPluginDefaults(flow, action.task, options.resolveTaskType);
          const existing = runs.get(action.taskRunId);
          if (!existing) return undefined;
          let run = existing;
          if (action.type === 'retry') {
            run = { ...run, state: 'RETRYING', stateHistory: [...run.stateHistory, { state: 'RETRYING', date: iso }] };
            // The execution shows the wait too, as in Kestra; it is RUNNING again once the attempt starts (onResult).
            if (state === 'RUNNING') {
              state = 'RETRYING';
              await tx.setState('RETRYING', date);
            }
          }
          return dispatchRun(run, task, action.attempt, date, action.type === 'retry' ? action.delayMs : 0);
        }
      }
    }

    /** Save a run waiting for a worker and queue its job, or end it at once when its group has no worker and must not wait. */
    async function dispatchRun(run: SchedulerTaskRun, task: TaskJob['task'], attempt: number, date: Date, delayMs: number): Promise<'again' | undefined> {
      // A Subflow is started here, not by a worker (a retry's delay is the new child's start date).
      const executorKind = executorTaskKind(task.type);
      if (executorKind === 'Subflow') return startSubflow(run, task, attempt, date, delayMs);
      if (executorKind === 'ForEachItemExecutable') return startItems(run, task, attempt, date);
      const iso = date.toISOString();
      const group = workerGroupOf(task);
      // Ask for a live worker only when the answer matters (fallback FAIL or CANCEL); the query uses the locked
      // transaction's connection (a query through the pool from inside a lock deadlocked under bursts).
      if (group.fallback !== 'WAIT' && !(await hasLiveWorker(group.key, tx))) {
        const error = new SluiceError('SLU_TASK_NO_WORKER', { group: group.key, fallback: group.fallback });
        const message = error.message;
        await save(endRun(run, group.fallback === 'FAIL' ? 'FAILED' : 'CANCELLED', iso, date, { error: error.toJSON() }));
        await tx.appendLogs([{ taskId: task.id, taskRunId: run.id, level: 'ERROR', message, timestamp: date }]);
        return 'again';
      }
      await save(run);
      const job = taskJob(execution, flow, run, task, attempt, group.key, variablesOf(run), iso);
      const next = followOnsOf(run, task, group.key);
      jobs.push({ job: next.length > 0 ? { ...job, next } : job, delayMs });
      return undefined;
    }

    /**
     * The follow-on tasks of a run (TaskJob.next): for a top-level task of the flow's main list, the enabled tasks
     * after it, up to the first that a worker of the same group does not run as it is (a flowable, a Subflow, a
     * `runIf`, a worker-group fallback other than WAIT) or that has a run already; at most MAX_FOLLOW_ONS of them,
     * and MAX_FOLLOW_ON_BYTES together (the first one always: a job carries it anyway once it runs).
     */
    function followOnsOf(run: SchedulerTaskRun, task: TaskJob['task'], groupKey: string): TaskJob['task'][] {
      if (run.parentTaskRunId) return [];
      const main = index.structure.main;
      const position = main.findIndex((each) => each.id === task.id);
      if (position < 0) return [];
      const taken = new Set<string>();
      for (const each of runs.values()) taken.add(each.taskId);
      const next: TaskJob['task'][] = [];
      let bytes = 0;
      for (const written of main.slice(position + 1, position + 1 + MAX_FOLLOW_ONS)) {
        const candidate = applyPluginDefaults(flow, written, options.resolveTaskType);
        const group = workerGroupOf(candidate);
        const plain =
          roleOf(index.structure.byId.get(candidate.id)) === 'runnable' &&
          executorTaskKind(candidate.type) === undefined &&
          (candidate.runIf === undefined || candidate.runIf === true || candidate.runIf === 'true') &&
          group.key === groupKey &&
          group.fallback === 'WAIT';
        if (!plain || taken.has(candidate.id)) break;
        bytes += JSON.stringify(candidate).length;
        if (next.length > 0 && bytes > MAX_FOLLOW_ON_BYTES) break;
        next.push(candidate);
      }
      return next;
    }
  }

  /** Advance one execution: decide under its lock, then enqueue and notify. */
  async function advance(executionId: string, subflowResults = false): Promise<void> {
    await afterCommit(await locked(executionId, (execution, tx) => advanceLocked(execution, tx, { subflowResults })));
  }

  /**
   * After a locked step committed: enqueue its jobs, publish the update, and on an end let a QUEUED execution start.
   * `handOff` (see Scheduler.startNew): the jobs carry the execution as the step left it, this process forgets it, and
   * only an end is announced (no other scheduler has a copy of the execution to drop).
   */
  async function afterCommit(step: Step | undefined, handOff = false): Promise<void> {
    if (!step) return;
    const { execution, jobs, state } = step;
    const ended = isTerminalExecutionState(state);
    const kept = indexes.get(execution.id);
    if (ended || handOff) indexes.delete(execution.id);
    else if (kept) kept.open = false;
    let known: unknown;
    if (handOff) {
      const copy = db.scheduler.known(execution.id);
      if (copy && jobs.length > 0) known = knownToWire(copy);
      db.scheduler.forget(execution.id);
    }
    const stored = ended ? await step.ended : undefined;
    // Sent together: over Redis they share one round trip, and none of them depends on another.
    await Promise.all([
      ...jobs.map(({ job, delayMs }) =>
        queue.enqueueTask(job.workerGroup, known === undefined ? job : { ...job, known }, { dedupId: `${job.taskRunId}-${job.attempt}`, ...(delayMs > 0 ? { delayMs } : {}) }),
      ),
      ...(handOff && !ended ? [] : [announce({ executionId: execution.id, state, ended, scheduler: id, ...(stored ? { executionJson: executionWireJson(stored) } : {}) })]),
    ]);
    if (step.wakeMs !== undefined && !ended) {
      await queue.publishExecution({ type: 'resume', executionId: execution.id, namespace: execution.namespace, flowId: execution.flowId }, { delayMs: Math.max(1, step.wakeMs) });
    }
    if (step.retry) {
      const { id: retryId, delayMs } = step.retry;
      await queue.publishExecution({ type: 'created', executionId: retryId, namespace: execution.namespace, flowId: execution.flowId }, delayMs > 0 ? { delayMs } : undefined);
    }
    // Children a Subflow task stored (a lost message is found by the reconciliation of CREATED executions).
    if (step.children) {
      await Promise.all(step.children.map((child) => queue.publishExecution({ type: 'created', executionId: child.id, namespace: child.namespace, flowId: child.flowId })));
    }
    // Follow-on jobs the step did not store a run for: their attempt is marked finished, so a worker taking one completes
    // it without running it (one that started already is being killed with the execution, or its result is ignored).
    if (step.refused) await Promise.all(step.refused.map(refuseFollowOn));
    // A child its parent waits for ended: its result is stored, wake the parent to apply it.
    if (ended && execution.parentId && state !== 'RETRIED') await queue.publishExecution({ type: 'resume', executionId: execution.parentId, subflowResults: true });
    if (ended) {
      // Flow triggers may listen to this end: look now rather than at the next interval.
      flowTriggers?.poke();
      await dequeueNext(execution);
    }
  }

  /**
   * Publish an execution's update. An end always (APIs wait for it). A step is for the other scheduler replicas, which
   * drop their copy of the execution (stale now): when the last one reached no replica but this one, steps are not
   * published for {@link ALONE_RECHECK_MS}, then one is again to look. A replica started meanwhile may try a stale copy:
   * its claim fails and it takes the step locked (one round trip more), as when a message is lost.
   */
  let aloneUntil = 0;
  async function announce(update: ExecutionUpdate): Promise<void> {
    if (!update.ended && Date.now() < aloneUntil) return;
    const receivers = await queue.publishExecutionUpdate(update);
    if (!update.ended) aloneUntil = receivers <= 1 ? Date.now() + ALONE_RECHECK_MS : 0;
  }

  /**
   * Put a follow-on run's report back in the queue, to be applied after the end that queued its run (see applyResult):
   * 5 ms later the first time, twice as long each time after, at most a second. One that waited FOLLOW_ON_WAIT_MS in
   * all is dropped: the end it waits for is not coming (its attempt was given up, and a new one runs in its place).
   */
  async function deferReport(message: ResultMessage): Promise<void> {
    if (message.type !== 'started' && message.type !== 'ended') return;
    const since = message.deferred?.since ?? new Date().toISOString();
    if (Date.now() - Date.parse(since) > FOLLOW_ON_WAIT_MS) {
      log(`execution ${message.executionId}: the ${message.type} report of follow-on task run ${message.taskRunId} (${message.taskId}) waited since ${since} for the end of task run ${message.after ?? '?'}: dropped`);
      return;
    }
    const count = (message.deferred?.count ?? 0) + 1;
    await queue.publishResult({ ...message, deferred: { since, count } }, { delayMs: Math.min(1000, 5 * 2 ** Math.min(count - 1, 8)) });
  }

  /** Mark a refused follow-on's attempt finished in the queue (see afterCommit); a failure is logged, not thrown. */
  async function refuseFollowOn(followOn: FollowOn): Promise<void> {
    const holder = `${id}/refused`;
    try {
      const lease = await queue.acquireTaskLease(followOn.taskRunId, 1, holder, REFUSE_LEASE_MS);
      if (lease.acquired) await queue.releaseTaskLease(followOn.taskRunId, 1, holder, true);
    } catch (error) {
      log(`refusing the job of follow-on task run ${followOn.taskRunId}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** A parent is being killed: so are the children it waits for (their ends then end its Subflow task runs). */
  async function killChildren(parentId: string): Promise<void> {
    for (const childId of await db.scheduler.waitingChildren(parentId)) {
      const result = await db.executions.transition(childId, KILLABLE_STATES, 'KILLING');
      if (result.status === 'changed') await queue.publishExecution({ type: 'kill', executionId: childId });
    }
  }

  /** When an execution of a flow with a concurrency limit ends, let the oldest QUEUED one start. */
  async function dequeueNext(execution: LockedExecution): Promise<void> {
    const flow = await loadFlow(execution.namespace, execution.flowId, execution.flowRevision);
    if (!flow.concurrency) return;
    const next = await db.scheduler.oldestQueued(execution.namespace, execution.flowId);
    if (next) await queue.publishExecution({ type: 'dequeued', executionId: next, namespace: execution.namespace, flowId: execution.flowId });
  }

  /**
   * A CREATED (or QUEUED, when dequeued) execution asks to start: apply the flow's concurrency limit. One
   * transaction: the execution's row lock, then the flow's admission lock (always in that order), so two schedulers
   * cannot both take the last slot, and nothing waits for a second pooled connection.
   */
  async function admitExecution(executionId: string, hint?: KnownExecution): Promise<void> {
    const next = await admitStep(executionId, hint);
    await next(false);
  }

  /**
   * The step of {@link admitExecution}, with `insert`, the new execution, when the same transaction stores it
   * (Scheduler.startNew). Resolves once it committed, with what follows the commit, to call.
   */
  async function admitStep(executionId: string, hint?: KnownExecution, insert?: StoredExecution): Promise<(handOff: boolean) => Promise<void>> {
    // An execution to start later (Kestra's scheduleDate) that reached here early: put it off until its date.
    let later: { until: Date; namespace: string; flowId: string } | undefined;
    const outcome = await locked(executionId, async (execution, tx): Promise<Step> => {
      later = undefined;
      if (execution.state !== 'CREATED' && execution.state !== 'QUEUED') return advanceLocked(execution, tx);
      if (execution.state === 'CREATED' && execution.scheduleDate && execution.scheduleDate.getTime() > now().getTime()) {
        later = { until: execution.scheduleDate, namespace: execution.namespace, flowId: execution.flowId };
        return { execution, jobs: [], state: execution.state };
      }
      const flow = await loadFlow(execution.namespace, execution.flowId, execution.flowRevision, tx);
      if (!flow.concurrency) return advanceLocked(execution, tx);
      await tx.lockFlow();
      const active = await tx.countActive();
      const verdict = admit(flow, active);
      const date = now();
      if (verdict === 'queue') {
        if (execution.state === 'CREATED') await tx.setState('QUEUED', date);
        return { execution, jobs: [], state: 'QUEUED' };
      }
      if (verdict === 'cancel' || verdict === 'fail') {
        const state = verdict === 'cancel' ? 'CANCELLED' : 'FAILED';
        await tx.setState(state, date);
        await tx.appendLogs([
          {
            level: 'WARN',
            message: `flow concurrency limit ${flow.concurrency?.limit ?? 0} reached (${active} running): execution ${state === 'CANCELLED' ? 'cancelled' : 'failed'} (behavior ${flow.concurrency?.behavior ?? 'QUEUE'})`,
            timestamp: date,
          },
        ]);
        return { execution, jobs: [], state };
      }
      // Start: the engine treats QUEUED as waiting, so a dequeued execution goes back to CREATED first.
      if (execution.state === 'QUEUED') await tx.setState('CREATED', date);
      return advanceLocked({ ...execution, state: 'CREATED' }, tx);
    }, hint, insert);
    const putOff = later;
    return async (handOff) => {
      if (putOff) {
        const { until, namespace, flowId } = putOff;
        if (handOff) db.scheduler.forget(executionId);
        await queue.publishExecution({ type: 'created', executionId, namespace, flowId }, { delayMs: Math.max(1, until.getTime() - now().getTime()) });
        return;
      }
      await afterCommit(outcome, handOff);
    };
  }

  async function onExecution(message: ExecutionMessage): Promise<void> {
    switch (message.type) {
      case 'created':
      case 'dequeued':
        await admitExecution(message.executionId, knownFrom(message));
        return;
      case 'kill':
        await queue.killExecution(message.executionId);
        await killChildren(message.executionId);
        await advance(message.executionId);
        return;
      case 'restarted':
      case 'resume':
        await advance(message.executionId, message.subflowResults === true);
        return;
    }
  }

  /** How one worker report changed an execution, in a batch of reports applied in one step. */
  interface Applied {
    readonly execution: LockedExecution;
    /** Something was written. */
    readonly changed: boolean;
    /** A run the engine watches ended: decide after the batch. */
    readonly advance: boolean;
    /** A follow-on run's report that comes before the end that queued it: nothing applied, it goes back in the queue. */
    readonly deferred?: boolean;
  }

  /**
   * Apply one worker report to `execution` (as the batch's earlier reports left it). `execution.taskRuns` is the
   * batch's own copy (`copyRuns`), updated in place by id: a batch of a loop's thousand reports must not copy or search
   * the execution's runs once per report.
   */
  async function applyResult(execution: LockedExecution, tx: ExecutionTx, message: ResultMessage): Promise<Applied> {
    const unchanged: Applied = { execution, changed: false, advance: false };
    const withRun = (run: SchedulerTaskRun, state = execution.state, advance = false): Applied => {
      upsertRun(execution.taskRuns, run);
      return { execution: state === execution.state ? execution : { ...execution, state }, changed: true, advance };
    };
    {
      const run = findRun(execution.taskRuns, message.taskRunId);
      // A follow-on run is stored by the step that applies the end which queued it (TaskJob.next), never from its own
      // reports: one that comes first (another consumer or replica took it, or that end's step started later) waits.
      if (!run && (message.type === 'started' || message.type === 'ended') && message.after !== undefined && followOnAwaits(execution, message.after)) {
        return { ...unchanged, deferred: true };
      }
      // The last log lines of a task run come with its end, and are stored even when the end itself no longer applies
      // (a run killed meanwhile still shows what it printed), but only once: a second delivery of the same report
      // finds its end already in the attempt's history.
      const repeated =
        message.type === 'ended' && run?.attempts[message.attempt - 1]?.state.histories.some((h) => h.state === message.state && h.date === message.endedAt);
      if (message.type === 'ended' && message.logs && message.logs.length > 0 && !repeated) {
        await tx.appendLogs(message.logs.map(logLine));
      }
      // Its metrics become rows (Kestra's MetricEntry) in the same step and on the same terms: once, even when the end
      // itself no longer applies (the task ran and recorded them). With them, the ones Sluice records for every run a
      // worker ran: its duration, and its exit code when it has one (builtin-metrics.ts).
      if (message.type === 'ended' && !repeated) {
        const metrics = [...(message.metrics ?? []), ...builtInMetrics(message)];
        if (metrics.length > 0) await tx.appendMetrics(taskRunMetricRows(metrics, { taskId: message.taskId, taskRunId: message.taskRunId, attemptNumber: message.attempt }));
      }
      if (message.type === 'started' || message.type === 'child-started') {
        const startedAt = new Date(message.startedAt);
        if (run && !startApplies(run, message.type, message.attempt, startedAt)) return unchanged;
        // A follow-on run the end that queued it did not store: the scheduler refused it.
        if (!run && message.type === 'started' && message.after !== undefined) return unchanged;
        const base: SchedulerTaskRun = run ?? {
          id: message.taskRunId,
          taskId: message.taskId,
          parentTaskRunId: message.type === 'child-started' ? message.parentTaskRunId : null,
          value: null,
          iteration: null,
          engineState: null,
          state: 'CREATED',
          stateHistory: [{ state: 'CREATED', date: message.startedAt }],
          attempts: [],
          outputs: null,
          metrics: null,
          workerGroup: null,
          workerId: null,
          startDate: null,
          endDate: null,
        };
        const attempts = [...base.attempts];
        while (attempts.length < message.attempt) attempts.push({ state: { current: 'CREATED', histories: [] } });
        const index = message.attempt - 1;
        const previous = attempts[index] ?? { state: { current: 'CREATED', histories: [] } };
        if (base.state === 'RUNNING' && previous.state.current === 'RUNNING') {
          // The attempt is running already: a repeated 'started', or a second delivery of the attempt (its job came
          // back). The history has its RUNNING; only who runs it may have changed (the watchdog watches that worker).
          if (base.workerId === message.workerId) return unchanged;
          attempts[index] = { ...previous, workerId: message.workerId };
          const moved: SchedulerTaskRun = { ...base, attempts, workerId: message.workerId };
          await tx.saveTaskRun(moved);
          return withRun(moved);
        }
        attempts[index] = { state: { current: 'RUNNING', histories: [...previous.state.histories, { state: 'RUNNING', date: message.startedAt }] }, workerId: message.workerId };
        const started: SchedulerTaskRun = {
          ...base,
          state: 'RUNNING',
          stateHistory: [...base.stateHistory, { state: 'RUNNING', date: message.startedAt }],
          attempts,
          workerId: message.workerId,
          startDate: base.startDate ?? startedAt,
          endDate: null,
        };
        await tx.saveTaskRun(started);
        // A retry attempt started: the execution no longer waits.
        if (execution.state === 'RETRYING') {
          await tx.setState('RUNNING', now());
          return withRun(started, 'RUNNING');
        }
        return withRun(started);
      }
      // ended
      // An unknown top-level run's end is ignored: a stale report, or a follow-on run the scheduler refused.
      if (!run ? message.parentTaskRunId === undefined : !endApplies(run, message.parentTaskRunId !== undefined, message.attempt)) return unchanged;
      const base: SchedulerTaskRun = run ?? {
        id: message.taskRunId,
        taskId: message.taskId,
        parentTaskRunId: message.parentTaskRunId ?? null,
        value: null,
        iteration: null,
        engineState: null,
        state: 'CREATED',
        // A child whose end is applied before its start (several consumers, or a start that waited longer): it was
        // created when it started.
        stateHistory: [{ state: 'CREATED', date: message.startedAt }],
        attempts: [],
        outputs: null,
        metrics: null,
        workerGroup: null,
        workerId: message.workerId,
        startDate: new Date(message.startedAt),
        endDate: null,
      };
      const attempts = [...base.attempts];
      while (attempts.length < message.attempt) attempts.push({ state: { current: 'CREATED', histories: [] } });
      const index = message.attempt - 1;
      const previous = attempts[index] ?? { state: { current: 'CREATED', histories: [] } };
      // The attempt ran, so its history shows RUNNING, at the date the worker started it, even when no 'started' was
      // applied before this end: a short task reports its start with its end (`reportsStart`), and a 'started' sent
      // before may be applied after (results are handled by several consumers, and one may have waited out a database
      // outage). A late 'started' is then ignored (the run has ended). Only a task refused before it started (the
      // worker's KILLED with no duration) never ran.
      const neverRan = message.reportsStart !== true && message.state === 'KILLED' && message.startedAt === message.endedAt;
      const unstarted = !neverRan && !previous.state.histories.some((h) => h.state === 'RUNNING');
      const running: StateEntry[] = unstarted ? [{ state: 'RUNNING', date: message.startedAt }] : [];
      const end: StateEntry = { state: message.state, date: message.endedAt };
      attempts[index] = { state: { current: message.state, histories: [...previous.state.histories, ...running, end] }, workerId: message.workerId };
      const outputs = message.error ? { ...message.outputs, error: message.error } : message.outputs;
      const updated: SchedulerTaskRun = {
        ...base,
        state: message.state,
        stateHistory: [...base.stateHistory, ...running, end],
        attempts,
        outputs: Object.keys(outputs).length > 0 ? outputs : null,
        metrics: message.metrics && message.metrics.length > 0 ? message.metrics : base.metrics,
        workerId: message.workerId,
        startDate: base.startDate ?? new Date(message.startedAt),
        endDate: new Date(message.endedAt),
      };
      await tx.saveTaskRun(updated);
      if (message.parentTaskRunId !== undefined) return withRun(updated);
      // The retry attempt ended (its start reported with its end, or before): the execution ran it, so it is RUNNING
      // again before deciding.
      if (execution.state === 'RETRYING') {
        await tx.setState('RUNNING', now());
        return withRun(updated, 'RUNNING', true);
      }
      return withRun(updated, execution.state, true);
    }
  }

  /**
   * Worker reports, applied in batches per execution: the reports of one execution that arrive while one of its steps
   * runs wait for it, then go in one step together (one transaction, one decision), as a loop's children ending
   * together would otherwise take a step each. Each caller resolves once its report is stored (its message is
   * acknowledged only then).
   */
  const batches = new Map<string, ResultMessage[]>();
  const pendingBatches = new WeakMap<ResultMessage[], Promise<void>>();
  function onResult(message: ResultMessage): Promise<void> {
    const { executionId } = message;
    const open = batches.get(executionId);
    // A report of a follow-on run goes in a later step than the end that queued it (which stores the run).
    if (open && !open.some((each) => each.type === 'ended' && each.next?.taskRunId === message.taskRunId)) {
      open.push(message);
      return pendingBatches.get(open) as Promise<void>;
    }
    const batch = [message];
    batches.set(executionId, batch);
    const done = (async () => {
      // A report of a job another process queued (the API's first step) carries the execution as that step left it.
      const hint = message.known === undefined ? undefined : knownFromWire(message.known);
      // The reports of follow-on runs that came too early (see applyResult), as the step that committed found them.
      let deferred: ResultMessage[] = [];
      const outcome = await locked(executionId, async (execution, tx) => {
        // From here on, new reports start the next batch (it waits for this step).
        if (batches.get(executionId) === batch) batches.delete(executionId);
        deferred = [];
        let current: LockedExecution = { ...execution, taskRuns: copyRuns(execution.taskRuns) };
        let changed = false;
        let advance = false;
        const followOns = new Map<string, FollowOn>();
        for (const each of batch) {
          const applied = await applyResult(current, tx, each);
          if (applied.deferred) {
            deferred.push(each);
            continue;
          }
          current = applied.execution;
          changed ||= applied.changed;
          advance ||= applied.advance;
          // The follow-on a worker queued as this end applied (a repeated end's was handled with the first).
          if (applied.changed && each.type === 'ended' && each.next && (each.state === 'SUCCESS' || each.state === 'WARNING') && each.parentTaskRunId === undefined) {
            followOns.set(each.next.taskId, { ...each.next, after: `task run ${each.taskRunId}` });
          }
        }
        if (advance) return advanceLocked(current, tx, followOns.size > 0 ? { followOns } : {});
        // A follow-on of an end that does not advance the execution is not run either.
        if (followOns.size > 0) return { execution: current, jobs: [], state: current.state, refused: [...followOns.values()] };
        return changed ? { execution: current, jobs: [], state: current.state } : undefined;
      }, hint?.execution.id === executionId ? hint : undefined);
      await afterCommit(outcome);
      // Put back before this batch's messages are acknowledged: a crash in between delivers them again.
      await Promise.all(deferred.map(deferReport));
    })();
    pendingBatches.set(batch, done);
    // A batch that failed before its step started leaves no entry behind.
    done.catch(() => undefined).finally(() => {
      if (batches.get(executionId) === batch) batches.delete(executionId);
    });
    return done;
  }

  return {
    id,
    async start() {
      const concurrency = options.concurrency ?? 8;
      // A step another scheduler made leaves this one's copy of the execution stale: drop it rather than try it.
      unsubscribeUpdates = await queue.subscribeExecutionUpdates(
        (update) => {
          if (update.scheduler !== id) db.scheduler.forget(update.executionId);
        },
        { only: 'steps' },
      );
      consumers.push(queue.consumeExecutions(consuming('executions', concurrency), reachable(onExecution)));
      consumers.push(queue.consumeResults(consuming('results', concurrency), reachable(onResult)));
      consumers.push(
        queue.consumeLogs(
          consuming('logs', concurrency),
          reachable(async (batch) => {
            await db.logs.append(batch.entries.map((entry) => ({ executionId: batch.executionId, namespace: batch.namespace, flowId: batch.flowId, ...logLine(entry) })));
          }),
        ),
      );
      try {
        await resumeUnfinished();
      } catch (error) {
        // The database went away since the migrations ran: the reconciliation resumes what waits, once it is back.
        const reason = database.failed(error);
        if (reason === undefined) throw error;
        log(`scheduler: could not resume the unfinished executions (${reason}): the reconciliation will, once the database is back`);
      }
      watchdog = new Watchdog({
        db,
        queue,
        intervalMs: options.watchdogIntervalMs ?? 5000,
        workerLivenessMs: livenessMs,
        lostAfterMs: options.lostTaskAfterMs ?? 90_000,
        database,
        log,
        now,
      });
      watchdog.start();
      reconciler = new Reconciler({
        db,
        queue,
        database,
        requeueTaskRuns,
        requeueAfterMs,
        leaseTtlMs: options.workerLeaseTtlMs ?? 15_000,
        workerLivenessMs: livenessMs,
        intervalMs: options.reconcileIntervalMs ?? Math.max(100, Math.min(5000, Math.floor(requeueAfterMs / 3))),
        log,
        now,
      });
      reconciler.start();
      const interval = options.triggerIntervalMs ?? 1000;
      if (interval > 0) {
        triggers = new TriggerLoop({ db, queue, owner: id, intervalMs: interval, log, now });
        triggers.start();
        flowTriggers = new FlowTriggerLoop({ db, queue, intervalMs: Math.min(interval, 250), log, now });
        flowTriggers.start();
      }
    },
    async startNew(execution, startOptions = {}) {
      const handOff = startOptions.handOff === true;
      const next = await admitStep(execution.id, knownNew(execution), execution);
      return { after: next(handOff) };
    },
    async health(healthOptions = {}) {
      // A query failed lately: DOWN until one succeeds. Otherwise ask.
      if (database.health.status === 'UP' || database.sinceUnavailableMs() > 1000) {
        const timeoutMs = healthOptions.timeoutMs ?? 2000;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            db.prisma.$queryRaw`SELECT 1`,
            new Promise((_resolve, reject) => {
              // pg's own message for a connection that timed out: classified unavailable like it.
              timer = setTimeout(() => reject(new Error('Connection terminated due to connection timeout')), timeoutMs);
            }),
          ]);
          database.succeeded();
        } catch (error) {
          database.failed(error);
        } finally {
          clearTimeout(timer);
        }
      }
      const health = database.health;
      return { status: health.status, checks: { database: health } };
    },
    async stop() {
      await triggers?.stop();
      await flowTriggers?.stop();
      await reconciler?.stop();
      await watchdog?.stop();
      await Promise.all(consumers.splice(0).map((c) => c.close()));
      await unsubscribeUpdates?.();
      unsubscribeUpdates = undefined;
      // With several replicas, stale copies (a step another replica made first) cost a round trip each: say how many.
      const { fromMemory, locked, stale } = db.scheduler.steps;
      log(`scheduler ${id} stopped: ${fromMemory} steps from memory, ${locked} locked, ${stale} from a stale copy (then locked)`);
    },
  };

  /** After a (re)start: admit CREATED executions and re-advance running ones, re-enqueueing in-flight task runs. */
  async function resumeUnfinished(): Promise<void> {
    const unfinished = await db.scheduler.unfinishedExecutionIds();
    for (const { id: executionId, state } of unfinished) {
      try {
        if (state === 'CREATED') await admitExecution(executionId);
        else if (state === 'QUEUED') continue;
        else await reenqueueInFlight(executionId);
      } catch (error) {
        log(`scheduler: could not resume execution ${executionId}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  /**
   * The jobs of an execution's top-level task runs that wait for a worker (CREATED, RETRYING), `only` those if given;
   * with `running`, those of RUNNING ones too (their current attempt, again).
   */
  function waitingJobs(flow: Flow, execution: LockedExecution, only?: ReadonlySet<string>, running = false): { job: TaskJob; delayMs: number }[] {
    const jobs: { job: TaskJob; delayMs: number }[] = [];
    const structure = structureOf(flow);
    const byId = new Map(execution.taskRuns.map((run) => [run.id, run]));
    let base: Record<string, unknown> | undefined;
    for (const run of execution.taskRuns) {
      if (run.state !== 'CREATED' && run.state !== 'RETRYING' && !(running && run.state === 'RUNNING')) continue;
      if (only && !only.has(run.id)) continue;
      const node = structure.byId.get(run.taskId);
      // Only runs a worker runs: not flowables, not Labels, not a WorkingDirectory's children (its job stands for them).
      if (!node || roleOf(node) !== 'runnable') continue;
      const parent = run.parentTaskRunId ? byId.get(run.parentTaskRunId) : undefined;
      if (parent && node.parent?.kind === 'WorkingDirectory' && node.branch === 'main') continue;
      const task = applyPluginDefaults(flow, node.task, options.resolveTaskType);
      const attempt = run.state === 'RETRYING' ? run.attempts.length + 1 : Math.max(1, run.attempts.length);
      base ??= templateVariables(flow, { ...execution, state: stateForVariables(flow, execution) }, execution.taskRuns);
      jobs.push({
        job: taskJob(execution, flow, run, task, attempt, workerGroupOf(task).key, runVariables(base, run, byId), now().toISOString()),
        delayMs: run.state === 'RETRYING' ? retryLeftMs(flow, node.task, run) : 0,
      });
    }
    return jobs;
  }

  /**
   * What is left of a RETRYING run's retry delay: it counts from the failed attempt's end, and a random one is taken at
   * its longest (never sooner than the delay the engine drew).
   */
  function retryLeftMs(flow: Flow, spec: Flow['tasks'][number], run: SchedulerTaskRun): number {
    const policy = retryPolicyOf(flow, spec);
    if (!policy || !run.endDate) return 0;
    const delay = retryDelayMs(policy, Math.max(1, run.attempts.length), () => 1);
    return Math.max(0, run.endDate.getTime() + delay - now().getTime());
  }

  /**
   * A scheduler that stopped between committing and enqueueing may have left task runs CREATED with no job: enqueue
   * them again (the idempotency key makes it a no-op when the job exists), then advance.
   */
  async function reenqueueInFlight(executionId: string): Promise<void> {
    const outcome = await locked(executionId, async (execution, tx) => {
      const flow = await loadFlow(execution.namespace, execution.flowId, execution.flowRevision, tx);
      const jobs = waitingJobs(flow, execution);
      const advanced = await advanceLocked(execution, tx);
      return { ...advanced, jobs: [...jobs, ...advanced.jobs] };
    });
    await afterCommit(outcome);
  }

  /**
   * The reconciliation found these task runs waiting with no job in the queue (it lost them): send their jobs again,
   * replacing a finished job of the same id (its key must not block this one). Runs no longer waiting are left.
   */
  async function requeueTaskRuns(executionId: string, taskRunIds: readonly string[], running = false): Promise<number> {
    let jobs: { job: TaskJob; delayMs: number }[] = [];
    await locked(executionId, async (execution, tx) => {
      jobs = [];
      if (execution.state !== 'RUNNING' && execution.state !== 'RETRYING') return;
      const flow = await loadFlow(execution.namespace, execution.flowId, execution.flowRevision, tx);
      jobs = waitingJobs(flow, execution, new Set(taskRunIds), running);
    });
    await Promise.all(
      jobs.map(({ job, delayMs }) =>
        queue.enqueueTask(job.workerGroup, job, { dedupId: `${job.taskRunId}-${job.attempt}`, replaceFinished: true, ...(delayMs > 0 ? { delayMs } : {}) }),
      ),
    );
    return jobs.length;
  }
}

/**
 * The execution a `created` message describes, for a first step that need not read it back. Its values are not
 * copied here: the store keeps its own copy of a hint (as Postgres would return it).
 */
function knownFrom(message: ExecutionMessage): KnownExecution | undefined {
  const { snapshot, namespace, flowId } = message;
  if (message.type !== 'created' || !snapshot || namespace === undefined || flowId === undefined) return undefined;
  return {
    version: snapshot.version,
    execution: {
      id: message.executionId,
      namespace,
      flowId,
      flowRevision: snapshot.flowRevision,
      state: snapshot.state,
      inputs: snapshot.inputs as Record<string, unknown>,
      labels: snapshot.labels as { key: string; value: string }[],
      trigger: snapshot.trigger as LockedExecution['trigger'],
      // The API sends a snapshot only with new executions that start at once: never a retry's.
      scheduleDate: null,
      restartedFrom: null,
      attemptNumber: 1,
      originalCreatedDate: null,
      startDate: new Date(snapshot.startDate),
      taskRuns: [],
    },
  };
}

/**
 * Whether the reports of a follow-on run the execution does not have must wait: the run it follows (`after`) has not
 * ended yet, or is not stored yet (a follow-on itself, whose own predecessor has not ended), in an execution still
 * running. Once that run has ended, the step that applied its end stored the follow-on run or refused it.
 */
function followOnAwaits(execution: LockedExecution, after: string): boolean {
  if (isTerminalExecutionState(execution.state)) return false;
  const before = findRun(execution.taskRuns, after);
  return before === undefined || !isTerminalTaskRunState(before.state);
}

/**
 * Results may arrive twice (at-least-once) and out of order (several consumers): a start applies to a top-level run
 * that has not ended and is not past that attempt; a child's start applies unless the child ended after it.
 */
function startApplies(run: SchedulerTaskRun, type: 'started' | 'child-started', attempt: number, startedAt: Date): boolean {
  if (type === 'child-started') return run.endDate === null || run.endDate.getTime() <= startedAt.getTime();
  if (isTerminalTaskRunState(run.state)) return false;
  // RETRYING: the last recorded attempt already ended (it failed), so only the next one may start. A late 'started'
  // of the failed attempt used to pass `attempt >= attempts.length` and move the run back to RUNNING, overwriting
  // that attempt's FAILED state (as endApplies already does for 'ended').
  if (run.state === 'RETRYING') return attempt > run.attempts.length;
  return attempt >= run.attempts.length;
}

/** An end applies to the current attempt of a run that is still open (children: any open run). */
function endApplies(run: SchedulerTaskRun, child: boolean, attempt: number): boolean {
  if (child) return !isTerminalTaskRunState(run.state);
  if (run.state === 'RETRYING') return attempt > run.attempts.length;
  if (run.state === 'CREATED' || run.state === 'RUNNING' || run.state === 'KILLING') return attempt >= run.attempts.length;
  return false;
}

/** The worker job for attempt `attempt` of `run` (of `task`, pluginDefaults applied), queued for worker group `group`. */
function taskJob(
  execution: { readonly id: string; readonly namespace: string; readonly flowId: string; readonly flowRevision: number },
  flow: Flow,
  run: SchedulerTaskRun,
  task: TaskJob['task'],
  attempt: number,
  group: string,
  variables: Record<string, unknown>,
  queuedAt: string,
): TaskJob {
  const { id: executionId, namespace, flowId, flowRevision } = execution;
  const masked = secretInputValues(flow, variables.inputs);
  return {
    executionId,
    namespace,
    flowId,
    flowRevision,
    taskRunId: run.id,
    taskId: run.taskId,
    ...(run.parentTaskRunId ? { parentTaskRunId: run.parentTaskRunId } : {}),
    attempt,
    task,
    workerGroup: group,
    variables,
    ...(masked.length > 0 ? { masked } : {}),
    queuedAt,
  };
}

/** The values of the flow's SECRET inputs in `inputs`: masked in task logs and outputs, as `secret()` values are. */
export function secretInputValues(flow: Flow, inputs: unknown): string[] {
  if (!isRecord(inputs)) return [];
  const values: string[] = [];
  for (const input of flow.inputs ?? []) {
    const value = input.type === 'SECRET' ? inputs[input.id] : undefined;
    if (typeof value === 'string' && value.length > 0) values.push(value);
  }
  return values;
}

/** `{{ execution.state }}` of a stored execution: its final state while the flow's afterExecution tasks run. */
function stateForVariables(flow: Flow, execution: LockedExecution): string {
  // Without afterExecution tasks it is the execution's own: no need to convert its runs.
  if (structureOf(flow).afterExecution.length === 0) return execution.state;
  const originalStartDate = (execution.originalCreatedDate ?? execution.startDate).toISOString();
  const engineExecution: EngineExecution = {
    id: execution.id,
    state: execution.state as ExecutionStateName,
    attempt: execution.attemptNumber,
    originalStartDate,
    taskRuns: execution.taskRuns.map(toEngineRun),
  };
  return executionStateFor(flow, engineExecution, { now: new Date(), newTaskRunId });
}

function toEngineRun(run: SchedulerTaskRun): EngineTaskRun {
  return {
    id: run.id,
    taskId: run.taskId,
    ...(run.parentTaskRunId === null ? {} : { parentTaskRunId: run.parentTaskRunId }),
    ...(run.value === null ? {} : { value: run.value }),
    ...(run.iteration === null ? {} : { iteration: run.iteration }),
    ...(run.engineState === null ? {} : { engineState: run.engineState as EngineRunState }),
    state: run.state as TaskRunStateName,
    attempt: Math.max(1, run.attempts.length),
    ...(run.startDate ? { firstStartedAt: run.startDate.toISOString() } : {}),
    ...(run.endDate ? { endedAt: run.endDate.toISOString() } : {}),
  };
}

function endRun(run: SchedulerTaskRun, state: string, iso: string, date: Date, outputs?: Record<string, unknown>): SchedulerTaskRun {
  const history: StateEntry[] = [...run.stateHistory, { state, date: iso }];
  const attempts = run.attempts.length > 0 ? [...run.attempts] : [{ state: { current: 'CREATED', histories: [{ state: 'CREATED', date: iso }] } }];
  const last = attempts[attempts.length - 1];
  if (last) attempts[attempts.length - 1] = { ...last, state: { current: state, histories: [...last.state.histories, { state, date: iso }] } };
  return { ...run, state, stateHistory: history, attempts, endDate: date, ...(outputs ? { outputs } : {}) };
}

/** A log line from a worker, as stored. */
function logLine(entry: WireLogEntry): { taskId: string; taskRunId: string; attemptNumber: number | null; level: WireLogEntry['level']; message: string; timestamp: Date } {
  return { taskId: entry.taskId, taskRunId: entry.taskRunId, attemptNumber: entry.attempt ?? null, level: entry.level, message: entry.message, timestamp: new Date(entry.timestamp) };
}

export { newExecutionId };
