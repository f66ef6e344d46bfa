/**
 * An in-memory driver for the engine's tests: it applies `decide`'s actions as the scheduler would (creating runs,
 * rendering their expressions with the core evaluator, settling them), and lets a test play the workers: each
 * runnable task run is handed to `work`, which ends it at once or keeps it running until the test ends it.
 * Only for tests (pure logic, no I/O): not exported by the package.
 */
import { renderValue } from '@sluice/core';
import type { Flow, TaskSpec } from '@sluice/core';
import { decide, executionStateFor, needsAnotherDecision } from './decide.js';
import { settleCreated } from './settle.js';
import type { EngineAction, EngineTaskRun, Evaluation, ExecutionStateName, TaskRunStateName } from './types.js';

export interface SimRun {
  id: string;
  taskId: string;
  parentTaskRunId?: string;
  value?: string;
  iteration?: number;
  state: TaskRunStateName;
  attempt: number;
  outputs: Record<string, unknown>;
  engineState?: EngineTaskRun['engineState'];
  history: TaskRunStateName[];
}

/** What a worker does with a run: end it now, or leave it RUNNING (`'hold'`) for the test to end. */
export type WorkResult = { state: TaskRunStateName; outputs?: Record<string, unknown> } | 'hold';

export class Simulation {
  state: ExecutionStateName = 'CREATED';
  readonly runs: SimRun[] = [];
  readonly log: string[] = [];
  labels: { key: string; value: string }[] = [];
  now = Date.parse('2024-01-01T00:00:00Z');
  /** Pending wake-ups (epoch ms). */
  readonly wakes: number[] = [];
  #next = 0;

  constructor(
    readonly flow: Flow,
    readonly work: (task: TaskSpec, run: SimRun) => WorkResult = () => ({ state: 'SUCCESS' }),
    readonly inputs: Record<string, unknown> = {},
  ) {}

  get(taskId: string, value?: string): SimRun | undefined {
    return this.runs.find((r) => r.taskId === taskId && (value === undefined || r.value === value));
  }

  /** Task ids (with `:value`) in creation order. */
  order(): string[] {
    return this.runs.map((r) => (r.value === undefined ? r.taskId : `${r.taskId}:${r.value}`));
  }

  /** Decide and apply until nothing changes. */
  async settle(): Promise<void> {
    for (let round = 0; round < 10_000; round++) {
      const { actions } = decide(
        this.flow,
        { id: 'e', state: this.state, taskRuns: this.runs.map((r) => this.#engineRun(r)) },
        { now: new Date(this.now), newTaskRunId: () => `r${++this.#next}`, random: () => 0 },
      );
      let again = false;
      for (const action of actions) {
        await this.#apply(action);
        // Workers here answer at once: a run sent to one may have ended already.
        if (needsAnotherDecision(action) || action.type === 'dispatch' || action.type === 'retry') again = true;
      }
      if (!again) return;
    }
    throw new Error('no end in 10000 rounds');
  }

  /** End a held run (a worker reporting), then decide. */
  async end(taskId: string, state: TaskRunStateName, value?: string, outputs: Record<string, unknown> = {}): Promise<void> {
    const run = this.runs.find((r) => r.taskId === taskId && r.value === value && (r.state === 'RUNNING' || r.state === 'CREATED'));
    if (!run) throw new Error(`no running ${taskId}${value ? `:${value}` : ''}`);
    this.#set(run, state);
    run.outputs = outputs;
    await this.settle();
  }

  /** Move time on and decide (wake-ups). */
  async advance(ms: number): Promise<void> {
    this.now += ms;
    await this.settle();
  }

  #engineRun(r: SimRun): EngineTaskRun {
    return {
      id: r.id,
      taskId: r.taskId,
      state: r.state,
      attempt: r.attempt,
      ...(r.parentTaskRunId ? { parentTaskRunId: r.parentTaskRunId } : {}),
      ...(r.value !== undefined ? { value: r.value } : {}),
      ...(r.iteration !== undefined ? { iteration: r.iteration } : {}),
      ...(r.engineState ? { engineState: r.engineState } : {}),
      endedAt: new Date(this.now).toISOString(),
    };
  }

  #set(run: SimRun, state: TaskRunStateName): void {
    run.state = state;
    run.history.push(state);
  }

