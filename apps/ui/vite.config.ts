import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';

/**
 * Next to every asset of 1 KiB or more, its `.br` and `.gz` copies: the API sends them to a browser that accepts them
 * (@fastify/static `preCompressed`), so nothing is compressed per request.
 */
function precompress(): Plugin {
  return {
    name: 'sluice-precompress',
    apply: 'build',
    writeBundle(options) {
      const dir = join(options.dir ?? 'dist', 'assets');
      for (const name of readdirSync(dir)) {
        if (!/\.(js|css|svg|json|wasm)$/.test(name)) continue;
        const data = readFileSync(join(dir, name));
        if (data.length < 1024) continue;
        writeFileSync(join(dir, `${name}.gz`), gzipSync(data, { level: 9 }));
        writeFileSync(join(dir, `${name}.br`), brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

// The UI is served by the API at /ui/ (apps/api/src/ui.ts). No React plugin: esbuild compiles TSX with the automatic
// runtime, which is all a production build needs (the plugin only adds fast refresh for `vite dev`).
// `vite dev` proxies the API to SLUICE_API (default http://127.0.0.1:8080).
export default defineConfig({
  base: '/ui/',
  esbuild: { jsx: 'automatic' },
  plugins: [precompress()],
  build: {
    outDir: 'dist',
    // dist/.vite/manifest.json: which chunks each page loads (bench/ui.bench.ts reports their sizes). Not served.
    manifest: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // React Query marks its modules "use client" for server components; a browser bundle has nothing to do with it.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: { '/api': process.env.SLUICE_API ?? 'http://127.0.0.1:8080' },
  },
});
