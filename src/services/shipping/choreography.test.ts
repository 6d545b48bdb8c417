import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '#platform/db/db.ts';
import { message, OrderCancelled, PaymentCharged } from '#contracts/index.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { runHandler, type Delivery, type Emitted } from '#test/support/handlers.ts';
import { createChoreographyHandlers } from './choreography.ts';
import { trackingNumberFor } from './domain/carrier.ts';
import { getShipment, migrations } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };

const sqliteDb = (t: TestContext) => sqliteTestDb(t, 'shipping', migrations);
const handle = (db: Db, event: Delivery): Promise<Emitted> => runHandler(db, createChoreographyHandlers({ clock }), event);

const charged = (orderId: string, country?: string) =>
  message(PaymentCharged, {
    key: orderId,
    payload: { orderId, paymentId: uuidv7(), amountCents: 2500, ...(country === undefined ? {} : { shippingAddress: { country, city: 'Lyon' } }) },
  });
const replies = (emitted: Emitted) => emitted.map((e) => ({ topic: e.topic, type: e.message.type, payload: e.message.payload }));

test('a charged payment schedules the shipment to the address it carries', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const event = charged(orderId, 'FR');
  const out = await handle(db, event);
  const trackingNumber = trackingNumberFor(orderId);
  assert.deepEqual(replies(out), [{ topic: 'shipping.events', type: 'ShipmentScheduled', payload: { orderId, trackingNumber } }]);
  assert.equal(out[0].message.headers.causationId, event.message.id);
  assert.deepEqual(await getShipment(db, orderId), { orderId, status: 'SCHEDULED', trackingNumber, country: 'FR', reason: null });
});

test('a charged payment to country XX is answered ShipmentRejected', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  assert.deepEqual(replies(await handle(db, charged(orderId, 'XX'))), [
    { topic: 'shipping.events', type: 'ShipmentRejected', payload: { orderId, reason: 'COUNTRY_NOT_SERVED' } },
  ]);
});

test('a second PaymentCharged for the same order books nothing more and answers the same', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const first = await handle(db, charged(orderId, 'FR'));
  assert.deepEqual(replies(await handle(db, charged(orderId, 'FR'))), replies(first));
});

test('a PaymentCharged without an address (the events architecture) ships nothing', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  assert.deepEqual(await handle(db, charged(orderId)), []);
  assert.equal(await getShipment(db, orderId), undefined);
});

const timedOut = (orderId: string) => message(OrderCancelled, { key: orderId, payload: { orderId, reason: 'TIMEOUT' } });

test('an order cancelled as TIMEOUT calls its shipment off', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, charged(orderId, 'FR'));
  assert.deepEqual(await handle(db, timedOut(orderId)), []);
  assert.equal((await getShipment(db, orderId))?.status, 'CANCELLED');
});

test('a PaymentCharged heard after its order timed out is answered ShipmentRejected, which refunds it', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, timedOut(orderId));
  assert.deepEqual(replies(await handle(db, charged(orderId, 'FR'))), [
    { topic: 'shipping.events', type: 'ShipmentRejected', payload: { orderId, reason: 'ORDER_CANCELLED' } },
  ]);
});
