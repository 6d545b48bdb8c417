// Admission control on a real orders service (embedded SQLite + embedded log), its
// downstream stopped: nothing answers ReserveStock or OrderPlaced, so the sagas wait.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { message, ProductCreated, StockUnavailable, Topics } from '#contracts/index.ts';
import { encode, type Envelope } from '#platform/bus/envelope.ts';
import type { Architecture } from '#platform/config.ts';
import type { ServiceHost } from '#platform/service/host.ts';
import { startTestHost } from '#test/support/host.ts';
import { createAdmission } from './admission.ts';
import { follow } from './domain/choreography.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

const apple = { productId: '0190a1b2-0000-7000-8000-00000000000a', sku: 'A-1', name: 'Apple', priceCents: 250 };
const MAX_PENDING = 2;

async function startOrders(t: TestContext, arch: Architecture): Promise<{ host: ServiceHost; url: string }> {
  return startTestHost(t, {
    name: 'orders',
    migrations,
    async setup(host) {
      const admission = createAdmission({ db: host.db, maxPending: MAX_PENDING, refreshMs: 20 });
      registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock, arch, admission });
      const catalogKnown = Promise.withResolvers<void>();
      await host.consume({
        groupId: 'orders',
        topics: [Topics.inventoryEvents, Topics.paymentsEvents, Topics.shippingEvents],
        handlers: createHandlers({ clock: host.clock, ...(arch === 'choreography' ? { react: follow } : {}) }),
        onProcessed: (m: Envelope) => m.type === 'ProductCreated' && catalogKnown.resolve(),
      });
      const m = message(ProductCreated, { key: apple.productId, payload: apple });
      await host.bus.publish([encode(m.topic, m.message)]);
      await catalogKnown.promise;
    },
  });
}

const body = { customerId: 'c-1', items: [{ productId: apple.productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } };

async function post(url: string, key: string): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const res = await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

async function written(host: ServiceHost): Promise<{ orders: number; streams: number; keys: string[] }> {
  const [{ n: orders }] = await host.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM orders_view');
  const [{ n: streams }] = await host.db.query<{ n: number }>('SELECT COUNT(DISTINCT order_id) AS n FROM order_events');
  const keys = (await host.db.query<{ key: string }>('SELECT key FROM idempotency ORDER BY key')).map((r) => r.key);
  return { orders: Number(orders), streams: Number(streams), keys };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const arch of ['events', 'choreography'] as const) {
  test(`${arch}: past ${MAX_PENDING} pending orders POST /orders answers 503 with Retry-After and writes nothing; once the sagas finish, orders are taken again`, async (t) => {
    const { host, url } = await startOrders(t, arch);
    const taken: string[] = [];
    for (const key of ['k-1', 'k-2']) {
      const r = await post(url, key);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      taken.push(r.body.id);
    }

    // Refused at once, and again once the count is read afresh from the database.
    for (let i = 0; i < 2; i++) {
      const refused = await post(url, 'k-refused');
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.retryAfter, '1');
      assert.equal(refused.body.error.code, 'ORD_ERR_SAGA_BACKLOG_FULL');
      await new Promise((r) => setTimeout(r, 40));
    }
    assert.deepEqual(await written(host), { orders: 2, streams: 2, keys: ['k-1', 'k-2'] }, 'the refused order wrote nothing');
    // A replay of a taken order is answered whatever the backlog: it takes nothing new.
    const replay = await post(url, 'k-1');
    assert.equal(replay.status, 202);
    assert.equal(replay.body.id, taken[0]);

    // The downstream answers at last: the sagas finish (cancelled, out of stock) and the backlog drains.
    await host.bus.publish(taken.map((orderId) => {
      const m = message(StockUnavailable, { key: orderId, payload: { orderId, productIds: [apple.productId] } });
      return encode(m.topic, m.message);
    }));
    await until('the sagas finished', async () => {
      const [{ n }] = await host.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM orders_view WHERE status = 'PENDING'");
      return Number(n) === 0 ? true : undefined;
    });
    const again = await until('an order taken again', async () => {
      const r = await post(url, 'k-refused');
      return r.status === 202 ? r : undefined;
    }, 2_000);
    assert.equal(again.body.status, 'PENDING');
    assert.deepEqual((await written(host)).keys, ['k-1', 'k-2', 'k-refused']);
  });
}

test('with maxPending 0 every order is admitted', async (t) => {
  const { host } = await startOrders(t, 'events');
  const admission = createAdmission({ db: host.db, maxPending: 0 });
  for (let i = 0; i < 5; i++) {
    await admission.admit();
    admission.accepted();
  }
});

test('between reads, the orders this process took count against the bound', async (t) => {
  const { host } = await startOrders(t, 'events');
  const admission = createAdmission({ db: host.db, maxPending: 3, refreshMs: 60_000 });
  await admission.admit(); // reads 0
  for (let i = 0; i < 3; i++) admission.accepted();
  await assert.rejects(admission.admit(), { code: 'ORD_ERR_SAGA_BACKLOG_FULL', statusCode: 503 });
});
