/**
 * /docs in a real Chromium: Swagger UI loads its own scripts under the gateway's security
 * headers, reads /docs/openapi.json and lists every operation of the public API.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { silentLogger } from '#platform/log.ts';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { chromiumPath, chromiumSkip } from '#test/infra.ts';
import { buildGatewayApp } from './app.ts';
import { upstreamNames } from './config.ts';
import type { Upstreams } from './http.ts';

test('/docs shows the public API in Chromium: every operation, no script refused', { skip: chromiumSkip() }, async (t) => {
  const nowhere = 'http://127.0.0.1:9';
  const upstreams = Object.fromEntries(upstreamNames.map((name) => [name, createUpstream({ name, url: nowhere, timeoutMs: 100 })])) as Upstreams;
  const app = await buildGatewayApp({ log: silentLogger, upstreams, verifier: createTokenVerifier({ jwks: `${nowhere}/jwks`, issuer: 'i', audience: 'a' }) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    await app.close();
    await Promise.all(Object.values(upstreams).map((u) => u.close()));
  });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${url}/docs`);
  await page.waitForSelector('.opblock', { timeout: 20_000 });
  const operations = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')));
  assert.equal(operations.length, 15, operations.join(', '));
  assert.ok(operations.includes('/api/orders/{id}/details'));
  assert.match(await page.textContent('.info .title') ?? '', /orderflow public API/);
  assert.deepEqual(problems, []);
});
