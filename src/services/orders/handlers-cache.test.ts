// The saga handlers with the state cache shared with POST /orders, as main.ts wires them:
// a cached state saves the read of the stream, and a stale or uncommitted one never loses
// or repeats a saga step.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { message, PaymentCharged, ShipmentScheduled, StockReserved, type Contract, type PayloadOf } from '#contracts/index.ts';
import type { MessageHandler } from '#platform/bus/consumer.ts';
import { encode } from '#platform/bus/envelope.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db, Sql } from '#platform/db/db.ts';
import { postgresTestDb, sqliteTestDb } from '#test/support/db.ts';
import { fold } from './domain/order.ts';
import { createHandlers } from './handlers.ts';
import { placeOrder } from './place-order.ts';
import { createStateCache, type StateCache } from './state-cache.ts';
import { getOrderView, loadEvents, migrations, upsertProduct } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };
const productId = '0190a1b2-0000-7000-8000-00000000000a';
const all = [...outboxMigrations, ...migrations];

/** Counts the reads of a stream, to tell a cache hit from a miss. */
function counting(tx: Sql, reads: { n: number }): Sql {
  return {
    query: (text, params) => {
      if (text.includes('FROM order_events')) reads.n++;
      return tx.query(text, params);
    },
    execute: (text, params) => tx.execute(text, params),
  };
}

async function setup(db: Db) {
  const cache = createStateCache();
  const handlers = createHandlers({ clock, dialect: db.dialect, cache });
  await upsertProduct(db, { productId, sku: 'A-1', name: 'Apple', priceCents: 250 }, clock.now().toISOString());
  const reads = { n: 0 };
  const place = async () =>
    (await placeOrder({ db, ids: { newId: uuidv7 }, clock, cache }, { customerId: 'c-1', items: [{ productId, quantity: 4 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } })).id;
  /** Runs the messages in one transaction with the consumer's afterCommit; `fail` rolls it back after them. */
  const deliver = async (replies: Array<[Contract, unknown]>, fail = false) => {
    const hooks: Array<() => void> = [];
    const sent: string[] = [];
    await db.transaction(async (raw) => {
      // One Sql for the whole transaction, as the consumer passes it.
      const tx = counting(raw, reads);
      for (const [contract, payload] of replies) {
        const m = message(contract, { key: (payload as { orderId: string }).orderId, payload: payload as PayloadOf<typeof contract> });
        const handler = handlers[contract.type] as MessageHandler;
        await handler({
          tx,
          message: m.message,
          record: { ...encode(m.topic, m.message), partition: 0, offset: '0' },
          emit: (_, e) => void sent.push(e.type),
          afterCommit: (fn) => void hooks.push(fn),
        });
      }
      if (fail) throw new Error('the batch rolls back');
    });
    for (const fn of hooks) fn();
    return sent;
  };
  return { cache, reads, place, deliver };
}

const charged = (orderId: string): [Contract, unknown] => [PaymentCharged, { orderId, paymentId: uuidv7(), amountCents: 1000 }];
const reserved = (orderId: string): [Contract, unknown] => [StockReserved, { orderId, items: [{ productId, quantity: 4 }] }];

async function cases(t: TestContext, open: (t: TestContext) => Promise<Db | undefined>) {
  await t.test('the whole saga runs from the cache without reading a stream back, and a finished order leaves it', async (t) => {
    const db = await open(t);
    if (!db) return;
    const { cache, reads, place, deliver } = await setup(db);
    const orderId = await place();
    assert.equal(cache.get(orderId)?.version, 1);
    assert.deepEqual(await deliver([reserved(orderId)]), ['ChargePayment']);
    assert.deepEqual(await deliver([charged(orderId)]), ['ScheduleShipment']);
    assert.deepEqual(await deliver([[ShipmentScheduled, { orderId, trackingNumber: 'T-1' }]]), ['OrderConfirmed']);
    assert.equal(reads.n, 0);
    assert.equal(cache.get(orderId), undefined);
    assert.equal((await getOrderView(db, orderId))?.status, 'CONFIRMED');
    assert.equal((await loadEvents(db, orderId)).length, 5);
  });

  await t.test('a rolled-back reply leaves the cache as it was, so its retry is handled, not dropped', async (t) => {
    const db = await open(t);
    if (!db) return;
    const { cache, place, deliver } = await setup(db);
    const orderId = await place();
    await assert.rejects(deliver([reserved(orderId)], true));
    assert.equal(cache.get(orderId)?.version, 1);
    assert.deepEqual(await deliver([reserved(orderId)]), ['ChargePayment']);
    assert.equal((await loadEvents(db, orderId)).length, 2);
  });

  await t.test('two replies of one order in one transaction: the second sees the first', async (t) => {
    const db = await open(t);
    if (!db) return;
    const { place, deliver } = await setup(db);
    const orderId = await place();
    assert.deepEqual(await deliver([reserved(orderId), reserved(orderId), charged(orderId)]), ['ChargePayment', 'ScheduleShipment']);
    assert.equal((await loadEvents(db, orderId)).length, 3);
  });

  await t.test('a stale entry cannot make a due reply look like a duplicate', async (t) => {
    const db = await open(t);
    if (!db) return;
    const { cache, reads, place, deliver } = await setup(db);
    const orderId = await place();
    const placedState = cache.get(orderId)!;
    await deliver([reserved(orderId)]);
    forceStale(cache, placedState);
    // The cached AWAITING_STOCK would ignore PaymentCharged: the stream is read instead.
    assert.deepEqual(await deliver([charged(orderId)]), ['ScheduleShipment']);
    assert.equal(reads.n, 1);
    assert.equal(cache.get(orderId)?.version, 3);
  });

  await t.test('a stale entry that fits the reply ends in a concurrency conflict and is evicted; the redelivery is ignored', async (t) => {
    const db = await open(t);
    if (!db) return;
    const { cache, place, deliver } = await setup(db);
    const orderId = await place();
    const placedState = cache.get(orderId)!;
    await deliver([reserved(orderId)]);
    forceStale(cache, placedState);
    await assert.rejects(deliver([reserved(orderId)]), (err: any) => err.code === 'PLT_ERR_CONCURRENCY_CONFLICT');
    assert.equal(cache.get(orderId), undefined);
    assert.deepEqual(await deliver([reserved(orderId)]), []);
    assert.deepEqual(fold(await loadEvents(db, orderId)).step, 'AWAITING_PAYMENT');
  });
}

/** What another instance's write looks like to this one: the cache holds an older state. */
function forceStale(cache: StateCache, older: ReturnType<StateCache['get']> & object): void {
  cache.forget(older.id);
  cache.remember(older);
}

test('saga handlers with the state cache, on SQLite', (t) => cases(t, (t) => sqliteTestDb(t, 'orders-cache', all)));
test('saga handlers with the state cache, on PostgreSQL', (t) => cases(t, (t) => postgresTestDb(t, 'orders_cache', all)));
