import type { Flow, TaskSpec } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { loopValues } from './settle.js';
import { executionStateFor } from './decide.js';
import { Simulation } from './testing.js';

const F = 'io.kestra.plugin.core.flow.';
const log = (id: string, extra: Partial<TaskSpec> = {}): TaskSpec => ({ id, type: 'io.kestra.plugin.core.log.Log', message: id, ...extra });
const flow = (tasks: TaskSpec[], extra: Partial<Flow> = {}): Flow => ({ id: 'f', namespace: 'ns', tasks, ...extra });
const fails = (...ids: string[]) => (task: TaskSpec) => (ids.includes(task.id) ? { state: 'FAILED' as const } : { state: 'SUCCESS' as const });

describe('engine tree: Sequential, errors and allowFailure', () => {
  it('runs nested Sequential children in order and ends SUCCESS', async () => {
    const sim = new Simulation(flow([{ id: 'seq', type: `${F}Sequential`, tasks: [log('a'), { id: 'inner', type: `${F}Sequential`, tasks: [log('b')] }] }, log('c')]));
    await sim.settle();
    expect(sim.order()).toEqual(['seq', 'a', 'inner', 'b', 'c']);
    expect(sim.state).toBe('SUCCESS');
    expect(sim.get('inner')?.parentTaskRunId).toBe(sim.get('seq')?.id);
  });

  it("runs a flowable's errors, ends it FAILED all the same, then the flow's errors (Kestra's sequential-with-local-errors)", async () => {
    const f = flow([{ id: 'seq', type: `${F}Sequential`, tasks: [log('a'), log('b')], errors: [log('local1'), log('local2')] }, log('never')], { errors: [log('global')] });
    const sim = new Simulation(f, fails('a', 'local1'));
    await sim.settle();
    expect(sim.order()).toEqual(['seq', 'a', 'local1', 'local2', 'global']);
    expect(sim.get('seq')?.state).toBe('FAILED');
    expect(sim.state).toBe('FAILED');
  });

  it('AllowFailure ends WARNING and the next sibling runs', async () => {
    const f = flow([{ id: 'allow', type: `${F}AllowFailure`, tasks: [log('a'), log('b')] }, log('next')]);
    const sim = new Simulation(f, fails('a'));
    await sim.settle();
    expect(sim.order()).toEqual(['allow', 'a', 'next']);
    expect(sim.get('allow')?.state).toBe('WARNING');
    expect(sim.state).toBe('WARNING');
  });

  it('a flowable with allowFailure ends WARNING; with allowWarning too, SUCCESS', async () => {
    for (const [extra, expected] of [[{ allowFailure: true }, 'WARNING'], [{ allowFailure: true, allowWarning: true }, 'SUCCESS']] as const) {
      const sim = new Simulation(flow([{ id: 'seq', type: `${F}Sequential`, tasks: [log('a')], ...extra }]), fails('a'));
      await sim.settle();
      expect(sim.get('seq')?.state).toBe(expected);
    }
  });

  it('runIf false skips a task (SKIPPED counts as success); a runIf that cannot render fails it', async () => {
    const sim = new Simulation(flow([log('a', { runIf: '{{ inputs.go }}' }), log('b')]), undefined, { go: false });
    await sim.settle();
    expect(sim.get('a')?.state).toBe('SKIPPED');
    expect(sim.state).toBe('SUCCESS');
    const bad = new Simulation(flow([log('a', { runIf: '{{ nope.x }}' })]));
    await bad.settle();
    expect(bad.get('a')?.state).toBe('FAILED');
    expect(bad.state).toBe('FAILED');
  });

  it('disabled children are skipped; an all-disabled flowable ends SUCCESS (Kestra hangs: docs/execution.md)', async () => {
    const sim = new Simulation(flow([{ id: 'seq', type: `${F}Sequential`, tasks: [log('a', { disabled: true })] }, { id: 'par', type: `${F}Parallel`, tasks: [] }]));
    await sim.settle();
    expect(sim.get('seq')?.state).toBe('SUCCESS');
    expect(sim.get('par')?.state).toBe('SUCCESS');
    expect(sim.state).toBe('SUCCESS');
  });

  it('retries a nested task with the nearest ancestor retry policy', async () => {
    let attempts = 0;
    const f = flow([{ id: 'seq', type: `${F}Sequential`, retry: { type: 'constant', interval: 'PT0S', maxAttempt: 3 }, tasks: [log('a')] }]);
    const sim = new Simulation(f, () => (++attempts < 3 ? { state: 'FAILED' } : { state: 'SUCCESS' }));
    await sim.settle();
    expect(attempts).toBe(3);
    expect(sim.state).toBe('SUCCESS');
  });
});

