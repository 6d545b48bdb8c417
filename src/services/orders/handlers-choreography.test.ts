// The orders service in the choreography: POST sends OrderPlaced alone, and the handlers
// follow the facts of the others (domain/choreography.ts) on the saga's machinery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import {
  PaymentCharged,
  PaymentDeclined,
  ShipmentRejected,
  ShipmentScheduled,
  StockReserved,
  StockUnavailable,
  type Contract,
  type PayloadOf,
} from '#contracts/index.ts';
import type { Db } from '#platform/db/db.ts';
import { handleIn, runHandler, type Emitted } from '#test/support/handlers.ts';
import { follow } from './domain/choreography.ts';
import { clock, delivery, openDb, placedOrder, productId, summary } from './handlers-fixtures.ts';
import { createHandlers } from './handlers.ts';
import { getOrderView, loadEvents } from './store.ts';

const address = { country: 'DE' };

/** Runs one fact through the follower's handler in its own transaction, as the consumer does. */
const deliver = <C extends Contract>(db: Db, contract: C, payload: PayloadOf<C>): Promise<Emitted> =>
  runHandler(db, createHandlers({ clock, react: follow }), delivery(contract, payload));
const fact = delivery;

const outboxTypes = async (db: Db): Promise<string[]> =>
  (await db.query<{ topic: string; value: string }>('SELECT topic, value FROM outbox ORDER BY seq')).map((r) => `${r.topic} ${JSON.parse(r.value).type}`);

test('placing an order in the choreography announces OrderPlaced and sends no ReserveStock', async (t) => {
  const db = await openDb(t);
  await placedOrder(db, { arch: 'choreography' });
  assert.deepEqual(await outboxTypes(db), ['orders.events OrderPlaced']);
});

test('the facts of a confirmed order are followed to CONFIRMED and only OrderConfirmed is sent', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db, { arch: 'choreography' });
  assert.deepEqual(await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] }), []);
  assert.deepEqual(await deliver(db, PaymentCharged, { orderId, paymentId: uuidv7(), amountCents: 1000, shippingAddress: address }), []);
  assert.equal((await getOrderView(db, orderId))?.status, 'PENDING');
  assert.deepEqual(summary(await deliver(db, ShipmentScheduled, { orderId, trackingNumber: 'TRK-9' })), [['orders.events', 'OrderConfirmed', { orderId }]]);
  assert.equal((await getOrderView(db, orderId))?.status, 'CONFIRMED');
  assert.deepEqual(
    (await loadEvents(db, orderId)).map((e) => e.type),
    ['OrderPlaced', 'StockReserved', 'PaymentCharged', 'ShipmentScheduled', 'OrderConfirmed'],
  );
});

test('a scheduled shipment that overtakes the reservation and the charge still confirms the order, once', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db, { arch: 'choreography' });
  assert.deepEqual(summary(await deliver(db, ShipmentScheduled, { orderId, trackingNumber: 'TRK-9' })), [['orders.events', 'OrderConfirmed', { orderId }]]);
  assert.deepEqual(await deliver(db, PaymentCharged, { orderId, paymentId: uuidv7(), amountCents: 1000, shippingAddress: address }), []);
  assert.deepEqual(await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] }), []);
  assert.deepEqual(await deliver(db, ShipmentScheduled, { orderId, trackingNumber: 'TRK-9' }), []);
  assert.equal((await getOrderView(db, orderId))?.status, 'CONFIRMED');
  assert.deepEqual((await loadEvents(db, orderId)).map((e) => e.type), ['OrderPlaced', 'ShipmentScheduled', 'OrderConfirmed']);
});

test('each failure cancels the order with its reason and sends no compensation: the others compensate on their own', async (t) => {
  const db = await openDb(t);
  const cases = [
    [StockUnavailable, (orderId: string) => ({ orderId, productIds: [productId] }), 'OUT_OF_STOCK'],
    [PaymentDeclined, (orderId: string) => ({ orderId, reason: 'CARD_DECLINED' }), 'PAYMENT_DECLINED'],
    [ShipmentRejected, (orderId: string) => ({ orderId, reason: 'COUNTRY_NOT_SERVED' }), 'SHIPPING_UNAVAILABLE'],
  ] as const;
  for (const [contract, payload, reason] of cases) {
    const orderId = await placedOrder(db, { arch: 'choreography' });
    await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] });
    const sent = await deliver(db, contract as Contract, payload(orderId));
    assert.deepEqual(summary(sent), [['orders.events', 'OrderCancelled', { orderId, reason }]]);
    const view = await getOrderView(db, orderId);
    assert.equal(view?.status, 'CANCELLED');
    assert.equal(view?.reason, reason);
    assert.deepEqual(await deliver(db, contract as Contract, payload(orderId)), [], 'a second copy changes nothing');
  }
});

test('facts of one order in one transaction see each other, as in a consumer batch', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db, { arch: 'choreography' });
  const handlers = createHandlers({ clock, react: follow });
  const emitted: Emitted = [];
  await db.transaction(async (tx) => {
    await handleIn(tx, handlers, fact(StockReserved, { orderId, items: [{ productId, quantity: 4 }] }), emitted);
    await handleIn(tx, handlers, fact(PaymentCharged, { orderId, paymentId: uuidv7(), amountCents: 1000, shippingAddress: address }), emitted);
    await handleIn(tx, handlers, fact(ShipmentScheduled, { orderId, trackingNumber: 'TRK-9' }), emitted);
  });
  assert.deepEqual(summary(emitted), [['orders.events', 'OrderConfirmed', { orderId }]]);
  assert.equal((await loadEvents(db, orderId)).length, 5);
});
