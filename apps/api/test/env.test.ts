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
      tenant: 'main',
      publicUrl: undefined,
      webhookRateLimit: undefined,
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
        SLUICE_TENANT: 'acme',
        SLUICE_PUBLIC_URL: 'https://sluice.example.com/',
        SLUICE_WEBHOOK_RATE_LIMIT: '10/second',
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
      tenant: 'acme',
      publicUrl: 'https://sluice.example.com',
      webhookRateLimit: { limit: 10, period: 'second' },
    });
  });

  it('SLUICE_WEBHOOK_RATE_LIMIT: none when unset; N is per minute; N/second, N/minute; anything else is an error naming the variable', () => {
    expect(readEnv({ SLUICE_WEBHOOK_RATE_LIMIT: ' ' }).webhookRateLimit).toBeUndefined();
    expect(readEnv({ SLUICE_WEBHOOK_RATE_LIMIT: '120' }).webhookRateLimit).toEqual({ limit: 120, period: 'minute' });
    expect(readEnv({ SLUICE_WEBHOOK_RATE_LIMIT: '5/s' }).webhookRateLimit).toEqual({ limit: 5, period: 'second' });
    expect(readEnv({ SLUICE_WEBHOOK_RATE_LIMIT: '60 / minute' }).webhookRateLimit).toEqual({ limit: 60, period: 'minute' });
    for (const bad of ['0', '-1', '10/hour', 'ten', '1.5']) {
      expect(() => readEnv({ SLUICE_WEBHOOK_RATE_LIMIT: bad }), bad).toThrow(/SLUICE_WEBHOOK_RATE_LIMIT must be/);
    }
  });

  it('rejects a bad port or body limit with the variable named', () => {
    expect(() => readEnv({ PORT: 'http' })).toThrow(/PORT must be an integer/);
    expect(() => readEnv({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => readEnv({ SLUICE_API_BODY_LIMIT: '-1' })).toThrow(/SLUICE_API_BODY_LIMIT/);
  });

  it('SLUICE_PUBLIC_URL: none when unset or blank; an http(s) URL without its trailing slashes; anything else is an error naming the variable', () => {
    expect(readEnv({ SLUICE_PUBLIC_URL: ' ' }).publicUrl).toBeUndefined();
    expect(readEnv({ SLUICE_PUBLIC_URL: ' http://10.0.0.5:8080/sluice// ' }).publicUrl).toBe('http://10.0.0.5:8080/sluice');
    for (const bad of ['sluice.example.com', 'ftp://host', 'https://host/?a=1', 'https://host/#x']) {
      expect(() => readEnv({ SLUICE_PUBLIC_URL: bad }), bad).toThrow(/^SLUICE_PUBLIC_URL must be an http\(s\) URL/);
    }
  });

  it('SLUICE_TENANT: main when unset or blank; a tenant Kestra would refuse, or one named like a path without a tenant, is an error naming the variable', () => {
    expect(readEnv({ SLUICE_TENANT: '  ' }).tenant).toBe('main');
    expect(readEnv({ SLUICE_TENANT: ' team-a_1 ' }).tenant).toBe('team-a_1');
    for (const bad of ['Acme', 'a/b', '-a', 'a b', 'ténant']) expect(() => readEnv({ SLUICE_TENANT: bad }), bad).toThrow(/^SLUICE_TENANT must be lower-case/);
    for (const reserved of ['flows', 'executions', 'logs', 'plugins', 'internal', 'health']) {
      expect(() => readEnv({ SLUICE_TENANT: reserved }), reserved).toThrow(/^SLUICE_TENANT cannot be/);
    }
  });
});
