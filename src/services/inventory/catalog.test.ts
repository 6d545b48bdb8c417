/**
 * Changing a product (price, restock) with its events, on both stores: the row and the
 * outbox rows commit together or not at all, and concurrent writers lose nothing.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { decode, type Envelope } from '#platform/bus/envelope.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db, Sql } from '#platform/db/db.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { postgresTestDb, sqliteTestDb } from '#test/support/db.ts';
import { changeProduct, createProduct } from './catalog.ts';
import { MAX_INT } from './domain/product.ts';
import { reserveStock } from './reservations.ts';
import { getProduct, migrations } from './store.ts';

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };
const ids = { newId: () => uuidv7() };
const all = [...outboxMigrations, ...migrations];

const stores: Array<{ name: string; open: (t: TestContext) => Promise<Db | undefined> }> = [
  { name: 'SQLite', open: (t) => sqliteTestDb(t, 'inventory', all) },
  { name: 'PostgreSQL', open: (t) => postgresTestDb(t, 'inventory', all, { poolSize: 20 }) },
];

const outbox = async (db: Db): Promise<Envelope[]> =>
  (await db.query<{ topic: string; key: string; value: string }>('SELECT topic, key, value FROM outbox ORDER BY seq')).map((r) => decode({ ...r, headers: {} }));
const changes = async (db: Db) => (await outbox(db)).filter((e) => e.type !== 'ProductCreated').map((e) => ({ type: e.type, key: e.key, payload: e.payload }));

/** The same Db, but every outbox insert of its transactions fails: a fault after the product's UPDATE. */
function withFailingOutbox(db: Db): Db {
  const failing = (tx: Sql): Sql => ({
    query: (text, params) => tx.query(text, params),
    execute: (text, params) => (text.startsWith('INSERT INTO outbox') ? Promise.reject(new Error('injected: the outbox insert fails')) : tx.execute(text, params)),
  });
  return {
    dialect: db.dialect,
    query: (text, params) => db.query(text, params),
    execute: (text, params) => db.execute(text, params),
    transaction: (fn) => db.transaction((tx) => fn(failing(tx))),
    onCommit: (listener) => db.onCommit(listener),
    close: () => db.close(),
  };
}

const rejects = (promise: Promise<unknown>, code: string) => assert.rejects(promise, (err) => isOrderflowError(err, code));

