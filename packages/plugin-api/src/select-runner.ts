import { SluiceError } from '@sluice/core';
import type { RunnerDefinition } from './contracts.js';
import type { Registry } from './registry.js';

export interface RunnerSelection {
  readonly runner: RunnerDefinition;
  /** The runner's options: `taskRunner` without its `type`, or the legacy block (`docker:`), or `{}`. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * The ONE place that maps a script task's properties to a runner, as Kestra's `CommandsWrapper.getTaskRunner()`:
 * `taskRunner.type` wins, then the deprecated `runner: DOCKER|PROCESS` (with its legacy `docker:` options block),
 * then the default (`DOCKER`, as in Kestra).
 */
export function selectRunner(
  task: Readonly<Record<string, unknown>>,
  runners: Registry<RunnerDefinition>,
  defaultLegacyName = 'DOCKER',
): RunnerSelection {
  const taskRunner = task.taskRunner;
  if (typeof taskRunner === 'object' && taskRunner !== null && typeof (taskRunner as { type?: unknown }).type === 'string') {
    const { type, ...options } = taskRunner as { type: string } & Record<string, unknown>;
    return { runner: runners.get(type), options };
  }
  const legacyName = typeof task.runner === 'string' ? task.runner : defaultLegacyName;
  const runner = runners.list().find((r) => r.legacyName?.toUpperCase() === legacyName.toUpperCase());
  if (!runner) {
    const known = runners.list().flatMap((r) => (r.legacyName ? [r.legacyName] : []));
    throw new SluiceError('SLU_PLUGIN_UNKNOWN_TYPE', { kind: 'runner', type: legacyName, suggestion: known.length ? `; known: ${known.join(', ')}` : '' });
  }
  const block = runner.legacyOptions ? task[runner.legacyOptions.property] : undefined;
  const options = typeof block === 'object' && block !== null ? (block as Record<string, unknown>) : {};
  return { runner, options };
}
