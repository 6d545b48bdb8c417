import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { message, ProductCreated, Topics } from '#contracts/index.ts';
import { decode, encode, type Envelope } from '#platform/bus/envelope.ts';
import type { ServiceHost } from '#platform/service/host.ts';
import { startTestHost } from '#test/support/host.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

const apple = { productId: '0190a1b2-0000-7000-8000-00000000000a', sku: 'A-1', name: 'Apple', priceCents: 250 };
const pear = { productId: '0190a1b2-0000-7000-8000-00000000000b', sku: 'P-1', name: 'Pear', priceCents: 400 };

/** The orders service on the embedded deployment in a temp dir, its catalog learnt from the bus. */
async function startOrders(t: TestContext): Promise<{ host: ServiceHost; url: string }> {
  return startTestHost(t, { name: 'orders', migrations, setup: learnCatalog });
}

async function learnCatalog(host: ServiceHost): Promise<void> {
  registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock });
  let learnt = 0;
  const catalogKnown = Promise.withResolvers<void>();
  await host.consume({
    groupId: 'orders',
    topics: [Topics.inventoryEvents, Topics.paymentsEvents, Topics.shippingEvents],
    handlers: createHandlers({ clock: host.clock }),
    onProcessed: (m: Envelope) => {
      if (m.type === 'ProductCreated' && ++learnt === 2) catalogKnown.resolve();
    },
  });
  await host.bus.publish([apple, pear].map((p) => {
    const m = message(ProductCreated, { key: p.productId, payload: p });
    return encode(m.topic, m.message);
  }));
  await catalogKnown.promise;
}

const orderBody = (overrides: Record<string, unknown> = {}) => ({
  customerId: 'c-1',
  items: [{ productId: apple.productId, quantity: 2 }, { productId: pear.productId, quantity: 1 }],
  paymentMethod: 'card',
  shippingAddress: { country: 'DE', city: 'Berlin' },
  ...overrides,
});

