import type { Flow, RetryPolicy, TaskSpec } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import {
  admit,
  canRetry,
  decide,
  DEFAULT_MAX_ATTEMPT,
  isTerminalExecutionState,
  isTerminalTaskRunState,
  newExecutionPolicyOf,
  retryDelayMs,
  retryPolicyOf,
  taskTimeoutMs,
  workerGroupOf,
} from './decide.js';
import type { DecideOptions, EngineAction, EngineExecution, EngineTaskRun, ExecutionStateName, TaskRunStateName } from './types.js';

const S = 1000;
const NOW = new Date('2024-01-01T00:10:00Z');
const at = (offsetMs: number): string => new Date(NOW.getTime() + offsetMs).toISOString();

function task(id: string, extra: Partial<TaskSpec> = {}): TaskSpec {
  return { id, type: 'io.kestra.plugin.core.log.Log', message: id, ...extra };
}

function flow(tasks: TaskSpec[], extra: Partial<Flow> = {}): Flow {
  return { id: 'f', namespace: 'ns', tasks, ...extra };
}

function run(taskId: string, state: TaskRunStateName, extra: Partial<EngineTaskRun> = {}): EngineTaskRun {
  return { id: `run-${taskId}`, taskId, state, attempt: 1, ...extra };
}

function execution(state: ExecutionStateName, taskRuns: EngineTaskRun[] = []): EngineExecution {
  return { id: 'e1', state, taskRuns };
}

function options(extra: Partial<DecideOptions> = {}): DecideOptions {
  let n = 0;
  return { now: NOW, newTaskRunId: () => `new-${++n}`, random: () => 0.5, ...extra };
}

function actionsOf(f: Flow, e: EngineExecution, o: DecideOptions = options()): readonly EngineAction[] {
  return decide(f, e, o).actions;
}

const dispatchNew = (t: TaskSpec, taskRunId = 'new-1') => ({ type: 'create', taskRunId, task: t, role: 'runnable' });
const end = (state: string) => ({ type: 'end', state });

const a = task('a');
const b = task('b');
const c = task('c');
const e1 = task('e1');
const e2 = task('e2');

describe('decide: execution states', () => {
  it.each(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED'] as const)('does nothing for a %s execution', (state) => {
    expect(actionsOf(flow([a, b]), execution(state, [run('a', 'FAILED')]))).toEqual([]);
  });

  it('decides a RETRYING execution as a RUNNING one: it waits for the retry, then goes on', () => {
    const f = flow([a, b]);
    expect(actionsOf(f, execution('RETRYING', [run('a', 'RETRYING', { attempt: 2 })]))).toEqual([]);
    expect(actionsOf(f, execution('RETRYING', [run('a', 'SUCCESS', { attempt: 2 })]))).toEqual([dispatchNew(b)]);
    expect(isTerminalExecutionState('RETRYING')).toBe(false);
  });

  it('does nothing for a QUEUED execution (the scheduler admits it)', () => {
    expect(actionsOf(flow([a]), execution('QUEUED'))).toEqual([]);
  });

  it('moves CREATED to RUNNING and dispatches the first task in the same decision', () => {
    expect(actionsOf(flow([a, b]), execution('CREATED'))).toEqual([{ type: 'setState', state: 'RUNNING' }, dispatchNew(a)]);
  });

  it('ends an all-disabled flow SUCCESS at once', () => {
    const f = flow([task('a', { disabled: true }), task('b', { disabled: true })]);
    expect(actionsOf(f, execution('CREATED'))).toEqual([{ type: 'setState', state: 'RUNNING' }, end('SUCCESS')]);
  });

  it('ends a flow without tasks SUCCESS', () => {
    expect(actionsOf(flow([]), execution('RUNNING'))).toEqual([end('SUCCESS')]);
  });
});

