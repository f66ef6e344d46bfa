import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGit, startGitServer } from '../src/git-server.js';
import type { GitRequestInfo, GitServer } from '../src/git-server.js';

const scratchDirs: string[] = [];
const scratch = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-git-test-'));
  scratchDirs.push(dir);
  return dir;
};
afterAll(() => Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true }))));
const git = async (...args: string[]) => runGit(args, { cwd: await scratch() });

/** One pkt-line: 4 hex digits of length (including themselves), then the payload. */
const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;

describe('startGitServer', () => {
  let server: GitServer;
  const seen: GitRequestInfo[] = [];

  beforeAll(async () => {
    server = await startGitServer({
      repos: {
        demo: undefined,
        custom: async (repo) => {
          await repo.commit('one', { 'a/b/c.txt': 'c\n' });
          await repo.git('tag', 'light');
        },
      },
      onRequest: (info) => {
        seen.push(info);
        if (info.repo === 'broken') throw new Error('hook says no');
      },
    });
  });
  afterAll(() => server?.close());

  it('serves the standard repository: main, dev, tag v1.0', async () => {
    const refs = await git('ls-remote', '--symref', server.url('demo'));
    expect(refs).toMatch(/^ref: refs\/heads\/main\tHEAD$/m);
    expect(refs).toMatch(/\trefs\/heads\/dev$/m);
    expect(refs).toMatch(/\trefs\/tags\/v1\.0$/m);
    expect(seen).toContainEqual({ method: 'GET', path: '/demo.git/info/refs', repo: 'demo', service: 'git-upload-pack' });
  });

  it('lets the git CLI clone over smart HTTP (protocol v0 and v2)', async () => {
    for (const version of ['0', '2']) {
      const dir = join(await scratch(), 'clone');
      await git('-c', `protocol.version=${version}`, 'clone', '-q', '--no-single-branch', server.url('demo'), dir);
      expect(await readFile(join(dir, 'scripts/etl_script.py'), 'utf8')).toBe('print("ETL done")\n');
      expect(await runGit(['rev-list', '--count', 'HEAD'], { cwd: dir })).toBe('3');
      expect(await runGit(['rev-list', '--count', 'origin/dev'], { cwd: dir })).toBe('4');
      expect(await runGit(['show', 'v1.0:VERSION'], { cwd: dir })).toBe('1.0');
    }
    expect(server.requests.some((r) => r.method === 'POST' && r.path === '/demo.git/git-upload-pack' && r.status === 200)).toBe(true);
  });

  it('builds repositories from a setup function, also while running', async () => {
    const refs = await git('ls-remote', server.url('custom'));
    expect(refs).toMatch(/\trefs\/heads\/main$/m);
    expect(refs).toMatch(/\trefs\/tags\/light$/m);

    await server.addRepo('later', async (repo) => {
      await repo.commit('first', { 'x.txt': '1' });
      await repo.git('checkout', '-q', '-b', 'other');
    });
    expect(await git('ls-remote', server.url('later'))).toMatch(/\trefs\/heads\/other$/m);
    expect(await runGit(['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: server.repoPath('later') })).toBe('other');
  });

  it('answers 404 for an unknown repository', async () => {
    const response = await fetch(`${server.url('nope')}/info/refs?service=git-upload-pack`);
    expect(response.status).toBe(404);
    await expect(git('ls-remote', server.url('nope'))).rejects.toThrow(/not found/);
  });

  it('inflates gzip request bodies (as git sends large negotiations)', async () => {
    const main = await runGit(['rev-parse', 'main'], { cwd: server.repoPath('demo') });
    const request = pkt(`want ${main} ofs-delta\n`) + '0000' + pkt('done\n');
    const response = await fetch(`${server.url('demo')}/git-upload-pack`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' },
      body: gzipSync(Buffer.from(request)),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-git-upload-pack-result');
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.subarray(0, 8).toString()).toBe('0008NAK\n');
    expect(body.includes(Buffer.from('PACK'))).toBe(true);
  });

  it('answers 500 when the request hook throws', async () => {
    const response = await fetch(`${server.url('broken')}/info/refs?service=git-upload-pack`);
    expect(response.status).toBe(500);
    expect(await response.text()).toContain('hook says no');
  });
});

describe('startGitServer with basic auth', () => {
  let server: GitServer;
  beforeAll(async () => {
    server = await startGitServer({ repos: { secret: undefined }, auth: { username: 'alice', password: 's3cret' } });
  });
  afterAll(() => server?.close());

  it('asks for credentials', async () => {
    const response = await fetch(`${server.url('secret')}/info/refs?service=git-upload-pack`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('rejects wrong credentials and accepts the right ones', async () => {
    const withAuth = (user: string, pass: string) => server.url('secret').replace('http://', `http://${user}:${pass}@`);
    await expect(git('ls-remote', withAuth('alice', 'nope'))).rejects.toThrow(/Authentication failed|401/i);
    expect(await git('ls-remote', withAuth('alice', 's3cret'))).toMatch(/\trefs\/heads\/main$/m);
  });
});

describe('startGitServer lifecycle', () => {
  it('delays response chunks when asked, and stops listening on close', async () => {
    const server = await startGitServer({ repos: { demo: undefined }, chunkDelayMs: 50 });
    const started = Date.now();
    const response = await fetch(`${server.url('demo')}/info/refs?service=git-upload-pack`);
    await response.arrayBuffer();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    await server.close();
    await expect(fetch(`${server.url('demo')}/info/refs`)).rejects.toThrow();
  });
});
