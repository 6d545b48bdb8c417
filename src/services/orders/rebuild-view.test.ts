// rebuild-view.ts and history.ts on both stores, over the same orders: each derives views from
// the streams, and both must agree with the rows the writers keep.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { PaymentCharged, ShipmentScheduled, StockReserved, StockUnavailable } from '#contracts/index.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { dbVariants, deferrer } from '#test/support/db.ts';
import { runHandler } from '#test/support/handlers.ts';
import { clock, delivery, productId } from './handlers-fixtures.ts';
import { createHandlers } from './handlers.ts';
import { orderAsOf, orderHistory } from './history.ts';
import { placeOrder } from './place-order.ts';
import { describeDifference, rebuildViews } from './rebuild-view.ts';
import { getOrderView, migrations, upsertProduct } from './store.ts';

const at = (ms: number) => new Date(clock.now().getTime() + ms);
const later = (ms: number) => ({ now: () => at(ms) });

async function place(db: Db, customerId = 'c-1'): Promise<string> {
  const answer = await placeOrder(
    { db, ids: { newId: () => uuidv7() }, clock },
    { customerId, items: [{ productId, quantity: 4 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } },
  );
  return answer.id;
}

/** Orders in every state: pending, paid and waiting, confirmed, cancelled. */
async function orders(db: Db): Promise<{ pending: string; paying: string; confirmed: string; cancelled: string }> {
  await upsertProduct(db, { productId, sku: 'A-1', name: 'Apple', priceCents: 250 }, clock.now().toISOString());
  const [pending, paying, confirmed, cancelled] = [await place(db), await place(db), await place(db), await place(db, 'c-2')];
  const run = (ms: number, d: Parameters<typeof runHandler>[2]) => runHandler(db, createHandlers({ clock: later(ms) }), d);
  await run(1_000, delivery(StockReserved, { orderId: paying, items: [{ productId, quantity: 4 }] }));
  await run(1_000, delivery(StockReserved, { orderId: confirmed, items: [{ productId, quantity: 4 }] }));
  await run(2_000, delivery(PaymentCharged, { orderId: confirmed, paymentId: uuidv7(), amountCents: 1000 }));
  await run(3_000, delivery(ShipmentScheduled, { orderId: confirmed, trackingNumber: 'TRK-1' }));
  await run(1_000, delivery(StockUnavailable, { orderId: cancelled, productIds: [productId] }));
  return { pending, paying, confirmed, cancelled };
}

for (const v of dbVariants('history')) {
  describe(`an order's history, as-of and the view rebuilt from the events, on ${v.name}`, { skip: v.skip }, () => {
    test('the fold of every stream equals its live row; a corrupt, missing or orphan row is reported, then repaired', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'orderflow-rebuild-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const db = await v.open(deferrer(t), dir);
      await migrate(db, [...outboxMigrations, ...migrations]);
      const o = await orders(db);

      // Batches of 1 and 3: the keyset walk's edges, whatever the ids.
      for (const batchSize of [1, 3, 500]) {
        const clean = await rebuildViews(db, { check: true, batchSize });
        assert.deepEqual([clean.orders, clean.differing, clean.differences], [4, 0, []], `batch ${batchSize}`);
      }

      const confirmed = await getOrderView(db, o.confirmed);
      assert.equal(confirmed?.status, 'CONFIRMED');
      await db.execute("UPDATE orders_view SET status = 'PENDING', updated_at = $2 WHERE id = $1", [o.confirmed, clock.now().toISOString()]);
      await db.execute('DELETE FROM orders_view WHERE id = $1', [o.paying]);
      const orphan = 'ffffffff-0000-7000-8000-000000000001';
      await db.execute(
        "INSERT INTO orders_view (id, customer_id, items, total_cents, status, reason, created_at, updated_at) VALUES ($1, 'c-9', '[]', 0, 'PENDING', NULL, $2, $2)",
        [orphan, clock.now().toISOString()],
      );

      const found = await rebuildViews(db, { check: true, batchSize: 2 });
      assert.deepEqual([found.orders, found.differing, found.repaired], [4, 3, 0]);
      const byId = new Map(found.differences.map((d) => [d.id, describeDifference(d)]));
      assert.equal(byId.get(o.confirmed), `status: "PENDING" → "CONFIRMED", updatedAt: "${clock.now().toISOString()}" → "${at(3_000).toISOString()}"`);
      assert.equal(byId.get(o.paying), 'no row; its events make one');
      assert.equal(byId.get(orphan), 'a row without events; nothing makes it');
      assert.equal((await getOrderView(db, o.confirmed))?.status, 'PENDING', 'a check writes nothing');

      const rebuilt = await rebuildViews(db, { check: false, batchSize: 2 });
      assert.deepEqual([rebuilt.differing, rebuilt.repaired], [3, 3]);
      assert.deepEqual(await getOrderView(db, o.confirmed), confirmed);
      assert.equal((await getOrderView(db, o.paying))?.updatedAt, at(1_000).toISOString());
      assert.equal(await getOrderView(db, orphan), undefined);
      assert.deepEqual((await rebuildViews(db, { check: true })).differing, 0);
    });

    test('a rebuild with the service running: orders placed and stepped meanwhile keep their rows, right', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'orderflow-rebuild-live-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const db = await v.open(deferrer(t), dir);
      await migrate(db, [...outboxMigrations, ...migrations]);
      await orders(db);
      const step = createHandlers({ clock: later(5_000) });
      let writing = true;
      const placed: string[] = [];
      const writer = (async () => {
        while (writing) {
          const id = await place(db);
          placed.push(id);
          await runHandler(db, step, delivery(StockReserved, { orderId: id, items: [{ productId, quantity: 4 }] }));
          // SQLite's statements settle as microtasks: let timers run between orders.
          await new Promise((r) => setImmediate(r));
        }
      })();
      try {
        for (let i = 0; i < 5; i++) {
          const report = await rebuildViews(db, { check: false, batchSize: 1 });
          assert.deepEqual(report.differences, [], `rebuild ${i}: a healthy view has nothing to repair`);
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        writing = false;
        await writer;
      }
      assert.ok(placed.length > 0);
      for (const id of placed) assert.equal((await getOrderView(db, id))?.updatedAt, at(5_000).toISOString(), id);
      assert.equal((await rebuildViews(db, { check: true })).differing, 0);
    });

    test('the history lists the events in order; as of a time the order is its events up to then', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'orderflow-history-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const db = await v.open(deferrer(t), dir);
      await migrate(db, [...outboxMigrations, ...migrations]);
      const o = await orders(db);

      const history = await orderHistory(db, o.confirmed);
      assert.deepEqual(history.map((e) => [e.version, e.type, e.at]), [
        [1, 'OrderPlaced', clock.now().toISOString()],
        [2, 'StockReserved', at(1_000).toISOString()],
        [3, 'PaymentCharged', at(2_000).toISOString()],
        [4, 'ShipmentScheduled', at(3_000).toISOString()],
        [5, 'OrderConfirmed', at(3_000).toISOString()],
      ]);
      assert.equal((history[0].data as { customerId: string }).customerId, 'c-1');
      assert.deepEqual(history[3].data, { trackingNumber: 'TRK-1' });
      assert.deepEqual(await orderHistory(db, uuidv7()), []);

      assert.equal(await orderAsOf(db, o.confirmed, at(-1)), undefined, 'not placed yet');
      const placed = await orderAsOf(db, o.confirmed, clock.now());
      assert.deepEqual([placed?.status, placed?.updatedAt, placed?.totalCents], ['PENDING', clock.now().toISOString(), 1000]);
      assert.deepEqual([(await orderAsOf(db, o.confirmed, at(2_500)))?.updatedAt], [at(2_000).toISOString()]);
      assert.deepEqual(await orderAsOf(db, o.confirmed, at(60_000)), await getOrderView(db, o.confirmed), 'as of now it is the live view');
    });
  });
}
