/**
 * The worker process sweeps the DOCKER containers of dead workers of its machine, at start and then every
 * `SLUICE_DOCKER_SWEEP_INTERVAL_MS` (issue #15: a task whose worker is gone must not keep running unseen). Real
 * Redis, real Docker engine; an HTTP server stands in for the API.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import {
  currentProcessIdentity,
  formatProcessIdentity,
  processIdentityOf,
  RUNNER_LABEL,
  WORKER_LABEL,
  WORKER_PROCESS_LABEL,
} from '@sluice/runner-docker';
import type { WorkerProcessIdentity } from '@sluice/runner-docker';
import { describeWithRedis, requireDocker, servicesRequired, dockerTestEnv } from '@sluice/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dockerSweepIntervalMs } from '../src/config.js';
import { startWorkerProcess, workerConfig } from '../src/index.js';

const WAIT = { timeout: 20_000, interval: 100 };
const required = { REDIS_URL: 'redis://r:6379', SLUICE_API_URL: 'http://api:8080', SLUICE_WORKER_TOKEN: 'tok' };

describe('the dead-worker sweep interval', () => {
  it('defaults to a third of the queue lock, between 1 and 10 s; 0 turns it off', () => {
    expect(dockerSweepIntervalMs(workerConfig({}, required))).toBe(10_000);
    expect(dockerSweepIntervalMs(workerConfig({}, { ...required, SLUICE_QUEUE_LOCK_MS: '5000' }))).toBe(1_666);
    expect(dockerSweepIntervalMs(workerConfig({}, { ...required, SLUICE_QUEUE_LOCK_MS: '600' }))).toBe(1_000);
    expect(dockerSweepIntervalMs(workerConfig({}, { ...required, SLUICE_DOCKER_SWEEP_INTERVAL_MS: '0' }))).toBe(0);
    expect(dockerSweepIntervalMs(workerConfig({}, { ...required, SLUICE_DOCKER_SWEEP_INTERVAL_MS: '2500' }))).toBe(2_500);
    expect(() => workerConfig({}, { ...required, SLUICE_DOCKER_SWEEP_INTERVAL_MS: '10' })).toThrow(
      'SLUICE_DOCKER_SWEEP_INTERVAL_MS must be 0 (off) or a number of milliseconds (1000..600000), got "10"',
    );
  });
});

/** The identity of a real process that ran and is now dead: a worker killed with SIGKILL, as far as anyone can tell. */
async function deadProcess(): Promise<WorkerProcessIdentity> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const identity = processIdentityOf(child.pid!);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  if (!identity) throw new Error('no process identity on this machine (/proc)');
  return identity;
}

async function isGone(container: Dockerode.Container): Promise<boolean> {
  try {
    await container.inspect();
    return false;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return true;
    throw error;
  }
}

describeWithRedis('worker process on a Docker engine', (redis) => {
  let root: string;
  let api: Server;
  let apiUrl: string;
  const containers: Dockerode.Container[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-worker-sweep-'));
    api = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    for (const container of containers.splice(0)) await container.remove({ force: true }).catch(() => undefined);
    await new Promise((resolve) => api.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  it('removes the containers of dead workers of this machine at start and then periodically, not those of live ones', async (context) => {
    const env = servicesRequired() ? await requireDocker() : await dockerTestEnv();
    if (!env) return context.skip();
    const create = async (worker: string, identity: WorkerProcessIdentity): Promise<Dockerode.Container> => {
      const container = await env.docker.createContainer({
        Image: env.busyboxImage,
        Cmd: ['sleep', '1000'],
        Labels: { [RUNNER_LABEL]: 'docker', [WORKER_LABEL]: worker, [WORKER_PROCESS_LABEL]: formatProcessIdentity(identity) },
        HostConfig: { NetworkMode: 'none' },
      });
      containers.push(container);
      return container;
    };
    const prefix = `worker-sweep-test-${process.pid}`;
    const beforeStart = await create(`${prefix}-dead-before`, await deadProcess());
    await beforeStart.start();
    const live = await create(`${prefix}-live`, currentProcessIdentity()!);

    const config = workerConfig(
      { workRoot: join(root, 'work') },
      {
        REDIS_URL: redis().url,
        SLUICE_API_URL: apiUrl,
        SLUICE_WORKER_TOKEN: 'tok',
        SLUICE_WORKER_ID: `${prefix}-worker`,
        DOCKER_HOST: `unix://${env.socketPath}`,
        SLUICE_DOCKER_SWEEP_INTERVAL_MS: '1000',
      },
    );
    const lines: string[] = [];
    const started = await startWorkerProcess(config, (line) => lines.push(line), { signals: false });
    try {
      // At start, before it serves.
      expect(await isGone(beforeStart)).toBe(true);
      expect(lines.some((line) => /^removed \d+ container\(s\) of dead worker processes on this machine$/.test(line))).toBe(true);
      // Then a worker dies while this one runs: its container goes without a restart.
      const later = await create(`${prefix}-dead-later`, await deadProcess());
      await later.start();
      await expect.poll(() => isGone(later), WAIT).toBe(true);
      expect(await isGone(live)).toBe(false);
    } finally {
      await started.close();
    }
  });
});
