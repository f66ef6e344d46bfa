import type { Flow, TaskSpec } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { replaySelection } from './replay.js';
import { Simulation } from './testing.js';
import type { SimRun, WorkResult } from './testing.js';

const F = 'io.kestra.plugin.core.flow.';
const log = (id: string): TaskSpec => ({ id, type: 'io.kestra.plugin.core.log.Log', message: id });
const flow = (tasks: TaskSpec[], extra: Partial<Flow> = {}): Flow => ({ id: 'f', namespace: 'ns', tasks, ...extra });
const fails =
  (...ids: string[]) =>
  (task: TaskSpec): WorkResult => (ids.includes(task.id) ? { state: 'FAILED' } : { state: 'SUCCESS', outputs: { ran: task.id } });

const ref = (run: SimRun): { id: string; taskId: string; parentTaskRunId: string | undefined } => ({ id: run.id, taskId: run.taskId, parentTaskRunId: run.parentTaskRunId });

/**
 * Replay `original` from the run of `taskId` as the API does: a new simulation holding copies of the kept runs
 * (reopened ones RUNNING), RESTARTED, then run to its end with `work`. Returns it and the selection.
 */
async function replay(original: Simulation, taskId: string, work: Simulation['work'], value?: string): Promise<{ sim: Simulation; copied: string[]; reopened: string[] }> {
  const target = original.get(taskId, value);
  if (!target) throw new Error(`no run of ${taskId}`);
  const selection = replaySelection(original.flow, original.runs.map(ref), target.id);
  if (!selection) throw new Error('no selection');
  const sim = new Simulation(original.flow, work);
  const newId = (id: string): string => `copy-${id}`;
  for (const run of original.runs) {
    const reopen = selection.reopened.has(run.id);
    if (!reopen && !selection.copied.has(run.id)) continue;
    sim.runs.push({
      ...run,
      id: newId(run.id),
      ...(run.parentTaskRunId ? { parentTaskRunId: newId(run.parentTaskRunId) } : {}),
      state: reopen ? 'RUNNING' : run.state,
      history: [...run.history, ...(reopen ? ['RUNNING' as const] : [])],
    });
  }
  sim.state = sim.runs.length > 0 ? 'RESTARTED' : 'CREATED';
  await sim.settle();
  const name = (id: string): string => {
    const run = original.runs.find((r) => r.id === id);
    return run ? `${run.taskId}${run.value === undefined ? '' : `:${run.value}`}` : id;
  };
  return { sim, copied: [...selection.copied].map(name), reopened: [...selection.reopened].map(name) };
}