for (const store of stores) {
  test(`a price change commits with its ProductPriceChanged, revision by revision (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const p = await createProduct({ db, ids, clock }, { sku: 'KB', name: 'Keyboard', priceCents: 4999, stock: 3 });
    assert.deepEqual(await changeProduct({ db, ids, clock }, p.id, { priceCents: 3999 }), { ...p, priceCents: 3999 });
    assert.deepEqual(await changeProduct({ db, ids, clock }, p.id, { priceCents: 3999 }), { ...p, priceCents: 3999 }, 'the same price again');
    await changeProduct({ db, ids, clock }, p.id, { priceCents: 4500 });
    assert.deepEqual(await getProduct(db, p.id), { ...p, priceCents: 4500 });
    const base = { productId: p.id, sku: 'KB', name: 'Keyboard' };
    assert.deepEqual(await changes(db), [
      { type: 'ProductPriceChanged', key: p.id, payload: { ...base, priceCents: 3999, previousPriceCents: 4999, revision: 1 } },
      { type: 'ProductPriceChanged', key: p.id, payload: { ...base, priceCents: 4500, previousPriceCents: 3999, revision: 2 } },
    ]);
  });

  test(`a restock adds to the stock and publishes ProductRestocked; with a price, both events in order (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const p = await createProduct({ db, ids, clock }, { sku: 'KB', name: 'Keyboard', priceCents: 4999, stock: 0 });
    assert.equal((await changeProduct({ db, ids, clock }, p.id, { restock: 5 })).available, 5);
    assert.deepEqual(await changeProduct({ db, ids, clock }, p.id, { restock: 2, priceCents: 100 }), { ...p, priceCents: 100, available: 7 });
    assert.deepEqual(await changes(db), [
      { type: 'ProductRestocked', key: p.id, payload: { productId: p.id, quantity: 5, available: 5 } },
      { type: 'ProductPriceChanged', key: p.id, payload: { productId: p.id, sku: 'KB', name: 'Keyboard', priceCents: 100, previousPriceCents: 4999, revision: 1 } },
      { type: 'ProductRestocked', key: p.id, payload: { productId: p.id, quantity: 2, available: 7 } },
    ]);
  });

  test(`when the outbox insert fails, the price and stock stay as they were (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const p = await createProduct({ db, ids, clock }, { sku: 'KB', name: 'Keyboard', priceCents: 4999, stock: 3 });
    await assert.rejects(changeProduct({ db: withFailingOutbox(db), ids, clock }, p.id, { priceCents: 1, restock: 4 }), /injected/);
    assert.deepEqual(await getProduct(db, p.id), p);
    assert.deepEqual(await changes(db), []);
    // Nor was the revision taken: the next change is revision 1.
    await changeProduct({ db, ids, clock }, p.id, { priceCents: 1 });
    assert.equal(((await changes(db))[0].payload as { revision: number }).revision, 1);
  });

  test(`a restock past the largest stock, an unknown product or an empty change is refused and writes nothing (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const p = await createProduct({ db, ids, clock }, { sku: 'KB', name: 'Keyboard', priceCents: 4999, stock: 3 });
    await rejects(changeProduct({ db, ids, clock }, p.id, { restock: MAX_INT - 2, priceCents: 1 }), 'ORD_ERR_STOCK_OVERFLOW');
    await rejects(changeProduct({ db, ids, clock }, uuidv7(), { priceCents: 1 }), 'ORD_ERR_PRODUCT_NOT_FOUND');
    await rejects(changeProduct({ db, ids, clock }, p.id, {}), 'ORD_ERR_INVALID_PRODUCT');
    await rejects(changeProduct({ db, ids, clock }, p.id, { restock: 0 }), 'ORD_ERR_INVALID_PRODUCT');
    assert.deepEqual(await getProduct(db, p.id), p);
    assert.deepEqual(await changes(db), []);
    // Up to the largest value is fine.
    assert.equal((await changeProduct({ db, ids, clock }, p.id, { restock: MAX_INT - 3 })).available, MAX_INT);
  });

  test(`concurrent restocks, price changes and reservations lose no unit and no revision (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const p = await createProduct({ db, ids, clock }, { sku: 'KB', name: 'Keyboard', priceCents: 1000, stock: 10 });
    const at = clock.now().toISOString();
    const reserved: boolean[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        // Half of them price only: those take no stock writers' lock, only the row's.
        await changeProduct({ db, ids, clock }, p.id, i % 2 === 0 ? { restock: 1, priceCents: 2000 + i } : { priceCents: 2000 + i });
        const decision = await db.transaction((tx) => reserveStock(tx, db.dialect, uuidv7(), [{ productId: p.id, quantity: 2 }], at));
        reserved.push(decision.ok);
      }),
    );
    const taken = reserved.filter(Boolean).length * 2;
    assert.equal((await getProduct(db, p.id))?.available, 10 + 10 - taken);
    const prices = (await changes(db)).filter((e) => e.type === 'ProductPriceChanged').map((e) => e.payload as { priceCents: number; previousPriceCents: number; revision: number });
    assert.deepEqual(prices.map((e) => e.revision).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    // Each change saw the one before it: the previous prices chain from 1000 through every new one.
    const byRevision = prices.sort((a, b) => a.revision - b.revision);
    byRevision.forEach((e, i) => assert.equal(e.previousPriceCents, i === 0 ? 1000 : byRevision[i - 1].priceCents));
    assert.equal((await getProduct(db, p.id))?.priceCents, byRevision[19].priceCents);
  });
}