async function post(url: string, body: unknown, key?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  const res = await fetch(`${url}/orders`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function get(url: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: await res.json() };
}

test('POST /orders accepts a priced order as PENDING and GET /orders/:id serves its view', async (t) => {
  const { host, url } = await startOrders(t);
  const placed = await post(url, orderBody());
  assert.equal(placed.status, 202, JSON.stringify(placed.body));
  assert.deepEqual(Object.keys(placed.body).sort(), ['id', 'status']);
  assert.equal(placed.body.status, 'PENDING');

  const view = await get(url, `/orders/${placed.body.id}`);
  assert.equal(view.status, 200);
  assert.deepEqual(view.body, {
    id: placed.body.id,
    customerId: 'c-1',
    items: [
      { productId: apple.productId, quantity: 2, unitPriceCents: 250 },
      { productId: pear.productId, quantity: 1, unitPriceCents: 400 },
    ],
    totalCents: 900,
    status: 'PENDING',
    createdAt: view.body.createdAt,
    updatedAt: view.body.createdAt,
  });

  // OrderPlaced and ReserveStock went out through the outbox.
  await host.relay.flush();
  const out = [...(await host.bus.read(Topics.ordersEvents)), ...(await host.bus.read(Topics.inventoryCommands))].map(decode);
  assert.deepEqual(
    out.map((m) => [m.type, m.key]),
    [['OrderPlaced', placed.body.id], ['ReserveStock', placed.body.id]],
  );
  assert.deepEqual(out[1].payload, { orderId: placed.body.id, items: [{ productId: apple.productId, quantity: 2 }, { productId: pear.productId, quantity: 1 }] });
  assert.equal(out[1].headers.correlationId, out[0].headers.correlationId, 'one trace for the whole order');
});

test('lines naming the same product are merged into one', async (t) => {
  const { url } = await startOrders(t);
  const placed = await post(url, orderBody({ items: [{ productId: apple.productId, quantity: 2 }, { productId: apple.productId, quantity: 3 }] }));
  assert.equal(placed.status, 202);
  const view = await get(url, `/orders/${placed.body.id}`);
  assert.deepEqual(view.body.items, [{ productId: apple.productId, quantity: 5, unitPriceCents: 250 }]);
  assert.equal(view.body.totalCents, 1250);
});

test('malformed orders get 400 and unknown products 422, with coded errors', async (t) => {
  const { url } = await startOrders(t);
  const unknown = '0190a1b2-0000-7000-8000-0000000000ee';
  const cases: Array<[string, unknown, number, string]> = [
    ['malformed JSON', '{"customerId":', 400, 'PLT_ERR_MALFORMED_JSON'],
    ['no items', orderBody({ items: [] }), 400, 'PLT_ERR_VALIDATION'],
    ['101 items', orderBody({ items: Array.from({ length: 101 }, () => ({ productId: apple.productId, quantity: 1 })) }), 400, 'PLT_ERR_VALIDATION'],
    ['a zero quantity', orderBody({ items: [{ productId: apple.productId, quantity: 0 }] }), 400, 'PLT_ERR_VALIDATION'],
    ['a fractional quantity', orderBody({ items: [{ productId: apple.productId, quantity: 1.5 }] }), 400, 'PLT_ERR_VALIDATION'],
    ['a string quantity', orderBody({ items: [{ productId: apple.productId, quantity: '1' }] }), 400, 'PLT_ERR_VALIDATION'],
    ['a product id that is not a UUID', orderBody({ items: [{ productId: 'apple', quantity: 1 }] }), 400, 'PLT_ERR_VALIDATION'],
    ['no customer', orderBody({ customerId: undefined }), 400, 'PLT_ERR_VALIDATION'],
    ['an empty payment method', orderBody({ paymentMethod: '' }), 400, 'PLT_ERR_VALIDATION'],
    ['a three-letter country', orderBody({ shippingAddress: { country: 'DEU' } }), 400, 'PLT_ERR_VALIDATION'],
    ['no shipping address', orderBody({ shippingAddress: undefined }), 400, 'PLT_ERR_VALIDATION'],
    ['an unknown product', orderBody({ items: [{ productId: unknown, quantity: 1 }] }), 422, 'ORD_ERR_UNKNOWN_PRODUCT'],
  ];
  for (const [what, body, status, code] of cases) {
    const r = await post(url, body);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, code, what);
    assert.equal(typeof r.body.error.message, 'string', what);
  }
  const tooLongKey = await post(url, orderBody(), 'k'.repeat(201));
  assert.equal(tooLongKey.status, 400);
});

test('GET /orders/:id answers 404 for an unknown order and 400 for a non-UUID id', async (t) => {
  const { url } = await startOrders(t);
  const missing = await get(url, '/orders/0190a1b2-0000-7000-8000-0000000000ee');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'ORD_ERR_ORDER_NOT_FOUND');
  const bad = await get(url, '/orders/not-a-uuid');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'PLT_ERR_VALIDATION');
});

test('GET /orders/:id/history lists the events; ?asOf= replays them up to a time (404 before the order, 400 for a bad time)', async (t) => {
  const { url } = await startOrders(t);
  const placed = await post(url, orderBody());
  const id = placed.body.id;
  const history = await get(url, `/orders/${id}/history`);
  assert.equal(history.status, 200);
  assert.deepEqual(history.body.events.map((e: any) => [e.version, e.type, e.service]), [[1, 'OrderPlaced', 'orders']]);
  const [event] = history.body.events;
  assert.equal(event.traceId, undefined, 'nothing traced (tracing is off), no trace to name');
  assert.deepEqual([event.data.orderId, event.data.customerId, event.data.totalCents, event.data.shippingAddress], [id, 'c-1', 900, { country: 'DE', city: 'Berlin' }]);

  const live = await get(url, `/orders/${id}`);
  assert.deepEqual(await get(url, `/orders/${id}?asOf=${encodeURIComponent(event.at)}`), live, 'as of its placement: the view placed');
  const before = new Date(Date.parse(event.at) - 1).toISOString();
  const early = await get(url, `/orders/${id}?asOf=${before}`);
  assert.deepEqual([early.status, early.body.error.code], [404, 'ORD_ERR_ORDER_NOT_FOUND']);
  for (const bad of ['yesterday', '2026-01-01', '2026-13-01T00:00:00Z', '2026-01-01T00:00:00']) {
    const answer = await get(url, `/orders/${id}?asOf=${encodeURIComponent(bad)}`);
    assert.deepEqual([answer.status, answer.body.error.code], [400, 'ORD_ERR_INVALID_AS_OF'], bad);
  }
  const unknown = await get(url, '/orders/0190a1b2-0000-7000-8000-0000000000ff/history');
  assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'ORD_ERR_ORDER_NOT_FOUND']);
});

