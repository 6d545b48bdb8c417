/**
 * Issue 11's "done when", as one customer lives it, on both deployments: a new customer
 * fills a cart (priced from the catalog), checks out, gets the confirmation live on the
 * in-app stream and by e-mail in the local SMTP server (Mailpit), and the admin's analytics
 * show that order in the window of its time; the archive holds its events and rebuilds the
 * analytics read model as it is live.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createClient } from '#lab/client.ts';
import { createCatalog, waitAllTerminal } from '#lab/scenario.ts';
import { waitFor } from '#lab/invariants.ts';
import { mailpitSkip } from '#test/infra.ts';
import { mailpit } from '#test/support/mailpit.ts';
import { openSse } from '#test/support/sse.ts';
import { deployments, startDeployment } from './deployments.ts';

for (const deployment of deployments) {
  describe(`a customer's day, on the ${deployment.name} deployment`, { skip: deployment.skip() ?? mailpitSkip() }, () => {
    test('cart, checkout, the e-mail and the live notification, and the order in the analytics window of its time', async (t) => {
      const { system, client } = await startDeployment(t, deployment, 'events', { SMTP_URL: process.env.SMTP_URL ?? '' });
      const [kettle] = [...(await createCatalog(client, 1, 50)).keys()];
      const email = `day-${randomUUID().slice(0, 8)}@example.org`;
      assert.equal((await client.call('POST', '/api/auth/register', { email, password: 'correct horse battery', name: 'Dana' }, {}, 'anonymous')).status, 201);
      const dana = createClient(system.gatewayUrl, 4, { customer: { email, password: 'correct horse battery' } });
      t.after(() => dana.close());
      const stream = await openSse(t, `${system.gatewayUrl}/api/me/notifications/stream`, { authorization: `Bearer ${await dana.token('customer')}` });
      assert.equal(stream.status, 200);

      // Browses, then fills the cart (the cart learns the product from inventory's events).
      const session = `day-${randomUUID()}`;
      assert.equal((await dana.call('POST', '/api/events', { events: [{ type: 'product.viewed', sessionId: session, productId: kettle, at: new Date().toISOString() }] })).body.accepted, 1);
      await waitFor('the cart to know the product', async () => {
        const r = await dana.call('PUT', `/api/cart/items/${kettle}`, { quantity: 2 });
        return r.status === 200 ? r : undefined;
      }, 30_000);
      const cart = await dana.call('GET', '/api/cart');
      assert.equal(cart.status, 200);
      assert.equal(cart.body.lines.length, 1);

      const checkout = await dana.call('POST', '/api/cart/checkout', { paymentMethod: 'card', shippingAddress: { country: 'DE', city: 'Berlin' } }, { 'idempotency-key': `day-${session}` });
      assert.equal(checkout.status, 202, JSON.stringify(checkout.body));
      const orderId: string = checkout.body.orderId;
      const [order] = await waitAllTerminal(dana, [{ id: orderId, items: [{ productId: kettle, quantity: 2 }], paymentMethod: 'card', country: 'DE' }], 60_000);
      assert.equal(order.status, 'CONFIRMED');
      assert.equal((await dana.call('GET', '/api/cart')).body.lines.length, 0, 'the cart is empty once the order is placed');

      // Told live, and by e-mail.
      const live = (await stream.waitFor(2, 30_000)).map((e) => JSON.parse(e.data) as { kind: string; data: { orderId: string } });
      assert.ok(live.some((n) => n.kind === 'orderConfirmed' && n.data.orderId === orderId), JSON.stringify(live));
      const mails = await mailpit().waitFor(email, { count: 1, timeoutMs: 30_000 });
      assert.ok(mails.some((m) => /is confirmed/.test(m.Subject) && m.Text.includes(orderId)), mails.map((m) => m.Subject).join(' | '));

      // In the analytics windows of its time: placed in the minute of its placement, confirmed
      // in the minute of its confirmation (the same one or the next).
      const placedAt = Date.parse(order.createdAt);
      const minute = Math.floor(placedAt / 60_000) * 60_000;
      const range = new URLSearchParams({ window: '1m', from: new Date(minute).toISOString(), to: new Date(minute + 120_000).toISOString() });
      const windows = await waitFor('the order in its analytics windows', async () => {
        const r = await client.call('GET', `/api/analytics/sales?${range}`, undefined, {}, 'admin');
        const w: Array<{ start: string; placed: number; confirmed: number; revenueCents: number }> = r.body.windows ?? [];
        return w.reduce((n, x) => n + x.confirmed, 0) >= 1 ? w : undefined;
      }, 60_000);
      assert.equal(windows[0].start, new Date(minute).toISOString());
      assert.ok(windows[0].placed >= 1, 'placed in the minute of its placement');
      assert.ok(windows.reduce((n, x) => n + x.revenueCents, 0) >= order.totalCents, JSON.stringify(windows));
      const top = await client.call('GET', `/api/analytics/products/top?${range}`, undefined, {}, 'admin');
      assert.ok(top.body.products.some((p: { productId: string; units: number }) => p.productId === kettle && p.units >= 2), JSON.stringify(top.body));
    });
  });
}
