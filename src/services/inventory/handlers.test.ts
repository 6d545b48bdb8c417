import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { message, ReleaseStock, ReserveStock } from '#contracts/index.ts';
import { postgresTestDb, sqliteTestDb } from '#test/support/db.ts';
import { handleIn, runHandler, type Delivery, type Emitted } from '#test/support/handlers.ts';
import { createProduct } from './catalog.ts';
import { createHandlers } from './handlers.ts';
import { getProduct, getReservation, migrations } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };
const ids = { newId: () => uuidv7() };

const sqliteDb = (t: TestContext) => sqliteTestDb(t, 'inventory', [...outboxMigrations, ...migrations]);
const postgresDb = (t: TestContext) => postgresTestDb(t, 'inventory', [...outboxMigrations, ...migrations], { poolSize: 20 });

/** Runs one command through its handler in its own transaction, as the consumer does. */
const handle = (db: Db, cmd: Delivery): Promise<Emitted> => runHandler(db, createHandlers({ dialect: db.dialect, clock }), cmd);

const reserveCmd = (orderId: string, items: Array<{ productId: string; quantity: number }>) =>
  message(ReserveStock, { key: orderId, payload: { orderId, items } });
const releaseCmd = (orderId: string) => message(ReleaseStock, { key: orderId, payload: { orderId } });
const product = (db: Db, sku: string, stock: number) => createProduct({ db, ids, clock }, { sku, name: sku, priceCents: 100, stock });
const available = async (db: Db, id: string) => (await getProduct(db, id))!.available;
const replies = (emitted: Emitted) => emitted.map((e) => ({ topic: e.topic, type: e.message.type, payload: e.message.payload }));

test('inventory reserves every line of an order and answers StockReserved', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const b = await product(db, 'B', 5);
  const orderId = uuidv7();
  const cmd = reserveCmd(orderId, [{ productId: b.id, quantity: 2 }, { productId: a.id, quantity: 3 }, { productId: b.id, quantity: 1 }]);
  const out = await handle(db, cmd);
  const lines = [{ productId: a.id, quantity: 3 }, { productId: b.id, quantity: 3 }].sort((x, y) => (x.productId < y.productId ? -1 : 1));
  assert.deepEqual(replies(out), [{ topic: 'inventory.events', type: 'StockReserved', payload: { orderId, items: lines } }]);
  assert.equal(out[0].message.headers.causationId, cmd.message.id);
  assert.equal(out[0].message.key, orderId);
  assert.equal(await available(db, a.id), 7);
  assert.equal(await available(db, b.id), 2);
  assert.equal((await getReservation(db, orderId))?.status, 'RESERVED');
});

test('inventory refuses a reservation beyond available stock and holds nothing', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const b = await product(db, 'B', 1);
  const unknown = uuidv7();
  const orderId = uuidv7();
  const out = await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 3 }, { productId: b.id, quantity: 2 }, { productId: unknown, quantity: 1 }]));
  assert.deepEqual(replies(out), [{ topic: 'inventory.events', type: 'StockUnavailable', payload: { orderId, productIds: [b.id, unknown].sort() } }]);
  assert.equal(await available(db, a.id), 10);
  assert.equal(await available(db, b.id), 1);
  assert.equal((await getReservation(db, orderId))?.status, 'REJECTED');
});

test('a second ReserveStock for the same order answers the same and takes nothing more', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  const first = await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 4 }]));
  const second = await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(replies(second), replies(first));
  assert.equal(await available(db, a.id), 6);

  const refusedOrder = uuidv7();
  const refused = await handle(db, reserveCmd(refusedOrder, [{ productId: a.id, quantity: 7 }]));
  await handle(db, releaseCmd(orderId));
  // Stock is back to 10 now, yet the refusal stands: one decision per order.
  assert.deepEqual(replies(await handle(db, reserveCmd(refusedOrder, [{ productId: a.id, quantity: 7 }]))), replies(refused));
  assert.equal(await available(db, a.id), 10);
});

test('releasing a held reservation gives its stock back once, however often it is asked', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(replies(await handle(db, releaseCmd(orderId))), [{ topic: 'inventory.events', type: 'StockReleased', payload: { orderId } }]);
  assert.equal(await available(db, a.id), 10);
  assert.deepEqual(await handle(db, releaseCmd(orderId)), []);
  assert.equal(await available(db, a.id), 10);
  assert.equal((await getReservation(db, orderId))?.status, 'RELEASED');
});

test('a ReserveStock after its order was released is refused and holds nothing', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 4 }]));
  await handle(db, releaseCmd(orderId));
  const late = await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(replies(late), [{ topic: 'inventory.events', type: 'StockUnavailable', payload: { orderId, productIds: [a.id] } }]);
  assert.equal(await available(db, a.id), 10);
});

