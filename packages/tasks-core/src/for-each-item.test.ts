import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchOptions, parseSize, splitFile } from './for-each-item.js';

describe('batch options', () => {
  it('rows by default (1), then partitions, then bytes first of all, as Kestra', () => {
    expect(batchOptions(undefined)).toEqual({ rows: 1, separator: '\n' });
    expect(batchOptions({ rows: '100' })).toEqual({ rows: 100, separator: '\n' });
    expect(batchOptions({ rows: 5, partitions: 3 })).toEqual({ partitions: 3, separator: '\n' });
    expect(batchOptions({ rows: 5, partitions: 3, bytes: '1KB', separator: ';' })).toEqual({ bytes: 1024, separator: ';' });
  });
  it('names what is wrong', () => {
    expect(batchOptions({ rows: 0 })).toEqual({ error: 'batch.rows: expected an integer of 1 or more, got 0' });
    expect(batchOptions({ bytes: 'lots' })).toMatchObject({ error: expect.stringContaining('batch.bytes') });
    expect(batchOptions({ separator: '' })).toMatchObject({ error: 'batch.separator: must not be empty' });
    expect(batchOptions([1])).toMatchObject({ error: expect.stringContaining('batch') });
  });
  it('reads sizes as Kestra writes them', () => {
    expect([parseSize('10MB'), parseSize('512kb'), parseSize('1GB'), parseSize(300), parseSize('7')]).toEqual([10 * 1024 ** 2, 512 * 1024, 1024 ** 3, 300, 7]);
    expect([parseSize('0'), parseSize('ten'), parseSize(-1), parseSize(1.5)]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('splitFile', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-split-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function cut(content: string, options: Parameters<typeof splitFile>[2]): Promise<string[]> {
    const path = join(dir, 'items.txt');
    await writeFile(path, content);
    const out = await mkdtemp(join(dir, 'out-'));
    const batches: string[] = [];
    const count = await splitFile(path, out, options, '.txt', new AbortController().signal, async (file, iteration) => {
      expect(file).toBe(join(out, `${iteration}.txt`));
      batches.push(await readFile(file, 'utf8'));
    });
    expect(count).toBe(batches.length);
    expect((await readdir(out)).length).toBe(batches.length);
    return batches;
  }

  it('cuts whole lines, rows at a time; a last line without its newline gets one', async () => {
    expect(await cut('1\n2\n3\n4\n5', { rows: 2, separator: '\n' })).toEqual(['1\n2\n', '3\n4\n', '5\n']);
    expect(await cut('', { rows: 2, separator: '\n' })).toEqual([]);
  });
  it('spreads the lines over `partitions` batches', async () => {
    expect(await cut('a\nb\nc\nd\ne\n', { partitions: 2, separator: '\n' })).toEqual(['a\nb\nc\n', 'd\ne\n']);
  });
  it('closes a batch before it would pass `bytes`; a longer line is a batch of its own', async () => {
    expect(await cut('aa\nbb\ncc\ndddddddd\ne\n', { bytes: 6, separator: '\n' })).toEqual(['aa\nbb\n', 'cc\n', 'dddddddd\n', 'e\n']);
  });
  it('takes any separator, also across read chunks', async () => {
    const long = Array.from({ length: 300_000 }, (_, i) => `row${i}`).join('||');
    const batches = await cut(long, { rows: 100_000, separator: '||' });
    expect(batches).toHaveLength(3);
    expect(batches[0]!.startsWith('row0||row1||')).toBe(true);
    expect(batches[2]!.endsWith('row299999||')).toBe(true);
  });
});
