/**
 * The fault suite's cluster: a Postgres cluster and a Redis server of its own, and the distributed apps as separate
 * OS processes (`node apps/cli/bin/sluice.mjs server api|scheduler|worker`), so a fault case can SIGKILL any of them,
 * or stop and start Postgres or Redis, without touching anything else on the machine.
 *
 * - Postgres (`initdb` and `pg_ctl` of the newest /usr/lib/postgresql/<version>/bin, or `SLUICE_FAULTS_PG_BIN`): a
 *   fresh cluster in a temporary folder, `fsync=off`, trust authentication, listening on a free port of 127.0.0.1
 *   only (its Unix socket in its own folder). As root, its commands run as the `postgres` user
 *   (`runuser -u postgres --`) and its folder belongs to that user; `pg_ctl stop -m fast` is the Postgres fault.
 * - Redis: `redis-server --save '' --appendonly no` on a free loopback port, so a restart starts it empty.
 * - The apps: one API, one scheduler and workers of group `default` (concurrency 4), with `SLUICE_QUEUE_LOCK_MS` as
 *   the case asks. The launcher picks dist/ or the sources (SLUICE_CLI_SOURCE is passed through when set).
 *
 * Everything lives under one temporary root (Postgres and Redis data, storage, the workers' work dirs, the ledger),
 * which `processesLeft()` uses to find what was left running. The processes' output goes to
 * `.test-results/faults/<case>/` (kept after the run, for a failure's diagnosis).
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, redisPing } from '@sluice/testing';

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
/**
 * The checkout whose `sluice` runs the apps: this one, or `SLUICE_FAULTS_CHECKOUT` (another checkout with its
 * dependencies, e.g. a commit from before a fix, to see which case catches its absence).
 */
const checkout = process.env.SLUICE_FAULTS_CHECKOUT?.trim() || repoRoot;
const cliBin = join(checkout, 'apps/cli/bin/sluice.mjs');
export const resultsDir = join(repoRoot, '.test-results', 'faults');
/** Postgres' binaries: `SLUICE_FAULTS_PG_BIN`, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout). */
const PG_BIN =
  process.env.SLUICE_FAULTS_PG_BIN ??
  (() => {
    const versions = (existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : []).filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
    const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
    return newest ? `/usr/lib/postgresql/${newest}/bin` : '/usr/lib/postgresql/15/bin';
  })();
export const WORKER_TOKEN = 'fault-suite-worker-token';
/** How long an app process may take to print its start line (the sources compile at start, on a busy machine). */
const READY_TIMEOUT_MS = 90_000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

const isRoot = (): boolean => process.getuid?.() === 0;

/** Run a Postgres binary, as the `postgres` user when this process is root (Postgres refuses to run as root). */
async function pgCommand(binary: string, args: string[]): Promise<string> {
  const file = join(PG_BIN, binary);
  const { stdout, stderr } = isRoot() ? await run('runuser', ['-u', 'postgres', '--', file, ...args]) : await run(file, args);
  return `${stdout}${stderr}`;
}

/** A Postgres cluster of the suite's own. */
export class Postgres {
  readonly port: number;
  readonly dir: string;
  private running = false;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  get logFile(): string {
    return join(this.dir, 'postgres.log');
  }

  /** `initdb` a fresh cluster in `<root>/pg` (owned by postgres when root). */
  static async create(root: string): Promise<Postgres> {
    const dir = join(root, 'pg');
    await mkdir(dir, { mode: 0o700 });
    if (isRoot()) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await pgCommand('initdb', ['-D', join(dir, 'data'), '-N', '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C']);
    return new Postgres(dir, await freePort());
  }

