/** What the worker tests look for in a work root once tasks have ended. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What is left under `directory` besides empty directories: a task's files, or a directory with something in it. The
 * worker keeps the working directories its tasks leave empty for later tasks, so an empty one may stay.
 */
export async function leftUnder(directory: string): Promise<string[]> {
  const left: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (!entry.isDirectory() || (await readdir(join(directory, entry.name))).length > 0) left.push(entry.name);
  }
  return left;
}
