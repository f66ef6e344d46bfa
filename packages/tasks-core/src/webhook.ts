import { executionConditionProblems } from '@sluice/core';
import type { PluginIssue } from '@sluice/core';
import type { TriggerDefinition } from '@sluice/plugin-api';

/** The longest `key` Kestra accepts. */
export const WEBHOOK_KEY_MAX = 256;

/**
 * The Webhook trigger: `GET|POST|PUT /api/v1/executions/webhook/{namespace}/{flowId}/{key}` starts the flow
 * (apps/api/src/routes/webhook.ts). The key is the credential, so it is checked here rather than when the route
 * runs: a key the API can never match would be a trigger that silently does nothing.
 *
 * `secret()` in the key is refused: secrets live on the workers (DESIGN.md §3), the API holds none to render it.
 */
export const webhookTrigger: TriggerDefinition = {
  type: 'io.kestra.plugin.core.trigger.Webhook',
  aliases: ['io.kestra.core.models.triggers.types.Webhook'],
  title: 'Start the flow from an HTTP request',
  description:
    'Each GET, POST or PUT on /api/v1/executions/webhook/{namespace}/{flowId}/{key} starts one execution, with the request as trigger.body, trigger.headers and trigger.parameters. The route needs no API token: the key is the credential.',
  properties: {
    key: { type: 'string', minLength: 1, maxLength: WEBHOOK_KEY_MAX, description: 'The secret part of the URL (at most 256 characters): use a long random string.' },
    labels: { type: ['object', 'array'] },
    conditions: {
      type: 'array',
      items: { type: 'object' },
      description: 'An execution starts only when every condition holds for it (trigger.body... available): ExecutionStatus, ExecutionFlow, ExecutionNamespace, ExecutionLabels, Expression, Not, Or.',
    },
  },
  required: ['key'],
  check(value): PluginIssue[] {
    const issues: PluginIssue[] = [];
    const invalid = (path: (string | number)[], reason: string): void => {
      issues.push({ path, code: 'SLU_FLOW_INVALID_VALUE', params: { reason } });
    };
    if (typeof value.key === 'string') {
      if (value.key.trim() === '') invalid(['key'], 'must not be blank: it is the credential of the webhook URL');
      else if (/secret\s*\(/.test(value.key)) {
        invalid(['key'], 'secret() is not available here: the API renders the key and holds no secrets (workers do); write the key itself');
      }
    }
    for (const [path, reason] of executionConditionProblems(value.conditions, ['conditions'], { owner: 'a Webhook trigger' })) invalid(path, reason);
    return issues;
  },
};
