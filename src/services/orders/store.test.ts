import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { dropPostgresDatabase, openPostgres } from '#platform/db/postgres.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { silentLogger } from '#platform/log.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';
import { fold } from './domain/order.ts';
import {
  orderPlaced,
  paymentCharged,
  stockReserved,
  shipmentScheduled,
  orderConfirmed,
  orderId,
  productA,
  productB,
  cancelled,
  t0,
} from './domain/test-fixtures.ts';
import {
  appendEvents,
  appendStep,
  claimIdempotencyKey,
  findIdempotencyKey,
  getOrderView,
  getProduct,
  insertView,
  listOrders,
  loadEvents,
  migrations,
  pricesOf,
  purgeIdempotencyKeys,
  putView,
  updateView,
  upsertProduct,
} from './store.ts';

const adapters = [
  {
    name: 'SQLite',
    skip: undefined as string | undefined,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'orders-store-'));
      const db = openSqlite({ file: join(dir, 'orders.sqlite'), log: silentLogger });
      return { db, cleanup: async () => (await db.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: postgresSkip(),
    async open() {
      const url = process.env.DATABASE_URL as string;
      const database = uniqueName('of_orders');
      const db = await openPostgres({ url, database, log: silentLogger });
      return { db, cleanup: async () => (await db.close(), await dropPostgresDatabase(url, database)) };
    },
  },
];

