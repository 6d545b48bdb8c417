import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fold } from './domain/order.ts';
import { orderConfirmed, orderPlaced, paymentCharged, shipmentScheduled, stockReserved } from './domain/test-fixtures.ts';
import { createStateCache } from './state-cache.ts';

const withId = (id: string) => ({ ...orderPlaced, data: { ...orderPlaced.data, orderId: id } }) as typeof orderPlaced;

test('the cache keeps the newest state it was told of, never an older one', () => {
  const cache = createStateCache();
  const placed = fold([orderPlaced]);
  const reserved = fold([orderPlaced, stockReserved]);
  cache.remember(reserved);
  cache.remember(placed);
  assert.equal(cache.get(orderPlaced.data.orderId), reserved);
  cache.forget(orderPlaced.data.orderId);
  assert.equal(cache.get(orderPlaced.data.orderId), undefined);
});

test('a finished order leaves the cache', () => {
  const cache = createStateCache();
  cache.remember(fold([orderPlaced, stockReserved, paymentCharged]));
  cache.remember(fold([orderPlaced, stockReserved, paymentCharged, shipmentScheduled, orderConfirmed]));
  assert.equal(cache.size, 0);
});

test('a full cache drops the order written least recently', () => {
  const cache = createStateCache(2);
  const [a, b, c] = ['a', 'b', 'c'].map((id) => fold([withId(id)]));
  cache.remember(a);
  cache.remember(b);
  cache.remember(fold([stockReserved], a));
  cache.remember(c);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b'), undefined);
  assert.equal(cache.get('a')?.version, 2);
  assert.equal(cache.get('c'), c);
});
