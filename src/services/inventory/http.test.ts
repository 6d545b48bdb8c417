import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '#platform/bus/envelope.ts';
import { Topics } from '#contracts/index.ts';
import { startTestHost } from '#test/support/host.ts';
import { registerRoutes } from './http.ts';
import { seedDemoCatalog, demoCatalog } from './seed.ts';
import { migrations } from './store.ts';

const startInventory = (t: TestContext) =>
  startTestHost(t, { name: 'inventory', migrations, setup: (host) => registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock }) });

const post = (url: string, body: unknown) =>
  fetch(`${url}/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('POST /products creates a product, publishes ProductCreated, and GET finds it', async (t) => {
  const { host, url } = await startInventory(t);
  const res = await post(url, { sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 7 });
  assert.equal(res.status, 201);
  const created = (await res.json()) as { id: string };
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(created, { id: created.id, sku: 'KB-1', name: 'Keyboard', priceCents: 4999, available: 7 });

  const one = await fetch(`${url}/products/${created.id}`);
  assert.equal(one.status, 200);
  assert.deepEqual(await one.json(), created);

  await host.relay.flush();
  const events = (await host.bus.read(Topics.inventoryEvents)).map(decode);
  assert.deepEqual(
    events.map((e) => ({ type: e.type, key: e.key, payload: e.payload })),
    [{ type: 'ProductCreated', key: created.id, payload: { productId: created.id, sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 7 } }],
  );
});

test('GET /products lists the catalog ordered by sku', async (t) => {
  const { url } = await startInventory(t);
  for (const sku of ['C', 'A', 'B']) assert.equal((await post(url, { sku, name: `Product ${sku}`, priceCents: 100, stock: 1 })).status, 201);
  const res = await fetch(`${url}/products`);
  assert.equal(res.status, 200);
  const list = (await res.json()) as Array<{ sku: string; available: number }>;
  assert.deepEqual(list.map((p) => p.sku), ['A', 'B', 'C']);
  assert.deepEqual(Object.keys(list[0]).sort(), ['available', 'id', 'name', 'priceCents', 'sku']);
});

test('POST /products with a taken sku answers 409 ORD_ERR_DUPLICATE_SKU', async (t) => {
  const { url } = await startInventory(t);
  assert.equal((await post(url, { sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 7 })).status, 201);
  const res = await post(url, { sku: 'KB-1', name: 'Another', priceCents: 1, stock: 1 });
  assert.equal(res.status, 409);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ORD_ERR_DUPLICATE_SKU');
});

test('POST /products with a malformed body answers 400 and creates nothing', async (t) => {
  const { url } = await startInventory(t);
  const bad: unknown[] = [
    {},
    { sku: 'X', name: 'X', priceCents: -1, stock: 1 },
    { sku: 'X', name: 'X', priceCents: 9.5, stock: 1 },
    { sku: 'X', name: 'X', priceCents: '100', stock: 1 },
    { sku: 'X', name: 'X', priceCents: 100, stock: -3 },
    { sku: '', name: 'X', priceCents: 100, stock: 1 },
    { sku: '   ', name: 'X', priceCents: 100, stock: 1 },
    { sku: 'X', name: 'X', priceCents: 100 },
  ];
  for (const body of bad) {
    const res = await post(url, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(((await res.json()) as { error: { code: string } }).error.code, /_ERR_/);
  }
  const notJson = await fetch(`${url}/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  assert.equal(notJson.status, 400);
  assert.deepEqual(await (await fetch(`${url}/products`)).json(), []);
});

