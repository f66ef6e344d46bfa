/**
 * The Subflow task: starts an execution of another flow and, by default, waits for its end. The scheduler starts it
 * (apps/scheduler/src/subflow.ts): it never goes to a worker, so it has no `run`. `sluice run`, which has no flows but
 * the one it runs, refuses it.
 */
import type { TaskDefinition } from '@sluice/plugin-api';

const labelValue = { type: ['string', 'number', 'boolean'] } as const;

export const subflowTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.flow.Subflow',
  aliases: ['io.kestra.core.tasks.flows.Subflow', 'io.kestra.core.tasks.flows.Flow'],
  title: 'Start an execution of another flow, and wait for its end',
  description:
    'Creates an execution of the flow `namespace`.`flowId` (its latest revision, or `revision`) with the rendered ' +
    '`inputs`, typed against that flow\'s inputs, and `labels`. With `wait` (the default) the task ends when the child ' +
    'execution does: with `transmitFailed` (the default) a FAILED, KILLED or WARNING child ends it in that state, ' +
    'otherwise SUCCESS. Outputs: `executionId`, `state` (the child\'s final state) and `outputs` (the child flow\'s ' +
    'outputs). The child\'s `trigger` names the parent (`{{ trigger.executionId }}`, `trigger.namespace`, ' +
    '`trigger.flowId`, `trigger.flowRevision`). Killing the parent kills the children it waits for; restarting it ' +
    'starts a failed one again. A flow already in the chain of waiting parents, or a chain deeper than 10 executions, ' +
    'fails the task. Started by the scheduler, never by a worker.',
  kind: 'runnable',
  properties: {
    namespace: { type: 'string', minLength: 1, description: 'The namespace of the flow to start (rendered).' },
    flowId: { type: 'string', minLength: 1, description: 'The id of the flow to start (rendered).' },
    revision: { type: ['integer', 'string'], minimum: 1, description: 'The revision to start; the latest when absent.' },
    inputs: { type: ['object', 'string'], description: 'The child\'s inputs, input id → value (rendered in the parent\'s context).' },
    labels: {
      type: ['object', 'array', 'string'],
      additionalProperties: labelValue,
      items: { type: 'object', required: ['key', 'value'], properties: { key: { type: 'string', minLength: 1 }, value: labelValue }, additionalProperties: false },
      description: 'Labels of the child execution: key → value, or a list of {key, value}. `system.` keys are refused.',
    },
    wait: { type: ['boolean', 'string'], default: true, description: 'Wait for the child execution to end.' },
    transmitFailed: { type: ['boolean', 'string'], default: true, description: 'With `wait`: a FAILED, KILLED or WARNING child ends the task in that state.' },
    inheritLabels: { type: ['boolean', 'string'], default: false, description: 'Give the child all of the parent\'s labels (it always gets the `system.` ones).' },
    scheduleDate: { type: 'string', description: 'When the child starts (ISO-8601 date-time, rendered); at once when absent or past.' },
  },
  required: ['namespace', 'flowId'],
  examples: [
    'id: load\ntype: io.kestra.plugin.core.flow.Subflow\nnamespace: company.data\nflowId: load_orders\ninputs:\n  day: "{{ trigger.date ?? execution.startDate }}"\nwait: true\ntransmitFailed: true',
  ],
};
