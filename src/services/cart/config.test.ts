import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { loadConfig } from './config.ts';

test('the cart listens on 8086, calls orders on 8081, and announces a cart idle for an hour, looking every minute', () => {
  const c = loadConfig({});
  assert.deepEqual(c.inventoryUrls, ['http://127.0.0.1:8082']);
  assert.deepEqual([c.port, c.ordersUrls, c.abandonedAfterMs, c.abandonedCheckMs, c.ordersTimeoutMs, c.idempotencyTtlMs], [8086, ['http://127.0.0.1:8081'], 3_600_000, 60_000, 4_500, 86_400_000]);
});

test('a short idle time is looked for a quarter as often, never more than every 100 ms; orders may be several instances', () => {
  assert.equal(loadConfig({ CART_ABANDONED_AFTER_MS: '2000' }).abandonedCheckMs, 500);
  assert.equal(loadConfig({ CART_ABANDONED_AFTER_MS: '100' }).abandonedCheckMs, 100);
  assert.equal(loadConfig({ CART_ABANDONED_AFTER_MS: '2000', CART_ABANDONED_CHECK_MS: '50' }).abandonedCheckMs, 50);
  assert.deepEqual(loadConfig({ ORDERS_URL: 'http://127.0.0.1:8081/x, http://127.0.0.1:8181' }).ordersUrls, ['http://127.0.0.1:8081', 'http://127.0.0.1:8181']);
});

test('settings out of range stop the service with the setting named', () => {
  for (const [name, value] of [['CART_ABANDONED_AFTER_MS', '0'], ['CART_ABANDONED_CHECK_MS', 'soon'], ['CART_ORDERS_TIMEOUT_MS', '-1'], ['CART_IDEMPOTENCY_TTL_MS', '1.5'], ['ORDERS_URL', 'not a url']]) {
    assert.throws(() => loadConfig({ [name]: value }), (err) => isOrderflowError(err) && err.code === 'PLT_ERR_CONFIG' && err.message.includes(name), name);
  }
});
