/**
 * Faults for tests to inject, on loopback: a TCP proxy that the test cuts (every connection dropped, new ones refused)
 * and restores on the same port, a TCP proxy that stalls (connections stay open, nothing goes through, as a server
 * that stopped answering) and resumes, and a `redis-server` on a fixed port that the test kills and starts again
 * empty (what a restart without persistence leaves).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisPing } from './redis.js';

/** A TCP proxy on 127.0.0.1 to `target`: `cut()` is an outage (connections dropped, refused), `restore()` ends it. */
export class TcpProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), target);
    await proxy.restore();
    return proxy;
  }

  /** `url` with its host and port replaced by the proxy's. */
  through(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Start accepting again, on the same port. */
  async restore(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
  }

  /** Drop every connection and refuse new ones (ECONNREFUSED) until `restore()`. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

/** A `redis-server` on a fixed port, without persistence, that can be killed and started again (empty). */
export class RestartableRedis {
  #child: ChildProcess | undefined;
  #dir: string | undefined;

  private constructor(
    readonly port: number,
    private readonly binary: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RestartableRedis> {
    const redis = new RestartableRedis(await freePort(), process.env.SLUICE_TEST_REDIS_SERVER ?? 'redis-server');
    await redis.startAgain();
    return redis;
  }

  /** Start the server (again: empty), and wait until it answers PING. */
  async startAgain(): Promise<void> {
    if (this.#child) throw new Error('redis-server is running');
    this.#dir = await mkdtemp(join(tmpdir(), 'sluice-redis-restart-'));
    const child = spawn(this.binary, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.#dir], {
      stdio: 'ignore',
    });
    this.#child = child;
    process.once('exit', () => child.kill('SIGKILL'));
    const deadline = Date.now() + 10_000;
    while (!(await redisPing(this.port))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGKILL: everything it held is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

/** A TCP proxy on 127.0.0.1 to `port` that can hold everything in both directions (`stall`) and let it go (`resume`). */
export class StallingProxy {
  #stalled = false;
  readonly #held: (() => void)[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;
  #port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => this.accept(client, targetPort));
  }

  static async start(targetPort: number): Promise<StallingProxy> {
    const proxy = new StallingProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = proxy.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
    proxy.#port = address.port;
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket, targetPort: number): void {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    const forward = (to: Socket) => (chunk: Buffer) => {
      const send = (): void => void (to.destroyed || to.write(chunk));
      if (this.#stalled) this.#held.push(send);
      else send();
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
  }

  /** Hold every byte from now on, both ways; the connections stay open. */
  stall(): void {
    this.#stalled = true;
  }

  /** Send what was held, in order, and forward again. */
  resume(): void {
    this.#stalled = false;
    for (const send of this.#held.splice(0)) send();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Poll `predicate` every 50 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
