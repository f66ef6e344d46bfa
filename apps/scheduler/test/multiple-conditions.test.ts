import { describe, expect, it } from 'vitest';
import type { ConditionContext } from '@sluice/core';
import { isWindowOpen, memoryWindowStore, multipleConditionsOf, parseLocalTime, recordInWindow, settleWindow, windowBounds } from '../src/multiple-conditions.js';
import type { MultipleConditionSpec } from '../src/multiple-conditions.js';

const at = (iso: string): Date => new Date(iso);
const bounds = (timeWindow: Parameters<typeof windowBounds>[0], now: string): [string, string] => {
  const { start, end } = windowBounds(timeWindow, at(now));
  return [start.toISOString(), end.toISOString()];
};

describe('windowBounds (UTC)', () => {
  it('DURATION_WINDOW: P1D by default, from midnight', () => {
    expect(bounds({}, '2026-12-06T10:37:42.123Z')).toEqual(['2026-12-06T00:00:00.000Z', '2026-12-06T23:59:59.999Z']);
    expect(bounds({ type: 'DURATION_WINDOW', window: 'P1D' }, '2026-12-06T00:00:00.000Z')).toEqual(['2026-12-06T00:00:00.000Z', '2026-12-06T23:59:59.999Z']);
  });

  it('DURATION_WINDOW with windowAdvance: shifted, possibly not open yet', () => {
    expect(bounds({ window: 'P1D', windowAdvance: 'PT6H' }, '2026-12-06T10:37:42Z')).toEqual(['2026-12-06T06:00:00.000Z', '2026-12-07T05:59:59.999Z']);
    const early = windowBounds({ window: 'P1D', windowAdvance: 'PT6H' }, at('2026-12-06T03:00:00Z'));
    expect(isWindowOpen(early, at('2026-12-06T03:00:00Z'))).toBe(false);
  });

  it('DURATION_WINDOW of hours starts at the current hour (as Kestra), plus windowAdvance', () => {
    expect(bounds({ window: 'PT6H' }, '2026-12-06T10:37:42Z')).toEqual(['2026-12-06T10:00:00.000Z', '2026-12-06T15:59:59.999Z']);
    expect(bounds({ window: 'PT6H', windowAdvance: 'PT3H' }, '2026-12-06T10:37:42Z')).toEqual(['2026-12-06T13:00:00.000Z', '2026-12-06T18:59:59.999Z']);
  });

  it('DURATION_WINDOW of minutes starts at a multiple of its minutes in the hour', () => {
    expect(bounds({ window: 'PT15M' }, '2026-12-06T10:37:42Z')).toEqual(['2026-12-06T10:30:00.000Z', '2026-12-06T10:44:59.999Z']);
    expect(bounds({ window: 'PT15M', windowAdvance: 'PT5M' }, '2026-12-06T10:37:42Z')).toEqual(['2026-12-06T10:35:00.000Z', '2026-12-06T10:49:59.999Z']);
    expect(bounds({ window: 'PT10M' }, '2026-12-06T10:09:59Z')).toEqual(['2026-12-06T10:00:00.000Z', '2026-12-06T10:09:59.999Z']);
    expect(bounds({ window: 'PT30S' }, '2026-12-06T10:09:59.500Z')).toEqual(['2026-12-06T10:09:59.000Z', '2026-12-06T10:10:28.999Z']);
  });

  it('SLIDING_WINDOW: from now, for window (P1D by default)', () => {
    expect(bounds({ type: 'SLIDING_WINDOW', window: 'PT1H' }, '2026-12-06T10:37:42.123Z')).toEqual(['2026-12-06T10:37:42.123Z', '2026-12-06T11:37:42.123Z']);
    expect(bounds({ type: 'SLIDING_WINDOW' }, '2026-12-06T10:37:42Z')).toEqual(['2026-12-06T10:37:42.000Z', '2026-12-07T10:37:42.000Z']);
    const sliding = windowBounds({ type: 'SLIDING_WINDOW' }, at('2026-12-06T10:37:42Z'));
    expect(isWindowOpen(sliding, at('2026-12-06T10:37:42Z'))).toBe(true);
  });

  it('DAILY_TIME_WINDOW and DAILY_TIME_DEADLINE: today, in UTC', () => {
    expect(bounds({ type: 'DAILY_TIME_WINDOW', startTime: '06:00', endTime: '09:30:15' }, '2026-12-06T10:37:42Z')).toEqual(['2026-12-06T06:00:00.000Z', '2026-12-06T09:30:15.000Z']);
    expect(bounds({ type: 'DAILY_TIME_DEADLINE', deadline: '09:00:00' }, '2026-12-06T08:00:00Z')).toEqual(['2026-12-06T00:00:00.000Z', '2026-12-06T09:00:00.000Z']);
    expect(isWindowOpen(windowBounds({ type: 'DAILY_TIME_DEADLINE', deadline: '09:00:00' }, at('2026-12-06T09:00:00Z')), at('2026-12-06T09:00:00Z'))).toBe(false);
    expect(parseLocalTime('23:59:59.5')).toBe(86_399_500);
    expect(() => parseLocalTime('24:00')).toThrow(/time of day/);
    expect(() => windowBounds({ type: 'HOURLY' }, at('2026-12-06T08:00:00Z'))).toThrow(/DURATION_WINDOW/);
  });
});

