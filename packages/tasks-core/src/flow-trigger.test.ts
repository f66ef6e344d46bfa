import { describe, expect, it } from 'vitest';
import { flowTrigger } from './flow-trigger.js';

const MULTIPLE = 'io.kestra.plugin.core.condition.MultipleCondition';
const flowCondition = (flowId: string) => ({ type: 'io.kestra.plugin.core.condition.ExecutionFlow', namespace: 'team', flowId });

/** The problems of a Flow trigger, as `path: reason`. */
function problems(value: Record<string, unknown>): string[] {
  return (flowTrigger.check?.(value) ?? []).map((issue) => {
    expect(issue.code).toBe('SLU_FLOW_INVALID_VALUE');
    return `${issue.path.join('.')}: ${String((issue.params as { reason: string }).reason)}`;
  });
}

describe('Flow trigger check: MultipleCondition', () => {
  it('accepts a well-formed one, with old and new type names, legacy window and every time window type', () => {
    expect(problems({ conditions: [{ id: 'both', type: MULTIPLE, window: 'PT12H', windowAdvance: 'PT1H', conditions: { a: flowCondition('a'), b: flowCondition('b') } }] })).toEqual([]);
    for (const timeWindow of [
      { type: 'DURATION_WINDOW', window: 'PT15M', windowAdvance: 'PT5M' },
      { type: 'SLIDING_WINDOW', window: 'PT1H' },
      { type: 'DAILY_TIME_WINDOW', startTime: '06:00', endTime: '09:30:00' },
      { type: 'DAILY_TIME_DEADLINE', deadline: '09:00:00', timezone: 'UTC' },
      {},
    ]) {
      expect(problems({ conditions: [{ id: 'm', type: 'io.kestra.core.models.conditions.types.MultipleCondition', timeWindow, resetOnSuccess: false, conditions: { a: flowCondition('a') } }] })).toEqual([]);
    }
  });

  it('names each problem with its YAML path', () => {
    expect(problems({ conditions: [{ type: MULTIPLE, conditions: {} }] })).toEqual([
      expect.stringMatching(/^conditions\.0\.id: is required/),
      expect.stringMatching(/^conditions\.0\.conditions: is required: a mapping/),
    ]);
    expect(
      problems({
        conditions: [
          flowCondition('x'),
          {
            id: 'm',
            type: MULTIPLE,
            window: 'soon',
            resetOnSuccess: 'yes',
            conditions: { a: { type: 'io.kestra.plugin.core.condition.Nope' }, b: { type: 'io.kestra.plugin.core.condition.ExecutionFlow', namespace: 'team' }, c: { id: 'n', type: MULTIPLE, conditions: { x: flowCondition('x') } }, d: { type: 'io.kestra.plugin.core.condition.Or', conditions: [{ type: 'bad' }] } },
          },
        ],
      }),
    ).toEqual([
      'conditions.1.resetOnSuccess: must be true or false',
      expect.stringMatching(/^conditions\.1\.window: must be an ISO-8601 duration/),
      expect.stringMatching(/^conditions\.1\.conditions\.a\.type: condition type "io.kestra.plugin.core.condition.Nope" is not supported on a MultipleCondition/),
      expect.stringMatching(/^conditions\.1\.conditions\.b\.flowId: is required/),
      expect.stringMatching(/^conditions\.1\.conditions\.c\.type: MultipleCondition is not allowed on a MultipleCondition/),
      expect.stringMatching(/^conditions\.1\.conditions\.d\.conditions\.0\.type: condition type "bad"/),
    ]);
  });

  it('checks time windows: type, the properties it reads, durations and times', () => {
    const check = (timeWindow: unknown) => problems({ conditions: [{ id: 'm', type: MULTIPLE, timeWindow, conditions: { a: flowCondition('a') } }] });
    expect(check('P1D')).toEqual([expect.stringMatching(/^conditions\.0\.timeWindow: must be a mapping/)]);
    expect(check({ type: 'WEEKLY' })).toEqual([expect.stringMatching(/^conditions\.0\.timeWindow\.type: must be one of DURATION_WINDOW, SLIDING_WINDOW/)]);
    expect(check({ window: 'PT0S' })).toEqual(['conditions.0.timeWindow.window: must be longer than zero']);
    expect(check({ type: 'SLIDING_WINDOW', windowAdvance: 'PT1H' })).toEqual([expect.stringMatching(/^conditions\.0\.timeWindow\.windowAdvance: is not read by a SLIDING_WINDOW window/)]);
    expect(check({ type: 'DAILY_TIME_DEADLINE' })).toEqual([expect.stringMatching(/^conditions\.0\.timeWindow\.deadline: is required for a DAILY_TIME_DEADLINE window/)]);
    expect(check({ type: 'DAILY_TIME_WINDOW', startTime: '25:00', endTime: '09:00' })).toEqual([expect.stringMatching(/^conditions\.0\.timeWindow\.startTime: is required/)]);
    expect(check({ type: 'DAILY_TIME_WINDOW', startTime: '10:00', endTime: '09:00' })).toEqual(['conditions.0.timeWindow.endTime: must be after startTime (a daily window lies within one day)']);
    expect(check({ type: 'DAILY_TIME_DEADLINE', deadline: '09:00', timezone: 'Europe/Paris' })).toEqual([expect.stringMatching(/^conditions\.0\.timeWindow\.timezone: Sluice computes windows in UTC/)]);
  });

  it('refuses two multiple conditions with one id (it names their window)', () => {
    expect(problems({ conditions: [{ id: 'm', type: MULTIPLE, conditions: { a: flowCondition('a') } }], preconditions: { id: 'm', flows: [{ namespace: 'team' }] } })).toEqual([
      expect.stringMatching(/^preconditions\.id: "m" is already the id of conditions\.0\.id/),
    ]);
  });
});

