#!/usr/bin/env node
// Run by npm after `npm ci` or `npm install` at the top of the checkout (the root package's own `postinstall`: npm 11
// runs a root package's lifecycle scripts; only dependencies' scripts need `allowScripts`). It leaves a checkout in
// which every `sluice` command works at once:
//   1. it generates the Prisma client (packages/db/src/generated/prisma), which the database code imports;
//   2. it builds every package's dist/ (Turborepo, cached), so that `sluice` runs compiled JavaScript and starts fast
//      (apps/cli/bin/sluice.mjs runs dist/ while it is newer than the sources, else the sources through tsx), and
//      validates examples/ once to fill the CLI's cache of compiled flow schemas.
// A failed generation fails the install: nothing that touches the database could run. A failed build only warns: the
// CLI still works from the sources, slower to start. SLUICE_SKIP_BUILD=1 skips step 2.
// SLUICE_SKIP_POSTINSTALL=1 skips both (the Dockerfile's dependency stage, which has only the manifests).
// `npm ci --ignore-scripts` skips all of this; the CLI then generates the client on first use.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const say = (message) => process.stderr.write(`sluice postinstall: ${message}\n`);

/** Generate the Prisma client; true when it worked. Shared with the CLI launcher's first-use fallback. */
export function generatePrismaClient(stdio = 'inherit') {
  const result = spawnSync(bin('prisma'), ['generate', '--schema', 'prisma/schema.prisma'], {
    cwd: root,
    stdio,
    // Offline: Prisma 7 needs no engine download to generate, and must not phone home.
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
  return result.status === 0;
}

function build() {
  const result = spawnSync(bin('turbo'), ['run', 'build', '--output-logs=errors-only'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
  return result.status === 0;
}

/**
 * Validate the examples once, so that the flow schemas they use are compiled into the CLI's cache
 * (node_modules/.cache/sluice) and a user's first `sluice flow validate` starts as fast as the next ones.
 */
function warmSchemaCache() {
  spawnSync(process.execPath, ['apps/cli/bin/sluice.mjs', 'flow', 'validate', 'examples/'], { cwd: root, stdio: 'ignore' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.env.SLUICE_SKIP_POSTINSTALL === '1') {
    say('SLUICE_SKIP_POSTINSTALL=1: nothing generated or built');
    process.exit(0);
  }
  if (!existsSync(bin('prisma')) || !existsSync(new URL('../prisma/schema.prisma', import.meta.url))) {
    // Manifests without the sources, or `npm ci --omit=dev` without Prisma: such an install runs a prebuilt dist/.
    say('no Prisma schema or no prisma command here: nothing to generate or build');
    process.exit(0);
  }
  say('generating the Prisma client');
  if (!generatePrismaClient()) {
    say('prisma generate failed (see above): run `npm run db:generate` to retry');
    process.exit(1);
  }
  if (process.env.SLUICE_SKIP_BUILD === '1') {
    say('SLUICE_SKIP_BUILD=1: dist/ not built (the sluice command runs from the TypeScript sources)');
  } else {
    say('building dist/ for every package (about a minute the first time; cached after)');
    if (!build()) say('WARNING: the build failed (see above); the sluice command runs from the TypeScript sources, slower to start');
    else warmSchemaCache();
  }
}
