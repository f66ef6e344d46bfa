import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSluiceError } from '@sluice/core';
import { createMockTaskContext } from '@sluice/plugin-api/testing';
import type { MockContextOptions, MockTaskContext } from '@sluice/plugin-api/testing';
import { cloneTask } from '../src/clone.js';
import { runGit, startGitServer } from '@sluice/testing';
import type { GitServer } from '@sluice/testing';

const username = 'robot';
const password = 'pa55-W0rd-never-logged';

let server: GitServer;
let authServer: GitServer;
let slowServer: GitServer;
let stallServer: GitServer;
let releaseStall: () => void = () => undefined;

beforeAll(async () => {
  [server, authServer, slowServer] = await Promise.all([
    startGitServer({ repos: { demo: undefined } }),
    startGitServer({ repos: { private: undefined }, auth: { username, password } }),
    startGitServer({
      // Random bytes do not compress: a pack of a few MB, sent slowly, so a clone is surely mid-transfer.
      repos: { big: async (repo) => void (await repo.commit('big', { 'blob.bin': randomBytes(3 * 1024 * 1024) })) },
      chunkDelayMs: 100,
    }),
  ]);
  const stalled = new Promise<void>((resolve) => (releaseStall = resolve));
  stallServer = await startGitServer({
    repos: { demo: undefined },
    onRequest: (info) => (info.method === 'POST' ? stalled : undefined),
  });
});

const tempDirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  releaseStall();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  await Promise.all([server?.close(), authServer?.close(), slowServer?.close(), stallServer?.close()]);
});

async function clone(properties: Record<string, unknown>, options: MockContextOptions = {}) {
  const context = await createMockTaskContext({ taskId: 'clone', workingDirectory: await tempDir('sluice-clone-'), ...options });
  const result = await cloneTask.run!({ id: 'clone', type: cloneTask.type, ...properties }, context);
  return { context, result, directory: String(result.outputs?.directory) };
}

async function cloneError(properties: Record<string, unknown>, options: MockContextOptions = {}) {
  const context = await createMockTaskContext({ taskId: 'clone', workingDirectory: await tempDir('sluice-clone-'), ...options });
  const error = await cloneTask.run!({ id: 'clone', type: cloneTask.type, ...properties }, context).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) throw new Error('expected the clone to fail');
  return { context, error: error as Error };
}

const git = (cwd: string, ...args: string[]) => runGit(args, { cwd });
const read = (dir: string, file: string) => readFile(join(dir, file), 'utf8');
const commitCount = (dir: string) => git(dir, 'rev-list', '--count', 'HEAD').then(Number);
const bareRev = (rev: string) => runGit(['rev-parse', rev], { cwd: server.repoPath('demo') });

