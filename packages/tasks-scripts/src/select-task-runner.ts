import { selectRunner } from '@sluice/plugin-api';
import type { Runner, TaskContext } from '@sluice/plugin-api';

export interface SelectedRunner {
  /** The definition's canonical type (`io.kestra.plugin.core.runner.Process`, ...). */
  readonly type: string;
  readonly runner: Runner;
  /** `taskRunner` without `type`, or the legacy block (`docker:`), or `{}`. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * The script tasks' one runner choice: `taskRunner` > legacy `runner` (with its `docker:` block) > DOCKER, through
 * `selectRunner`, then the runner instance from `context.runners`. `properties` must already be rendered.
 */
export function selectTaskRunner(properties: Readonly<Record<string, unknown>>, context: TaskContext): SelectedRunner {
  const selection = selectRunner(properties, context.runners.definitions);
  return { type: selection.runner.type, runner: context.runners.get(selection.runner.type), options: selection.options };
}
