/**
 * Compiled flow schemas kept on disk between CLI runs (issue #14: start-up). Compiling the flow and plugin schemas with
 * ajv is a third of what `sluice flow validate` of one file costs; the compiled code, once written here, loads in a
 * few milliseconds. Files are named by a hash of the schema and the compile options, so a changed plugin schema simply
 * misses; a file that cannot be read or written is ignored (the schema is compiled, as without a cache).
 *
 * The folder is the checkout's (or the installation's) `node_modules/.cache/sluice/flow-schemas`: owned by whoever
 * installed Sluice and emptied by every `npm ci`. Never a shared temporary folder, since the files are code that
 * the CLI runs.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledSchemaCache } from '@sluice/core';

/** Where the CLI keeps them: `node_modules/.cache` beside the workspace's (or the installed app's) dependencies. */
export const SCHEMA_CACHE_DIR = fileURLToPath(new URL('../../../node_modules/.cache/sluice/flow-schemas/', import.meta.url));

/** A {@link CompiledSchemaCache} on files in `dir` (created on first store, mode 0700). */
export function fileSchemaCache(dir: string = SCHEMA_CACHE_DIR): CompiledSchemaCache {
  const load = createRequire(join(dir, 'index.cjs'));
  const file = (key: string): string => join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 40)}.cjs`);
  return {
    load(key) {
      try {
        return load(file(key)) as unknown;
      } catch {
        return undefined; // not compiled yet, or unreadable: compile it
      }
    },
    store(key, code) {
      const target = file(key);
      const temporary = `${target}.${process.pid}.tmp`;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(temporary, code, { mode: 0o600 });
        renameSync(temporary, target); // atomic: a concurrent run reads the old file or the new one, never half
      } catch {
        // read-only installation (the Docker image's /app): every run compiles, as without a cache
      }
    },
  };
}