for (const adapter of adapters) {
  describe(`orders store on ${adapter.name}`, { skip: adapter.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ db, cleanup } = await adapter.open());
      await migrate(db, migrations);
    });
    after(() => cleanup());

    test('an appended stream loads back in order and folds to the same state', async () => {
      const id = '0190a1b2-0000-7000-8000-100000000001';
      const placed = { ...orderPlaced, data: { ...orderPlaced.data, orderId: id } } as typeof orderPlaced;
      await db.transaction((tx) => appendEvents(tx, id, 0, [placed, stockReserved]));
      await db.transaction((tx) => appendEvents(tx, id, 2, [paymentCharged]));
      const events = await loadEvents(db, id);
      assert.deepEqual(events, [placed, stockReserved, paymentCharged]);
      assert.equal(fold(events).version, 3);
      assert.equal(fold(events).step, 'AWAITING_SHIPMENT');
    });

    test('appending at a version already taken is a concurrency conflict and writes nothing', async () => {
      const id = '0190a1b2-0000-7000-8000-100000000002';
      await db.transaction((tx) => appendEvents(tx, id, 0, [orderPlaced]));
      // Two writers folded the same version 1; the second to append loses, including its
      // other writes in the same transaction.
      await db.transaction((tx) => appendEvents(tx, id, 1, [stockReserved]));
      await assert.rejects(
        db.transaction(async (tx) => {
          await upsertProduct(tx, { productId: productB, sku: 'LOST', name: 'lost', priceCents: 1 }, t0);
          await appendEvents(tx, id, 1, [cancelled('OUT_OF_STOCK')]);
        }),
        (err: any) => err.code === 'PLT_ERR_CONCURRENCY_CONFLICT' && err.details.version === 2,
      );
      assert.deepEqual(await loadEvents(db, id), [orderPlaced, stockReserved]);
      assert.equal(await getProduct(db, productB), undefined);
      // The transaction is still usable after a conflict (no poisoned PostgreSQL transaction).
      await db.transaction((tx) => appendEvents(tx, id, 2, [paymentCharged]));
      assert.equal((await loadEvents(db, id)).length, 3);
    });

    test('a saga step appends its events and moves the view in one go, or conflicts and keeps nothing', async () => {
      const id = '0190a1b2-0000-7000-8000-100000000003';
      const placed = { ...orderPlaced, data: { ...orderPlaced.data, orderId: id } } as typeof orderPlaced;
      const history = [placed, stockReserved, paymentCharged];
      await db.transaction(async (tx) => {
        await appendEvents(tx, id, 0, history);
        await insertView(tx, fold(history));
      });
      const done = fold([shipmentScheduled, orderConfirmed], fold(history));
      await db.transaction((tx) => appendStep(tx, db.dialect, 3, [shipmentScheduled, orderConfirmed], done));
      assert.deepEqual(await loadEvents(db, id), [...history, shipmentScheduled, orderConfirmed]);
      assert.equal((await getOrderView(db, id))?.status, 'CONFIRMED');
      assert.equal((await getOrderView(db, id))?.updatedAt, shipmentScheduled.at);

      // A writer that folded an older version: one of its two events would still fit (version
      // 6), so the conflict must undo it along with the rest of the transaction.
      const stale = fold([cancelled('SHIPPING_UNAVAILABLE', '2025-01-01T00:00:09.000Z')], fold(history));
      await assert.rejects(
        db.transaction(async (tx) => {
          await upsertProduct(tx, { productId: productB, sku: 'LOST', name: 'lost', priceCents: 1 }, t0);
          await appendStep(tx, db.dialect, 4, [cancelled('SHIPPING_UNAVAILABLE'), cancelled('SHIPPING_UNAVAILABLE')], stale);
        }),
        (err: any) => err.code === 'PLT_ERR_CONCURRENCY_CONFLICT' && err.details.orderId === id,
      );
      assert.equal((await loadEvents(db, id)).length, 5);
      assert.equal((await getOrderView(db, id))?.status, 'CONFIRMED');
      assert.equal(await getProduct(db, productB), undefined);
    });

    test('the view is written with the order and follows its status', async () => {
      const state = fold([orderPlaced]);
      await db.transaction((tx) => insertView(tx, state));
      assert.deepEqual(await getOrderView(db, orderId), {
        id: orderId,
        customerId: 'customer-1',
        items: orderPlaced.data.items,
        totalCents: 3000,
        status: 'PENDING',
        createdAt: orderPlaced.at,
        updatedAt: orderPlaced.at,
      });
      const cancelledState = fold([orderPlaced, stockReserved, cancelled('PAYMENT_DECLINED')]);
      await db.transaction((tx) => updateView(tx, cancelledState));
      const view = await getOrderView(db, orderId);
      assert.equal(view?.status, 'CANCELLED');
      assert.equal(view?.reason, 'PAYMENT_DECLINED');
      assert.equal(view?.updatedAt, cancelledState.updatedAt);
      assert.equal(await getOrderView(db, '0190a1b2-0000-7000-8000-1000000000ff'), undefined);
    });

    test("an admin's listing pages every customer's orders newest first, filtered by status and customer", async () => {
      // Ids in the order they were made (UUIDv7), customers and statuses mixed.
      const views = Array.from({ length: 7 }, (_, i) => ({
        id: `0190a1b2-0000-7000-8000-9000000000${String(i).padStart(2, '0')}`,
        customerId: i % 2 === 0 ? 'c-even' : 'c-odd',
        items: [],
        totalCents: 100 * i,
        status: (['PENDING', 'CONFIRMED', 'CANCELLED'] as const)[i % 3],
        ...(i % 3 === 2 ? { reason: 'OUT_OF_STOCK' } : {}),
        createdAt: t0,
        updatedAt: t0,
      }));
      for (const v of views) await putView(db, v);
      const mine = (list: Array<{ id: string }>) => list.map((v) => v.id).filter((id) => id.startsWith('0190a1b2-0000-7000-8000-9'));
      const newest = [...views].reverse();
      assert.deepEqual(mine(await listOrders(db, { limit: 100 })), newest.map((v) => v.id));
      assert.deepEqual(await listOrders(db, { limit: 100, status: 'CANCELLED', customerId: 'c-even' }), newest.filter((v) => v.status === 'CANCELLED' && v.customerId === 'c-even'));
      assert.deepEqual(mine(await listOrders(db, { limit: 100, status: 'CONFIRMED' })), newest.filter((v) => v.status === 'CONFIRMED').map((v) => v.id));
      assert.deepEqual(mine(await listOrders(db, { limit: 100, customerId: 'c-odd' })), newest.filter((v) => v.customerId === 'c-odd').map((v) => v.id));
      // Paged: each page starts after the last id of the one before.
      const first = await listOrders(db, { limit: 2, customerId: 'c-even' });
      const second = await listOrders(db, { limit: 2, customerId: 'c-even', before: first[1].id });
      assert.deepEqual([...first, ...second].map((v) => v.id), newest.filter((v) => v.customerId === 'c-even').map((v) => v.id));
    });

    test('an idempotency key is claimed once per customer and answers with its order current status', async () => {
      const fresh = '2000-01-01T00:00:00.000Z';
      assert.equal(await claimIdempotencyKey(db, 'customer-1', 'key-1', orderId, 'hash-1', t0, fresh), true);
      assert.equal(await claimIdempotencyKey(db, 'customer-1', 'key-1', 'another-order', 'hash-2', t0, fresh), false);
      assert.deepEqual(await findIdempotencyKey(db, 'customer-1', 'key-1', fresh), { orderId, requestHash: 'hash-1', status: 'CANCELLED' });
      assert.equal(await findIdempotencyKey(db, 'customer-1', 'key-unknown', fresh), undefined);
      // Another customer's key of the same name is another key.
      assert.equal(await findIdempotencyKey(db, 'customer-2', 'key-1', fresh), undefined);
      assert.equal(await claimIdempotencyKey(db, 'customer-2', 'key-1', orderId, 'hash-3', t0, fresh), true);
    });

    test('an expired idempotency key answers nothing, is taken over by a new claim, and is purged in chunks', async () => {
      const created = '2026-12-01T10:00:00.000Z';
      const dayLater = '2026-12-02T10:00:00.001Z';
      assert.equal(await claimIdempotencyKey(db, 'customer-1', 'key-exp', orderId, 'hash-1', created, '2026-11-30T10:00:00.000Z'), true);
      assert.equal(await findIdempotencyKey(db, 'customer-1', 'key-exp', '2026-11-30T10:00:00.000Z').then((a) => a?.orderId), orderId);
      // 24 h later the key is expired: absent to a lookup, and a new claim takes it over.
      assert.equal(await findIdempotencyKey(db, 'customer-1', 'key-exp', dayLater), undefined);
      assert.equal(await claimIdempotencyKey(db, 'customer-1', 'key-exp', 'order-2', 'hash-2', '2026-12-02T10:00:01.000Z', dayLater), true);
      const [row] = await db.query<{ order_id: string; request_hash: string }>("SELECT order_id, request_hash FROM idempotency WHERE customer_id = 'customer-1' AND key = 'key-exp'");
      assert.deepEqual({ ...row }, { order_id: 'order-2', request_hash: 'hash-2' });

      for (let i = 0; i < 5; i++) await claimIdempotencyKey(db, 'customer-9', `old-${i}`, orderId, 'h', '2024-06-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z');
      const before = Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM idempotency'))[0].n);
      assert.equal(await purgeIdempotencyKeys(db, '2024-07-01T00:00:00.000Z', 2), 2);
      assert.equal(await purgeIdempotencyKeys(db, '2024-07-01T00:00:00.000Z', 10), 3);
      assert.equal(await purgeIdempotencyKeys(db, '2024-07-01T00:00:00.000Z', 10), 0);
      const left = Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM idempotency'))[0].n);
      assert.equal(left, before - 5);
    });

    test('the per-customer migration keeps the keys recorded before it', async () => {
      const other = await adapter.open();
      try {
        await migrate(other.db, migrations.filter((m) => m.id < 'orders-005'));
        const placed = fold([orderPlaced]);
        await insertView(other.db, placed);
        await other.db.execute('INSERT INTO idempotency (key, order_id, request_hash, created_at) VALUES ($1, $2, $3, $4)', ['old-key', orderId, 'hash-old', t0]);
        await migrate(other.db, migrations);
        const answer = await findIdempotencyKey(other.db, placed.customerId, 'old-key', '2000-01-01T00:00:00.000Z');
        assert.deepEqual(answer, { orderId, requestHash: 'hash-old', status: 'PENDING' });
      } finally {
        await other.cleanup();
      }
    });

    test('the catalog copy upserts idempotently and prices known products only', async () => {
      const p = { productId: productA, sku: 'A-1', name: 'Apple', priceCents: 1250 };
      await upsertProduct(db, p, t0);
      await upsertProduct(db, p, t0);
      await upsertProduct(db, { ...p, productId: productA.toUpperCase(), name: 'Apple v2' }, t0);
      assert.deepEqual(await getProduct(db, productA), { ...p, name: 'Apple v2' });
      const unknown = '0190a1b2-0000-7000-8000-0000000000ee';
      const prices = await pricesOf(db, db.dialect, [productA.toUpperCase(), unknown]);
      assert.deepEqual([...prices], [[productA, 1250]]);
      assert.equal((await pricesOf(db, db.dialect, [])).size, 0);
    });

    test('the catalog copy keeps the newest revision: a late older fact does not overwrite it', async () => {
      const product = '0190a1b2-0000-7000-8000-0000000000c1';
      const created = { productId: product, sku: 'C-1', name: 'Cherry', priceCents: 500 };
      assert.equal(await upsertProduct(db, created, t0), true);
      assert.equal(await upsertProduct(db, { ...created, priceCents: 400, revision: 2 }, t0), true);
      assert.equal(await upsertProduct(db, { ...created, priceCents: 450, revision: 1 }, t0), false, 'an older price change');
      assert.equal(await upsertProduct(db, created, t0), false, 'a ProductCreated replayed late');
      assert.equal(await upsertProduct(db, { ...created, priceCents: 400, revision: 2 }, t0), true, 'the same revision again writes the same facts');
      assert.deepEqual([...(await pricesOf(db, db.dialect, [product]))], [[product, 400]]);
      assert.equal(await upsertProduct(db, { ...created, priceCents: 300, revision: 3 }, t0), true);
      assert.deepEqual(await getProduct(db, product), { ...created, priceCents: 300 });
    });
  });
}