describe('engine tree: Parallel and Dag', () => {
  it('starts every child at once', async () => {
    const sim = new Simulation(flow([{ id: 'p', type: `${F}Parallel`, tasks: [log('a'), log('b'), log('c')] }]), () => 'hold');
    await sim.settle();
    expect(sim.runs.filter((r) => r.state === 'RUNNING').map((r) => r.taskId)).toEqual(['p', 'a', 'b', 'c']);
    await sim.end('b', 'SUCCESS');
    await sim.end('a', 'SUCCESS');
    await sim.end('c', 'SUCCESS');
    expect(sim.state).toBe('SUCCESS');
  });

  it('keeps at most `concurrent` children running', async () => {
    const sim = new Simulation(flow([{ id: 'p', type: `${F}Parallel`, concurrent: 2, tasks: [log('a'), log('b'), log('c')] }]), () => 'hold');
    await sim.settle();
    expect(sim.order()).toEqual(['p', 'a', 'b']);
    await sim.end('a', 'SUCCESS');
    expect(sim.order()).toEqual(['p', 'a', 'b', 'c']);
  });

  it('ends FAILED on the first failure without starting more; the errors run in parallel', async () => {
    const f = flow([{ id: 'p', type: `${F}Parallel`, concurrent: 1, tasks: [log('a'), log('b')], errors: [log('e1'), log('e2')] }]);
    const sim = new Simulation(f, fails('a'));
    await sim.settle();
    expect(sim.order()).toEqual(['p', 'a', 'e1', 'e2']);
    expect(sim.state).toBe('FAILED');
  });

  it('Dag runs a task once its dependencies ended', async () => {
    const dag = {
      id: 'dag',
      type: `${F}Dag`,
      tasks: [{ task: log('d'), dependsOn: ['b', 'c'] }, { task: log('a') }, { task: log('b'), dependsOn: ['a'] }, { task: log('c'), dependsOn: ['a'] }],
    };
    const sim = new Simulation(flow([dag]), () => 'hold');
    await sim.settle();
    expect(sim.order()).toEqual(['dag', 'a']);
    await sim.end('a', 'SUCCESS');
    expect(sim.order()).toEqual(['dag', 'a', 'b', 'c']);
    await sim.end('b', 'SUCCESS');
    expect(sim.order()).toHaveLength(4);
    await sim.end('c', 'SUCCESS');
    await sim.end('d', 'SUCCESS');
    expect(sim.state).toBe('SUCCESS');
  });
});

describe('engine tree: If and Switch', () => {
  const ifFlow = (condition: unknown, withElse = true) =>
    flow([{ id: 'if', type: `${F}If`, condition, then: [log('yes')], ...(withElse ? { else: [log('no')] } : {}) }]);
  it.each([
    ['true', 'yes'],
    ['false', 'no'],
    ['0', 'no'],
    ['-0', 'no'],
    ['', 'no'],
    ['False', 'yes'],
    ['0.0', 'yes'],
    ['null', 'yes'],
  ])('condition %j takes %s (Kestra truthiness)', async (condition, branch) => {
    const sim = new Simulation(ifFlow(condition));
    await sim.settle();
    expect(sim.order()).toEqual(['if', branch]);
    expect(sim.get('if')?.outputs).toEqual({ evaluationResult: branch === 'yes' });
  });

  it('a false condition with no else ends SUCCESS with no child', async () => {
    const sim = new Simulation(ifFlow('{{ inputs.x }}', false), undefined, { x: false });
    await sim.settle();
    expect(sim.order()).toEqual(['if']);
    expect(sim.state).toBe('SUCCESS');
  });

  it('Switch runs the matching case, else the defaults; with neither it fails', async () => {
    const sw = (value: string, defaults = true): Flow =>
      flow([{ id: 'sw', type: `${F}Switch`, value, cases: { a: [log('ca')], b: [log('cb')] }, ...(defaults ? { defaults: [log('d')] } : {}) }]);
    let sim = new Simulation(sw('{{ inputs.v }}'), undefined, { v: 'b' });
    await sim.settle();
    expect(sim.order()).toEqual(['sw', 'cb']);
    expect(sim.get('sw')?.outputs).toEqual({ value: 'b', defaults: false });
    sim = new Simulation(sw('zzz'));
    await sim.settle();
    expect(sim.order()).toEqual(['sw', 'd']);
    sim = new Simulation(sw('zzz', false));
    await sim.settle();
    expect(sim.get('sw')?.state).toBe('FAILED');
    expect(sim.state).toBe('FAILED');
  });
});

