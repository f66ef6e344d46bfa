import { randomUUID } from 'node:crypto';
import { constants, createWriteStream, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SluiceError } from '@sluice/core';
import type { Storage, StorageContent, StorageObject } from './storage.js';
import { formatStorageUri, parseStoragePrefix, parseStorageUri, RESERVED_NAME_PREFIX } from './uri.js';

export interface LocalFileStorageOptions {
  /** The directory files are kept under (created on first use). `kestra:///a/b/c.txt` is `{root}/a/b/c.txt`. */
  readonly root: string;
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function invalid(uri: string, reason: string): SluiceError {
  return new SluiceError('SLU_STORAGE_INVALID_URI', { uri, reason });
}

function notFound(uri: string): SluiceError {
  return new SluiceError('SLU_STORAGE_NOT_FOUND', { uri });
}

function toSource(content: StorageContent): Readable | AsyncIterable<Uint8Array> {
  if (typeof content === 'string') return Readable.from([Buffer.from(content, 'utf8')]);
  if (content instanceof Uint8Array) return Readable.from([content]);
  return content;
}

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * The internal storage on the local filesystem (`sluice server local`, or the API's disk).
 *
 * Confinement, twice: URIs are validated (no `..`, no encoded traversal, see `parseStorageUri`), and every
 * operation resolves the real path (`realpath`) of the file's parent directory and checks it is still under the
 * real root, so a symbolic link planted inside the root cannot lead outside it. Files are opened with
 * `O_NOFOLLOW` and symbolic links are never listed: the storage only ever creates regular files and directories.
 *
 * Atomic writes: `put` streams into a temporary file (`.sluice-tmp-<uuid>`, a name no URI may use) in the target's
 * own directory and renames it into place, so readers never see a partial file and concurrent writers of one URI
 * end with one complete file (the last rename wins). Empty directories are not pruned after `delete`: removing
 * them would race with a concurrent `put` into the same folder.
 */
export class LocalFileStorage implements Storage {
  /** The root as an absolute path. */
  readonly root: string;
  #realRoot: Promise<string> | undefined;

  constructor(options: LocalFileStorageOptions) {
    this.root = resolve(options.root);
  }

  async put(uri: string, content: StorageContent): Promise<StorageObject> {
    const segments = parseStorageUri(uri);
    const canonical = formatStorageUri(segments);
    const target = this.#pathOf(uri, segments);
    const realDir = await this.#ensureDirectory(uri, dirname(target));
    const destination = join(realDir, basename(target));
    const temp = join(realDir, `${RESERVED_NAME_PREFIX}${randomUUID()}`);
    let written: Stats;
    try {
      await pipeline(toSource(content), createWriteStream(temp, { flags: 'wx' }));
      written = await stat(temp);
      await rename(temp, destination);
    } catch (error) {
      await rm(temp, { force: true });
      const code = errnoCode(error);
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw invalid(uri, 'other files are stored under this URI (it is a "directory")');
      }
      throw error;
    }
    return { uri: canonical, size: written.size, lastModified: written.mtime };
  }

  async get(uri: string): Promise<Readable> {
    const located = await this.#locate(uri);
    if (!located) throw notFound(uri);
    let handle;
    try {
      handle = await open(located.path, constants.O_RDONLY | NOFOLLOW);
    } catch (error) {
      if (['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR'].includes(errnoCode(error) ?? '')) throw notFound(uri);
      throw error;
    }
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw notFound(uri);
    }
    return handle.createReadStream();
  }

  async stat(uri: string): Promise<StorageObject | undefined> {
    const located = await this.#locate(uri);
    if (!located) return undefined;
    const info = await lstatOrUndefined(located.path);
    return info?.isFile() ? { uri: located.uri, size: info.size, lastModified: info.mtime } : undefined;
  }

