import { describe, expect, it } from 'vitest';
import { readEnv } from '../src/env.js';

describe('readEnv', () => {
  it('has defaults: port 8080 on loopback, 5 MiB bodies, no token', () => {
    expect(readEnv({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: undefined,
      redisUrl: undefined,
      storageDir: '.sluice/storage',
      apiToken: undefined,
      basicAuth: undefined,
      workerToken: undefined,
      bodyLimit: 5 * 1024 * 1024,
      uploadLimit: 1024 * 1024 * 1024,
    });
  });

  it('reads every variable', () => {
    expect(
      readEnv({
        PORT: '9090',
        SLUICE_API_HOST: '0.0.0.0',
        DATABASE_URL: 'postgres://x',
        REDIS_URL: 'redis://r:6379',
        SLUICE_STORAGE_DIR: '/data/storage',
        SLUICE_API_TOKEN: 't',
        SLUICE_API_BODY_LIMIT: '1024',
      }),
    ).toEqual({
      port: 9090,
      host: '0.0.0.0',
      databaseUrl: 'postgres://x',
      redisUrl: 'redis://r:6379',
      storageDir: '/data/storage',
      apiToken: 't',
      basicAuth: undefined,
      workerToken: undefined,
      bodyLimit: 1024,
      uploadLimit: 1024 * 1024 * 1024,
    });
  });

  it('rejects a bad port or body limit with the variable named', () => {
    expect(() => readEnv({ PORT: 'http' })).toThrow(/PORT must be an integer/);
    expect(() => readEnv({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => readEnv({ SLUICE_API_BODY_LIMIT: '-1' })).toThrow(/SLUICE_API_BODY_LIMIT/);
  });
});