describe('decide: sequential main branch', () => {
  it('dispatches tasks one at a time, in order', () => {
    expect(actionsOf(flow([a, b, c]), execution('RUNNING'))).toEqual([dispatchNew(a)]);
    expect(actionsOf(flow([a, b, c]), execution('RUNNING', [run('a', 'SUCCESS')]))).toEqual([dispatchNew(b)]);
    expect(actionsOf(flow([a, b, c]), execution('RUNNING', [run('a', 'SUCCESS'), run('b', 'SUCCESS')]))).toEqual([dispatchNew(c)]);
  });

  it('ends SUCCESS when every task succeeded', () => {
    const runs = [run('a', 'SUCCESS'), run('b', 'SUCCESS'), run('c', 'SUCCESS')];
    expect(actionsOf(flow([a, b, c]), execution('RUNNING', runs))).toEqual([end('SUCCESS')]);
  });

  it('skips disabled tasks without a task run', () => {
    const f = flow([task('a', { disabled: true }), b, task('c', { disabled: true })]);
    expect(actionsOf(f, execution('RUNNING'))).toEqual([dispatchNew(b)]);
    expect(actionsOf(f, execution('RUNNING', [run('b', 'SUCCESS')]))).toEqual([end('SUCCESS')]);
  });

  it.each(['CREATED', 'RUNNING', 'RETRYING', 'KILLING'] as const)('waits while a run is %s', (state) => {
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', state)]))).toEqual([]);
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'SUCCESS'), run('b', state)]))).toEqual([]);
  });

  it('continues past SKIPPED runs', () => {
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'SKIPPED')]))).toEqual([dispatchNew(b)]);
    expect(actionsOf(flow([a]), execution('RUNNING', [run('a', 'SKIPPED')]))).toEqual([end('SUCCESS')]);
  });

  it('continues past WARNING and ends WARNING', () => {
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'WARNING')]))).toEqual([dispatchNew(b)]);
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'WARNING'), run('b', 'SUCCESS')]))).toEqual([end('WARNING')]);
  });

  it('turns a failure with allowFailure into WARNING (SUCCESS with allowWarning), goes on and ends WARNING', () => {
    const f = flow([task('a', { allowFailure: true }), b]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'updateTaskRun', taskRunId: 'run-a', state: 'WARNING' }]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'WARNING')]))).toEqual([dispatchNew(b)]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'WARNING'), run('b', 'SUCCESS')]))).toEqual([end('WARNING')]);
    const lenient = flow([task('a', { allowFailure: true, allowWarning: true }), b]);
    expect(actionsOf(lenient, execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'updateTaskRun', taskRunId: 'run-a', state: 'SUCCESS' }]);
  });

  it('retries an allowFailure task before letting its failure pass', () => {
    const f = flow([task('a', { allowFailure: true, retry: { type: 'constant', interval: 'PT1S', maxAttempt: 2 } }), b]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'retry', attempt: 2 }]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED', { attempt: 2 })]))).toMatchObject([{ type: 'updateTaskRun', state: 'WARNING' }]);
  });

  it('ends KILLED or CANCELLED when a main task run was', () => {
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'KILLED')]))).toEqual([end('KILLED')]);
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'SUCCESS'), run('b', 'CANCELLED')]))).toEqual([end('CANCELLED')]);
  });

  it('ignores child task runs (WorkingDirectory children)', () => {
    const child = run('b', 'FAILED', { id: 'child', parentTaskRunId: 'run-a' });
    // The child's `b` is not the top-level `b`; a running child does not hold the walk either.
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'SUCCESS'), child]))).toEqual([dispatchNew(b)]);
    const runningChild = run('x', 'RUNNING', { id: 'child2', parentTaskRunId: 'run-a' });
    expect(actionsOf(flow([a]), execution('RUNNING', [run('a', 'SUCCESS'), runningChild]))).toEqual([end('SUCCESS')]);
  });
});

