import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { message, OrderCancelled, OrderPlaced, PaymentDeclined, ShipmentRejected } from '#contracts/index.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { runHandler, type Delivery, type Emitted } from '#test/support/handlers.ts';
import { createProduct } from './catalog.ts';
import { createChoreographyHandlers } from './choreography.ts';
import { getProduct, getReservation, migrations } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };
const ids = { newId: () => uuidv7() };

const sqliteDb = (t: TestContext) => sqliteTestDb(t, 'inventory', [...outboxMigrations, ...migrations]);

/** Runs one event through its handler in its own transaction, as the consumer does. */
const handle = (db: Db, event: Delivery): Promise<Emitted> => runHandler(db, createChoreographyHandlers({ dialect: db.dialect, clock }), event);

const facts = { customerId: 'customer-1', totalCents: 1200, paymentMethod: 'card', shippingAddress: { country: 'FR', city: 'Lyon' } };
const placed = (orderId: string, lines: Array<{ productId: string; quantity: number }>) =>
  message(OrderPlaced, { key: orderId, payload: { orderId, ...facts, items: lines.map((l) => ({ ...l, unitPriceCents: 100 })) } });
const declined = (orderId: string) => message(PaymentDeclined, { key: orderId, payload: { orderId, reason: 'CARD_DECLINED' } });
const rejected = (orderId: string) => message(ShipmentRejected, { key: orderId, payload: { orderId, reason: 'COUNTRY_NOT_SERVED' } });
const product = (db: Db, sku: string, stock: number) => createProduct({ db, ids, clock }, { sku, name: sku, priceCents: 100, stock });
const available = async (db: Db, id: string) => (await getProduct(db, id))!.available;
const replies = (emitted: Emitted) => emitted.map((e) => ({ topic: e.topic, type: e.message.type, payload: e.message.payload }));

test('a placed order reserves its stock and StockReserved carries the order on for payments', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  const event = placed(orderId, [{ productId: a.id, quantity: 3 }]);
  const out = await handle(db, event);
  assert.deepEqual(replies(out), [
    { topic: 'inventory.events', type: 'StockReserved', payload: { orderId, items: [{ productId: a.id, quantity: 3 }], order: facts } },
  ]);
  assert.equal(out[0].message.headers.causationId, event.message.id);
  assert.equal(out[0].message.key, orderId);
  assert.equal(await available(db, a.id), 7);
});

test('a placed order beyond the stock is answered StockUnavailable and holds nothing', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 2);
  const orderId = uuidv7();
  assert.deepEqual(replies(await handle(db, placed(orderId, [{ productId: a.id, quantity: 3 }]))), [
    { topic: 'inventory.events', type: 'StockUnavailable', payload: { orderId, productIds: [a.id] } },
  ]);
  assert.equal(await available(db, a.id), 2);
});

test('a second OrderPlaced for the same order answers the same and takes nothing more', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  const first = await handle(db, placed(orderId, [{ productId: a.id, quantity: 4 }]));
  const second = await handle(db, placed(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(replies(second), replies(first));
  assert.equal(await available(db, a.id), 6);
});

test('a declined payment gives the stock back once, however often it is heard', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  await handle(db, placed(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(replies(await handle(db, declined(orderId))), [{ topic: 'inventory.events', type: 'StockReleased', payload: { orderId } }]);
  assert.equal(await available(db, a.id), 10);
  assert.deepEqual(await handle(db, declined(orderId)), []);
  assert.equal(await available(db, a.id), 10);
  assert.equal((await getReservation(db, orderId))?.status, 'RELEASED');
});

test('a rejected shipment gives the stock back once', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  await handle(db, placed(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(replies(await handle(db, rejected(orderId))), [{ topic: 'inventory.events', type: 'StockReleased', payload: { orderId } }]);
  assert.deepEqual(await handle(db, rejected(orderId)), []);
  assert.equal(await available(db, a.id), 10);
});

test('a declined payment for an order whose stock was refused changes nothing and says nothing', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 1);
  const orderId = uuidv7();
  await handle(db, placed(orderId, [{ productId: a.id, quantity: 2 }]));
  assert.deepEqual(await handle(db, declined(orderId)), []);
  assert.equal(await available(db, a.id), 1);
  assert.equal((await getReservation(db, orderId))?.status, 'REJECTED');
});

test('an OrderPlaced heard after its order was unwound is refused and holds nothing', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  assert.deepEqual(await handle(db, declined(orderId)), []);
  assert.deepEqual(replies(await handle(db, placed(orderId, [{ productId: a.id, quantity: 4 }]))), [
    { topic: 'inventory.events', type: 'StockUnavailable', payload: { orderId, productIds: [a.id] } },
  ]);
  assert.equal(await available(db, a.id), 10);
});

const cancelledAs = (orderId: string, reason: 'TIMEOUT' | 'PAYMENT_DECLINED') => message(OrderCancelled, { key: orderId, payload: { orderId, reason } });

test('an order cancelled as TIMEOUT gives its stock back once', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  await handle(db, placed(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.equal(await available(db, a.id), 6);
  assert.deepEqual(replies(await handle(db, cancelledAs(orderId, 'TIMEOUT'))), [{ topic: 'inventory.events', type: 'StockReleased', payload: { orderId } }]);
  assert.deepEqual(await handle(db, cancelledAs(orderId, 'TIMEOUT')), []);
  assert.equal(await available(db, a.id), 10);
});

test('an OrderCancelled for another reason leaves the release to the fact that caused it', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  await handle(db, placed(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(await handle(db, cancelledAs(orderId, 'PAYMENT_DECLINED')), []);
  assert.equal(await available(db, a.id), 6);
});
