/**
 * The API tests' fixture: `startApi` from `@sluice/api/testing` (a real API over a fresh Postgres database), and
 * flow helpers.
 */
export { startApi } from '../src/testing/index.js';
export type { ApiFixture, ApiFixtureOptions } from '../src/testing/index.js';

/** A valid one-task flow. */
export function flowYaml(namespace: string, id: string, message = 'hello'): string {
  return `id: ${id}\nnamespace: ${namespace}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;
}

export const YAML = { 'content-type': 'application/x-yaml' };
