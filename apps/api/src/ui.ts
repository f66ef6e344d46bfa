/**
 * The web UI (apps/ui, built by Vite into apps/ui/dist), served at `/ui/`:
 *
 * | path | answer |
 * |---|---|
 * | `/` | 302 to `/ui/` |
 * | `/ui/assets/<name>-<hash>.<ext>` | the file, `Cache-Control: public, max-age=31536000, immutable` (its name changes with its content); the `.br`/`.gz` copy the build wrote when the client accepts it; 404 when missing (never the page: a stale chunk must fail, not load HTML) |
 * | any other `/ui/...` path | `index.html`, `Cache-Control: no-cache` (the SPA fallback: the browser-side router shows the page) |
 *
 * The UI's files are open like `/docs`: they hold no data. Every API call the UI makes carries the user's credentials.
 * When the folder has no `index.html` (the UI was not built), `/ui/` answers 503 with a page that says how to build it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Where the built UI is: `SLUICE_UI_DIR`, else the `@sluice/ui` workspace package's `dist/`; undefined if neither. */
export function defaultUiRoot(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@sluice/ui/package.json');
    return join(dirname(manifest), 'dist');
  } catch {
    return undefined;
  }
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Sluice</title>
<body style="font:15px system-ui;max-width:640px;margin:60px auto;padding:0 20px">
<h1>The Sluice UI is not built</h1>
<p>This server found no built UI. From the checkout, run <code>npm run build</code> (or <code>npm ci</code>, which builds
it), then restart the server. The REST API works without it: <a href="/docs">/docs</a>.</p>`;

export function registerUi(app: FastifyInstance, root: string | undefined): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/', 302));
  const built = root !== undefined && existsSync(join(root, 'index.html'));
  if (!built) {
    const notBuilt = async (_request: unknown, reply: FastifyReply): Promise<FastifyReply> =>
      reply.status(503).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(NOT_BUILT);
    app.get('/ui', { schema: { hide: true } }, notBuilt);
    app.get('/ui/*', { schema: { hide: true } }, notBuilt);
    return;
  }
  const assets = join(root, 'assets');
  void app.register(async (scope) => {
    await scope.register(fastifyStatic, {
      root: assets,
      prefix: '/ui/assets/',
      // Every file gets its own route at start: a missing asset falls through to the 404 below, not to the page.
      wildcard: false,
      preCompressed: true,
      immutable: true,
      maxAge: 365 * 24 * 3600 * 1000,
      index: false,
      schemaHide: true,
      // Also called for index.html (sendFile below): only the hashed assets are immutable.
      setHeaders: (reply, path) => {
        if (path.startsWith(assets)) reply.header('cache-control', IMMUTABLE);
      },
    });
    scope.get('/ui/assets/*', { schema: { hide: true } }, async (request, reply) =>
      reply.status(404).type('application/json; charset=utf-8').send({ code: 'SLU_API_ROUTE_NOT_FOUND', message: `no UI asset ${request.url.split('?')[0]}: reload the page`, details: [] }),
    );
    const page = async (_request: unknown, reply: FastifyReply): Promise<FastifyReply> => reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
    scope.get('/ui', { schema: { hide: true } }, page);
    scope.get('/ui/*', { schema: { hide: true } }, page);
  });
}
