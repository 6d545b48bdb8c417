/**
 * The cart's store and its catalog handlers on both stores: versions, a checkout recorded
 * once per version, abandoned carts claimed once (by racing claimers too), client keys, and
 * the catalog copy's prices and stock count from inventory's events.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { message, ProductCreated, ProductPriceChanged, ProductRestocked, StockReleased, StockReserved, type Contract, type PayloadOf } from '#contracts/index.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { postgresTestDb, sqliteTestDb } from '#test/support/db.ts';
import { runHandler } from '#test/support/handlers.ts';
import { createHandlers } from './handlers.ts';
import {
  claimAbandoned, findCheckoutKey, getCart, getCheckout, getLines, getProductPrice, keepCheckoutKey, markEmptyAnnounced, migrations, nextVersion, purgeHolds, putLine, recordCheckout, removeLine,
} from './store.ts';

const all = [...outboxMigrations, ...migrations];
const stores: Array<{ name: string; open: (t: TestContext) => Promise<Db | undefined> }> = [
  { name: 'SQLite', open: (t) => sqliteTestDb(t, 'cart', all) },
  { name: 'PostgreSQL', open: (t) => postgresTestDb(t, 'cart', all, { poolSize: 8 }) },
];

const clock = { now: () => new Date('2026-01-01T00:00:00Z') };
const handlers = createHandlers({ clock });
const deliver = <C extends Contract>(db: Db, contract: C, payload: PayloadOf<C>) => runHandler(db, handlers, message(contract, { payload }));
const apple = { productId: uuidv7(), sku: 'A-1', name: 'Apple', priceCents: 250 };
const pear = { productId: uuidv7(), sku: 'P-1', name: 'Pear', priceCents: 400 };

/** Sets lines in one transaction each, as the routes do; returns the cart's id and version. */
async function put(db: Db, customerId: string, productId: string, quantity: number, at = '2026-01-01T00:00:00.000Z') {
  return db.transaction(async (tx) => {
    const cart = await nextVersion(tx, customerId, uuidv7(), at);
    await putLine(tx, cart.cartId, productId, quantity, cart.version);
    return cart;
  });
}