const context = (patch: Partial<ConditionContext['execution']> = {}): ConditionContext => ({
  execution: { id: 'e1', namespace: 'team', flowId: 'a', state: 'SUCCESS', labels: [{ key: 'env', value: 'prod' }], ...patch },
  flow: { namespace: 'team', id: 'down' },
  render: async (template) => template.replace(/\{\{\s*execution\.state\s*\}\}/g, patch.state ?? 'SUCCESS').replace(/\{\{\s*missing\s*\}\}/g, () => {
    throw new Error('missing');
  }),
});

const flowCondition = (flowId: string) => ({ type: 'io.kestra.plugin.core.condition.ExecutionFlow', namespace: 'team', flowId });
const multiple = (extra: Record<string, unknown> = {}) => ({
  conditions: [
    {
      id: 'both',
      type: 'io.kestra.plugin.core.condition.MultipleCondition',
      conditions: { a: flowCondition('a'), b: flowCondition('b') },
      ...extra,
    },
  ],
});
const KEY = { namespace: 'team', flowId: 'down', triggerId: 't', conditionId: 'both' };

/** Record one end and settle the window; whether the condition held. */
async function step(spec: MultipleConditionSpec, store: ReturnType<typeof memoryWindowStore>, ctx: ConditionContext, now: string): Promise<boolean> {
  const evaluation = await recordInWindow(spec, { ...KEY, conditionId: spec.id }, ctx, store, at(now));
  await settleWindow(spec, evaluation, store);
  return evaluation.holds;
}

describe('MultipleCondition', () => {
  it('reads id, named conditions, timeWindow (legacy window/windowAdvance over it) and resetOnSuccess', () => {
    const [spec] = multipleConditionsOf(multiple({ timeWindow: { window: 'PT1H' }, window: 'PT2H', windowAdvance: 'PT5M', resetOnSuccess: false }));
    expect(spec!.id).toBe('both');
    expect([...spec!.conditions.keys()]).toEqual(['a', 'b']);
    expect(spec!.timeWindow).toEqual({ window: 'PT2H', windowAdvance: 'PT5M' });
    expect(spec!.resetOnSuccess).toBe(false);
    expect(multipleConditionsOf({ conditions: [flowCondition('a')] })).toEqual([]);
  });

  it('holds once every name held in the window, sticky, then resets', async () => {
    const [spec] = multipleConditionsOf(multiple());
    const store = memoryWindowStore();
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T10:00:00Z')).toBe(false);
    expect([...store.windows.values()][0]!.results).toEqual({ a: true });
    // Another A: still not B. An unrelated flow changes nothing, and never overwrites a true.
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T10:01:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'zzz' }), '2026-12-06T10:02:00Z')).toBe(false);
    expect([...store.windows.values()][0]!.results).toEqual({ a: true });
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-06T11:00:00Z')).toBe(true);
    // Reset on success: the window is gone; B alone does not hold again.
    expect(store.windows.size).toBe(0);
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-06T11:01:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T11:02:00Z')).toBe(true);
  });

  it('resetOnSuccess: false keeps the window: every later matching end holds again', async () => {
    const [spec] = multipleConditionsOf(multiple({ resetOnSuccess: false }));
    const store = memoryWindowStore();
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T10:00:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-06T10:01:00Z')).toBe(true);
    expect(await step(spec!, store, context({ flowId: 'zzz' }), '2026-12-06T10:02:00Z')).toBe(true);
    expect(store.windows.size).toBe(1);
  });

  it('a new window starts with nothing: results of an expired window do not count', async () => {
    const [spec] = multipleConditionsOf(multiple({ timeWindow: { window: 'PT1H' } }));
    const store = memoryWindowStore();
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T10:59:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-06T11:00:00Z')).toBe(false);
    const [window] = store.windows.values();
    expect(window!.start.toISOString()).toBe('2026-12-06T11:00:00.000Z');
    expect(window!.results).toEqual({ b: true });
    await store.deleteExpired(at('2026-12-06T12:00:00Z'));
    expect(store.windows.size).toBe(0);
  });

  it('a daily window outside its hours is not evaluated, nor stored', async () => {
    const [spec] = multipleConditionsOf(multiple({ timeWindow: { type: 'DAILY_TIME_WINDOW', startTime: '06:00', endTime: '09:00' } }));
    const store = memoryWindowStore();
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T05:00:00Z')).toBe(false);
    expect(store.windows.size).toBe(0);
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T06:30:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-06T09:30:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-06T08:59:00Z')).toBe(true);
  });

  it('a deadline: satisfied before it holds, after it nothing is evaluated', async () => {
    const [spec] = multipleConditionsOf(multiple({ timeWindow: { type: 'DAILY_TIME_DEADLINE', deadline: '09:00' } }));
    const store = memoryWindowStore();
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-06T08:00:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-06T09:00:01Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'a' }), '2026-12-07T01:00:00Z')).toBe(false);
    expect(await step(spec!, store, context({ flowId: 'b' }), '2026-12-07T08:59:59Z')).toBe(true);
  });

  it('sub-conditions are tested independently: one execution may satisfy several names', async () => {
    const [spec] = multipleConditionsOf({
      conditions: [
        {
          id: 'm',
          type: 'io.kestra.core.models.conditions.types.MultipleCondition',
          conditions: { ok: { type: 'io.kestra.plugin.core.condition.ExecutionStatus', in: ['SUCCESS'] }, a: flowCondition('a') },
        },
      ],
    });
    expect(await step(spec!, memoryWindowStore(), context({ flowId: 'a' }), '2026-12-06T10:00:00Z')).toBe(true);
  });
});

