/**
 * The cart's routes over real HTTP, with orders stood in for by a small HTTP server that
 * keeps orders' contract (an order per Idempotency-Key per customer, 422 for the same key
 * with another body) and can be made to fail: the fakes inject faults only.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { v7 as uuidv7 } from 'uuid';
import { message, ProductCreated, Topics, type PayloadOf } from '#contracts/index.ts';
import { decode } from '#platform/bus/envelope.ts';
import { createBatchWriter, type BatchWriter } from '#platform/db/batch-writer.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { startTestHost } from '#test/support/host.ts';
import { runHandler } from '#test/support/handlers.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

interface StandIn {
  url: string;
  /** Bodies of every POST /orders, with their key. */
  calls: Array<{ key: string | undefined; body: any }>;
  /** What the next POST /orders answers instead of placing, if set. */
  fail?: { status: number; body: unknown };
  /** The status a placed order is answered with (rest: CONFIRMED with 201). */
  placedStatus: { code: number; status: string };
  /** How long POST /orders takes to answer. */
  delayMs: number;
}

async function ordersStandIn(t: TestContext): Promise<StandIn> {
  const byKey = new Map<string, { id: string; body: string }>();
  const orders = new Map<string, { status: string }>();
  const readBody = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    return text;
  };
  const standIn: StandIn = { url: '', calls: [], placedStatus: { code: 202, status: 'PENDING' }, delayMs: 0 };
  const server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url?.startsWith('/orders/')) {
      const order = orders.get(req.url.slice('/orders/'.length));
      return order ? send(200, { id: req.url.slice(8), ...order }) : send(404, { error: { code: 'ORD_ERR_ORDER_NOT_FOUND', message: 'no order' } });
    }
    const text = await readBody(req);
    const key = req.headers['idempotency-key'] as string | undefined;
    const body = JSON.parse(text);
    standIn.calls.push({ key, body });
    if (standIn.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, standIn.delayMs));
    if (standIn.fail) return send(standIn.fail.status, standIn.fail.body);
    const prior = key ? byKey.get(`${body.customerId}/${key}`) : undefined;
    if (prior && prior.body !== text) return send(422, { error: { code: 'ORD_ERR_IDEMPOTENCY_KEY_REUSED', message: 'reused', details: { orderId: prior.id } } });
    const id = prior?.id ?? uuidv7();
    if (!prior) {
      if (key) byKey.set(`${body.customerId}/${key}`, { id, body: text });
      orders.set(id, { status: standIn.placedStatus.status });
    }
    send(standIn.placedStatus.code, { id, status: orders.get(id)?.status });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  standIn.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return standIn;
}

const apple = { productId: uuidv7(), sku: 'A-1', name: 'Apple', priceCents: 250, stock: 10 };
const pear = { productId: uuidv7(), sku: 'P-1', name: 'Pear', priceCents: 400, stock: 1 };

/** The cart on port 0 with a catalog of two products, its orders the stand-in; `write` may be wrapped to inject a fault. */
async function startCart(t: TestContext, opts: { wrapWrite?: (write: BatchWriter) => BatchWriter; ordersUrl?: string } = {}) {
  const orders = opts.ordersUrl ? undefined : await ordersStandIn(t);
  const upstream = createUpstream({ name: 'orders', url: opts.ordersUrl ?? orders!.url, timeoutMs: 2_000, retries: 0 });
  t.after(() => upstream.close());
  const { host, url } = await startTestHost(t, {
    name: 'cart', migrations, partitions: 1,
    setup: (h) => {
      const write = createBatchWriter(h.db);
      registerRoutes(h.app, { db: h.db, write: opts.wrapWrite ? opts.wrapWrite(write) : write, clock: h.clock, ids: h.ids, orders: upstream, stockCounted: true, idempotencyTtlMs: 86_400_000 });
    },
  });
  const handlers = createHandlers({ clock: host.clock });
  for (const p of [apple, pear]) await runHandler(host.db, handlers, message(ProductCreated, { payload: p as PayloadOf<typeof ProductCreated> }));
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { host, url, orders, call };
}

const order = { paymentMethod: 'card', shippingAddress: { country: 'DE', city: 'Berlin' } };

