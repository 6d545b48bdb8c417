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