  async start(): Promise<void> {
    const options = [
      `-c port=${this.port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${this.dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    await pgCommand('pg_ctl', ['-D', this.data, '-l', this.logFile, '-o', options, '-w', '-t', '60', 'start']);
    this.running = true;
  }

  /** `pg_ctl stop`: `fast` (the fault: sessions are disconnected, as an operator's restart does) or `immediate`. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.running) return;
    await pgCommand('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '60', 'stop']);
    this.running = false;
  }
}

/** A Redis server of the suite's own, without persistence: every start is empty. */
export class Redis {
  readonly port: number;
  readonly dir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;

  private constructor(dir: string, port: number, log: WriteStream) {
    this.dir = dir;
    this.port = port;
    this.log = log;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async create(root: string, logDir: string): Promise<Redis> {
    const dir = join(root, 'redis');
    await mkdir(dir);
    return new Redis(dir, await freePort(), createWriteStream(join(logDir, 'redis.log'), { flags: 'a' }));
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no'];
    const child = spawn('redis-server', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.child = child;
    track(child);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on port ${this.port} exited at start (see redis.log)`);
      if (await redisPing(this.port)) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not answer PING on port ${this.port} within 20 s`);
  }

  /** Stop the server (SIGTERM; nothing is saved). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }

  close(): void {
    this.log.end();
  }
}

/** Every child this module started: killed if the test process exits without stopping them. */
const children = new Set<ChildProcess>();
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** One app process: `sluice server <kind>`. */
export class AppProcess {
  readonly name: string;
  readonly child: ChildProcess;
  private output = '';
  private readonly exited: Promise<void>;
  private readonly readyPattern: RegExp;
  private readyLine: Promise<string>;

  constructor(name: string, args: string[], env: Record<string, string>, readyPattern: RegExp, logFile: string) {
    this.name = name;
    this.readyPattern = readyPattern;
    const log = createWriteStream(logFile, { flags: 'a' });
    log.write(`--- ${new Date().toISOString()} sluice ${args.join(' ')}\n`);
    this.child = spawn(process.execPath, [cliBin, ...args], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
    track(this.child);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.readyLine = new Promise((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString('utf8');
        log.write(text);
        this.output = (this.output + text).slice(-20_000);
        const match = this.readyPattern.exec(this.output);
        if (match) resolve(match[1] ?? match[0]);
      };
      this.child.stdout?.on('data', onData);
      this.child.stderr?.on('data', onData);
      this.child.once('exit', (code, signal) => {
        log.end(`--- exited (${signal ?? `code ${code}`}) at ${new Date().toISOString()}\n`);
        reject(new Error(`${this.name} exited (${signal ?? `code ${code}`}) before it was ready; last output:\n${this.output.slice(-2000)}`));
      });
    });
    // A process that dies before anyone awaits its readiness must not be an unhandled rejection.
    this.readyLine.catch(() => undefined);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the start line's capture (the worker id) once the process has printed it. */
  async ready(timeoutMs = READY_TIMEOUT_MS): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.readyLine,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.name} printed no start line within ${timeoutMs / 1000} s; last output:\n${this.output.slice(-2000)}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, SIGKILL after `graceMs`; true when it had to be killed. */
  async stop(graceMs: number): Promise<boolean> {
    if (!this.alive) return false;
    this.child.kill('SIGTERM');
    let killed = false;
    const killer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(killer);
    return killed;
  }
}

export interface ClusterOptions {
  /** Log folder name under `.test-results/faults/`. */
  readonly name: string;
  /** `SLUICE_QUEUE_LOCK_MS` of the scheduler and the workers. */
  readonly queueLockMs: number;
  readonly workerConcurrency: number;
}

/** Postgres, Redis, one API, one scheduler and workers, all of the suite's own. */
export class Cluster {
  readonly root: string;
  readonly logDir: string;
  readonly ledger: string;
  readonly apiPort: number;
  readonly pg: Postgres;
  readonly redis: Redis;
  readonly options: ClusterOptions;
  api: AppProcess | undefined;
  scheduler: AppProcess | undefined;
  readonly workers: AppProcess[] = [];
  private readonly workDirs = new Map<AppProcess, string>();
  private workerCount = 0;
  private readonly all: AppProcess[] = [];

  private constructor(root: string, logDir: string, apiPort: number, pg: Postgres, redis: Redis, options: ClusterOptions) {
    this.root = root;
    this.logDir = logDir;
    this.ledger = join(root, 'ledger.txt');
    this.apiPort = apiPort;
    this.pg = pg;
    this.redis = redis;
    this.options = options;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** Create the folders and the Postgres cluster; starts nothing. */
  static async create(options: ClusterOptions): Promise<Cluster> {
    const root = await mkdtemp(join(tmpdir(), 'sluice-faults-'));
    // The postgres user must be able to reach its own folder inside.
    await chmod(root, 0o755);
    const logDir = join(resultsDir, options.name);
    await rm(logDir, { recursive: true, force: true });
    await mkdir(logDir, { recursive: true });
    await mkdir(join(root, 'storage'));
    const pg = await Postgres.create(root);
    const redis = await Redis.create(root, logDir);
    return new Cluster(root, logDir, await freePort(), pg, redis, options);
  }

  /** The environment every app process gets: PATH and HOME, the launcher's switch, and `extra`. */
  private env(extra: Record<string, string>): Record<string, string> {
    const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', TMPDIR: tmpdir() };
    if (process.env.SLUICE_CLI_SOURCE !== undefined) base.SLUICE_CLI_SOURCE = process.env.SLUICE_CLI_SOURCE;
    return { ...base, ...extra };
  }

  private launch(name: string, args: string[], env: Record<string, string>, ready: RegExp): AppProcess {
    const proc = new AppProcess(name, args, this.env(env), ready, join(this.logDir, `${name}.log`));
    this.all.push(proc);
    return proc;
  }

  /** Spawn the API (it applies the migrations first, so Postgres must be up). Await `.ready()`. */
  startApi(): AppProcess {
    this.api = this.launch(
      'api',
      ['server', 'api'],
      {
        DATABASE_URL: this.pg.url,
        REDIS_URL: this.redis.url,
        PORT: String(this.apiPort),
        SLUICE_API_HOST: '127.0.0.1',
        SLUICE_WORKER_TOKEN: WORKER_TOKEN,
        SLUICE_STORAGE_DIR: join(this.root, 'storage'),
      },
      /Sluice API listening/,
    );
    return this.api;
  }

  /** Spawn a scheduler (`name` for a second one: its log is `<name>.log`). Await `.ready()`. */
  startScheduler(name = 'scheduler'): AppProcess {
    this.scheduler = this.launch(
      name,
      ['server', 'scheduler'],
      { DATABASE_URL: this.pg.url, REDIS_URL: this.redis.url, SLUICE_QUEUE_LOCK_MS: String(this.options.queueLockMs) },
      /scheduler (\S+) started/,
    );
    return this.scheduler;
  }

  /** Spawn worker number n (1, 2, ...) of group `default`, with its own work dir `<root>/work-<n>`. Await `.ready()`. */
  async startWorker(): Promise<AppProcess> {
    const n = ++this.workerCount;
    const workDir = this.workDir(n);
    await mkdir(workDir, { recursive: true });
    const worker = this.launch(
      `worker-${n}`,
      ['server', 'worker', '--worker-group', 'default', '--concurrency', String(this.options.workerConcurrency)],
      {
        REDIS_URL: this.redis.url,
        SLUICE_API_URL: this.apiUrl,
        SLUICE_WORKER_TOKEN: WORKER_TOKEN,
        SLUICE_WORKER_ID: `fault-worker-${n}`,
        SLUICE_QUEUE_LOCK_MS: String(this.options.queueLockMs),
        SLUICE_WORK_DIR: workDir,
        SLUICE_WORKER_STOP_GRACE_MS: '2000',
      },
      /worker (\S+) serving group/,
    );
    this.workers.push(worker);
    this.workDirs.set(worker, workDir);
    return worker;
  }

  workDir(n: number): string {
    return join(this.root, `work-${n}`);
  }

  /** The work dir of `worker` (workers started together may join `workers` in either order). */
  workDirOf(worker: AppProcess): string {
    const dir = this.workDirs.get(worker);
    if (dir === undefined) throw new Error(`${worker.name} is not a worker of this cluster`);
    return dir;
  }

  /** Postgres, Redis, the API, then the scheduler and `workers` workers together; resolves once all are ready. */
  async startAll(workers: number): Promise<void> {
    await this.pg.start();
    await this.redis.start();
    await this.startApi().ready();
    const starting: Promise<unknown>[] = [this.startScheduler().ready()];
    for (let i = 0; i < workers; i++) starting.push(this.startWorker().then((w) => w.ready()));
    await Promise.all(starting);
  }

  /**
   * Stop everything: the workers, then the scheduler, then the API with SIGTERM (SIGKILL after 15 s), then Postgres and
   * Redis. Returns what had to be killed, for the report. The logs stay in `logDir`; the root is not deleted yet
   * (see `remove()`), so `processesLeft()` can still look for processes using it.
   */
  async stopAll(): Promise<string[]> {
    const notes: string[] = [];
    // Workers first (they deregister through the API), then the scheduler, then the API.
    const order = [this.all.filter((p) => p.name.startsWith('worker-')), this.all.filter((p) => p.name.startsWith('scheduler')), this.all.filter((p) => p.name === 'api')];
    for (const group of order) {
      const killed = await Promise.all(group.filter((p) => p.alive).map(async (p) => ((await p.stop(15_000)) ? p.name : undefined)));
      for (const name of killed) if (name) notes.push(`${name} did not stop within 15 s of SIGTERM: killed`);
    }
    await this.pg.stop('immediate').catch((error: unknown) => notes.push(`pg_ctl stop: ${String(error)}`));
    await this.redis.stop();
    this.redis.close();
    await copyFile(this.pg.logFile, join(this.logDir, 'postgres.log')).catch(() => undefined);
    await copyFile(this.ledger, join(this.logDir, 'ledger.txt')).catch(() => undefined);
    return notes;
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** The state letter of `/proc/<pid>/stat`. */
async function procState(pid: string): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/**
 * Live (non-zombie) processes, other than this one, whose command line mentions one of `markers` or whose working
 * directory is under one of them: what a stopped cluster must not leave behind.
 */
export async function processesLeft(markers: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const state = await procState(pid);
      if (state === 'Z' || state === 'X') continue;
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      if (markers.some((marker) => cmdline.includes(marker) || cwd === marker || cwd.startsWith(`${marker}/`))) {
        found.push(`pid ${pid} (${cmdline.replace(/\s+/g, ' ').slice(0, 120)}) in ${cwd}`);
      }
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}
