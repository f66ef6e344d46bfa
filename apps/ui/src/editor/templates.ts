/**
 * Starting points for a new flow. `{{ns}}` and `{{id}}` stand for the namespace and the id the page fills in
 * (kept apart from Pebble expressions, which use `{{ ... }}` with spaces).
 */
export interface FlowTemplate {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** The flow id the template suggests. */
  readonly flowId: string;
  readonly yaml: string;
}

export const DEFAULT_NAMESPACE = 'company.team';

export const TEMPLATES: readonly FlowTemplate[] = [
  {
    id: 'hello',
    title: 'Hello world',
    description: 'One task that logs a message.',
    flowId: 'hello-world',
    yaml: `id: {{id}}
namespace: {{ns}}
description: A first flow that logs a message.

tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello from {{ flow.namespace }}.{{ flow.id }}!
`,
  },
  {
    id: 'shell',
    title: 'Shell commands',
    description: 'Run shell commands as local processes on the worker.',
    flowId: 'shell-commands',
    yaml: `id: {{id}}
namespace: {{ns}}
description: Run shell commands in a working directory of the worker.

tasks:
  - id: commands
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "Running on $(hostname)"
      - date -u
      - ls -la

  - id: done
    type: io.kestra.plugin.core.log.Log
    message: The commands ended.
`,
  },
  {
    id: 'inputs-outputs',
    title: 'Inputs and outputs',
    description: 'A STRING and a FILE input, a script that writes a file, and that file as the flow output.',
    flowId: 'inputs-outputs',
    yaml: `id: {{id}}
namespace: {{ns}}
description: Read a text and a file given at execution time, write a report file, and return it.

inputs:
  - id: title
    type: STRING
    defaults: My report
    description: The report's first line

  - id: data
    type: FILE
    description: A text file to copy into the report

tasks:
  - id: report
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      data.txt: "{{ inputs.data }}"
    outputFiles:
      - report.txt
    commands:
      - echo "{{ inputs.title }}" > report.txt
      - cat data.txt >> report.txt
      - wc -l report.txt

outputs:
  - id: report
    type: FILE
    value: "{{ outputs.report.outputFiles['report.txt'] }}"
`,
  },
  {
    id: 'schedule',
    title: 'Schedule',
    description: 'Run the flow every day at 9:00 with a cron Schedule trigger.',
    flowId: 'daily-report',
    yaml: `id: {{id}}
namespace: {{ns}}
description: Runs every morning.

tasks:
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "Scheduled run for {{ execution.startDate }}"

triggers:
  - id: every-morning
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: UTC
`,
  },
  {
    id: 'parallel',
    title: 'Parallel / flow control',
    description: 'Parallel branches, a loop over values, a condition, and error handling.',
    flowId: 'flow-control',
    yaml: `id: {{id}}
namespace: {{ns}}
description: Parallel branches, a loop, a branch on an input, and a task that runs on failure.

inputs:
  - id: environment
    type: SELECT
    values:
      - dev
      - prod
    defaults: dev

tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: first
        type: io.kestra.plugin.core.log.Log
        message: First branch
      - id: second
        type: io.kestra.plugin.core.log.Log
        message: Second branch

  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: 2
    tasks:
      - id: item
        type: io.kestra.plugin.core.log.Log
        message: "Item {{ taskrun.value }}"

  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.environment == 'prod' }}"
    then:
      - id: production
        type: io.kestra.plugin.core.log.Log
        message: Running in production
    else:
      - id: development
        type: io.kestra.plugin.core.log.Log
        message: Running in {{ inputs.environment }}

errors:
  - id: on-failure
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: "Execution {{ execution.id }} failed"
`,
  },
];

/** The template's YAML with the namespace and id filled in. */
export function fillTemplate(template: FlowTemplate, namespace: string, id: string): string {
  return template.yaml.replaceAll('{{ns}}', namespace).replaceAll('{{id}}', id);
}
