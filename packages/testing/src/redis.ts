/**
 * A throwaway Redis for tests: `redis-server` on a free loopback port, without persistence, its working directory
 * in a temporary folder that `stop()` deletes.
 *
 * - `startRedis()` returns `undefined` when `redis-server` is not installed and `SLUICE_REQUIRE_SERVICES` is not
 *   `1` (the caller skips); with `SLUICE_REQUIRE_SERVICES=1` it throws an error that says how to install it.
 * - `describeWithRedis(name, factory)` registers the suite with a server started in `beforeAll` and stopped in
 *   `afterAll`, or one skipped test that says what is missing.
 *
 * The binary is looked up on PATH; `SLUICE_TEST_REDIS_SERVER` overrides it. The readiness probe is a raw `PING`
 * over TCP, so this package needs no Redis client.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { servicesRequired } from './docker.js';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Kill the server and delete its directory. */
  stop(): Promise<void>;
}

const installHint = 'install it with apt-get install -y redis-server (or run bash scripts/services.sh)';
const READY_TIMEOUT_MS = 10_000;

/** The `redis-server` executable, or undefined when there is none. */
async function findRedisServer(): Promise<string | undefined> {
  const configured = process.env.SLUICE_TEST_REDIS_SERVER;
  const candidates = configured
    ? [configured]
    : (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, 'redis-server'));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there: try the next one.
    }
  }
  return undefined;
}

function missingError(): Error {
  const configured = process.env.SLUICE_TEST_REDIS_SERVER;
  return new Error(`redis-server not found${configured ? ` at ${configured} (SLUICE_TEST_REDIS_SERVER)` : ''}: ${installHint}`);
}

/** A port nothing listens on now (the OS picks it; a race with another process is retried by the caller). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when the Redis server on 127.0.0.1:`port` answers `PING` with `+PONG`. */
export function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

async function launch(binary: string): Promise<RedisServer | { failed: string }> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'sluice-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  // A test process that ends without stop() must not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null && !spawnError) {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      await stop();
      return { failed: `redis-server exited before answering PING${spawnError ? ` (${spawnError.message})` : ''}:\n${output}` };
    }
    if (await redisPing(port)) return { url: `redis://127.0.0.1:${port}`, port, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  return { failed: `redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms:\n${output}` };
}

/**
 * Start a private `redis-server`; resolves once it answers `PING`. Resolves `undefined` when `redis-server` is not
 * installed and services are not required; throws, saying how to install it, when they are.
 */
export async function startRedis(): Promise<RedisServer | undefined> {
  const binary = await findRedisServer();
  if (!binary) {
    if (servicesRequired()) throw missingError();
    return undefined;
  }
  let failure = '';
  // The free port may be taken between the probe and the server's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const started = await launch(binary);
    if ('url' in started) return started;
    failure = started.failed;
  }
  throw new Error(failure);
}

/**
 * `describe` with a private Redis started in `beforeAll` and stopped in `afterAll`; `redis()` returns it inside
 * tests and hooks. Without `redis-server`: with `SLUICE_REQUIRE_SERVICES=1` the file fails with the missing-service
 * error; otherwise the suite is one skipped test whose name says what is missing.
 */
export function describeWithRedis(name: string, factory: (redis: () => RedisServer) => void): void {
  describe(name, async () => {
    if (!(await findRedisServer())) {
      if (servicesRequired()) throw missingError();
      it.skip(`needs redis-server (${installHint})`, () => undefined);
      return;
    }
    let server: RedisServer | undefined;
    beforeAll(async () => {
      server = await startRedis();
    }, 30_000);
    afterAll(async () => {
      await server?.stop();
    });
    factory(() => {
      if (!server) throw new Error('Redis is not started yet: call redis() inside a test or a hook');
      return server;
    });
  });
}