describe('preconditions', () => {
  const spec = (preconditions: Record<string, unknown>): MultipleConditionSpec => multipleConditionsOf({ preconditions: { id: 'pre', ...preconditions } })[0]!;
  const holds = async (s: MultipleConditionSpec, patch: Partial<ConditionContext['execution']> = {}): Promise<boolean> => step(s, memoryWindowStore(), context(patch), '2026-12-06T10:00:00Z');

  it('names flows entries condition_<n> and where entries condition_<n>_<id>, as Kestra', () => {
    const s = spec({ flows: [{ namespace: 'team', flowId: 'a' }, { namespace: 'team', flowId: 'b' }], where: [{ id: 'prod', filters: [{ field: 'NAMESPACE', type: 'EQUAL_TO', value: 'team' }] }], resetOnSuccess: false, timeWindow: { type: 'SLIDING_WINDOW', window: 'PT1H' } });
    expect([...s.conditions.keys()]).toEqual(['condition_1', 'condition_2', 'condition_3_prod']);
    expect(s.id).toBe('pre');
    expect(s.resetOnSuccess).toBe(false);
    expect(s.timeWindow).toEqual({ type: 'SLIDING_WINDOW', window: 'PT1H' });
  });

  it('flows: namespace, flowId, states and labels (as text) must all match', async () => {
    expect(await holds(spec({ flows: [{ namespace: 'team' }] }))).toBe(true);
    expect(await holds(spec({ flows: [{ namespace: 'other' }] }))).toBe(false);
    expect(await holds(spec({ flows: [{ namespace: 'team', flowId: 'b' }] }))).toBe(false);
    expect(await holds(spec({ flows: [{ namespace: 'team', flowId: 'a', states: ['FAILED'] }] }))).toBe(false);
    expect(await holds(spec({ flows: [{ namespace: 'team', flowId: 'a', states: ['FAILED'] }] }), { state: 'FAILED' })).toBe(true);
    expect(await holds(spec({ flows: [{ namespace: 'team', labels: { env: 'prod' } }] }))).toBe(true);
    expect(await holds(spec({ flows: [{ namespace: 'team', labels: { env: 'dev' } }] }))).toBe(false);
    expect(await holds(spec({ flows: [{ namespace: 'team', labels: { n: 1 } }] }), { labels: [{ key: 'n', value: '1' }] })).toBe(true);
  });

  const filter = async (f: Record<string, unknown>, patch: Partial<ConditionContext['execution']> = {}, operand?: string): Promise<boolean> =>
    holds(spec({ where: [{ id: 'w', ...(operand ? { operand } : {}), filters: [f] }] }), patch);

  it('where filters of every type', async () => {
    expect(await filter({ field: 'FLOW_ID', type: 'EQUAL_TO', value: 'a' })).toBe(true);
    expect(await filter({ field: 'FLOW_ID', type: 'EQUAL_TO', value: 'b' })).toBe(false);
    expect(await filter({ field: 'NAMESPACE', type: 'NOT_EQUAL_TO', value: 'team' })).toBe(false);
    expect(await filter({ field: 'NAMESPACE', type: 'NOT_EQUAL_TO', value: 'other' })).toBe(true);
    expect(await filter({ field: 'STATE', type: 'IN', values: ['SUCCESS', 'WARNING'] })).toBe(true);
    expect(await filter({ field: 'STATE', type: 'IN', values: ['FAILED'] })).toBe(false);
    expect(await filter({ field: 'STATE', type: 'NOT_IN', values: ['FAILED'] })).toBe(true);
    expect(await filter({ field: 'STATE', type: 'NOT_IN', values: ['SUCCESS'] })).toBe(false);
    expect(await filter({ field: 'EXPRESSION', type: 'IS_TRUE', value: "{{ execution.state }}" })).toBe(true);
    expect(await filter({ field: 'EXPRESSION', type: 'IS_TRUE', value: 'false' })).toBe(false);
    expect(await filter({ field: 'EXPRESSION', type: 'IS_TRUE', value: '0' })).toBe(false);
    expect(await filter({ field: 'EXPRESSION', type: 'IS_FALSE', value: 'false' })).toBe(true);
    expect(await filter({ field: 'EXPRESSION', type: 'IS_FALSE', value: 'yes' })).toBe(false);
    expect(await filter({ field: 'FLOW_ID', type: 'IS_NULL', value: 'x' })).toBe(false);
    expect(await filter({ field: 'FLOW_ID', type: 'IS_NOT_NULL', value: 'x' })).toBe(true);
    expect(await filter({ field: 'NAMESPACE', type: 'STARTS_WITH', value: 'te' })).toBe(true);
    expect(await filter({ field: 'NAMESPACE', type: 'STARTS_WITH', value: 'am' })).toBe(false);
    expect(await filter({ field: 'NAMESPACE', type: 'ENDS_WITH', value: 'am' })).toBe(true);
    expect(await filter({ field: 'NAMESPACE', type: 'ENDS_WITH', value: 'te' })).toBe(false);
    expect(await filter({ field: 'STATE', type: 'REGEX', value: 'SUCC.*' })).toBe(true);
    // REGEX matches the whole text, as Java's String.matches.
    expect(await filter({ field: 'STATE', type: 'REGEX', value: 'SUCC' })).toBe(false);
    expect(await filter({ field: 'STATE', type: 'CONTAINS', value: 'CCE' })).toBe(true);
    expect(await filter({ field: 'STATE', type: 'CONTAINS', value: 'FAIL' })).toBe(false);
    // A filter that cannot be evaluated does not hold.
    expect(await filter({ field: 'EXPRESSION', type: 'IS_TRUE', value: '{{ missing }}' })).toBe(false);
  });

  it('where operand: AND (default) needs every filter, OR any', async () => {
    const filters = [
      { field: 'FLOW_ID', type: 'EQUAL_TO', value: 'a' },
      { field: 'STATE', type: 'EQUAL_TO', value: 'FAILED' },
    ];
    expect(await holds(spec({ where: [{ id: 'w', filters }] }))).toBe(false);
    expect(await holds(spec({ where: [{ id: 'w', operand: 'AND', filters }] }))).toBe(false);
    expect(await holds(spec({ where: [{ id: 'w', operand: 'OR', filters }] }))).toBe(true);
  });

  it('every flows and where entry must be satisfied once in the window, by any execution', async () => {
    const s = spec({ flows: [{ namespace: 'team', flowId: 'a' }], where: [{ id: 'b_ok', filters: [{ field: 'FLOW_ID', type: 'EQUAL_TO', value: 'b' }] }] });
    const store = memoryWindowStore();
    expect(await step(s, store, context({ flowId: 'b' }), '2026-12-06T10:00:00Z')).toBe(false);
    expect(await step(s, store, context({ flowId: 'a' }), '2026-12-06T10:05:00Z')).toBe(true);
    expect(store.windows.size).toBe(0);
  });
});
