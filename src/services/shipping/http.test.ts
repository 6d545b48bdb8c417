import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHost } from '#test/support/host.ts';
import { registerRoutes } from './http.ts';
import { insertShipment, migrations } from './store.ts';

test('GET /shipments/:orderId answers the shipment, or 404 ORD_ERR_SHIPMENT_NOT_FOUND', async (t) => {
  const { host, url } = await startTestHost(t, { name: 'shipping', migrations, partitions: 1, setup: (h) => registerRoutes(h.app, { db: h.db }) });
  const orderId = host.ids.newId();
  await insertShipment(host.db, { orderId, status: 'SCHEDULED', trackingNumber: 'TRK-ABC', country: 'FR', reason: null }, new Date().toISOString());

  const found = await fetch(`${url}/shipments/${orderId}`);
  assert.equal(found.status, 200);
  assert.deepEqual(await found.json(), { orderId, status: 'SCHEDULED', trackingNumber: 'TRK-ABC' });

  const missing = await fetch(`${url}/shipments/${host.ids.newId()}`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'ORD_ERR_SHIPMENT_NOT_FOUND');
});

test('PUT /shipments/:orderId books one shipment per order and refuses unserved countries', async (t) => {
  const { host, url } = await startTestHost(t, { name: 'shipping', migrations, partitions: 1, setup: (h) => registerRoutes(h.app, { db: h.db, clock: h.clock }) });
  const put = async (orderId: string, body: unknown) => {
    const res = await fetch(`${url}/shipments/${orderId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const served = host.ids.newId();
  const first = await put(served, { address: { country: 'DE', city: 'Berlin' } });
  assert.equal(first.status, 200);
  assert.equal(first.body.status, 'SCHEDULED');
  assert.match(first.body.trackingNumber, /\S/);
  assert.deepEqual(await put(served, { address: { country: 'DE' } }), first, 'a repeat answers the booked shipment');

  const unserved = host.ids.newId();
  const refused = await put(unserved, { address: { country: 'XX' } });
  assert.deepEqual(refused.body, { orderId: unserved, status: 'REJECTED', trackingNumber: null, reason: 'COUNTRY_NOT_SERVED' });
  assert.equal((await put(host.ids.newId(), { address: {} })).status, 400);
});

test('GET /shipments-by-order answers the one-id route\'s answers, one line per order in order, empty where there is none', async (t) => {
  const { host, url } = await startTestHost(t, { name: 'shipping', migrations, partitions: 1, setup: (h) => registerRoutes(h.app, { db: h.db }) });
  const known = [host.ids.newId(), host.ids.newId()];
  for (const id of known) await insertShipment(host.db, { orderId: id, status: 'SCHEDULED', trackingNumber: `TRK-${id.slice(-4)}`, country: 'FR', reason: null }, new Date().toISOString());
  const unknown = host.ids.newId();
  const res = await fetch(`${url}/shipments-by-order?ids=${known[1]},${unknown},${known[0]}`);
  assert.equal(res.status, 200);
  const lines = (await res.text()).split('\n');
  assert.deepEqual(lines.map((l) => l === ''), [false, true, false, true]);
  for (const [line, id] of [[lines[0], known[1]], [lines[2], known[0]]]) {
    assert.deepEqual(JSON.parse(line), await (await fetch(`${url}/shipments/${id}`)).json());
  }
  const refused = await fetch(`${url}/shipments-by-order?ids=not-a-uuid`);
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'PLT_ERR_VALIDATION');
});
