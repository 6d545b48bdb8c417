import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { message, ProductCreated, StockUnavailable, Topics } from '#contracts/index.ts';
import { encode, type Envelope } from '#platform/bus/envelope.ts';
import type { ServiceHost } from '#platform/service/host.ts';
import { startTestHost } from '#test/support/host.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

const apple = { productId: '0190a1b2-0000-7000-8000-00000000000a', sku: 'A-1', name: 'Apple', priceCents: 250 };

/** Orders on the embedded deployment with its saga consumer; `processed(type, key)` resolves once that message's transaction committed. */
async function startOrders(t: TestContext) {
  const waiting: Array<{ type: string; key: string; resolve: () => void }> = [];
  const seen = new Set<string>();
  const onProcessed = (m: Envelope) => {
    seen.add(`${m.type} ${m.key}`);
    for (const w of waiting.filter((w) => w.type === m.type && w.key === m.key)) w.resolve();
  };
  const processed = (type: string, key: string) => new Promise<void>((resolve) => {
    if (seen.has(`${type} ${key}`)) resolve();
    else waiting.push({ type, key, resolve });
  });
  const setup = async (host: ServiceHost) => {
    registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock });
    await host.consume({ groupId: 'orders', topics: [Topics.inventoryEvents, Topics.paymentsEvents, Topics.shippingEvents], handlers: createHandlers({ clock: host.clock }), onProcessed });
  };
  const { host, url } = await startTestHost(t, { name: 'orders', migrations, setup });
  const publish = async (contract: typeof ProductCreated | typeof StockUnavailable, key: string, payload: any) => {
    const m = message(contract as typeof ProductCreated, { key, payload });
    await host.bus.publish([encode(m.topic, m.message)]);
  };
  await publish(ProductCreated, apple.productId, apple);
  await processed('ProductCreated', apple.productId);
  return { host, url, publish, processed };
}

async function place(url: string): Promise<string> {
  const res = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: 'c-1', items: [{ productId: apple.productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }),
  });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

const get = async (url: string, id: string) => {
  const res = await fetch(`${url}/orders/${id}`);
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as { status: string; reason?: string } };
};

test('a saga step is on the very next GET after its commit, though the view was read just before', async (t) => {
  const { url, publish, processed } = await startOrders(t);
  for (let round = 0; round < 10; round++) {
    const id = await place(url);
    // Read (and keep) the PENDING view, twice so the second is served kept.
    for (let i = 0; i < 2; i++) assert.equal((await get(url, id)).body.status, 'PENDING');
    await publish(StockUnavailable, id, { orderId: id, productIds: [apple.productId] });
    await processed('StockUnavailable', id);
    const after = await get(url, id);
    assert.equal(after.status, 200);
    assert.match(after.type ?? '', /^application\/json/);
    assert.deepEqual([after.body.status, after.body.reason], ['CANCELLED', 'OUT_OF_STOCK']);
  }
});

test('reads racing a saga step never keep the older status once the step committed', async (t) => {
  const { url, publish, processed } = await startOrders(t);
  const id = await place(url);
  assert.equal((await get(url, id)).body.status, 'PENDING');
  let stop = false;
  // Readers hammer the order while the step commits.
  const readers = Array.from({ length: 8 }, async () => {
    while (!stop) await get(url, id);
  });
  await publish(StockUnavailable, id, { orderId: id, productIds: [apple.productId] });
  await processed('StockUnavailable', id);
  for (let i = 0; i < 20; i++) assert.equal((await get(url, id)).body.status, 'CANCELLED');
  stop = true;
  await Promise.all(readers);
});

test('an unknown order answers 404 with its code, and a placed order is served at once', async (t) => {
  const { url } = await startOrders(t);
  const unknown = await fetch(`${url}/orders/0190a1b2-0000-7000-8000-0000000000ff`);
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'ORD_ERR_ORDER_NOT_FOUND');
  for (let i = 0; i < 5; i++) assert.equal((await get(url, await place(url))).body.status, 'PENDING');
});

test('GET /order-views answers one line per id in order, empty for an unknown order, and 400 for malformed ids', async (t) => {
  const { url } = await startOrders(t);
  const a = await place(url);
  const b = await place(url);
  const unknown = '0190a1b2-0000-7000-8000-0000000000ff';
  const res = await fetch(`${url}/order-views?ids=${b},${unknown},${a.toUpperCase()}`);
  assert.equal(res.status, 200);
  const lines = (await res.text()).split('\n');
  assert.equal(lines.length, 4, 'three lines and the final newline');
  assert.equal(lines[3], '');
  assert.equal(lines[1], '');
  assert.deepEqual([JSON.parse(lines[0]), JSON.parse(lines[2])], [(await get(url, b)).body, (await get(url, a)).body]);
  for (const bad of ['', 'not-a-uuid', `${a},`, Array.from({ length: 129 }, () => a).join(',')]) {
    const refused = await fetch(`${url}/order-views?ids=${bad}`);
    assert.equal(refused.status, 400, bad);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'PLT_ERR_VALIDATION');
  }
});