describe('engine tree: loops', () => {
  it('ForEach runs value × task in order by default (concurrencyLimit 1), with the value on each child', async () => {
    const sim = new Simulation(flow([{ id: 'each', type: `${F}ForEach`, values: ['a', 'b', 'a'], tasks: [log('t1'), log('t2')] }]));
    await sim.settle();
    expect(sim.order()).toEqual(['each', 't1:a', 't2:a', 't1:b', 't2:b']);
    expect(sim.state).toBe('SUCCESS');
  });

  it('ForEach with concurrencyLimit runs that many values at once, the tasks of one value in order', async () => {
    const sim = new Simulation(flow([{ id: 'each', type: `${F}ForEach`, values: '["1","2","3"]', concurrencyLimit: 2, tasks: [log('t1'), log('t2')] }]), () => 'hold');
    await sim.settle();
    expect(sim.order()).toEqual(['each', 't1:1', 't1:2']);
    await sim.end('t1', 'SUCCESS', '2');
    expect(sim.order()).toEqual(['each', 't1:1', 't1:2', 't2:2']);
    await sim.end('t2', 'SUCCESS', '2');
    expect(sim.order()).toEqual(['each', 't1:1', 't1:2', 't2:2', 't1:3']);
    await sim.end('t1', 'SUCCESS', '1');
    await sim.end('t2', 'SUCCESS', '1');
    await sim.end('t1', 'SUCCESS', '3');
    await sim.end('t2', 'SUCCESS', '3');
    expect(sim.state).toBe('SUCCESS');
  });

  it('ForEach with concurrencyLimit 0 starts every value', async () => {
    const values = Array.from({ length: 50 }, (_, i) => String(i));
    const sim = new Simulation(flow([{ id: 'each', type: `${F}ForEach`, values, concurrencyLimit: 0, tasks: [log('t')] }]), () => 'hold');
    await sim.settle();
    expect(sim.runs.filter((r) => r.taskId === 't')).toHaveLength(50);
  });

  it('an empty ForEach ends SUCCESS; nulls fail it', async () => {
    let sim = new Simulation(flow([{ id: 'each', type: `${F}ForEach`, values: [], tasks: [log('t')] }]));
    await sim.settle();
    expect(sim.state).toBe('SUCCESS');
    sim = new Simulation(flow([{ id: 'each', type: `${F}ForEach`, values: '[1, null]', tasks: [log('t')] }]));
    await sim.settle();
    expect(sim.get('each')?.state).toBe('FAILED');
    expect(sim.log.join('\n')).toMatch(/1 null values/);
  });

  it('nested loops: the inner values come from the outer value', async () => {
    const inner = { id: 'inner', type: `${F}ForEach`, values: '["{{ taskrun.value }}-x", "{{ taskrun.value }}-y"]', tasks: [log('t')] };
    const sim = new Simulation(flow([{ id: 'outer', type: `${F}ForEach`, values: ['a', 'b'], tasks: [inner] }]));
    await sim.settle();
    expect(sim.order()).toEqual(['outer', 'inner:a', 't:a-x', 't:a-y', 'inner:b', 't:b-x', 't:b-y']);
  });

  it('EachParallel runs every value × task at once; EachSequential one at a time', async () => {
    let sim = new Simulation(flow([{ id: 'each', type: `${F}EachParallel`, value: ['a', 'b'], tasks: [log('t1'), log('t2')] }]), () => 'hold');
    await sim.settle();
    expect(sim.order()).toEqual(['each', 't1:a', 't2:a', 't1:b', 't2:b']);
    sim = new Simulation(flow([{ id: 'each', type: 'io.kestra.core.tasks.flows.EachSequential', value: '["a","b"]', tasks: [log('t1')] }]), () => 'hold');
    await sim.settle();
    expect(sim.order()).toEqual(['each', 't1:a']);
  });

  it('parses loop values as Kestra does', () => {
    expect(loopValues(['a', 1, { k: 'v' }])).toEqual({ values: ['a', '1', '{"k":"v"}'] });
    expect(loopValues('[1, 1.5, true, "x"]')).toEqual({ values: ['1', '1.5', 'true', 'x'] });
    expect(loopValues([1.5])).toMatchObject({ error: expect.stringMatching(/unknown value element type/) });
    expect(loopValues('not json')).toMatchObject({ error: expect.stringMatching(/not a JSON array/) });
  });

  it('a kill in the middle of a loop cancels what waits and ends KILLED once the running child ends', async () => {
    const sim = new Simulation(flow([{ id: 'each', type: `${F}ForEach`, values: ['a', 'b', 'c'], concurrencyLimit: 2, tasks: [log('t')] }]), () => 'hold');
    await sim.settle();
    sim.state = 'KILLING';
    await sim.settle();
    expect(sim.state).toBe('KILLING');
    await sim.end('t', 'KILLED', 'a');
    await sim.end('t', 'KILLED', 'b');
    expect(sim.state).toBe('KILLED');
    expect(sim.get('each')?.state).toBe('KILLED');
    expect(sim.get('t', 'c')).toBeUndefined();
  });
});

