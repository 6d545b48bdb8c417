/**
 * Takes docs/screenshots/zipkin-trace.png: one order placed through a running system with
 * tracing on, its trace opened in Zipkin's UI in headless Chromium.
 *
 *   npm start -- --tracing        # in another terminal
 *   node docs/screenshots/zipkin-trace.ts [gateway URL] [Zipkin URL]
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const gateway = process.argv[2] ?? 'http://127.0.0.1:8080';
const zipkin = process.argv[3] ?? 'http://127.0.0.1:9411';
const out = new URL('./zipkin-trace.png', import.meta.url).pathname;

const products = (await (await fetch(`${gateway}/api/products`)).json()) as Array<{ id: string }>;
const traceId = randomBytes(16).toString('hex');
const res = await fetch(`${gateway}/api/orders`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
  body: JSON.stringify({ customerId: 'c-1', items: [{ productId: products[0].id, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }),
});
console.log(`order ${res.status} ${await res.text()}; trace ${traceId}`);
await sleep(8_000); // the saga, then the exporters' batch delay

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${zipkin}/zipkin/traces/${traceId}`, { waitUntil: 'networkidle' });
  await sleep(1_000);
  await page.screenshot({ path: out, fullPage: false });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
