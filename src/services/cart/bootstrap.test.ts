/**
 * The first fill of an empty catalog copy from inventory's list, with inventory stood in for
 * by a small HTTP server that can be made to fail: the events of a product win over it
 * whichever comes first, and a copy that has anything is left alone.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { v7 as uuidv7 } from 'uuid';
import { message, ProductCreated, ProductPriceChanged } from '#contracts/index.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { silentLogger } from '#platform/log.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { runHandler } from '#test/support/handlers.ts';
import { startCatalogBootstrap } from './bootstrap.ts';
import { createHandlers } from './handlers.ts';
import { getProductPrice, migrations } from './store.ts';

const clock = { now: () => new Date('2026-01-01T00:00:00Z') };
const apple = { id: uuidv7(), sku: 'A-1', name: 'Apple', priceCents: 250, available: 4 };
const pear = { id: uuidv7(), sku: 'P-1', name: 'Pear', priceCents: 400, available: 0 };

async function inventoryStandIn(t: TestContext, failFirst: number) {
  let calls = 0;
  const server = createServer((_req, res) => {
    calls++;
    if (calls <= failFirst) {
      res.writeHead(503, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: 'PLT_ERR_SHUTTING_DOWN', message: 'starting' } }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify([apple, pear]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const upstream = createUpstream({ name: 'inventory', url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, retries: 0, breaker: false });
  t.after(() => upstream.close());
  return { upstream, calls: () => calls };
}

test('an empty catalog copy is filled once from inventory, trying again until it answers; a product\'s events win over the list', async (t) => {
  const db = await sqliteTestDb(t, 'cart', [...outboxMigrations, ...migrations]);
  const handlers = createHandlers({ clock });
  const inventory = await inventoryStandIn(t, 2);
  const bootstrap = startCatalogBootstrap({ db, inventory: inventory.upstream, clock, log: silentLogger, retryMs: 20 });
  t.after(() => bootstrap.stop());
  assert.equal(await bootstrap.done, 2);
  assert.equal(inventory.calls(), 3);
  assert.deepEqual([await getProductPrice(db, apple.id), await getProductPrice(db, pear.id)], [250, 400]);

  await runHandler(db, handlers, message(ProductPriceChanged, { payload: { productId: pear.id, sku: pear.sku, name: pear.name, priceCents: 450, previousPriceCents: 400, revision: 1 } }));
  await runHandler(db, handlers, message(ProductCreated, { payload: { productId: apple.id, sku: apple.sku, name: apple.name, priceCents: 240, stock: 9 } }));
  assert.deepEqual([await getProductPrice(db, apple.id), await getProductPrice(db, pear.id)], [240, 450]);

  const again = startCatalogBootstrap({ db, inventory: inventory.upstream, clock, log: silentLogger });
  assert.equal(await again.done, 0, 'a copy that has products is left alone');
  assert.equal(inventory.calls(), 3);
});

test('the list does not overwrite what an event brought first', async (t) => {
  const db = await sqliteTestDb(t, 'cart', [...outboxMigrations, ...migrations]);
  const inventory = await inventoryStandIn(t, 1);
  const bootstrap = startCatalogBootstrap({ db, inventory: inventory.upstream, clock, log: silentLogger, retryMs: 50 });
  t.after(() => bootstrap.stop());
  // The copy was empty when it looked; the event comes while inventory is still away.
  await new Promise((resolve) => setTimeout(resolve, 10));
  await runHandler(db, createHandlers({ clock }), message(ProductCreated, { payload: { productId: apple.id, sku: apple.sku, name: apple.name, priceCents: 240, stock: 9 } }));
  await bootstrap.done;
  assert.equal(await getProductPrice(db, apple.id), 240);
  assert.equal(await getProductPrice(db, pear.id), 400);
});
