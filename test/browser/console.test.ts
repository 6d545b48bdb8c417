/**
 * The console in a real Chromium, clicked through as its users would, against a whole system
 * (every service its own process, the embedded deployment, spans to Zipkin when ZIPKIN_URL is
 * set, as in CI): the customer logs in, shops, checks out and sees the order CONFIRMED with its
 * timeline and notification; the admin sees its records in the live tail, finds it in Orders,
 * watches the Overview, dead-letters a charge and replays it from the Events page, and runs a
 * quick lab from the Lab page. Any console error or uncaught exception in a page fails its step.
 *
 * Each page is photographed; CONSOLE_SCREENSHOTS=docs/screenshots writes the README's pictures (console-<page>.png).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumSkip } from '#test/infra.ts';
import { deployments, startDeployment } from '../e2e/deployments.ts';
import { launchChromium, watchedPage, type WatchedPage } from './browser.ts';

const screenshots = process.env.CONSOLE_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'orderflow-console-shots-'));
mkdirSync(screenshots, { recursive: true });
const zipkinUrl = process.env.ZIPKIN_URL;

async function logIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('whoami-email').waitFor();
}

async function photograph(page: Page, name: string): Promise<void> {
  const buffer = await page.screenshot({ path: join(screenshots, `console-${name}.png`), fullPage: true });
  assert.ok(buffer.length > 10_000, `${name}.png is a real picture (${buffer.length} bytes)`);
}

/** Checks out what the cart holds and returns the id of the order it became. */
async function checkOut(page: Page): Promise<string> {
  const before = await page.getByTestId('order-view').getAttribute('data-order-id', { timeout: 100 }).catch(() => null);
  await page.getByRole('button', { name: 'Check out' }).click();
  await page.locator(before ? `[data-testid="order-view"]:not([data-order-id="${before}"])` : '[data-testid="order-view"]').waitFor();
  return (await page.getByTestId('order-view').getAttribute('data-order-id'))!;
}

const types = (page: Page, testId: string) => page.getByTestId(testId).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type')));