  async list(prefixUri: string): Promise<StorageObject[]> {
    const segments = parseStoragePrefix(prefixUri);
    const realRoot = await this.#realRootPath();
    const base = segments.length === 0 ? this.root : this.#pathOf(prefixUri, segments);
    let realBase: string;
    try {
      realBase = await realpath(base);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
      throw error;
    }
    this.#assertInside(prefixUri, realBase, realRoot);
    const info = await lstatOrUndefined(realBase);
    if (!info) return [];
    if (info.isFile()) return [{ uri: formatStorageUri(segments), size: info.size, lastModified: info.mtime }];
    const found: StorageObject[] = [];
    await walk(realBase, segments, found);
    return found.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async delete(uri: string): Promise<boolean> {
    const located = await this.#locate(uri);
    if (!located) return false;
    const info = await lstatOrUndefined(located.path);
    if (!info?.isFile()) return false;
    try {
      await unlink(located.path);
      return true;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** The lexical path of a validated URI, checked once more to stay under the root. */
  #pathOf(uri: string, segments: readonly string[]): string {
    const path = join(this.root, ...segments);
    const inside = relative(this.root, path);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw invalid(uri, 'it resolves outside the storage root');
    }
    return path;
  }

  #realRootPath(): Promise<string> {
    this.#realRoot ??= mkdir(this.root, { recursive: true })
      .then(() => realpath(this.root))
      .catch((error: unknown) => {
        this.#realRoot = undefined;
        throw error;
      });
    return this.#realRoot;
  }

  #assertInside(uri: string, realPath: string, realRoot: string): void {
    const prefix = realRoot.endsWith(sep) ? realRoot : realRoot + sep;
    if (realPath !== realRoot && !realPath.startsWith(prefix)) throw invalid(uri, 'it resolves outside the storage root');
  }

  /** An existing file's real location: its parent's real path (confined) + its name; undefined when the parent is missing. */
  async #locate(uri: string): Promise<{ uri: string; path: string } | undefined> {
    const segments = parseStorageUri(uri);
    const canonical = formatStorageUri(segments);
    const target = this.#pathOf(uri, segments);
    const realRoot = await this.#realRootPath();
    let realParent: string;
    try {
      realParent = await realpath(dirname(target));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return undefined;
      throw error;
    }
    this.#assertInside(uri, realParent, realRoot);
    return { uri: canonical, path: join(realParent, basename(target)) };
  }

  /**
   * Create the directory of a file about to be written and return its real path. The deepest existing ancestor is
   * checked BEFORE creating anything, because `mkdir -p` follows symbolic links: a link inside the root pointing
   * outside must not make us create directories out there.
   */
  async #ensureDirectory(uri: string, directory: string): Promise<string> {
    const realRoot = await this.#realRootPath();
    let existing = directory;
    for (;;) {
      let realExisting: string | undefined;
      try {
        realExisting = await realpath(existing);
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'ENOTDIR') throw invalid(uri, 'a parent of this URI is a file');
        if (code !== 'ENOENT' || existing === this.root) throw error;
      }
      if (realExisting !== undefined) {
        this.#assertInside(uri, realExisting, realRoot);
        break;
      }
      existing = dirname(existing);
    }
    try {
      await mkdir(directory, { recursive: true });
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOTDIR' || code === 'EEXIST') throw invalid(uri, 'a parent of this URI is a file');
      throw error;
    }
    const realDirectory = await realpath(directory);
    this.#assertInside(uri, realDirectory, realRoot);
    return realDirectory;
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Regular files under `directory`, recursively; symbolic links, temporary files and unaddressable names are skipped. */
async function walk(directory: string, segments: readonly string[], found: StorageObject[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return; // deleted while listing
    throw error;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(RESERVED_NAME_PREFIX)) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      await walk(path, [...segments, entry.name], found);
    } else if (entry.isFile()) {
      let uri: string;
      try {
        uri = formatStorageUri([...segments, entry.name]);
      } catch {
        continue; // a file put there by hand whose name no URI can address
      }
      const info = await lstatOrUndefined(path);
      if (info?.isFile()) found.push({ uri, size: info.size, lastModified: info.mtime });
    }
  }
}
