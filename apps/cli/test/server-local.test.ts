/**
 * `sluice server local` as a user starts it: a separate process, no DATABASE_URL (so the embedded Postgres under the
 * data folder), no REDIS_URL (the in-process queue). It prints its URL, runs a flow submitted over REST, stops on
 * SIGTERM with exit code 0, and keeps its flows across a restart.
 *
 * The folders are mkdtemp's, private (0700) and left so: as root, the postgres user cannot enter them, and the command
 * must start anyway (its cluster then lives under /var/lib/sluice/clusters, linked from the data folder).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { lstat, mkdtemp, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliBin = fileURLToPath(new URL('../bin/sluice.mjs', import.meta.url));
const asRoot = userInfo().uid === 0;
let dir: string;
const scratch: string[] = [];

/** A private folder, as `mktemp -d` makes them; removed after the file with the cluster its data folder links to. */
async function privateDir(): Promise<string> {
  const made = await mkdtemp(join(tmpdir(), 'sluice-local-'));
  scratch.push(made);
  expect((await stat(made)).mode & 0o777).toBe(0o700);
  return made;
}

beforeAll(async () => {
  dir = await privateDir();
});

afterAll(async () => {
  for (const made of scratch) {
    for (const link of [join(made, 'data', 'postgres'), join(made, '.sluice', 'postgres')]) {
      const target = await readlink(link).catch(() => undefined);
      if (target !== undefined) await rm(target, { recursive: true, force: true });
    }
    await rm(made, { recursive: true, force: true });
  }
});

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startLocal(cwd = dir, args = ['--data-dir', join(dir, 'data')]): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.SLUICE_DATA_DIR;
  const child = spawn(process.execPath, [cliBin, 'server', 'local', '--port', '0', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server local did not start in 60 s:\n${chunks.join('')}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk.toString());
      const match = /Sluice is running at (http:\/\/\S+)/.exec(chunks.join(''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server local exited with ${code}:\n${chunks.join('')}`));
    });
  });
  return { child, url, output: () => chunks.join(''), exited };
}

describe('sluice server local', () => {
  it('starts with an embedded Postgres, runs a flow over REST, stops on SIGTERM, keeps flows across restarts', async () => {
    const first = await startLocal();
    try {
      expect(first.output()).toContain('embedded Postgres');
      expect(first.output()).toContain('queue: in-process');
      const flow = 'id: hello\nnamespace: demo\ntasks:\n  - id: say\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - echo hello from local\n';
      const saved = await fetch(`${first.url}/api/v1/flows`, { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: flow });
      expect(saved.status).toBe(200);
      const executed = await fetch(`${first.url}/api/v1/executions/demo/hello?wait=true`, { method: 'POST' });
      const execution = (await executed.json()) as { id: string; state: { current: string }; taskRunList: { workerId?: string }[] };
      expect(execution.state.current).toBe('SUCCESS');
      expect(execution.taskRunList[0]?.workerId).toBeTruthy();
      const logs = await (await fetch(`${first.url}/api/v1/logs/${execution.id}/download`)).text();
      expect(logs).toContain('hello from local');
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);

    const second = await startLocal();
    try {
      const found = await fetch(`${second.url}/api/v1/flows/demo/hello`);
      expect(found.status).toBe(200);
      const search = (await (await fetch(`${second.url}/api/v1/executions/search?namespace=demo`)).json()) as { total: number };
      expect(search.total).toBe(1);
    } finally {
      second.child.kill('SIGTERM');
    }
    expect(await second.exited).toBe(0);
  }, 180_000);

  it('starts from a private (0700) folder with the default data folder and answers /health', async () => {
    const home = await privateDir();
    const started = await startLocal(home, []);
    try {
      const health = await fetch(`${started.url}/health`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { status: string }).status).toBe('UP');
      const dataDir = join(home, '.sluice', 'postgres');
      if (asRoot) {
        // The output names where the cluster really is, and the data folder links there.
        const cluster = await readlink(dataDir);
        expect(cluster).toMatch(/^\/var\/lib\/sluice\/clusters\/[0-9a-f]{16}$/);
        expect(started.output()).toContain(`database: embedded Postgres in ${cluster} (linked from ${dataDir})`);
      } else {
        expect((await lstat(dataDir)).isDirectory()).toBe(true);
        expect(started.output()).toContain(`database: embedded Postgres in ${dataDir};`);
      }
      expect(started.output()).toContain(`storage: ${join(home, '.sluice', 'storage')}`); // the rest stays in the folder
      expect((await stat(home)).mode & 0o777).toBe(0o700);
    } finally {
      started.child.kill('SIGTERM');
    }
    expect(await started.exited).toBe(0);
  }, 120_000);
});