describe('Flow trigger check: preconditions', () => {
  it('accepts flows and where entries with every filter type', () => {
    const filters = [
      { field: 'FLOW_ID', type: 'EQUAL_TO', value: 'a' },
      { field: 'NAMESPACE', type: 'NOT_EQUAL_TO', value: 'x' },
      { field: 'STATE', type: 'IN', values: ['SUCCESS'] },
      { field: 'STATE', type: 'NOT_IN', values: ['FAILED'] },
      { field: 'EXPRESSION', type: 'IS_TRUE', value: '{{ true }}' },
      { field: 'EXPRESSION', type: 'IS_FALSE', value: '{{ false }}' },
      { field: 'FLOW_ID', type: 'IS_NULL', value: 'x' },
      { field: 'FLOW_ID', type: 'IS_NOT_NULL', value: 'x' },
      { field: 'NAMESPACE', type: 'STARTS_WITH', value: 'te' },
      { field: 'NAMESPACE', type: 'ENDS_WITH', value: 'am' },
      { field: 'FLOW_ID', type: 'REGEX', value: 'a|b' },
      { field: 'FLOW_ID', type: 'CONTAINS', value: 'a' },
    ];
    expect(
      problems({
        preconditions: {
          id: 'pre',
          timeWindow: { type: 'SLIDING_WINDOW', window: 'PT1H' },
          resetOnSuccess: false,
          flows: [{ namespace: 'team', flowId: 'a', states: ['SUCCESS', 'WARNING'], labels: { env: 'prod' } }, { namespace: 'team' }],
          where: [{ id: 'w', operand: 'OR', filters }],
        },
      }),
    ).toEqual([]);
  });

  it('names each problem with its YAML path', () => {
    expect(problems({ preconditions: 'yes' })).toEqual([expect.stringMatching(/^preconditions: must be a mapping/)]);
    expect(problems({ preconditions: { id: 'p' } })).toEqual([expect.stringMatching(/^preconditions: needs at least one entry in flows or where/)]);
    expect(problems({ preconditions: { id: '-p', flows: [{ flowId: 'a', states: ['RUNNING'], labels: ['x'] }, 'b'] } })).toEqual([
      expect.stringMatching(/^preconditions\.id: is required: letters, digits/),
      expect.stringMatching(/^preconditions\.flows\.0\.namespace: is required/),
      expect.stringMatching(/^preconditions\.flows\.0\.states\.0: must be one of SUCCESS, .* got "RUNNING" \(Sluice evaluates an upstream execution when it ends\)/),
      'preconditions.flows.0.labels: must be a mapping of label keys to values',
      expect.stringMatching(/^preconditions\.flows\.1: must be a mapping/),
    ]);
    expect(
      problems({
        preconditions: {
          id: 'p',
          where: [
            { operand: 'XOR', filters: [] },
            { id: 'w', filters: [{ field: 'LABEL', type: 'EQUAL_TO', value: 'x' }, { field: 'STATE', type: 'IN', value: 'SUCCESS' }, { field: 'STATE', type: 'EQUAL_TO', values: ['x'] }, { field: 'FLOW_ID', type: 'REGEX', value: '(' }, { field: 'EXPRESSION', type: 'NOT_IN', values: ['a'] }, { field: 'STATE', type: 'LIKE', value: 'x' }] },
            { id: 'w', filters: [{ field: 'STATE', type: 'EQUAL_TO', value: 'SUCCESS' }] },
          ],
        },
      }),
    ).toEqual([
      expect.stringMatching(/^preconditions\.where\.0\.id: is required/),
      expect.stringMatching(/^preconditions\.where\.0\.operand: must be one of AND, OR, got "XOR"/),
      expect.stringMatching(/^preconditions\.where\.0\.filters: is required/),
      expect.stringMatching(/^preconditions\.where\.1\.filters\.0\.field: must be one of FLOW_ID, NAMESPACE, STATE, EXPRESSION, got "LABEL"/),
      'preconditions.where.1.filters.1.values: is required for IN: a list of values',
      'preconditions.where.1.filters.1.value: must not be set for IN (it reads values)',
      'preconditions.where.1.filters.2.value: is required for EQUAL_TO: a string, got undefined',
      'preconditions.where.1.filters.2.values: must not be set for EQUAL_TO (it reads value)',
      expect.stringMatching(/^preconditions\.where\.1\.filters\.3\.value: is not a regular expression/),
      expect.stringMatching(/^preconditions\.where\.1\.filters\.4\.type: an EXPRESSION filter renders its value/),
      expect.stringMatching(/^preconditions\.where\.1\.filters\.5\.type: must be one of EQUAL_TO/),
      'preconditions.where.2.id: "w" is already the id of another where entry',
    ]);
  });

  it('still checks plain conditions around them', () => {
    expect(problems({ conditions: [{ type: 'io.kestra.plugin.core.condition.Expression' }], preconditions: { id: 'p', flows: [{ namespace: 'team' }] } })).toEqual([
      expect.stringMatching(/^conditions\.0\.expression: is required/),
    ]);
  });
});
