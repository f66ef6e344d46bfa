/**
 * The repository stands alone: no source, test, script or benchmark may read a file outside the checkout (a user who
 * clones it has nothing beside it). This finds the places that would: relative paths that climb above the repository
 * root from the file that names them, and names of the team's folder beside the checkout (`../shared`).
 *
 * It reads files as text, so it is a heuristic with two rules a reviewer can check by eye:
 * - a quoted string that starts with `../` is resolved against the folder of the file that holds it (as an import, a
 *   `new URL(..., import.meta.url)` or a path next to `__dirname` is); one that lands outside the root is reported;
 * - the strings `../shared/` and `/work/shared` are reported wherever they stand. (repo-boundary: allowed)
 * A line that means to climb out on purpose (a path-traversal input a test feeds to a confinement check, say) carries
 * the comment `repo-boundary: allowed` and is skipped.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';

/** One place that reaches outside the repository. */
export interface BoundaryFinding {
  /** Path of the file, relative to the root. */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  /** The offending text. */
  readonly text: string;
  /** Why it leaves the repository. */
  readonly reason: string;
}

/** Files the check reads: code, scripts and configuration (not prose, lock files or generated code). */
export const BOUNDARY_FILE = /\.(?:ts|mts|cts|js|mjs|cjs|sh|json|ya?ml)$/;
const SKIPPED = /(?:^|\/)(?:node_modules|dist|coverage|generated)\/|(?:^|\/)package-lock\.json$/;
const ALLOWED = 'repo-boundary: allowed';
const CLIMBING_STRING = /(['"`])((?:\.\.\/)+[^'"`\s]*)\1/g;
const TEAM_FOLDER = /\.\.\/shared\/|\/work\/shared\b/g;

/** Whether `file` (relative to the root) is one the check reads. */
export function isBoundaryChecked(file: string): boolean {
  return BOUNDARY_FILE.test(file) && !SKIPPED.test(file);
}

/** The places in `text` (the content of `file`, relative to `root`) that reach outside `root`. */
export function findBoundaryViolations(root: string, file: string, text: string): BoundaryFinding[] {
  const findings: BoundaryFinding[] = [];
  const folder = dirname(resolve(root, file));
  text.split('\n').forEach((content, index) => {
    if (content.includes(ALLOWED)) return;
    const at = (match: string, reason: string): void => {
      findings.push({ file, line: index + 1, text: match, reason });
    };
    for (const match of content.matchAll(TEAM_FOLDER)) at(match[0], 'names the folder beside the checkout, which a clone does not have');
    for (const match of content.matchAll(CLIMBING_STRING)) {
      const path = match[2] ?? '';
      const target = relative(root, resolve(folder, path));
      if (target === '..' || target.startsWith('../') || isAbsolute(target)) {
        at(path, `resolves to ${resolve(folder, path)}, outside the repository`);
      }
    }
  });
  return findings;
}

/** Check every file of `files` (paths relative to `root`) that {@link isBoundaryChecked} selects. */
export function checkRepoBoundary(root: string, files: readonly string[]): BoundaryFinding[] {
  return files.filter(isBoundaryChecked).flatMap((file) => findBoundaryViolations(root, file, readFileSync(join(root, file), 'utf8')));
}
