/**
 * A deployed orderflow, checked from outside: only its gateway's public API, as a user
 * meets it. A new customer registers and logs in, the admin creates a product, the customer
 * orders it and the order is confirmed, its history tells how, and a cart checks out into a
 * second confirmed order. It needs nothing but the gateway's URL and the admin's credentials,
 * so it runs against any orderflow: the containers of the image (container.test.ts), a
 * compose project, a cluster.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient, type Credentials } from '#lab/client.ts';
import { waitFor } from '#lab/invariants.ts';

export interface ScenarioOptions {
  /** How long an order may take to be confirmed; default 60 s. */
  timeoutMs?: number;
  /** Sees every answer (the e2e tests check each against the OpenAPI document). */
  onAnswer?: (method: string, path: string, status: number, body: unknown) => void;
}

/** What the scenario left behind, for a caller to look at again (after a restart, say). */
export interface ScenarioOutcome {
  customer: Credentials;
  productId: string;
  orderIds: string[];
}

export async function deployedScenario(gatewayUrl: string, admin: Credentials, opts: ScenarioOptions = {}): Promise<ScenarioOutcome> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const run = randomUUID().slice(0, 8);
  const customer = { email: `deployed-${run}@example.org`, password: 'correct horse battery' };
  const client = createClient(gatewayUrl, 4, { admin, customer, onAnswer: opts.onAnswer });
  try {
    assert.equal((await client.health()).status, 200, 'the gateway answers its health');
    const registered = await client.call('POST', '/api/auth/register', { ...customer, name: 'Deployed Customer' }, {}, 'anonymous');
    assert.deepEqual([registered.status, registered.body.role], [201, 'customer'], JSON.stringify(registered.body));
    const me = await client.call('GET', '/api/me');
    assert.deepEqual([me.status, me.body.email], [200, customer.email], 'the customer logs in and is who the token says');

    const created = await client.createProduct({ sku: `DEPLOYED-${run}`, name: 'Deployed teapot', priceCents: 2500, stock: 10 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const productId = created.body.id;
    await waitFor('the product in the public catalog', async () => ((await client.products()).body.some((p) => p.id === productId) ? true : undefined), timeoutMs, 200);

    // The orders service prices from its own copy of the catalog, filled by the product's events.
    const placed = await waitFor('the orders service to know the product', async () => {
      const r = await client.placeOrder({ items: [{ productId, quantity: 2 }], paymentMethod: 'card', shippingAddress: { country: 'DE', city: 'Berlin' } }, `deployed-${run}`);
      return r.status === 422 && r.body && (r.body as { error?: { code?: string } }).error?.code === 'ORD_ERR_UNKNOWN_PRODUCT' ? undefined : r;
    }, timeoutMs, 200);
    assert.ok(placed.status === 201 || placed.status === 202, JSON.stringify(placed.body));
    const orderId = placed.body.id;
    const order = await terminal(client, orderId, timeoutMs);
    assert.deepEqual([order.status, order.totalCents, order.customerId], ['CONFIRMED', 5000, me.body.id], `the order: ${JSON.stringify(order)}`);
    const history = await client.call('GET', `/api/orders/${orderId}/history`);
    assert.equal(history.status, 200, JSON.stringify(history.body));
    const types = (history.body.events as Array<{ type: string }>).map((e) => e.type);
    assert.equal(types[0], 'OrderPlaced');
    assert.equal(types.at(-1), 'OrderConfirmed', `the history ends confirmed: ${types.join(', ')}`);

    // The cart learns products from their events: until then the product is unknown to it.
    await waitFor('the cart to know the product', async () => ((await client.call('PUT', `/api/cart/items/${productId}`, { quantity: 1 })).status === 200 ? true : undefined), timeoutMs, 200);
    const checkout = await client.call('POST', '/api/cart/checkout', { paymentMethod: 'card', shippingAddress: { country: 'DE', city: 'Berlin' } }, { 'idempotency-key': `deployed-cart-${run}` });
    assert.ok(checkout.status === 201 || checkout.status === 202, JSON.stringify(checkout.body));
    const fromCart = await terminal(client, checkout.body.orderId, timeoutMs);
    assert.deepEqual([fromCart.status, fromCart.totalCents], ['CONFIRMED', 2500], `the cart's order: ${JSON.stringify(fromCart)}`);
    assert.deepEqual((await client.call('GET', '/api/cart')).body.lines, [], 'the cart is empty after its checkout');

    const mine = await client.call('GET', '/api/orders');
    assert.deepEqual(new Set(mine.body.orders.map((o: { id: string }) => o.id)), new Set([orderId, fromCart.id]), 'the customer\'s orders are the two');
    return { customer, productId, orderIds: [orderId, fromCart.id] };
  } finally {
    await client.close();
  }
}

async function terminal(client: ReturnType<typeof createClient>, id: string, timeoutMs: number) {
  return waitFor(`order ${id} to leave PENDING`, async () => {
    const r = await client.order(id);
    return r.status === 200 && r.body.status !== 'PENDING' ? r.body : undefined;
  }, timeoutMs, 200);
}
