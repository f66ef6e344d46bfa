import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceError } from '@sluice/core';
import { createDb, hydrateBinaries, migrate, startEmbeddedPostgres } from '@sluice/db';
import type { EmbeddedPostgres } from '@sluice/db';
import { binariesCopy, maySearch, postgresUser, statFolder, unsearchableFolder } from '../src/embedded-postgres-placement.js';
import type { FolderMode } from '../src/embedded-postgres-placement.js';
import { MIGRATIONS_DIR } from './postgres-fixture.js';

// Real binaries from embedded-postgres. As root the server runs as the user `postgres`: in a folder that user can enter
// (openDir) nothing moves; in a private one (privateDir: mkdtemp makes it 0700, and it stays so) the cluster moves to
// /var/lib/sluice/clusters/<key> behind a symlink. Neither folder is opened up by the tests.
const asRoot = userInfo().uid === 0;
const scratch: string[] = [];
const running: EmbeddedPostgres[] = [];
afterAll(async () => {
  for (const server of running) await server.stop();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** A folder other users can enter, as most are (created 0755 under the usual umask 022; never chmod-ed). */
async function openDir(): Promise<string> {
  const dir = join(tmpdir(), `sluice-embedded-open-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { mode: 0o755 });
  scratch.push(dir);
  expect((await stat(dir)).mode & 0o777).toBe(0o755);
  return dir;
}

/** A private folder, as `mktemp -d` makes them (0700). */
async function privateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-embedded-private-'));
  scratch.push(dir);
  expect((await stat(dir)).mode & 0o777).toBe(0o700);
  return dir;
}

/**
 * Whether the server, as root, must run the binaries from a copy: the checkout itself sits in a folder the postgres
 * user cannot enter (CI clones into a `mktemp -d` folder, 0700). False when not root.
 */
async function binariesBlocked(): Promise<boolean> {
  if (!asRoot) return false;
  return (await unsearchableFolder(await realpath(await hydrateBinaries()), await postgresUser(), statFolder)) !== undefined;
}

/** Remove, after the file, the relocated cluster a data dir links to (it lives outside the scratch folders). */
function forgetCluster(server: EmbeddedPostgres): void {
  if (server.clusterDir !== server.dataDir) scratch.push(server.clusterDir);
}

async function query<T>(databaseUrl: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const flowYaml = 'id: kept\nnamespace: embedded.test\n# survives restarts\ntasks: []\n';

describe('startEmbeddedPostgres', () => {
  it('creates the cluster once, serves migrations and Prisma, and keeps the data across a restart', async () => {
    const dataDir = join(await openDir(), '.sluice', 'postgres');

    let started = performance.now();
    const first = await startEmbeddedPostgres({ dataDir });
    running.push(first);
    const firstMs = performance.now() - started;
    expect(first.initialised).toBe(true);
    // An open folder: the cluster stays in it. The binaries run from node_modules, as they always did, unless the
    // checkout itself is private (then from their copy in the state folder).
    expect(first.clusterDir).toBe(dataDir);
    expect((await lstat(dataDir)).isDirectory()).toBe(true);
    if (await binariesBlocked()) expect(first.binariesDir).toMatch(/^\/var\/lib\/sluice\/embedded-postgres\/[^/]+$/);
    else expect(first.binariesDir).toBe(await hydrateBinaries());
    expect(first.databaseUrl).toMatch(/^postgres:\/\/sluice:[^@]+@127\.0\.0\.1:\d+\/sluice$/);

    expect((await migrate({ databaseUrl: first.databaseUrl, migrationsDir: MIGRATIONS_DIR })).applied.length).toBeGreaterThan(0);
    const db = createDb({ databaseUrl: first.databaseUrl });
    try {
      await db.flows.save('embedded.test', 'kept', flowYaml, { id: 'kept', namespace: 'embedded.test', tasks: [] });
    } finally {
      await db.close();
    }
    await first.stop();
    await first.stop(); // idempotent

    started = performance.now();
    const second = await startEmbeddedPostgres({ dataDir });
    running.push(second);
    const restartMs = performance.now() - started;
    expect(second.initialised).toBe(false);
    expect((await migrate({ databaseUrl: second.databaseUrl, migrationsDir: MIGRATIONS_DIR })).applied).toEqual([]);
    const again = createDb({ databaseUrl: second.databaseUrl });
    try {
      const flow = await again.flows.latest('embedded.test', 'kept');
      expect(flow).toMatchObject({ revision: 1, source: flowYaml });
    } finally {
      await again.close();
    }
    await second.stop();
    // Timings for docs/benchmarks.md; no assertion (machine-dependent).
    console.info(`embedded Postgres: first start (initdb) ${firstMs.toFixed(0)} ms, restart ${restartMs.toFixed(0)} ms`);
  }, 120_000);

  it('names a taken port as the cause', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const error = await startEmbeddedPostgres({ dataDir: join(await openDir(), 'pg'), port }).then(
        (server) => {
          running.push(server);
          return undefined;
        },
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe('SLU_DB_UNAVAILABLE');
      expect((error as SluiceError).message).toContain(`port ${port} on 127.0.0.1 is already taken`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 120_000);

  it('refuses a non-empty folder that holds no cluster, touching nothing', async () => {
    const dataDir = join(await openDir(), 'not-postgres');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'notes.txt'), 'mine');
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toMatchObject({
      code: 'SLU_DB_UNAVAILABLE',
      message: expect.stringContaining('holds no Postgres cluster') as unknown,
    });
  });

  it('recreates the shared-library links the skipped postinstall would have made, idempotently', async () => {
    const nativeDir = await hydrateBinaries();
    const link = join(nativeDir, 'lib', 'libicuuc.so.60');
    await rm(link, { force: true });
    expect(await hydrateBinaries()).toBe(nativeDir);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('libicuuc.so.60.2');
    expect(await hydrateBinaries()).toBe(nativeDir);
  });

  it('starts from a private (0700) folder: as root the cluster moves behind a symlink, and keeps its rows across restarts', async () => {
    const home = await privateDir();
    const dataDir = join(home, '.sluice', 'postgres');

    let started = performance.now();
    const first = await startEmbeddedPostgres({ dataDir });
    running.push(first);
    forgetCluster(first);
    const firstMs = performance.now() - started;
    expect(first.initialised).toBe(true);
    if (asRoot) {
      const key = createHash('sha256').update(join(await realpath(dirname(dataDir)), 'postgres')).digest('hex').slice(0, 16);
      expect(first.clusterDir).toBe(join('/var/lib/sluice/clusters', key));
      expect(await readlink(dataDir)).toBe(first.clusterDir);
      const cluster = await stat(first.clusterDir);
      expect(cluster.uid).toBe(Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()));
      expect(cluster.mode & 0o777).toBe(0o700);
    } else {
      expect(first.clusterDir).toBe(dataDir); // the current user runs Postgres: nothing to move
    }
    expect((await stat(home)).mode & 0o777).toBe(0o700); // never opened up
    await query(first.databaseUrl, 'CREATE TABLE kept (note text)');
    await query(first.databaseUrl, "INSERT INTO kept VALUES ('survives restarts')");
    await first.stop();

    started = performance.now();
    const second = await startEmbeddedPostgres({ dataDir });
    running.push(second);
    const restartMs = performance.now() - started;
    expect(second.initialised).toBe(false);
    expect(second.clusterDir).toBe(first.clusterDir);
    expect(await query(second.databaseUrl, 'SELECT note FROM kept')).toEqual([{ note: 'survives restarts' }]);
    await second.stop();

    // Removing the data folder's cluster (as root: the link) resets it, as for a cluster kept in the folder.
    await rm(dataDir, { recursive: true, force: true });
    const third = await startEmbeddedPostgres({ dataDir });
    running.push(third);
    expect(third.initialised).toBe(true);
    expect(third.clusterDir).toBe(first.clusterDir);
    expect(await query(third.databaseUrl, "SELECT tablename FROM pg_tables WHERE tablename = 'kept'")).toEqual([]);
    await third.stop();
    console.info(`embedded Postgres from a private folder: first start ${firstMs.toFixed(0)} ms, restart ${restartMs.toFixed(0)} ms`);
  }, 180_000);

  it('runs the binaries from a copy in the state folder (what a checkout the postgres user cannot enter gets)', async () => {
    const stateDir = join(await openDir(), 'state');
    const dataDir = join(await privateDir(), '.sluice', 'postgres');
    const nativeDir = await hydrateBinaries();
    const { version } = JSON.parse(await readFile(join(dirname(nativeDir), 'package.json'), 'utf8')) as { version: string };

    let started = performance.now();
    const first = await startEmbeddedPostgres({ dataDir, stateDir, copyBinaries: true });
    running.push(first);
    const firstMs = performance.now() - started;
    expect(first.initialised).toBe(true);
    expect(first.binariesDir).toBe(join(stateDir, 'embedded-postgres', version));
    expect(await readlink(join(first.binariesDir, 'lib', 'libicuuc.so.60'))).toBe('libicuuc.so.60.2');
    const binary = await stat(join(first.binariesDir, 'bin', 'postgres'));
    expect(binary.mode & 0o777).toBe(0o755);
    expect(binary.uid).toBe(userInfo().uid);
    expect(first.clusterDir).toBe(asRoot ? join(stateDir, 'clusters', first.clusterDir.split('/').pop()!) : dataDir);
    await query(first.databaseUrl, 'CREATE TABLE kept (note text)');
    await query(first.databaseUrl, "INSERT INTO kept VALUES ('from the copy')");
    await first.stop();

    started = performance.now();
    const second = await startEmbeddedPostgres({ dataDir, stateDir, copyBinaries: true });
    running.push(second);
    const restartMs = performance.now() - started;
    expect(second.initialised).toBe(false);
    expect(second.binariesDir).toBe(first.binariesDir);
    expect((await stat(join(second.binariesDir, 'bin', 'postgres'))).ino).toBe(binary.ino); // reused, not copied again
    expect(await query(second.databaseUrl, 'SELECT note FROM kept')).toEqual([{ note: 'from the copy' }]);
    await second.stop();
    await second.stop(); // idempotent
    console.info(`embedded Postgres from the binaries copy: first start (copy + initdb) ${firstMs.toFixed(0)} ms, restart ${restartMs.toFixed(0)} ms`);
  }, 180_000);

  it('names the folder it cannot create when the state folder is unusable', async () => {
    const blocker = join(await openDir(), 'a-file');
    await writeFile(blocker, '');
    const stateDir = join(blocker, 'state');
    await expect(startEmbeddedPostgres({ dataDir: join(await openDir(), 'pg'), stateDir, copyBinaries: true })).rejects.toMatchObject({
      code: 'SLU_DB_UNAVAILABLE',
      message: expect.stringContaining(`cannot create ${join(stateDir, 'embedded-postgres')}`) as unknown,
    });

    const home = await privateDir();
    const attempt = startEmbeddedPostgres({ dataDir: join(home, 'pg'), stateDir });
    if (asRoot) {
      // The cluster cannot move out of the private folder: the reason names both folders, and nothing is left behind.
      const error = (await attempt.then(
        () => undefined,
        (caught: unknown) => caught,
      )) as SluiceError;
      expect(error).toBeInstanceOf(SluiceError);
      expect(error.code).toBe('SLU_DB_UNAVAILABLE');
      if (await binariesBlocked()) {
        // A private checkout: its binaries need the state folder first, and the reason says so.
        expect(error.message).toContain(`cannot create ${join(stateDir, 'embedded-postgres')}`);
      } else {
        expect(error.message).toContain(`cannot create ${join(stateDir, 'clusters')}`);
        expect(error.message).toContain(`the postgres user cannot enter ${home}`);
      }
      await expect(lstat(join(home, 'pg'))).rejects.toMatchObject({ code: 'ENOENT' });
    } else {
      const server = await attempt; // not root: Postgres runs as this user, nothing moves and the state folder is unused
      running.push(server);
      expect(server.clusterDir).toBe(join(home, 'pg'));
      await server.stop();
    }
  }, 120_000);
});

describe('reachability for the postgres user', () => {
  const postgres = { uid: 101, gids: [104] };
  const folders: Record<string, FolderMode> = {
    '/': { mode: 0o40755, uid: 0, gid: 0 },
    '/root': { mode: 0o40700, uid: 0, gid: 0 },
    '/root/sluice': { mode: 0o40755, uid: 0, gid: 0 },
    '/tmp': { mode: 0o41777, uid: 0, gid: 0 },
    '/tmp/tmp.private': { mode: 0o40700, uid: 0, gid: 0 },
    '/tmp/tmp.private/inner': { mode: 0o40700, uid: 0, gid: 0 },
    '/tmp/open': { mode: 0o40755, uid: 0, gid: 0 },
    '/srv': { mode: 0o40750, uid: 0, gid: 104 },
    '/srv/mine': { mode: 0o40077, uid: 101, gid: 104 },
  };
  const statFake = (path: string): Promise<FolderMode> => {
    const found = folders[path];
    return found ? Promise.resolve(found) : Promise.reject(Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' }));
  };

  it('applies the owner bits to the owner, the group bits to members, the other bits to the rest', () => {
    expect(maySearch({ mode: 0o700, uid: 0, gid: 0 }, postgres)).toBe(false);
    expect(maySearch({ mode: 0o701, uid: 0, gid: 0 }, postgres)).toBe(true);
    expect(maySearch({ mode: 0o710, uid: 0, gid: 104 }, postgres)).toBe(true);
    expect(maySearch({ mode: 0o701, uid: 0, gid: 104 }, postgres)).toBe(false); // a member gets the group bits only
    expect(maySearch({ mode: 0o077, uid: 101, gid: 104 }, postgres)).toBe(false); // the owner gets the owner bits only
    expect(maySearch({ mode: 0o100, uid: 101, gid: 0 }, postgres)).toBe(true);
    expect(maySearch({ mode: 0o700, uid: 5, gid: 5 }, { uid: 0, gids: [0] })).toBe(true); // root enters anything
  });

  it('names the topmost folder that blocks the way, or none', async () => {
    expect(await unsearchableFolder('/tmp/open', postgres, statFake)).toBeUndefined();
    expect(await unsearchableFolder('/root/sluice', postgres, statFake)).toBe('/root');
    expect(await unsearchableFolder('/tmp/tmp.private/inner', postgres, statFake)).toBe('/tmp/tmp.private');
    expect(await unsearchableFolder('/srv', postgres, statFake)).toBeUndefined();
    expect(await unsearchableFolder('/srv/mine', postgres, statFake)).toBe('/srv/mine');
    expect(await unsearchableFolder('/', postgres, statFake)).toBeUndefined();
    await expect(unsearchableFolder('/tmp/missing', postgres, statFake)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('sees a mkdtemp folder as closed to the postgres user', async () => {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    const home = await privateDir();
    expect(await unsearchableFolder(home, { uid: id('-u'), gids: [id('-g')] }, stat)).toBe(home);
  });
});

describe('binariesCopy', () => {
  async function fakeNative(): Promise<string> {
    const nativeDir = join(await openDir(), 'native');
    await mkdir(join(nativeDir, 'bin'), { recursive: true });
    await mkdir(join(nativeDir, 'lib'));
    await mkdir(join(nativeDir, 'share'), { mode: 0o700 }); // as a umask 077 install would make them
    await writeFile(join(nativeDir, 'bin', 'postgres'), '#!/bin/sh\n', { mode: 0o700 });
    await writeFile(join(nativeDir, 'lib', 'libx.so.1.2'), 'lib', { mode: 0o600 });
    await writeFile(join(nativeDir, 'share', 'postgres.bki'), 'bki', { mode: 0o600 });
    await symlink('libx.so.1.2', join(nativeDir, 'lib', 'libx.so')); // a link the postinstall made
    // One the skipped postinstall did not make:
    await writeFile(join(nativeDir, 'pg-symlinks.json'), JSON.stringify([{ source: 'native/lib/libx.so.1.2', target: 'native/lib/libx.so.1' }]));
    return nativeDir;
  }

  it('copies a native/ tree once, complete, with relative library links and open modes, when starts race', async () => {
    const nativeDir = await fakeNative();
    const stateDir = join(await openDir(), 'state');
    const copy = join(stateDir, 'embedded-postgres', '1.2.3');
    const copies = await Promise.all(Array.from({ length: 4 }, () => binariesCopy({ nativeDir, version: '1.2.3', stateDir, reason: 'a test' })));
    expect(copies).toEqual([copy, copy, copy, copy]);
    expect(await readdir(join(stateDir, 'embedded-postgres'))).toEqual(['1.2.3']); // no partial copy left over
    expect(await readlink(join(copy, 'lib', 'libx.so'))).toBe('libx.so.1.2');
    expect(await readlink(join(copy, 'lib', 'libx.so.1'))).toBe('libx.so.1.2');
    expect(await readFile(join(copy, 'lib', 'libx.so.1'), 'utf8')).toBe('lib');
    for (const [path, mode] of [
      [stateDir, 0o755],
      [join(stateDir, 'embedded-postgres'), 0o755],
      [copy, 0o755],
      [join(copy, 'share'), 0o755],
      [join(copy, 'bin', 'postgres'), 0o755],
      [join(copy, 'lib', 'libx.so.1.2'), 0o644],
      [join(copy, 'share', 'postgres.bki'), 0o644],
    ] as const) {
      expect([path, (await stat(path)).mode & 0o777]).toEqual([path, mode]);
    }
    // Present and complete: reused as is.
    await writeFile(join(nativeDir, 'share', 'postgres.bki'), 'changed');
    expect(await binariesCopy({ nativeDir, version: '1.2.3', stateDir, reason: 'a test' })).toBe(copy);
    expect(await readFile(join(copy, 'share', 'postgres.bki'), 'utf8')).toBe('bki');
  });

  it('replaces a folder that is not a complete copy, and fails naming the folder it cannot create', async () => {
    const nativeDir = await fakeNative();
    const stateDir = join(await openDir(), 'state');
    const copy = join(stateDir, 'embedded-postgres', '1.2.3');
    await mkdir(join(copy, 'bin'), { recursive: true }); // half a copy, made by hand or damaged
    expect(await binariesCopy({ nativeDir, version: '1.2.3', stateDir, reason: 'a test' })).toBe(copy);
    expect(await readFile(join(copy, 'bin', 'postgres'), 'utf8')).toBe('#!/bin/sh\n');

    const blocker = join(await openDir(), 'a-file');
    await writeFile(blocker, '');
    await expect(binariesCopy({ nativeDir, version: '1.2.3', stateDir: join(blocker, 'state'), reason: 'a test' })).rejects.toMatchObject({
      code: 'SLU_DB_UNAVAILABLE',
      message: expect.stringContaining(`cannot create ${join(blocker, 'state', 'embedded-postgres')}`) as unknown,
    });
  });
});