test('GET /catalog/:productId shows what orders learnt from inventory', async (t) => {
  const { url } = await startOrders(t);
  assert.deepEqual((await get(url, `/catalog/${apple.productId}`)).body, apple);
  assert.equal((await get(url, '/catalog/0190a1b2-0000-7000-8000-0000000000ee')).status, 404);
});

test('an Idempotency-Key replay returns the same order with its current status', async (t) => {
  const { host, url } = await startOrders(t);
  const first = await post(url, orderBody(), 'key-1');
  assert.equal(first.status, 202);
  const replay = await post(url, { ...orderBody(), shippingAddress: { city: 'Berlin', country: 'DE' } }, 'key-1');
  assert.deepEqual(replay, first, 'same body (keys in another order) → same answer');

  await host.db.execute("UPDATE orders_view SET status = 'CONFIRMED' WHERE id = $1", [first.body.id]);
  assert.deepEqual(await post(url, orderBody(), 'key-1'), { status: 202, body: { id: first.body.id, status: 'CONFIRMED' } });

  const other = await post(url, orderBody(), 'key-2');
  assert.notEqual(other.body.id, first.body.id, 'another key, another order');

  await host.relay.flush();
  const placed = (await host.bus.read(Topics.ordersEvents)).map(decode).filter((m) => m.type === 'OrderPlaced');
  assert.equal(placed.length, 2, 'one OrderPlaced per order, none for replays');
});

test('concurrent replays of one Idempotency-Key all name one order', async (t) => {
  const { host, url } = await startOrders(t);
  const answers = await Promise.all(Array.from({ length: 16 }, () => post(url, orderBody(), 'key-race')));
  for (const a of answers) assert.equal(a.status, 202, JSON.stringify(a.body));
  assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
  const [{ n }] = await host.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM orders_view');
  assert.equal(Number(n), 1);
});

test('the same Idempotency-Key with another body is refused with 422', async (t) => {
  const { url } = await startOrders(t);
  assert.equal((await post(url, orderBody(), 'key-1')).status, 202);
  const reused = await post(url, orderBody({ paymentMethod: 'card-declined' }), 'key-1');
  assert.equal(reused.status, 422);
  assert.equal(reused.body.error.code, 'ORD_ERR_IDEMPOTENCY_KEY_REUSED');
});

test('an Idempotency-Key is the customer\'s own: the same key from another customer makes its own order', async (t) => {
  const { host, url } = await startOrders(t);
  const mine = await post(url, orderBody(), 'shared-key');
  const theirs = await post(url, orderBody({ customerId: 'c-2' }), 'shared-key');
  assert.equal(theirs.status, 202, JSON.stringify(theirs.body));
  assert.notEqual(theirs.body.id, mine.body.id, 'another customer never sees my order id');
  assert.equal((await get(url, `/orders/${theirs.body.id}`)).body.customerId, 'c-2');
  // Each replays to their own.
  assert.equal((await post(url, orderBody(), 'shared-key')).body.id, mine.body.id);
  assert.equal((await post(url, orderBody({ customerId: 'c-2' }), 'shared-key')).body.id, theirs.body.id);
  const [{ n }] = await host.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM orders_view');
  assert.equal(Number(n), 2);
});

