/**
 * HttpStorage's error mapping, with a stub fetch. Its behaviour against the real API (streaming, auth, confinement) is
 * tested in apps/api/test/internal-storage.test.ts: this package cannot depend on the API.
 */
import { SluiceError } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { HttpStorage } from '../src/index.js';

const stub = (respond: (url: string, init?: RequestInit) => Response | Promise<Response>): typeof fetch =>
  (async (input: string | URL | Request, init?: RequestInit) => respond(String(input), init)) as typeof fetch;

describe('HttpStorage error mapping', () => {
  it('sends the worker token and rebuilds the API error from its code and params', async () => {
    let seen: Headers | undefined;
    const storage = new HttpStorage({
      apiUrl: 'http://api:8080/',
      workerToken: 'w',
      fetch: stub((url, init) => {
        seen = new Headers(init?.headers);
        expect(url).toBe('http://api:8080/api/v1/internal/storage?uri=kestra%3A%2F%2F%2Fa%2Fb');
        return Response.json({ code: 'SLU_STORAGE_NOT_FOUND', message: 'no file at kestra:///a/b', details: { params: { uri: 'kestra:///a/b' } } }, { status: 404 });
      }),
    });
    const error = await storage.get('kestra:///a/b').catch((e: unknown) => e);
    expect(seen?.get('authorization')).toBe('Bearer w');
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'SLU_STORAGE_NOT_FOUND', message: 'no file at kestra:///a/b', details: {} });
  });

  it('a network failure or an unexpected answer is SLU_STORAGE_REMOTE_FAILED', async () => {
    const down = new HttpStorage({ apiUrl: 'http://api', workerToken: 'w', fetch: stub(() => Promise.reject(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') }))) });
    await expect(down.stat('kestra:///a')).rejects.toMatchObject({ code: 'SLU_STORAGE_REMOTE_FAILED', message: expect.stringContaining('ECONNREFUSED') });
    const proxy = new HttpStorage({ apiUrl: 'http://api', workerToken: 'w', fetch: stub(() => new Response('<html>bad gateway</html>', { status: 502 })) });
    await expect(proxy.delete('kestra:///a')).rejects.toMatchObject({ code: 'SLU_STORAGE_REMOTE_FAILED', message: expect.stringContaining('HTTP 502') });
  });
});
