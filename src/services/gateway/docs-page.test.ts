/**
 * /docs in a real Chromium: Swagger UI loads its own scripts under the gateway's security
 * headers, reads /docs/openapi.json and lists every operation of the public API.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromiumSkip } from '#test/infra.ts';
import { launchChromium, watchedPage } from '#test/browser/browser.ts';
import { buildDetachedGateway } from './openapi-document.ts';

test('/docs shows the public API in Chromium: every operation, no script refused', { skip: chromiumSkip() }, async (t) => {
  const gateway = await buildDetachedGateway();
  t.after(() => gateway.close());
  const url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const { page, problems } = await watchedPage(await launchChromium(t));
  await page.goto(`${url}/docs`);
  await page.waitForSelector('.opblock', { timeout: 20_000 });
  const operations = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')));
  const documented = Object.values((gateway.app.swagger() as { paths: Record<string, object> }).paths).flatMap((methods) => Object.keys(methods));
  assert.equal(operations.length, documented.length, operations.join(', '));
  assert.ok(operations.length >= 28, `${operations.length} operations`);
  assert.ok(operations.includes('/api/orders/{id}/details'));
  assert.match(await page.textContent('.info .title') ?? '', /orderflow public API/);
  assert.deepEqual(problems, []);
});
