/**
 * Tasks' working directories, kept for reuse by one process (a worker). Making a directory and removing it are two
 * changes to the parent directory that the file system journals; on ext4, `mkdir` also searches the inode bitmaps for
 * a free inode, which grows with the inodes freed recently. Under load these two calls were about 15 % of a worker's
 * CPU (docs/benchmarks.md, issue #20's ninth pass). A directory that a task leaves exactly as it got it (empty, a
 * directory of this process's user, mode 0700) is kept and handed to a later task instead, which reads it (readdir,
 * lstat) but changes nothing on disk.
 *
 * What a task sees does not change: a fresh, empty, private directory. Anything else a task leaves (a file, a
 * subdirectory, other permissions, a symbolic link in its place) gets the directory removed, as without a pool. The
 * pool holds at most `max` directories; `close` removes them.
 */
import { lstatSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The prefix of a working directory's name under its root. */
export const WORKING_DIRECTORY_PREFIX = 'sluice-wd-';

/** The most directories a pool keeps by default: more than a worker runs at once rarely helps. */
export const DEFAULT_POOLED_DIRECTORIES = 64;

export interface WorkingDirectoryPoolOptions {
  /** Where the directories are made. Default: the OS's temporary directory. */
  readonly root?: string;
  /** The most empty directories kept. Default {@link DEFAULT_POOLED_DIRECTORIES}; 0 keeps none. */
  readonly max?: number;
}

export interface WorkingDirectoryPool {
  /** A fresh, empty directory of mode 0700: one kept from an earlier task, or a new one. Throws when none can be made. */
  take(): string;
  /**
   * The task that had `path` ended: keep it for another task when it is as `take` gave it and the pool has room,
   * otherwise remove it (recursively when it is not empty). Rejects when it cannot be removed.
   */
  give(path: string): Promise<void>;
  /** How many directories are kept now. */
  readonly size: number;
  /** Remove the directories kept; later `give` calls remove theirs. */
  close(): Promise<void>;
}

export function createWorkingDirectoryPool(options: WorkingDirectoryPoolOptions = {}): WorkingDirectoryPool {
  const root = options.root ?? tmpdir();
  const max = options.max ?? DEFAULT_POOLED_DIRECTORIES;
  if (!Number.isInteger(max) || max < 0) throw new RangeError(`max must be a whole number ≥ 0, got ${max}`);
  const kept: string[] = [];
  const uid = process.getuid?.();
  let closed = false;

  const reusable = (path: string): boolean => {
    try {
      // lstat: a symbolic link put in the directory's place is not followed, and not kept.
      const stat = lstatSync(path);
      if (!stat.isDirectory() || (stat.mode & 0o7777) !== 0o700 || (uid !== undefined && stat.uid !== uid)) return false;
      return readdirSync(path).length === 0;
    } catch {
      return false;
    }
  };

  return {
    take() {
      // Made in the event loop: one mkdir(2) costs less than the thread pool's hand-off for it.
      return kept.pop() ?? mkdtempSync(join(root, WORKING_DIRECTORY_PREFIX));
    },
    async give(path) {
      if (!closed && kept.length < max && reusable(path)) {
        kept.push(path);
        return;
      }
      await removeWorkingDirectory(path);
    },
    get size() {
      return kept.length;
    },
    async close() {
      closed = true;
      const left = kept.splice(0);
      await Promise.all(left.map((path) => removeWorkingDirectory(path)));
    },
  };
}

/**
 * Remove a task's working directory. Many tasks leave it empty, and one `rmdir` removes an empty directory, where
 * `rm({recursive})` takes two `lstat` calls before its `rmdir`. Anything else (files left, a busy mount) goes the
 * recursive way, with retries.
 */
export async function removeWorkingDirectory(path: string): Promise<void> {
  try {
    // One rmdir(2) in the event loop, as mkdtemp: cheaper than the thread pool's round trip for it.
    rmdirSync(path);
  } catch {
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
  }
}
