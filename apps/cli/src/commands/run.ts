/**
 * `sluice run FLOW.yml [--input k=v | k=@file]... [--output text|json] [--resume-after DURATION]`: one execution of
 * one flow, here and now, with no server, no database and no queue. The pure engine (`@sluice/engine`, the
 * scheduler's own logic) decides what runs next, flowables included; tasks run through the task runtime with the
 * DOCKER and PROCESS runners, as on a worker, side by side when the flow says so (Parallel, ForEach...); files go to
 * `./.sluice/storage`, KV values (`kv()`, `kv.*`) to `./.sluice/kv` (one JSON file per key, kept between runs). Logs
 * stream with task ids, a progress line marks each task run, indented by its depth in the tree with its loop value;
 * outputs are printed at the end. A Pause asks on the terminal (or `--resume-after`).
 * Exit code 0 on SUCCESS or WARNING, 1 otherwise (2 for usage errors and invalid flows or inputs).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { CORRELATION_ID_LABEL, createFlowValidator, executionJson, flowLabels, isSluiceError, resolveInputs, SluiceError } from '@sluice/core';
import type { ExecutionView, Flow, FlowInput, StateHistoryView, TaskSpec } from '@sluice/core';
import { decide, executionStateFor, isTerminalTaskRunState, needsAnotherDecision, RunIndex, settleCreated, structureOf } from '@sluice/engine';
import type { EngineAction, EngineRunState, EngineTaskRun, Evaluation, ExecutionStateName, TaskRunStateName } from '@sluice/engine';
import { createDefaultRegistries } from '@sluice/plugins';
import { applyPluginDefaults, evaluate, executionOutputs, flowOutputs, newTaskRunId, runVariables, secretInputValues, templateVariables } from '@sluice/scheduler';
import type { VariableScope } from '@sluice/scheduler';
import { inputFileUri, LocalFileStorage } from '@sluice/storage';
import { createFileKvStore, createSingleRunExecutions, runTask } from '@sluice/task-runtime';
import { isProcessSpawn, PROCESS_RUNNER_TYPE, processRunnerOptions, processSpawnError } from '@sluice/worker';
import type { TaskLogEntry, TaskRunOutcome } from '@sluice/task-runtime';
import type { CliEnv } from '../main.js';
import type { CliIO } from '../io.js';
import { fileSchemaCache } from '../schema-cache.js';

export interface RunOptions {
  readonly file: string;
  /** `key=value` or `key=@path` (a FILE input). */
  readonly inputs: readonly string[];
  readonly output: 'text' | 'json';
  /** Data folder for storage and working directories. Default `./.sluice`. */
  readonly dataDir?: string;
  /** Abort to kill the run (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Resume a paused execution by itself after this long (ms), instead of asking on the terminal. */
  readonly resumeAfterMs?: number;
  /** Reads one answer from the terminal (a PAUSED execution asks to resume); absent when stdin is not a terminal. */
  readonly ask?: (question: string) => Promise<string | undefined>;
}

interface RunRecord {
  id: string;
  taskId: string;
  parentTaskRunId?: string;
  value?: string;
  iteration?: number;
  engineState?: EngineRunState;
  /** Every state it went through, the first when it was created (`taskrun.startDate`). */
  stateHistory: StateHistoryView[];
  state: TaskRunStateName;
  attempt: number;
  /** One per attempt run, as the API stores them: `{state: {current, histories}}`. */
  attempts: { state: { current: string; histories: StateHistoryView[] } }[];
  firstStartedAt?: string;
  endedAt?: string;
  outputs: Record<string, unknown>;
  error?: { code: string; message: string };
}

function time(date: Date): string {
  return date.toISOString().slice(11, 23);
}

