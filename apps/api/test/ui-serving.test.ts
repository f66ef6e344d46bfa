import { gzipSync } from 'node:zlib';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlowValidator } from '@sluice/core';
import { createDb } from '@sluice/db';
import { createDefaultRegistries } from '@sluice/plugins';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbFlowStore, createServer } from '../src/index.js';

// The UI's files through the real server (ui.ts), over a folder laid out as Vite builds it. No database is needed:
// the flow store points at a port where nothing listens, and no UI route touches it.
const registries = createDefaultRegistries();
const db = createDb({ databaseUrl: 'postgres://nobody:nothing@127.0.0.1:1/none' });
const INDEX = '<!doctype html><title>Sluice</title><div id="root"></div><script type="module" src="/ui/assets/index-abc123.js"></script>';
const SCRIPT = 'console.log("sluice ui");'.repeat(20);

function serve(ui: string | undefined, auth?: { apiToken: string }): FastifyInstance {
  return createServer({ flows: createDbFlowStore(db), registries, validator: createFlowValidator(registries), docs: false, ...(ui === undefined ? {} : { ui }), ...(auth ? { auth } : {}) });
}

describe('the web UI served at /ui/', () => {
  let root: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-ui-'));
    await mkdir(join(root, 'assets'));
    await writeFile(join(root, 'index.html'), INDEX);
    await writeFile(join(root, 'assets', 'index-abc123.js'), SCRIPT);
    await writeFile(join(root, 'assets', 'index-abc123.js.gz'), gzipSync(SCRIPT));
    app = serve(root, { apiToken: 'ui-token' });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await rm(root, { recursive: true, force: true });
  });

  it('/ redirects to /ui/', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe('/ui/');
  });

  it('/ui/ and every page path answer index.html, not cached, without credentials', async () => {
    for (const url of ['/ui/', '/ui', '/ui/flows', '/ui/executions/abc/logs?level=INFO', '/ui/flows/company.team/hello/editor']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type'], url).toMatch(/^text\/html/);
      expect(response.headers['cache-control'], url).toBe('no-cache');
      expect(response.body, url).toBe(INDEX);
    }
  });

  it('hashed assets are cached immutably, and sent compressed when the client accepts it', async () => {
    const plain = await app.inject({ method: 'GET', url: '/ui/assets/index-abc123.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toMatch(/javascript/);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.body).toBe(SCRIPT);
    const gz = await app.inject({ method: 'GET', url: '/ui/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip' } });
    expect(gz.statusCode).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(gz.rawPayload.length).toBeLessThan(SCRIPT.length);
  });

  it('a missing asset is a JSON 404, never the page (a stale chunk must fail, not load HTML)', async () => {
    const response = await app.inject({ method: 'GET', url: '/ui/assets/index-gone.js' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'SLU_API_ROUTE_NOT_FOUND' });
  });

  it('the API stays protected, and a UI request gets no Basic challenge (no browser login dialog)', async () => {
    const plain = await app.inject({ method: 'GET', url: '/api/v1/flows/search' });
    expect(plain.statusCode).toBe(401);
    const fromUi = await app.inject({ method: 'GET', url: '/api/v1/flows/search', headers: { 'x-requested-with': 'sluice-ui' } });
    expect(fromUi.statusCode).toBe(401);
    expect(fromUi.headers['www-authenticate']).not.toMatch(/basic/i);
  });

  it('a folder without a build answers 503 with how to build it', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'sluice-ui-empty-'));
    const bare = serve(empty);
    try {
      const response = await bare.inject({ method: 'GET', url: '/ui/flows' });
      expect(response.statusCode).toBe(503);
      expect(response.body).toContain('npm run build');
      expect((await bare.inject({ method: 'GET', url: '/' })).headers.location).toBe('/ui/');
    } finally {
      await bare.close();
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('without a UI folder there are no UI routes', async () => {
    const none = serve(undefined);
    try {
      expect((await none.inject({ method: 'GET', url: '/ui/' })).statusCode).toBe(404);
      expect((await none.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
    } finally {
      await none.close();
    }
  });
});
