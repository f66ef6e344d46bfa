/**
 * `sluice run FLOW.yml [--input k=v | k=@file]... [--output text|json]`: one execution of one flow, here and now,
 * with no server, no database and no queue. The pure engine (`@sluice/engine`, the scheduler's own logic) decides
 * what runs next; tasks run through the task runtime with the DOCKER and PROCESS runners, as on a worker; files go
 * to `./.sluice/storage`. Logs stream with task ids, a progress line marks each task run, outputs are printed at
 * the end. Exit code 0 on SUCCESS or WARNING, 1 otherwise (2 for usage errors and invalid flows or inputs).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createFlowValidator, isSluiceError, resolveInputs, SluiceError } from '@sluice/core';
import type { Flow, TaskSpec } from '@sluice/core';
import { decide } from '@sluice/engine';
import type { EngineTaskRun, ExecutionStateName, TaskRunStateName } from '@sluice/engine';
import { createDefaultRegistries } from '@sluice/plugins';
import { applyPluginDefaults, flowOutputs, newTaskRunId, templateVariables } from '@sluice/scheduler';
import type { VariableScope } from '@sluice/scheduler';
import { inputFileUri, LocalFileStorage } from '@sluice/storage';
import { runTask } from '@sluice/task-runtime';
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
}

interface RunRecord {
  id: string;
  taskId: string;
  parentTaskRunId?: string;
  state: TaskRunStateName;
  attempt: number;
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
  const runs: RunRecord[] = [];
  // The execution as template variables see it, in its current state.
  const variableScope = (): VariableScope => ({ id: executionId, flowRevision: flow.revision ?? 1, startDate: started, state, inputs, labels: [] });
  // The flow's `outputs`, evaluated when the execution succeeds.
  let flowOutputValues: Record<string, unknown> = {};
  const topLevel = [...flow.tasks, ...(flow.errors ?? [])].filter((t) => t.disabled !== true).length;
  const text = options.output === 'text';
  const out = (line: string): void => {
    if (text) io.stdout(line);
  };
  const killed = new AbortController();
  options.signal?.addEventListener('abort', () => killed.abort(), { once: true });
  out(`execution ${executionId} of ${flow.namespace}.${flow.id}`);

  const runOne = async (task: TaskSpec, run: RunRecord): Promise<void> => {
    const spec = applyPluginDefaults(flow, task, (type) => registries.tasks.find(type));
    const position = runs.filter((r) => r.parentTaskRunId === undefined).findIndex((r) => r.id === run.id) + 1;
    out(`── [${position}/${topLevel}] ${task.id}${run.attempt > 1 ? ` (attempt ${run.attempt})` : ''}`);
    run.state = 'RUNNING';
    run.firstStartedAt ??= new Date().toISOString();
    const definition = registries.tasks.find(spec.type);
    const outcome: TaskRunOutcome = definition
      ? await runTask({
          definition,
          task: spec,
          taskRunId: run.id,
          attempt: run.attempt,
          execution: { id: executionId, namespace: flow.namespace, flowId: flow.id, flowRevision: flow.revision ?? 1 },
          variables: templateVariables(flow, variableScope(), runs),
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
          onLog: (entry: TaskLogEntry) => out(`${time(new Date(entry.timestamp))} ${entry.level.padEnd(5)} ${entry.taskId}  ${entry.message}`),
          onChildStart: (child) => {
            runs.push({ id: child.taskRunId, taskId: child.taskId, parentTaskRunId: child.parentTaskRunId, state: 'RUNNING', attempt: child.attempt, outputs: {} });
            out(`   ${child.taskId}`);
          },
          onChildEnd: (child) => {
            const record = runs.find((r) => r.id === child.taskRunId);
            if (record) Object.assign(record, { state: child.state, outputs: child.outputs, endedAt: child.endedAt, ...(child.error ? { error: child.error } : {}) });
            out(`   ${child.taskId} ${child.state}${child.error ? `: ${child.error.message}` : ''}`);
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
    run.state = outcome.state as TaskRunStateName;
    run.outputs = { ...outcome.outputs };
    run.endedAt = outcome.endedAt;
    if (outcome.error) run.error = { code: outcome.error.code, message: outcome.error.message };
    else delete run.error;
    const seconds = ((Date.parse(outcome.endedAt) - Date.parse(outcome.startedAt)) / 1000).toFixed(1);
    out(`── ${task.id} ${outcome.state} in ${seconds} s${outcome.error ? `: ${outcome.error.message}` : ''}`);
  };

  // The engine loop: decide, run what it dispatches (sequentially, as the flow says), wait out retry delays.
  for (;;) {
    if (killed.signal.aborted && state !== 'KILLING' && !['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED'].includes(state)) state = 'KILLING';
    const engineRuns: EngineTaskRun[] = runs.map((r) => ({
      id: r.id,
      taskId: r.taskId,
      ...(r.parentTaskRunId ? { parentTaskRunId: r.parentTaskRunId } : {}),
      state: r.state,
      attempt: r.attempt,
      ...(r.firstStartedAt ? { firstStartedAt: r.firstStartedAt } : {}),
      ...(r.endedAt ? { endedAt: r.endedAt } : {}),
    }));
    const { actions } = decide(
      flow,
      { id: executionId, state, attempt, originalStartDate: originalStart.toISOString(), taskRuns: engineRuns },
      { now: new Date(), newTaskRunId },
    );
    const work: (() => Promise<void>)[] = [];
    let ended = false;
    for (const action of actions) {
      switch (action.type) {
        case 'setState':
          state = action.state;
          break;
        case 'end':
          state = action.state;
          ended = true;
          if ((state === 'SUCCESS' || state === 'WARNING') && (flow.outputs?.length ?? 0) > 0) {
            const variables = templateVariables(flow, variableScope(), runs);
            const result = await flowOutputs(flow, variables, new Date());
            if ('outputs' in result) {
              flowOutputValues = result.outputs;
            } else {
              state = 'FAILED';
              io.stderr(`sluice: ${result.error}`);
            }
          }
          break;
        case 'cancelTaskRun': {
          const run = runs.find((r) => r.id === action.taskRunId);
          if (run) run.state = action.state;
          break;
        }
        case 'retryExecution': {
          const run = runs.find((r) => r.id === action.taskRunId);
          if (run) run.state = 'RETRIED';
          out(`execution ${executionId} RETRIED: retrying the flow as a new execution in ${(action.delayMs / 1000).toFixed(1)} s (attempt ${action.attempt})`);
          work.push(async () => {
            await delay(action.delayMs, killed.signal);
            executionId = newTaskRunId();
            attempt = action.attempt;
            started = new Date();
            state = 'CREATED';
            runs.length = 0;
            out(`execution ${executionId} of ${flow.namespace}.${flow.id} (attempt ${attempt})`);
          });
          break;
        }
        case 'dispatch': {
          let run = runs.find((r) => r.id === action.taskRunId);
          if (!run) {
            run = { id: action.taskRunId, taskId: action.task.id, state: 'CREATED', attempt: action.attempt, outputs: {} };
            runs.push(run);
          }
          const target = run;
          work.push(() => runOne(action.task, target));
          break;
        }
        case 'retry': {
          const run = runs.find((r) => r.id === action.taskRunId);
          if (!run) break;
          run.state = 'RETRYING';
          if (state === 'RUNNING') state = 'RETRYING';
          out(`── ${run.taskId} FAILED: retrying in ${(action.delayMs / 1000).toFixed(1)} s (attempt ${action.attempt})`);
          work.push(async () => {
            await delay(action.delayMs, killed.signal);
            if (killed.signal.aborted) return;
            if (state === 'RETRYING') state = 'RUNNING';
            run.attempt = action.attempt;
            await runOne(action.task, run);
          });
          break;
        }
      }
    }
    if (ended) break;
    if (work.length === 0) {
      if (killed.signal.aborted) continue; // KILLING with nothing running: the next decision ends it
      throw new Error(`engine made no progress in state ${state}: this is a bug, please report it`);
    }
    await Promise.all(work.map((w) => w()));
  }

  const durationS = ((Date.now() - started.getTime()) / 1000).toFixed(1);
  if (options.output === 'json') {
    io.stdout(
      JSON.stringify(
        {
          id: executionId,
          namespace: flow.namespace,
          flowId: flow.id,
          inputs,
          outputs: flowOutputValues,
          state: { current: state, startDate: started.toISOString(), endDate: new Date().toISOString() },
          metadata: { attemptNumber: attempt, originalCreatedDate: originalStart.toISOString() },
          taskRunList: runs.map((r) => ({
            id: r.id,
            taskId: r.taskId,
            ...(r.parentTaskRunId ? { parentTaskRunId: r.parentTaskRunId } : {}),
            state: { current: r.state },
            attempts: r.attempt,
            outputs: r.outputs,
            ...(r.error ? { error: r.error } : {}),
          })),
        },
        null,
        2,
      ),
    );
  } else {
    out(`execution ${executionId} ${state} in ${durationS} s`);
    for (const run of runs) {
      if (Object.keys(run.outputs).length === 0) continue;
      out(`outputs.${run.taskId}: ${JSON.stringify(run.outputs)}`);
    }
    if (Object.keys(flowOutputValues).length > 0) out(`flow outputs: ${JSON.stringify(flowOutputValues)}`);
  }
  return state === 'SUCCESS' || state === 'WARNING' ? 0 : 1;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(resolvePromise, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolvePromise();
    }, { once: true });
  });
}
