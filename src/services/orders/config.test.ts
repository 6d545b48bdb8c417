import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './config.ts';

test('saga deadlines default to 30 s a step, swept every second', () => {
  assert.deepEqual(loadConfig({}).deadlines, { stepDeadlineMs: 30_000, sweepIntervalMs: 1_000 });
  assert.deepEqual(loadConfig({ ORDERS_STEP_DEADLINE_MS: '5000', ORDERS_DEADLINE_SWEEP_MS: '200' }).deadlines, { stepDeadlineMs: 5_000, sweepIntervalMs: 200 });
});

test('a deadline that is not a positive integer, or not above the rest request deadline, is refused', () => {
  assert.throws(() => loadConfig({ ORDERS_STEP_DEADLINE_MS: 'soon' }), { code: 'PLT_ERR_CONFIG' });
  assert.throws(() => loadConfig({ ORDERS_DEADLINE_SWEEP_MS: '0' }), { code: 'PLT_ERR_CONFIG' });
  // A step deadline under the request's own would time out requests still making their calls.
  assert.throws(() => loadConfig({ ORDERS_STEP_DEADLINE_MS: '4000' }), { code: 'PLT_ERR_CONFIG', message: /ORDERS_REQUEST_DEADLINE_MS/ });
  assert.equal(loadConfig({ ORDERS_STEP_DEADLINE_MS: '3000', ORDERS_REQUEST_DEADLINE_MS: '2000' }).deadlines.stepDeadlineMs, 3_000);
});

test('idempotency keys expire after 24 h by default, purged every 10 minutes; a bad setting is refused', () => {
  assert.deepEqual(loadConfig({}).idempotency, { ttlHours: 24, purgeIntervalMs: 600_000 });
  assert.deepEqual(loadConfig({ ORDERS_IDEMPOTENCY_TTL_HOURS: '48', ORDERS_IDEMPOTENCY_PURGE_INTERVAL_MS: '1000' }).idempotency, { ttlHours: 48, purgeIntervalMs: 1_000 });
  assert.throws(() => loadConfig({ ORDERS_IDEMPOTENCY_TTL_HOURS: '0' }), { code: 'PLT_ERR_CONFIG' });
  assert.throws(() => loadConfig({ ORDERS_IDEMPOTENCY_TTL_HOURS: 'a day' }), { code: 'PLT_ERR_CONFIG' });
});
