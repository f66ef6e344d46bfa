import { defineConfig } from 'vitest/config';

// One config for every package and app. Workspace packages resolve to their TypeScript source through the
// `@sluice/source` export condition, so tests need no build step.
export default defineConfig({
  resolve: {
    conditions: ['@sluice/source'],
  },
  ssr: {
    resolve: {
      conditions: ['@sluice/source'],
    },
  },
  test: {
    include: ['packages/*/{src,test}/**/*.test.ts', 'apps/*/{src,test}/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
      exclude: ['**/*.test.ts', '**/testing/**', 'packages/db/src/generated/**'],
      reporter: ['text-summary', 'json-summary', 'text'],
      reportsDirectory: 'coverage',
      // packages/core is the foundation every other package trusts: keep it thoroughly tested.
      thresholds: {
        'packages/core/src/**': { lines: 90 },
      },
    },
  },
});
