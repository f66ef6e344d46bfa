#!/usr/bin/env node
// Launcher for the `sluice` command. In a source checkout (src/ present and tsx installed) it runs the TypeScript
// source directly, resolving workspace packages through their `@sluice/source` export condition, so no build is
// needed; an installed package without src/ runs the compiled dist/.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const source = new URL('../src/main.ts', import.meta.url);
let entry = new URL('../dist/main.js', import.meta.url);
if (existsSync(source)) {
  try {
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
    register('./source-condition.mjs', import.meta.url);
    entry = source;
  } catch {
    // tsx is a dev dependency: without it, fall back to the build output.
  }
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
