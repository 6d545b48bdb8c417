import { test } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { PaymentCharged, StockReserved } from '#contracts/index.ts';
import type { Architecture } from '#platform/config.ts';
import type { Db } from '#platform/db/db.ts';
import { silentLogger } from '#platform/log.ts';
import { runHandler } from '#test/support/handlers.ts';
import { clock, delivery, openDb, placedOrder, productId, summary } from './handlers-fixtures.ts';
import { startSweeper } from './deadlines.ts';
import { createHandlers } from './handlers.ts';
import { appendStep, getOrderView, loadEvents, migrations } from './store.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { postgresTestDb } from '#test/support/db.ts';
import { decide, evolve, fold, type OrderState } from './domain/order.ts';

const deadlineMs = 30_000;
// Orders are placed at clock.now(); the sweeper looks from `later` ms after it.
const at = (later: number) => ({ now: () => new Date(clock.now().getTime() + later) });

function sweeper(db: Db, later: number, arch: Architecture = 'events', onOutcome?: (s: OrderState) => void) {
  // An interval far beyond the test: only the passes the test asks for run.
  const s = startSweeper({ db, arch, clock: at(later), log: silentLogger, deadlineMs, intervalMs: 3_600_000, onOutcome });
  return s;
}

const outbox = async (db: Db, orderId: string) =>
  (await db.query<{ topic: string; type: string; value: string }>('SELECT topic, type, value FROM outbox WHERE key = $1 ORDER BY seq', [orderId]))
    .map((r) => [r.topic, r.type, JSON.parse(r.value).payload ?? JSON.parse(r.value)]);

const sentAfterPlacement = async (db: Db, orderId: string, placed: number) => (await outbox(db, orderId)).slice(placed).map(([topic, type]) => [topic, type]);

test('an order waiting past its step deadline is cancelled as TIMEOUT with its compensations, counted once', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);
  const placed = (await outbox(db, orderId)).length;
  const outcomes: OrderState[] = [];

  const early = sweeper(db, deadlineMs - 1, 'events', (s) => outcomes.push(s));
  t.after(() => early.stop());
  assert.deepEqual(await early.pass(), [], 'within its deadline the order is left alone');
  assert.equal((await getOrderView(db, orderId))?.status, 'PENDING');

  const late = sweeper(db, deadlineMs, 'events', (s) => outcomes.push(s));
  t.after(() => late.stop());
  assert.deepEqual((await late.pass()).map((s) => s.id), [orderId]);
  const view = await getOrderView(db, orderId);
  assert.equal(view?.status, 'CANCELLED');
  assert.equal(view?.reason, 'TIMEOUT');
  assert.deepEqual(await sentAfterPlacement(db, orderId, placed), [
    ['shipping.commands', 'CancelShipment'],
    ['payments.commands', 'RefundPayment'],
    ['inventory.commands', 'ReleaseStock'],
    ['orders.events', 'OrderCancelled'],
  ]);
  assert.deepEqual(outcomes.map((s) => [s.id, s.reason]), [[orderId, 'TIMEOUT']]);

  assert.deepEqual(await late.pass(), [], 'a second pass finds nothing to do');
  assert.equal((await loadEvents(db, orderId)).length, 2);
  assert.equal(outcomes.length, 1);
});

test('the deadline runs from the start of the current step', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);
  // StockReserved is recorded 20 s after the placement: the payment step starts then.
  await runHandler(db, createHandlers({ clock: at(20_000) }), delivery(StockReserved, { orderId, items: [{ productId, quantity: 4 }] }));
  const s = sweeper(db, deadlineMs + 10_000);
  t.after(() => s.stop());
  assert.deepEqual(await s.pass(), [], 'the payment step is 20 s old');
  const later = sweeper(db, deadlineMs + 20_000);
  t.after(() => later.stop());
  assert.deepEqual((await later.pass()).map((x) => x.reason), ['TIMEOUT']);
});

test('a charge that arrives after the timeout is refunded and the order stays CANCELLED(TIMEOUT)', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);
  await runHandler(db, createHandlers({ clock }), delivery(StockReserved, { orderId, items: [{ productId, quantity: 4 }] }));
  const s = sweeper(db, deadlineMs);
  t.after(() => s.stop());
  assert.equal((await s.pass()).length, 1);

  const sent = await runHandler(db, createHandlers({ clock: at(deadlineMs + 5_000) }), delivery(PaymentCharged, { orderId, paymentId: uuidv7(), amountCents: 1000 }));
  assert.deepEqual(summary(sent), [['payments.commands', 'RefundPayment', { orderId }]]);
  const late = await runHandler(db, createHandlers({ clock: at(deadlineMs + 6_000) }), delivery(StockReserved, { orderId, items: [{ productId, quantity: 4 }] }));
  assert.deepEqual(summary(late), [['inventory.commands', 'ReleaseStock', { orderId }]]);
  const view = await getOrderView(db, orderId);
  assert.equal(view?.status, 'CANCELLED');
  assert.equal(view?.reason, 'TIMEOUT');
  assert.equal((await loadEvents(db, orderId)).length, 3, 'the late replies append nothing');
});

test('a reply racing the timeout: the one that commits first wins, the other finds the order moved on', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db);
  // The reply lands first: the order is in its payment step, in time again.
  await runHandler(db, createHandlers({ clock: at(deadlineMs - 1) }), delivery(StockReserved, { orderId, items: [{ productId, quantity: 4 }] }));
  const s = sweeper(db, deadlineMs);
  t.after(() => s.stop());
  assert.deepEqual(await s.pass(), []);
  assert.equal((await getOrderView(db, orderId))?.status, 'PENDING');
});

test('in the choreography the timeout announces OrderCancelled(TIMEOUT) and sends no command', async (t) => {
  const db = await openDb(t);
  const orderId = await placedOrder(db, { arch: 'choreography' });
  const placed = (await outbox(db, orderId)).length;
  const s = sweeper(db, deadlineMs, 'choreography');
  t.after(() => s.stop());
  assert.equal((await s.pass()).length, 1);
  assert.deepEqual(await sentAfterPlacement(db, orderId, placed), [['orders.events', 'OrderCancelled']]);
});

test('on PostgreSQL a reply committing while the sweeper times the order out wins, and the sweeper re-reads', async (t) => {
  const db = await postgresTestDb(t, 'orders_deadlines', [...outboxMigrations, ...migrations]);
  if (!db) return;
  const orderId = await placedOrder(db);
  const s = sweeper(db, deadlineMs);
  t.after(() => s.stop());

  // The reply's transaction writes StockReserved and holds on; the sweeper, due to time the
  // order out, waits on the same stream version until the reply commits, then finds it taken.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const reply = db.transaction(async (tx) => {
    const state = fold(await loadEvents(tx, orderId));
    const events = decide({ type: 'RecordStockReserved', at: at(deadlineMs - 1).now().toISOString() }, state);
    await appendStep(tx, db.dialect, state.version, events, events.reduce(evolve, state));
    await held;
  });
  const sweeping = s.pass();
  await new Promise((r) => setTimeout(r, 200));
  release();
  await reply;
  assert.deepEqual(await sweeping, [], 'the sweeper lost the race and timed nothing out');
  assert.deepEqual((await loadEvents(db, orderId)).map((e) => e.type), ['OrderPlaced', 'StockReserved']);
  assert.equal((await getOrderView(db, orderId))?.status, 'PENDING');
  // Re-read on the next pass: the payment step started just now, so it is in time.
  assert.deepEqual(await s.pass(), []);
});

