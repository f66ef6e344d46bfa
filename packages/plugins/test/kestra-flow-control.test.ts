/**
 * Kestra's documented example flows for the flowable and core tasks (the plugin pages and how-to guides on kestra.io),
 * written here as the docs give them, validated with every built-in plugin: each is accepted as written. The few that
 * also use a task or trigger Sluice does not have (Slack, HTTP, Webhook: later issues) are refused for that alone,
 * and the one that sets WorkingDirectory's `cache`, which Sluice does not implement, is refused for that.
 */
import { createFlowValidator } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { createDefaultRegistries } from '../src/index.js';

const validator = createFlowValidator(createDefaultRegistries(), { eager: true });
const problemsOf = (source: string) => validator.validateSource(source).flatMap((r) => r.problems);

const accepted: Record<string, string> = {
  sequential: `
id: sequential
namespace: company.team

tasks:
  - id: sequential
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: first_task
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"

      - id: second_task
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.id }}"

  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
`,
  parallel: `
id: parallel
namespace: company.team

tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: 1st
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"

      - id: 2nd
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.id }}"

  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
`,
  parallel_sequences: `
id: parallel_sequences
namespace: company.team

tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: sequence1
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: task1
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"

          - id: task2
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"

      - id: sequence2
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: task3
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"

          - id: task4
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }}"
`,
  // How-to guide "Parallel vs. Sequential", with Kestra's old type names.
  parallel_concurrent_legacy: `
id: parallel
namespace: example
tasks:
  - id: parent
    type: io.kestra.core.tasks.flows.Parallel
    concurrent: 3
    tasks:
      - id: t1
        type: io.kestra.plugin.scripts.shell.Commands
        runner: PROCESS
        commands:
          - 'echo "running {{task.id}}"'
          - 'sleep 1'
      - id: t2
        type: io.kestra.plugin.scripts.shell.Commands
        runner: PROCESS
        commands:
          - 'echo "running {{task.id}}"'
          - 'sleep 1'
      - id: t3
        type: io.kestra.plugin.scripts.shell.Commands
        runner: PROCESS
        commands:
          - 'echo "running {{task.id}}"'
          - 'sleep 1'
  - id: last
    type: io.kestra.core.tasks.debugs.Return
    format: "{{task.id}} > {{taskrun.startDate}}"
`,
  if: `
id: if
namespace: company.team

inputs:
  - id: string
    type: STRING
    required: true

tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.string == 'Condition' }}"
    then:
      - id: when_true
        type: io.kestra.plugin.core.log.Log
        message: "Condition was true"
    else:
      - id: when_false
        type: io.kestra.plugin.core.log.Log
        message: "Condition was false"
`,
  switch: `
id: switch
namespace: company.team

inputs:
  - id: string
    type: STRING
    required: true

tasks:
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.string }}"
    cases:
      FIRST:
        - id: first
          type: io.kestra.plugin.core.debug.Return
          format: "{{ task.id }} > {{ taskrun.startDate }}"
      SECOND:
        - id: second
          type: io.kestra.plugin.core.debug.Return
          format: "{{ task.id }} > {{ taskrun.startDate }}"
      THIRD:
        - id: third
          type: io.kestra.plugin.core.debug.Return
          format: "{{ task.id }} > {{ taskrun.startDate }}"
    defaults:
      - id: default
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"
`,
  // How-to guide "Conditional Branching", with Kestra's old type names, a nested Sequential with errors, flow outputs.
  switch_conditional_branching: `
id: switch
namespace: example
inputs:
  - id: string
    type: STRING
tasks:
  - id: parent-seq
    type: io.kestra.core.tasks.flows.Switch
    value: "{{inputs.string}}"
    cases:
      FIRST:
        - id: first
          type: io.kestra.core.tasks.debugs.Return
          format: "{{task.id}} > {{taskrun.startDate}}"
      SECOND:
        - id: second1
          type: io.kestra.core.tasks.debugs.Return
          format: "{{task.id}} > {{taskrun.startDate}}"
        - id: second2
          type: io.kestra.core.tasks.debugs.Return
          format: "{{task.id}} > {{taskrun.startDate}}"
      THIRD:
        - id: third1
          type: io.kestra.core.tasks.flows.Sequential
          tasks:
            - id: failed
              type: io.kestra.plugin.scripts.shell.Commands
              runner: PROCESS
              commands:
                - 'exit 1'
          errors:
            - id: error1
              type: io.kestra.core.tasks.debugs.Return
              format: "Error Trigger ! {{task.id}}"
    defaults:
      - id: default
        type: io.kestra.core.tasks.debugs.Return
        format: "{{task.id}} > {{taskrun.startDate}}"
outputs:
  - id: extracted
    type: STRING
    value: "{{ outputs.first ?? outputs.second1 ?? outputs.third1 ?? outputs.default }}"
`,
  for_loop_example: `
id: for_loop_example
namespace: company.team

tasks:
  - id: for_each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["value 1", "value 2", "value 3"]
    tasks:
      - id: before_if
        type: io.kestra.plugin.core.debug.Return
        format: 'Before if {{ taskrun.value }}'
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: '{{ taskrun.value == "value 2" }}'
        then:
          - id: after_if
            type: io.kestra.plugin.core.debug.Return
            format: 'After if {{ parent.taskrun.value }}'
`,
  for_each_value: `
id: for_each_value
namespace: company.team

tasks:
  - id: for_each
    type: io.kestra.plugin.core.flow.ForEach
    values: 
      - value 1
      - value 2
      - value 3
      - value 4
    concurrencyLimit: 2
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} with value '{{ taskrun.value }}'"
`,
  parallel_tasks_example: `
id: parallel_tasks_example
namespace: company.team

tasks:
  - id: for_each
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    concurrencyLimit: 2
    tasks:
      - id: parallel
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
        - id: log
          type: io.kestra.plugin.core.log.Log
          message: Processing {{ parent.taskrun.value }}
        - id: shell
          type: io.kestra.plugin.scripts.shell.Commands
          commands:
            - sleep {{ parent.taskrun.value }}
`,
  each_sequential_loop_example: `
id: loop_example
namespace: dev

tasks:
  - id: each_sequential
    type: io.kestra.plugin.core.flow.EachSequential
    value: ["value 1", "value 2", "value 3"]
    tasks:
      - id: before_if
        type: io.kestra.plugin.core.debug.Return
        format: 'Before if {{ taskrun.value }}'
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: '{{ taskrun.value == "value 2" }}'
        then:
          - id: after_if
            type: io.kestra.plugin.core.debug.Return
            format: 'After if {{ parent.taskrun.value }}'
`,
  each_sequential_bullets: `
id: each_sequential
namespace: dev

tasks:
  - id: each-sequential
    type: io.kestra.plugin.core.flow.EachSequential
    value: 
      - value 1
      - value 2
      - value 3
    tasks:
      - id: each-value
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} with value '{{ taskrun.value }}'"
`,
  each_parallel: `
id: each_parallel
namespace: company.team

tasks:
  - id: each_parallel
    type: io.kestra.plugin.core.flow.EachParallel
    value: '["value 1", "value 2", "value 3"]'
    tasks:
      - id: each_value
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} with current value '{{ taskrun.value }}'"
`,
  each_parallel_script: `
id: parallel_script
namespace: company.team

tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachParallel
    value: "{{ range(1, 9) }}"
    tasks:
      - id: script
        type: io.kestra.plugin.scripts.shell.Script
        outputFiles:
          - "out/*.txt"
        script: |
          mkdir out
          echo "{{ taskrun.value }}" > out/file_{{ taskrun.value }}.txt

  - id: process_all_files
    type: io.kestra.plugin.scripts.shell.Script
    inputFiles: "{{ outputs.script | jq('map(.outputFiles) | add') | first }}"
    script: |
      ls -h out/
`,
  each_parallel_task_groups: `
id: parallel_task_groups
namespace: company.team

tasks:
  - id: for_each
    type: io.kestra.plugin.core.flow.EachParallel
    value: ["value 1", "value 2", "value 3"]
    tasks:
      - id: group
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: task1
            type: io.kestra.plugin.scripts.shell.Commands
            commands:
              - echo "{{task.id}} > {{ parents[0].taskrun.value }}"
              - sleep 1

          - id: task2
            type: io.kestra.plugin.scripts.shell.Commands
            commands:
              - echo "{{task.id}} > {{ parents[0].taskrun.value }}"
              - sleep 1
`,
  allow_failure: `
id: allow-failure
namespace: io.kestra.tests

tasks:
  - id: sequential
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
     - id: ko
       type: io.kestra.plugin.scripts.shell.Commands
       commands:
        - 'exit 1'
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
`,
  dag: `
id: dag_flow
namespace: company.team
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: task1
          type: io.kestra.plugin.core.log.Log
          message: task 1
      - task:
          id: task2
          type: io.kestra.plugin.core.log.Log
          message: task 2
        dependsOn:
          - task1
      - task:
          id: task3
          type: io.kestra.plugin.core.log.Log
          message: task 3
        dependsOn:
          - task1
      - task:
          id: task4
          type: io.kestra.plugin.core.log.Log
          message: task 4
        dependsOn:
          - task2
      - task:
          id: task5
          type: io.kestra.plugin.core.log.Log
          message: task 5
        dependsOn:
          - task4
          - task3
`,
  pause_human_in_the_loop: `
id: human_in_the_loop
namespace: company.team

tasks:
  - id: before_approval
    type: io.kestra.plugin.core.debug.Return
    format: Output data that needs to be validated by a human

  - id: pause
    type: io.kestra.plugin.core.flow.Pause

  - id: run_post_approval
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    commands:
      - echo "Manual approval received! Continuing the execution..."

  - id: post_resume
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} started on {{ taskrun.startDate }} after the Pause"
`,
  // Kestra's older page for the legacy name, with the deprecated tasks property.
  pause_legacy_tasks: `
id: human_in_the_loop
namespace: dev
tasks:
  - id: before_approval
    type: io.kestra.core.tasks.debugs.Return
    format: Output data that needs to be validated by a human
  - id: pause
    type: io.kestra.core.tasks.flows.Pause
    tasks:
      - id: run_post_approval
        type: io.kestra.plugin.scripts.shell.Commands
        runner: PROCESS
        commands:
          - echo "Manual approval received! Continuing the execution..."
      - id: post_resume
        type: io.kestra.core.tasks.debugs.Return
        format: "{{ task.id }} started on {{ taskrun.startDate }} after the Pause"
`,
  pause_resume: `
id: pause_resume
namespace: company.team

tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause

  - id: after_pause
    type: io.kestra.plugin.core.log.Log
    message: Execution has been resumed!
`,
  wait_for: `
id: wait_for
namespace: company.team

tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.return.value == '4' }}"
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.loop.iterationCount }}"
`,
  sleep: `
id: sleep
namespace: company.team
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: "PT5S"
`,
  fail_on_condition: `
id: fail_on_condition
namespace: company.team

inputs:
  - id: param
    type: SELECT
    values:
      - SUCCEED
      - FAIL

tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: I'm before the fail on condition

  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    condition: '{{ inputs.param == "fail" }}'

  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: I'm after the fail on condition
`,
  return: `
id: debug_value
namespace: company.team
tasks:
  - id: return
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
`,
  echo: `
id: echo_flow
namespace: company.team
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    level: WARN
    format: "{{ task.id }} > {{ taskrun.startDate }}"
`,
  output_values: `
id: outputs_flow
namespace: company.team

tasks:
  - id: output_values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      taskrun_data: "{{ task.id }} > {{ taskrun.startDate }}"
      execution_data: "{{ flow.id }} > {{ execution.startDate }}"
      number_value: 42
      array_value: ["{{ task.id }}", "{{ flow.id }}", "static value"]
      nested_object:
        key1: "value1"
        key2: "{{ execution.id }}"

  - id: log_values
    type: io.kestra.plugin.core.log.Log
    message: |
      Got the following outputs from the previous task:
      {{ outputs.output_values.values.taskrun_data }}
      {{ outputs.output_values.values.execution_data }}
      {{ outputs.output_values.values.number_value }}
      {{ outputs.output_values.values.array_value[1] }}
      {{ outputs.output_values.values.nested_object.key2 }}
`,
};

describe("Kestra's documented examples", () => {
  it.each(Object.entries(accepted))('%s is accepted as written', (_name, source) => {
    expect(problemsOf(source)).toEqual([]);
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

  it('webhook_based_labels: both forms of Labels are accepted; only the Webhook trigger is unknown', () => {
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
    expect(problemsOf(source).map((p) => [p.code, p.path])).toEqual([['SLU_PLUGIN_UNKNOWN_TYPE', 'triggers[0].type']]);
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
