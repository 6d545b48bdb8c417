/**
 * /docs in a real Chromium: Swagger UI loads its own scripts under the gateway's security
 * headers, reads /docs/openapi.json and lists every operation of the public API.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { chromiumPath, chromiumSkip } from '#test/infra.ts';
import { buildDetachedGateway } from './openapi-document.ts';

test('/docs shows the public API in Chromium: every operation, no script refused', { skip: chromiumSkip() }, async (t) => {
  const gateway = await buildDetachedGateway();
  t.after(() => gateway.close());
  const url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${url}/docs`);
  await page.waitForSelector('.opblock', { timeout: 20_000 });
  const operations = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')));
  assert.equal(operations.length, 31, operations.join(', '));
  assert.ok(operations.includes('/api/orders/{id}/details'));
  assert.match(await page.textContent('.info .title') ?? '', /orderflow public API/);
  assert.deepEqual(problems, []);
});