function expectNoSecret(context: MockTaskContext, error?: unknown) {
  const texts = context.logs.map((l) => l.message);
  if (error instanceof Error) texts.push(error.message, String(error.cause ?? ''), JSON.stringify(error));
  for (const text of texts) expect(text).not.toContain(password);
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('Clone', () => {
  it('clones the remote HEAD into the working directory with depth 1', async () => {
    const { context, directory } = await clone({ url: server.url('demo') });
    expect(directory).toBe(context.workingDirectory);
    expect(await read(directory, 'VERSION')).toBe('1.1\n');
    expect(await read(directory, 'scripts/etl_script.py')).toContain('print(');
    expect(await git(directory, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(await git(directory, 'rev-parse', 'HEAD')).toBe(await bareRev('main'));
    expect(await commitCount(directory)).toBe(1);
  });

  it('checks out a branch', async () => {
    const { directory } = await clone({ url: server.url('demo'), branch: 'dev' });
    expect(await read(directory, 'VERSION')).toBe('dev\n');
    expect(await read(directory, 'scripts/dev_only.py')).toContain('dev only');
    expect(await git(directory, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('dev');
    expect(await commitCount(directory)).toBe(1);
  });

  it('honours depth', async () => {
    const { directory } = await clone({ url: server.url('demo'), depth: 2 });
    expect(await commitCount(directory)).toBe(2);
    const full = await clone({ url: server.url('demo'), branch: 'dev', depth: 100 });
    expect(await commitCount(full.directory)).toBe(4);
  });

  it('checks out a tag with its history, ignoring depth', async () => {
    const { directory } = await clone({ url: server.url('demo'), tag: 'v1.0', depth: 1 });
    expect(await read(directory, 'VERSION')).toBe('1.0\n');
    expect(await git(directory, 'rev-parse', 'HEAD')).toBe(await bareRev('v1.0^{commit}'));
    expect(await commitCount(directory)).toBe(2);
  });

  it('checks out a commit by full or short SHA, on any branch', async () => {
    const first = await bareRev('main~2');
    const { directory } = await clone({ url: server.url('demo'), commit: first });
    expect(await git(directory, 'rev-parse', 'HEAD')).toBe(first);
    expect(await read(directory, 'VERSION')).toBe('0.1\n');
    await expect(stat(join(directory, 'scripts'))).rejects.toThrow();

    const devTip = await bareRev('dev');
    const short = await clone({ url: server.url('demo'), commit: devTip.slice(0, 8).toUpperCase() });
    expect(await git(short.directory, 'rev-parse', 'HEAD')).toBe(devTip);
    expect(await read(short.directory, 'VERSION')).toBe('dev\n');
  });

  it('reports an unknown commit', async () => {
    const { error } = await cloneError({ url: server.url('demo'), commit: 'deadbeefdeadbeef' });
    expect(isSluiceError(error) && error.code).toBe('SLU_TASK_GIT_FAILED');
    expect(error.message).toContain('commit deadbeefdeadbeef not found');
  });

  it('renders expressions in properties', async () => {
    const { directory } = await clone(
      { url: '{{ vars.repo }}', branch: "{{ 'de' ~ 'v' }}", depth: '{{ vars.depth }}' },
      { variables: { vars: { repo: server.url('demo'), depth: 2 } } },
    );
    expect(await read(directory, 'VERSION')).toBe('dev\n');
    expect(await commitCount(directory)).toBe(2);
  });

  it('clones into a directory inside the working directory', async () => {
    const { context, directory } = await clone({ url: server.url('demo'), directory: 'repos/demo' });
    expect(directory).toBe(join(context.workingDirectory, 'repos', 'demo'));
    expect(await read(directory, 'scripts/etl_script.py')).toContain('print(');
  });

  it.each(['../outside', '/tmp/elsewhere', 'a/../../outside'])('refuses directory %s outside the working directory', async (directory) => {
    const { context, error } = await cloneError({ url: server.url('demo'), directory });
    expect(isSluiceError(error) && error.code).toBe('SLU_TASK_INVALID_PATH');
    expect(error.message).toContain(directory);
    expect(await readdir(context.workingDirectory)).toEqual([]);
  });

  it('refuses a directory reached through a symlink that leaves the working directory', async () => {
    const workingDirectory = await tempDir('sluice-clone-');
    const outside = await tempDir('sluice-outside-');
    await symlink(outside, join(workingDirectory, 'link'));
    const { error } = await cloneError({ url: server.url('demo'), directory: 'link/repo' }, { workingDirectory });
    expect(isSluiceError(error) && error.code).toBe('SLU_TASK_INVALID_PATH');
    expect(await readdir(outside)).toEqual([]);
  });

  it('logs progress at INFO, throttled', async () => {
    const { context } = await clone({ url: server.url('demo') });
    const info = context.logs.filter((l) => l.level === 'INFO').map((l) => l.message);
    expect(info.some((m) => /^Receiving objects: 100% \(\d+\/\d+\)$/.test(m))).toBe(true);
    expect(info.some((m) => m.startsWith('Cloned '))).toBe(true);
    expect(info.length).toBeLessThan(20);
  });

  describe('authentication', () => {
    it('clones with username and password', async () => {
      const { context, directory } = await clone(
        { url: authServer.url('private'), username, password: "{{ secret('GIT_PASSWORD') }}" },
        { secrets: { GIT_PASSWORD: password } },
      );
      expect(await read(directory, 'VERSION')).toBe('1.1\n');
      expectNoSecret(context);
    });

    it('fails fast on a wrong password, without showing it', async () => {
      const before = authServer.requests.length;
      const { context, error } = await cloneError({ url: authServer.url('private'), username, password: `${password}-wrong` });
      expect(isSluiceError(error) && error.code).toBe('SLU_TASK_GIT_FAILED');
      expect(error.message).toBe(`git clone of ${authServer.url('private')} failed: authentication failed: check username and password (or token)`);
      // One anonymous try, one with the credentials, then stop (no retry loop).
      expect(authServer.requests.length - before).toBe(2);
      expectNoSecret(context, error);
      expect(error.message).not.toContain('-wrong');
    });

    it('fails when credentials are missing', async () => {
      const { error } = await cloneError({ url: authServer.url('private') });
      expect(error.message).toContain('authentication failed');
    });

    it('accepts credentials in the URL and never shows them', async () => {
      const url = authServer.url('private').replace('http://', `http://${username}:${password}@`);
      const { context, directory } = await clone({ url });
      expect(await read(directory, 'VERSION')).toBe('1.1\n');
      expectNoSecret(context);
      expect(context.logs.some((l) => l.message.includes(authServer.url('private')))).toBe(true);

      const bad = url.replace(password, `${password}-x`);
      const failed = await cloneError({ url: bad, branch: 'nope' });
      expect(failed.error.message).toContain('authentication failed');
      expectNoSecret(failed.context, failed.error);
      expect(failed.error.message).not.toContain(username + ':');
    });
  });

  describe('failures', () => {
    it('reports a missing repository', async () => {
      const { error } = await cloneError({ url: server.url('missing') });
      expect(isSluiceError(error) && error.code).toBe('SLU_TASK_GIT_FAILED');
      expect(error.message).toBe(`git clone of ${server.url('missing')} failed: repository not found`);
    });

    it('reports a missing branch and lists the remote branches', async () => {
      const { context, error } = await cloneError({ url: server.url('demo'), branch: 'nope', directory: 'out' });
      expect(error.message).toContain('branch "nope" not found (remote has: ');
      expect(error.message).toMatch(/remote has: (dev, main|main, dev)\)/);
      // A failed clone leaves nothing behind.
      expect(await readdir(context.workingDirectory)).toEqual([]);
    });

    it('reports a missing tag', async () => {
      const { error } = await cloneError({ url: server.url('demo'), tag: 'v9' });
      expect(error.message).toContain('tag "v9" not found');
    });

    it('reports an unreachable host', async () => {
      const port = await closedPort();
      const { error } = await cloneError({ url: `http://127.0.0.1:${port}/demo.git` });
      expect(isSluiceError(error) && error.code).toBe('SLU_TASK_GIT_FAILED');
      expect(error.message).toContain(`cannot reach host 127.0.0.1:${port} (ECONNREFUSED)`);
    });

    it('refuses non-HTTP URLs', async () => {
      const { error } = await cloneError({ url: 'git@github.com:kestra-io/examples.git' });
      expect(error.message).toBe('git clone of git@github.com:kestra-io/examples.git failed: SSH URLs are not supported yet: use the https:// URL with username and password (or token)');
      const ssh = await cloneError({ url: 'ssh://git@example.com/repo.git' });
      expect(ssh.error.message).toContain('only http:// and https:// URLs are supported');
    });

    it('times out when the server stops answering (readTimeout)', async () => {
      const started = Date.now();
      const { error } = await cloneError({ url: stallServer.url('demo'), readTimeout: 300 });
      expect(error.message).toContain('timed out: no data received within 300 ms');
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('warns about unsupported options', async () => {
      const { context } = await clone({ url: server.url('demo'), cloneSubmodules: true });
      expect(context.logs).toContainEqual({ level: 'WARN', message: expect.stringContaining('cloneSubmodules is not supported') });
    });
  });

  describe('cancellation', () => {
    it('stops promptly when aborted mid-transfer', async () => {
      const controller = new AbortController();
      const reason = new Error('killed by test');
      const before = slowServer.requests.length;
      const context = await createMockTaskContext({ signal: controller.signal, workingDirectory: await tempDir('sluice-clone-') });
      const run = cloneTask.run!({ url: slowServer.url('big') }, context);
      // Abort once the pack is on its way (the upload-pack POST has answered and its body is trickling in).
      const deadline = Date.now() + 10_000;
      while (!slowServer.requests.slice(before).some((r) => r.method === 'POST') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const abortedAt = Date.now();
      controller.abort(reason);
      await expect(run).rejects.toBe(reason);
      expect(Date.now() - abortedAt).toBeLessThan(1_000);
      expect(await readdir(context.workingDirectory)).toEqual([]);
    });

    it('stops promptly when aborted while the server stalls', async () => {
      const controller = new AbortController();
      const context = await createMockTaskContext({ signal: controller.signal, workingDirectory: await tempDir('sluice-clone-') });
      const run = cloneTask.run!({ url: stallServer.url('demo'), directory: 'x' }, context);
      setTimeout(() => controller.abort(new Error('timeout by test')), 300);
      await expect(run).rejects.toThrow('timeout by test');
      expect(await readdir(context.workingDirectory)).toEqual([]);
    });

    it('does nothing when already aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('early'));
      const before = server.requests.length;
      const context = await createMockTaskContext({ signal: controller.signal, workingDirectory: await tempDir('sluice-clone-') });
      await expect(cloneTask.run!({ url: server.url('demo') }, context)).rejects.toThrow('early');
      expect(server.requests.length).toBe(before);
    });
  });

  it('runs from a WorkingDirectory-style shared directory next to existing files', async () => {
    const workingDirectory = await tempDir('sluice-clone-');
    await mkdir(join(workingDirectory, 'inputs'));
    const { directory } = await clone({ url: server.url('demo') }, { workingDirectory });
    expect(directory).toBe(workingDirectory);
    expect((await readdir(directory)).sort()).toEqual(['.git', 'README.md', 'VERSION', 'data', 'inputs', 'scripts']);
  });
});