describe('engine tree: Pause and WaitFor', () => {
  it('Pause pauses the execution; a delay resumes it', async () => {
    const sim = new Simulation(flow([{ id: 'p', type: `${F}Pause`, delay: 'PT5S' }, log('after')]));
    await sim.settle();
    expect(sim.state).toBe('PAUSED');
    expect(sim.get('p')?.state).toBe('PAUSED');
    expect(sim.wakes).toEqual([sim.now + 5000]);
    await sim.advance(4000);
    expect(sim.state).toBe('PAUSED');
    await sim.advance(1000);
    expect(sim.get('p')?.state).toBe('SUCCESS');
    expect(sim.state).toBe('SUCCESS');
    expect(sim.order()).toEqual(['p', 'after']);
  });

  it('Pause and WaitFor woken before their time (a timer a millisecond early) ask to be woken again when due', async () => {
    const paused = new Simulation(flow([{ id: 'p', type: `${F}Pause`, delay: 'PT5S' }, log('after')]));
    await paused.settle();
    await paused.advance(4999);
    expect(paused.state).toBe('PAUSED');
    expect(paused.wakes).toEqual([paused.now + 1, paused.now + 1]);
    await paused.advance(1);
    expect(paused.state).toBe('SUCCESS');

    let n = 0;
    const waiting = new Simulation(
      flow([{ id: 'w', type: `${F}WaitFor`, condition: '{{ outputs.t.n >= 2 }}', checkFrequency: { interval: 'PT2S' }, tasks: [log('t')] }]),
      () => ({ state: 'SUCCESS', outputs: { n: ++n } }),
    );
    await waiting.settle();
    expect(waiting.wakes).toEqual([waiting.now + 2000]);
    await waiting.advance(1999);
    expect(waiting.wakes).toEqual([waiting.now + 1, waiting.now + 1]);
    await waiting.advance(1);
    expect(waiting.state).toBe('SUCCESS');
  });

  it('a Pause timeout fails it (as Kestra does)', async () => {
    const sim = new Simulation(flow([{ id: 'p', type: `${F}Pause`, timeout: 'PT1S' }, log('after')]));
    await sim.settle();
    await sim.advance(1000);
    expect(sim.get('p')?.state).toBe('FAILED');
    expect(sim.state).toBe('FAILED');
  });

  it('WaitFor loops until its condition holds, waiting `interval` between iterations', async () => {
    let n = 0;
    const f = flow([{ id: 'w', type: `${F}WaitFor`, condition: '{{ outputs.t.n >= 3 }}', checkFrequency: { interval: 'PT2S' }, tasks: [log('t')] }]);
    const sim = new Simulation(f, () => ({ state: 'SUCCESS', outputs: { n: ++n } }));
    await sim.settle();
    expect(sim.state).toBe('RUNNING');
    await sim.advance(2000);
    await sim.advance(2000);
    expect(sim.state).toBe('SUCCESS');
    expect(sim.runs.filter((r) => r.taskId === 't').map((r) => r.iteration)).toEqual([1, 2, 3]);
    expect(sim.get('w')?.outputs).toEqual({ iterationCount: 3 });
  });

  it('WaitFor stops at maxIterations, failing with failOnMaxReached', async () => {
    const f = flow([{ id: 'w', type: `${F}WaitFor`, condition: 'false', failOnMaxReached: true, checkFrequency: { maxIterations: 2, interval: 'PT1S' }, tasks: [log('t')] }]);
    const sim = new Simulation(f);
    await sim.settle();
    await sim.advance(1000);
    expect(sim.runs.filter((r) => r.taskId === 't')).toHaveLength(2);
    expect(sim.get('w')?.state).toBe('FAILED');
  });
});

