/**
 * Kestra's documented example flows for the flowable and core tasks (the plugin pages and how-to guides on kestra.io),
 * as the docs give them, validated with every built-in plugin: each file of packages/testing/fixtures/kestra-examples
 * is accepted as written. The few written here that also use a task or trigger Sluice does not have (Slack, HTTP,
 * Webhook: later issues) are refused for that alone, and the one that sets WorkingDirectory's `cache`, which Sluice
 * does not implement, is refused for that.
 */
import { createFlowValidator } from '@sluice/core';
import { kestraExamples } from '@sluice/testing';
import { describe, expect, it } from 'vitest';
import { createDefaultRegistries } from '../src/index.js';

const validator = createFlowValidator(createDefaultRegistries(), { eager: true });
const problemsOf = (source: string) => validator.validateSource(source).flatMap((r) => r.problems);

describe("Kestra's documented examples", () => {
  it.each(kestraExamples().map(({ name, yaml }) => [name, yaml]))('%s is accepted as written', (_name, yaml) => {
    expect(problemsOf(yaml)).toEqual([]);
  });

  it('vacation_approval_process: the Pause with onResume inputs is accepted; only the Slack and HTTP tasks are unknown', () => {
    const source = `
id: vacation_approval_process
namespace: company.team

inputs:
  - id: request.name
    type: STRING
    defaults: Rick Astley

  - id: request.start_date
    type: DATE
    defaults: 2042-07-01

  - id: request.end_date
    type: DATE
    defaults: 2042-07-07

  - id: slack_webhook_uri
    type: URI
    defaults: https://reqres.in/api/slack

tasks:
  - id: send_approval_request
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{{ inputs.slack_webhook_uri }}"
    payload: |
      {
        "channel": "#vacation",
        "text": "Validate holiday request for {{ inputs.request.name }}. To approve the request, click on the \`Resume\` button here http://localhost:28080/ui/executions/{{flow.namespace}}/{{flow.id}}/{{execution.id}}"
      }

  - id: wait_for_approval
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        description: Whether to approve the request
        type: BOOLEAN
        defaults: true
      - id: reason
        description: Reason for approval or rejection
        type: STRING
        defaults: Well-deserved vacation

  - id: approve
    type: io.kestra.plugin.core.http.Request
    uri: https://reqres.in/api/products
    method: POST
    contentType: application/json
    body: "{{ inputs.request }}"

  - id: log
    type: io.kestra.plugin.core.log.Log
    message: Status is {{ outputs.wait_for_approval.onResume.reason }}. Process finished with {{ outputs.approve.body }}
`;
    expect(problemsOf(source).map((p) => [p.code, p.path])).toEqual([
      ['SLU_FLOW_UNKNOWN_TASK_TYPE', 'tasks[0].type'],
      ['SLU_FLOW_UNKNOWN_TASK_TYPE', 'tasks[2].type'],
    ]);
  });

  it('webhook_based_labels: both forms of Labels, the Webhook trigger and its Expression condition are accepted', () => {
    const source = `
id: webhook_based_labels
namespace: company.team
tasks:
  - id: update_labels_with_map
    type: io.kestra.plugin.core.execution.Labels
    labels:
      customerId: "{{ trigger.body.customerId }}"
  - id: by_list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: order_id
        value: "{{ trigger.body.orderId }}"
      - key: order_type
        value: "{{ trigger.body.orderType }}"
triggers:
  - id: webhook
    key: order_webhook
    type: io.kestra.plugin.core.trigger.Webhook
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.body.customerId is defined and trigger.body.orderId is defined and trigger.body.orderType is defined }}"
`;
    expect(problemsOf(source).map((p) => [p.code, p.path])).toEqual([]);
  });

  it('python_cached_dependencies: WorkingDirectory.cache is refused, with a clear error, not silently ignored', () => {
    const source = `
id: python_cached_dependencies
namespace: company.team

tasks:
  - id: working_dir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    cache:
      patterns:
        - venv/**
      ttl: PT24H
    tasks:
      - id: python_script
        type: io.kestra.plugin.scripts.python.Script
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        beforeCommands:
          - python -m venv venv
          - . venv/bin/activate
          - pip install pandas
        script: |
          import pandas as pd
          print(pd.__version__)
`;
    expect(problemsOf(source).map((p) => [p.code, p.path, p.line, p.message])).toEqual([
      [
        'SLU_FLOW_UNSUPPORTED_PROPERTY',
        'tasks[0].cache',
        8,
        'WorkingDirectory.cache is not supported by Sluice yet: every run starts from an empty directory, nothing is cached between executions; remove cache',
      ],
    ]);
  });
});