describe('the console in Chromium', { skip: chromiumSkip() }, () => {
  test('a customer shops and follows the order; an admin follows it through the events, orders, overview, a dead letter replayed and a lab run', async (t) => {
    const tracing: Record<string, string> = zipkinUrl ? { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${zipkinUrl}/api/v2/spans`, OTEL_BSP_SCHEDULE_DELAY: '200' } : {};
    // The demo catalog, as `npm start` seeds it. Faults on, to make payments fail a charge on purpose; a step deadline longer than the
    // test, so that the order whose charge is dead-lettered waits for its replay.
    const { system } = await startDeployment(t, deployments[0], 'events', { ORDERFLOW_SEED: '1', ORDERFLOW_FAULTS: '1', ORDERS_STEP_DEADLINE_MS: '300000', ...tracing }, { lab: true });
    const base = system.gatewayUrl;
    const browser = await launchChromium(t);
    const shopper = await watchedPage(browser);
    const admin = await watchedPage(browser, { viewport: { width: 1400, height: 900 } });
    const clean = (w: WatchedPage, where: string) => assert.deepEqual(w.problems, [], `no console error ${where}`);
    let orderId = '';

    await t.test('the customer logs in, fills the cart, checks out and sees the order CONFIRMED with its timeline and notification', async () => {
      const { page } = shopper;
      await page.goto(`${base}/#/shop`);
      await page.getByTestId('product-card').first().waitFor();
      await page.getByTestId('needs-customer').waitFor();
      await logIn(page, system.demoUsers.customer);
      assert.equal(await page.getByTestId('whoami-role').textContent(), 'customer');
      const cards = page.getByTestId('product-card');
      await cards.nth(0).getByRole('button', { name: /Add to cart/ }).click();
      await page.getByTestId('cart-line').first().waitFor();
      await cards.nth(1).getByRole('button', { name: /Add to cart/ }).click();
      await page.getByTestId('cart-line').nth(1).waitFor();
      orderId = await checkOut(page);
      await page.locator('[data-testid="order-status"][data-status="CONFIRMED"]').waitFor({ timeout: 30_000 });
      await page.locator('[data-testid="timeline-row"][data-type="OrderConfirmed"]').waitFor({ timeout: 10_000 });
      const timeline = await types(page, 'timeline-row');
      assert.equal(timeline[0], 'OrderPlaced');
      for (const step of ['StockReserved', 'PaymentCharged', 'ShipmentScheduled', 'OrderConfirmed']) assert.ok(timeline.includes(step), `${step} in ${timeline.join(', ')}`);
      await page.locator('[data-testid="notification"][data-kind="orderConfirmed"]').first().waitFor({ timeout: 20_000 });
      await photograph(page, 'shop');
      clean(shopper, 'in the shop');
    });

    await t.test('the admin sees the order\'s records in the live tail, filtered by order, with a record\'s payload and headers', async () => {
      const { page } = admin;
      await page.goto(`${base}/#/events`);
      await page.getByTestId('needs-admin').waitFor();
      await logIn(page, system.demoUsers.admin);
      await page.getByTestId('tail').waitFor();
      await page.getByTestId('tail-filter-order').fill(orderId);
      await page.getByTestId('tail-apply').click();
      await page.locator('[data-testid="tail-row"][data-type="OrderConfirmed"]').waitFor({ timeout: 15_000 });
      const seen = await types(page, 'tail-row');
      for (const type of ['OrderPlaced', 'ReserveStock', 'StockReserved', 'ChargePayment', 'PaymentCharged', 'OrderConfirmed']) assert.ok(seen.includes(type), `${type} in the tail: ${seen.join(', ')}`);
      await page.locator('[data-testid="tail-row"][data-type="OrderPlaced"]').first().click();
      assert.match(await page.getByTestId('record-payload').textContent() ?? '', new RegExp(orderId));
      assert.match(await page.getByTestId('record-headers').textContent() ?? '', /traceparent|correlationId/);
      await photograph(page, 'events');
      clean(admin, 'in the events');
    });

    await t.test('the admin finds the order in Orders and opens its timeline: each step with its service', async () => {
      const { page } = admin;
      await page.goto(`${base}/#/orders`);
      await page.getByTestId('search-status').selectOption('CONFIRMED');
      await page.getByTestId('search-submit').click();
      await page.locator(`[data-testid="order-row"][data-order-id="${orderId}"]`).waitFor({ timeout: 10_000 });
      await page.goto(`${base}/#/orders/${orderId}`);
      await page.locator('[data-testid="timeline-row"][data-type="OrderConfirmed"]').waitFor({ timeout: 10_000 });
      const services = await page.getByTestId('timeline-service').allTextContents();
      for (const service of ['orders', 'inventory', 'payments', 'shipping']) assert.ok(services.some((s) => s.includes(service)), `${service} in ${services.join(', ')}`);
      if (zipkinUrl) {
        const href = await page.getByTestId('trace-link').first().getAttribute('href');
        assert.match(href ?? '', /\/zipkin\/traces\/[0-9a-f]{32}$/, 'a step links to its trace in Zipkin');
      }
      await photograph(page, 'orders');
      clean(admin, 'in the orders');
    });

    await t.test('the overview draws the services, topics and groups, every service up, with the deployment in use', async () => {
      const { page } = admin;
      await page.goto(`${base}/#/overview`);
      await page.getByTestId('overview-diagram').waitFor({ timeout: 10_000 });
      assert.equal(await page.getByTestId('overview-architecture').textContent(), 'events');
      assert.equal(await page.getByTestId('overview-bus').textContent(), 'embedded');
      assert.ok(await page.getByTestId('diagram-topic').count() >= 5, 'the topics are drawn');
      assert.ok(await page.getByTestId('diagram-service').count() >= 4, 'the services that own topics are drawn');
      assert.ok(await page.getByTestId('diagram-group').count() >= 4, 'the consumer groups are drawn');
      const up = () => page.locator('[data-testid="service-row"][data-status="up"]').count();
      const rows = await page.getByTestId('service-row').count();
      for (let i = 0; i < 50 && (await up()) < rows; i++) await page.waitForTimeout(200);
      assert.ok(rows >= 9, `${rows} services listed`);
      assert.equal(await up(), rows, 'every service up');
      await page.waitForTimeout(2_500); // a second poll: the rates
      await photograph(page, 'overview');
      clean(admin, 'in the overview');
    });

    await t.test('a charge that fails is dead-lettered, shown with its error, and replayed from the console: the order then completes', async () => {
      // Payments' handler of the charge fails on every attempt (fault injection), so the
      // shopper's next order has its charge dead-lettered and waits.
      await system.failMessages('payments', ['ChargePayment']);
      const { page } = shopper;
      await page.getByTestId('product-card').nth(0).getByRole('button', { name: /Add to cart/ }).click();
      await page.getByTestId('cart-line').first().waitFor();
      const stuck = await checkOut(page);
      await page.locator('[data-testid="order-status"][data-status="PENDING"]').waitFor();

      const { page: ops } = admin;
      await ops.goto(`${base}/#/events`);
      const letter = ops.locator('[data-testid="dead-letter-row"][data-type="ChargePayment"]');
      for (let i = 0; i < 60 && (await letter.count()) === 0; i++) {
        await ops.getByTestId('dead-letters-refresh').click();
        await ops.waitForTimeout(500);
      }
      await letter.first().waitFor();
      assert.match(await letter.first().getByTestId('dead-letter-error').textContent() ?? '', /PLT_ERR_INJECTED_FAILURE/);
      assert.match(await letter.first().textContent() ?? '', new RegExp(stuck.slice(0, 8)));
      await photograph(ops, 'dead-letters');

      // The bug fixed, the admin replays it: the charge goes through and the order completes.
      await system.failMessages('payments', []);
      await letter.first().getByTestId('dead-letter-replay').click();
      await ops.locator('[data-testid="dead-letter-row"][data-type="ChargePayment"][data-state="replayed"], [data-testid="dead-letters-empty"]').first().waitFor({ timeout: 10_000 });
      await page.locator(`[data-testid="order-view"][data-order-id="${stuck}"] [data-testid="order-status"][data-status="CONFIRMED"]`).waitFor({ timeout: 30_000 });
      clean(admin, 'in the dead letters');
      clean(shopper, 'in the shop, after the replay');
    });

    await t.test('the admin starts a quick lab run, follows it and reads its summary', async () => {
      const { page } = admin;
      await page.goto(`${base}/#/lab`);
      await page.getByTestId('lab-no-runs').waitFor();
      await page.getByTestId('lab-arch').selectOption('events');
      await page.getByTestId('lab-start').click();
      await page.locator('[data-testid="lab-run-view"][data-status="running"]').waitFor();
      await page.locator('[data-testid="lab-run-view"][data-status="passed"]').waitFor({ timeout: 240_000 });
      const summary = await page.getByTestId('lab-summary').textContent({ timeout: 10_000 });
      assert.match(summary ?? '', /events/);
      assert.ok((await page.getByTestId('lab-progress').textContent())?.includes('report'), 'the progress shows the lab\'s output');
      await photograph(page, 'lab');
      clean(admin, 'in the lab');
    });
  });
});
