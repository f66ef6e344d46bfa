import { describe, expect, it } from 'vitest';
import type { ResultMessage } from '@sluice/queue';
import { builtInMetrics } from '../src/builtin-metrics.js';

type Ended = Extract<ResultMessage, { type: 'ended' }>;

const ended = (patch: Partial<Ended> = {}): Ended => ({
  type: 'ended',
  executionId: 'e1',
  taskRunId: 'r1',
  taskId: 't',
  attempt: 1,
  workerId: 'w1',
  state: 'SUCCESS',
  outputs: {},
  startedAt: '2026-12-06T10:00:00.000Z',
  endedAt: '2026-12-06T10:00:01.250Z',
  ...patch,
});

describe('built-in task metrics', () => {
  it("records a run's duration as a timer in seconds, dated at its end", () => {
    expect(builtInMetrics(ended())).toEqual([{ name: 'duration', type: 'timer', value: 1.25, timestamp: '2026-12-06T10:00:01.250Z' }]);
  });

  it("records a script's exit code from its outputs, or from its failure's details", () => {
    expect(builtInMetrics(ended({ outputs: { exitCode: 0 } })).map((m) => [m.name, m.value])).toEqual([
      ['duration', 1.25],
      ['exitCode', 0],
    ]);
    const failed = ended({ state: 'FAILED', outputs: {}, error: { code: 'SLU_TASK_FAILED', message: 'exited with 3', details: { exitCode: 3 } } });
    expect(builtInMetrics(failed).find((m) => m.name === 'exitCode')?.value).toBe(3);
    const nested = ended({ state: 'FAILED', error: { code: 'SLU_TASK_FAILED', message: 'x', details: { outputs: { exitCode: 137 } } } });
    expect(builtInMetrics(nested).find((m) => m.name === 'exitCode')?.value).toBe(137);
  });

  it('records no exit code for a value that is not an integer', () => {
    expect(builtInMetrics(ended({ outputs: { exitCode: '0' } })).map((m) => m.name)).toEqual(['duration']);
    expect(builtInMetrics(ended({ outputs: { exitCode: 1.5 } })).map((m) => m.name)).toEqual(['duration']);
  });

  it("leaves a name the task reported itself to the task's own figure", () => {
    const own = ended({ outputs: { exitCode: 2 }, metrics: [{ name: 'duration', type: 'counter', value: 9, taskRunId: 'r1', taskId: 't', timestamp: '2026-12-06T10:00:00.500Z' }] });
    expect(builtInMetrics(own).map((m) => m.name)).toEqual(['exitCode']);
  });

  it("records nothing for a lost worker's run, nor for dates that do not parse", () => {
    expect(builtInMetrics(ended({ state: 'FAILED', error: { code: 'SLU_TASK_WORKER_LOST', message: 'lost', details: {} } }))).toEqual([]);
    expect(builtInMetrics(ended({ startedAt: 'never' }))).toEqual([]);
  });

  it('never records a negative duration (clocks of two machines)', () => {
    expect(builtInMetrics(ended({ endedAt: '2026-12-06T09:59:59.000Z' }))[0]?.value).toBe(0);
  });
});