describe('decide: errors branch', () => {
  it('ends FAILED when a task fails and the flow has no errors tasks', () => {
    expect(actionsOf(flow([a, b]), execution('RUNNING', [run('a', 'FAILED')]))).toEqual([end('FAILED')]);
    expect(actionsOf(flow([a, b], { errors: [] }), execution('RUNNING', [run('a', 'FAILED')]))).toEqual([end('FAILED')]);
  });

  it('runs the errors tasks in order, then ends FAILED', () => {
    const f = flow([a, b], { errors: [e1, e2] });
    const failed = run('a', 'FAILED');
    expect(actionsOf(f, execution('RUNNING', [failed]))).toEqual([dispatchNew(e1)]);
    expect(actionsOf(f, execution('RUNNING', [failed, run('e1', 'RUNNING')]))).toEqual([]);
    expect(actionsOf(f, execution('RUNNING', [failed, run('e1', 'SUCCESS')]))).toEqual([dispatchNew(e2)]);
    expect(actionsOf(f, execution('RUNNING', [failed, run('e1', 'SUCCESS'), run('e2', 'SUCCESS')]))).toEqual([end('FAILED')]);
  });

  it('runs every errors task whatever the outcome of the previous one', () => {
    const f = flow([a], { errors: [e1, e2] });
    const failed = run('a', 'FAILED');
    expect(actionsOf(f, execution('RUNNING', [failed, run('e1', 'FAILED')]))).toEqual([dispatchNew(e2)]);
    expect(actionsOf(f, execution('RUNNING', [failed, run('e1', 'KILLED')]))).toEqual([dispatchNew(e2)]);
    expect(actionsOf(f, execution('RUNNING', [failed, run('e1', 'WARNING'), run('e2', 'FAILED')]))).toEqual([end('FAILED')]);
    expect(actionsOf(f, execution('RUNNING', [failed, run('e1', 'CANCELLED'), run('e2', 'SKIPPED')]))).toEqual([end('FAILED')]);
  });

  it('skips disabled errors tasks', () => {
    const f = flow([a], { errors: [task('e1', { disabled: true }), e2] });
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED')]))).toEqual([dispatchNew(e2)]);
    expect(actionsOf(flow([a], { errors: [task('e1', { disabled: true })] }), execution('RUNNING', [run('a', 'FAILED')]))).toEqual([
      end('FAILED'),
    ]);
  });

  it('retries a failed errors task by its policy', () => {
    const f = flow([a], { errors: [task('e1', { retry: { type: 'constant', interval: 'PT10S', maxAttempt: 2 } })] });
    const failed = run('a', 'FAILED');
    const e1Failed = run('e1', 'FAILED', { endedAt: at(0) });
    expect(actionsOf(f, execution('RUNNING', [failed, e1Failed]))).toMatchObject([
      { type: 'retry', taskRunId: 'run-e1', attempt: 2, delayMs: 10 * S },
    ]);
    expect(actionsOf(f, execution('RUNNING', [failed, { ...e1Failed, attempt: 2 }]))).toEqual([end('FAILED')]);
  });

  it('goes to the errors branch after a failure with exhausted retries', () => {
    const f = flow([task('a', { retry: { type: 'constant', interval: 'PT1S', maxAttempt: 2 } })], { errors: [e1] });
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED', { attempt: 2 })]))).toEqual([dispatchNew(e1)]);
  });
});

