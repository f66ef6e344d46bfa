/**
 * The KV store of a runtime with no server around it (`sluice run`): one JSON file per key under a folder (the data
 * folder's `kv/`), `<root>/<namespace>/<key>.json` holding `{type, value, creationDate, updateDate, expirationDate?}`.
 * Values persist from one `sluice run` to the next (as Kestra's KV store does), and a server's store does not see them.
 *
 * - A set writes a temporary file next to the key's and renames it over the key's file: a rename replaces a file in
 *   one step, so concurrent sets of one key leave one whole value. `overwrite: false` creates the file with a hard
 *   link, which fails when the file exists (an expired one is then replaced as if absent).
 * - Keys differing only by case are different keys (Kestra's keys are case-sensitive) on case-insensitive file systems
 *   too: in file names an upper-case letter is written `~` and its lower case (`~` is not allowed in keys).
 * - Expiry uses this process's clock; an expired key is deleted when read, and hidden from the list.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertKvKey, assertKvNamespace, assertKvValueSize, instantText, isKvType } from '@sluice/core';
import type { KvType } from '@sluice/core';
import type { KvAccess, KvEntryInfo } from '@sluice/plugin-api';

interface KvFile {
  readonly type: KvType;
  readonly value: unknown;
  readonly creationDate: string;
  readonly updateDate: string;
  readonly expirationDate?: string;
}

const SUFFIX = '.json';

/** The file name of a key (see the top of this file). */
export function kvFileName(key: string): string {
  return `${key.replace(/[A-Z]/g, (letter) => `~${letter.toLowerCase()}`)}${SUFFIX}`;
}

function keyOfFileName(name: string): string | undefined {
  if (!name.endsWith(SUFFIX) || name.startsWith('.')) return undefined;
  return name.slice(0, -SUFFIX.length).replace(/~([a-z])/g, (_whole, letter: string) => letter.toUpperCase());
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export function createFileKvStore(root: string, now: () => Date = () => new Date()): KvAccess {
  const folder = (namespace: string): string => {
    assertKvNamespace(namespace);
    return join(root, namespace);
  };
  const pathOf = (namespace: string, key: string): string => {
    const dir = folder(namespace);
    assertKvKey(key);
    return join(dir, kvFileName(key));
  };
  const read = async (path: string): Promise<KvFile | undefined> => {
    try {
      const file = JSON.parse(await readFile(path, 'utf8')) as KvFile;
      if (!isKvType(file.type)) throw new Error(`${path} holds an unknown type ${JSON.stringify(file.type)}`);
      return file;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  };
  const expired = (file: KvFile): boolean => file.expirationDate !== undefined && Date.parse(file.expirationDate) <= now().getTime();

  return {
    async get(namespace, key) {
      const path = pathOf(namespace, key);
      const file = await read(path);
      if (!file) return { status: 'missing' };
      if (expired(file)) {
        await rm(path, { force: true });
        return { status: 'expired' };
      }
      return { status: 'found', type: file.type, value: file.value };
    },

    async set(namespace, key, value, options = {}) {
      const path = pathOf(namespace, key);
      assertKvValueSize(key, value.value);
      const at = now();
      const existing = await read(path);
      const live = existing !== undefined && !expired(existing);
      if (options.overwrite === false && live) return false;
      const file: KvFile = {
        type: value.type,
        value: value.value,
        creationDate: live ? existing.creationDate : instantText(at),
        updateDate: instantText(at),
        ...(options.ttlMs === undefined ? {} : { expirationDate: instantText(new Date(at.getTime() + options.ttlMs)) }),
      };
      await mkdir(folder(namespace), { recursive: true });
      const temporary = join(folder(namespace), `.${randomBytes(8).toString('hex')}.tmp`);
      await writeFile(temporary, JSON.stringify(file));
      try {
        if (options.overwrite === false && !existing) {
          try {
            await link(temporary, path);
            return true;
          } catch (error) {
            // Set meanwhile by someone else: theirs stays.
            if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
            throw error;
          }
        }
        await rename(temporary, path);
        return true;
      } finally {
        await rm(temporary, { force: true });
      }
    },

    async delete(namespace, key) {
      const path = pathOf(namespace, key);
      const file = await read(path);
      if (!file) return false;
      await rm(path, { force: true });
      return !expired(file);
    },

    async list(namespace) {
      const dir = folder(namespace);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if (isMissing(error)) return [];
        throw error;
      }
      const found: KvEntryInfo[] = [];
      for (const name of names) {
        const key = keyOfFileName(name);
        if (key === undefined) continue;
        const file = await read(join(dir, name));
        if (!file || expired(file)) continue;
        found.push({ key, creationDate: file.creationDate, updateDate: file.updateDate, ...(file.expirationDate ? { expirationDate: file.expirationDate } : {}) });
      }
      return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
  };
}