test('an Idempotency-Key expires after 24 h: a replay then makes a new order, and the expired key is taken over', async (t) => {
  const { host, url } = await startOrders(t);
  const first = await post(url, orderBody(), 'key-old');
  const dayAndASecondAgo = new Date(Date.now() - 24 * 3_600_000 - 1_000).toISOString();
  await host.db.execute("UPDATE idempotency SET created_at = $1 WHERE key = 'key-old'", [dayAndASecondAgo]);
  const later = await post(url, orderBody(), 'key-old');
  assert.equal(later.status, 202, JSON.stringify(later.body));
  assert.notEqual(later.body.id, first.body.id, 'an expired key no longer answers');
  // The key now names the new order; another body with it is refused again.
  assert.equal((await post(url, orderBody(), 'key-old')).body.id, later.body.id);
  assert.equal((await post(url, orderBody({ paymentMethod: 'card-declined' }), 'key-old')).status, 422);
  // Still in time (23 h), the key holds.
  await host.db.execute("UPDATE idempotency SET created_at = $1 WHERE key = 'key-old'", [new Date(Date.now() - 23 * 3_600_000).toISOString()]);
  assert.equal((await post(url, orderBody(), 'key-old')).body.id, later.body.id);
});

test('a string is as long at the route as in the event it becomes: 100 emoji fit a 200-long city, 101 get a 400 naming the field', async (t) => {
  const { url } = await startOrders(t);
  const emoji = (n: number) => '😀'.repeat(n);
  const fits = await post(url, orderBody({ shippingAddress: { country: 'DE', city: emoji(100) } }));
  assert.equal(fits.status, 202, JSON.stringify(fits.body));
  const tooLong = await post(url, orderBody({ shippingAddress: { country: 'DE', city: emoji(101) } }));
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.error.code, 'PLT_ERR_VALIDATION');
  assert.match(tooLong.body.error.message, /city/);
});

test('GET /orders lists one customer\'s orders newest first, a page at a time, to the last page', async (t) => {
  const { url } = await startOrders(t);
  const mine: string[] = [];
  for (let i = 0; i < 5; i++) mine.push((await post(url, orderBody({ customerId: 'c-7' }))).body.id);
  await post(url, orderBody({ customerId: 'c-8' }));
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await get(url, `/orders?customerId=c-7&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.ok(page.body.orders.length <= 2);
    for (const o of page.body.orders) assert.equal(o.customerId, 'c-7');
    seen.push(...page.body.orders.map((o: { id: string }) => o.id));
    cursor = page.body.nextCursor;
    pages++;
  } while (cursor !== null);
  assert.deepEqual(seen, [...mine].reverse(), 'every order once, newest first');
  assert.equal(pages, 3);
  assert.deepEqual((await get(url, '/orders?customerId=nobody')).body, { orders: [], nextCursor: null });
  for (const q of ['', '?customerId=c-7&limit=0', '?customerId=c-7&limit=101', '?customerId=c-7&limit=x', '?customerId=c-7&cursor=nope', '?customerId=c-7&other=1']) {
    const bad = await get(url, `/orders${q}`);
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'PLT_ERR_VALIDATION'], q);
  }
});

test("GET /_admin/orders lists every customer's orders newest first, filtered by status and customer, a page at a time", async (t) => {
  const { url } = await startOrders(t);
  const placed: Array<{ id: string; customerId: string }> = [];
  for (const customerId of ['c-7', 'c-8', 'c-7', 'c-9', 'c-7']) placed.push({ id: (await post(url, orderBody({ customerId }))).body.id, customerId });
  const newest = [...placed].reverse();
  const ids = (body: { orders: Array<{ id: string }> }) => body.orders.map((o) => o.id);

  const all = await get(url, '/_admin/orders');
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.deepEqual([ids(all.body), all.body.nextCursor], [newest.map((o) => o.id), null]);
  assert.deepEqual(ids((await get(url, '/_admin/orders?customerId=c-7')).body), newest.filter((o) => o.customerId === 'c-7').map((o) => o.id));
  // Nothing here is confirmed yet: no inventory, payments or shipping answer.
  assert.deepEqual((await get(url, '/_admin/orders?status=CONFIRMED')).body, { orders: [], nextCursor: null });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await get(url, `/_admin/orders?status=PENDING&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    seen.push(...ids(page.body));
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  assert.deepEqual(seen, newest.map((o) => o.id));
  for (const q of ['?status=DONE', '?limit=0', '?cursor=nope', '?customerId=', '?other=1']) {
    const bad = await get(url, `/_admin/orders${q}`);
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'PLT_ERR_VALIDATION'], q);
  }
});
