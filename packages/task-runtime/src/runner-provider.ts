import { SluiceError } from '@sluice/core';
import type { Registry, Runner, RunnerDefinition, RunnerProvider } from '@sluice/plugin-api';

/** The worker's runners: the registry and the worker's settings for each runner type. */
export interface RuntimeRunners {
  readonly registry: Registry<RunnerDefinition>;
  /** Worker settings by canonical runner type (socket path, grace period, ...), passed to `create`. */
  readonly options?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * Runners for one job, found by `taskRunner.type`, alias, or legacy `runner:` name (`DOCKER`, `PROCESS`),
 * case-insensitively (tasks normally map their properties with `selectRunner(task, provider.definitions)` first;
 * accepting the legacy name here too costs nothing). Each runner type is created once per job (a
 * WorkingDirectory's children share it), with the worker's settings for that type.
 *
 * @throws SluiceError `SLU_PLUGIN_UNKNOWN_TYPE` for an unknown name (with suggestions);
 *   `SLU_PLUGIN_INVALID_DEFINITION` for a runner definition that cannot `create` a runner.
 */
export function createRunnerProvider(runners: RuntimeRunners): RunnerProvider {
  const created = new Map<RunnerDefinition, Runner>();
  return {
    definitions: runners.registry,
    get(type: string): Runner {
      const definition =
        runners.registry.find(type) ??
        runners.registry.list().find((candidate) => candidate.legacyName?.toUpperCase() === type.toUpperCase()) ??
        runners.registry.get(type);
      let runner = created.get(definition);
      if (!runner) {
        if (!definition.create) {
          throw new SluiceError('SLU_PLUGIN_INVALID_DEFINITION', { kind: 'runner', type: definition.type, reason: 'it has no create(): it cannot run commands' });
        }
        runner = definition.create(runners.options?.[definition.type] ?? {});
        created.set(definition, runner);
      }
      return runner;
    },
  };
}
