import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedule, trackingNumberFor } from './carrier.ts';

const ORDER = '0190f5e2-7b3c-7d4e-8f00-123456789abc';
const SAME_MS = '0190f5e2-7b3c-7d4e-8f00-fedcba987654';

test('given a served country, when scheduling, then a shipment is scheduled with a tracking number', () => {
  const outcome = schedule(ORDER, 'FR');
  assert.equal(outcome.status, 'SCHEDULED');
  assert.match(outcome.status === 'SCHEDULED' ? outcome.trackingNumber : '', /^TRK-[0-9A-F]{12}$/);
});

test('given country XX, when scheduling, then it is rejected as COUNTRY_NOT_SERVED', () => {
  assert.deepEqual(schedule(ORDER, 'XX'), { status: 'REJECTED', reason: 'COUNTRY_NOT_SERVED' });
});

test('given country xx in lower case, when scheduling, then it is rejected as COUNTRY_NOT_SERVED too', () => {
  assert.deepEqual(schedule(ORDER, 'xx'), { status: 'REJECTED', reason: 'COUNTRY_NOT_SERVED' });
});

test('given a country that is not two letters, when scheduling, then it is rejected as INVALID_COUNTRY', () => {
  for (const country of ['', 'F', 'FRA', '12', 'F1']) {
    assert.deepEqual(schedule(ORDER, country), { status: 'REJECTED', reason: 'INVALID_COUNTRY' }, country);
  }
});

test('the same order always gets the same tracking number', () => {
  assert.deepEqual(schedule(ORDER, 'DE'), schedule(ORDER, 'DE'));
  assert.equal(trackingNumberFor(ORDER), trackingNumberFor(ORDER.toUpperCase()));
});

test('orders placed in the same millisecond get different tracking numbers', () => {
  assert.notEqual(trackingNumberFor(ORDER), trackingNumberFor(SAME_MS));
});
