// One flat config for the whole monorepo. It enforces the package boundaries of DESIGN.md §2:
// - no import cycles, no deep imports into another package's src/ or dist/;
// - core and engine import no I/O library; tasks never import runners and runners never import tasks;
// - only apps read process.env (packages take options objects);
// - promises are awaited or explicitly voided.
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const deepImports = {
  group: ['@sluice/*/src', '@sluice/*/src/**', '@sluice/*/dist', '@sluice/*/dist/**', '**/packages/*/src/**', '**/apps/*/src/**'],
  message: 'Import another package by its name (@sluice/x), never its src/ or dist/ (DESIGN.md §2).',
};
const ioLibraries = [
  'node:fs', 'node:fs/promises', 'fs', 'fs/promises', 'node:net', 'net', 'node:http', 'http', 'node:https', 'https',
  'node:child_process', 'child_process', 'node:dgram', 'node:dns', 'node:os', 'os',
  'dockerode', 'execa', 'ioredis', 'bullmq', 'isomorphic-git', '@prisma/client', 'pg', 'fastify',
];

const restrict = (extraPaths = [], extraPatterns = []) => [
  'error',
  {
    paths: extraPaths,
    patterns: [deepImports, ...extraPatterns],
  },
];

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'coverage/**', '.turbo/**', '**/.sluice/**', 'examples/**', 'packages/db/src/generated/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.mts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json', conditionNames: ['@sluice/source', 'types', 'import', 'default'] })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'no-restricted-imports': restrict(),
    },
  },
  {
    // Packages never import apps: apps are composition roots at the top of the graph.
    files: ['packages/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([], [
        { group: ['@sluice/cli', '@sluice/api', '@sluice/scheduler', '@sluice/worker'], message: 'Packages never import apps (DESIGN.md §2).' },
      ]),
    },
  },
  {
    // Packages never read the environment: apps do, once, and pass options down.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/testing/**', '**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only apps read process.env (DESIGN.md §2): take an option instead.' }],
    },
  },
  {
    files: ['packages/core/src/**/*.ts', 'packages/engine/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': restrict(
        ioLibraries.map((name) => ({ name, message: 'core and engine are pure: no I/O library (DESIGN.md §2).' })),
        [{ group: ['@sluice/*', '!@sluice/core'], message: 'core is the bottom of the graph; engine sits right above it (DESIGN.md §2).' }],
      ),
    },
  },
  {
    files: ['packages/tasks-*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([], [
        { group: ['@sluice/runner-*'], message: 'A task never imports a runner: ask the runner registry (DESIGN.md §2).' },
        { group: ['@sluice/*', '!@sluice/core', '!@sluice/plugin-api', '!@sluice/runner-*', '!@sluice/storage', '!@sluice/tasks-core'], message: 'Tasks depend only on core, plugin-api, storage and the shared helpers of tasks-core.' },
      ]),
    },
  },
  {
    // tasks-core holds helpers other task packages share (file staging): it must not depend on them in turn.
    files: ['packages/tasks-core/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([], [
        { group: ['@sluice/*', '!@sluice/core', '!@sluice/plugin-api', '!@sluice/storage'], message: 'tasks-core depends only on core, plugin-api and storage.' },
      ]),
    },
  },
  {
    files: ['packages/task-runtime/src/**/*.ts', 'packages/storage/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([], [
        { group: ['@sluice/*', '!@sluice/core', '!@sluice/plugin-api', '!@sluice/storage'], message: 'The task runtime and storage know plugins only through their contracts.' },
      ]),
    },
  },
  {
    files: ['packages/runner-*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([], [
        { group: ['@sluice/tasks-*'], message: 'Runners never import tasks (DESIGN.md §2).' },
        { group: ['@sluice/*', '!@sluice/core', '!@sluice/plugin-api', '!@sluice/tasks-*'], message: 'Runners depend only on core and plugin-api.' },
      ]),
    },
  },
  {
    files: ['packages/plugin-api/src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([], [
        { group: ['@sluice/*', '!@sluice/core'], message: 'The plugin API depends only on core; it never imports its implementations.' },
      ]),
    },
  },
  {
    // The web UI (apps/ui/src): browser code with its own tsconfig (DOM, JSX, bundler resolution), checked by the same
    // promise rules; it imports no @sluice package (it talks to the API over HTTP only).
    files: ['apps/ui/src/**/*.ts', 'apps/ui/src/**/*.tsx', 'apps/ui/vite.config.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './apps/ui/tsconfig.json', tsconfigRootDir: import.meta.dirname },
      globals: globals.browser,
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './apps/ui/tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'no-restricted-imports': restrict([], [{ group: ['@sluice/*'], message: 'The UI talks to the API over HTTP: it imports no @sluice package.' }]),
    },
  },
  {
    files: ['**/*.test.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    // CommonJS scripts run by plain node (the PROCESS runner's spawner.cjs).
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, sourceType: 'commonjs', globals: globals.node },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
);
