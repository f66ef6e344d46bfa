/**
 * `sluice server local` as a user starts it: a separate process, no DATABASE_URL (so the embedded Postgres under the
 * data folder), no REDIS_URL (the in-process queue). It prints its URL, runs a flow submitted over REST, stops on
 * SIGTERM with exit code 0, and keeps its flows across a restart.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliBin = fileURLToPath(new URL('../bin/sluice.mjs', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-local-'));
  await chmod(dir, 0o755); // as root, the embedded Postgres runs as the postgres user and must enter it
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startLocal(): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const child = spawn(process.execPath, [cliBin, 'server', 'local', '--port', '0', '--data-dir', join(dir, 'data')], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
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
});
