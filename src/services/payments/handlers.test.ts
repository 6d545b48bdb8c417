import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '#platform/db/db.ts';
import { silentLogger, type Logger } from '#platform/log.ts';
import { ChargePayment, message, RefundPayment } from '#contracts/index.ts';
import { postgresTestDb, sqliteTestDb } from '#test/support/db.ts';
import { runHandler, type Delivery, type Emitted } from '#test/support/handlers.ts';
import { recordingLogger } from '#test/support/log.ts';
import { createHandlers } from './handlers.ts';
import { getPayment, migrations } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };

const sqliteDb = (t: TestContext) => sqliteTestDb(t, 'payments', migrations);

const handle = (db: Db, cmd: Delivery, log: Logger = silentLogger): Promise<Emitted> =>
  runHandler(db, createHandlers({ ids: { newId: () => uuidv7() }, clock, log }), cmd);

const chargeCmd = (orderId: string, method = 'card', amountCents = 2500) =>
  message(ChargePayment, { key: orderId, payload: { orderId, customerId: 'customer-1', amountCents, method } });
const refundCmd = (orderId: string) => message(RefundPayment, { key: orderId, payload: { orderId } });
const replies = (emitted: Emitted) => emitted.map((e) => ({ topic: e.topic, type: e.message.type, payload: e.message.payload }));

test('payments charges a card and answers PaymentCharged', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const cmd = chargeCmd(orderId);
  const out = await handle(db, cmd);
  const payment = await getPayment(db, orderId);
  assert.equal(payment?.status, 'CHARGED');
  assert.deepEqual(replies(out), [{ topic: 'payments.events', type: 'PaymentCharged', payload: { orderId, paymentId: payment!.paymentId, amountCents: 2500 } }]);
  assert.equal(out[0].message.headers.causationId, cmd.message.id);
});

test('payments declines card-declined and unsupported methods with their reasons', async (t) => {
  const db = await sqliteDb(t);
  for (const [method, reason] of [['card-declined', 'CARD_DECLINED'], ['bitcoin', 'UNSUPPORTED_METHOD']]) {
    const orderId = uuidv7();
    assert.deepEqual(replies(await handle(db, chargeCmd(orderId, method))), [{ topic: 'payments.events', type: 'PaymentDeclined', payload: { orderId, reason } }]);
    assert.equal((await getPayment(db, orderId))?.status, 'DECLINED');
  }
});

test('an order is charged once even when the charge is asked twice', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const first = await handle(db, chargeCmd(orderId));
  const second = await handle(db, chargeCmd(orderId, 'card', 9999));
  assert.deepEqual(replies(second), replies(first));
  assert.equal((await db.query('SELECT order_id FROM payments')).length, 1);
  assert.equal((await getPayment(db, orderId))?.amountCents, 2500);
});

test('a repeated charge of a declined order answers the same decline', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const first = await handle(db, chargeCmd(orderId, 'card-declined'));
  assert.deepEqual(replies(await handle(db, chargeCmd(orderId, 'card'))), replies(first));
  assert.equal((await getPayment(db, orderId))?.status, 'DECLINED');
});

test('a charged payment is refunded once, however often the refund is asked', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  await handle(db, chargeCmd(orderId));
  assert.deepEqual(replies(await handle(db, refundCmd(orderId))), [{ topic: 'payments.events', type: 'PaymentRefunded', payload: { orderId, amountCents: 2500 } }]);
  assert.deepEqual(await handle(db, refundCmd(orderId)), []);
  assert.equal((await getPayment(db, orderId))?.status, 'REFUNDED');
});

test('a charge asked again after its refund charges nothing more', async (t) => {
  const db = await sqliteDb(t);
  const orderId = uuidv7();
  const first = await handle(db, chargeCmd(orderId));
  await handle(db, refundCmd(orderId));
  assert.deepEqual(replies(await handle(db, chargeCmd(orderId))), replies(first));
  assert.equal((await getPayment(db, orderId))?.status, 'REFUNDED');
});

test('a refund for an order never charged says nothing and refuses a later charge; one for a declined order warns', async (t) => {
  const db = await sqliteDb(t);
  const { log, warnings } = recordingLogger();
  // An order that timed out before its charge (issue 9): the refund may overtake the
  // ChargePayment (a dead letter replayed later), which must then charge nothing.
  const neverSeen = uuidv7();
  assert.deepEqual(await handle(db, refundCmd(neverSeen), log), []);
  assert.equal((await getPayment(db, neverSeen))?.status, 'CANCELLED');
  assert.deepEqual((await handle(db, chargeCmd(neverSeen, 'card'))).map((e) => [e.message.type, e.message.payload]), [
    ['PaymentDeclined', { orderId: neverSeen, reason: 'ORDER_CANCELLED' }],
  ]);

  const declined = uuidv7();
  await handle(db, chargeCmd(declined, 'card-declined'));
  assert.deepEqual(await handle(db, refundCmd(declined), log), []);
  assert.equal((await getPayment(db, declined))?.status, 'DECLINED');
  assert.equal(warnings.length, 1);
});

test('two charges of one order racing on PostgreSQL charge it once', async (t) => {
  const db = await postgresTestDb(t, 'payments', migrations);
  if (!db) return;
  const orderId = uuidv7();
  const results = await Promise.allSettled([handle(db, chargeCmd(orderId)), handle(db, chargeCmd(orderId))]);
  const won = results.filter((r) => r.status === 'fulfilled') as Array<PromiseFulfilledResult<Emitted>>;
  assert.ok(won.length >= 1);
  // The loser's transaction rolled back on the primary key; the consumer's retry answers the same.
  const retried = await handle(db, chargeCmd(orderId));
  assert.deepEqual(replies(retried), replies(won[0].value));
  assert.equal((await db.query('SELECT order_id FROM payments')).length, 1);
});
