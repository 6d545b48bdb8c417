/**
 * A quick walk through the console in Chromium against a running system, for whoever
 * changes it (the committed browser tests are the *.test.ts beside this):
 *
 *   node test/browser/console-smoke.ts http://127.0.0.1:8080 ./data [screenshot dir]
 *
 * The customer logs in, fills the cart, checks out and waits for the order's outcome, its
 * timeline and notification; the admin opens the overview, the events and the orders. It
 * prints what it saw and every console error and failed request of the page, and exits 1 on
 * a step that failed or a console error.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { chromiumPath } from '#test/infra.ts';

const [base = 'http://127.0.0.1:8080', dataDir = 'data', shots] = process.argv.slice(2);
const [customer, admin] = (JSON.parse(readFileSync(join(dataDir, 'users', 'demo-accounts.json'), 'utf8')) as { accounts: Array<{ email: string; password: string }> }).accounts;
if (shots) mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: chromiumPath() ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const problems: string[] = [];
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url})`); });
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });

const shot = async (name: string) => {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
};
const step = async (name: string, run: () => Promise<string | void>) => {
  const started = Date.now();
  try {
    const said = await run();
    console.log(`ok   ${name} (${Date.now() - started} ms)${said ? `: ${said}` : ''}`);
  } catch (err) {
    console.log(`FAIL ${name}: ${(err as Error).message.split('\n')[0]}`);
    await shot(`failed-${name.replace(/\W+/g, '-')}`);
    process.exitCode = 1;
  }
};
/** Checks out and waits for the order it became (not the one followed before). */
async function checkOut(p: Page): Promise<string> {
  const before = await p.getByTestId('order-view').getAttribute('data-order-id', { timeout: 100 }).catch(() => null);
  await p.getByRole('button', { name: 'Check out' }).click();
  await p.locator(before ? `[data-testid="order-view"]:not([data-order-id="${before}"])` : '[data-testid="order-view"]').waitFor();
  return (await p.getByTestId('order-view').getAttribute('data-order-id'))!;
}
async function login(p: Page, who: { email: string; password: string }) {
  await p.getByLabel('Email').fill(who.email);
  await p.getByLabel('Password').fill(who.password);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.getByTestId('whoami-email').waitFor();
}

await step('the console loads, nobody logged in', async () => {
  await page.goto(`${base}/`);
  await page.getByTestId('product-card').first().waitFor();
  await page.getByTestId('needs-customer').waitFor();
  return `${await page.getByTestId('product-card').count()} products`;
});
await step('an admin page asks for an admin', async () => {
  await page.goto(`${base}/#/overview`);
  await page.getByTestId('needs-admin').waitFor();
});
await step('the customer logs in', async () => {
  await page.goto(`${base}/#/shop`);
  await login(page, customer);
  return `${await page.getByTestId('whoami-email').textContent()} as ${await page.getByTestId('whoami-role').textContent()}`;
});
await step('adds products to the cart (two quick clicks make two) and checks out', async () => {
  const cards = page.getByTestId('product-card');
  // Two quick clicks make two.
  await cards.nth(0).getByRole('button', { name: 'Add to cart' }).click();
  await cards.nth(0).getByRole('button', { name: 'Add to cart' }).click();
  await cards.nth(1).getByRole('button', { name: 'Add to cart' }).click();
  await page.getByTestId('cart-line').nth(1).waitFor();
  await cards.nth(0).getByTestId('in-cart').getByText('2 in the cart').waitFor();
  const total = await page.getByTestId('cart-total').textContent();
  await shot('shop-cart');
  const id = await checkOut(page);
  return `total ${total}, order ${id}`;
});
await step('the order is CONFIRMED with its timeline', async () => {
  await page.locator('[data-testid="order-status"][data-status="CONFIRMED"]').waitFor({ timeout: 20_000 });
  await page.locator('[data-testid="timeline-row"][data-type="OrderConfirmed"]').waitFor({ timeout: 5_000 });
  const types = await page.getByTestId('timeline-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type')));
  return types.join(' → ');
});
await step('its notification arrives live', async () => {
  await page.locator('[data-testid="notification"][data-kind="orderConfirmed"]').first().waitFor({ timeout: 15_000 });
  await shot('shop-confirmed');
  return (await page.getByTestId('notification').first().textContent()) ?? '';
});
await step('a declined card cancels the next order, with its compensation', async () => {
  await page.getByTestId('product-card').nth(0).getByRole('button', { name: /Add to cart/ }).click();
  await page.getByTestId('cart-line').first().waitFor();
  await page.getByTestId('payment-method').selectOption('card-declined');
  await checkOut(page);
  await page.locator('[data-testid="order-status"][data-status="CANCELLED"]').waitFor({ timeout: 20_000 });
  await page.locator('[data-testid="timeline-row"][data-compensation="true"]').first().waitFor({ timeout: 5_000 });
  await shot('shop-cancelled');
  return (await page.getByTestId('order-status').textContent()) ?? '';
});
await step('the customer sees their orders', async () => {
  await page.goto(`${base}/#/orders`);
  await page.getByTestId('order-row').first().waitFor();
  return `${await page.getByTestId('order-row').count()} orders`;
});
await step('logs out; the admin logs in', async () => {
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
  await login(page, admin);
  return (await page.getByTestId('whoami-role').textContent()) ?? '';
});
await step('overview', async () => {
  await page.goto(`${base}/#/overview`);
  await page.locator('[data-testid="overview-diagram"], [data-testid="overview-unavailable"]').first().waitFor();
  await page.getByTestId('service-row').first().waitFor();
  await page.waitForTimeout(2_500);
  await shot('overview');
  return (await page.getByTestId('overview-diagram').count()) ? `${await page.getByTestId('diagram-topic').count()} topics drawn` : 'overview API not there yet';
});
await step('events: tail and dead letters', async () => {
  await page.goto(`${base}/#/events`);
  await page.locator('[data-testid="tail-row"], [data-testid="tail-unavailable"]').first().waitFor({ timeout: 10_000 });
  await page.locator('[data-testid="dead-letters-empty"], [data-testid="dead-letter-row"]').first().waitFor();
  const rows = await page.getByTestId('tail-row').count();
  if (rows > 0) {
    await page.getByTestId('tail-row').first().click();
    await page.getByTestId('record-detail').waitFor();
  }
  await shot('events');
  return rows ? `${rows} records in the tail` : 'tail API not there yet';
});
await step('orders: search and an order with its timeline', async () => {
  await page.goto(`${base}/#/orders`);
  await page.locator('[data-testid="order-row"], [data-testid="search-unavailable"]').first().waitFor();
  const row = page.getByTestId('order-row').first();
  if (await row.count()) {
    await row.locator('a').click();
    await page.getByTestId('timeline-row').first().waitFor();
  }
  await shot('orders');
  return (await row.count()) ? 'opened the newest' : 'search API not there yet';
});

await browser.close();
console.log(problems.length === 0 ? 'no console error, no failed request' : `problems:\n  ${problems.join('\n  ')}`);
if (problems.some((p) => !p.startsWith('HTTP'))) process.exitCode = 1;