  #variables(run: SimRun): Record<string, unknown> {
    const outputs: Record<string, unknown> = {};
    for (const r of this.runs) {
      if (Object.keys(r.outputs).length === 0) continue;
      if (r.value === undefined) outputs[r.taskId] = r.outputs;
      else outputs[r.taskId] = { ...(outputs[r.taskId] as object), [r.value]: r.outputs };
    }
    const parent = this.runs.find((r) => r.id === run.parentTaskRunId);
    const execution = { id: 'e', state: this.state, taskRuns: this.runs.map((r) => this.#engineRun(r)) };
    return {
      inputs: this.inputs,
      execution: { id: 'e', state: executionStateFor(this.flow, execution, { now: new Date(this.now), newTaskRunId: () => 'unused' }) },
      outputs,
      taskrun: { id: run.id, value: run.value, iteration: run.iteration },
      ...(parent ? { parent: { taskrun: { value: parent.value }, outputs: parent.outputs } } : {}),
    };
  }

  async #evaluate(run: SimRun, expression: unknown): Promise<Evaluation> {
    try {
      return { value: await renderValue(expression, this.#variables(run)) };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }

  #startWork(task: TaskSpec, run: SimRun): void {
    this.#set(run, 'RUNNING');
    const result = this.work(task, run);
    if (result === 'hold') return;
    run.outputs = result.outputs ?? {};
    this.#set(run, result.state);
  }

  async #apply(action: EngineAction): Promise<void> {
    switch (action.type) {
      case 'create': {
        const run: SimRun = {
          id: action.taskRunId,
          taskId: action.task.id,
          ...(action.parentTaskRunId ? { parentTaskRunId: action.parentTaskRunId } : {}),
          ...(action.value !== undefined ? { value: action.value } : {}),
          ...(action.iteration !== undefined ? { iteration: action.iteration } : {}),
          state: 'CREATED',
          attempt: 1,
          outputs: {},
          history: ['CREATED'],
        };
        this.runs.push(run);
        const evaluations: Record<string, Evaluation> = {};
        for (const [key, expression] of Object.entries(action.evaluate ?? {})) evaluations[key] = await this.#evaluate(run, expression);
        const settled = settleCreated(action, evaluations, this.now);
        if (settled.outputs) run.outputs = settled.outputs;
        if (settled.engineState) run.engineState = settled.engineState;
        if (settled.iteration !== undefined) run.iteration = settled.iteration;
        if (settled.error) this.log.push(settled.error);
        if (settled.labels) for (const label of settled.labels) this.labels = [...this.labels.filter((l) => l.key !== label.key), label];
        if (settled.state !== 'CREATED') this.#set(run, settled.state);
        else this.#startWork(action.task, run);
        return;
      }
      case 'dispatch': {
        const run = this.runs.find((r) => r.id === action.taskRunId);
        if (run) this.#startWork(action.task, run);
        return;
      }
      case 'retry': {
        const run = this.runs.find((r) => r.id === action.taskRunId);
        if (!run) return;
        this.#set(run, 'RETRYING');
        run.attempt = action.attempt;
        this.#startWork(action.task, run);
        return;
      }
      case 'updateTaskRun': {
        const run = this.runs.find((r) => r.id === action.taskRunId);
        if (!run) return;
        if (action.state) this.#set(run, action.state);
        if (action.outputs) run.outputs = { ...run.outputs, ...action.outputs };
        if (action.iteration !== undefined) run.iteration = action.iteration;
        if (action.engineState) run.engineState = action.engineState;
        if (action.log) this.log.push(action.log.message);
        return;
      }
      case 'evaluate': {
        const run = this.runs.find((r) => r.id === action.taskRunId);
        if (!run) return;
        const result = await this.#evaluate(run, action.expression);
        run.engineState = { ...run.engineState, evaluated: { ...run.engineState?.evaluated, [action.key]: result } };
        return;
      }
      case 'cancelTaskRun': {
        const run = this.runs.find((r) => r.id === action.taskRunId);
        if (run) this.#set(run, 'KILLED');
        return;
      }
      case 'wake':
        this.wakes.push(this.now + action.delayMs);
        return;
      case 'setState':
        this.state = action.state;
        return;
      case 'end':
        this.state = action.state;
        return;
      case 'retryExecution':
        this.state = 'RETRIED';
        return;
    }
  }
}
