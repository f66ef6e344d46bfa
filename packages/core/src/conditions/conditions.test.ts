import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../expression/index.js';
import type { ConditionContext } from './conditions.js';
import { evaluateCondition, evaluateConditions, executionConditionName, executionConditionProblems, isConditionTrue, isMultipleCondition } from './conditions.js';

const NEW = 'io.kestra.plugin.core.condition.';
const OLD = 'io.kestra.core.models.conditions.types.';

function context(overrides: Partial<ConditionContext['execution']> = {}, variables: Record<string, unknown> = {}): ConditionContext {
  return {
    execution: { id: 'e1', namespace: 'company.team', flowId: 'upstream', state: 'SUCCESS', labels: [{ key: 'env', value: 'prod' }], ...overrides },
    flow: { namespace: 'company.other', id: 'downstream' },
    render: (template) => renderTemplate(template, variables),
  };
}

const holds = (condition: unknown, ctx: ConditionContext = context()): Promise<boolean> => evaluateCondition(condition, ctx);

describe('execution conditions', () => {
  it('know every alias Kestra gives them, case-insensitively', () => {
    expect(executionConditionName(`${NEW}ExecutionStatus`)).toBe('ExecutionStatus');
    expect(executionConditionName(`${OLD}ExecutionStatusCondition`)).toBe('ExecutionStatus');
    expect(executionConditionName(`${NEW}ExecutionStatusCondition`)).toBe('ExecutionStatus');
    expect(executionConditionName(`${OLD}VariableCondition`)).toBe('Expression');
    expect(executionConditionName(`${NEW}ExpressionCondition`)).toBe('Expression');
    expect(executionConditionName(`${OLD}NotCondition`)).toBe('Not');
    expect(executionConditionName(`${NEW}orcondition`)).toBe('Or');
    expect(executionConditionName(`${OLD}FlowCondition`)).toBe('FlowCondition');
    expect(executionConditionName(`${NEW}DayWeek`)).toBeUndefined();
    expect(executionConditionName('ExecutionStatus')).toBeUndefined();
    expect(isMultipleCondition({ type: `${OLD}MultipleCondition` })).toBe(true);
    expect(isMultipleCondition({ type: `${NEW}ExecutionStatus` })).toBe(false);
  });

  it('ExecutionStatus: in and notIn', async () => {
    expect(await holds({ type: `${NEW}ExecutionStatus`, in: ['SUCCESS', 'WARNING'] })).toBe(true);
    expect(await holds({ type: `${NEW}ExecutionStatus`, in: ['FAILED'] })).toBe(false);
    expect(await holds({ type: `${NEW}ExecutionStatus`, notIn: ['SUCCESS'] })).toBe(false);
    expect(await holds({ type: `${NEW}ExecutionStatus`, in: ['SUCCESS'], notIn: ['FAILED'] })).toBe(true);
    expect(await holds({ type: `${NEW}ExecutionStatus` })).toBe(true);
  });

  it('ExecutionFlow needs both namespace and flowId to be equal', async () => {
    expect(await holds({ type: `${NEW}ExecutionFlow`, namespace: 'company.team', flowId: 'upstream' })).toBe(true);
    expect(await holds({ type: `${NEW}ExecutionFlow`, namespace: 'company.team', flowId: 'other' })).toBe(false);
    expect(await holds({ type: `${NEW}ExecutionFlow`, namespace: 'company.team' })).toBe(false); // throws: false
  });

  it('ExecutionNamespace: EQUALS, PREFIX, SUFFIX and the legacy prefix flag, as string tests', async () => {
    const ns = (extra: Record<string, unknown>): Promise<boolean> => holds({ type: `${OLD}ExecutionNamespaceCondition`, ...extra });
    expect(await ns({ namespace: 'company.team' })).toBe(true);
    expect(await ns({ namespace: 'company' })).toBe(false);
    expect(await ns({ namespace: 'company', prefix: true })).toBe(true);
    expect(await ns({ namespace: 'comp', comparison: 'PREFIX' })).toBe(true); // not dot-aware
    expect(await ns({ namespace: 'team', comparison: 'SUFFIX' })).toBe(true);
    expect(await ns({ namespace: 'company', comparison: 'EQUALS', prefix: true })).toBe(false); // comparison wins
  });

  it('ExecutionLabels: a list or a map, every pair exactly', async () => {
    expect(await holds({ type: `${NEW}ExecutionLabels`, labels: { env: 'prod' } })).toBe(true);
    expect(await holds({ type: `${NEW}ExecutionLabels`, labels: [{ key: 'env', value: 'prod' }] })).toBe(true);
    expect(await holds({ type: `${NEW}ExecutionLabels`, labels: { env: 'prod', team: 'a' } })).toBe(false);
    expect(await holds({ type: `${NEW}ExecutionLabels`, labels: { env: 'Prod' } })).toBe(false);
  });

  it('Expression: not blank and, trimmed, not "false" (0 is true, unlike If)', async () => {
    const ctx = context({}, { trigger: { body: { x: 0, ok: false, name: 'ada' } } });
    expect(await holds({ type: `${NEW}Expression`, expression: '{{ trigger.body.name }}' }, ctx)).toBe(true);
    expect(await holds({ type: `${NEW}Expression`, expression: '{{ trigger.body.x }}' }, ctx)).toBe(true);
    expect(await holds({ type: `${NEW}Expression`, expression: '{{ trigger.body.ok }}' }, ctx)).toBe(false);
    expect(await holds({ type: `${NEW}Expression`, expression: ' {{ trigger.body.ok }} ' }, ctx)).toBe(false);
    expect(await holds({ type: `${NEW}Expression`, expression: '{{ trigger.body.name == "bob" }}' }, ctx)).toBe(false);
    // An undefined variable throws while rendering: the condition does not hold.
    expect(await holds({ type: `${NEW}Expression`, expression: '{{ trigger.body.nope.deeper }}' }, ctx)).toBe(false);
    expect(isConditionTrue('   ')).toBe(false);
    expect(isConditionTrue('False')).toBe(true);
  });

  it('ExecutionOutputs: false without outputs, else the expression', async () => {
    const condition = { type: `${NEW}ExecutionOutputs`, expression: '{{ trigger.outputs.n > 1 }}' };
    expect(await holds(condition, context({}, { trigger: { outputs: { n: 2 } } }))).toBe(false);
    expect(await holds(condition, context({ outputs: { n: 2 } }, { trigger: { outputs: { n: 2 } } }))).toBe(true);
    expect(await holds(condition, context({ outputs: { n: 0 } }, { trigger: { outputs: { n: 0 } } }))).toBe(false);
  });

  it('Not and Or nest, and a broken nested condition counts as false', async () => {
    const failed = { type: `${NEW}ExecutionStatus`, in: ['FAILED'] };
    const success = { type: `${NEW}ExecutionStatus`, in: ['SUCCESS'] };
    expect(await holds({ type: `${NEW}Not`, conditions: [failed] })).toBe(true);
    expect(await holds({ type: `${NEW}Not`, conditions: [failed, success] })).toBe(false);
    expect(await holds({ type: `${NEW}Or`, conditions: [failed, success] })).toBe(true);
    expect(await holds({ type: `${NEW}Or`, conditions: [failed] })).toBe(false);
    expect(await holds({ type: `${NEW}Not`, conditions: [{ type: `${NEW}Expression`, expression: '{{ nope }}' }] })).toBe(true);
    expect(await holds({ type: `${NEW}Or` })).toBe(false);
  });

  it('the deprecated Flow conditions test the triggered flow', async () => {
    expect(await holds({ type: `${OLD}FlowCondition`, namespace: 'company.other', flowId: 'downstream' })).toBe(true);
    expect(await holds({ type: `${OLD}FlowCondition`, namespace: 'company.team', flowId: 'upstream' })).toBe(false);
    expect(await holds({ type: `${OLD}FlowNamespaceCondition`, namespace: 'company', prefix: true })).toBe(true);
  });

  it('a list holds when every condition does; an unknown type, a MultipleCondition or a non-object never holds', async () => {
    expect(await evaluateConditions(undefined, context())).toBe(true);
    expect(await evaluateConditions([], context())).toBe(true);
    expect(await evaluateConditions([{ type: `${NEW}ExecutionStatus`, in: ['SUCCESS'] }, { type: `${NEW}ExecutionLabels`, labels: { env: 'prod' } }], context())).toBe(true);
    expect(await evaluateConditions([{ type: `${NEW}ExecutionStatus`, in: ['SUCCESS'] }, { type: `${NEW}ExecutionLabels`, labels: { env: 'dev' } }], context())).toBe(false);
    expect(await holds({ type: `${NEW}DayWeek`, dayOfWeek: 'MONDAY' })).toBe(false);
    expect(await holds({ type: `${OLD}MultipleCondition`, conditions: {} })).toBe(false);
    expect(await holds('ExecutionStatus')).toBe(false);
    expect(await holds(null)).toBe(false);
  });

  it('an expression that renders forever is bounded by the engine, and counts as false', async () => {
    const ctx = context({}, {});
    expect(await holds({ type: `${NEW}Expression`, expression: '{% for i in range(1, 100000000) %}x{% endfor %}' }, ctx)).toBe(false);
  });
});

