/**
 * Hostile and broken requests: each gets a clear 4xx JSON error `{code, message, details}` and leaves the stored
 * flows exactly as they were (compared row by row before and after).
 */
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowYaml, startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const api = await startApi({ bodyLimit: 5 * 1024 * 1024 });

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

describe.skipIf(!api)('bad input changes nothing stored', () => {
  let a: ApiFixture;
  let before: string;
  beforeAll(async () => {
    a = api!;
    expect((await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flowYaml('company.team', 'existing') })).status).toBe(200);
    before = await a.snapshot();
    expect(before).toContain('existing');
  });
  afterAll(async () => {
    await api?.close();
  });

  /** Send, expect the status and an error body with a code, and prove the store is unchanged. */
  async function expectRejected(path: string, init: RequestInit, status: number, code: string): Promise<ErrorBody> {
    const response = await a.fetch(path, init);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as ErrorBody;
    expect(body).toMatchObject({ code, message: expect.any(String), details: expect.any(Object) });
    expect(await a.snapshot()).toBe(before);
    return body;
  }
  const writes = (body: RequestInit['body'], headers: Record<string, string> = YAML): [string, RequestInit][] => [
    ['/api/v1/flows', { method: 'POST', headers, body }],
    ['/api/v1/flows/company.team/existing', { method: 'PUT', headers, body }],
    ['/api/v1/flows/company.team', { method: 'POST', headers, body }],
  ];

  it('malformed YAML: 400 SLU_FLOW_YAML_SYNTAX with line and column', async () => {
    const source = 'id: x\nnamespace: company.team\ntasks:\n  - id: a\n    type: "unclosed\n';
    for (const [path, init] of writes(source)) {
      const body = await expectRejected(path, init, 400, 'SLU_FLOW_YAML_SYNTAX');
      expect(body.details).toMatchObject({ line: expect.any(Number), column: expect.any(Number) });
    }
  });

  it('binary garbage: 400 (not UTF-8), and UTF-8 noise: 400 with a flow code', async () => {
    const garbage = new Uint8Array(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 256;
    for (const [path, init] of writes(garbage)) {
      const body = await expectRejected(path, init, 400, 'SLU_API_BAD_REQUEST');
      expect(body.message).toMatch(/UTF-8/);
    }
    const noise = '\u0000\u0001\u0002{{[[::--\u0007';
    const response = await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: noise });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).code).toMatch(/^SLU_FLOW_/);
    expect(await a.snapshot()).toBe(before);
  });

  it('a 20 MB body: 413 SLU_API_BODY_TOO_LARGE (Fastify\'s FST_ERR_CTP_BODY_TOO_LARGE as the cause)', async () => {
    const big = `id: big\nnamespace: company.team\ndescription: "${'x'.repeat(20 * 1024 * 1024)}"\ntasks: []\n`;
    for (const [path, init] of [...writes(big), ['/api/v1/flows/validate', { method: 'POST', headers: YAML, body: big }] as [string, RequestInit]]) {
      const body = await expectRejected(path, init, 413, 'SLU_API_BODY_TOO_LARGE');
      expect(body.details).toMatchObject({ cause: 'FST_ERR_CTP_BODY_TOO_LARGE' });
      expect(body.message).toContain(String(5 * 1024 * 1024));
    }
  });

  it('a flow with 10,000 tasks: 413 SLU_FLOW_TOO_LARGE', async () => {
    const tasks = Array.from({ length: 10_000 }, (_, i) => `  - id: t${i}\n    type: io.kestra.plugin.core.log.Log\n    message: m\n`).join('');
    const source = `id: huge\nnamespace: company.team\ntasks:\n${tasks}`;
    for (const [path, init] of writes(source)) {
      const body = await expectRejected(path, init, 413, 'SLU_FLOW_TOO_LARGE');
      expect(body.message).toContain('more than 5000 tasks');
    }
  });

  it('a YAML alias bomb ("billion laughs"): 400 SLU_FLOW_YAML_ALIAS_LIMIT', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const previous = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    const bomb = `id: bomb\nnamespace: company.team\nvariables:\n${levels.map((l) => `  ${l}`).join('\n')}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: "*i"\n`;
    for (const [path, init] of writes(bomb)) await expectRejected(path, init, 400, 'SLU_FLOW_YAML_ALIAS_LIMIT');
    const validate = await a.fetch('/api/v1/flows/validate', { method: 'POST', headers: YAML, body: bomb });
    expect(validate.status).toBe(200);
    expect(await validate.json()).toEqual([expect.objectContaining({ problems: [expect.objectContaining({ code: 'SLU_FLOW_YAML_ALIAS_LIMIT' })] })]);
  });

  it('a path parameter ../../etc/passwd: 400 naming the invalid namespace or id, on every route', async () => {
    const ns = encodeURIComponent('../../etc');
    const traversal = encodeURIComponent('../../etc/passwd');
    await expectRejected(`/api/v1/flows/${ns}/passwd`, {}, 400, 'SLU_FLOW_INVALID_NAMESPACE');
    await expectRejected(`/api/v1/flows/company.team/${traversal}`, {}, 400, 'SLU_FLOW_INVALID_ID');
    await expectRejected(`/api/v1/flows/${ns}/passwd/revisions`, {}, 400, 'SLU_FLOW_INVALID_NAMESPACE');
    await expectRejected(`/api/v1/flows/${ns}/passwd`, { method: 'DELETE' }, 400, 'SLU_FLOW_INVALID_NAMESPACE');
    await expectRejected(`/api/v1/flows/${ns}/passwd`, { method: 'PUT', headers: YAML, body: flowYaml('company.team', 'existing') }, 400, 'SLU_FLOW_INVALID_NAMESPACE');
    const body = await expectRejected(`/api/v1/flows/${traversal}`, { method: 'POST', headers: YAML, body: flowYaml('company.team', 'existing') }, 400, 'SLU_FLOW_INVALID_NAMESPACE');
    expect(body.message).toContain('"../../etc/passwd"');
    // Unencoded, as a raw request line (fetch would normalise the dots away): no route matches.
    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${a.url}/api/v1/flows/../../etc/passwd`, { method: 'GET', path: '/api/v1/flows/../../etc/passwd' }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      request.on('error', reject);
      request.end();
    });
    expect(raw.status).toBe(404);
    expect(JSON.parse(raw.body)).toMatchObject({ code: 'SLU_API_ROUTE_NOT_FOUND' });
    expect(await a.snapshot()).toBe(before);
  });

  it('wrong content types: 415 SLU_API_UNSUPPORTED_MEDIA_TYPE (JSON, plain text, form, none)', async () => {
    const json = JSON.stringify({ id: 'x', namespace: 'company.team', tasks: [] });
    for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }]) {
      for (const [path, init] of [...writes(json, headers), ['/api/v1/flows/validate', { method: 'POST', headers, body: json }] as [string, RequestInit]]) {
        const body = await expectRejected(path, init, 415, 'SLU_API_UNSUPPORTED_MEDIA_TYPE');
        expect(body.message).toContain('application/x-yaml');
      }
    }
    // A Blob without a type sends no content-type header.
    await expectRejected('/api/v1/flows', { method: 'POST', body: new Blob([flowYaml('company.team', 'x')]) }, 415, 'SLU_API_UNSUPPORTED_MEDIA_TYPE');
    // A YAML content type with parameters is fine.
    const ok = await a.fetch('/api/v1/flows/validate', { method: 'POST', headers: { 'content-type': 'application/yaml; charset=utf-8' }, body: flowYaml('company.team', 'x') });
    expect(ok.status).toBe(200);
  });

  it('bad query parameters and an unknown route: 400 and 404 as JSON', async () => {
    await expectRejected('/api/v1/flows/search?page=0', {}, 400, 'SLU_API_BAD_REQUEST');
    await expectRejected('/api/v1/flows/company.team?delete=maybe', { method: 'POST', headers: YAML, body: flowYaml('company.team', 'existing') }, 400, 'SLU_API_BAD_REQUEST');
    // Integers beyond Postgres's integer (a revision, an attempt, a page): the database refused them with a 500.
    for (const [path, init] of [
      ['/api/v1/flows/company.team/existing?revision=2147483648', {}],
      ['/api/v1/flows/search?page=1e300', {}],
      ['/api/v1/executions/search?page=999999999999999', {}],
      ['/api/v1/executions/company.team/existing?revision=999999999999', { method: 'POST' }],
      ['/api/v1/logs/some-execution?attempt=2147483648', { method: 'DELETE' }],
    ] as [string, RequestInit][]) {
      const rejected = await expectRejected(path, init, 400, 'SLU_API_BAD_REQUEST');
      expect(rejected.message).toContain('must be <= 2147483647');
    }
    const body = await expectRejected('/api/v1/nothing-here', {}, 404, 'SLU_API_ROUTE_NOT_FOUND');
    expect(body.message).toBe('no route GET /api/v1/nothing-here');
  });

  it('a multipart body left partly unread closes its connection: the next request is answered; no boundary is a 400', async () => {
    // One connection for every request, as a keep-alive client has it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string, path: string, contentType: string | undefined, body: Buffer): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const headers: Record<string, string> = { 'content-length': String(body.length), ...(contentType ? { 'content-type': contentType } : {}) };
        const req = httpRequest(`${a.url}${path}`, { method, agent, headers, timeout: 10_000 }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path}`)));
        req.on('error', reject);
        req.end(body);
      });
    const part = (name: string, value: string): string => `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const path = '/api/v1/executions/company.team/existing';
    const padding = 'x'.repeat(300_000);
    try {
      // Bytes after the close delimiter (an epilogue) are never read by the parser.
      const epilogue = await send('POST', path, 'multipart/form-data; boundary=b', Buffer.from(`--b--\r\n${padding}`));
      expect(epilogue.status, epilogue.text).toBe(200);
      expect((await send('GET', '/health', undefined, Buffer.alloc(0))).status).toBe(200);
      // An error on the first part leaves the others unread.
      const nul = await send('POST', path, 'multipart/form-data; boundary=b', Buffer.from(`${part('in\u0000put', 'v')}${part('big', padding)}--b--\r\n`));
      expect(nul.status, nul.text).toBe(400);
      expect((await send('GET', '/health', undefined, Buffer.alloc(0))).status).toBe(200);
      // Without a boundary the parser took the body's first "----" for the end of an empty form: the inputs were lost.
      const before = (await (await a.fetch('/api/v1/executions/search?namespace=company.team')).json()) as { total: number };
      const none = await send('POST', path, 'multipart/form-data; boundary=', Buffer.from(`------x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n------x--\r\n`));
      expect(none.status).toBe(400);
      expect(JSON.parse(none.text)).toMatchObject({ code: 'SLU_API_BAD_REQUEST', message: expect.stringContaining('no boundary') });
      const after = (await (await a.fetch('/api/v1/executions/search?namespace=company.team')).json()) as { total: number };
      expect(after.total).toBe(before.total);
      expect((await send('GET', '/health', undefined, Buffer.alloc(0))).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});
