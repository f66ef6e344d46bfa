/**
 * The Clone task's `run`: isomorphic-git over HTTP(S) into the task's working directory.
 *
 * Phases: render and check the properties, clone (fetch + checkout of `branch`/`tag`), then for `commit` a detached
 * checkout of that SHA. The task signal is checked between phases, aborts HTTP requests in flight (see git-http.ts)
 * and, through the progress callback, stops the local indexing and checkout work.
 *
 * Credentials never reach logs or errors: URLs are shown without `user:password@`, and any error text is scrubbed
 * of the password before it is reported.
 */
import fs from 'node:fs';
import { lstat, mkdir, realpath, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import git from 'isomorphic-git';
import type { GitAuth, GitProgressEvent } from 'isomorphic-git';
import { SluiceError } from '@sluice/core';
import type { TaskContext, TaskLogger, TaskResult } from '@sluice/plugin-api';
import { createGitHttpClient, GitTimeoutError } from './git-http.js';
import type { GitHttpClient } from './git-http.js';

const defaultDepth = 1;
const defaultConnectTimeout = 10_000;
const defaultReadTimeout = 60_000;
const progressIntervalMs = 2_000;

interface CloneSettings {
  readonly url: string;
  readonly branch: string | undefined;
  readonly directory: string | undefined;
  readonly depth: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly commit: string | undefined;
  readonly tag: string | undefined;
  readonly noTags: boolean;
  readonly cloneSubmodules: boolean;
  readonly cloneAllBranches: boolean | undefined;
  readonly connectTimeout: number;
  readonly readTimeout: number;
  readonly privateKey: string | undefined;
  readonly trustedCaPemPath: string | undefined;
}

function optionalString(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

function optionalBoolean(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'string') return value.trim().toLowerCase() === 'true';
  return Boolean(value);
}

/** Rendered values may be strings (`depth: "{{ inputs.depth }}"`): accept positive integers in either form. */
function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(number) || number < 1) {
    throw new SluiceError('SLU_FLOW_INVALID_VALUE', { reason: `${name} must be a positive integer, got ${JSON.stringify(value)}` });
  }
  return number;
}

const renderedKeys = [
  'url', 'branch', 'directory', 'depth', 'username', 'password', 'commit', 'tag', 'noTags', 'cloneSubmodules',
  'cloneAllBranches', 'connectTimeout', 'readTimeout', 'privateKey', 'trustedCaPemPath',
] as const;

async function renderSettings(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<CloneSettings> {
  const picked: Record<string, unknown> = {};
  for (const key of renderedKeys) if (properties[key] !== undefined) picked[key] = properties[key];
  const p = await context.render(picked);
  const url = optionalString(p.url);
  if (!url) throw new SluiceError('SLU_FLOW_REQUIRED_PROPERTY', { property: 'url' });
  return {
    url,
    branch: optionalString(p.branch),
    directory: optionalString(p.directory),
    depth: positiveInteger('depth', p.depth, defaultDepth),
    username: optionalString(p.username),
    password: optionalString(p.password),
    commit: optionalString(p.commit)?.toLowerCase(),
    tag: optionalString(p.tag),
    noTags: optionalBoolean(p.noTags, false),
    cloneSubmodules: optionalBoolean(p.cloneSubmodules, false),
    cloneAllBranches: p.cloneAllBranches === undefined ? undefined : optionalBoolean(p.cloneAllBranches, true),
    connectTimeout: positiveInteger('connectTimeout', p.connectTimeout, defaultConnectTimeout),
    readTimeout: positiveInteger('readTimeout', p.readTimeout, defaultReadTimeout),
    privateKey: optionalString(p.privateKey),
    trustedCaPemPath: optionalString(p.trustedCaPemPath),
  };
}

/** Masks secrets and strips `user:password@` from URLs in any text that leaves the task. */
function createRedactor(url: string, password: string | undefined): (text: string) => string {
  const secrets = new Set<string>();
  if (password) secrets.add(password);
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      secrets.add(parsed.password);
      secrets.add(decodeURIComponent(parsed.password));
    }
  } catch {
    // An unparsable URL is reported as is, minus anything that looks like credentials.
  }
  const ordered = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
    for (const secret of ordered) out = out.split(secret).join('******');
    return out;
  };
}

