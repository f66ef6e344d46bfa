/**
 * Auth against the real server (loopback, real Postgres): bearer and/or basic on user routes, the worker token only on
 * internal routes, health and /docs open. The combinations of worker/user credentials on internal routes are in
 * internal-storage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createAuth, pathScope } from '../src/auth.js';
import { readEnv } from '../src/env.js';
import { startApi } from './fixture.js';

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('createAuth and pathScope', () => {
  it('classifies paths', () => {
    expect(pathScope('/health')).toBe('open');
    expect(pathScope('/api/v1/health')).toBe('open');
    expect(pathScope('/docs')).toBe('open');
    expect(pathScope('/docs/json')).toBe('open');
    expect(pathScope('/api/v1/flows')).toBe('user');
    expect(pathScope('/api')).toBe('user');
    expect(pathScope('/api/v1/internal/storage')).toBe('internal');
    expect(pathScope('/api/v1/internalx')).toBe('user');
  });

  it('accepts either credential when both are configured, never the worker token on user routes', () => {
    const auth = createAuth({ apiToken: 't', basic: { username: 'u', password: 'p:w' }, workerToken: 'w' });
    expect(auth.userAuth && auth.internalEnabled).toBe(true);
    expect(() => auth.check('user', 'Bearer t')).not.toThrow();
    expect(() => auth.check('user', basic('u', 'p:w'))).not.toThrow();
    for (const bad of [undefined, '', 'Bearer w', 'Bearer tt', basic('u', 'p'), basic('U', 'p:w'), basic('u', 'p:w') + '!', 'Basic !!!', 'Basic dTpw']) {
      expect(() => auth.check('user', bad), String(bad)).toThrow();
    }
    expect(() => auth.check('internal', 'Bearer w')).not.toThrow();
    for (const bad of ['Bearer t', basic('u', 'p:w'), undefined]) expect(() => auth.check('internal', bad)).toThrow();
    expect(() => auth.check('open', undefined)).not.toThrow();
  });

  it('is off for user routes without user credentials; internal routes always need the worker token', () => {
    const auth = createAuth({});
    expect(auth.userAuth || auth.internalEnabled).toBe(false);
    expect(() => auth.check('user', undefined)).not.toThrow();
    expect(() => auth.check('internal', 'Bearer anything')).toThrow();
  });
});

describe('readEnv auth variables', () => {
  it('reads SLUICE_API_BASIC_AUTH (split at the first colon), the two-variable form, the worker token and the upload limit', () => {
    expect(readEnv({ SLUICE_API_BASIC_AUTH: 'admin:pa:ss' }).basicAuth).toEqual({ username: 'admin', password: 'pa:ss' });
    expect(readEnv({ SLUICE_API_BASIC_AUTH_USERNAME: 'a', SLUICE_API_BASIC_AUTH_PASSWORD: 'b' }).basicAuth).toEqual({ username: 'a', password: 'b' });
    expect(readEnv({ SLUICE_WORKER_TOKEN: 'w', SLUICE_API_UPLOAD_LIMIT: '10' })).toMatchObject({ workerToken: 'w', uploadLimit: 10 });
    expect(readEnv({})).toMatchObject({ basicAuth: undefined, workerToken: undefined, uploadLimit: 1024 * 1024 * 1024 });
  });

  it('rejects malformed or ambiguous settings', () => {
    expect(() => readEnv({ SLUICE_API_BASIC_AUTH: 'nopassword' })).toThrow(/user:password/);
    expect(() => readEnv({ SLUICE_API_BASIC_AUTH: ':p' })).toThrow(/user:password/);
    expect(() => readEnv({ SLUICE_API_BASIC_AUTH: 'u:' })).toThrow(/user:password/);
    expect(() => readEnv({ SLUICE_API_BASIC_AUTH_USERNAME: 'a' })).toThrow(/together/);
    expect(() => readEnv({ SLUICE_API_BASIC_AUTH: 'a:b', SLUICE_API_BASIC_AUTH_USERNAME: 'a' })).toThrow(/not both/);
    expect(() => readEnv({ SLUICE_API_TOKEN: 'same', SLUICE_WORKER_TOKEN: 'same' })).toThrow(/differ/);
    expect(() => readEnv({ SLUICE_API_UPLOAD_LIMIT: '0' })).toThrow(/SLUICE_API_UPLOAD_LIMIT/);
  });
});

const basicOnly = await startApi({ basic: { username: 'admin', password: 's3cret' } });
const both = basicOnly ? await startApi({ apiToken: 'tok', basic: { username: 'admin', password: 's3cret' }, workerToken: 'wrk' }) : undefined;
const open = both ? await startApi() : undefined;

describe.skipIf(!basicOnly || !both || !open)('auth on the real server', () => {
  const get = (base: { url: string }, path: string, authorization?: string): Promise<Response> =>
    fetch(`${base.url}${path}`, authorization ? { headers: { authorization } } : {});

  it('basic only: the right credentials pass; anything else is 401 with a Basic challenge; health and /docs open', async () => {
    try {
      expect((await get(basicOnly!, '/api/v1/flows/search', basic('admin', 's3cret'))).status).toBe(200);
      for (const authorization of [undefined, basic('admin', 'wrong'), basic('root', 's3cret'), 'Bearer s3cret', 'Bearer admin:s3cret']) {
        const response = await get(basicOnly!, '/api/v1/flows/search', authorization);
        expect(response.status, String(authorization)).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Basic realm="sluice", charset="UTF-8"');
        expect(await response.json()).toMatchObject({ code: 'SLU_API_UNAUTHORIZED', message: expect.stringContaining('basic') });
      }
      for (const path of ['/health', '/api/v1/health', '/docs/json']) expect((await get(basicOnly!, path)).status, path).toBe(200);
      // No worker token: the internal routes do not exist, whatever the credentials.
      expect((await get(basicOnly!, '/api/v1/internal/storage?uri=kestra:///a', basic('admin', 's3cret'))).status).toBe(404);
    } finally {
      await basicOnly?.close();
    }
  });

  it('token and basic: either passes, the challenge names both; the worker token does not open user routes', async () => {
    try {
      expect((await get(both!, '/api/v1/plugins', 'Bearer tok')).status).toBe(200);
      expect((await get(both!, '/api/v1/plugins', basic('admin', 's3cret'))).status).toBe(200);
      const refused = await get(both!, '/api/v1/plugins', 'Bearer wrk');
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer, Basic realm="sluice", charset="UTF-8"');
      expect((await get(both!, '/api/v1/internal/storage/list?prefix=kestra:///', 'Bearer wrk')).status).toBe(200);
    } finally {
      await both?.close();
    }
  });

  it('off by default: user routes open, internal routes 404 (never open)', async () => {
    try {
      expect((await get(open!, '/api/v1/flows/search')).status).toBe(200);
      for (const path of ['/api/v1/internal/storage?uri=kestra:///a', '/api/v1/internal/storage/list?prefix=kestra:///', '/api/v1/internal/anything']) {
        const response = await get(open!, path, 'Bearer whatever');
        expect(response.status, path).toBe(404);
        expect(await response.json()).toMatchObject({ code: 'SLU_API_ROUTE_NOT_FOUND' });
      }
    } finally {
      await open?.close();
    }
  });
});