test('a customer fills a cart and sees it priced from the catalog copy, with its stock flags', async (t) => {
  const { call } = await startCart(t);
  assert.deepEqual((await call('GET', '/carts/ada')).body, { cartId: null, version: 0, lines: [], totalCents: 0, lastOrderId: null, updatedAt: null });
  assert.equal((await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 2 })).status, 200);
  const filled = await call('PUT', `/carts/ada/items/${pear.productId.toUpperCase()}`, { quantity: 3 });
  assert.equal(filled.status, 200);
  assert.equal(filled.body.version, 2);
  assert.deepEqual(filled.body.lines, [
    { productId: apple.productId, name: 'Apple', quantity: 2, unitPriceCents: 250, lineTotalCents: 500, available: 10 },
    { productId: pear.productId, name: 'Pear', quantity: 3, unitPriceCents: 400, lineTotalCents: 1200, available: 1, problem: 'SHORT_OF_STOCK' },
  ]);
  assert.equal(filled.body.totalCents, 1700);
  assert.deepEqual((await call('GET', '/carts/ada')).body, filled.body, 'GET answers what the change answered');

  const removed = await call('PUT', `/carts/ada/items/${pear.productId}`, { quantity: 0 });
  assert.deepEqual([removed.body.version, removed.body.lines.length], [3, 1], 'quantity 0 removes the line');
  const deleted = await call('DELETE', `/carts/ada/items/${apple.productId}`);
  assert.deepEqual([deleted.status, deleted.body.version, deleted.body.lines], [200, 4, []]);
  assert.equal((await call('DELETE', `/carts/ada/items/${apple.productId}`)).body.version, 4, 'removing what is not there changes nothing');
  assert.equal((await call('GET', '/carts/bob')).body.cartId, null, 'another customer\'s cart is apart');
});

test('bad input is refused: an unknown product 422, a quantity out of 0..1000 or not whole 400, an empty checkout 422', async (t) => {
  const { call } = await startCart(t);
  const unknown = await call('PUT', `/carts/ada/items/${uuidv7()}`, { quantity: 1 });
  assert.deepEqual([unknown.status, unknown.body.error.code], [422, 'CART_ERR_UNKNOWN_PRODUCT']);
  for (const quantity of [-1, 1001, 1.5, '2']) {
    assert.equal((await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity })).status, 400, `quantity ${quantity}`);
  }
  assert.equal((await call('PUT', '/carts/ada/items/not-a-uuid', { quantity: 1 })).status, 400);
  assert.equal((await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 1 })).status, 200);
  assert.equal((await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 0 })).status, 200);
  const empty = await call('POST', '/carts/ada/checkout', order);
  assert.deepEqual([empty.status, empty.body.error.code], [422, 'CART_ERR_EMPTY']);
  assert.equal((await call('POST', '/carts/ada/checkout', { paymentMethod: 'card', shippingAddress: { country: 'Germany' } })).status, 400);
});

test('a cart holds at most 100 products, as an order does: the 101st is refused and changes nothing', async (t) => {
  const { call, host } = await startCart(t);
  const handlers = createHandlers({ clock: host.clock });
  const ids = Array.from({ length: 101 }, () => uuidv7());
  for (const [i, productId] of ids.entries()) await runHandler(host.db, handlers, message(ProductCreated, { payload: { productId, sku: `S-${i}`, name: `Thing ${i}`, priceCents: 100 } }));
  for (const productId of ids.slice(0, 100)) assert.equal((await call('PUT', `/carts/ada/items/${productId}`, { quantity: 1 })).status, 200);
  const refused = await call('PUT', `/carts/ada/items/${ids[100]}`, { quantity: 1 });
  assert.deepEqual([refused.status, refused.body.error.code], [422, 'CART_ERR_TOO_MANY_LINES']);
  const cart = (await call('GET', '/carts/ada')).body;
  assert.deepEqual([cart.lines.length, cart.version], [100, 100]);
  assert.equal((await call('PUT', `/carts/ada/items/${ids[0]}`, { quantity: 5 })).status, 200, 'a line already there still changes');
});

test('checkout places one order under the cart version\'s key, empties the cart and announces CartCheckedOut', async (t) => {
  const { call, orders, host } = await startCart(t);
  const put = await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 2 });
  const { cartId, version } = put.body;
  const placed = await call('POST', '/carts/ada/checkout', order);
  assert.equal(placed.status, 202);
  assert.equal(placed.body.status, 'PENDING');
  assert.deepEqual(orders!.calls, [{ key: `cart:${cartId}:${version}`, body: { customerId: 'ada', items: [{ productId: apple.productId, quantity: 2 }], ...order } }]);
  const after = (await call('GET', '/carts/ada')).body;
  assert.deepEqual([after.version, after.lines, after.lastOrderId], [version + 1, [], placed.body.orderId]);
  const again = await call('POST', '/carts/ada/checkout', order);
  assert.deepEqual([again.status, again.body.error.code], [422, 'CART_ERR_EMPTY'], 'a second checkout of the emptied cart');

  await host.relay.flush();
  const events = (await host.bus.read(Topics.cartEvents)).map((r) => decode(r));
  assert.deepEqual(events.map((e) => [e.type, e.key, e.payload]), [['CartCheckedOut', cartId, {
    cartId, customerId: 'ada', version, orderId: placed.body.orderId, lines: [{ productId: apple.productId, quantity: 2, unitPriceCents: 250 }], totalCents: 500,
  }]]);
});

