import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, percentile, summarize } from './stats.ts';

test('percentiles use the nearest-rank definition', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile([7], 99), 7);
});

test('a summary of unsorted samples reports order statistics, not insertion order', () => {
  const s = summarize([5, 1, 4, 2, 3]);
  assert.deepEqual({ count: s.count, p50: s.p50, max: s.max, mean: s.mean }, { count: 5, p50: 3, max: 5, mean: 3 });
});

test('the median of an even count is the lower middle value', () => {
  assert.equal(median([4, 1, 3, 2]), 2);
});