export async function runCommand(options: RunOptions, env: CliEnv, io: CliIO): Promise<number> {
  const processSpawn = env.SLUICE_PROCESS_SPAWN || undefined;
  if (processSpawn !== undefined && !isProcessSpawn(processSpawn)) {
    io.stderr(`sluice: ${processSpawnError(processSpawn)}`);
    return 2;
  }
  const registries = createDefaultRegistries();
  const validator = createFlowValidator(registries, { eager: true, compiledSchemas: fileSchemaCache() });
  const path = resolve(options.file);
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    io.stderr(`sluice: cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return 2;
  }
  const documents = validator.validateSource(source);
  const problems = documents.flatMap((d) => d.problems);
  if (problems.length > 0 || documents.length !== 1 || !documents[0]?.flow) {
    for (const p of problems) io.stderr(`${options.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
    if (documents.length !== 1) io.stderr(`sluice: ${options.file} must hold exactly one flow, found ${documents.length}`);
    return 2;
  }
  const flow: Flow = documents[0].flow;
  // A Subflow or a ForEachItem starts another flow, which `sluice run` (one flow, no database) does not have.
  const subflow = [...structureOf(flow).byId.values()].find((node) => node.executor === 'Subflow' || node.kind === 'ForEachItem');
  if (subflow) {
    io.stderr(
      `sluice: ${options.file}: task ${subflow.task.id} (${subflow.task.type}) starts another flow, which sluice run cannot: deploy the flows and run them with sluice server local`,
    );
    return 2;
  }

  const dataDir = resolve(options.dataDir ?? env.SLUICE_DATA_DIR ?? '.sluice');
  const storage = new LocalFileStorage({ root: resolve(env.SLUICE_STORAGE_DIR ?? `${dataDir}/storage`) });
  let executionId = newTaskRunId();
  const scope = { namespace: flow.namespace, flowId: flow.id, executionId };

  // Inputs: k=v, or k=@path for FILE inputs (stored like an API upload).
  const given: Record<string, unknown> = {};
  for (const entry of options.inputs) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new SluiceError('SLU_CLI_USAGE', { reason: `--input must be key=value or key=@file, got "${entry}"` });
    const key = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    const declared = flow.inputs?.find((i) => i.id === key);
    if (declared?.type === 'FILE' && value.startsWith('@')) {
      const file = resolve(value.slice(1));
      try {
        await stat(file);
      } catch {
        throw new SluiceError('SLU_CLI_USAGE', { reason: `--input ${key}: cannot read ${value.slice(1)}` });
      }
      const uri = inputFileUri({ ...scope, inputId: key }, basename(file));
      await storage.put(uri, Readable.from(await readFile(file)));
      given[key] = { uri };
    } else {
      given[key] = value;
    }
  }
  let inputs: Record<string, unknown>;
  try {
    inputs = resolveInputs(flow.inputs, given);
  } catch (error) {
    if (isSluiceError(error)) {
      io.stderr(`sluice: ${error.message}`);
      return 2;
    }
    throw error;
  }

  const originalStart = new Date();
  // A retry with behavior CREATE_NEW_EXECUTION goes on as a new execution: another id, attempt, start date and runs.
  let started = originalStart;
  let attempt = 1;
  let state: ExecutionStateName = 'CREATED';
  // The execution's states, as the API's `state.histories` (noted after every change the loop makes).
  let histories: StateHistoryView[] = [];
  const noteState = (): void => {
    if (histories[histories.length - 1]?.state !== state) histories.push({ state, date: new Date().toISOString() });
  };
  noteState();
  // A retry as a new execution keeps the first one's id as its `originalId`.
  const firstExecutionId = executionId;
  // The flow's labels, as an execution the API creates has them; a Labels task adds to them or changes them.
  let labels: { key: string; value: string }[] = flowLabels(flow).map((label) => ({ key: label.key, value: label.value }));
  // Kestra's system label, on every execution, as the API's store adds it.
  if (!labels.some((label) => label.key === CORRELATION_ID_LABEL)) labels.push({ key: CORRELATION_ID_LABEL, value: executionId });
  const runs: RunRecord[] = [];
  const byId = new Map<string, RunRecord>();
  const structure = structureOf(flow);
  let index = new RunIndex(structure);
  // The execution as template variables see it, in its current state.
  // `{{ execution.state }}` is the final state while the flow's afterExecution tasks run.
  const variableScope = (): VariableScope => ({
    id: executionId,
    flowRevision: flow.revision ?? 1,
    startDate: started,
    state: executionStateFor(flow, { id: executionId, state, attempt, originalStartDate: originalStart.toISOString(), taskRuns: [] }, { now: new Date(), newTaskRunId, index }),
    inputs,
    labels,
  });
  const variablesOf = (run: RunRecord): Record<string, unknown> => runVariables(templateVariables(flow, variableScope(), [], executionOutputs(runs.map(asVariableRun))), asVariableRun(run), toVariableMap(byId));
  // The flow's `outputs`, evaluated when the execution succeeds.
  let flowOutputValues: Record<string, unknown> = {};
  const text = options.output === 'text';
  const out = (line: string): void => {
    if (text) io.stdout(line);
  };
  const killed = new AbortController();
  options.signal?.addEventListener('abort', () => killed.abort(), { once: true });
  // Aborted once the execution ended: wake-ups and a --resume-after wait still pending are then moot.
  const finished = new AbortController();
  const moot = AbortSignal.any([killed.signal, finished.signal]);
  out(`execution ${executionId} of ${flow.namespace}.${flow.id}`);

  const executionStore = createSingleRunExecutions(() => ({ id: executionId, namespace: flow.namespace, flowId: flow.id, state }));
  // kv() and the KV tasks: one JSON file per key under the data folder's kv/, kept from one run to the next.
  const kvStore = createFileKvStore(join(dataDir, 'kv'));
  const depthOf = (run: RunRecord): number => {
    let depth = 0;
    for (let parent = run.parentTaskRunId ? byId.get(run.parentTaskRunId) : undefined; parent && depth < 64; parent = parent.parentTaskRunId ? byId.get(parent.parentTaskRunId) : undefined) depth++;
    return depth;
  };
  // Top-level runs show their place in the flow (`[2/5]`); nested ones are indented under their parent.
  const topLevel = structure.main.length + structure.errors.length + structure.finally.length + structure.afterExecution.length;
  const topLevelRuns: string[] = [];
  const label = (run: RunRecord): string => {
    const depth = depthOf(run);
    let place = '';
    if (depth === 0) {
      if (!topLevelRuns.includes(run.id)) topLevelRuns.push(run.id);
      place = `[${topLevelRuns.indexOf(run.id) + 1}/${topLevel}] `;
    }
    return `${'  '.repeat(depth)}${place}${name(run)}`;
  };
  /** The run on its end line: indented, no place. */
  const name = (run: RunRecord): string => `${run.taskId}${run.value !== undefined ? ` [${run.value}]` : ''}${run.iteration !== undefined ? ` #${run.iteration}` : ''}`;
  const endName = (run: RunRecord): string => `${'  '.repeat(depthOf(run))}${name(run)}`;
  const touch = (run: RunRecord): void => {
    noteState();
    if (!byId.has(run.id)) {
      runs.push(run);
      byId.set(run.id, run);
    }
    index.upsert(engineRun(run));
  };
  const setState = (run: RunRecord, next: TaskRunStateName): void => {
    run.state = next;
    if (run.stateHistory[run.stateHistory.length - 1]?.state !== next) run.stateHistory.push({ state: next, date: new Date().toISOString() });
    if (isTerminalTaskRunState(next)) run.endedAt ??= new Date().toISOString();
    touch(run);
  };

  const runOne = async (task: TaskSpec, run: RunRecord): Promise<void> => {
    const spec = applyPluginDefaults(flow, task, (type) => registries.tasks.find(type));
    out(`── ${label(run)}${run.attempt > 1 ? ` (attempt ${run.attempt})` : ''}`);
    run.firstStartedAt ??= new Date().toISOString();
    delete run.endedAt;
    setState(run, 'RUNNING');
    startAttempt(run);
    const definition = registries.tasks.find(spec.type);
    const outcome: TaskRunOutcome = definition
      ? await runTask({
          definition,
          task: spec,
          taskRunId: run.id,
          attempt: run.attempt,
          execution: { id: executionId, namespace: flow.namespace, flowId: flow.id, flowRevision: flow.revision ?? 1 },
          variables: variablesOf(run),
          masked: secretInputValues(flow, inputs),
          storage,
          runners: {
            registry: registries.runners,
            options: {
              'io.kestra.plugin.scripts.runner.docker.Docker': {
                ...(env.DOCKER_HOST?.startsWith('unix://') ? { socketPath: env.DOCKER_HOST.slice('unix://'.length) } : {}),
                ...(env.SLUICE_DOCKER_NETWORK_MODE ? { networkMode: env.SLUICE_DOCKER_NETWORK_MODE } : {}),
              },
              [PROCESS_RUNNER_TYPE]: processRunnerOptions({ processSpawn }),
            },
          },
          tasks: registries.tasks,
          secrets: env,
          signal: killed.signal,
          // log.Fetch reads this run's own lines; Resume can only target this (running) execution here.
          executions: executionStore,
          kv: kvStore,
          onLog: (entry: TaskLogEntry) => {
            executionStore.record(entry, run.attempt);
            out(`${time(new Date(entry.timestamp))} ${entry.level.padEnd(5)} ${entry.taskId}  ${entry.message}`);
          },
          onChildStart: (child) => {
            const record: RunRecord = {
              id: child.taskRunId,
              taskId: child.taskId,
              parentTaskRunId: child.parentTaskRunId,
              stateHistory: [{ state: 'RUNNING', date: new Date().toISOString() }],
              state: 'RUNNING',
              attempt: child.attempt,
              attempts: [],
              outputs: {},
            };
            startAttempt(record);
            touch(record);
            out(`   ${label(record)}`);
          },
          onChildEnd: (child) => {
            const record = byId.get(child.taskRunId);
            if (record) {
              Object.assign(record, { outputs: child.outputs, endedAt: child.endedAt, ...(child.error ? { error: child.error } : {}) });
              endAttempt(record, child.state);
              setState(record, child.state as TaskRunStateName);
              out(`   ${label(record)} ${child.state}${child.error ? `: ${child.error.message}` : ''}`);
            }
          },
        })
      : {
          taskRunId: run.id,
          taskId: task.id,
          attempt: run.attempt,
          state: 'FAILED',
          outputs: {},
          error: { code: 'SLU_PLUGIN_UNKNOWN_TYPE', message: `unknown task type ${spec.type}`, details: {} },
          startedAt: new Date().toISOString(),
          endedAt: new Date().toISOString(),
        };
    run.outputs = { ...outcome.outputs };
    run.endedAt = outcome.endedAt;
    if (outcome.error) run.error = { code: outcome.error.code, message: outcome.error.message };
    else delete run.error;
    endAttempt(run, outcome.state);
    setState(run, outcome.state as TaskRunStateName);
    const seconds = ((Date.parse(outcome.endedAt) - Date.parse(outcome.startedAt)) / 1000).toFixed(1);
    out(`── ${endName(run)} ${outcome.state} in ${seconds} s${outcome.error ? `: ${outcome.error.message}` : ''}`);
  };

  // Work in flight (task runs, retry delays) and wake-ups: the loop decides again whenever one of them settles.
  const inFlight = new Set<Promise<void>>();
  const start = (work: () => Promise<void>): void => {
    const promise: Promise<void> = work().finally(() => inFlight.delete(promise));
    inFlight.add(promise);
  };
  let ended = false;
  // `state` changes inside callbacks: read it through here so the compiler does not narrow it.
  const current = (): ExecutionStateName => state;

  const apply = async (action: EngineAction): Promise<void> => {
    switch (action.type) {
      case 'setState':
        state = action.state;
        return;
      case 'end':
        state = action.state;
        ended = true;
        if ((state === 'SUCCESS' || state === 'WARNING') && (flow.outputs?.length ?? 0) > 0) {
          const result = await flowOutputs(flow, templateVariables(flow, variableScope(), runs.map(asVariableRun)), new Date());
          if ('outputs' in result) {
            flowOutputValues = result.outputs;
          } else {
            state = 'FAILED';
            io.stderr(`sluice: ${result.error}`);
          }
        }
        return;
      case 'wake':
        start(() => delay(action.delayMs, moot));
        return;
      case 'cancelTaskRun': {
        const run = byId.get(action.taskRunId);
        if (run) setState(run, action.state);
        return;
      }
      case 'updateTaskRun': {
        const run = byId.get(action.taskRunId);
        if (!run) return;
        if (action.outputs) run.outputs = { ...run.outputs, ...action.outputs };
        if (action.iteration !== undefined) run.iteration = action.iteration;
        if (action.engineState) run.engineState = action.engineState;
        if (action.log) out(`   ${action.log.message}`);
        if (action.state && action.state !== run.state) {
          setState(run, action.state);
          if (isTerminalTaskRunState(action.state)) out(`── ${endName(run)} ${action.state}`);
          else if (action.state === 'PAUSED') out(`── ${label(run)} PAUSED`);
        } else {
          touch(run);
        }
        return;
      }
      case 'evaluate': {
        const run = byId.get(action.taskRunId);
        if (!run) return;
        const result = await evaluate(action.expression, variablesOf(run), new Date());
        run.engineState = { ...run.engineState, evaluated: { ...run.engineState?.evaluated, [action.key]: result } };
        touch(run);
        return;
      }
      case 'create': {
        const run: RunRecord = {
          id: action.taskRunId,
          taskId: action.task.id,
          ...(action.parentTaskRunId ? { parentTaskRunId: action.parentTaskRunId } : {}),
          ...(action.value !== undefined ? { value: action.value } : {}),
          ...(action.iteration !== undefined ? { iteration: action.iteration } : {}),
          stateHistory: [{ state: 'CREATED', date: new Date().toISOString() }],
          state: 'CREATED',
          attempt: 1,
          attempts: [],
          outputs: {},
        };
        touch(run);
        const evaluations: Record<string, Evaluation> = {};
        for (const [key, expression] of Object.entries(action.evaluate ?? {})) evaluations[key] = await evaluate(expression, variablesOf(run), new Date());
        const settled = settleCreated(action, evaluations, Date.now());
        if (settled.outputs) run.outputs = { ...settled.outputs };
        if (settled.engineState) run.engineState = settled.engineState;
        if (settled.iteration !== undefined) run.iteration = settled.iteration;
        if (settled.error) run.error = { code: 'SLU_TASK_FAILED', message: settled.error };
        if (settled.labels) {
          const merged = new Map(labels.map((l) => [l.key, l.value]));
          for (const l of settled.labels) merged.set(l.key, l.value);
          labels = [...merged].map(([key, value]) => ({ key, value }));
        }
        if (settled.state === 'CREATED') {
          start(() => runOne(action.task, run));
          return;
        }
        run.firstStartedAt = new Date().toISOString();
        setState(run, settled.state);
        out(`── ${label(run)}${settled.state === 'RUNNING' ? '' : ` ${settled.state}${settled.error ? `: ${settled.error}` : ''}`}`);
        return;
      }
      case 'dispatch': {
        const run = byId.get(action.taskRunId);
        if (run) start(() => runOne(action.task, run));
        return;
      }
      case 'retry': {
        const run = byId.get(action.taskRunId);
        if (!run) return;
        setState(run, 'RETRYING');
        if (state === 'RUNNING') state = 'RETRYING';
        out(`── ${endName(run)} FAILED: retrying in ${(action.delayMs / 1000).toFixed(1)} s (attempt ${action.attempt})`);
        start(async () => {
          await delay(action.delayMs, killed.signal);
          if (killed.signal.aborted) return;
          if (state === 'RETRYING') state = 'RUNNING';
          run.attempt = action.attempt;
          await runOne(action.task, run);
        });
        return;
      }
      case 'retryExecution': {
        const run = byId.get(action.taskRunId);
        if (run) setState(run, 'RETRIED');
        out(`execution ${executionId} RETRIED: retrying the flow as a new execution in ${(action.delayMs / 1000).toFixed(1)} s (attempt ${action.attempt})`);
        await delay(action.delayMs, killed.signal);
        executionId = newTaskRunId();
        attempt = action.attempt;
        started = new Date();
        state = 'CREATED';
        histories = [];
        runs.length = 0;
        byId.clear();
        index = new RunIndex(structure);
        out(`execution ${executionId} of ${flow.namespace}.${flow.id} (attempt ${attempt})`);
        return;
      }
    }
  };

  /** A paused run that waits for a resume: no `delay` of its own. */
  const waitsForResume = (r: RunRecord): boolean => r.state === 'PAUSED' && r.engineState?.resumeAt === undefined;
  /** A PAUSED execution: resume its first run waiting for a resume, after --resume-after or an answer. */
  const resumePaused = async (): Promise<boolean> => {
    const paused = runs.find(waitsForResume);
    if (!paused) return true; // resumed meanwhile (its delay elapsed, or its timeout failed it)
    const pauseTask = structure.byId.get(paused.taskId)?.task;
    const onResume = Array.isArray(pauseTask?.onResume) ? (pauseTask.onResume as FlowInput[]) : [];
    const given: Record<string, unknown> = {};
    if (options.resumeAfterMs !== undefined) {
      out(`execution ${executionId} PAUSED at ${paused.taskId}: resuming in ${(options.resumeAfterMs / 1000).toFixed(1)} s (--resume-after)`);
      await delay(options.resumeAfterMs, moot);
    } else if (options.ask) {
      io.stderr(`execution ${executionId} PAUSED at ${paused.taskId}: answer to resume it, Ctrl-C to kill it`);
      for (const input of onResume) {
        const answer = await options.ask(`${input.id} (${input.type}${input.defaults !== undefined ? `, default ${JSON.stringify(input.defaults)}` : ''}): `);
        if (answer === undefined) return false;
        if (answer !== '') given[input.id] = answer;
      }
      if (onResume.length === 0 && (await options.ask('press Enter to resume: ')) === undefined) return false;
    } else {
      io.stderr(`sluice: execution ${executionId} PAUSED at ${paused.taskId} and stdin is not a terminal: pass --resume-after DURATION to resume it by itself`);
      return false;
    }
    if (killed.signal.aborted || paused.state !== 'PAUSED') return true;
    let typed: Record<string, unknown>;
    try {
      typed = resolveInputs(onResume as Flow['inputs'], given);
    } catch (error) {
      io.stderr(`sluice: cannot resume: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
    if (onResume.length > 0) paused.outputs = { ...paused.outputs, onResume: typed };
    const legacy = (structure.byId.get(paused.taskId)?.main.length ?? 0) > 0;
    setState(paused, legacy ? 'RUNNING' : 'SUCCESS');
    out(`── ${label(paused)} resumed`);
    if (!runs.some((r) => r.state === 'PAUSED')) state = 'RUNNING';
    return true;
  };

  // Resolves once the run is killed: raced with the work in flight (one listener for the whole run).
  const killedSignal = killedPromise(killed.signal);
  // A PAUSED execution is resumed by --resume-after or an answer, side by side with its Pause's own wake-up (a timeout).
  let resuming: Promise<void> | undefined;
  // The engine loop: decide and apply until nothing changes, then wait for work in flight or a wake-up.
  for (;;) {
    if (killed.signal.aborted && state !== 'KILLING' && !['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED'].includes(state)) state = 'KILLING';
    let again = true;
    while (again && !ended) {
      again = false;
      const { actions } = decide(flow, { id: executionId, state, attempt, originalStartDate: originalStart.toISOString(), taskRuns: [] }, { now: new Date(), newTaskRunId, index });
      for (const action of actions) {
        await apply(action);
        noteState();
        if (needsAnotherDecision(action) || action.type === 'retryExecution') again = true;
      }
    }
    if (ended) break;
    // With neither --resume-after nor a terminal, only the Pause's own delay or timeout can move it on: wait for it.
    // A Pause with a `delay` resumes by itself: only one waiting for a resume is resumed here.
    const canResume = runs.some(waitsForResume) && (options.resumeAfterMs !== undefined || options.ask !== undefined || inFlight.size === 0);
    if (current() === 'PAUSED' && !resuming && !killed.signal.aborted && canResume) {
      resuming = resumePaused().then((resumed) => {
        resuming = undefined;
        if (!resumed && current() === 'PAUSED' && !killed.signal.aborted) killed.abort();
      });
    }
    if (inFlight.size > 0 || resuming) {
      await Promise.race([...inFlight, killedSignal, ...(resuming ? [resuming] : [])]);
      continue;
    }
    if (killed.signal.aborted) continue; // KILLING with nothing running: the next decision ends it
    throw new Error(`engine made no progress in state ${state}: this is a bug, please report it`);
  }
  finished.abort(); // a --resume-after wait still pending has nothing left to resume
  await Promise.allSettled([...inFlight]);

  const durationS = ((Date.now() - started.getTime()) / 1000).toFixed(1);
  if (options.output === 'json') {
    // The execution as the API's `GET /executions/{id}` shows it, with each failed run's `error` (the API has none).
    const json = executionJson(executionView({ executionId, firstExecutionId, flow, state, histories, inputs, outputs: flowOutputValues, labels, attempt, originalStart, started, runs }));
    const taskRunList = (json.taskRunList as Record<string, unknown>[]).map((run, i) => {
      const error = runs[i]?.error;
      return error ? { ...run, error } : run;
    });
    io.stdout(JSON.stringify({ ...json, taskRunList }, null, 2));
  } else {
    out(`execution ${executionId} ${state} in ${durationS} s`);
    for (const run of runs) {
      if (Object.keys(run.outputs).length === 0) continue;
      out(`outputs.${run.taskId}${run.value !== undefined ? `[${JSON.stringify(run.value)}]` : ''}: ${JSON.stringify(run.outputs)}`);
    }
    if (Object.keys(flowOutputValues).length > 0) out(`flow outputs: ${JSON.stringify(flowOutputValues)}`);
  }
  return current() === 'SUCCESS' || current() === 'WARNING' ? 0 : 1;
}

function engineRun(r: RunRecord): EngineTaskRun {
  return {
    id: r.id,
    taskId: r.taskId,
    ...(r.parentTaskRunId ? { parentTaskRunId: r.parentTaskRunId } : {}),
    ...(r.value !== undefined ? { value: r.value } : {}),
    ...(r.iteration !== undefined ? { iteration: r.iteration } : {}),
    ...(r.engineState ? { engineState: r.engineState } : {}),
    state: r.state,
    attempt: r.attempt,
    ...(r.firstStartedAt ? { firstStartedAt: r.firstStartedAt } : {}),
    ...(r.endedAt ? { endedAt: r.endedAt } : {}),
  };
}

function asVariableRun(r: RunRecord): { id: string; taskId: string; state: string; outputs: unknown; parentTaskRunId?: string; value?: string; iteration?: number } {
  return r;
}

function toVariableMap(byId: ReadonlyMap<string, RunRecord>): ReadonlyMap<string, ReturnType<typeof asVariableRun>> {
  return byId;
}

function killedPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise) => {
    if (signal.aborted) resolvePromise();
    else signal.addEventListener('abort', () => resolvePromise(), { once: true });
  });
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise) => {
    if (signal.aborted) return resolvePromise();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolvePromise();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolvePromise();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A new attempt of `run` (its number is `run.attempt`), RUNNING from now. */
function startAttempt(run: RunRecord): void {
  const date = new Date().toISOString();
  if (run.attempts.length < run.attempt) run.attempts.push({ state: { current: 'RUNNING', histories: [{ state: 'RUNNING', date }] } });
}

/** The last attempt of `run` ended in `state`. */
function endAttempt(run: RunRecord, state: string): void {
  const last = run.attempts[run.attempts.length - 1];
  if (!last || last.state.current === state) return;
  last.state.current = state;
  last.state.histories.push({ state, date: new Date().toISOString() });
}

interface FinishedRun {
  executionId: string;
  firstExecutionId: string;
  flow: Flow;
  state: ExecutionStateName;
  histories: StateHistoryView[];
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  labels: { key: string; value: string }[];
  attempt: number;
  originalStart: Date;
  started: Date;
  runs: readonly RunRecord[];
}

/** The finished run as the API's stored execution: what executionJson prints. */
function executionView(run: FinishedRun): ExecutionView {
  const date = (raw: string | undefined): Date | null => (raw === undefined ? null : new Date(raw));
  return {
    id: run.executionId,
    namespace: run.flow.namespace,
    flowId: run.flow.id,
    flowRevision: run.flow.revision ?? 1,
    state: run.state,
    stateHistory: run.histories,
    inputs: run.inputs,
    outputs: run.outputs,
    labels: run.labels,
    parentId: null,
    restartedFrom: run.attempt > 1 ? run.firstExecutionId : null,
    trigger: null,
    scheduleDate: null,
    attemptNumber: run.attempt,
    originalCreatedDate: run.originalStart,
    startDate: run.started,
    endDate: new Date(),
    taskRuns: run.runs.map((r) => ({
      id: r.id,
      executionId: run.executionId,
      taskId: r.taskId,
      parentTaskRunId: r.parentTaskRunId ?? null,
      value: r.value ?? null,
      iteration: r.iteration ?? null,
      state: r.state,
      stateHistory: r.stateHistory,
      attempts: r.attempts,
      outputs: r.outputs,
      workerGroup: null,
      workerId: null,
      startDate: date(r.firstStartedAt ?? r.stateHistory[0]?.date),
      endDate: isTerminalTaskRunState(r.state) ? date(r.endedAt ?? r.stateHistory[r.stateHistory.length - 1]?.date) : null,
    })),
  };
}