describe('decide: retries', () => {
  const constant: RetryPolicy = { type: 'constant', interval: 'PT30S', maxAttempt: 3 };

  it('retries the same task run with the next attempt, counting the delay from endedAt', () => {
    const t = task('a', { retry: constant });
    const failed = run('a', 'FAILED', { endedAt: at(-10 * S) });
    expect(actionsOf(flow([t, b]), execution('RUNNING', [failed]))).toEqual([
      { type: 'retry', taskRunId: 'run-a', task: t, attempt: 2, delayMs: 20 * S },
    ]);
  });

  it('counts the delay from now when endedAt is absent or unreadable', () => {
    const t = task('a', { retry: constant });
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ delayMs: 30 * S }]);
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { endedAt: 'nope' })]))).toMatchObject([{ delayMs: 30 * S }]);
  });

  it('retries at once when the delay already elapsed', () => {
    const t = task('a', { retry: constant });
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { endedAt: at(-5 * 60 * S) })]))).toMatchObject([
      { type: 'retry', delayMs: 0 },
    ]);
  });

  it('computes exponential delays from the failed attempt', () => {
    const t = task('a', { retry: { type: 'exponential', interval: 'PT1S', maxInterval: 'PT5S', maxAttempt: 10 } });
    const delays = [1, 2, 3, 4].map((attempt) => actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { attempt, endedAt: at(0) })]))[0]);
    expect(delays).toMatchObject([
      { attempt: 2, delayMs: 1 * S },
      { attempt: 3, delayMs: 2 * S },
      { attempt: 4, delayMs: 4 * S },
      { attempt: 5, delayMs: 5 * S },
    ]);
  });

  it('draws random delays from options.random', () => {
    const t = task('a', { retry: { type: 'random', minInterval: 'PT10S', maxInterval: 'PT20S' } });
    const e = execution('RUNNING', [run('a', 'FAILED')]);
    expect(actionsOf(flow([t]), e, options({ random: () => 0.25 }))).toMatchObject([{ delayMs: 12.5 * S }]);
    expect(actionsOf(flow([t]), e, options({ random: () => 0 }))).toMatchObject([{ delayMs: 10 * S }]);
  });

  it('defaults to Math.random', () => {
    const t = task('a', { retry: { type: 'random', minInterval: 'PT10S', maxInterval: 'PT20S' } });
    const [action] = actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED')]), { now: NOW, newTaskRunId: () => 'x' });
    expect(action).toMatchObject({ type: 'retry' });
    const delayMs = (action as { delayMs: number }).delayMs;
    expect(delayMs).toBeGreaterThanOrEqual(10 * S);
    expect(delayMs).toBeLessThanOrEqual(20 * S);
  });

  it('stops retrying when maxAttempt attempts were made', () => {
    const t = task('a', { retry: constant });
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { attempt: 2 })]))).toMatchObject([{ type: 'retry', attempt: 3 }]);
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { attempt: 3 })]))).toEqual([end('FAILED')]);
  });

  it('maxAttempt 1 means no retry', () => {
    const t = task('a', { retry: { type: 'constant', interval: 'PT1S', maxAttempt: 1 } });
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED')]))).toEqual([end('FAILED')]);
  });

  it(`allows ${DEFAULT_MAX_ATTEMPT} attempts when neither maxAttempt nor maxDuration is set`, () => {
    const t = task('a', { retry: { type: 'constant', interval: 'PT1S' } });
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { attempt: 2 })]))).toMatchObject([{ type: 'retry', attempt: 3 }]);
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { attempt: 3 })]))).toEqual([end('FAILED')]);
  });

  it('stops retrying when the next attempt would start after firstStartedAt + maxDuration', () => {
    const t = task('a', { retry: { type: 'constant', interval: 'PT15S', maxDuration: 'PT1M' } });
    const early = run('a', 'FAILED', { attempt: 7, firstStartedAt: at(-40 * S), endedAt: at(0) });
    expect(actionsOf(flow([t]), execution('RUNNING', [early]))).toMatchObject([{ type: 'retry', attempt: 8, delayMs: 15 * S }]);
    const late = { ...early, firstStartedAt: at(-50 * S) };
    expect(actionsOf(flow([t]), execution('RUNNING', [late]))).toEqual([end('FAILED')]);
  });

  it('ignores maxDuration until firstStartedAt is known (then the default attempts apply)', () => {
    const t = task('a', { retry: { type: 'constant', interval: 'PT1H', maxDuration: 'PT1S' } });
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { attempt: 2 })]))).toMatchObject([{ type: 'retry' }]);
    expect(actionsOf(flow([t]), execution('RUNNING', [run('a', 'FAILED', { attempt: 3 })]))).toEqual([end('FAILED')]);
  });

  it('marks a task that succeeded after a retry as a warning with warningOnRetry', () => {
    const f = flow([task('a', { retry: { ...constant, warningOnRetry: true } })]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'SUCCESS', { attempt: 2 })]))).toEqual([end('WARNING')]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'SUCCESS', { attempt: 1 })]))).toEqual([end('SUCCESS')]);
    const quiet = flow([task('a', { retry: constant })]);
    expect(actionsOf(quiet, execution('RUNNING', [run('a', 'SUCCESS', { attempt: 2 })]))).toEqual([end('SUCCESS')]);
  });

  it('uses the flow-level retry as the default, the task retry first', () => {
    const f = flow([a, task('b', { retry: { type: 'constant', interval: 'PT5S', maxAttempt: 5 } })], {
      retry: { type: 'constant', interval: 'PT1M', maxAttempt: 2, warningOnRetry: true },
    });
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'retry', attempt: 2, delayMs: 60 * S }]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED', { attempt: 2 })]))).toEqual([end('FAILED')]);
    const bFailed = run('b', 'FAILED', { attempt: 3 });
    expect(actionsOf(f, execution('RUNNING', [run('a', 'SUCCESS'), bFailed]))).toMatchObject([{ type: 'retry', attempt: 4, delayMs: 5 * S }]);
    // warningOnRetry comes from the flow policy for `a`, not for `b` (its own policy says nothing).
    expect(actionsOf(f, execution('RUNNING', [run('a', 'SUCCESS', { attempt: 2 }), run('b', 'SUCCESS')]))).toEqual([end('WARNING')]);
    expect(actionsOf(f, execution('RUNNING', [run('a', 'SUCCESS'), run('b', 'SUCCESS', { attempt: 2 })]))).toEqual([end('SUCCESS')]);
  });

  it('retries as a new execution when the flow retry says CREATE_NEW_EXECUTION, never inside this one', () => {
    const f = flow([a, b], { retry: { type: 'constant', interval: 'PT10S', maxAttempt: 3, behavior: 'CREATE_NEW_EXECUTION' } });
    // The delay counts from the failed attempt's end, like an in-place retry's.
    const failed = run('a', 'FAILED', { endedAt: at(-4 * S) });
    expect(actionsOf(f, execution('RUNNING', [failed]))).toEqual([{ type: 'retryExecution', taskRunId: 'run-a', attempt: 2, delayMs: 6 * S }]);
    expect(actionsOf(f, { ...execution('RUNNING', [failed]), attempt: 2 })).toEqual([{ type: 'retryExecution', taskRunId: 'run-a', attempt: 3, delayMs: 6 * S }]);
    // maxAttempt counts executions: the third is the last.
    expect(actionsOf(f, { ...execution('RUNNING', [failed]), attempt: 3 })).toEqual([end('FAILED')]);
    const retried = flow([a], { retry: { type: 'constant', interval: 'PT1S', maxAttempt: 5, behavior: 'RETRY_FAILED_TASK' } });
    expect(actionsOf(retried, execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'retry' }]);
  });

  it("takes the task's own policy first, whichever behavior each has", () => {
    const newExecution: RetryPolicy = { type: 'constant', interval: 'PT1S', maxAttempt: 2, behavior: 'CREATE_NEW_EXECUTION' };
    const inPlace: RetryPolicy = { type: 'constant', interval: 'PT1S', maxAttempt: 2 };
    const own = task('a', { retry: newExecution });
    expect(actionsOf(flow([own], { retry: inPlace }), execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'retryExecution', attempt: 2 }]);
    const ownInPlace = task('a', { retry: inPlace });
    expect(actionsOf(flow([ownInPlace], { retry: newExecution }), execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'retry', attempt: 2 }]);
    // A task whose own in-place retries are used up does not fall back to the flow's policy.
    expect(actionsOf(flow([ownInPlace], { retry: newExecution }), execution('RUNNING', [run('a', 'FAILED', { attempt: 2 })]))).toEqual([end('FAILED')]);
  });

  it('runs the errors branch and ends FAILED once no new execution is left; allowFailure goes on instead', () => {
    const policy: RetryPolicy = { type: 'constant', interval: 'PT1S', maxAttempt: 2, behavior: 'CREATE_NEW_EXECUTION' };
    const f = flow([a], { retry: policy, errors: [e1] });
    expect(actionsOf(f, { ...execution('RUNNING', [run('a', 'FAILED')]), attempt: 2 })).toEqual([dispatchNew(e1)]);
    // While one is left, the errors branch waits for the last attempt.
    expect(actionsOf(f, execution('RUNNING', [run('a', 'FAILED')]))).toMatchObject([{ type: 'retryExecution' }]);
    const lenient = flow([task('a', { allowFailure: true }), b], { retry: policy });
    expect(actionsOf(lenient, { ...execution('RUNNING', [run('a', 'FAILED')]), attempt: 2 })).toMatchObject([{ type: 'updateTaskRun', state: 'WARNING' }]);
  });

  it("counts maxDuration from the first execution's start (originalStartDate)", () => {
    const f = flow([a], { retry: { type: 'constant', interval: 'PT1M', maxDuration: 'PT10M', behavior: 'CREATE_NEW_EXECUTION' } });
    const failed = run('a', 'FAILED', { endedAt: at(0) });
    expect(actionsOf(f, { ...execution('RUNNING', [failed]), attempt: 5, originalStartDate: at(-8 * 60 * S) })).toMatchObject([{ type: 'retryExecution', attempt: 6 }]);
    // The next would start 11 minutes after the first.
    expect(actionsOf(f, { ...execution('RUNNING', [failed]), attempt: 5, originalStartDate: at(-10 * 60 * S) })).toEqual([end('FAILED')]);
  });
});

