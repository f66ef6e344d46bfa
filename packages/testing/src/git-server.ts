/**
 * A real git server over HTTP for tests: a Node `http` server on 127.0.0.1 (random port) that runs
 * `git http-backend` as a CGI program for every request, so clients talk to the same smart-HTTP implementation
 * GitHub-like hosts speak (protocol v0/v1/v2, gzip request bodies, 404 for unknown repositories).
 *
 * Repositories are bare repos under a temporary project root, built with the `git` CLI from a setup function that
 * writes commits into an ordinary working repository. Without a setup function a repository gets the standard
 * content described at {@link standardRepo}.
 *
 * What it leaves out: HTTPS, push (http-backend's receive-pack is disabled unless a client authenticates, and nothing
 * here enables it), dumb HTTP. It needs the `git` CLI on PATH; a missing `git` fails the fixture, never skips it.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';

/** A non-bare working repository on branch `main` that a setup function fills with commits. */
export interface RepoBuilder {
  /** Working tree of the repository (absolute path). */
  readonly dir: string;
  /** Run `git <args>` in `dir` with a fixed author, committer and dates; resolves with trimmed stdout. */
  git(...args: string[]): Promise<string>;
  /** Write a file (parent folders are created) without staging it. */
  writeFile(path: string, content: string | Uint8Array): Promise<void>;
  /** Write `files`, stage everything and commit; resolves with the new commit's SHA. */
  commit(message: string, files?: Record<string, string | Uint8Array>): Promise<string>;
}

export type RepoSetup = (repo: RepoBuilder) => Promise<void> | void;

/** What a request hook sees. `repo` is the repository name without `.git`; `service` is `git-upload-pack` and such. */
export interface GitRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly repo: string | undefined;
  readonly service: string | undefined;
}

export interface GitServerOptions {
  /** Repository name → setup function (absent: {@link standardRepo}). Served at `/<name>.git`. */
  readonly repos?: Record<string, RepoSetup | undefined>;
  /** Require HTTP basic auth with these credentials on every request (401 + `WWW-Authenticate` otherwise). */
  readonly auth?: { readonly username: string; readonly password: string };
  /**
   * Called for every authorised request before git sees it; the request waits for the returned promise (stall a
   * clone to test timeouts and cancellation). Throwing answers 500.
   */
  readonly onRequest?: (info: GitRequestInfo) => Promise<void> | void;
  /** Delay every chunk of every response body by this many milliseconds (a slow network, for mid-transfer aborts). */
  readonly chunkDelayMs?: number;
}

export interface GitServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  /** Clone URL of a repository: `http://127.0.0.1:<port>/<name>.git` (the repository need not exist). */
  url(name: string): string;
  /** Absolute path of a repository's bare directory (for `git -C <path> rev-parse ...` in assertions). */
  repoPath(name: string): string;
  /** Create one more repository while the server runs. */
  addRepo(name: string, setup?: RepoSetup): Promise<void>;
  /** Requests served so far, in order (method, path, status). */
  readonly requests: readonly { method: string; path: string; status: number }[];
  /** Stop listening, drop open connections, kill running git processes and delete every repository. */
  close(): Promise<void>;
}

/** Fixed identity and dates so repositories (and their SHAs) are the same on every run. */
const gitIdentity: Record<string, string> = {
  GIT_AUTHOR_NAME: 'Sluice Test',
  GIT_AUTHOR_EMAIL: 'test@sluice.invalid',
  GIT_COMMITTER_NAME: 'Sluice Test',
  GIT_COMMITTER_EMAIL: 'test@sluice.invalid',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
};

/** The environment every git process gets: no user or system config, no prompts. */
function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C',
  };
}

/** Run the git CLI; rejects with stderr in the message. */
export function runGit(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', [...args], { cwd: options.cwd, env: options.env ?? gitEnv(options.cwd), maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`git ${args.join(' ')} failed: ${stderr.trim() || error.message}`, { cause: error }));
      else resolve(stdout.trim());
    });
  });
}

/**
 * The standard repository content (the seed flow runs `python scripts/etl_script.py` from it):
 * - `main`: 3 commits — "initial" (README.md, VERSION=0.1), "add etl script" (scripts/etl_script.py printing
 *   `ETL done`, data/input.csv; VERSION=1.0; tagged annotated `v1.0`), "bump version" (VERSION=1.1);
 * - `dev`: main plus one commit "dev work" (VERSION=dev, scripts/dev_only.py);
 * - HEAD is `main`.
 */
export const standardRepo: RepoSetup = async (repo) => {
  await repo.commit('initial', { 'README.md': '# demo repository\n', VERSION: '0.1\n' });
  await repo.commit('add etl script', {
    'scripts/etl_script.py': 'print("ETL done")\n',
    'data/input.csv': 'id,value\n1,10\n2,20\n',
    VERSION: '1.0\n',
  });
  await repo.git('tag', '-a', 'v1.0', '-m', 'release 1.0');
  await repo.commit('bump version', { VERSION: '1.1\n' });
  await repo.git('checkout', '-q', '-b', 'dev');
  await repo.commit('dev work', { VERSION: 'dev\n', 'scripts/dev_only.py': 'print("dev only")\n' });
  await repo.git('checkout', '-q', 'main');
};

