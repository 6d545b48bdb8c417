import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '#platform/db/db.ts';
import { CancelShipment, message, ScheduleShipment } from '#contracts/index.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { runHandler, type Delivery, type Emitted } from '#test/support/handlers.ts';
import { trackingNumberFor } from './domain/carrier.ts';
import { createHandlers } from './handlers.ts';
import { getShipment, migrations } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };

const sqliteDb = (t: TestContext) => sqliteTestDb(t, 'shipping', migrations);
const handle = (db: Db, cmd: Delivery): Promise<Emitted> => runHandler(db, createHandlers({ clock }), cmd);

const scheduleCmd = (orderId: string, country: string) =>
  message(ScheduleShipment, { key: orderId, payload: { orderId, address: { country, city: 'Lyon' } } });
const replies = (emitted: Emitted) => emitted.map((e) => ({ topic: e.topic, type: e.message.type, payload: e.message.payload }));

test('shipping schedules a shipment to a served country with its tracking number', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const cmd = scheduleCmd(orderId, 'FR');
  const out = await handle(db, cmd);
  const trackingNumber = trackingNumberFor(orderId);
  assert.deepEqual(replies(out), [{ topic: 'shipping.events', type: 'ShipmentScheduled', payload: { orderId, trackingNumber } }]);
  assert.equal(out[0].message.headers.causationId, cmd.message.id);
  assert.deepEqual(await getShipment(db, orderId), { orderId, status: 'SCHEDULED', trackingNumber, country: 'FR', reason: null });
});

test('shipping rejects country XX as COUNTRY_NOT_SERVED', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  assert.deepEqual(replies(await handle(db, scheduleCmd(orderId, 'XX'))), [
    { topic: 'shipping.events', type: 'ShipmentRejected', payload: { orderId, reason: 'COUNTRY_NOT_SERVED' } },
  ]);
  assert.deepEqual(await getShipment(db, orderId), { orderId, status: 'REJECTED', trackingNumber: null, country: 'XX', reason: 'COUNTRY_NOT_SERVED' });
});

test('a repeated ScheduleShipment answers the recorded outcome and books one shipment', async (t) => {
  const db = await sqliteDb(t);
  const scheduled = uuidv7();
  const first = await handle(db, scheduleCmd(scheduled, 'DE'));
  // Even a different address cannot change a decided shipment.
  assert.deepEqual(replies(await handle(db, scheduleCmd(scheduled, 'XX'))), replies(first));

  const rejected = uuidv7();
  const refusal = await handle(db, scheduleCmd(rejected, 'XX'));
  assert.deepEqual(replies(await handle(db, scheduleCmd(rejected, 'DE'))), replies(refusal));
  assert.equal((await db.query('SELECT order_id FROM shipments')).length, 2);
});

const cancelCmd = (orderId: string) => message(CancelShipment, { key: orderId, payload: { orderId } });

test('a cancelled shipment is called off, and a repeat changes nothing', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, scheduleCmd(orderId, 'FR'));
  assert.deepEqual(await handle(db, cancelCmd(orderId)), [], 'nobody waits on an answer');
  const trackingNumber = trackingNumberFor(orderId);
  assert.deepEqual(await getShipment(db, orderId), { orderId, status: 'CANCELLED', trackingNumber, country: 'FR', reason: 'ORDER_CANCELLED' });
  await handle(db, cancelCmd(orderId));
  assert.equal((await getShipment(db, orderId))?.status, 'CANCELLED');
  // A replayed ScheduleShipment does not book it again.
  assert.deepEqual(replies(await handle(db, scheduleCmd(orderId, 'FR'))), [
    { topic: 'shipping.events', type: 'ShipmentRejected', payload: { orderId, reason: 'ORDER_CANCELLED' } },
  ]);
});

test('a cancellation that arrives before its ScheduleShipment refuses the shipment in advance', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, cancelCmd(orderId));
  assert.deepEqual(replies(await handle(db, scheduleCmd(orderId, 'FR'))), [
    { topic: 'shipping.events', type: 'ShipmentRejected', payload: { orderId, reason: 'ORDER_CANCELLED' } },
  ]);
  assert.equal((await getShipment(db, orderId))?.status, 'CANCELLED');
});

test('cancelling a rejected shipment leaves it rejected', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, scheduleCmd(orderId, 'XX'));
  await handle(db, cancelCmd(orderId));
  assert.equal((await getShipment(db, orderId))?.status, 'REJECTED');
});
