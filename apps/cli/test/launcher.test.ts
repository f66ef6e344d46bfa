/**
 * The `sluice` launcher (apps/cli/bin/sluice.mjs) runs the compiled dist/ while every workspace package's dist/ is
 * newer than its sources, and the TypeScript sources (tsx) once one is edited (issue #14: start-up time). Checked on
 * a small workspace of its own in a temporary folder, with fake entry points that say which one ran.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('the sluice launcher', () => {
  let ws: string;
  const write = (path: string, text: string, mtimeSeconds: number): void => {
    const file = join(ws, path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
    utimesSync(file, mtimeSeconds, mtimeSeconds);
  };
  const launch = async (args: string[], env: Record<string, string> = {}): Promise<string> =>
    (await exec(process.execPath, [join(ws, 'apps/cli/bin/sluice.mjs'), ...args], { cwd: ws, env: { ...process.env, SLUICE_CLI_SOURCE: '', ...env } })).stdout.trim();
  const T = 1_800_000_000; // a fixed past, in seconds

  beforeAll(() => {
    ws = mkdtempSync(join(tmpdir(), 'sluice-launcher-'));
    mkdirSync(join(ws, 'apps/cli/bin'), { recursive: true });
    copyFileSync(join(root, 'apps/cli/bin/sluice.mjs'), join(ws, 'apps/cli/bin/sluice.mjs'));
    copyFileSync(join(root, 'apps/cli/bin/source-condition.mjs'), join(ws, 'apps/cli/bin/source-condition.mjs'));
    symlinkSync(join(root, 'node_modules'), join(ws, 'node_modules')); // tsx
    write('apps/cli/package.json', '{"name":"fake-cli","version":"9.8.7","type":"module"}', T);
    write('apps/cli/src/main.ts', "export async function main(argv: string[]): Promise<number> { console.log(`source ${argv.join(' ')}`); return 0; }\n", T);
    write('apps/cli/dist/main.js', "export async function main(argv) { console.log(`dist ${argv.join(' ')}`); return 0; }\n", T + 10);
    write('packages/db/src/index.ts', 'export {};\n', T);
    write('packages/db/src/generated/prisma/client.ts', 'export {};\n', T);
    write('packages/db/src/db.test.ts', 'export {};\n', T);
    write('packages/db/dist/index.js', 'export {};\n', T + 10);
  });
  afterAll(() => rmSync(ws, { recursive: true, force: true }));

  it('runs dist/ when every package was built after its sources were last changed', async () => {
    expect(await launch(['flow', 'validate', 'x.yml'])).toBe('dist flow validate x.yml');
  });

  it('ignores edited tests, but runs the sources once a source file is newer than its package build', async () => {
    utimesSync(join(ws, 'packages/db/src/db.test.ts'), T + 20, T + 20);
    expect(await launch(['run'])).toBe('dist run');
    utimesSync(join(ws, 'packages/db/src/index.ts'), T + 20, T + 20);
    expect(await launch(['run'])).toBe('source run');
    utimesSync(join(ws, 'packages/db/dist/index.js'), T + 30, T + 30); // rebuilt
    expect(await launch(['run'])).toBe('dist run');
  });

  it('runs the sources when a package has no dist/, and obeys SLUICE_CLI_SOURCE', async () => {
    write('packages/queue/src/index.ts', 'export {};\n', T);
    expect(await launch(['a'])).toBe('source a');
    expect(await launch(['a'], { SLUICE_CLI_SOURCE: '0' })).toBe('dist a');
    rmSync(join(ws, 'packages/queue'), { recursive: true });
    expect(await launch(['a'], { SLUICE_CLI_SOURCE: '1' })).toBe('source a');
  });

  it('prints --version from package.json without loading either entry point', async () => {
    expect(await launch(['--version'])).toBe('9.8.7');
    expect(await launch(['-v'])).toBe('9.8.7');
  });
});
