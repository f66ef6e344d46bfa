import { describe, expect, it } from 'vitest';
import type { RunnerDefinition } from './contracts.js';
import { Registry } from './registry.js';
import { selectRunner } from './select-runner.js';

const docker: RunnerDefinition = {
  type: 'io.kestra.plugin.scripts.runner.docker.Docker',
  legacyName: 'DOCKER',
  title: 'Docker',
  properties: {},
  legacyOptions: { property: 'docker', schema: { type: 'object' } },
};
const processRunner: RunnerDefinition = { type: 'io.kestra.plugin.core.runner.Process', legacyName: 'PROCESS', title: 'Process', properties: {} };
const runners = new Registry<RunnerDefinition>('runner').registerAll([docker, processRunner]);

describe('selectRunner', () => {
  it('defaults to DOCKER with no options', () => {
    expect(selectRunner({}, runners)).toEqual({ runner: docker, options: {} });
  });

  it('maps the legacy runner enum and its options block', () => {
    expect(selectRunner({ runner: 'PROCESS' }, runners).runner).toBe(processRunner);
    const selected = selectRunner({ runner: 'DOCKER', docker: { image: 'python:3.12', pullPolicy: 'NEVER' } }, runners);
    expect(selected).toEqual({ runner: docker, options: { image: 'python:3.12', pullPolicy: 'NEVER' } });
  });

  it('prefers taskRunner over runner and strips its type from the options', () => {
    const selected = selectRunner(
      { runner: 'DOCKER', docker: { image: 'x' }, taskRunner: { type: 'io.kestra.plugin.core.runner.process', cwd: 1 } },
      runners,
    );
    expect(selected).toEqual({ runner: processRunner, options: { cwd: 1 } });
  });

  it('honours another default and fails clearly on an unknown name', () => {
    expect(selectRunner({}, runners, 'PROCESS').runner).toBe(processRunner);
    expect(() => selectRunner({ runner: 'KUBERNETES' }, runners)).toThrowError('unknown runner type "KUBERNETES"; known: DOCKER, PROCESS');
    expect(() => selectRunner({ taskRunner: { type: 'io.kestra.plugin.ee.kubernetes.runner.Kubernetes' } }, runners)).toThrowError(/unknown runner type/);
  });
});