describe('execution condition validation', () => {
  const check = (conditions: unknown, allowMultiple = false) => executionConditionProblems(conditions, ['triggers', 0, 'conditions'], { owner: 'a Webhook trigger', allowMultiple });

  it('accepts every supported condition, nested ones included', () => {
    expect(
      check([
        { type: `${NEW}ExecutionStatus`, in: ['SUCCESS'] },
        { type: `${OLD}ExecutionNamespaceCondition`, namespace: 'a', comparison: 'PREFIX' },
        { type: `${NEW}Not`, conditions: [{ type: `${NEW}Expression`, expression: '{{ true }}' }] },
      ]),
    ).toEqual([]);
    expect(check(undefined)).toEqual([]);
  });

  it('names an unknown type with its YAML path and the supported list', () => {
    const problems = check([{ type: `${NEW}ExecutionStatus` }, { type: `${NEW}Or`, conditions: [{ type: 'io.kestra.plugin.core.condition.Nope' }] }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.[0]).toEqual(['triggers', 0, 'conditions', 1, 'conditions', 0, 'type']);
    expect(problems[0]?.[1]).toMatch(/"io\.kestra\.plugin\.core\.condition\.Nope" is not supported on a Webhook trigger \(supported: ExecutionStatus, /);
  });

  it('refuses MultipleCondition unless allowed', () => {
    const multiple = [{ type: `${OLD}MultipleCondition`, id: 'm', conditions: {} }];
    const [problem] = check(multiple);
    expect(problem?.[0]).toEqual(['triggers', 0, 'conditions', 0, 'type']);
    expect(problem?.[1]).toMatch(/MultipleCondition is not allowed on a Webhook trigger/);
    expect(check(multiple, true)).toEqual([]);
  });

  it('names missing or malformed properties', () => {
    const problems = check([
      { type: `${NEW}ExecutionFlow`, namespace: 'a' },
      { type: `${NEW}ExecutionNamespace`, namespace: 'a', comparison: 'CONTAINS' },
      { type: `${NEW}Expression` },
      { type: `${NEW}Not`, conditions: [] },
      'text',
    ]);
    expect(problems.map(([path]) => path.slice(3).join('.'))).toEqual(['0.flowId', '1.comparison', '2.expression', '3.conditions', '4']);
    expect(check({ type: 'x' })).toEqual([[['triggers', 0, 'conditions'], 'must be a list of conditions']]);
  });
});
