import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorkingDirectoryPool, WORKING_DIRECTORY_PREFIX } from '@sluice/task-runtime';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-wd-pool-test-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createWorkingDirectoryPool', () => {
  it('makes a fresh private directory under its root, and hands a directory given back empty to the next take', async () => {
    const pool = createWorkingDirectoryPool({ root });
    const first = pool.take();
    expect(first.startsWith(join(root, WORKING_DIRECTORY_PREFIX))).toBe(true);
    expect(lstatSync(first).mode & 0o7777).toBe(0o700);
    expect(readdirSync(first)).toEqual([]);
    await pool.give(first);
    expect(pool.size).toBe(1);
    expect(existsSync(first)).toBe(true);
    expect(pool.take()).toBe(first);
    expect(pool.size).toBe(0);
    // Nothing kept: a new one.
    const second = pool.take();
    expect(second).not.toBe(first);
    expect(readdirSync(root).sort()).toEqual([first, second].map((path) => path.slice(root.length + 1)).sort());
  });

  it('removes, and does not keep, a directory left with a file or a subdirectory in it', async () => {
    const pool = createWorkingDirectoryPool({ root });
    const withFile = pool.take();
    writeFileSync(join(withFile, 'left.txt'), 'data');
    const withDirectory = pool.take();
    mkdirSync(join(withDirectory, 'sub', 'deeper'), { recursive: true });
    await pool.give(withFile);
    await pool.give(withDirectory);
    expect(pool.size).toBe(0);
    expect(readdirSync(root)).toEqual([]);
  });

  it('does not keep a directory whose permissions the task changed', async () => {
    const pool = createWorkingDirectoryPool({ root });
    const opened = pool.take();
    chmodSync(opened, 0o777);
    await pool.give(opened);
    expect(pool.size).toBe(0);
    expect(existsSync(opened)).toBe(false);
  });

  it('does not keep, nor follow, a symbolic link put in the directory’s place', async () => {
    const pool = createWorkingDirectoryPool({ root });
    const target = join(root, 'target');
    mkdirSync(target, { mode: 0o700 });
    writeFileSync(join(target, 'keep.txt'), 'not the task’s');
    const path = pool.take();
    await rm(path, { recursive: true });
    symlinkSync(target, path);
    await pool.give(path);
    expect(pool.size).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(target)).toEqual(['keep.txt']);
  });

  it('keeps at most `max` directories and removes the others', async () => {
    const pool = createWorkingDirectoryPool({ root, max: 2 });
    const taken = [pool.take(), pool.take(), pool.take()];
    for (const path of taken) await pool.give(path);
    expect(pool.size).toBe(2);
    expect(readdirSync(root)).toHaveLength(2);
    expect(existsSync(taken[2]!)).toBe(false);
  });

  it('keeps none with max 0', async () => {
    const pool = createWorkingDirectoryPool({ root, max: 0 });
    const path = pool.take();
    await pool.give(path);
    expect(pool.size).toBe(0);
    expect(readdirSync(root)).toEqual([]);
  });

  it('removes what it keeps on close, and what it is given after', async () => {
    const pool = createWorkingDirectoryPool({ root });
    const [a, b] = [pool.take(), pool.take()];
    await pool.give(a);
    await pool.close();
    expect(pool.size).toBe(0);
    expect(existsSync(a)).toBe(false);
    await pool.give(b);
    expect(pool.size).toBe(0);
    expect(readdirSync(root)).toEqual([]);
  });

  it('rejects a max that is not a whole number ≥ 0', () => {
    expect(() => createWorkingDirectoryPool({ root, max: -1 })).toThrow(/max must be a whole number/);
    expect(() => createWorkingDirectoryPool({ root, max: 1.5 })).toThrow(/max must be a whole number/);
  });
});
