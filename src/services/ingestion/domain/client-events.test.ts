import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitEvents, MAX_EVENTS_PER_BATCH } from './client-events.ts';

const now = new Date('2026-12-05T12:00:00.000Z');
const product = '0190a0b0-0000-7000-8000-000000000001';
const viewed = (over: Record<string, unknown> = {}) => ({ type: 'product.viewed', sessionId: 's-1', productId: product, at: '2026-12-05T11:59:00.000Z', ...over });

test('each kind of client event becomes its contract\'s message, keyed by session, timed by the client', () => {
  const { accepted, rejected } = admitEvents([
    viewed(),
    { type: 'product.searched', sessionId: 's-1', query: 'red shoes', resultCount: 3, at: '2026-12-05T11:59:30+01:00' },
    { type: 'cart.updated', sessionId: 's-2', productId: product, quantity: 0, at: '2026-12-05T11:59:59.999Z' },
  ], { now });
  assert.deepEqual(rejected, []);
  assert.deepEqual(accepted.map((a) => [a.topic, a.message.type, a.message.key, a.message.occurredAt]), [
    ['client.events', 'ProductViewed', 's-1', '2026-12-05T11:59:00.000Z'],
    ['client.events', 'ProductSearched', 's-1', '2026-12-05T10:59:30.000Z'],
    ['client.events', 'CartUpdated', 's-2', '2026-12-05T11:59:59.999Z'],
  ]);
  assert.deepEqual(accepted[0].message.payload, { sessionId: 's-1', productId: product });
});

test('the customer is the caller the gateway verified, never the client\'s own say', () => {
  const asCustomer = admitEvents([viewed()], { now, customerId: 'c-7' });
  assert.deepEqual(asCustomer.accepted[0].message.payload, { sessionId: 's-1', productId: product, customerId: 'c-7' });
  const claimed = admitEvents([viewed({ customerId: 'someone-else' })], { now, customerId: 'c-7' });
  assert.equal(claimed.accepted.length, 0);
  assert.equal(claimed.rejected[0].error.code, 'ING_ERR_INVALID_EVENT');
});

test('a bad event is rejected with its index and why; the others of the batch go on', () => {
  const { accepted, rejected } = admitEvents([
    viewed(),
    { type: 'page.scrolled', sessionId: 's-1', at: now.toISOString() },
    viewed({ productId: 'not-a-uuid' }),
    viewed({ at: 'yesterday' }),
    viewed({ at: '2026-12-05T11:59:00' }),
    viewed({ colour: 'red' }),
    'just a string',
    null,
    { type: 'product.searched', sessionId: 's-1', at: now.toISOString() },
    viewed({ sessionId: '' }),
    viewed({ id: 'not-a-uuid' }),
    viewed(),
  ], { now });
  assert.equal(accepted.length, 2);
  assert.deepEqual(rejected.map((r) => [r.index, r.error.code]), [
    [1, 'ING_ERR_UNKNOWN_EVENT_TYPE'],
    [2, 'ING_ERR_INVALID_EVENT'],
    [3, 'ING_ERR_INVALID_EVENT'],
    [4, 'ING_ERR_INVALID_EVENT'],
    [5, 'ING_ERR_INVALID_EVENT'],
    [6, 'ING_ERR_INVALID_EVENT'],
    [7, 'ING_ERR_INVALID_EVENT'],
    [8, 'ING_ERR_INVALID_EVENT'],
    [9, 'ING_ERR_INVALID_EVENT'],
    [10, 'ING_ERR_INVALID_EVENT'],
  ]);
  assert.match(rejected.find((r) => r.index === 5)!.error.message, /colour/);
});

test('a client timestamp far from the server\'s clock is refused: ahead past the skew, or older than the age bound', () => {
  const bounds = { maxAheadMs: 60_000, maxAgeMs: 3_600_000 };
  const { accepted, rejected } = admitEvents([
    viewed({ at: '2026-12-05T12:01:00.000Z' }),
    viewed({ at: '2026-12-05T12:01:00.001Z' }),
    viewed({ at: '2026-12-05T11:00:00.000Z' }),
    viewed({ at: '2026-12-05T10:59:59.999Z' }),
  ], { now, bounds });
  assert.equal(accepted.length, 2, 'the bounds themselves are inside');
  assert.deepEqual(rejected.map((r) => [r.index, r.error.code]), [[1, 'ING_ERR_EVENT_TIME_OUT_OF_RANGE'], [3, 'ING_ERR_EVENT_TIME_OUT_OF_RANGE']]);
});

test('a client\'s event id becomes the message id, so a retried batch is recognisable; otherwise a new one each time', () => {
  const id = '0190a0b0-1111-7000-8000-000000000002';
  const given = admitEvents([viewed({ id })], { now });
  assert.equal(given.accepted[0].message.id, id);
  const a = admitEvents([viewed()], { now }).accepted[0].message.id;
  const b = admitEvents([viewed()], { now }).accepted[0].message.id;
  assert.notEqual(a, b);
  assert.equal(MAX_EVENTS_PER_BATCH, 500);
});
