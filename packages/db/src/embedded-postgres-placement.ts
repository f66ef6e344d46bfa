/**
 * Where the embedded Postgres's files go when Sluice runs as root (see `embedded-postgres.ts`).
 *
 * As root, Postgres must run as the system user `postgres`, and that user must be able to enter every folder above its
 * binaries and its data. A checkout in a private folder (`/root`, anything under a `mktemp -d` folder: mode 0700) is
 * closed to it. Opening the user's folders (`chmod o+x`) is not ours to do, so:
 *
 * - binaries: when the postgres user cannot reach the binaries package's `native/` tree, it is copied once to
 *   `<stateDir>/embedded-postgres/<package version>/` (root-owned, 0755 folders) and run from there. The binaries find
 *   their libraries and `share/` relative to themselves (RUNPATH `$ORIGIN/../lib`), so a copy runs as is. The copy is made
 *   in a temporary sibling folder and renamed into place, and a marker file written last says it is complete: a start
 *   either finds a complete copy or makes its own, and when two starts copy at once the second rename fails and that
 *   start uses the winner's copy (concurrent starts never see a half copy nor clash).
 * - data: when the postgres user cannot reach the folder holding `<data dir>/postgres`, the cluster lives in
 *   `<stateDir>/clusters/<first 16 hex of sha256(real data-dir path)>/` (owned by postgres, 0700) and
 *   `<data dir>/postgres` becomes a symlink to it: the user sees where the data is, later starts follow the link (so
 *   flows and executions survive restarts), and removing the data folder, or the link, resets the cluster as it would
 *   when the cluster lives in the folder (a cluster folder left without its link is replaced at the next start). The
 *   rest of the data folder (storage, work dirs) stays where it is: root writes it, not postgres.
 *
 * `<stateDir>` is `/var/lib/sluice` (the FHS place for a program's state); tests point it elsewhere. When the folders
 * are reachable nothing moves: the cluster stays in the data folder and the binaries run from node_modules.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rename, rm, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SluiceError } from '@sluice/core';

/** The default `stateDir`. */
export const STATE_DIR = '/var/lib/sluice';
/** Written last into a binaries copy: its presence means the copy is complete. */
const COMPLETE_MARKER = '.sluice-copy-complete';
/** Partial copies older than this are leftovers of a start that died while copying. */
const STALE_PARTIAL_MS = 60 * 60 * 1000;

const run = promisify(execFile);