describe('decide: KILLING', () => {
  it('cancels runs that never started and waits for running ones', () => {
    const runs = [run('a', 'RUNNING'), run('b', 'CREATED'), run('c', 'SUCCESS')];
    expect(actionsOf(flow([a, b, c]), execution('KILLING', runs))).toEqual([{ type: 'cancelTaskRun', taskRunId: 'run-b', state: 'KILLED' }]);
    expect(actionsOf(flow([a]), execution('KILLING', [run('a', 'KILLING')]))).toEqual([]);
  });

  it('cancels CREATED and RETRYING runs then ends KILLED when nothing runs', () => {
    const runs = [run('a', 'SUCCESS'), run('b', 'RETRYING', { attempt: 2 }), run('c', 'CREATED')];
    expect(actionsOf(flow([a, b, c]), execution('KILLING', runs))).toEqual([
      { type: 'cancelTaskRun', taskRunId: 'run-b', state: 'KILLED' },
      { type: 'cancelTaskRun', taskRunId: 'run-c', state: 'KILLED' },
      end('KILLED'),
    ]);
  });

  it('ends KILLED at once when no run is left, ignoring children', () => {
    expect(actionsOf(flow([a]), execution('KILLING'))).toEqual([end('KILLED')]);
    const child = run('x', 'RUNNING', { id: 'child', parentTaskRunId: 'run-a' });
    expect(actionsOf(flow([a]), execution('KILLING', [run('a', 'KILLED'), child]))).toEqual([end('KILLED')]);
  });
});

