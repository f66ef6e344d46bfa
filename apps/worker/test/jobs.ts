/** Task jobs as the scheduler sends them, for the worker tests. */
import type { TaskSpec } from '@sluice/core';
import type { TaskJob } from '@sluice/queue';

let counter = 0;

/** A job for `task` (execution `exec-<n>` unless `overrides` names one), with the variables a task may render. */
export function job(task: TaskSpec, overrides: Partial<TaskJob> = {}): TaskJob {
  counter += 1;
  const executionId = overrides.executionId ?? `exec-${counter}`;
  return {
    executionId,
    namespace: 'company.team',
    flowId: 'hello',
    flowRevision: 1,
    taskRunId: `${executionId}-${task.id}`,
    taskId: task.id,
    attempt: 1,
    task,
    workerGroup: 'default',
    variables: {
      flow: { id: 'hello', namespace: 'company.team', revision: 1 },
      execution: { id: executionId },
      inputs: { name: 'Ada' },
      outputs: {},
      vars: {},
      labels: {},
    },
    queuedAt: new Date().toISOString(),
    ...overrides,
  };
}
