import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLatencyHistogram, mergeHistograms } from './histogram.ts';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= expected * 0.002 + 0.001, `${what}: ${actual} is not ~${expected}`);

test('a histogram reports percentiles in milliseconds within its three significant figures', () => {
  const h = createLatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i);
  const s = h.summary();
  assert.equal(s.count, 1000);
  close(s.p50, 500, 'p50');
  close(s.p90, 900, 'p90');
  close(s.p99, 990, 'p99');
  close(s.p999, 999, 'p99.9');
  close(s.max, 1000, 'max');
  close(s.mean, 500.5, 'mean');
});

test('sub-millisecond latencies keep microsecond resolution', () => {
  const h = createLatencyHistogram();
  h.record(0.25);
  h.record(0.75);
  close(h.summary().max, 0.75, 'max');
  close(h.percentile(50), 0.25, 'p50');
});

test('an empty histogram summarizes to zeros rather than NaN', () => {
  assert.deepEqual(createLatencyHistogram().summary(), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
});

test('merged histograms hold the values of all of them', () => {
  const a = createLatencyHistogram();
  const b = createLatencyHistogram();
  for (let i = 0; i < 99; i++) a.record(10);
  b.record(5000);
  const m = mergeHistograms([a, b]);
  assert.equal(m.count(), 100);
  close(m.summary().max, 5000, 'max');
  close(m.percentile(50), 10, 'p50');
  assert.equal(a.count(), 99, 'merging leaves the inputs as they were');
});

test('zero, negative and absurd values are clamped instead of throwing', () => {
  const h = createLatencyHistogram();
  h.record(0);
  h.record(-3);
  h.record(Number.NaN);
  h.record(1e12);
  assert.equal(h.count(), 4);
});
