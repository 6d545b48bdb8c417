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
import { insertShipment, migrations } from './store.ts';

test('GET /shipments/:orderId answers the shipment, or 404 ORD_ERR_SHIPMENT_NOT_FOUND', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shipping-http-'));
  const platform = loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: '1' });
  const host = await startServiceHost({ name: 'shipping', platform, migrations, topics: allTopics, validate: validateMessage, log: silentLogger });
  t.after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
  registerRoutes(host.app, { db: host.db });
  const url = `http://127.0.0.1:${await host.listen(0)}`;
  const orderId = host.ids.newId();
  await insertShipment(host.db, { orderId, status: 'SCHEDULED', trackingNumber: 'TRK-ABC', country: 'FR', reason: null }, new Date().toISOString());

  const found = await fetch(`${url}/shipments/${orderId}`);
  assert.equal(found.status, 200);
  assert.deepEqual(await found.json(), { orderId, status: 'SCHEDULED', trackingNumber: 'TRK-ABC' });

  const missing = await fetch(`${url}/shipments/${host.ids.newId()}`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'ORD_ERR_SHIPMENT_NOT_FOUND');
});
