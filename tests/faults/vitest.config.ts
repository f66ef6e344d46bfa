import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The fault suite (issue #15): real Postgres, Redis and app processes, one fault case after another. Apart from the
// main run (vitest.config.ts at the root does not include tests/), so it never competes with the other tests.
// Run from the repository root: npx vitest run --config tests/faults/vitest.config.ts
export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  resolve: {
    conditions: ['@sluice/source'],
  },
  ssr: {
    resolve: {
      conditions: ['@sluice/source'],
    },
  },
  test: {
    include: ['tests/faults/**/*.fault.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 420_000,
    hookTimeout: 60_000,
  },
});