describe('decide: RESTARTED', () => {
  it('re-dispatches runs the restart put back to CREATED, with their attempt', () => {
    const runs = [run('a', 'SUCCESS'), run('b', 'CREATED', { attempt: 2 })];
    expect(actionsOf(flow([a, b, c]), execution('RESTARTED', runs))).toEqual([
      { type: 'setState', state: 'RUNNING' },
      { type: 'dispatch', taskRunId: 'run-b', task: b, attempt: 2, create: false },
    ]);
  });

  it('re-dispatches errors tasks too, and ignores runs of tasks the flow lost', () => {
    const runs = [run('a', 'FAILED'), run('e1', 'CREATED', { attempt: 3 }), run('gone', 'CREATED')];
    expect(actionsOf(flow([a], { errors: [e1] }), execution('RESTARTED', runs))).toEqual([
      { type: 'setState', state: 'RUNNING' },
      { type: 'dispatch', taskRunId: 'run-e1', task: e1, attempt: 3, create: false },
    ]);
  });

  it('continues as RUNNING for anything else', () => {
    expect(actionsOf(flow([a, b]), execution('RESTARTED', [run('a', 'SUCCESS')]))).toEqual([
      { type: 'setState', state: 'RUNNING' },
      dispatchNew(b),
    ]);
    expect(actionsOf(flow([a]), execution('RESTARTED', [run('a', 'SUCCESS')]))).toEqual([{ type: 'setState', state: 'RUNNING' }, end('SUCCESS')]);
  });

  it('ignores CREATED children', () => {
    const child = run('b', 'CREATED', { id: 'child', parentTaskRunId: 'run-a' });
    expect(actionsOf(flow([a]), execution('RESTARTED', [run('a', 'RUNNING'), child]))).toEqual([{ type: 'setState', state: 'RUNNING' }]);
  });
});

describe('decide: idempotence', () => {
  const retrying = task('a', { retry: { type: 'random', minInterval: 'PT1S', maxInterval: 'PT9S' } });
  const cases: [string, Flow, EngineExecution][] = [
    ['first dispatch', flow([a, b]), execution('CREATED')],
    ['next dispatch', flow([a, b]), execution('RUNNING', [run('a', 'SUCCESS')])],
    ['retry', flow([retrying]), execution('RUNNING', [run('a', 'FAILED', { endedAt: at(-S) })])],
    ['errors', flow([a], { errors: [e1] }), execution('RUNNING', [run('a', 'FAILED')])],
    ['kill', flow([a, b]), execution('KILLING', [run('a', 'SUCCESS'), run('b', 'CREATED')])],
    ['restart', flow([a, b]), execution('RESTARTED', [run('a', 'CREATED', { attempt: 2 })])],
    ['end', flow([a]), execution('RUNNING', [run('a', 'WARNING')])],
  ];

  it.each(cases)('gives the same actions twice (%s), fresh ids aside', (_name, f, e) => {
    const first = decide(f, e, options({ newTaskRunId: () => 'one' }));
    const second = decide(f, e, options({ newTaskRunId: () => 'two' }));
    const strip = (actions: readonly EngineAction[]) =>
      actions.map((action) => (action.type === 'create' ? { ...action, taskRunId: '?' } : action));
    expect(strip(second.actions)).toEqual(strip(first.actions));
    expect(first.actions.length).toBeGreaterThan(0);
  });

  it('does not mutate its input', () => {
    const e = execution('RUNNING', [run('a', 'FAILED')]);
    const snapshot = structuredClone(e);
    decide(flow([task('a', { retry: { type: 'constant', interval: 'PT1S' } })]), e, options());
    expect(e).toEqual(snapshot);
  });
});

