import { test } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import {
  message,
  PaymentCharged,
  PaymentDeclined,
  ProductCreated,
  ProductPriceChanged,
  ShipmentRejected,
  ShipmentScheduled,
  StockReserved,
  StockUnavailable,
  type Contract,
  type PayloadOf,
} from '#contracts/index.ts';
import type { Envelope } from '#platform/bus/envelope.ts';
import type { Db } from '#platform/db/db.ts';
import { runHandler, type Emitted } from '#test/support/handlers.ts';
import { clock, delivery, openDb, placedOrder, productId, summary } from './handlers-fixtures.ts';
import { createHandlers } from './handlers.ts';
import { placeOrder } from './place-order.ts';
import { getOrderView, getProduct, loadEvents, pricesOf } from './store.ts';

/** Runs one message through its handler in its own transaction, as the consumer does. */
async function deliver<C extends Contract>(db: Db, contract: C, payload: PayloadOf<C>): Promise<{ sent: Emitted; cause: Envelope }> {
  const m = delivery(contract, payload);
  return { sent: await runHandler(db, createHandlers({ clock }), m), cause: m.message };
}

test('ProductCreated fills the local catalog, and a redelivery changes nothing', async (t) => {
  const db = await openDb(t);
  await deliver(db, ProductCreated, { productId, sku: 'A-1', name: 'Apple', priceCents: 250 });
  await deliver(db, ProductCreated, { productId, sku: 'A-1', name: 'Apple', priceCents: 250 });
  assert.deepEqual(await getProduct(db, productId), { productId, sku: 'A-1', name: 'Apple', priceCents: 250 });
});

const apple = { productId, sku: 'A-1', name: 'Apple' };
const newOrder = (db: Db) =>
  placeOrder({ db, ids: { newId: () => uuidv7() }, clock }, { customerId: 'c-1', items: [{ productId, quantity: 2 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } });
const priceNow = async (db: Db) => (await pricesOf(db, db.dialect, [productId])).get(productId);

test('ProductPriceChanged prices the orders placed after it; an order placed before keeps its unit price', async (t) => {
  const db = await openDb(t);
  await deliver(db, ProductCreated, { ...apple, priceCents: 250 });
  const before = await newOrder(db);
  await deliver(db, ProductPriceChanged, { ...apple, priceCents: 199, previousPriceCents: 250, revision: 1 });
  const after = await newOrder(db);
  assert.deepEqual((await getOrderView(db, before.id))?.items, [{ productId, quantity: 2, unitPriceCents: 250 }]);
  assert.equal((await getOrderView(db, before.id))?.totalCents, 500);
  assert.deepEqual((await getOrderView(db, after.id))?.items, [{ productId, quantity: 2, unitPriceCents: 199 }]);
  assert.equal((await getOrderView(db, after.id))?.totalCents, 398);
  // The older order's saga goes on at its own price: the charge asks for what it was placed at.
  const reserved = await deliver(db, StockReserved, { orderId: before.id, items: [{ productId, quantity: 2 }] });
  assert.equal((reserved.sent[0].message.payload as { amountCents: number }).amountCents, 500);
});

test('a redelivered ProductPriceChanged changes nothing, and an older revision or a late ProductCreated does not win', async (t) => {
  const db = await openDb(t);
  await deliver(db, ProductCreated, { ...apple, priceCents: 250 });
  const second = delivery(ProductPriceChanged, { ...apple, priceCents: 180, previousPriceCents: 199, revision: 2 });
  await runHandler(db, createHandlers({ clock }), second);
  await runHandler(db, createHandlers({ clock }), second);
  assert.equal(await priceNow(db), 180);
  // Per-key order on inventory.events rules these out in normal running; a dead letter
  // replayed late, or two relays racing, could still bring them.
  await deliver(db, ProductPriceChanged, { ...apple, priceCents: 199, previousPriceCents: 250, revision: 1 });
  await deliver(db, ProductCreated, { ...apple, priceCents: 250 });
  assert.equal(await priceNow(db), 180);
  assert.deepEqual(await getProduct(db, productId), { ...apple, priceCents: 180 });
});

test('a ProductPriceChanged for a product the catalog never saw fills its row, and its ProductCreated arriving later changes nothing', async (t) => {
  const db = await openDb(t);
  await deliver(db, ProductPriceChanged, { ...apple, priceCents: 199, previousPriceCents: 250, revision: 1 });
  assert.deepEqual(await getProduct(db, productId), { ...apple, priceCents: 199 });
  await deliver(db, ProductCreated, { ...apple, priceCents: 250 });
  assert.equal(await priceNow(db), 199);
  assert.equal((await newOrder(db)).state?.totalCents, 398);
});

test('the happy path: each reply sends the next command and the order ends CONFIRMED', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);

  const reserved = await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] });
  assert.deepEqual(summary(reserved.sent), [['payments.commands', 'ChargePayment', { orderId, customerId: 'c-1', amountCents: 1000, method: 'card' }]]);
  // The command continues the reply's trace.
  assert.equal(reserved.sent[0].message.key, orderId);
  assert.equal(reserved.sent[0].message.headers.causationId, reserved.cause.id);
  assert.equal(reserved.sent[0].message.headers.correlationId, reserved.cause.headers.correlationId);

  const charged = await deliver(db, PaymentCharged, { orderId, paymentId: uuidv7(), amountCents: 1000 });
  assert.deepEqual(summary(charged.sent), [['shipping.commands', 'ScheduleShipment', { orderId, address: { country: 'DE' } }]]);
  assert.equal((await getOrderView(db, orderId))?.status, 'PENDING');

  const scheduled = await deliver(db, ShipmentScheduled, { orderId, trackingNumber: 'TRK-9' });
  assert.deepEqual(summary(scheduled.sent), [['orders.events', 'OrderConfirmed', { orderId }]]);
  const view = await getOrderView(db, orderId);
  assert.equal(view?.status, 'CONFIRMED');
  assert.equal(view?.totalCents, 1000);
  assert.deepEqual(
    (await loadEvents(db, orderId)).map((e) => e.type),
    ['OrderPlaced', 'StockReserved', 'PaymentCharged', 'ShipmentScheduled', 'OrderConfirmed'],
  );
});

