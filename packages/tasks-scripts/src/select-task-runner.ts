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
 * `selectRunner`, then the runner instance from `context.runners`. Rendering happens here, in two steps: first only
 * what picks the runner (`runner`, `taskRunner.type`), then only the chosen runner's options. A block for a runner
 * that is not used (a `docker:` block with a `secret()` under `runner: PROCESS`) is never rendered.
 */
export async function selectTaskRunner(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<SelectedRunner> {
  const taskRunner = isObject(properties.taskRunner) ? properties.taskRunner : undefined;
  const picked = await context.render({ runner: properties.runner, type: taskRunner?.type });
  const selection = selectRunner(
    { ...properties, runner: picked.runner, ...(taskRunner ? { taskRunner: { ...taskRunner, type: picked.type } } : {}) },
    context.runners.definitions,
  );
  const options = await context.render(selection.options);
  return { type: selection.runner.type, runner: context.runners.get(selection.runner.type), options };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