describe('retryDelayMs', () => {
  const random = () => 0.5;

  it('is the interval for constant retries, 0 without one', () => {
    expect(retryDelayMs({ type: 'constant', interval: 'PT30S' }, 1, random)).toBe(30 * S);
    expect(retryDelayMs({ type: 'constant', interval: 'PT30S' }, 7, random)).toBe(30 * S);
    expect(retryDelayMs({ type: 'constant' }, 1, random)).toBe(0);
  });

  it('grows exponentially by delayFactor (default 2), capped at maxInterval', () => {
    const policy: RetryPolicy = { type: 'exponential', interval: 'PT1S', maxInterval: 'PT10S' };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(policy, n, random))).toEqual([1, 2, 4, 8, 10, 10].map((n) => n * S));
    const factor = { ...policy, delayFactor: 1.5 };
    expect([1, 2, 3].map((n) => retryDelayMs(factor, n, random))).toEqual([1000, 1500, 2250]);
  });

  it('stays finite without maxInterval', () => {
    expect(retryDelayMs({ type: 'exponential', interval: 'PT1S' }, 3, random)).toBe(4 * S);
    expect(retryDelayMs({ type: 'exponential', interval: 'PT1S' }, 5000, random)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('treats attempts below 1 as the first', () => {
    expect(retryDelayMs({ type: 'exponential', interval: 'PT1S' }, 0, random)).toBe(S);
  });

  it('draws random delays uniformly in [minInterval, maxInterval]', () => {
    const policy: RetryPolicy = { type: 'random', minInterval: 'PT1S', maxInterval: 'PT3S' };
    expect(retryDelayMs(policy, 1, () => 0)).toBe(S);
    expect(retryDelayMs(policy, 1, () => 0.5)).toBe(2 * S);
    expect(retryDelayMs(policy, 1, () => 0.9999999)).toBe(2999);
    // A misbehaving random source cannot leave the bounds.
    expect(retryDelayMs(policy, 1, () => -1)).toBe(S);
    expect(retryDelayMs(policy, 1, () => 2)).toBe(3 * S);
    let seed = 42;
    const lcg = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 200; i++) {
      const delay = retryDelayMs(policy, 1, lcg);
      expect(delay).toBeGreaterThanOrEqual(S);
      expect(delay).toBeLessThan(3 * S);
    }
  });

  it('falls back to minInterval (or 0) when bounds are missing or inverted', () => {
    expect(retryDelayMs({ type: 'random', minInterval: 'PT2S' }, 1, random)).toBe(2 * S);
    expect(retryDelayMs({ type: 'random', minInterval: 'PT5S', maxInterval: 'PT1S' }, 1, random)).toBe(5 * S);
    expect(retryDelayMs({ type: 'random', maxInterval: 'PT4S' }, 1, random)).toBe(2 * S);
  });
});

describe('canRetry', () => {
  const failed = (attempt: number, extra: Partial<EngineTaskRun> = {}) => run('a', 'FAILED', { attempt, ...extra });

  it('counts maxAttempt as every attempt, the first included', () => {
    const policy: RetryPolicy = { type: 'constant', interval: 'PT1S', maxAttempt: 3 };
    expect(canRetry(policy, failed(1), NOW, 0)).toBe(true);
    expect(canRetry(policy, failed(2), NOW, 0)).toBe(true);
    expect(canRetry(policy, failed(3), NOW, 0)).toBe(false);
  });

  it("takes Kestra 0.24's maxAttempts as maxAttempt, which it wins over", () => {
    const policy: RetryPolicy = { type: 'constant', interval: 'PT1S', maxAttempts: 2 };
    expect(canRetry(policy, failed(1), NOW, 0)).toBe(true);
    expect(canRetry(policy, failed(2), NOW, 0)).toBe(false);
    expect(canRetry({ ...policy, maxAttempt: 5 }, failed(2), NOW, 0)).toBe(false);
  });

  it('applies the default attempts only when no limit is set', () => {
    const policy: RetryPolicy = { type: 'constant', interval: 'PT1S' };
    expect(canRetry(policy, failed(DEFAULT_MAX_ATTEMPT - 1), NOW, 0)).toBe(true);
    expect(canRetry(policy, failed(DEFAULT_MAX_ATTEMPT), NOW, 0)).toBe(false);
    const byDuration: RetryPolicy = { ...policy, maxDuration: 'PT1H' };
    expect(canRetry(byDuration, failed(50, { firstStartedAt: at(-S) }), NOW, 0)).toBe(true);
  });

  it('refuses an attempt that would start after firstStartedAt + maxDuration; the bound itself is allowed', () => {
    const policy: RetryPolicy = { type: 'constant', interval: 'PT1S', maxDuration: 'PT1M', maxAttempt: 100 };
    const started = failed(2, { firstStartedAt: at(-50 * S) });
    expect(canRetry(policy, started, NOW, 10 * S)).toBe(true);
    expect(canRetry(policy, started, NOW, 10 * S + 1)).toBe(false);
    expect(canRetry(policy, failed(2), NOW, 10 * 60 * S)).toBe(true);
    expect(canRetry(policy, failed(2, { firstStartedAt: 'not a date' }), NOW, 10 * 60 * S)).toBe(true);
  });

  it('combines both limits', () => {
    const policy: RetryPolicy = { type: 'constant', interval: 'PT1S', maxDuration: 'PT1H', maxAttempt: 2 };
    expect(canRetry(policy, failed(2, { firstStartedAt: at(-S) }), NOW, 0)).toBe(false);
  });
});

