/**
 * The ledger checks of the fault suite find what they are meant to: a run that overlaps another of its task run, an
 * attempt started again after it completed, and they accept a run that replaces one killed unfinished.
 */
import { describe, expect, it } from 'vitest';
import { analyseLedger } from './ledger.js';

const line = (kind: string, at: number, run: string, attempt = '0', execution = 'e1', taskRun = 't1'): string => `${kind} ${execution} ${taskRun} ${attempt} ${at} ${run}`;

describe('ledger analysis', () => {
  it('accepts one run per attempt, and a run that replaces one killed unfinished', () => {
    const text = [
      line('start', 1000, 'a'),
      line('tick', 2000, 'a'),
      // killed here; delivered again after the lock expired
      line('start', 8000, 'b'),
      line('tick', 9000, 'b'),
      line('done', 9000, 'b'),
      line('start', 1500, 'c', '0', 'e2', 't2'),
      line('done', 3500, 'c', '0', 'e2', 't2'),
    ].join('\n');
    const found = analyseLedger(text);
    expect(found.overlaps).toEqual([]);
    expect(found.rerunsAfterCompletion).toEqual([]);
    expect(found.duplicateStarts).toBe(1);
    expect(found.interrupted).toBe(1);
    expect([...found.completedByExecution.keys()].sort()).toEqual(['e1', 'e2']);
    expect(found.rerunGapsMs).toEqual([6000]);
  });

  it('finds two runs of a task run alive at once (the killed worker\'s command survived)', () => {
    const text = [line('start', 1000, 'a'), line('start', 8000, 'b'), line('tick', 20_000, 'a'), line('done', 21_000, 'a'), line('done', 28_000, 'b')].join('\n');
    const found = analyseLedger(text);
    expect(found.overlaps).toHaveLength(1);
    expect(found.rerunsAfterCompletion).toEqual([]);
  });

  it('counts an interrupted run as alive until one tick after its last line', () => {
    expect(analyseLedger([line('start', 1000, 'a'), line('tick', 2000, 'a'), line('start', 2500, 'b'), line('done', 4500, 'b')].join('\n')).overlaps).toHaveLength(1);
    expect(analyseLedger([line('start', 1000, 'a'), line('tick', 2000, 'a'), line('start', 3500, 'b'), line('done', 5500, 'b')].join('\n')).overlaps).toEqual([]);
  });

  it('finds an attempt started again after it completed, and malformed lines', () => {
    const found = analyseLedger([line('start', 1000, 'a'), line('done', 3000, 'a'), line('start', 9000, 'b'), line('done', 11_000, 'b'), 'start e1 t1', line('tick', 5, 'z')].join('\n'));
    expect(found.rerunsAfterCompletion).toHaveLength(1);
    expect(found.overlaps).toEqual([]);
    expect(found.malformed).toHaveLength(2);
  });
});
