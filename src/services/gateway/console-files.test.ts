/**
 * The console at `/` over real HTTP: the real build (Vite, into a temporary folder) served
 * with the right types and caching, the API's unknown paths still the envelope, and without
 * a build a page that says how to make one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { build } from 'vite';
import { buildDetachedGateway } from './openapi-document.ts';

const viteConfig = join(import.meta.dirname, '..', '..', 'console', 'vite.config.ts');

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'orderflow-console-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function serve(t: TestContext, consoleDir: string): Promise<string> {
  const gateway = await buildDetachedGateway({ consoleDir });
  t.after(() => gateway.close());
  return gateway.app.listen({ port: 0, host: '127.0.0.1' });
}

test('the gateway serves the built console at /: index.html never cached, its script and stylesheet typed and cached for a year', async (t) => {
  const dir = await tempDir(t);
  await build({ configFile: viteConfig, logLevel: 'silent', build: { outDir: dir } });
  const url = await serve(t, dir);

  const index = await fetch(`${url}/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self';/);
  const html = await index.text();
  const script = html.match(/<script type="module"[^>]* src="([^"]+)"/)?.[1];
  const style = html.match(/<link rel="stylesheet"[^>]* href="([^"]+)"/)?.[1];
  assert.ok(script?.startsWith('/assets/') && style?.startsWith('/assets/'), html);

  for (const [path, type] of [[script, /^(text|application)\/javascript; charset=utf-8$/], [style, /^text\/css; charset=utf-8$/]] as const) {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type') ?? '', type);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok((await res.text()).length > 1000, `${path} has content`);
  }
  // The app itself, not an empty shell: Preact and the pages are in the script.
  assert.match(await (await fetch(`${url}${script}`)).text(), /add-to-cart/);

  const missing = await fetch(`${url}/assets/nothing-here.js`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: { code: 'PLT_ERR_ROUTE_NOT_FOUND', message: 'no file /assets/nothing-here.js' } });
  const posted = await fetch(`${url}/assets/${script!.split('/').pop()}`, { method: 'POST' });
  assert.equal(posted.status, 405);
  assert.equal(posted.headers.get('allow'), 'GET, HEAD');
});

test('the API and its documents are unchanged beside the console: an unknown /api path is still the 404 envelope', async (t) => {
  const dir = await tempDir(t);
  const url = await serve(t, dir);
  const unknown = await fetch(`${url}/api/no-such-thing`);
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { error: { code: 'PLT_ERR_ROUTE_NOT_FOUND', message: 'no route GET /api/no-such-thing' } });
  const other = await fetch(`${url}/no-such-page`);
  assert.equal(other.status, 404);
  assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'PLT_ERR_ROUTE_NOT_FOUND');
  assert.equal((await fetch(`${url}/docs/openapi.json`)).status, 200);
  const posted = await fetch(`${url}/`, { method: 'POST' });
  assert.equal(posted.status, 405);
});

test('without a build, / says how to make one (not a failure)', async (t) => {
  const url = await serve(t, await tempDir(t));
  const res = await fetch(`${url}/`);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.match(await res.text(), /not built[\s\S]*npm run console:build/);
  const asset = await fetch(`${url}/assets/index.js`);
  assert.equal(asset.status, 404);
  assert.equal(((await asset.json()) as { error: { code: string } }).error.code, 'PLT_ERR_ROUTE_NOT_FOUND');
});