test('a release that overtakes its reservation leaves a tombstone that refuses the reservation', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 10);
  const orderId = uuidv7();
  assert.deepEqual(await handle(db, releaseCmd(orderId)), []);
  const late = await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 4 }]));
  assert.deepEqual(replies(late), [{ topic: 'inventory.events', type: 'StockUnavailable', payload: { orderId, productIds: [a.id] } }]);
  assert.equal(await available(db, a.id), 10);
  assert.deepEqual(await handle(db, releaseCmd(orderId)), []);
});

test('releasing a refused reservation changes nothing and says nothing', async (t) => {
  const db = await sqliteDb(t);
  const a = await product(db, 'A', 1);
  const orderId = uuidv7();
  await handle(db, reserveCmd(orderId, [{ productId: a.id, quantity: 2 }]));
  assert.deepEqual(await handle(db, releaseCmd(orderId)), []);
  assert.equal(await available(db, a.id), 1);
  assert.equal((await getReservation(db, orderId))?.status, 'REJECTED');
});

/** 50 orders of 3 units race for 100 units, each in its own transaction. */
async function neverOversell(db: Db): Promise<void> {
  const a = await product(db, 'A', 100);
  const outcomes = await Promise.all(Array.from({ length: 50 }, () => handle(db, reserveCmd(uuidv7(), [{ productId: a.id, quantity: 3 }]))));
  const types = outcomes.map((o) => o[0].message.type);
  assert.equal(types.filter((t) => t === 'StockReserved').length, 33);
  assert.equal(types.filter((t) => t === 'StockUnavailable').length, 17);
  assert.equal(await available(db, a.id), 1);
}

/** Orders naming two products in opposite orders, all at once: no deadlock, no oversell. */
async function noDeadlock(db: Db): Promise<void> {
  const a = await product(db, 'A', 60);
  const b = await product(db, 'B', 60);
  const outcomes = await Promise.all(
    Array.from({ length: 40 }, (_, i) => {
      const items = [{ productId: a.id, quantity: 2 }, { productId: b.id, quantity: 2 }];
      return handle(db, reserveCmd(uuidv7(), i % 2 === 0 ? items : items.reverse()));
    }),
  );
  assert.equal(outcomes.filter((o) => o[0].message.type === 'StockReserved').length, 30);
  assert.equal(await available(db, a.id), 0);
  assert.equal(await available(db, b.id), 0);
}

test('inventory never oversells under concurrent reservations (SQLite)', async (t) => neverOversell(await sqliteDb(t)));

test('inventory never oversells under concurrent reservations (PostgreSQL)', async (t) => {
  const db = await postgresDb(t);
  if (db) await neverOversell(db);
});

test('concurrent multi-product reservations neither deadlock nor oversell (SQLite)', async (t) => noDeadlock(await sqliteDb(t)));

test('concurrent multi-product reservations neither deadlock nor oversell (PostgreSQL)', async (t) => {
  const db = await postgresDb(t);
  if (db) await noDeadlock(db);
});

/**
 * As the consumer runs them: each transaction holds a batch of 20 orders of one partition,
 * 8 partitions at once, on 5 hot products. Per-message lock order alone deadlocks here.
 */
async function batchedPartitions(db: Db): Promise<void> {
  const products = await Promise.all(['P0', 'P1', 'P2', 'P3', 'P4'].map((sku) => product(db, sku, 250)));
  const handlers = createHandlers({ dialect: db.dialect, clock });
  const reserved = new Map<string, number>();
  await Promise.all(
    Array.from({ length: 8 }, async (_, partition) => {
      for (let batch = 0; batch < 10; batch++) {
        const emitted: Emitted = [];
        await db.transaction(async (tx) => {
          for (let i = 0; i < 20; i++) {
            const orderId = uuidv7();
            const items = [{ productId: products[(partition + batch * 3 + i * 7) % 5].id, quantity: 1 }, { productId: products[(partition * 2 + i) % 5].id, quantity: 1 }];
            await handleIn(tx, handlers, reserveCmd(orderId, items), emitted, { partition, offset: String(i) });
          }
        });
        for (const e of emitted) {
          if (e.message.type !== 'StockReserved') continue;
          for (const l of (e.message.payload as { items: Array<{ productId: string; quantity: number }> }).items) reserved.set(l.productId, (reserved.get(l.productId) ?? 0) + l.quantity);
        }
      }
    }),
  );
  for (const p of products) {
    const left = await available(db, p.id);
    assert.ok(left >= 0);
    assert.equal(250 - left, reserved.get(p.id) ?? 0, `stock of ${p.sku} matches its reservations`);
  }
  // 1,600 orders of 2 units against 1,250 units: the shelf runs empty and refusals follow.
  assert.ok([...reserved.values()].reduce((a, b) => a + b, 0) > 1000);
}

test('batched reservations from concurrent partitions neither deadlock nor oversell (SQLite)', async (t) => batchedPartitions(await sqliteDb(t)));

test('batched reservations from concurrent partitions neither deadlock nor oversell (PostgreSQL)', async (t) => {
  const db = await postgresDb(t);
  if (db) await batchedPartitions(db);
});