test('GET /products/:id of an unknown product answers 404 ORD_ERR_PRODUCT_NOT_FOUND', async (t) => {
  const { url } = await startInventory(t);
  const res = await fetch(`${url}/products/0190f5e2-7b3c-7d4e-8f00-123456789abc`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ORD_ERR_PRODUCT_NOT_FOUND');
});

test('the demo catalog is seeded once into an empty catalog and announced', async (t) => {
  const { host, url } = await startInventory(t);
  const deps = { db: host.db, ids: host.ids, clock: host.clock };
  assert.equal(await seedDemoCatalog(deps), demoCatalog.length);
  assert.equal(await seedDemoCatalog(deps), 0);
  const list = (await (await fetch(`${url}/products`)).json()) as Array<{ available: number; priceCents: number }>;
  assert.equal(list.length, demoCatalog.length);
  assert.ok(list.every((p) => p.available === 1000 && Number.isInteger(p.priceCents) && p.priceCents > 0));
  await host.relay.flush();
  const events = (await host.bus.read(Topics.inventoryEvents)).map(decode);
  assert.equal(events.filter((e) => e.type === 'ProductCreated').length, demoCatalog.length);
});

const call = async (url: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};

test('PUT /reservations/:orderId holds the stock once, however often it is repeated, and DELETE gives it back once', async (t) => {
  const { host, url } = await startInventory(t);
  const product = (await (await post(url, { sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 5 })).json()) as { id: string };
  const orderId = host.ids.newId();
  const items = [{ productId: product.id, quantity: 2 }];

  const answers = await Promise.all([1, 2, 3].map(() => call(url, 'PUT', `/reservations/${orderId}`, { items })));
  for (const a of answers) assert.deepEqual(a, { status: 200, body: { orderId, status: 'RESERVED', items } });
  assert.equal((await call(url, 'GET', `/products/${product.id}`)).body.available, 3);

  assert.deepEqual((await call(url, 'DELETE', `/reservations/${orderId}`)).body, { orderId, status: 'RELEASED', released: true });
  assert.deepEqual((await call(url, 'DELETE', `/reservations/${orderId}`)).body, { orderId, status: 'RELEASED', released: false });
  assert.equal((await call(url, 'GET', `/products/${product.id}`)).body.available, 5);
});

test('PUT /reservations/:orderId beyond the available stock is refused, naming the product, and holds nothing', async (t) => {
  const { host, url } = await startInventory(t);
  const product = (await (await post(url, { sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 1 })).json()) as { id: string };
  const orderId = host.ids.newId();
  const r = await call(url, 'PUT', `/reservations/${orderId}`, { items: [{ productId: product.id, quantity: 2 }] });
  assert.deepEqual(r, { status: 200, body: { orderId, status: 'REJECTED', productIds: [product.id] } });
  assert.equal((await call(url, 'GET', `/products/${product.id}`)).body.available, 1);
});

test('PUT /reservations with a malformed order id or body answers 400', async (t) => {
  const { host, url } = await startInventory(t);
  assert.equal((await call(url, 'PUT', '/reservations/not-a-uuid', { items: [{ productId: host.ids.newId(), quantity: 1 }] })).status, 400);
  assert.equal((await call(url, 'PUT', `/reservations/${host.ids.newId()}`, { items: [] })).status, 400);
  assert.equal((await call(url, 'PUT', `/reservations/${host.ids.newId()}`, { items: [{ productId: host.ids.newId(), quantity: 0 }] })).status, 400);
});

const patch = (url: string, id: string, body: unknown) => call(url, 'PATCH', `/products/${id}`, body);

test('PATCH /products/:id changes the price, restocks, or both, and answers the product as GET does', async (t) => {
  const { host, url } = await startInventory(t);
  const created = (await (await post(url, { sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 7 })).json()) as { id: string };
  const price = await patch(url, created.id, { priceCents: 3999 });
  assert.deepEqual(price, { status: 200, body: { ...created, priceCents: 3999 } });
  assert.deepEqual(await call(url, 'GET', `/products/${created.id}`), price);
  assert.deepEqual(await patch(url, created.id, { restock: 3 }), { status: 200, body: { ...created, priceCents: 3999, available: 10 } });
  const both = await patch(url, created.id, { priceCents: 0, restock: 1 });
  assert.deepEqual(both, { status: 200, body: { ...created, priceCents: 0, available: 11 } });
  assert.deepEqual(await call(url, 'GET', `/products/${created.id}`), both);

  await host.relay.flush();
  const events = (await host.bus.read(Topics.inventoryEvents)).map(decode).filter((e) => e.type !== 'ProductCreated');
  const facts = { productId: created.id, sku: 'KB-1', name: 'Keyboard' };
  assert.deepEqual(events.map((e) => ({ type: e.type, key: e.key, payload: e.payload })), [
    { type: 'ProductPriceChanged', key: created.id, payload: { ...facts, priceCents: 3999, previousPriceCents: 4999, revision: 1 } },
    { type: 'ProductRestocked', key: created.id, payload: { productId: created.id, quantity: 3, available: 10 } },
    { type: 'ProductPriceChanged', key: created.id, payload: { ...facts, priceCents: 0, previousPriceCents: 3999, revision: 2 } },
    { type: 'ProductRestocked', key: created.id, payload: { productId: created.id, quantity: 1, available: 11 } },
  ]);
});

test('PATCH /products/:id of an unknown product answers 404 ORD_ERR_PRODUCT_NOT_FOUND', async (t) => {
  const { host, url } = await startInventory(t);
  const res = await patch(url, host.ids.newId(), { priceCents: 1 });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'ORD_ERR_PRODUCT_NOT_FOUND');
});

test('PATCH /products/:id with a malformed body answers 400 and changes nothing', async (t) => {
  const { url } = await startInventory(t);
  const created = (await (await post(url, { sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 7 })).json()) as { id: string };
  const bad: unknown[] = [
    {},
    { priceCents: -1 },
    { priceCents: 1.5 },
    { priceCents: '100' },
    { priceCents: 2_147_483_648 },
    { restock: 0 },
    { restock: -2 },
    { restock: 2_147_483_648 },
    { priceCents: 100, name: 'Renamed' },
    { available: 100 },
    [],
    null,
  ];
  for (const body of bad) {
    const res = await patch(url, created.id, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.error.code, /_ERR_/);
  }
  const notJson = await fetch(`${url}/products/${created.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{' });
  assert.equal(notJson.status, 400);
  assert.equal((await call(url, 'PATCH', `/products/${created.id}`)).status, 400, 'no body at all');
  assert.deepEqual((await call(url, 'GET', `/products/${created.id}`)).body, created);
});

test('PATCH /products/:id refuses a restock past the largest stock with 422 ORD_ERR_STOCK_OVERFLOW', async (t) => {
  const { url } = await startInventory(t);
  const created = (await (await post(url, { sku: 'KB-1', name: 'Keyboard', priceCents: 4999, stock: 2_147_483_000 })).json()) as { id: string };
  const res = await patch(url, created.id, { restock: 648, priceCents: 1 });
  assert.equal(res.status, 422);
  assert.equal(res.body.error.code, 'ORD_ERR_STOCK_OVERFLOW');
  assert.deepEqual((await call(url, 'GET', `/products/${created.id}`)).body, created);
  assert.equal((await patch(url, created.id, { restock: 647 })).body.available, 2_147_483_647);
});