export function unavailable(reason: string, cause?: unknown): SluiceError {
  return new SluiceError('SLU_DB_UNAVAILABLE', { reason }, { embedded: true }, cause === undefined ? undefined : { cause });
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A user as the kernel checks folder access: its uid and every group it belongs to. */
export interface Searcher {
  readonly uid: number;
  readonly gids: readonly number[];
}

/** What a folder's access check needs from `stat`. */
export interface FolderMode {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export type StatFolder = (path: string) => Promise<FolderMode>;

/** Whether `user` may search (enter) a folder with these owner and mode bits: owner bits, else group bits, else other bits. */
export function maySearch(folder: FolderMode, user: Searcher): boolean {
  if (user.uid === 0) return true;
  if (folder.uid === user.uid) return (folder.mode & 0o100) !== 0;
  if (user.gids.includes(folder.gid)) return (folder.mode & 0o010) !== 0;
  return (folder.mode & 0o001) !== 0;
}

/**
 * The topmost folder between `/` and `path` (both included) that `user` may not search, or undefined when it can reach
 * `path`. `path` is taken as is (pass a real path: a symlinked folder's own parents are not on the way). Only mode bits
 * count: an ACL granting access is not seen (the caller then copies or relocates when it did not need to, which still
 * works); the stat function is the only I/O.
 */
export async function unsearchableFolder(path: string, user: Searcher, statFolder: StatFolder): Promise<string | undefined> {
  const chain: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of chain) {
    if (!maySearch(await statFolder(dir), user)) return dir;
  }
  return undefined;
}

export const statFolder: StatFolder = (path) => stat(path);

/** The `postgres` system user as spawn and the access check need it. */
export interface PostgresUser extends Searcher {
  /** Its primary group. */
  readonly gid: number;
}

async function idOf(flag: string): Promise<number> {
  return Number((await run('id', [flag, 'postgres'])).stdout.trim());
}

async function lookUpPostgresUser(): Promise<PostgresUser> {
  const [uid, gid] = await Promise.all([idOf('-u'), idOf('-g')]);
  // Only the primary group: Node's spawn drops supplementary groups (setgroups(0)) when it switches to another uid.
  return { uid, gid, gids: [gid] };
}

/** The `postgres` user, created when missing, as embedded-postgres's `createPostgresUser` does (`useradd -g postgres postgres`). */
export async function postgresUser(): Promise<PostgresUser> {
  try {
    return await lookUpPostgresUser();
  } catch {
    // Not there yet: create it below.
  }
  try {
    await run('groupadd', ['-f', 'postgres']);
    await run('useradd', ['-g', 'postgres', 'postgres']);
  } catch (error) {
    // A concurrent start may have created it meanwhile.
    const found = await lookUpPostgresUser().catch(() => undefined);
    if (found) return found;
    throw unavailable(`as root, Postgres runs as the system user postgres, which is missing and could not be created: ${errorText(error)}`, error);
  }
  return lookUpPostgresUser();
}

/**
 * Create `dir` (and its parents) as a folder every user may enter (0755: root-owned state folders the postgres user
 * reads through). Fails with a reason naming the folder.
 */
async function ensureOpenFolder(dir: string, why: string): Promise<void> {
  try {
    const created = await mkdir(dir, { recursive: true });
    // mkdir's mode is filtered by the umask (077 would close it): set it explicitly on the folders made here.
    if (created !== undefined) {
      for (let made = dir; ; made = dirname(made)) {
        await chmod(made, 0o755);
        if (made === resolve(created)) break;
      }
    }
  } catch (error) {
    throw unavailable(`cannot create ${dir} (${errorText(error)}); ${why}`, error);
  }
}

/** Fail clearly when the postgres user cannot reach `path` (a folder of ours whose parents someone closed). */
async function assertReachable(path: string, user: Searcher, what: string): Promise<void> {
  const blocked = await unsearchableFolder(path, user, statFolder);
  if (blocked !== undefined) {
    const { mode } = await stat(blocked);
    throw unavailable(`the postgres user cannot reach ${what} in ${path}: ${blocked} is not searchable by it (mode ${(mode & 0o777).toString(8)})`);
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** The shared-library links of a binaries `native/` folder, as listed in its `pg-symlinks.json`. */
export interface LibraryLink {
  /** Relative to the package root, e.g. `native/lib/libicuuc.so.60.2`. */
  readonly source: string;
  /** Relative to the package root, e.g. `native/lib/libicuuc.so.60`. */
  readonly target: string;
}

/** Where a listed link goes in a `native/` folder (the package's own, or a copy of it). */
export function linkPathIn(nativeDir: string, link: LibraryLink): string {
  return join(nativeDir, relative('native', link.target));
}

/**
 * Create the listed links that are missing in `nativeDir` (relative links, like the package's postinstall script).
 * Idempotent; a link another process made meanwhile is fine.
 */
export async function createLibraryLinks(nativeDir: string, links: readonly LibraryLink[]): Promise<void> {
  for (const link of links) {
    const linkPath = linkPathIn(nativeDir, link);
    if (await exists(linkPath)) continue;
    try {
      await symlink(basename(link.source), linkPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

async function readLinks(nativeDir: string): Promise<LibraryLink[]> {
  try {
    return JSON.parse(await readFile(join(nativeDir, 'pg-symlinks.json'), 'utf8')) as LibraryLink[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Folders 0755, executables 0755, other files 0644 (whatever the umask of the install was); links untouched. */
async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await openUp(path);
    else if (entry.isFile()) await chmod(path, ((await stat(path)).mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
}

async function complete(dir: string): Promise<boolean> {
  return exists(join(dir, COMPLETE_MARKER));
}

/** Remove partial copies left by starts that died while copying (an in-progress copy is younger than an hour). */
async function removeStalePartials(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.includes('.partial-') && !name.includes('.damaged-')) continue;
    const path = join(root, name);
    const info = await lstat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_PARTIAL_MS) await rm(path, { recursive: true, force: true });
  }
}

export interface BinariesCopy {
  /** The `native/` folder in the package. */
  readonly nativeDir: string;
  /** The binaries package's version: copies of different versions live side by side. */
  readonly version: string;
  readonly stateDir: string;
  /** Why a copy is needed (for the error when it cannot be made). */
  readonly reason: string;
  /** Checked to reach the copy; absent when the binaries do not run as another user (not root). */
  readonly user?: Searcher;
}

/**
 * A copy of `nativeDir` under `<stateDir>/embedded-postgres/<version>/` the postgres user can run, made once (see the
 * module comment); returns its folder (holding `bin/`, `lib/`, `share/`).
 */
export async function binariesCopy({ nativeDir, version, stateDir, reason, user }: BinariesCopy): Promise<string> {
  const root = join(stateDir, 'embedded-postgres');
  const target = join(root, version);
  if (!(await complete(target))) {
    await ensureOpenFolder(root, `the embedded Postgres binaries are copied there because ${reason}`);
    await removeStalePartials(root);
    let partial: string | undefined;
    try {
      partial = await mkdtemp(join(root, `.${version}.partial-`));
      // verbatimSymlinks: the package's relative library links stay relative (resolved, they would point back into
      // the folder the postgres user cannot enter).
      await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
      await createLibraryLinks(partial, await readLinks(partial));
      await openUp(partial);
      await writeFile(join(partial, COMPLETE_MARKER), `${nativeDir}\n`, { mode: 0o644 });
      await installCopy(partial, target);
      partial = undefined;
    } catch (error) {
      if (partial !== undefined) await rm(partial, { recursive: true, force: true });
      if (error instanceof SluiceError) throw error;
      throw unavailable(`cannot copy the embedded Postgres binaries from ${nativeDir} to ${target} (${errorText(error)}); they are copied because ${reason}`, error);
    }
  }
  if (user) await assertReachable(join(target, 'bin'), user, 'the copy of the embedded Postgres binaries');
  return target;
}

/**
 * Rename a finished copy into place. When another start got there first, keep its copy and drop ours. A folder there
 * without the marker was not renamed in by a start (ours are complete when renamed): move it aside and try again.
 */
async function installCopy(partial: string, target: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await rename(partial, target);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
    if (await complete(target)) {
      await rm(partial, { recursive: true, force: true });
      return;
    }
    const aside = join(dirname(target), `.${basename(target)}.damaged-${Date.now()}-${attempt}`);
    await rename(target, aside).catch(() => undefined); // a concurrent start may have moved it already
  }
  throw new Error(`${target} keeps existing without being a complete copy`);
}

export interface ClusterPlacement {
  /** `<data dir>/postgres` as the user gave it (absolute). */
  readonly dataDir: string;
  readonly stateDir: string;
  readonly user: PostgresUser;
}

/** The folder under `<stateDir>/clusters` for a data dir: sha256 of its real path, first 16 hex digits. */
export function clusterKey(realDataDir: string): string {
  return createHash('sha256').update(realDataDir).digest('hex').slice(0, 16);
}

/**
 * As root: where the cluster for `dataDir` lives. `dataDir` itself when the postgres user can reach its folder (nothing
 * changes), the target of `dataDir` when it is a symlink (an earlier start placed it), else a folder under
 * `<stateDir>/clusters` that `dataDir` is made a symlink to (see the module comment). `dataDir`'s parent must exist.
 */
export async function placeCluster({ dataDir, stateDir, user }: ClusterPlacement): Promise<string> {
  const found = await lstat(dataDir).catch(() => undefined);
  if (found?.isSymbolicLink()) {
    const target = resolve(dirname(dataDir), await readlink(dataDir));
    if (!(await exists(target))) await createClusterFolder(target, user, `${dataDir} links there`);
    return target;
  }
  const parent = await realpath(dirname(dataDir));
  const blocked = await unsearchableFolder(parent, user, statFolder);
  if (blocked === undefined) return dataDir;

  const why = `the postgres user cannot enter ${blocked} (mode ${((await stat(blocked)).mode & 0o777).toString(8)}), so the embedded Postgres keeps its data there`;
  if (found) {
    // A real folder in the closed place: only an empty one can be replaced by the link.
    if (await exists(join(dataDir, 'PG_VERSION'))) {
      throw unavailable(
        `${dataDir} holds a Postgres cluster the postgres user cannot reach: ${blocked} is not searchable by it; ` +
          'run Sluice from a folder other users can enter, move the cluster away, or set DATABASE_URL',
      );
    }
    if (!found.isDirectory() || (await readdir(dataDir)).length > 0) {
      throw unavailable(`${dataDir} is not empty but holds no Postgres cluster (no PG_VERSION): move it away or pick another data directory`);
    }
    await rmdir(dataDir);
  }
  const target = join(stateDir, 'clusters', clusterKey(join(parent, basename(dataDir))));
  await ensureOpenFolder(dirname(target), why);
  try {
    await symlink(target, dataDir);
  } catch (error) {
    // Another start made the link meanwhile: follow it.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return placeCluster({ dataDir, stateDir, user });
    throw unavailable(`cannot link ${dataDir} to ${target} (${errorText(error)}); ${why}`, error);
  }
  // The link is new, so a cluster already in `target` belonged to a data folder (or link) that was removed since:
  // start afresh, as removing a data folder that holds its cluster would.
  await rm(target, { recursive: true, force: true });
  await createClusterFolder(target, user, why);
  return target;
}

async function createClusterFolder(target: string, user: PostgresUser, why: string): Promise<void> {
  await ensureOpenFolder(dirname(target), why);
  try {
    await mkdir(target, { mode: 0o700 });
    await chown(target, user.uid, user.gid);
    await chmod(target, 0o700);
  } catch (error) {
    throw unavailable(`cannot create ${target} (${errorText(error)}); ${why}`, error);
  }
  await assertReachable(dirname(target), user, 'the cluster');
}
