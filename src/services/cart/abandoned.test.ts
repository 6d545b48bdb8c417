/**
 * The abandoned-cart loop on both stores, driven pass by pass with a clock the test moves:
 * a cart idle past the limit is announced once per version, by two loops running at once too.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { message, ProductCreated } from '#contracts/index.ts';
import { decode } from '#platform/bus/envelope.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { silentLogger } from '#platform/log.ts';
import { postgresTestDb, sqliteTestDb } from '#test/support/db.ts';
import { runHandler } from '#test/support/handlers.ts';
import { startAbandonedCarts } from './abandoned.ts';
import { createHandlers } from './handlers.ts';
import { migrations, nextVersion, putLine } from './store.ts';

const all = [...outboxMigrations, ...migrations];
const stores: Array<{ name: string; open: (t: TestContext) => Promise<Db | undefined> }> = [
  { name: 'SQLite', open: (t) => sqliteTestDb(t, 'cart', all) },
  { name: 'PostgreSQL', open: (t) => postgresTestDb(t, 'cart', all, { poolSize: 8 }) },
];

const HOUR = 3_600_000;
const apple = { productId: uuidv7(), sku: 'A-1', name: 'Apple', priceCents: 250, stock: 5 };

const announced = async (db: Db) =>
  (await db.query<{ topic: string; key: string; value: string }>("SELECT topic, key, value FROM outbox WHERE topic = 'cart.events' ORDER BY seq")).map((r) => decode({ ...r, headers: {} }));

for (const store of stores) {
  test(`a cart idle past the limit is announced once per version, by two loops at once too (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    let now = new Date('2026-01-01T00:00:00.000Z');
    const clock = { now: () => now };
    await runHandler(db, createHandlers({ clock }), message(ProductCreated, { payload: apple }));
    const put = (customerId: string, quantity: number) => db.transaction(async (tx) => {
      const cart = await nextVersion(tx, customerId, uuidv7(), now.toISOString());
      await putLine(tx, cart.cartId, apple.productId, quantity, cart.version);
      return cart;
    });
    const loops = [0, 1].map(() => startAbandonedCarts({ db, clock, log: silentLogger, afterMs: HOUR, intervalMs: 3_600_000, idempotencyTtlMs: 24 * HOUR, stockCounted: true, batch: 2 }));
    t.after(() => Promise.all(loops.map((l) => l.stop())));
    const passes = async () => (await Promise.all(loops.map((l) => l.pass()))).reduce((a, b) => a + b, 0);

    const ada = await put('ada', 2);
    for (let i = 0; i < 4; i++) await put(`other-${i}`, 1);
    now = new Date(now.getTime() + HOUR / 2);
    assert.equal(await passes(), 0, 'not idle long enough');
    now = new Date(now.getTime() + HOUR);
    assert.equal(await passes(), 5, 'each of the five carts once, over batches of 2');
    assert.equal(await passes(), 0);
    const [first] = (await announced(db)).filter((e) => e.key === ada.cartId);
    assert.deepEqual([first.type, first.payload], ['CartAbandoned', {
      cartId: ada.cartId, customerId: 'ada', version: 1, lines: [{ productId: apple.productId, quantity: 2, unitPriceCents: 250 }], totalCents: 500, idleSince: '2026-01-01T00:00:00.000Z',
    }]);

    await put('ada', 3);
    now = new Date(now.getTime() + 2 * HOUR);
    assert.equal(await passes(), 1, 'the changed cart, idle again');
    assert.deepEqual((await announced(db)).filter((e) => e.key === ada.cartId).map((e) => [(e.payload as { version: number }).version, (e.payload as { totalCents: number }).totalCents]), [[1, 500], [2, 750]]);
  });
}