describe('engine tree: Labels and cost', () => {
  it('Labels changes the execution labels and refuses system. keys', async () => {
    const labelsTask = (labels: unknown): TaskSpec => ({ id: 'l', type: 'io.kestra.plugin.core.execution.Labels', labels });
    let sim = new Simulation(flow([labelsTask({ team: 'data', n: 1 })]));
    await sim.settle();
    expect(sim.labels).toEqual([{ key: 'team', value: 'data' }, { key: 'n', value: '1' }]);
    expect(sim.state).toBe('SUCCESS');
    sim = new Simulation(flow([labelsTask([{ key: 'system.x', value: 'y' }])]));
    await sim.settle();
    expect(sim.state).toBe('FAILED');
  });

  it('a ForEach over 1000 values with concurrencyLimit 0 creates each child once', async () => {
    const values = Array.from({ length: 1000 }, (_, i) => String(i));
    const sim = new Simulation(flow([{ id: 'each', type: `${F}ForEach`, values, concurrencyLimit: 0, tasks: [{ id: 'r', type: 'io.kestra.plugin.core.debug.Return', format: 'x' }] }]));
    await sim.settle();
    expect(sim.runs).toHaveLength(1001);
    expect(new Set(sim.runs.map((r) => r.value)).size).toBe(1001);
    expect(sim.state).toBe('SUCCESS');
  });
});

describe('engine tree: the run index', () => {
  it('indexes children listed before their parent (runs stored in the same millisecond come back in any order)', async () => {
    const { RunIndex } = await import('./run-index.js');
    const { structureOf } = await import('./structure.js');
    const { decide } = await import('./decide.js');
    const f = flow([{ id: 'each', type: `${F}ForEach`, values: ['x', 'y', 'z'], concurrencyLimit: 2, tasks: [log('t')] }]);
    const runs = [
      { id: 'c1', taskId: 't', parentTaskRunId: 'p', value: 'x', state: 'RUNNING' as const, attempt: 1 },
      { id: 'p', taskId: 'each', state: 'RUNNING' as const, attempt: 1, engineState: { values: ['x', 'y', 'z'] } },
      { id: 'c2', taskId: 't', parentTaskRunId: 'p', value: 'y', state: 'RUNNING' as const, attempt: 1 },
    ];
    const index = RunIndex.build(structureOf(f), runs);
    expect(decide(f, { id: 'e', state: 'RUNNING', taskRuns: [] }, { now: new Date(), newTaskRunId: () => 'n', index }).actions).toEqual([]);
    expect(decide(f, { id: 'e', state: 'RUNNING', taskRuns: runs }, { now: new Date(), newTaskRunId: () => 'n' }).actions).toEqual([]);
  });
});