test('a second copy of a reply (another message id) appends and sends nothing', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);
  await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] });
  const again = await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] });
  assert.deepEqual(again.sent, []);
  assert.equal((await loadEvents(db, orderId)).length, 2);
});

test('unavailable stock cancels the order as OUT_OF_STOCK', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);
  const { sent } = await deliver(db, StockUnavailable, { orderId, productIds: [productId] });
  assert.deepEqual(summary(sent), [['orders.events', 'OrderCancelled', { orderId, reason: 'OUT_OF_STOCK' }]]);
  const view = await getOrderView(db, orderId);
  assert.equal(view?.status, 'CANCELLED');
  assert.equal(view?.reason, 'OUT_OF_STOCK');
});

test('a declined payment releases the stock and cancels the order', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db, { paymentMethod: 'card-declined' });
  await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] });
  const { sent } = await deliver(db, PaymentDeclined, { orderId, reason: 'declined' });
  assert.deepEqual(summary(sent), [
    ['inventory.commands', 'ReleaseStock', { orderId }],
    ['orders.events', 'OrderCancelled', { orderId, reason: 'PAYMENT_DECLINED' }],
  ]);
  assert.equal((await getOrderView(db, orderId))?.reason, 'PAYMENT_DECLINED');
});

test('a rejected shipment refunds, releases and cancels, once', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db, { country: 'XX' });
  await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 4 }] });
  await deliver(db, PaymentCharged, { orderId, paymentId: uuidv7(), amountCents: 1000 });
  const { sent } = await deliver(db, ShipmentRejected, { orderId, reason: 'country not served' });
  assert.deepEqual(summary(sent), [
    ['payments.commands', 'RefundPayment', { orderId }],
    ['inventory.commands', 'ReleaseStock', { orderId }],
    ['orders.events', 'OrderCancelled', { orderId, reason: 'SHIPPING_UNAVAILABLE' }],
  ]);
  assert.deepEqual((await deliver(db, ShipmentRejected, { orderId, reason: 'again' })).sent, []);
  assert.equal((await getOrderView(db, orderId))?.reason, 'SHIPPING_UNAVAILABLE');
});

test('a reply for an order this service does not know is ignored', async (t) => {
  const db = await openDb(t);
  const orderId = uuidv7();
  assert.deepEqual((await deliver(db, StockReserved, { orderId, items: [{ productId, quantity: 1 }] })).sent, []);
  assert.deepEqual(await loadEvents(db, orderId), []);
});
