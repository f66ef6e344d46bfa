import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { processRunnerOptions, workerConfig, WorkerConfigError } from '../src/index.js';

const required = { REDIS_URL: 'redis://redis:6379', SLUICE_API_URL: 'http://api:8080/', SLUICE_WORKER_TOKEN: 'tok' };

function failure(run: () => unknown): WorkerConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WorkerConfigError);
    return error as WorkerConfigError;
  }
  throw new Error('expected a WorkerConfigError');
}

describe('workerConfig', () => {
  it('reads the required settings and applies the defaults', () => {
    const env = { ...required, SLUICE_SECRET_TOKEN: 'x' };
    expect(workerConfig({}, env)).toEqual({
      redisUrl: 'redis://redis:6379',
      apiUrl: 'http://api:8080',
      workerToken: 'tok',
      group: 'default',
      concurrency: 4,
      workRoot: tmpdir(),
      dockerSocket: '/var/run/docker.sock',
      stopGraceMs: 30_000,
      secrets: env,
    });
  });

  it('names every missing variable in one line', () => {
    expect(failure(() => workerConfig({}, { SLUICE_API_URL: 'http://api:8080', SLUICE_WORKER_TOKEN: '' })).message).toBe(
      'the worker needs REDIS_URL, SLUICE_API_URL and SLUICE_WORKER_TOKEN: missing REDIS_URL, SLUICE_WORKER_TOKEN',
    );
    expect(failure(() => workerConfig({}, {})).message).toBe(
      'the worker needs REDIS_URL, SLUICE_API_URL and SLUICE_WORKER_TOKEN: missing REDIS_URL, SLUICE_API_URL, SLUICE_WORKER_TOKEN',
    );
  });

  it('takes the group, concurrency and work root from arguments, then the environment', () => {
    expect(workerConfig({ group: 'gpu', concurrency: '8', workRoot: '/data/work' }, { ...required, SLUICE_WORK_DIR: '/env/work', SLUICE_WORKER_GROUP: 'x' })).toMatchObject({
      group: 'gpu',
      concurrency: 8,
      workRoot: '/data/work',
    });
    expect(workerConfig({}, { ...required, SLUICE_WORK_DIR: '/env/work', SLUICE_WORKER_GROUP: 'etl.v2', SLUICE_WORKER_CONCURRENCY: '16' })).toMatchObject({
      group: 'etl.v2',
      concurrency: 16,
      workRoot: '/env/work',
    });
    expect(workerConfig({ concurrency: 256 }, required).concurrency).toBe(256);
    expect(workerConfig({ concurrency: 1 }, required).concurrency).toBe(1);
  });

  it('refuses a bad group key', () => {
    expect(failure(() => workerConfig({ group: 'gpu:a' }, required)).message).toMatch(/worker group must be letters, digits.*no ":".*"gpu:a"/);
    expect(failure(() => workerConfig({ group: '*' }, required)).message).toMatch(/"\*"/);
    expect(failure(() => workerConfig({}, { ...required, SLUICE_WORKER_GROUP: 'a b' })).message).toMatch(/^SLUICE_WORKER_GROUP must be/);
  });

  it('refuses a concurrency outside 1..256', () => {
    for (const bad of ['0', '257', '1.5', 'four', '-2', 0, 300, 2.5]) {
      expect(failure(() => workerConfig({ concurrency: bad }, required)).message).toMatch(/concurrency must be an integer between 1 and 256/);
    }
    expect(failure(() => workerConfig({}, { ...required, SLUICE_WORKER_CONCURRENCY: '1000' })).message).toMatch(/^SLUICE_WORKER_CONCURRENCY must be/);
  });

  it('refuses malformed URLs', () => {
    expect(failure(() => workerConfig({}, { ...required, REDIS_URL: 'localhost:6379' })).message).toMatch(/^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(failure(() => workerConfig({}, { ...required, SLUICE_API_URL: 'api:8080' })).message).toMatch(/^SLUICE_API_URL must be a http:\/\/ or https:\/\/ URL/);
    expect(failure(() => workerConfig({}, { ...required, SLUICE_API_URL: 'not a url' })).message).toMatch(/^SLUICE_API_URL must be a URL/);
  });

  it('reads the stop grace period', () => {
    expect(workerConfig({}, { ...required, SLUICE_WORKER_STOP_GRACE_MS: '5000' }).stopGraceMs).toBe(5000);
    expect(workerConfig({}, { ...required, SLUICE_WORKER_STOP_GRACE_MS: '0' }).stopGraceMs).toBe(0);
    expect(failure(() => workerConfig({}, { ...required, SLUICE_WORKER_STOP_GRACE_MS: '30s' })).message).toMatch(/^SLUICE_WORKER_STOP_GRACE_MS must be a number of milliseconds/);
  });

  it('reads how the PROCESS runner starts commands', () => {
    expect(workerConfig({}, required).processSpawn).toBeUndefined();
    expect(processRunnerOptions(workerConfig({}, required))).toEqual({});
    const direct = workerConfig({}, { ...required, SLUICE_PROCESS_SPAWN: 'direct' });
    expect(direct.processSpawn).toBe('direct');
    expect(processRunnerOptions(direct)).toEqual({ spawn: 'direct' });
    expect(failure(() => workerConfig({}, { ...required, SLUICE_PROCESS_SPAWN: 'fork' })).message).toBe('SLUICE_PROCESS_SPAWN must be "auto", "native", "helper" or "direct", got "fork"');
  });

  it('reads the Docker engine, network mode and worker id', () => {
    expect(workerConfig({}, { ...required, DOCKER_HOST: 'unix:///run/user/1000/docker.sock', SLUICE_DOCKER_NETWORK_MODE: 'none' })).toMatchObject({
      dockerSocket: '/run/user/1000/docker.sock',
      dockerNetworkMode: 'none',
    });
    const tcp = workerConfig({}, { ...required, DOCKER_HOST: 'tcp://docker:2375', SLUICE_WORKER_ID: 'worker-7' });
    expect(tcp).toMatchObject({ dockerHost: 'tcp://docker:2375', dockerSocket: '/var/run/docker.sock', workerId: 'worker-7' });
    expect(tcp.dockerNetworkMode).toBeUndefined();
    expect(failure(() => workerConfig({}, { ...required, SLUICE_WORKER_ID: 'a/b' })).message).toMatch(/^SLUICE_WORKER_ID must be/);
  });
});
