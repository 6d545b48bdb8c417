import { test } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { PaymentCharged, ShipmentScheduled, StockReserved } from '#contracts/index.ts';
import { runHandler } from '#test/support/handlers.ts';
import { clock, delivery, openDb, placedOrder, productId } from './handlers-fixtures.ts';
import { createHandlers } from './handlers.ts';
import { stuckOrders } from './stuck.ts';

const deadlineMs = 30_000;
const after = (ms: number) => new Date(clock.now().getTime() + ms);

test('an order pending past its step deadline is listed with its step and how overdue it is', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);
  assert.deepEqual(await stuckOrders(db, after(deadlineMs - 1), deadlineMs), []);
  assert.deepEqual(await stuckOrders(db, after(deadlineMs + 1_500), deadlineMs), [
    { id: orderId, step: 'AWAITING_STOCK', createdAt: clock.now().toISOString(), stepStartedAt: clock.now().toISOString(), overdueMs: 1_500 },
  ]);
});

test('the deadline is the current step\'s, and a finished order is never stuck', async (t) => {
  const db = await openDb(t);
  const waiting = await placedOrder(db);
  await runHandler(db, createHandlers({ clock: { now: () => after(20_000) } }), delivery(StockReserved, { orderId: waiting, items: [{ productId, quantity: 4 }] }));
  const done = await placedOrder(db);
  const h = createHandlers({ clock });
  await runHandler(db, h, delivery(StockReserved, { orderId: done, items: [{ productId, quantity: 4 }] }));
  await runHandler(db, h, delivery(PaymentCharged, { orderId: done, paymentId: uuidv7(), amountCents: 1000 }));
  await runHandler(db, h, delivery(ShipmentScheduled, { orderId: done, trackingNumber: 'TRK-1' }));

  assert.deepEqual(await stuckOrders(db, after(deadlineMs + 10_000), deadlineMs), []);
  const stuck = await stuckOrders(db, after(deadlineMs + 25_000), deadlineMs);
  assert.deepEqual(stuck.map((o) => [o.id, o.step, o.overdueMs]), [[waiting, 'AWAITING_PAYMENT', 5_000]]);
});
