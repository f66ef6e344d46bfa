import { describe, expect, it } from 'vitest';
import { chainProblem, childLabels, SUBFLOW_MAX_DEPTH, subflowRunState, subflowSpec } from '../src/subflow.js';

const ok = (value: unknown) => ({ value });

describe('subflowSpec', () => {
  it('reads the rendered properties and the literal flags, with Kestra defaults', () => {
    const spec = subflowSpec({ namespace: 'x', flowId: 'y' }, { namespace: ok(' team.data '), flowId: ok('load'), inputs: ok({ n: 1 }), labels: ok({ env: 'prod' }) });
    expect(spec).toEqual({ namespace: 'team.data', flowId: 'load', inputs: { n: 1 }, labels: [{ key: 'env', value: 'prod' }], wait: true, transmitFailed: true, inheritLabels: false });
    const flags = subflowSpec({ wait: 'false', transmitFailed: false, inheritLabels: 'true' }, { namespace: ok('a'), flowId: ok('b'), revision: ok('3'), scheduleDate: ok('2030-01-01T00:00:00Z') });
    expect(flags).toMatchObject({ wait: false, transmitFailed: false, inheritLabels: true, revision: 3, inputs: {}, labels: [] });
    expect((flags as { scheduleDate: Date }).scheduleDate.toISOString()).toBe('2030-01-01T00:00:00.000Z');
  });

  it('takes labels as a list of {key, value}, and inputs rendered as one JSON text', () => {
    const spec = subflowSpec({}, { namespace: ok('a'), flowId: ok('b'), labels: ok([{ key: 'k', value: 2 }]), inputs: ok('{"n": 4}') });
    expect(spec).toMatchObject({ labels: [{ key: 'k', value: '2' }], inputs: { n: 4 } });
  });

  it('names what is wrong: a render error, an empty id, bad inputs, labels, revision or date', () => {
    const base = { namespace: ok('a'), flowId: ok('b') };
    expect(subflowSpec({}, { ...base, inputs: { error: 'boom' } })).toEqual({ error: 'inputs: boom' });
    expect(subflowSpec({}, { ...base, flowId: ok('  ') })).toEqual({ error: 'flowId: it renders to nothing' });
    expect(subflowSpec({}, { ...base, inputs: ok([1]) })).toEqual({ error: 'inputs: expected a map of input id to value' });
    expect(subflowSpec({}, { ...base, inputs: ok('{nope') })).toEqual({ error: 'inputs: the rendered text is not a JSON object' });
    expect(subflowSpec({}, { ...base, labels: ok({ 'system.x': '1' }) })).toMatchObject({ error: expect.stringContaining('system.x') });
    expect(subflowSpec({}, { ...base, labels: ok(5) })).toMatchObject({ error: expect.stringContaining('labels') });
    expect(subflowSpec({}, { ...base, revision: ok('0') })).toMatchObject({ error: expect.stringContaining('revision') });
    expect(subflowSpec({}, { ...base, scheduleDate: ok('soon') })).toMatchObject({ error: expect.stringContaining('scheduleDate') });
  });
});

describe('childLabels', () => {
  const parent = [
    { key: 'system.correlationId', value: 'root' },
    { key: 'team', value: 'data' },
  ];
  it("keeps the parent's system labels (its correlation id), the task's own winning", () => {
    expect(childLabels(parent, [{ key: 'env', value: 'prod' }], false, 'child1')).toEqual([
      { key: 'system.correlationId', value: 'root' },
      { key: 'env', value: 'prod' },
    ]);
  });
  it('with inheritLabels, all of them', () => {
    expect(childLabels(parent, [{ key: 'team', value: 'ops' }], true, 'child1')).toEqual([
      { key: 'system.correlationId', value: 'root' },
      { key: 'team', value: 'ops' },
    ]);
  });
  it('adds a correlation id, the child id, when the parent has none', () => {
    expect(childLabels([], [], false, 'child1')).toEqual([{ key: 'system.correlationId', value: 'child1' }]);
  });
});

describe('chainProblem', () => {
  const link = (flowId: string, id: string) => ({ namespace: 'ns', flowId, id });
  it('refuses a flow already in the chain of waiting parents, naming the cycle', () => {
    // Nearest first: execution e2 (flow b) was started by e1 (flow a).
    expect(chainProblem([link('b', 'e2'), link('a', 'e1')], 'ns', 'a')).toBe('subflow cycle: ns.a → ns.b → ns.a (execution e1 already runs ns.a, and waits for this call)');
    expect(chainProblem([link('a', 'e1')], 'ns', 'a')).toContain('subflow cycle: ns.a → ns.a');
  });
  it('accepts a new flow, up to the depth limit', () => {
    expect(chainProblem([link('b', 'e2'), link('a', 'e1')], 'ns', 'c')).toBeUndefined();
    const deep = Array.from({ length: SUBFLOW_MAX_DEPTH - 1 }, (_, i) => link(`f${i}`, `e${i}`));
    expect(chainProblem(deep, 'ns', 'last')).toBeUndefined();
    expect(chainProblem([...deep, link('g', 'eg')], 'ns', 'last')).toMatch(/^subflows nested too deep: .* is 11 executions deep, more than the 10 allowed$/);
  });
});

describe('subflowRunState', () => {
  it("passes a FAILED, KILLED or WARNING child's state on with transmitFailed, else SUCCESS", () => {
    expect(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED'].map((s) => subflowRunState(s, true))).toEqual(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'SUCCESS']);
    expect(['WARNING', 'FAILED', 'KILLED'].map((s) => subflowRunState(s, false))).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });
});