test('a cart that failed between the order and emptying gets the same order on the retry', async (t) => {
  let failNext = false;
  const { call, orders } = await startCart(t, {
    wrapWrite: (write) => (job) => {
      if (!failNext) return write(job);
      failNext = false;
      return Promise.reject(new Error('injected: the database went away after the order was placed'));
    },
  });
  await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 1 });
  failNext = true;
  assert.equal((await call('POST', '/carts/ada/checkout', order)).status, 500);
  assert.equal((await call('GET', '/carts/ada')).body.lines.length, 1, 'the cart is as it was');
  const retried = await call('POST', '/carts/ada/checkout', { ...order, paymentMethod: 'card-declined' });
  assert.equal(retried.status, 202, JSON.stringify(retried.body));
  assert.equal(orders!.calls.length, 2);
  assert.equal(orders!.calls[0].key, orders!.calls[1].key, 'the same key: orders answers with the order it made');
  assert.equal((await call('GET', '/carts/ada')).body.lastOrderId, retried.body.orderId);
});

test('two checkouts of one cart version at once make one order, and both answer it', async (t) => {
  const { call, orders, host } = await startCart(t);
  await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 1 });
  // Orders slow enough that both are there at once, as with two instances of the cart.
  orders!.delayMs = 300;
  const [a, b] = await Promise.all([call('POST', '/carts/ada/checkout', order), call('POST', '/carts/ada/checkout', order)]);
  assert.deepEqual([a.status, b.status], [202, 202], JSON.stringify([a.body, b.body]));
  assert.equal(a.body.orderId, b.body.orderId);
  assert.equal(new Set(orders!.calls.map((c) => c.key)).size, 1, 'one key, so one order at orders');
  await host.relay.flush();
  assert.equal((await host.bus.read(Topics.cartEvents)).length, 1, 'one CartCheckedOut');
});

test('a client Idempotency-Key replays the answer; the same key with another body is 422', async (t) => {
  const { call, orders } = await startCart(t);
  orders!.placedStatus = { code: 201, status: 'CONFIRMED' };
  await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 1 });
  const first = await call('POST', '/carts/ada/checkout', order, { 'idempotency-key': 'k-1' });
  assert.deepEqual([first.status, first.body.status], [202, 'CONFIRMED'], 'rest: the final status, still a 202');
  const replay = await call('POST', '/carts/ada/checkout', order, { 'idempotency-key': 'k-1' });
  assert.deepEqual([replay.status, replay.body], [202, first.body]);
  const other = await call('POST', '/carts/ada/checkout', { ...order, paymentMethod: 'card-declined' }, { 'idempotency-key': 'k-1' });
  assert.deepEqual([other.status, other.body.error.code], [422, 'CART_ERR_IDEMPOTENCY_KEY_REUSED']);
  assert.equal(orders!.calls.length, 1, 'replays never reach orders');
});

test('orders\' refusals reach the caller as they are, orders away is a 503, and the cart is unchanged', async (t) => {
  const { call, orders } = await startCart(t);
  await call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 1 });
  orders!.fail = { status: 422, body: { error: { code: 'ORD_ERR_UNKNOWN_PRODUCT', message: `unknown product: ${apple.productId}` } } };
  const refused = await call('POST', '/carts/ada/checkout', order);
  assert.deepEqual([refused.status, refused.body.error.code], [422, 'ORD_ERR_UNKNOWN_PRODUCT']);
  orders!.fail = { status: 503, body: { error: { code: 'ORD_ERR_SAGA_BACKLOG_FULL', message: 'busy' } } };
  const busy = await call('POST', '/carts/ada/checkout', order);
  assert.deepEqual([busy.status, busy.body.error.code], [503, 'ORD_ERR_SAGA_BACKLOG_FULL']);
  orders!.fail = { status: 500, body: { error: { code: 'ORD_ERR_DEPENDENCY_UNAVAILABLE', message: 'accepted, not finished', details: { orderId: uuidv7() } } } };
  const unfinished = await call('POST', '/carts/ada/checkout', order);
  assert.deepEqual([unfinished.status, unfinished.body.orderId, unfinished.body.status], [202, (orders!.fail.body as any).error.details.orderId, 'PENDING'], 'rest: accepted but not finished is an order');
  assert.equal((await call('GET', '/carts/ada')).body.lines.length, 0);

  const away = await startCart(t, { ordersUrl: 'http://127.0.0.1:1' });
  await away.call('PUT', `/carts/ada/items/${apple.productId}`, { quantity: 1 });
  const down = await away.call('POST', '/carts/ada/checkout', order);
  assert.deepEqual([down.status, down.body.error.code], [503, 'PLT_ERR_DEPENDENCY_UNAVAILABLE']);
  assert.equal((await away.call('GET', '/carts/ada')).body.lines.length, 1);
});
