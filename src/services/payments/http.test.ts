import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHost } from '#test/support/host.ts';
import { registerRoutes } from './http.ts';
import { insertPayment, migrations } from './store.ts';

test('GET /payments/:orderId answers the payment, or 404 ORD_ERR_PAYMENT_NOT_FOUND', async (t) => {
  const { host, url } = await startTestHost(t, { name: 'payments', migrations, partitions: 1, setup: (h) => registerRoutes(h.app, { db: h.db }) });
  const orderId = host.ids.newId();
  await insertPayment(host.db, { orderId, paymentId: host.ids.newId(), customerId: 'c-1', amountCents: 4200, method: 'card', status: 'CHARGED' }, new Date().toISOString());

  const found = await fetch(`${url}/payments/${orderId}`);
  assert.equal(found.status, 200);
  assert.deepEqual(await found.json(), { orderId, status: 'CHARGED', amountCents: 4200, method: 'card' });

  const missing = await fetch(`${url}/payments/${host.ids.newId()}`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'ORD_ERR_PAYMENT_NOT_FOUND');
});

const put = async (url: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}${path}`, { method: 'PUT', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};

test('PUT /payments/:orderId charges an order once, however often it is repeated, and refunds it once', async (t) => {
  const { host, url } = await startTestHost(t, { name: 'payments', migrations, partitions: 1, setup: (h) => registerRoutes(h.app, { db: h.db, ids: h.ids, clock: h.clock }) });
  const orderId = host.ids.newId();
  const body = { customerId: 'c-1', amountCents: 4200, method: 'card' };
  const answers = await Promise.all([1, 2, 3].map(() => put(url, `/payments/${orderId}`, body)));
  const paymentId = answers[0].body.paymentId;
  for (const a of answers) assert.deepEqual(a, { status: 200, body: { orderId, paymentId, status: 'CHARGED', amountCents: 4200 } });

  assert.deepEqual((await put(url, `/payments/${orderId}/refund`)).body, { orderId, outcome: 'refund', refunded: true });
  assert.deepEqual((await put(url, `/payments/${orderId}/refund`)).body, { orderId, outcome: 'noop', refunded: false });
  assert.equal((await (await fetch(`${url}/payments/${orderId}`)).json() as { status: string }).status, 'REFUNDED');
});

test('PUT /payments/:orderId declines card-declined with a reason, and a refund of it gives nothing back', async (t) => {
  const { host, url } = await startTestHost(t, { name: 'payments', migrations, partitions: 1, setup: (h) => registerRoutes(h.app, { db: h.db }) });
  const orderId = host.ids.newId();
  const r = await put(url, `/payments/${orderId}`, { customerId: 'c-1', amountCents: 100, method: 'card-declined' });
  assert.equal(r.body.status, 'DECLINED');
  assert.equal(r.body.reason, 'CARD_DECLINED');
  assert.deepEqual((await put(url, `/payments/${orderId}/refund`)).body, { orderId, outcome: 'nothing-charged', refunded: false });
  assert.equal((await put(url, `/payments/${orderId}`, { customerId: 'c-1', amountCents: -1, method: 'card' })).status, 400);
});

test('GET /payments-by-order answers the one-id route\'s answers, one line per order in order, empty where there is none', async (t) => {
  const { host, url } = await startTestHost(t, { name: 'payments', migrations, partitions: 1, setup: (h) => registerRoutes(h.app, { db: h.db }) });
  const known = [host.ids.newId(), host.ids.newId()];
  for (const id of known) await insertPayment(host.db, { orderId: id, paymentId: host.ids.newId(), customerId: 'c-1', amountCents: 4200, method: 'card', status: 'CHARGED' }, new Date().toISOString());
  const unknown = host.ids.newId();
  const res = await fetch(`${url}/payments-by-order?ids=${known[1]},${unknown},${known[0]}`);
  assert.equal(res.status, 200);
  const lines = (await res.text()).split('\n');
  assert.deepEqual(lines.map((l) => l === ''), [false, true, false, true]);
  for (const [line, id] of [[lines[0], known[1]], [lines[2], known[0]]]) {
    assert.deepEqual(JSON.parse(line), await (await fetch(`${url}/payments/${id}`)).json());
  }
  const refused = await fetch(`${url}/payments-by-order?ids=not-a-uuid`);
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'PLT_ERR_VALIDATION');
});
