/**
 * Issue #15: a NUL character (escaped `\0`, a raw 0x00 byte, `%00`) or a lone surrogate (`\uD800`) anywhere a client
 * can put one, and a truncated multipart body, are 400s with a code naming the field, never a 500, and change nothing
 * stored. Postgres refuses such text (22021, 22P05): before these checks each of them was a 500.
 */
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const WORKER_TOKEN = 'worker-token-hostile';
const api = await startApi({ workerToken: WORKER_TOKEN });

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

const TASKS = 'tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n';
const TARGET = `id: target\nnamespace: hostile.ns\ninputs:\n  - id: name\n    type: STRING\n  - id: cfg\n    type: JSON\n    required: false\n${TASKS}`;

/** A raw HTTP/1.1 request with exactly these bytes as its body (fetch would re-encode or complete a multipart body). */
function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  agent?: Agent,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}${path}`, { method, headers: { ...headers, 'content-length': String(body.length) }, timeout: 10_000, ...(agent ? { agent } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

describe.skipIf(!api)('hostile characters and bodies: 400 with a code naming the field', () => {
  let a: ApiFixture;
  let before: string;
  const executionCount = async (): Promise<number> => a.db.prisma.execution.count();

  beforeAll(async () => {
    a = api!;
    expect((await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: TARGET })).status).toBe(200);
    before = await a.snapshot();
  });
  afterAll(async () => {
    await api?.close();
  });

  /** Send, expect 400 JSON with `code` (and `details.field` or `details.path`), and nothing stored. */
  async function expect400(path: string, init: RequestInit, code: string, where: Record<string, unknown>): Promise<ErrorBody> {
    const executions = await executionCount();
    const response = await a.fetch(path, init);
    const text = await response.text();
    expect(response.status, `${init.method ?? 'GET'} ${path}: ${text}`).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(text) as ErrorBody;
    expect(body).toMatchObject({ code, message: expect.any(String), details: expect.objectContaining(where) });
    expect(await a.snapshot()).toBe(before);
    expect(await executionCount()).toBe(executions);
    return body;
  }

  const flowWrites = (body: string | Uint8Array): [string, RequestInit][] => [
    ['/api/v1/flows', { method: 'POST', headers: YAML, body }],
    ['/api/v1/flows/hostile.ns/target', { method: 'PUT', headers: YAML, body }],
    ['/api/v1/flows/hostile.ns?delete=false', { method: 'POST', headers: YAML, body }],
  ];

  it('the issue\'s example, description: "\\0" (escaped in YAML): 400 SLU_FLOW_INVALID_CHARACTER with path, line and column', async () => {
    const source = `id: target\nnamespace: hostile.ns\ndescription: "\\0"\n${TASKS}`;
    for (const [path, init] of flowWrites(source)) {
      const body = await expect400(path, init, 'SLU_FLOW_INVALID_CHARACTER', { path: 'description', line: 3, column: 14 });
      expect(body.message).toContain('NUL');
    }
    // Validation reports it too (as `sluice flow validate` does), without storing anything.
    const validate = await a.fetch('/api/v1/flows/validate', { method: 'POST', headers: YAML, body: source });
    expect(validate.status).toBe(200);
    expect(await validate.json()).toEqual([expect.objectContaining({ problems: [expect.objectContaining({ code: 'SLU_FLOW_INVALID_CHARACTER', path: 'description', line: 3 })] })]);
  });

  it('a raw 0x00 byte in a value, in a task and in a comment: 400 SLU_FLOW_INVALID_CHARACTER at the byte', async () => {
    const inValue = Buffer.from(`id: target\nnamespace: hostile.ns\ndescription: a\u0000b\n${TASKS}`);
    for (const [path, init] of flowWrites(inValue)) await expect400(path, init, 'SLU_FLOW_INVALID_CHARACTER', { path: 'description', line: 3, column: 15 });
    const inTask = `id: target\nnamespace: hostile.ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: "x\u0000y"\n`;
    await expect400('/api/v1/flows', { method: 'POST', headers: YAML, body: inTask }, 'SLU_FLOW_INVALID_CHARACTER', { path: 'tasks[0].message', line: 6, column: 16 });
    // Stored as the flow's source, a NUL in a comment is as fatal as one in a value.
    await expect400('/api/v1/flows', { method: 'POST', headers: YAML, body: `# note \u0000\n${TARGET}` }, 'SLU_FLOW_INVALID_CHARACTER', { line: 1, column: 8 });
  });

  it('"\\uD800" (a lone surrogate) in YAML: in a value, a label and a key', async () => {
    await expect400('/api/v1/flows', { method: 'POST', headers: YAML, body: `id: target\nnamespace: hostile.ns\ndescription: "\\uD800"\n${TASKS}` }, 'SLU_FLOW_INVALID_CHARACTER', {
      path: 'description',
    });
    const label = await expect400('/api/v1/flows', { method: 'POST', headers: YAML, body: `id: target\nnamespace: hostile.ns\nlabels:\n  team: "a\\uDC00"\n${TASKS}` }, 'SLU_FLOW_INVALID_CHARACTER', {
      path: 'labels.team',
      line: 4,
    });
    expect(label.message).toContain('U+DC00');
    await expect400('/api/v1/flows', { method: 'POST', headers: YAML, body: `id: target\nnamespace: hostile.ns\nvariables:\n  "k\\0": v\n${TASKS}` }, 'SLU_FLOW_INVALID_CHARACTER', {
      path: 'variables["k\\u0000"]',
    });
    // A well-formed pair (an emoji) is fine.
    const ok = await a.fetch('/api/v1/flows/validate', { method: 'POST', headers: YAML, body: `id: target\nnamespace: hostile.ns\ndescription: "\\uD83D\\uDE00"\n${TASKS}` });
    expect(((await ok.json()) as { problems: unknown[] }[])[0]?.problems).toEqual([]);
  });

  it('an execution input: a NUL in a STRING input, "\\u0000" and "\\uD800" inside a JSON input, a NUL in an input name', async () => {
    const send = (fields: Record<string, string>): RequestInit => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      return { method: 'POST', body: form };
    };
    const path = '/api/v1/executions/hostile.ns/target';
    await expect400(path, send({ name: 'a\u0000b' }), 'SLU_API_INVALID_CHARACTER', { field: 'inputs.name', in: 'body' });
    await expect400(path, send({ name: 'ok', cfg: '{"a": "\\u0000"}' }), 'SLU_API_INVALID_CHARACTER', { field: 'inputs.cfg.a' });
    await expect400(path, send({ name: 'ok', cfg: '{"list": ["\\uD800"]}' }), 'SLU_API_INVALID_CHARACTER', { field: 'inputs.cfg.list[0]' });
    await expect400(path, send({ name: 'ok', 'x\u0000': 'y' }), 'SLU_API_INVALID_CHARACTER', { field: 'inputs.x\u0000' });
    // And a clean one still runs.
    expect((await a.fetch(path, send({ name: 'ok', cfg: '{"a": "b"}' }))).status).toBe(200);
    before = await a.snapshot();
  });

  it('a request refused before its multipart body is read to the end closes its connection: the next one on a kept-alive socket is answered', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const boundary = 'keepalive-boundary';
      const part = (name: string, value: Buffer | string, filename?: string): Buffer =>
        Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n\r\n`), Buffer.from(value), Buffer.from('\r\n')]);
      // A NUL in the first field, then a large file nobody reads (it hung the next request on the same socket).
      const body = Buffer.concat([part('name', 'a\u0000'), part('cfg', Buffer.alloc(300_000, 97), 'big.txt'), Buffer.from(`--${boundary}--\r\n`)]);
      const refused = await rawRequest(a.url, 'POST', '/api/v1/executions/hostile.ns/target', { 'content-type': `multipart/form-data; boundary=${boundary}` }, body, agent);
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.text)).toMatchObject({ code: 'SLU_API_INVALID_CHARACTER', details: { field: 'inputs.name' } });
      expect(refused.headers.connection).toBe('close');
      const next = await rawRequest(a.url, 'GET', '/api/v1/flows/hostile.ns/target', {}, Buffer.alloc(0), agent);
      expect(next.status).toBe(200);
    } finally {
      agent.destroy();
    }
    expect(await a.snapshot()).toBe(before);
  });

  it('a label (?labels=key:value) with %00 or a lone surrogate: 400 naming labels.<key>, on create and on search', async () => {
    const form = new FormData();
    form.append('name', 'ok');
    await expect400('/api/v1/executions/hostile.ns/target?labels=team:a%00b', { method: 'POST', body: form }, 'SLU_API_INVALID_CHARACTER', { field: 'labels.team', in: 'query' });
    await expect400('/api/v1/executions/search?labels=team:%00', {}, 'SLU_API_INVALID_CHARACTER', { field: 'labels.team' });
    await expect400('/api/v1/executions/search?labels=te%00am:x', {}, 'SLU_API_INVALID_CHARACTER', { field: 'labels' });
  });

  it('%00 in an id or a namespace of a path, and in query parameters, on every kind of route', async () => {
    const cases: [string, RequestInit, string][] = [
      ['/api/v1/executions/ab%00cd', {}, 'path.executionId'],
      ['/api/v1/executions/ab%00cd/kill', { method: 'DELETE' }, 'path.executionId'],
      ['/api/v1/executions/ab%00cd/restart', { method: 'POST' }, 'path.executionId'],
      ['/api/v1/executions/ab%00cd/file?path=kestra:///x', {}, 'path.executionId'],
      ['/api/v1/executions/hostile.ns/ta%00rget', { method: 'POST' }, 'path.flowId'],
      ['/api/v1/executions/hostile%00.ns/target', { method: 'POST' }, 'path.namespace'],
      ['/api/v1/flows/hostile.ns/ta%00rget', {}, 'path.flowId'],
      ['/api/v1/flows/hostile.ns/ta%00rget/revisions', {}, 'path.flowId'],
      ['/api/v1/logs/ab%00cd', {}, 'path.executionId'],
      ['/api/v1/logs/ab%00cd/download', {}, 'path.executionId'],
      ['/api/v1/executions/search?namespace=a%00', {}, 'query.namespace'],
      ['/api/v1/executions/search?flowId=%00', {}, 'query.flowId'],
      ['/api/v1/flows/search?q=%00', {}, 'query.q'],
      ['/api/v1/logs/search?q=x%00', {}, 'query.q'],
      ['/api/v1/executions/search?a%00b=1', {}, 'query.a\u0000b'],
    ];
    for (const [path, init, field] of cases) await expect400(path, init, 'SLU_API_INVALID_CHARACTER', { field });
    // The worker registry (worker token): a NUL in the worker id.
    await expect400('/api/v1/internal/workers/w%00', { method: 'PUT', headers: { authorization: `Bearer ${WORKER_TOKEN}`, 'content-type': 'application/json' }, body: '{"group":"g"}' }, 'SLU_API_INVALID_CHARACTER', {
      field: 'path.workerId',
    });
  });

  it('a path that is not UTF-8 (%ED%A0%80 is an encoded lone surrogate): 400 in the API\'s own error shape', async () => {
    for (const path of ['/api/v1/executions/ab%ED%A0%80', '/api/v1/flows/hostile.ns/%ED%A0%80', '/api/v1/executions/%FF']) {
      const response = await a.fetch(path);
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'SLU_API_BAD_REQUEST', message: expect.any(String), details: { cause: 'FST_ERR_BAD_URL' } });
    }
  });

  it('a truncated multipart body ("Unexpected end of multipart data") and other broken ones: 400 SLU_API_BAD_REQUEST, nothing stored', async () => {
    const boundary = '----sluice-boundary-1234';
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}` };
    const part = `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nhello\r\n`;
    const bodies = [
      `${part}--${boundary.slice(0, 6)}`, // the close delimiter cut short
      part, // no close delimiter at all
      `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nhel`, // cut inside a value
      `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nsome bytes`, // cut inside a file
    ];
    for (const text of bodies) {
      const executions = await executionCount();
      const response = await rawRequest(a.url, 'POST', '/api/v1/executions/hostile.ns/target', headers, Buffer.from(text));
      expect(response.status, text).toBe(400);
      expect(JSON.parse(response.text)).toMatchObject({ code: 'SLU_API_BAD_REQUEST', details: { in: 'body' } });
      expect(response.text).not.toMatch(/\bat .+:\d+:\d+/); // no stack
      expect(await executionCount()).toBe(executions);
    }
    // A multipart content type without a boundary, or with one too long for the parser.
    for (const contentType of ['multipart/form-data', `multipart/form-data; boundary=${'b'.repeat(300)}`]) {
      const response = await rawRequest(a.url, 'POST', '/api/v1/executions/hostile.ns/target', { 'content-type': contentType }, Buffer.from(part));
      expect(response.status, contentType).toBeGreaterThanOrEqual(400);
      expect(response.status, contentType).toBeLessThan(500);
      expect(JSON.parse(response.text)).toMatchObject({ code: expect.stringMatching(/^SLU_/) });
    }
    expect(await a.snapshot()).toBe(before);
  });
});