describe('replaySelection: what a replay from a task run keeps', () => {
  it('keeps the runs before the target at the top level; the target and what follows run again', async () => {
    const original = new Simulation(flow([log('a'), log('b'), log('c'), log('d')]), fails('c'));
    await original.settle();
    expect(original.state).toBe('FAILED');
    expect(original.order()).toEqual(['a', 'b', 'c']);
    const { sim, copied, reopened } = await replay(original, 'c', fails());
    expect(copied).toEqual(['a', 'b']);
    expect(reopened).toEqual([]);
    expect(sim.order()).toEqual(['a', 'b', 'c', 'd']);
    expect(sim.state).toBe('SUCCESS');
  });

  it('inside a Sequential: keeps the earlier child, reopens the parent, which goes on, then its next siblings run', async () => {
    const f = flow([log('first'), { id: 'seq', type: `${F}Sequential`, tasks: [log('one'), log('two'), log('three')] }, log('last')]);
    const original = new Simulation(f, fails('two'));
    await original.settle();
    expect(original.order()).toEqual(['first', 'seq', 'one', 'two']);
    const { sim, copied, reopened } = await replay(original, 'two', fails());
    expect(copied).toEqual(['first', 'one']);
    expect(reopened).toEqual(['seq']);
    expect(sim.order()).toEqual(['first', 'seq', 'one', 'two', 'three', 'last']);
    expect(sim.get('seq')?.state).toBe('SUCCESS');
    expect(sim.state).toBe('SUCCESS');
  });

  it('drops the errors and finally runs: the engine runs them again when due', async () => {
    const f = flow([log('a'), log('b')], { errors: [log('alert')], finally: [log('cleanup')] });
    const original = new Simulation(f, fails('b'));
    await original.settle();
    expect(original.order()).toEqual(['a', 'b', 'alert', 'cleanup']);
    const again = await replay(original, 'b', fails());
    expect(again.copied).toEqual(['a']);
    expect(again.sim.order()).toEqual(['a', 'b', 'cleanup']);
    expect(again.sim.state).toBe('SUCCESS');
    // Replayed from its errors task: the main runs are kept, the errors branch runs again, and the end is the same.
    const fromAlert = await replay(original, 'alert', fails());
    expect(fromAlert.copied).toEqual(['a', 'b']);
    expect(fromAlert.sim.order()).toEqual(['a', 'b', 'alert', 'cleanup']);
    expect(fromAlert.sim.state).toBe('FAILED');
  });

  it('in a Parallel: a sibling branch that started before the target is kept whole, children created later included', async () => {
    const f = flow([
      {
        id: 'par',
        type: `${F}Parallel`,
        tasks: [
          { id: 'left', type: `${F}Sequential`, tasks: [log('l1'), log('l2')] },
          { id: 'right', type: `${F}Sequential`, tasks: [log('r1'), log('r2')] },
        ],
      },
    ]);
    const original = new Simulation(f, fails('r2'));
    await original.settle();
    const { sim, copied, reopened } = await replay(original, 'r2', fails());
    expect(new Set(copied)).toEqual(new Set(['left', 'l1', 'l2', 'r1']));
    expect(new Set(reopened)).toEqual(new Set(['par', 'right']));
    expect(sim.runs.filter((r) => r.taskId === 'r2')).toHaveLength(1);
    expect(sim.runs.filter((r) => r.taskId === 'l1')).toHaveLength(1);
    expect(sim.state).toBe('SUCCESS');
  });

  it('inside a loop: the values before the target stay, the loop goes on from it', async () => {
    const f = flow([{ id: 'each', type: `${F}ForEach`, values: ['x', 'y', 'z'], tasks: [log('step')] }]);
    const original = new Simulation(f, (task, run) => (run.value === 'y' ? { state: 'FAILED' } : { state: 'SUCCESS' }));
    await original.settle();
    expect(original.order()).toEqual(['each', 'step:x', 'step:y']);
    const { sim, copied, reopened } = await replay(original, 'step', fails(), 'y');
    expect(copied).toEqual(['step:x']);
    expect(reopened).toEqual(['each']);
    expect(sim.order()).toEqual(['each', 'step:x', 'step:y', 'step:z']);
    expect(sim.state).toBe('SUCCESS');
  });

  it('a child of a WorkingDirectory replays the WorkingDirectory (one job), its children left out', () => {
    const f = flow([log('a'), { id: 'wd', type: `${F}WorkingDirectory`, tasks: [log('w1'), log('w2')] }]);
    const runs = [
      { id: 'ra', taskId: 'a', parentTaskRunId: null },
      { id: 'rwd', taskId: 'wd', parentTaskRunId: null },
      { id: 'rw1', taskId: 'w1', parentTaskRunId: 'rwd' },
      { id: 'rw2', taskId: 'w2', parentTaskRunId: 'rwd' },
    ];
    expect(replaySelection(f, runs, 'rw2')).toEqual({ from: 'rwd', copied: new Set(['ra']), reopened: new Set() });
  });

  it('from the first run nothing is kept; an unknown run gives undefined; without the flow every run counts as a main one', () => {
    const runs = [
      { id: 'r1', taskId: 'a', parentTaskRunId: null },
      { id: 'r2', taskId: 'b', parentTaskRunId: null },
    ];
    expect(replaySelection(flow([log('a'), log('b')]), runs, 'r1')).toEqual({ from: 'r1', copied: new Set(), reopened: new Set() });
    expect(replaySelection(flow([log('a')]), runs, 'nope')).toBeUndefined();
    expect(replaySelection(undefined, runs, 'r2')).toEqual({ from: 'r2', copied: new Set(['r1']), reopened: new Set() });
  });
});
