/**
 * File staging shared by every task that hands files in and out of a working directory: script tasks
 * (`inputFiles`/`outputFiles`), LocalFiles (`inputs`/`outputs`) and WorkingDirectory. As Kestra's FilesService:
 * - input values starting with `kestra://` are downloaded from internal storage, any other value is written as text;
 *   parent directories are created;
 * - output globs are matched in the working directory (files only) and each match is uploaded under its relative
 *   path; the result maps that path to the file's `kestra:///` URI.
 *
 * Every name is confined to the working directory (DESIGN.md §5): an absolute name, a `..` that climbs out, or a
 * symbolic link that points outside is `SLU_TASK_INVALID_PATH`. Values arrive already rendered: callers render
 * the properties right before calling these functions.
 */
import { lstat, mkdir, realpath, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { SluiceError } from '@sluice/core';
import type { TaskContext } from '@sluice/plugin-api';

type FileContext = Pick<TaskContext, 'workingDirectory' | 'storage' | 'signal'>;

const STORAGE_SCHEME = 'kestra://';

function invalidPath(path: string): SluiceError {
  return new SluiceError('SLU_TASK_INVALID_PATH', { path });
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * The absolute path of `name` inside `root`, or `SLU_TASK_INVALID_PATH` when it is empty, absolute, holds a NUL
 * byte or climbs out with `..`. Lexical only: use it before the file exists; `assertRealPathInside` checks links.
 */
export function resolveInside(root: string, name: string): string {
  if (name.trim() === '' || name.includes('\0') || isAbsolute(name)) throw invalidPath(name);
  const path = resolve(root, name);
  if (!isInside(resolve(root), path)) throw invalidPath(name);
  return path;
}

/** Fails when `path` (which must exist) resolves, through symbolic links, to a place outside `root`. */
async function assertRealPathInside(root: string, path: string, name: string): Promise<void> {
  const [realRoot, realTarget] = await Promise.all([realpath(root), realpath(path)]);
  if (realTarget !== realRoot && !isInside(realRoot, realTarget)) throw invalidPath(name);
}

/**
 * Normalise `inputFiles` / LocalFiles `inputs`: a mapping of name → content, or the same mapping as a JSON string
 * (Kestra accepts both). Non-string values become strings (numbers, booleans) or JSON (objects).
 */
export function parseInputFiles(value: unknown, property = 'inputFiles'): Record<string, string> {
  if (value === undefined || value === null) return {};
  let map: unknown = value;
  if (typeof value === 'string') {
    try {
      map = JSON.parse(value);
    } catch (error) {
      throw new SluiceError('SLU_FLOW_INVALID_VALUE', { reason: `${property} must be a mapping or a JSON object string: ${(error as Error).message}` });
    }
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new SluiceError('SLU_FLOW_INVALID_TYPE', { expected: `${property} as a mapping of file name → content`, actual: Array.isArray(map) ? 'a list' : typeof map });
  }
  return Object.fromEntries(
    Object.entries(map as Record<string, unknown>).map(([name, content]) => [
      name,
      typeof content === 'string' ? content : typeof content === 'object' && content !== null ? JSON.stringify(content) : String(content),
    ]),
  );
}

/**
 * Write input files into the working directory: inline text, or a download when the value is a `kestra://` URI.
 * Returns the relative names written, in order.
 */
export async function writeInputFiles(files: Readonly<Record<string, string>>, context: FileContext): Promise<string[]> {
  const root = context.workingDirectory;
  // Check every name before writing anything, so a bad name leaves the directory untouched.
  const targets = Object.entries(files).map(([name, content]) => ({ name, content, path: resolveInside(root, name) }));
  for (const { name, content, path } of targets) {
    context.signal.throwIfAborted();
    await mkdir(dirname(path), { recursive: true });
    // A link left by an earlier task (a linked folder or file) must not redirect the write outside the directory.
    await assertRealPathInside(root, dirname(path), name);
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isSymbolicLink()) await assertRealPathInside(root, path, name).catch(() => Promise.reject(invalidPath(name)));
    if (content.startsWith(STORAGE_SCHEME)) await context.storage.getFile(content, path);
    else await writeFile(path, content);
  }
  return targets.map((t) => t.name);
}

/** Normalise `outputFiles` / LocalFiles `outputs` to a list of globs. */
export function parseOutputFiles(value: unknown, property = 'outputFiles'): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) {
    throw new SluiceError('SLU_FLOW_INVALID_TYPE', { expected: `${property} as a list of glob patterns`, actual: typeof value });
  }
  return list as string[];
}

/**
 * Upload the files matching `patterns` (globs relative to the working directory; regular files only — symbolic
 * links are neither followed nor uploaded, so a link cannot leak a file from outside; hidden files only when a
 * pattern names them) and return relative path → `kestra:///` URI, sorted by path. A pattern that is absolute or
 * climbs out with `..` is `SLU_TASK_INVALID_PATH`.
 */
export async function uploadOutputFiles(patterns: readonly string[], context: FileContext): Promise<Record<string, string>> {
  if (patterns.length === 0) return {};
  const root = context.workingDirectory;
  for (const pattern of patterns) {
    const normalised = pattern.replace(/\\/g, '/');
    if (pattern.trim() === '' || pattern.includes('\0') || isAbsolute(pattern) || normalised.split('/').includes('..')) throw invalidPath(pattern);
  }
  const { glob } = await import('tinyglobby'); // loaded when a task uploads outputs, not with the registry
  const matches = await glob([...patterns], { cwd: root, onlyFiles: true, followSymbolicLinks: false, signal: context.signal });
  const uris: Record<string, string> = {};
  for (const match of [...new Set(matches)].sort()) {
    context.signal.throwIfAborted();
    const path = resolveInside(root, match);
    await assertRealPathInside(root, path, match);
    uris[match.split(sep).join('/')] = await context.storage.putFile(path, match.split(sep).join('/'));
  }
  return uris;
}
