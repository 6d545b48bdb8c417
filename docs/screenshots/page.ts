/**
 * A screenshot of one page in headless Chromium (Debian's chromium, driven by playwright-core):
 *
 *   node docs/screenshots/page.ts http://127.0.0.1:9090/consoles/overview.html docs/screenshots/prometheus-overview.png
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const [url, out] = process.argv.slice(2);
if (!url || !out) throw new Error('usage: node docs/screenshots/page.ts <url> <png file>');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url, { waitUntil: 'networkidle' });
  await sleep(1_500); // the graphs draw after their queries answer
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