async function buildRepo(root: string, name: string, setup: RepoSetup): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sluice-git-work-'));
  try {
    const env = { ...gitEnv(work), ...gitIdentity };
    const git = (...args: string[]) => runGit(args, { cwd: work, env });
    await git('init', '-q', '-b', 'main');
    const write = async (path: string, content: string | Uint8Array) => {
      const file = join(work, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content);
    };
    const builder: RepoBuilder = {
      dir: work,
      git,
      writeFile: write,
      async commit(message, files = {}) {
        for (const [path, content] of Object.entries(files)) await write(path, content);
        await git('add', '-A');
        await git('commit', '-q', '--allow-empty', '-m', message);
        return git('rev-parse', 'HEAD');
      },
    };
    await setup(builder);
    await git('clone', '-q', '--bare', work, join(root, `${name}.git`));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Split the CGI header block (lines up to the first empty line) from the body. */
function parseCgiHeaders(block: string): { status: number; statusText: string | undefined; headers: [string, string][] } {
  let status = 200;
  let statusText: string | undefined;
  const headers: [string, string][] = [];
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      const match = /^(\d{3})\s*(.*)$/.exec(value);
      if (match) {
        status = Number(match[1]);
        statusText = match[2] || undefined;
      }
    } else {
      headers.push([name, value]);
    }
  }
  return { status, statusText, headers };
}

function findHeaderEnd(buffer: Buffer): { end: number; bodyStart: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return undefined;
  if (lf !== -1 && (crlf === -1 || lf < crlf)) return { end: lf, bodyStart: lf + 2 };
  return { end: crlf, bodyStart: crlf + 4 };
}

function delayStream(ms: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      setTimeout(() => callback(null, chunk), ms);
    },
  });
}

/** Start the server and build every repository in `options.repos`. */
export async function startGitServer(options: GitServerOptions = {}): Promise<GitServer> {
  const root = await mkdtemp(join(tmpdir(), 'sluice-git-root-'));
  const children = new Set<ChildProcess>();
  const requests: { method: string; path: string; status: number }[] = [];
  const expectedAuth = options.auth
    ? `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`
    : undefined;

  const finish = (req: IncomingMessage, res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', status });
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    if (expectedAuth && req.headers.authorization !== expectedAuth) {
      req.resume();
      finish(req, res, 401, 'authentication required\n', { 'www-authenticate': 'Basic realm="sluice-test-git"' });
      return;
    }
    const repoMatch = /^\/([^/]+)\.git(?:\/|$)/.exec(url.pathname);
    const info: GitRequestInfo = {
      method,
      path: url.pathname,
      repo: repoMatch?.[1],
      service: url.searchParams.get('service') ?? /\/(git-[a-z-]+)$/.exec(url.pathname)?.[1],
    };
    try {
      await options.onRequest?.(info);
    } catch (error) {
      req.resume();
      finish(req, res, 500, `request hook failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return;
    }
    if (res.destroyed) return;

    const env: NodeJS.ProcessEnv = {
      ...gitEnv(root),
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REQUEST_METHOD: method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      ...(options.auth ? { REMOTE_USER: options.auth.username } : {}),
      ...(req.headers['content-type'] ? { CONTENT_TYPE: req.headers['content-type'] } : {}),
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      // http-backend inflates gzip request bodies itself when told the encoding.
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      ...(typeof req.headers['git-protocol'] === 'string' ? { GIT_PROTOCOL: req.headers['git-protocol'] } : {}),
    };
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdin.on('error', () => {
      // http-backend may exit before reading the whole body (a 404): the broken pipe is expected.
    });
    req.pipe(child.stdin);
    res.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    let head = Buffer.alloc(0);
    let headersSent = false;
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const found = findHeaderEnd(head);
      if (!found) return;
      headersSent = true;
      child.stdout.off('data', onData);
      const { status, statusText, headers } = parseCgiHeaders(head.subarray(0, found.end).toString('latin1'));
      requests.push({ method, path: url.pathname, status });
      res.statusCode = status;
      if (statusText) res.statusMessage = statusText;
      for (const [name, value] of headers) res.setHeader(name, value);
      const rest = head.subarray(found.bodyStart);
      const out = options.chunkDelayMs ? delayStream(options.chunkDelayMs) : undefined;
      if (out) {
        out.pipe(res);
        if (rest.length > 0) out.write(rest);
        child.stdout.pipe(out);
      } else {
        if (rest.length > 0) res.write(rest);
        child.stdout.pipe(res);
      }
    };
    child.stdout.on('data', onData);
    child.on('error', (error) => {
      children.delete(child);
      if (!headersSent && !res.headersSent) finish(req, res, 502, `cannot run git http-backend: ${error.message}\n`);
    });
    child.on('close', () => {
      children.delete(child);
      if (!headersSent && !res.headersSent) finish(req, res, 502, `git http-backend sent no response: ${stderr.trim()}\n`);
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) finish(req, res, 500, `${error instanceof Error ? error.message : String(error)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const child of children) child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  };

  const gitServer: GitServer = {
    baseUrl,
    url: (name) => `${baseUrl}/${name}.git`,
    repoPath: (name) => join(root, `${name}.git`),
    addRepo: (name, setup) => buildRepo(root, name, setup ?? standardRepo),
    requests,
    close,
  };
  try {
    for (const [name, setup] of Object.entries(options.repos ?? {})) await gitServer.addRepo(name, setup);
  } catch (error) {
    await close();
    throw error;
  }
  return gitServer;
}
