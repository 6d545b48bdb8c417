import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { startServiceHost } from '#platform/service/host.ts';
import { allTopics, validateMessage } from '#contracts/index.ts';
import { registerRoutes } from './http.ts';
import { insertPayment, migrations } from './store.ts';

test('GET /payments/:orderId answers the payment, or 404 ORD_ERR_PAYMENT_NOT_FOUND', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'payments-http-'));
  const platform = loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: '1' });
  const host = await startServiceHost({ name: 'payments', platform, migrations, topics: allTopics, validate: validateMessage, log: silentLogger });
  t.after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
  registerRoutes(host.app, { db: host.db });
  const url = `http://127.0.0.1:${await host.listen(0)}`;
  const orderId = host.ids.newId();
  await insertPayment(host.db, { orderId, paymentId: host.ids.newId(), customerId: 'c-1', amountCents: 4200, method: 'card', status: 'CHARGED' }, new Date().toISOString());

  const found = await fetch(`${url}/payments/${orderId}`);
  assert.equal(found.status, 200);
  assert.deepEqual(await found.json(), { orderId, status: 'CHARGED', amountCents: 4200, method: 'card' });

  const missing = await fetch(`${url}/payments/${host.ids.newId()}`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'ORD_ERR_PAYMENT_NOT_FOUND');
});