/** The target directory inside the working directory; `..`, absolute paths and symlinks out are refused. */
async function resolveTarget(workingDirectory: string, directory: string | undefined): Promise<string> {
  const root = resolve(workingDirectory);
  if (directory === undefined) return root;
  const target = resolve(root, directory);
  const rel = relative(root, target);
  if (isAbsolute(directory) || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new SluiceError('SLU_TASK_INVALID_PATH', { path: directory });
  }
  // The nearest existing ancestor must really be inside the working directory (an earlier task may have left a
  // symlink pointing elsewhere).
  const realRoot = await realpath(root);
  let existing = target;
  for (;;) {
    try {
      await lstat(existing);
      break;
    } catch {
      existing = dirname(existing);
    }
  }
  const realExisting = await realpath(existing);
  const realRel = relative(realRoot, realExisting);
  if (realRel === '..' || realRel.startsWith(`..${sep}`) || isAbsolute(realRel)) {
    throw new SluiceError('SLU_TASK_INVALID_PATH', { path: directory });
  }
  return target;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Progress at INFO: the end of each phase, and at most one line every couple of seconds in between. */
function createProgressLogger(logger: TaskLogger): { onProgress(event: GitProgressEvent): void; flush(): void } {
  let current: GitProgressEvent | undefined;
  let loggedDone = false;
  let lastAt = 0;
  const line = (event: GitProgressEvent) => {
    if (event.total > 0) {
      const percent = Math.min(100, Math.floor((event.loaded / event.total) * 100));
      return `${event.phase}: ${percent}% (${event.loaded}/${event.total})`;
    }
    return `${event.phase}: ${event.loaded}`;
  };
  const emit = (event: GitProgressEvent) => {
    logger.info(line(event));
    lastAt = Date.now();
  };
  return {
    onProgress(event) {
      if (current && current.phase !== event.phase && !loggedDone) emit(current);
      if (!current || current.phase !== event.phase) {
        loggedDone = false;
        lastAt = Date.now();
      }
      current = event;
      const done = event.total > 0 && event.loaded >= event.total;
      if (done && !loggedDone) {
        loggedDone = true;
        emit(event);
      } else if (!done && Date.now() - lastAt >= progressIntervalMs) {
        emit(event);
      }
    },
    flush() {
      if (current && !loggedDone) emit(current);
      current = undefined;
    },
  };
}

/** Phases isomorphic-git reports for its own work (the server's progress lines use other names). */
const localPhases = new Set(['Receiving objects', 'Resolving deltas', 'Analyzing workdir', 'Updating workdir']);

const unreachableCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

interface FailureContext {
  readonly settings: CloneSettings;
  readonly host: string;
  readonly authCancelled: boolean;
  readonly remoteBranches: () => Promise<string[] | undefined>;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

function httpStatus(error: unknown): number | undefined {
  if (errorCode(error) !== 'HttpError') return undefined;
  const data = (error as { data?: { statusCode?: unknown } }).data;
  return typeof data?.statusCode === 'number' ? data.statusCode : undefined;
}

const authFailed = 'authentication failed: check username and password (or token)';

/** A short reason for SLU_TASK_GIT_FAILED; not yet redacted. */
async function describeFailure(error: unknown, failure: FailureContext): Promise<string> {
  const { settings } = failure;
  if (error instanceof GitTimeoutError) return `timed out: ${error.message}`;
  const code = errorCode(error);
  if (code === 'UserCanceledError' || failure.authCancelled) return authFailed;
  const status = httpStatus(error);
  if (status === 401 || status === 403) return authFailed;
  if (status === 404) return 'repository not found';
  if (status !== undefined) {
    const message = (error as { data?: { statusMessage?: unknown } }).data?.statusMessage;
    return `the server answered HTTP ${status}${typeof message === 'string' && message ? ` ${message}` : ''}`;
  }
  if (code && unreachableCodes.has(code)) return `cannot reach host ${failure.host} (${code})`;
  if (code === 'SmartHttpError') return 'the URL does not point to a git repository served over smart HTTP';
  if (code === 'NotFoundError') {
    if (settings.tag) return `tag "${settings.tag}" not found`;
    if (settings.branch) {
      const branches = await failure.remoteBranches();
      return `branch "${settings.branch}" not found${branches ? ` (remote has: ${branches.join(', ') || 'no branches'})` : ''}`;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

export async function runClone(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<TaskResult> {
  const { signal, logger } = context;
  signal.throwIfAborted();
  const settings = await renderSettings(properties, context);
  const redact = createRedactor(settings.url, settings.password);
  const shownUrl = redact(settings.url);
  const fail = (reason: string, cause?: unknown): SluiceError =>
    new SluiceError('SLU_TASK_GIT_FAILED', { url: shownUrl, reason: redact(reason) }, {}, cause === undefined ? undefined : { cause: redact(String(cause)) });

  let parsed: URL;
  try {
    parsed = new URL(settings.url);
  } catch {
    if (/^[\w.-]+@[\w.-]+:/.test(settings.url)) throw fail('SSH URLs are not supported yet: use the https:// URL with username and password (or token)');
    throw fail('not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw fail(`only http:// and https:// URLs are supported, got ${parsed.protocol.replace(/:$/, '')}`);
  }
  const dir = await resolveTarget(context.workingDirectory, settings.directory);

  if (settings.privateKey) logger.warn('privateKey is ignored: SSH cloning is not supported yet, use an https URL with username and password (or token)');
  if (settings.trustedCaPemPath) logger.warn('trustedCaPemPath is not supported yet: the system certificate authorities are used');
  if (settings.cloneSubmodules) logger.warn('cloneSubmodules is not supported yet: submodules are not cloned');

  const historyNeeded = settings.commit !== undefined || settings.tag !== undefined;
  const depth = historyNeeded ? undefined : settings.depth;
  const ref = settings.tag ?? settings.branch;
  // A tag is fetched alone. A shallow clone fetches one branch unless told otherwise, as `git clone --depth` does:
  // with several branches git counts the depth from each tip, so `depth: 2` would not mean two commits of history.
  // A full-history clone (for `commit`) fetches every branch, Kestra's default, so any commit can be found.
  const singleBranch = settings.tag !== undefined || !(settings.cloneAllBranches ?? depth === undefined);
  const describe = [
    settings.tag ? `tag ${settings.tag}` : settings.branch ? `branch ${settings.branch}` : 'remote HEAD',
    settings.commit ? `commit ${settings.commit}` : undefined,
    depth ? `depth ${depth}` : 'full history',
  ].filter(Boolean).join(', ');
  logger.info(`Cloning ${shownUrl} (${describe}) into ${dir}`);

  const dirExisted = await exists(dir);
  const gitDirExisted = await exists(join(dir, '.git'));
  let authCancelled = false;
  const auth = settings.username !== undefined || settings.password !== undefined
    ? { username: settings.username ?? '', password: settings.password ?? '' }
    : undefined;
  const onAuth = (): GitAuth => {
    if (auth) return auth;
    authCancelled = true;
    return { cancel: true };
  };
  // Rejected credentials would be offered again forever: give up at the first refusal.
  const onAuthFailure = (): GitAuth => {
    authCancelled = true;
    return { cancel: true };
  };
  const http: GitHttpClient = createGitHttpClient({ signal, connectTimeout: settings.connectTimeout, readTimeout: settings.readTimeout });
  const progress = createProgressLogger(logger);
  const onProgress = (event: GitProgressEvent) => {
    // Throwing stops isomorphic-git's local work (indexing, checkout), which awaits this callback. Remote progress
    // lines are reported from a loop nobody awaits, where a throw would be an unhandled rejection; the HTTP layer
    // already stops the transfer itself.
    if (signal.aborted && localPhases.has(event.phase) && !http.transferring()) throw signal.reason;
    progress.onProgress(event);
  };
  const onMessage = (message: string) => {
    // Remote progress lines ("Counting objects: 12% (1/8)") duplicate the progress events; keep the rest.
    const text = redact(message.trim());
    if (text && !/\(\d+\/\d+\)|, done\.$/.test(text)) logger.debug(`remote: ${text}`);
  };

  try {
    await mkdir(dir, { recursive: true });
    await git.clone({
      fs, http, dir, url: settings.url, ref, singleBranch, depth, noTags: settings.noTags,
      noCheckout: settings.commit !== undefined, onAuth, onAuthFailure, onProgress, onMessage,
    });
    progress.flush();
    signal.throwIfAborted();

    let head: string;
    if (settings.commit !== undefined) {
      let oid: string;
      try {
        oid = await git.expandOid({ fs, dir, oid: settings.commit });
        await git.readCommit({ fs, dir, oid });
      } catch (error) {
        throw fail(`commit ${settings.commit} not found`, error);
      }
      logger.info(`Checking out commit ${oid}`);
      await git.checkout({ fs, dir, ref: oid, force: true, onProgress });
      progress.flush();
      head = oid;
    } else {
      head = await git.resolveRef({ fs, dir, ref: 'HEAD' });
    }
    signal.throwIfAborted();
    logger.info(`Cloned ${shownUrl} at ${head} into ${dir}`);
    return { outputs: { directory: dir } };
  } catch (error) {
    await cleanUp(dir, dirExisted, gitDirExisted);
    if (signal.aborted) throw signal.reason;
    if (error instanceof SluiceError) throw error;
    const reason = await describeFailure(error, {
      settings,
      host: parsed.host,
      authCancelled,
      remoteBranches: async () => {
        try {
          const refs = await git.listServerRefs({ http, url: settings.url, prefix: 'refs/heads/', onAuth, onAuthFailure });
          return refs.map((r) => r.ref.slice('refs/heads/'.length));
        } catch {
          return undefined;
        }
      },
    });
    throw fail(reason, error);
  } finally {
    http.dispose();
  }
}

/** Leave the working directory as it was: remove what a failed clone created. */
async function cleanUp(dir: string, dirExisted: boolean, gitDirExisted: boolean): Promise<void> {
  try {
    if (!dirExisted) await rm(dir, { recursive: true, force: true });
    else if (!gitDirExisted) await rm(join(dir, '.git'), { recursive: true, force: true });
  } catch {
    // Best effort: the working directory is deleted with the task run anyway.
  }
}
