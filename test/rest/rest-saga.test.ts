// The rest saga against the real inventory, payments and shipping routes over HTTP (each
// service its own host on SQLite). Faults are injected by a downstream that fails chosen
// calls before they leave, as a crash or an outage would.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '#platform/log.ts';
import { decode } from '#platform/bus/envelope.ts';
import { createBatchWriter } from '#platform/db/batch-writer.ts';
import type { ServiceHost } from '#platform/service/host.ts';
import { startTestHost, openTestHost } from '#test/support/host.ts';
import { registerRoutes as inventoryRoutes } from '#services/inventory/http.ts';
import { migrations as inventoryMigrations } from '#services/inventory/store.ts';
import { registerRoutes as paymentsRoutes } from '#services/payments/http.ts';
import { migrations as paymentsMigrations } from '#services/payments/store.ts';
import { registerRoutes as shippingRoutes } from '#services/shipping/http.ts';
import { migrations as shippingMigrations } from '#services/shipping/store.ts';
import { statusOf } from '#services/orders/domain/order.ts';
import type { RestConfig } from '#services/orders/config.ts';
import { placeOrder } from '#services/orders/place-order.ts';
import { migrations, staleRestSagas, upsertProduct } from '#services/orders/store.ts';
import { createDownstream, DependencyUnavailable, type Downstream } from '#services/orders/rest/downstream.ts';
import { createRestDriver } from '#services/orders/rest/drive.ts';
import { startRecovery } from '#services/orders/rest/recovery.ts';
import { startSweeper } from '#services/orders/deadlines.ts';

async function startSystem(t: TestContext) {
  const inventory = await startTestHost(t, { name: 'inventory', migrations: inventoryMigrations, setup: (h) => inventoryRoutes(h.app, { db: h.db, ids: h.ids, clock: h.clock }) });
  const payments = await startTestHost(t, { name: 'payments', migrations: paymentsMigrations, setup: (h) => paymentsRoutes(h.app, { db: h.db, ids: h.ids, clock: h.clock }) });
  const shipping = await startTestHost(t, { name: 'shipping', migrations: shippingMigrations, setup: (h) => shippingRoutes(h.app, { db: h.db, clock: h.clock }) });
  const orders = await openTestHost(t, { name: 'orders', migrations });
  const config: RestConfig = {
    urls: { inventory: [inventory.url], payments: [payments.url], shipping: [shipping.url] },
    callTimeoutMs: 2_000, retries: 0, requestDeadlineMs: 5_000, connections: 4, recoverAfterMs: 0,
  };
  const real = createDownstream(config);
  t.after(() => real.close());
  // Calls whose command type is listed fail once each, before reaching the service.
  const failOnce = new Set<string>();
  // Calls whose command type is listed are carried out, but their answer is lost, every time.
  const loseAnswers = new Set<string>();
  const downstream: Downstream = {
    ...real,
    async call(command, signal) {
      if (failOnce.delete(command.contract.type)) throw DependencyUnavailable(`injected: ${command.contract.type} failed`);
      const answer = await real.call(command, signal);
      if (loseAnswers.has(command.contract.type)) throw DependencyUnavailable(`injected: the answer to ${command.contract.type} was lost`);
      return answer;
    },
  };
  const write = createBatchWriter(orders.db);
  const driver = createRestDriver({ db: orders.db, write, downstream, clock: orders.clock, log: silentLogger, deadlineMs: config.requestDeadlineMs });
  const product = await (await fetch(`${inventory.url}/products`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'KB-1', name: 'Keyboard', priceCents: 1500, stock: 10 }),
  })).json() as { id: string };
  await upsertProduct(orders.db, { productId: product.id, sku: 'KB-1', name: 'Keyboard', priceCents: 1500 }, new Date().toISOString());
  const place = async (paymentMethod: string, country = 'DE') => {
    const answer = await placeOrder({ db: orders.db, ids: orders.ids, clock: orders.clock, write, arch: 'rest' },
      { customerId: 'c-1', items: [{ productId: product.id, quantity: 2 }], paymentMethod, shippingAddress: { country } });
    return answer;
  };
  const get = async (url: string, path: string) => {
    const res = await fetch(`${url}${path}`);
    return res.status === 200 ? (await res.json()) as any : undefined;
  };
  const available = async () => (await get(inventory.url, `/products/${product.id}`)).available as number;
  const unfinished = () => staleRestSagas(orders.db, '9999', 100);
  // What orders announced on the bus about an order, in order: its facts, for whoever follows orders.
  const announced = async (id: string) => {
    await orders.relay.flush();
    return (await orders.bus.read('orders.events', { limit: 10_000 })).map(decode).filter((m) => m.key === id).map((m) => [m.type, (m.payload as { reason?: string }).reason].filter(Boolean).join(' '));
  };
  return { orders: orders as ServiceHost, driver, announced, downstream, failOnce, loseAnswers, place, available, unfinished, payment: (id: string) => get(payments.url, `/payments/${id}`), shipment: (id: string) => get(shipping.url, `/shipments/${id}`) };
}

test('a rest order is reserved, charged and shipped by calls, and confirmed in one append', async (t) => {
  const s = await startSystem(t);
  const { id, state } = await s.place('card');
  const final = await s.driver.drive(id, state);
  assert.equal(statusOf(final), 'CONFIRMED');
  assert.equal(await s.available(), 8);
  assert.equal((await s.payment(id)).status, 'CHARGED');
  assert.equal((await s.shipment(id)).status, 'SCHEDULED');
  assert.deepEqual(await s.unfinished(), [], 'nothing left to recover');
  assert.deepEqual(await s.announced(id), ['OrderPlaced', 'OrderConfirmed'], 'the facts are announced, no command is sent');
});

