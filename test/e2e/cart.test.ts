/**
 * The cart end to end, on both deployments: a customer fills a cart priced from the cart's
 * own catalog copy, a price change reaches it by event, checkout places an order that the
 * customer reads at once and that is confirmed, the cart empties, the client's
 * Idempotency-Key replays, an empty cart cannot be checked out, another customer's cart is
 * apart, the stock the order took shows in the cart, and an idle cart is announced once
 * (CartAbandoned, read back from the bus).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createClient } from '#lab/client.ts';
import { waitFor } from '#lab/invariants.ts';
import { decode, type Envelope } from '#platform/bus/envelope.ts';
import { openBus } from '#platform/bus/open.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { deployments, startDeployment } from './deployments.ts';

const IDLE_MS = 1_500;

for (const deployment of deployments) {
  describe(`the cart, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('fill, see prices and stock move by events, check out once into a confirmed order; an idle cart is announced once', async (t) => {
      const { system, client, dataDir, env } = await startDeployment(t, deployment, 'events', { CART_ABANDONED_AFTER_MS: String(IDLE_MS), CART_ABANDONED_CHECK_MS: '200' });
      const run = randomUUID().slice(0, 8);
      const apple = (await client.createProduct({ sku: `CART-A-${run}`, name: 'Apple', priceCents: 1000, stock: 5 })).body.id;
      const pear = (await client.createProduct({ sku: `CART-P-${run}`, name: 'Pear', priceCents: 500, stock: 1 })).body.id;
      const put = (productId: string, quantity: number, c = client) => c.call('PUT', `/api/cart/items/${productId}`, { quantity });
      const cart = (c = client) => c.call('GET', '/api/cart');

      // The cart learns the products from ProductCreated: until then they are unknown to it.
      await waitFor('the cart to know the products', async () => ((await put(apple, 2)).status === 200 && (await put(pear, 3)).status === 200 ? true : undefined), 30_000, 200);
      const filled = await cart();
      assert.equal(filled.status, 200);
      assert.deepEqual(filled.body.lines.map((l: any) => [l.name, l.quantity, l.unitPriceCents, l.available, l.problem]), [['Apple', 2, 1000, 5, undefined], ['Pear', 3, 500, 1, 'SHORT_OF_STOCK']]);
      assert.equal(filled.body.totalCents, 3500);

      assert.equal((await client.call('PATCH', `/api/products/${apple}`, { priceCents: 800 }, {}, 'admin')).status, 200);
      await waitFor('the new price to reach the cart', async () => ((await cart()).body.lines[0].unitPriceCents === 800 ? true : undefined), 30_000, 200);

      // Another customer: a cart of her own, left to idle.
      const ada = { email: `ada-cart-${run}@example.org`, password: 'correct horse battery', name: 'Ada' };
      assert.equal((await client.call('POST', '/api/auth/register', ada, {}, 'anonymous')).status, 201);
      const other = createClient(system.gatewayUrl, 4, { customer: { email: ada.email, password: ada.password } });
      t.after(() => other.close());
      assert.deepEqual((await cart(other)).body.lines, [], 'her cart is not the demo customer\'s');
      const adaCart = (await put(pear, 1, other)).body;
      assert.notEqual(adaCart.cartId, filled.body.cartId);
      assert.equal((await cart()).body.lines.length, 2, 'and hers changed nothing of his');

      assert.equal((await put(pear, 1)).status, 200);
      const before = (await cart()).body;
      const checkout = { paymentMethod: 'card', shippingAddress: { country: 'DE', city: 'Berlin' } };
      const placed = await client.call('POST', '/api/cart/checkout', checkout, { 'idempotency-key': `cart-e2e-${run}` });
      assert.equal(placed.status, 202, JSON.stringify(placed.body));
      assert.equal(placed.body.status, 'PENDING');
      const orderId: string = placed.body.orderId;
      const read = await client.order(orderId);
      assert.equal(read.status, 200, 'the order exists when the checkout answers');
      assert.deepEqual(read.body.items.map((i) => [i.productId, i.quantity]), [[apple, 2], [pear, 1]]);
      assert.equal(read.body.totalCents, 2 * 800 + 500);
      const confirmed = await waitFor('the order to be confirmed', async () => {
        const r = await client.order(orderId);
        return r.body.status === 'PENDING' ? undefined : r.body;
      }, 60_000, 200);
      assert.equal(confirmed.status, 'CONFIRMED');

      const emptied = (await cart()).body;
      assert.deepEqual([emptied.lines, emptied.version, emptied.lastOrderId], [[], before.version + 1, orderId]);
      const replay = await client.call('POST', '/api/cart/checkout', checkout, { 'idempotency-key': `cart-e2e-${run}` });
      assert.deepEqual([replay.status, replay.body.orderId], [202, orderId], 'the same key, the same order');
      const reused = await client.call('POST', '/api/cart/checkout', { ...checkout, paymentMethod: 'card-declined' }, { 'idempotency-key': `cart-e2e-${run}` });
      assert.deepEqual([reused.status, reused.body.error?.code], [422, 'CART_ERR_IDEMPOTENCY_KEY_REUSED']);
      const empty = await client.call('POST', '/api/cart/checkout', checkout);
      assert.deepEqual([empty.status, empty.body.error?.code], [422, 'CART_ERR_EMPTY']);

      // The reservation reached the cart's stock count by event: 5 − 2 apples, no pear left.
      await put(apple, 1);
      await put(pear, 1);
      await waitFor('the reservation to reach the cart', async () => {
        const lines = (await cart()).body.lines;
        return lines[0].available === 3 && lines[1].available === 0 ? true : undefined;
      }, 30_000, 200);
      assert.equal((await cart()).body.lines[1].problem, 'UNAVAILABLE');

      // Ada's cart idles past the limit: announced once at its version, however many scans pass.
      const bus = await openBus(loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir }), 'cart-e2e', silentLogger);
      t.after(() => bus.close());
      const cartEvents = async () => (await bus.read('cart.events', { limit: 10_000 })).map((r) => decode(r) as Envelope<any>);
      await waitFor('CartAbandoned for her cart', async () => ((await cartEvents()).some((e) => e.type === 'CartAbandoned' && e.key === adaCart.cartId) ? true : undefined), 30_000, 250);
      await new Promise((resolve) => setTimeout(resolve, 4 * 200 + 500));
      const events = await cartEvents();
      const abandoned = events.filter((e) => e.type === 'CartAbandoned' && e.key === adaCart.cartId);
      assert.equal(abandoned.length, 1, 'once');
      assert.deepEqual(abandoned[0].payload, {
        cartId: adaCart.cartId, customerId: abandoned[0].payload.customerId, version: adaCart.version, lines: [{ productId: pear, quantity: 1, unitPriceCents: 500 }], totalCents: 500, idleSince: adaCart.updatedAt,
      });
      const checkedOut = events.filter((e) => e.type === 'CartCheckedOut');
      assert.deepEqual(checkedOut.map((e) => [e.key, e.payload.orderId, e.payload.totalCents]), [[before.cartId, orderId, 2100]]);
      const perVersion = events.filter((e) => e.type === 'CartAbandoned').map((e) => `${e.key}@${e.payload.version}`);
      assert.equal(new Set(perVersion).size, perVersion.length, 'no cart version announced twice');
    });

    test('rest: the checkout answers 202 with the final status, and the cart shows no stock count (no reservation is announced)', async (t) => {
      const { client } = await startDeployment(t, deployment, 'rest');
      const apple = (await client.createProduct({ sku: `CART-R-${randomUUID().slice(0, 8)}`, name: 'Apple', priceCents: 1000, stock: 5 })).body.id;
      await waitFor('the cart to know the product', async () => ((await client.call('PUT', `/api/cart/items/${apple}`, { quantity: 2 })).status === 200 ? true : undefined), 30_000, 200);
      assert.equal((await client.call('GET', '/api/cart')).body.lines[0].available, null);
      const placed = await client.call('POST', '/api/cart/checkout', { paymentMethod: 'card', shippingAddress: { country: 'DE' } });
      assert.deepEqual([placed.status, placed.body.status], [202, 'CONFIRMED'], JSON.stringify(placed.body));
      assert.equal((await client.order(placed.body.orderId)).body.status, 'CONFIRMED');
      assert.deepEqual((await client.call('GET', '/api/cart')).body.lines, []);
    });
  });
}