describe('engine tree: finally (Kestra 0.24+)', () => {
  it("a flowable's finally runs after its tasks, and after its errors when one failed; the flowable keeps its state", async () => {
    const seq = (extra: Partial<TaskSpec>): TaskSpec => ({ id: 'seq', type: `${F}Sequential`, tasks: [log('a'), log('b')], finally: [log('f1'), log('f2')], ...extra });
    let sim = new Simulation(flow([seq({}), log('next')]));
    await sim.settle();
    expect(sim.order()).toEqual(['seq', 'a', 'b', 'f1', 'f2', 'next']);
    expect(sim.state).toBe('SUCCESS');
    sim = new Simulation(flow([seq({ errors: [log('e')] })]), fails('a'));
    await sim.settle();
    expect(sim.order()).toEqual(['seq', 'a', 'e', 'f1', 'f2']);
    expect(sim.get('seq')?.state).toBe('FAILED');
    expect(sim.state).toBe('FAILED');
  });

  it('a failing finally task fails its flowable', async () => {
    const sim = new Simulation(flow([{ id: 'par', type: `${F}Parallel`, tasks: [log('a')], finally: [log('f')] }]), fails('f'));
    await sim.settle();
    expect(sim.get('par')?.state).toBe('FAILED');
    expect(sim.state).toBe('FAILED');
  });

  it("the flow's finally runs once everything else ended, errors included, and does not rescue a failure", async () => {
    let sim = new Simulation(flow([log('a'), log('b')], { errors: [log('e')], finally: [log('f')] }), fails('a'));
    await sim.settle();
    expect(sim.order()).toEqual(['a', 'e', 'f']);
    expect(sim.state).toBe('FAILED');
    sim = new Simulation(flow([{ id: 'p', type: `${F}Parallel`, tasks: [log('a'), log('b')] }], { finally: [log('f')] }), () => 'hold');
    await sim.settle();
    expect(sim.order()).toEqual(['p', 'a', 'b']);
    await sim.end('a', 'SUCCESS');
    await sim.end('b', 'SUCCESS');
    expect(sim.order()).toEqual(['p', 'a', 'b', 'f']);
    await sim.end('f', 'FAILED');
    expect(sim.state).toBe('FAILED');
  });
});

describe('engine tree: afterExecution (Kestra 0.24+)', () => {
  const onState = (id: string, state: string): TaskSpec => log(id, { runIf: `{{ execution.state == '${state}' }}` });

  it('runs after the tasks, errors and finally, one after another, reading the final state; the execution ends in it', async () => {
    const f = flow([log('a')], { errors: [log('e')], finally: [log('f')], afterExecution: [onState('on_success', 'SUCCESS'), onState('on_failure', 'FAILED'), log('always')] });
    let sim = new Simulation(f);
    await sim.settle();
    expect(sim.order()).toEqual(['a', 'f', 'on_success', 'on_failure', 'always']);
    expect([sim.get('on_success')?.state, sim.get('on_failure')?.state]).toEqual(['SUCCESS', 'SKIPPED']);
    expect(sim.state).toBe('SUCCESS');
    sim = new Simulation(f, fails('a'));
    await sim.settle();
    expect(sim.order()).toEqual(['a', 'e', 'f', 'on_success', 'on_failure', 'always']);
    expect([sim.get('on_success')?.state, sim.get('on_failure')?.state]).toEqual(['SKIPPED', 'SUCCESS']);
    expect(sim.state).toBe('FAILED');
  });

  it('a failing afterExecution task neither changes the state nor stops the next one', async () => {
    const sim = new Simulation(flow([log('a')], { afterExecution: [log('x'), log('y')] }), fails('x'));
    await sim.settle();
    expect(sim.order()).toEqual(['a', 'x', 'y']);
    expect(sim.get('x')?.state).toBe('FAILED');
    expect(sim.state).toBe('SUCCESS');
  });

  it('the execution stays RUNNING until they ended; execution.state reads the final state meanwhile', async () => {
    const f = flow([log('a', { allowFailure: true })], { afterExecution: [{ id: 'seq', type: `${F}Sequential`, tasks: [log('x')] }] });
    const sim = new Simulation(f, (task) => (task.id === 'a' ? { state: 'FAILED' } : 'hold'));
    await sim.settle();
    expect(sim.order()).toEqual(['a', 'seq', 'x']);
    expect(sim.state).toBe('RUNNING');
    const taskRuns = sim.runs.map((r) => ({ id: r.id, taskId: r.taskId, state: r.state, attempt: 1, ...(r.parentTaskRunId ? { parentTaskRunId: r.parentTaskRunId } : {}) }));
    expect(executionStateFor(f, { id: 'e', state: 'RUNNING', taskRuns }, { now: new Date(), newTaskRunId: () => 'n' })).toBe('WARNING');
    await sim.end('x', 'SUCCESS');
    expect(sim.state).toBe('WARNING');
  });
});
