import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '#platform/db/db.ts';
import { silentLogger, type Logger } from '#platform/log.ts';
import { message, OrderCancelled, ShipmentRejected, StockReserved } from '#contracts/index.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { runHandler, type Delivery, type Emitted } from '#test/support/handlers.ts';
import { recordingLogger } from '#test/support/log.ts';
import { createChoreographyHandlers } from './choreography.ts';
import { getPayment, migrations } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };
const productId = '0190a1b2-0000-7000-8000-00000000000a';
const address = { country: 'FR', city: 'Lyon' };

const sqliteDb = (t: TestContext) => sqliteTestDb(t, 'payments', migrations);

const handle = (db: Db, event: Delivery, log: Logger = silentLogger): Promise<Emitted> =>
  runHandler(db, createChoreographyHandlers({ ids: { newId: () => uuidv7() }, clock, log }), event);

const reserved = (orderId: string, paymentMethod = 'card', withOrder = true) =>
  message(StockReserved, {
    key: orderId,
    payload: {
      orderId,
      items: [{ productId, quantity: 2 }],
      ...(withOrder ? { order: { customerId: 'customer-1', totalCents: 2500, paymentMethod, shippingAddress: address } } : {}),
    },
  });
const rejected = (orderId: string) => message(ShipmentRejected, { key: orderId, payload: { orderId, reason: 'COUNTRY_NOT_SERVED' } });
const replies = (emitted: Emitted) => emitted.map((e) => ({ topic: e.topic, type: e.message.type, payload: e.message.payload }));

test('reserved stock is charged and PaymentCharged carries the address on for shipping', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const event = reserved(orderId);
  const out = await handle(db, event);
  const payment = await getPayment(db, orderId);
  assert.equal(payment?.status, 'CHARGED');
  assert.equal(payment?.customerId, 'customer-1');
  assert.deepEqual(replies(out), [
    { topic: 'payments.events', type: 'PaymentCharged', payload: { orderId, paymentId: payment!.paymentId, amountCents: 2500, shippingAddress: address } },
  ]);
  assert.equal(out[0].message.headers.causationId, event.message.id);
});

test('reserved stock with a declined card is answered PaymentDeclined', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  assert.deepEqual(replies(await handle(db, reserved(orderId, 'card-declined'))), [
    { topic: 'payments.events', type: 'PaymentDeclined', payload: { orderId, reason: 'CARD_DECLINED' } },
  ]);
  assert.equal((await getPayment(db, orderId))?.status, 'DECLINED');
});

test('a second StockReserved for the same order charges nothing more and answers the same', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const first = await handle(db, reserved(orderId));
  const second = await handle(db, reserved(orderId));
  assert.deepEqual(replies(second), replies(first));
});

test('a StockReserved without its order (the events architecture) is not charged', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  assert.deepEqual(await handle(db, reserved(orderId, 'card', false)), []);
  assert.equal(await getPayment(db, orderId), undefined);
});

test('a rejected shipment refunds the charge once, however often it is heard', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, reserved(orderId));
  assert.deepEqual(replies(await handle(db, rejected(orderId))), [{ topic: 'payments.events', type: 'PaymentRefunded', payload: { orderId, amountCents: 2500 } }]);
  assert.deepEqual(await handle(db, rejected(orderId)), []);
  assert.equal((await getPayment(db, orderId))?.status, 'REFUNDED');
});

test('a rejected shipment for an order never charged refunds nothing, warns, and refuses a later charge', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const { log, warnings } = recordingLogger();
  assert.deepEqual(await handle(db, rejected(orderId), log), []);
  assert.equal(warnings.length, 1);
  assert.equal((await getPayment(db, orderId))?.status, 'CANCELLED');
});

const timedOut = (orderId: string) => message(OrderCancelled, { key: orderId, payload: { orderId, reason: 'TIMEOUT' } });

test('an order cancelled as TIMEOUT after its charge is refunded once', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, reserved(orderId));
  assert.deepEqual(replies(await handle(db, timedOut(orderId))), [{ topic: 'payments.events', type: 'PaymentRefunded', payload: { orderId, amountCents: 2500 } }]);
  assert.deepEqual(await handle(db, timedOut(orderId)), []);
  assert.equal((await getPayment(db, orderId))?.status, 'REFUNDED');
});

test('a StockReserved heard after its order timed out is declined and charges nothing', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  assert.deepEqual(await handle(db, timedOut(orderId)), []);
  assert.deepEqual(replies(await handle(db, reserved(orderId))), [
    { topic: 'payments.events', type: 'PaymentDeclined', payload: { orderId, reason: 'ORDER_CANCELLED' } },
  ]);
  assert.equal((await getPayment(db, orderId))?.status, 'CANCELLED');
});
