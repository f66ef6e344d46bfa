import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Kestra's documented example flows (its plugin pages, docs pages and how-to guides), one flow a file in
 * `fixtures/kestra-examples/<name>.yml`, as the docs write them. A comment at the top of a file says where it comes
 * from and, where it had to change to run offline or in a test, what changed and why. Validated by
 * packages/plugins/test/kestra-flow-control.test.ts (every file), run by apps/cli/test/flow-control-examples.test.ts.
 */
export const kestraExamplesDir = fileURLToPath(new URL('../fixtures/kestra-examples/', import.meta.url));

/** The YAML of the example `fixtures/kestra-examples/<name>.yml`; throws when there is none. */
export function kestraExample(name: string): string {
  return readFileSync(`${kestraExamplesDir}${name}.yml`, 'utf8');
}

/** Every example, by name (the file name without `.yml`), sorted. */
export function kestraExamples(): { name: string; yaml: string }[] {
  return readdirSync(kestraExamplesDir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.yml'.length);
      return { name, yaml: kestraExample(name) };
    });
}
