/**
 * The Flow trigger: starts the flow when another flow's execution ends in one of `states` and its `conditions` hold
 * (apps/scheduler/src/flow-triggers.ts evaluates it, exactly once per execution end). Checked here: the states (only
 * ends: Sluice evaluates an execution when it ends), the conditions (each type known, its properties well formed).
 */
import { executionConditionProblems, isMultipleCondition } from '@sluice/core';
import type { PluginIssue } from '@sluice/core';
import type { TriggerDefinition } from '@sluice/plugin-api';

/** The states an ended execution can be in: the Flow trigger's default `states`, as in Kestra. */
export const FLOW_TRIGGER_END_STATES = ['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED'] as const;

export const flowTrigger: TriggerDefinition = {
  type: 'io.kestra.plugin.core.trigger.Flow',
  aliases: ['io.kestra.core.models.triggers.types.Flow'],
  title: "Start the flow when another flow's execution ends",
  description:
    "When an execution of another flow ends in one of `states` (default: every end) and every condition holds for it, " +
    'starts this flow, with `inputs` rendered from the upstream execution (`trigger.outputs` is its flow outputs there) ' +
    'and `labels`. The new execution reads `{{ trigger.executionId }}`, `trigger.namespace`, `trigger.flowId`, ' +
    '`trigger.flowRevision` and `trigger.state`. Each end starts it once, whatever the number of schedulers.',
  properties: {
    states: { type: 'array', items: { enum: [...FLOW_TRIGGER_END_STATES] }, description: 'The end states that trigger the flow (default: all of them).' },
    conditions: {
      type: 'array',
      items: { type: 'object' },
      description: 'Conditions on the upstream execution, all of which must hold: ExecutionStatus, ExecutionFlow, ExecutionNamespace, ExecutionLabels, Expression, ExecutionOutputs, Not, Or.',
    },
    inputs: { type: 'object', description: "The new execution's inputs, input id → value, rendered with the upstream execution's variables." },
    labels: { type: ['object', 'array'], description: 'Labels of the new execution (rendered): key → value, or a list of {key, value}.' },
    preconditions: { type: 'object', description: 'Not built yet: refused with a clear error rather than ignored.' },
  },
  check(value): PluginIssue[] {
    const issues: PluginIssue[] = [];
    const conditions = Array.isArray(value.conditions) ? value.conditions : [];
    conditions.forEach((condition, i) => {
      if (isMultipleCondition(condition)) {
        issues.push({
          path: ['conditions', i, 'type'],
          code: 'SLU_FLOW_UNSUPPORTED_PROPERTY',
          params: { property: 'MultipleCondition', reason: 'windows over several upstream executions are not built yet: use one Flow trigger per upstream flow' },
        });
      }
    });
    if (value.preconditions !== undefined) {
      issues.push({
        path: ['preconditions'],
        code: 'SLU_FLOW_UNSUPPORTED_PROPERTY',
        params: { property: 'preconditions', reason: 'windows over several upstream executions are not built yet: use one Flow trigger per upstream flow' },
      });
    }
    if (issues.length > 0) return issues;
    for (const [path, reason] of executionConditionProblems(value.conditions, ['conditions'], { owner: 'a Flow trigger' })) {
      issues.push({ path, code: 'SLU_FLOW_INVALID_VALUE', params: { reason } });
    }
    return issues;
  },
};
