import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestHost } from '#test/support/host.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { migrate } from '#platform/db/migrate.ts';
import { openServiceDb } from '#platform/db/open.ts';
import { createCatalogPages, matchesIfNoneMatch } from './catalog-page.ts';
import { createProduct } from './catalog.ts';
import { registerRoutes } from './http.ts';
import { reserveStock } from './reservations.ts';
import { migrations } from './store.ts';

const startInventory = (t: TestContext) =>
  startTestHost(t, { name: 'inventory', migrations, setup: (host) => registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock }) });

const post = (url: string, body: unknown) =>
  fetch(`${url}/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const products = (url: string, etag?: string) => fetch(`${url}/products`, { headers: etag ? { 'if-none-match': etag } : {} });

test('GET /products answers an ETag, and a replay with If-None-Match gets 304 without a body', async (t) => {
  const { url } = await startInventory(t);
  assert.equal((await post(url, { sku: 'A', name: 'A', priceCents: 100, stock: 5 })).status, 201);
  const first = await products(url);
  assert.equal(first.status, 200);
  const etag = first.headers.get('etag');
  assert.match(etag ?? '', /^"[\w-]+"$/);
  assert.equal(first.headers.get('cache-control'), 'no-cache');
  assert.equal(((await first.json()) as unknown[]).length, 1);

  const again = await products(url, etag!);
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('etag'), etag);
  assert.equal(await again.text(), '');
  assert.equal((await products(url, `W/${etag}`)).status, 304, 'weak comparison');
  assert.equal((await products(url, '"other"')).status, 200);
});

test('GET /products gets a new ETag once a product is created', async (t) => {
  const { url } = await startInventory(t);
  assert.equal((await post(url, { sku: 'A', name: 'A', priceCents: 100, stock: 5 })).status, 201);
  const etag = (await products(url)).headers.get('etag')!;
  assert.equal((await post(url, { sku: 'B', name: 'B', priceCents: 100, stock: 5 })).status, 201);
  const after = await products(url, etag);
  assert.equal(after.status, 200);
  assert.notEqual(after.headers.get('etag'), etag);
  assert.deepEqual(((await after.json()) as Array<{ sku: string }>).map((p) => p.sku), ['A', 'B']);
});

test('GET /products gets a new ETag and the new available count once stock is reserved, by any writer', async (t) => {
  const { host, url } = await startInventory(t);
  const created = (await (await post(url, { sku: 'A', name: 'A', priceCents: 100, stock: 5 })).json()) as { id: string };
  const etag = (await products(url)).headers.get('etag')!;
  // Not through HTTP: the bus consumer's reservations write the same table in their own transactions.
  await host.db.transaction((tx) => reserveStock(tx, host.db.dialect, randomUUID(), [{ productId: created.id, quantity: 2 }], new Date().toISOString()));
  const after = await products(url, etag);
  assert.equal(after.status, 200);
  assert.notEqual(after.headers.get('etag'), etag);
  assert.equal(((await after.json()) as Array<{ available: number }>)[0].available, 3);
  // And back to 304 for the new tag.
  assert.equal((await products(url, after.headers.get('etag')!)).status, 304);
});

test('GET /products and GET /products/:id answer a new price and a new ETag at once after PATCH /products/:id', async (t) => {
  const { url } = await startInventory(t);
  const created = (await (await post(url, { sku: 'A', name: 'A', priceCents: 100, stock: 5 })).json()) as { id: string };
  const etag = (await products(url)).headers.get('etag')!;
  const patch = (body: unknown) => fetch(`${url}/products/${created.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await patch({ priceCents: 90 })).status, 200);
  const after = await products(url, etag);
  assert.equal(after.status, 200);
  const newTag = after.headers.get('etag')!;
  assert.notEqual(newTag, etag);
  assert.deepEqual(((await after.json()) as Array<{ priceCents: number }>).map((p) => p.priceCents), [90]);
  assert.equal(((await (await fetch(`${url}/products/${created.id}`)).json()) as { priceCents: number }).priceCents, 90);
  // A restock changes the page too; the same price again changes nothing, so the tag stays.
  assert.equal((await patch({ restock: 3 })).status, 200);
  const restocked = await products(url, newTag);
  assert.equal(restocked.status, 200);
  const restockedTag = restocked.headers.get('etag')!;
  assert.equal(((await restocked.json()) as Array<{ available: number }>)[0].available, 8);
  assert.equal((await patch({ priceCents: 90 })).status, 200);
  assert.equal((await products(url, restockedTag)).status, 304);
});

test('a catalog read racing a commit never keeps the older page as current', async (t) => {
  const { host, url } = await startInventory(t);
  const created = (await (await post(url, { sku: 'A', name: 'A', priceCents: 100, stock: 100 })).json()) as { id: string };
  for (let i = 1; i <= 20; i++) {
    // The read and the reservation start together; whichever wins, the next read is current.
    await Promise.all([
      products(url).then((r) => r.arrayBuffer()),
      host.db.transaction((tx) => reserveStock(tx, host.db.dialect, randomUUID(), [{ productId: created.id, quantity: 1 }], new Date().toISOString())),
    ]);
    const list = (await (await products(url)).json()) as Array<{ available: number }>;
    assert.equal(list[0].available, 100 - i);
  }
});

test('If-None-Match matching follows RFC 9110: lists, weak tags and *', () => {
  assert.equal(matchesIfNoneMatch(undefined, '"a"'), false);
  assert.equal(matchesIfNoneMatch('"a"', '"a"'), true);
  assert.equal(matchesIfNoneMatch('"b", W/"a"', '"a"'), true);
  assert.equal(matchesIfNoneMatch('*', '"a"'), true);
  assert.equal(matchesIfNoneMatch('"ab"', '"a"'), false);
});

test('with replicas (not the sole writer), a commit of another process on the same SQLite file shows at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-replicas-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const open = async () => {
    const db = await openServiceDb({ store: 'sqlite', dataDir: dir } as Parameters<typeof openServiceDb>[0], 'inventory');
    t.after(() => db.close());
    await migrate(db, [...outboxMigrations, ...migrations]);
    return db;
  };
  const mine = await open();
  const other = await open();
  const deps = (db: typeof mine) => ({ db, ids: { newId: () => randomUUID() }, clock: { now: () => new Date() } });
  const shared = createCatalogPages(mine, { soleWriter: false });
  const kept = createCatalogPages(mine);
  await createProduct(deps(mine), { sku: 'A', name: 'A', priceCents: 100, stock: 5 });
  const names = async (pages: typeof shared) => (JSON.parse((await pages.current()).body.toString()) as Array<{ sku: string }>).map((p) => p.sku);
  assert.deepEqual(await names(shared), ['A']);
  assert.deepEqual(await names(kept), ['A']);

  // The other instance creates B: this process saw no commit of its own.
  await createProduct(deps(other), { sku: 'B', name: 'B', priceCents: 100, stock: 5 });
  assert.deepEqual(await names(shared), ['A', 'B'], 'read afresh: never stale');
  assert.deepEqual(await names(kept), ['A'], 'the sole-writer page would be stale here, which is why replicas turn it off');
});