test('a declined card cancels the order and the stock is given back before the saga is finished', async (t) => {
  const s = await startSystem(t);
  const { id, state } = await s.place('card-declined');
  const final = await s.driver.drive(id, state);
  assert.equal(statusOf(final), 'CANCELLED');
  assert.equal(final.reason, 'PAYMENT_DECLINED');
  assert.equal(await s.available(), 10);
  assert.deepEqual(await s.unfinished(), []);
  assert.deepEqual(await s.announced(id), ['OrderPlaced', 'OrderCancelled PAYMENT_DECLINED']);
});

test('a saga cut short by a failed call stays unfinished, and recovery finishes it with one charge', async (t) => {
  const s = await startSystem(t);
  const { id, state } = await s.place('card');
  s.failOnce.add('ChargePayment');
  await assert.rejects(s.driver.drive(id, state), (err: any) => err.code === 'ORD_ERR_DEPENDENCY_UNAVAILABLE');
  assert.deepEqual(await s.unfinished(), [id]);
  assert.equal(await s.available(), 8, 'the stock stays held while the order waits');
  assert.equal(await s.payment(id), undefined);

  const recovery = startRecovery({ db: s.orders.db, driver: s.driver, downstream: s.downstream, log: silentLogger, recoverAfterMs: 0, intervalMs: 60_000 });
  t.after(() => recovery.stop());
  assert.equal(await recovery.pass(), 1);
  assert.deepEqual(await s.unfinished(), []);
  assert.equal((await s.payment(id)).status, 'CHARGED');
  assert.equal(await s.available(), 8, 'reserved once, not twice');
  assert.equal((await s.shipment(id)).status, 'SCHEDULED');
  assert.equal(statusOf(await s.driver.drive(id)), 'CONFIRMED', 'driving a finished order again changes nothing');
});

test('a failed compensation leaves the outcome standing and recovery refunds and releases', async (t) => {
  const s = await startSystem(t);
  const { id, state } = await s.place('card', 'XX');
  s.failOnce.add('RefundPayment');
  const final = await s.driver.drive(id, state);
  assert.equal(final.reason, 'SHIPPING_UNAVAILABLE', 'the client learns the outcome at once');
  assert.deepEqual(await s.unfinished(), [id], 'the compensations are still owed');
  assert.equal((await s.payment(id)).status, 'CHARGED');

  const recovery = startRecovery({ db: s.orders.db, driver: s.driver, downstream: s.downstream, log: silentLogger, recoverAfterMs: 0, intervalMs: 60_000 });
  t.after(() => recovery.stop());
  await recovery.pass();
  assert.deepEqual(await s.unfinished(), []);
  assert.equal((await s.payment(id)).status, 'REFUNDED');
  assert.equal(await s.available(), 10);
});

test('two drives of one order at once make one charge and agree on the outcome', async (t) => {
  const s = await startSystem(t);
  const { id } = await s.place('card');
  const [a, b] = await Promise.all([s.driver.drive(id), s.driver.drive(id)]);
  assert.equal(statusOf(a), 'CONFIRMED');
  assert.equal(statusOf(b), 'CONFIRMED');
  assert.equal(await s.available(), 8);
  assert.deepEqual(await s.announced(id), ['OrderPlaced', 'OrderConfirmed'], 'the outcome is announced once: the losing drive appended nothing');
});

test('a saga whose calls keep failing ends CANCELLED(TIMEOUT) past its deadline, and recovery undoes the charge it made', async (t) => {
  const s = await startSystem(t);
  const { id, state } = await s.place('card');
  // Payments charges, but orders never hears so: the saga cannot move on.
  s.loseAnswers.add('ChargePayment');
  await assert.rejects(s.driver.drive(id, state), (err: any) => err.code === 'ORD_ERR_DEPENDENCY_UNAVAILABLE');
  await assert.rejects(s.driver.drive(id), (err: any) => err.code === 'ORD_ERR_DEPENDENCY_UNAVAILABLE');
  assert.equal((await s.payment(id)).status, 'CHARGED');
  assert.equal(await s.available(), 8);

  const deadlineMs = 30_000;
  const later = { now: () => new Date(Date.now() + deadlineMs) };
  const sweeper = startSweeper({ db: s.orders.db, arch: 'rest', clock: later, log: silentLogger, deadlineMs, intervalMs: 3_600_000 });
  t.after(() => sweeper.stop());
  assert.deepEqual((await sweeper.pass()).map((o) => [o.id, o.reason]), [[id, 'TIMEOUT']]);
  assert.deepEqual(await s.unfinished(), [id], 'the compensations are still owed');

  const recovery = startRecovery({ db: s.orders.db, driver: s.driver, downstream: s.downstream, log: silentLogger, recoverAfterMs: 0, intervalMs: 60_000 });
  t.after(() => recovery.stop());
  assert.equal(await recovery.pass(), 1);
  assert.deepEqual(await s.unfinished(), []);
  assert.equal((await s.payment(id)).status, 'REFUNDED', 'the charge made before the timeout is refunded');
  assert.equal(await s.available(), 10, 'the stock is released');
  const final = await s.driver.drive(id);
  assert.deepEqual([statusOf(final), final.reason], ['CANCELLED', 'TIMEOUT']);
  // A ScheduleShipment arriving now (a request cut short long ago) books nothing.
  assert.equal((await s.shipment(id)).status, 'CANCELLED');
  assert.deepEqual(await s.announced(id), ['OrderPlaced', 'OrderCancelled TIMEOUT'], 'the sweeper announces the timeout; recovery\'s compensations announce nothing');
});
