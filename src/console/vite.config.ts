/**
 * The console's build: Vite bundles src/console into dist/console (gitignored), which the
 * gateway serves at `/` (services/gateway/console-files.ts). Preact's JSX is compiled by
 * Vite's own transform (Oxc), so no plugin is needed. `npm run console:dev` serves it with
 * hot reload on :5173, the API proxied to a gateway on :8080 (`npm start`).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  clearScreen: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // No inline data: URLs for assets: every file is served from 'self' under the CSP.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080', '/health': 'http://127.0.0.1:8080', '/docs': 'http://127.0.0.1:8080' },
  },
});