for (const store of stores) {
  test(`each change moves the cart to its next version; a customer has one cart (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const first = await put(db, 'ada', apple.productId, 2);
    const second = await put(db, 'ada', pear.productId, 1);
    assert.deepEqual([first.version, second.version, second.cartId], [1, 2, first.cartId]);
    await put(db, 'ada', apple.productId, 5);
    assert.deepEqual((await getLines(db, first.cartId, true)).map((l) => [l.productId, l.quantity]), [[apple.productId, 5], [pear.productId, 1]], 'in the order they were added');
    assert.equal(await db.transaction((tx) => removeLine(tx, 'ada', pear.productId)), true);
    assert.equal(await db.transaction((tx) => removeLine(tx, 'ada', pear.productId)), false, 'nothing left to remove');
    assert.equal(await db.transaction((tx) => removeLine(tx, 'bob', pear.productId)), false, 'bob has no cart');
    assert.equal(await getCart(db, 'bob'), undefined);
  });

  test(`a checkout is recorded once per version: it removes the lines as of that version and keeps those set since (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    await put(db, 'ada', apple.productId, 2);
    const checkedOut = await put(db, 'ada', pear.productId, 1);
    // A change while the checkout of version 2 was at orders:
    await put(db, 'ada', pear.productId, 3);
    const answer = { orderId: uuidv7(), status: 'PENDING' };
    assert.equal(await db.transaction((tx) => recordCheckout(tx, checkedOut.cartId, checkedOut.version, answer, '2026-01-01T00:01:00.000Z')), true);
    assert.equal(await db.transaction((tx) => recordCheckout(tx, checkedOut.cartId, checkedOut.version, { orderId: uuidv7(), status: 'PENDING' }, '2026-01-01T00:02:00.000Z')), false, 'a second record of the version');
    assert.deepEqual(await getCheckout(db, checkedOut.cartId, checkedOut.version), answer);
    const cart = await getCart(db, 'ada');
    assert.deepEqual([cart?.version, cart?.lastOrderId], [4, answer.orderId]);
    assert.deepEqual((await getLines(db, checkedOut.cartId, true)).map((l) => [l.productId, l.quantity]), [[pear.productId, 3]], 'the line changed after the checked-out version stays');
  });

  test(`idle carts with lines are claimed once per version, by racing claimers too (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const customers = Array.from({ length: 12 }, (_, i) => `c${i}`);
    for (const c of customers) await put(db, c, apple.productId, 1, '2026-01-01T00:00:00.000Z');
    const fresh = await put(db, 'fresh', apple.productId, 1, '2026-01-01T02:00:00.000Z');
    // An emptied cart is not abandoned.
    const emptied = await put(db, 'emptied', apple.productId, 1, '2026-01-01T00:00:00.000Z');
    await db.transaction((tx) => recordCheckout(tx, emptied.cartId, emptied.version, { orderId: uuidv7(), status: 'PENDING' }, '2026-01-01T00:00:00.000Z'));

    // Nor is one emptied by taking its line out.
    const removed = await put(db, 'removed', apple.productId, 1, '2026-01-01T00:00:00.000Z');
    await db.transaction(async (tx) => {
      await removeLine(tx, 'removed', apple.productId);
      await nextVersion(tx, 'removed', uuidv7(), '2026-01-01T00:00:00.000Z');
      await markEmptyAnnounced(tx, removed.cartId);
    });
    assert.deepEqual(await db.query('SELECT version, abandoned_version FROM carts WHERE cart_id = $1', [removed.cartId]).then((r) => r.map((x) => [Number(x.version), Number(x.abandoned_version)])), [[2, 2]]);

    const cutoff = '2026-01-01T01:00:00.000Z';
    const claims = await Promise.all(Array.from({ length: 4 }, () => db.transaction((tx) => claimAbandoned(tx, cutoff, 5))));
    const claimed = claims.flat().map((c) => c.customerId).sort();
    const rest = await db.transaction((tx) => claimAbandoned(tx, cutoff, 100));
    assert.deepEqual([...claimed, ...rest.map((c) => c.customerId)].sort(), [...customers].sort(), 'every idle cart once');
    assert.deepEqual(await db.transaction((tx) => claimAbandoned(tx, '2026-01-01T03:00:00.000Z', 100)).then((c) => c.map((x) => x.customerId)), ['fresh'], 'announced ones wait for a new version');
    assert.equal(fresh.version, 1);

    await put(db, 'c0', pear.productId, 2, '2026-01-01T04:00:00.000Z');
    const again = await db.transaction((tx) => claimAbandoned(tx, '2026-01-01T05:00:00.000Z', 100));
    assert.deepEqual(again.map((c) => [c.customerId, c.version, c.updatedAt]), [['c0', 2, '2026-01-01T04:00:00.000Z']], 'a changed cart, idle again, is announced again');
  });

  test(`a client's key keeps its answer until it expires, and a racing second keeper is told (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const answer = { orderId: uuidv7(), status: 'CONFIRMED' };
    assert.equal(await db.transaction((tx) => keepCheckoutKey(tx, 'ada', 'k1', 'h1', answer, '2026-01-01T00:00:00.000Z', '2025-12-31T00:00:00.000Z')), true);
    assert.equal(await db.transaction((tx) => keepCheckoutKey(tx, 'ada', 'k1', 'h2', { orderId: uuidv7(), status: 'PENDING' }, '2026-01-01T00:00:01.000Z', '2025-12-31T00:00:00.000Z')), false);
    assert.deepEqual(await findCheckoutKey(db, 'ada', 'k1', '2025-12-31T00:00:00.000Z'), { ...answer, requestHash: 'h1' });
    assert.equal(await findCheckoutKey(db, 'bob', 'k1', '2025-12-31T00:00:00.000Z'), undefined, 'a key is its customer\'s');
    assert.equal(await findCheckoutKey(db, 'ada', 'k1', '2026-01-02T00:00:00.000Z'), undefined, 'expired');
    assert.equal(await db.transaction((tx) => keepCheckoutKey(tx, 'ada', 'k1', 'h3', answer, '2026-01-03T00:00:00.000Z', '2026-01-02T00:00:00.000Z')), true, 'an expired key is taken over');
  });

  test(`the catalog copy keeps the newest price and counts stock from creation, restocks, reservations and releases in any order (${store.name})`, async (t) => {
    const db = await store.open(t);
    if (!db) return;
    const orderA = uuidv7();
    const orderB = uuidv7();
    // A reservation delivered before the product's creation (another partition) still counts.
    await deliver(db, StockReserved, { orderId: orderA, items: [{ productId: apple.productId, quantity: 3 }] });
    assert.equal(await getProductPrice(db, apple.productId), undefined, 'no price yet: not a product a cart may take');
    await deliver(db, ProductCreated, { ...apple, stock: 10 });
    await deliver(db, ProductPriceChanged, { ...apple, priceCents: 300, previousPriceCents: 250, revision: 2 });
    await deliver(db, ProductPriceChanged, { ...apple, priceCents: 275, previousPriceCents: 250, revision: 1 });
    assert.equal(await getProductPrice(db, apple.productId), 300, 'an older revision arriving late does not win');
    await deliver(db, StockReserved, { orderId: orderB, items: [{ productId: apple.productId, quantity: 2 }] });
    await deliver(db, StockReserved, { orderId: orderB, items: [{ productId: apple.productId, quantity: 2 }] });
    await deliver(db, StockReleased, { orderId: orderA });
    await deliver(db, StockReleased, { orderId: orderA });
    await deliver(db, ProductRestocked, { productId: apple.productId, quantity: 5, available: 13 });

    const cart = await put(db, 'ada', apple.productId, 1);
    const [line] = await getLines(db, cart.cartId, true);
    assert.deepEqual(line, { productId: apple.productId, quantity: 1, name: 'Apple', priceCents: 300, available: 13 }, '10 − 3 − 2 + 3 + 5, each order counted once');
    assert.equal((await getLines(db, cart.cartId, false))[0].available, null, 'not counted where reservations are not announced');

    await deliver(db, ProductCreated, { ...pear });
    const other = await put(db, 'bob', pear.productId, 1);
    assert.equal((await getLines(db, other.cartId, true))[0].available, null, 'a creation without its stock leaves the count unknown');

    // orderB's hold (orderA's was released) is forgotten once old, a batch at a time.
    await deliver(db, StockReserved, { orderId: uuidv7(), items: [{ productId: pear.productId, quantity: 1 }] });
    assert.equal(await purgeHolds(db, '2026-01-01T00:00:00.000Z', 10), 0, 'none older than that');
    assert.deepEqual([await purgeHolds(db, '2026-01-02T00:00:00.000Z', 1), await purgeHolds(db, '2026-01-02T00:00:00.000Z', 1), await purgeHolds(db, '2026-01-02T00:00:00.000Z', 1)], [1, 1, 0]);
  });
}