describe('retryPolicyOf', () => {
  const own: RetryPolicy = { type: 'constant', interval: 'PT1S' };
  const flowPolicy: RetryPolicy = { type: 'constant', interval: 'PT9S' };

  it("prefers the task's policy, then the flow's", () => {
    expect(retryPolicyOf(flow([a], { retry: flowPolicy }), task('a', { retry: own }))).toBe(own);
    expect(retryPolicyOf(flow([a], { retry: flowPolicy }), a)).toBe(flowPolicy);
    expect(retryPolicyOf(flow([a]), a)).toBeUndefined();
  });

  it('gives no policy for CREATE_NEW_EXECUTION, at either level: newExecutionPolicyOf does', () => {
    const newExecution: RetryPolicy = { ...own, behavior: 'CREATE_NEW_EXECUTION' };
    expect(retryPolicyOf(flow([a], { retry: newExecution }), a)).toBeUndefined();
    expect(retryPolicyOf(flow([a], { retry: flowPolicy }), task('a', { retry: newExecution }))).toBeUndefined();
    expect(newExecutionPolicyOf(flow([a], { retry: newExecution }), a)).toBe(newExecution);
    expect(newExecutionPolicyOf(flow([a], { retry: newExecution }), task('a', { retry: own }))).toBeUndefined();
    expect(newExecutionPolicyOf(flow([a], { retry: flowPolicy }), a)).toBeUndefined();
  });
});

describe('admit', () => {
  it('starts when the flow has no concurrency limit', () => {
    expect(admit(flow([a]), 1000)).toBe('start');
  });

  it('starts below the limit', () => {
    expect(admit(flow([a], { concurrency: { limit: 2 } }), 1)).toBe('start');
  });

  it.each([
    [undefined, 'queue'],
    ['QUEUE', 'queue'],
    ['CANCEL', 'cancel'],
    ['FAIL', 'fail'],
  ] as const)('applies behavior %s at the limit: %s', (behavior, expected) => {
    const f = flow([a], { concurrency: behavior ? { limit: 2, behavior } : { limit: 2 } });
    expect(admit(f, 2)).toBe(expected);
    expect(admit(f, 3)).toBe(expected);
  });
});

describe('workerGroupOf', () => {
  it('defaults to the default group, waiting', () => {
    expect(workerGroupOf(a)).toEqual({ key: 'default', fallback: 'WAIT' });
    expect(workerGroupOf(task('a', { workerGroup: { key: '' } }))).toEqual({ key: 'default', fallback: 'WAIT' });
  });

  it("takes the task's group and fallback", () => {
    expect(workerGroupOf(task('a', { workerGroup: { key: 'gpu' } }))).toEqual({ key: 'gpu', fallback: 'WAIT' });
    expect(workerGroupOf(task('a', { workerGroup: { key: 'gpu', fallback: 'FAIL' } }))).toEqual({ key: 'gpu', fallback: 'FAIL' });
    expect(workerGroupOf(task('a', { workerGroup: { key: 'gpu', fallback: 'CANCEL' } }))).toEqual({ key: 'gpu', fallback: 'CANCEL' });
  });
});

describe('taskTimeoutMs', () => {
  it('parses the timeout, or gives undefined', () => {
    expect(taskTimeoutMs(a)).toBeUndefined();
    expect(taskTimeoutMs(task('a', { timeout: 'PT1M30S' }))).toBe(90 * S);
  });

  it('throws on a timeout that is not a duration', () => {
    expect(() => taskTimeoutMs(task('a', { timeout: '5m' }))).toThrow(expect.objectContaining({ code: 'SLU_FLOW_INVALID_DURATION' }));
  });
});

describe('terminal states', () => {
  it.each([
    ['CREATED', false],
    ['QUEUED', false],
    ['RUNNING', false],
    ['RESTARTED', false],
    ['KILLING', false],
    ['SUCCESS', true],
    ['WARNING', true],
    ['FAILED', true],
    ['KILLED', true],
    ['CANCELLED', true],
    ['RETRIED', true],
  ] as const)('execution %s terminal: %s', (state, terminal) => {
    expect(isTerminalExecutionState(state)).toBe(terminal);
  });

  it('answers false for unknown states', () => {
    expect(isTerminalExecutionState('PAUSED')).toBe(false);
    expect(isTerminalTaskRunState('')).toBe(false);
  });

  it.each([
    ['CREATED', false],
    ['RUNNING', false],
    ['RETRYING', false],
    ['KILLING', false],
    ['SUCCESS', true],
    ['WARNING', true],
    ['FAILED', true],
    ['KILLED', true],
    ['SKIPPED', true],
    ['CANCELLED', true],
    ['RETRIED', true],
  ] as const)('task run %s terminal: %s', (state, terminal) => {
    expect(isTerminalTaskRunState(state)).toBe(terminal);
  });
});
