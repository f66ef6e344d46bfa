import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '@sluice/core';
import { LocalFileStorage, RESERVED_NAME_PREFIX, type Storage } from '@sluice/storage';

let base: string;
let root: string;
let storage: Storage;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'sluice-storage-test-'));
  root = join(base, 'root');
  storage = new LocalFileStorage({ root });
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function text(readable: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function rejection(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

describe('LocalFileStorage', () => {
  it('stores strings, bytes and iterables, and reads them back', async () => {
    const object = await storage.put('kestra:///dev/f/a.txt', 'hello');
    expect(object).toMatchObject({ uri: 'kestra:///dev/f/a.txt', size: 5 });
    expect(object.lastModified).toBeInstanceOf(Date);
    await storage.put('kestra:///dev/f/b.bin', new Uint8Array([1, 2, 3]));
    await storage.put('kestra:///dev/f/c.txt', (async function* () {
      yield Buffer.from('ab');
      yield Buffer.from('cd');
    })());
    expect(await text(await storage.get('kestra:///dev/f/a.txt'))).toBe('hello');
    expect(await text(await storage.get('kestra:///dev/f/c.txt'))).toBe('abcd');
    expect(await readFile(join(root, 'dev', 'f', 'b.bin'))).toEqual(Buffer.from([1, 2, 3]));
    expect(await storage.stat('kestra:///dev/f/b.bin')).toMatchObject({ uri: 'kestra:///dev/f/b.bin', size: 3 });
  });

  it('decodes percent-encoding into file names and returns canonical URIs', async () => {
    const object = await storage.put('kestra:///dev/my%20file.txt', 'x');
    expect(object.uri).toBe('kestra:///dev/my%20file.txt');
    expect(await readFile(join(root, 'dev', 'my file.txt'), 'utf8')).toBe('x');
    expect((await storage.list('kestra:///dev'))[0]?.uri).toBe('kestra:///dev/my%20file.txt');
  });

  it('replaces an existing file', async () => {
    await storage.put('kestra:///a/x', 'first version');
    await storage.put('kestra:///a/x', 'second');
    expect(await text(await storage.get('kestra:///a/x'))).toBe('second');
  });

  it('reports missing files', async () => {
    const error = await rejection(storage.get('kestra:///nope/x.txt'));
    expect(error.code).toBe('SLU_STORAGE_NOT_FOUND');
    expect(error.message).toBe('no file at kestra:///nope/x.txt');
    await storage.put('kestra:///dir/file', 'x');
    expect((await rejection(storage.get('kestra:///dir'))).code).toBe('SLU_STORAGE_NOT_FOUND');
    expect((await rejection(storage.get('kestra:///dir/file/below'))).code).toBe('SLU_STORAGE_NOT_FOUND');
    expect(await storage.stat('kestra:///nope/x.txt')).toBeUndefined();
    expect(await storage.stat('kestra:///dir')).toBeUndefined();
  });

  it('lists recursively, segment-wise, sorted', async () => {
    await storage.put('kestra:///ns/f/executions/e1/tasks/t/r/out/b.txt', 'bb');
    await storage.put('kestra:///ns/f/executions/e1/tasks/t/r/a.txt', 'a');
    await storage.put('kestra:///ns/f/executions/e1/inputs/i/in.csv', 'csv');
    await storage.put('kestra:///ns/f/executions/e10/other.txt', 'o');
    const listed = await storage.list('kestra:///ns/f/executions/e1');
    expect(listed.map((o) => [o.uri, o.size])).toEqual([
      ['kestra:///ns/f/executions/e1/inputs/i/in.csv', 3],
      ['kestra:///ns/f/executions/e1/tasks/t/r/a.txt', 1],
      ['kestra:///ns/f/executions/e1/tasks/t/r/out/b.txt', 2],
    ]);
    expect(await storage.list('kestra:///ns/f/executions/e1/')).toEqual(listed);
    expect((await storage.list('kestra:///')).length).toBe(4);
    expect(await storage.list('kestra:///missing')).toEqual([]);
    expect((await storage.list('kestra:///ns/f/executions/e10/other.txt')).map((o) => o.uri)).toEqual([
      'kestra:///ns/f/executions/e10/other.txt',
    ]);
  });

  it('deletes files, not directories', async () => {
    await storage.put('kestra:///d/a.txt', 'a');
    await storage.put('kestra:///d/sub/b.txt', 'b');
    expect(await storage.delete('kestra:///d/a.txt')).toBe(true);
    expect(await storage.delete('kestra:///d/a.txt')).toBe(false);
    expect(await storage.delete('kestra:///d/sub')).toBe(false);
    expect(await storage.delete('kestra:///nothing/here')).toBe(false);
    expect((await storage.list('kestra:///d')).map((o) => o.uri)).toEqual(['kestra:///d/sub/b.txt']);
  });

  it('refuses to store a file where a directory is, or below a file', async () => {
    await storage.put('kestra:///x/y/z', 'z');
    expect((await rejection(storage.put('kestra:///x/y', 'y'))).params.reason).toMatch(/directory/);
    expect((await rejection(storage.put('kestra:///x/y/z/w', 'w'))).params.reason).toMatch(/parent of this URI is a file/);
    expect(await readdir(join(root, 'x', 'y'))).toEqual(['z']); // no temporary file left behind
  });

  it('stores nothing when the source fails', async () => {
    const failing = (async function* () {
      yield Buffer.from('partial');
      throw new Error('source broke');
    })();
    await expect(storage.put('kestra:///f/broken.txt', failing)).rejects.toThrow('source broke');
    expect(await storage.stat('kestra:///f/broken.txt')).toBeUndefined();
    expect(await readdir(join(root, 'f'))).toEqual([]);
  });

  it('round-trips a 50 MB stream without buffering it, and never exposes the half-written file', async () => {
    const chunkSize = 64 * 1024;
    const chunks = 800; // 50 MiB
    const uri = 'kestra:///big/data.bin';
    const written = createHash('sha256');
    let maxLag = 0;
    let checkedHalfway = false;
    const source = async function* (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < chunks; i++) {
        if (i === chunks / 2) {
          // Half-way: the bytes are already on disk in the temporary file (streaming, not buffering) while the
          // URI itself still shows nothing.
          const dir = join(root, 'big');
          const [temp] = (await readdir(dir)).filter((name) => name.startsWith(RESERVED_NAME_PREFIX));
          expect(temp).toBeDefined();
          const onDisk = (await stat(join(dir, temp!))).size;
          maxLag = i * chunkSize - onDisk;
          expect(await storage.stat(uri)).toBeUndefined();
          expect(await storage.list('kestra:///big')).toEqual([]);
          expect((await rejection(storage.get(uri))).code).toBe('SLU_STORAGE_NOT_FOUND');
          checkedHalfway = true;
        }
        const chunk = Buffer.alloc(chunkSize, i % 251);
        chunk.writeUInt32BE(i, 0);
        written.update(chunk);
        yield chunk;
      }
    };
    const object = await storage.put(uri, Readable.from(source(), { objectMode: false }));
    expect(checkedHalfway).toBe(true);
    expect(maxLag).toBeLessThan(4 * 1024 * 1024);
    expect(object.size).toBe(chunkSize * chunks);

    const read = createHash('sha256');
    let size = 0;
    for await (const chunk of await storage.get(uri)) {
      read.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    expect(size).toBe(chunkSize * chunks);
    expect(read.digest('hex')).toBe(written.digest('hex'));
  });

  it('ends concurrent puts of one URI with one complete file', async () => {
    const uri = 'kestra:///race/file.bin';
    const contents = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1024 * 1024 + i, 65 + i));
    const streamOf = (content: Buffer): Readable =>
      Readable.from((function* () {
        for (let offset = 0; offset < content.length; offset += 16 * 1024) yield content.subarray(offset, offset + 16 * 1024);
      })());
    await Promise.all(contents.map((content) => storage.put(uri, streamOf(content))));
    const stored = await readFile(join(root, 'race', 'file.bin'));
    expect(contents.some((content) => content.equals(stored))).toBe(true);
    expect(await readdir(join(root, 'race'))).toEqual(['file.bin']);
  });

  describe('confinement', () => {
    it.each([
      'kestra:///../etc/passwd',
      'kestra:///a/../../x',
      'kestra:///a/%2e%2e/%2e%2e/x',
      'kestra:///a\0b',
      'file:///etc/passwd',
      'kestra:///a//b',
      'kestra:///a/..%2F..%2Fx',
    ])('rejects %j in every operation', async (uri) => {
      for (const operation of [
        () => storage.put(uri, 'x'),
        () => storage.get(uri),
        () => storage.stat(uri),
        () => storage.delete(uri),
        () => storage.list(uri),
      ]) {
        expect((await rejection(operation())).code).toBe('SLU_STORAGE_INVALID_URI');
      }
    });

    it('does not follow a symbolic link planted inside the root to a directory outside', async () => {
      const outside = join(base, 'outside');
      await mkdir(outside);
      await writeFile(join(outside, 'secret.txt'), 'secret');
      await mkdir(root, { recursive: true });
      await symlink(outside, join(root, 'escape'));

      for (const operation of [
        () => storage.put('kestra:///escape/new.txt', 'x'),
        () => storage.put('kestra:///escape/deeper/new.txt', 'x'),
        () => storage.get('kestra:///escape/secret.txt'),
        () => storage.stat('kestra:///escape/secret.txt'),
        () => storage.delete('kestra:///escape/secret.txt'),
        () => storage.list('kestra:///escape'),
      ]) {
        const error = await rejection(operation());
        expect(error.code).toBe('SLU_STORAGE_INVALID_URI');
        expect(error.params.reason).toMatch(/outside the storage root/);
      }
      expect(await readdir(outside)).toEqual(['secret.txt']);
      expect(await storage.list('kestra:///')).toEqual([]); // links are never listed
    });

    it('does not read through a symbolic link to a file outside', async () => {
      await writeFile(join(base, 'passwd'), 'root:x:0:0');
      await mkdir(join(root, 'a'), { recursive: true });
      await symlink(join(base, 'passwd'), join(root, 'a', 'passwd'));
      expect((await rejection(storage.get('kestra:///a/passwd'))).code).toBe('SLU_STORAGE_NOT_FOUND');
      expect(await storage.stat('kestra:///a/passwd')).toBeUndefined();
      expect(await storage.delete('kestra:///a/passwd')).toBe(false);
      // Writing replaces the link itself, never the file it points to.
      await storage.put('kestra:///a/passwd', 'mine');
      expect(await readFile(join(base, 'passwd'), 'utf8')).toBe('root:x:0:0');
      expect(await text(await storage.get('kestra:///a/passwd'))).toBe('mine');
    });
  });
});
