/**
 * The repository stands alone: nothing in it reads a file outside the checkout (issue #14). The check runs over every
 * file git knows of (tracked, or new and not ignored), so a path added anywhere that climbs out fails here.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkRepoBoundary, findBoundaryViolations, isBoundaryChecked } from '../src/repo-boundary.js';

const root = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '');
}

describe('repository boundary', () => {
  it('no source, test, script or benchmark reaches outside the checkout', () => {
    const files = repoFiles();
    // The check must really read the code: the sources, tests, scripts and benches are all selected.
    const checked = files.filter(isBoundaryChecked);
    for (const prefix of ['packages/', 'apps/', 'scripts/', 'bench/']) expect(checked.some((f) => f.startsWith(prefix))).toBe(true);
    expect(checkRepoBoundary(root, files)).toEqual([]);
  });

  it('finds a relative path that climbs above the root, from the file that names it', () => {
    const text = [
      "const ok = new URL('../fixtures/seed/', import.meta.url);",
      "const out = new URL('../../../../shared/seed/', import.meta.url);", // repo-boundary: allowed (the input)
      "import { x } from '../../src/x.js';",
    ].join('\n');
    const findings = findBoundaryViolations('/repo', 'packages/testing/src/seed.ts', text);
    expect(findings.map((f) => [f.line, f.text])).toEqual([
      [2, '../shared/'], // repo-boundary: allowed (expected findings)
      [2, '../../../../shared/seed/'], // repo-boundary: allowed
    ]);
    expect(findings[1]?.reason).toContain('/shared/seed');
    // From a deeper file the same climb stays inside.
    expect(findBoundaryViolations('/repo', 'a/b/c/d/e.ts', "readFileSync('../../x.txt')")).toEqual([]);
  });

  it('finds the team folder named anywhere, and skips lines marked as meant to climb out', () => {
    expect(findBoundaryViolations('/repo', 'scripts/x.sh', 'cat /work/shared/KESTRA.md')).toHaveLength(1); // repo-boundary: allowed
    expect(findBoundaryViolations('/repo', 'scripts/x.sh', 'cp -r "$root/../shared/seed" .')).toHaveLength(1); // repo-boundary: allowed
    expect(findBoundaryViolations('/repo', 'x.test.ts', "path('../../../etc/passwd') // repo-boundary: allowed")).toEqual([]);
    expect(findBoundaryViolations('/repo', 'x.test.ts', "path('../../../etc/passwd')")).toHaveLength(1);
  });

  it('reads code and configuration, not prose, lock files, generated code or dependencies', () => {
    expect(['a.ts', 'b.mjs', 'c.sh', 'd.json', 'e.yml', 'scripts/f.cjs'].every(isBoundaryChecked)).toBe(true);
    expect(['README.md', 'package-lock.json', 'node_modules/x/a.js', 'packages/db/src/generated/prisma/client.ts', 'apps/cli/dist/main.js'].some(isBoundaryChecked)).toBe(false);
  });
});
