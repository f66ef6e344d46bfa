/**
 * The worker's execution store over the API's internal routes (`createHttpExecutionsAccess`), against a real HTTP
 * server that plays the API: the requests it sends (paths, worker token, query, body) and how it reads the answers
 * (pages followed to the last, the API's errors rebuilt as the same SluiceError, an API that cannot be reached).
 * The routes themselves are tested in apps/api (internal-executions.test.ts), and both together end to end.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSluiceError } from '@sluice/core';
import type { ExecutionLogLine } from '@sluice/plugin-api';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpExecutionsAccess } from '../src/index.js';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise((resolve) => s.close(resolve));
});

async function listen(respond: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ url: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      respond(req, res, body);
    });
  });
  const s = server;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, requests };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const line = (n: number): ExecutionLogLine => ({
  namespace: 'dev',
  flowId: 'f',
  executionId: 'e 1',
  taskId: 'a',
  timestamp: new Date(Date.UTC(2026, 0, 1) + n).toISOString(),
  level: 'INFO',
  message: `line ${n}`,
});

describe('createHttpExecutionsAccess', () => {
  it('reads an execution with the worker token; a 404 is undefined', async () => {
    const { url, requests } = await listen((req, res) => {
      if (req.url?.endsWith('/e%201')) json(res, 200, { id: 'e 1', namespace: 'dev', flowId: 'f', state: 'PAUSED' });
      else json(res, 404, { code: 'SLU_API_EXECUTION_NOT_FOUND', message: 'execution x not found', details: { id: 'x', params: { id: 'x' } } });
    });
    const access = createHttpExecutionsAccess({ apiUrl: `${url}/`, token: 'tok' });
    expect(await access.get('e 1')).toEqual({ id: 'e 1', namespace: 'dev', flowId: 'f', state: 'PAUSED' });
    expect(await access.get('x')).toBeUndefined();
    expect(requests.map((r) => [r.method, r.url, r.authorization])).toEqual([
      ['GET', '/api/v1/internal/executions/e%201', 'Bearer tok'],
      ['GET', '/api/v1/internal/executions/x', 'Bearer tok'],
    ]);
  });

  it('follows the pages of a log to the last one, each handed over before the next is asked for', async () => {
    const pages = [[line(0), line(1)], [line(2), line(3)], [line(4)]];
    const events: string[] = [];
    const { url, requests } = await listen((req, res) => {
      const query = new URL(req.url ?? '', 'http://x').searchParams;
      const index = query.get('after') === null ? 0 : Number(query.get('after'));
      events.push(`request ${index}`);
      json(res, 200, { results: pages[index], ...(index + 1 < pages.length ? { next: String(index + 1) } : {}) });
    });
    const access = createHttpExecutionsAccess({ apiUrl: url, token: 'tok', pageSize: 2 });
    const seen: string[] = [];
    await access.fetchLogs('e 1', { minLevel: 'WARN', taskIds: ['a', 'b c'] }, async (lines) => {
      events.push(`page ${lines.length}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(...lines.map((l) => l.message));
    });
    expect(seen).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    expect(events).toEqual(['request 0', 'page 2', 'request 1', 'page 2', 'request 2', 'page 1']);
    const queries = requests.map((r) => new URL(r.url, 'http://x'));
    expect(queries[0]!.pathname).toBe('/api/v1/internal/executions/e%201/logs');
    expect([...queries[0]!.searchParams]).toEqual([['minLevel', 'WARN'], ['size', '2'], ['taskId', 'a'], ['taskId', 'b c']]);
    expect(queries[2]!.searchParams.get('after')).toBe('2');
  });

  it('stops paging when its signal aborts', async () => {
    const { url } = await listen((_req, res) => json(res, 200, { results: [line(0)], next: 'more' }));
    const controller = new AbortController();
    const reason = new Error('killed');
    let pages = 0;
    const fetching = createHttpExecutionsAccess({ apiUrl: url, token: 'tok' }).fetchLogs('e', { minLevel: 'INFO' }, () => {
      pages++;
      if (pages === 3) controller.abort(reason);
    }, controller.signal);
    await expect(fetching).rejects.toBe(reason);
    expect(pages).toBe(3);
  });

  it('resumes with {inputs} as JSON, and rebuilds the API\'s errors as the same SluiceError', async () => {
    const { url, requests } = await listen((req, res) => {
      if (req.url?.includes('/done/')) {
        json(res, 409, { code: 'SLU_API_EXECUTION_NOT_PAUSED', message: 'execution done is SUCCESS: only a PAUSED execution can be resumed', details: { id: 'done', state: 'SUCCESS', params: { id: 'done', state: 'SUCCESS' } } });
      } else {
        res.writeHead(204).end();
      }
    });
    const access = createHttpExecutionsAccess({ apiUrl: url, token: 'tok' });
    await access.resume('p', { approved: true, by: 'Ada' });
    await access.resume('p');
    expect(requests.map((r) => [r.method, r.url, r.contentType, r.body])).toEqual([
      ['POST', '/api/v1/internal/executions/p/resume', 'application/json', '{"inputs":{"approved":true,"by":"Ada"}}'],
      ['POST', '/api/v1/internal/executions/p/resume', 'application/json', '{}'],
    ]);
    const error = await access.resume('done').catch((e: unknown) => e);
    expect(isSluiceError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'SLU_API_EXECUTION_NOT_PAUSED', message: 'execution done is SUCCESS: only a PAUSED execution can be resumed', details: { id: 'done', state: 'SUCCESS' } });
  });

  it('names the API it cannot reach, and an answer that is not an API error', async () => {
    const { url } = await listen((_req, res) => res.writeHead(502).end('bad gateway'));
    await expect(createHttpExecutionsAccess({ apiUrl: url, token: 'tok' }).get('e')).rejects.toThrow(/the Sluice API refused GET .*\/executions\/e: HTTP 502: bad gateway/);
    const s = server!;
    server = undefined;
    await new Promise((resolve) => s.close(resolve));
    await expect(createHttpExecutionsAccess({ apiUrl: url, token: 'tok' }).resume('e')).rejects.toThrow(/cannot reach the Sluice API at http:\/\/127\.0\.0\.1:\d+ \(POST /);
  });
});
