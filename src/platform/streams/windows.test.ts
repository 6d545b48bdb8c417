import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOrderflowError } from '#platform/errors.ts';
import { count, countBy, hopping, isClosed, latencySketch, quantile, sum, tumbling, windowsOf } from './windows.ts';

test('a tumbling window holds its start and not its end: a record on a boundary opens the next window', () => {
  const w = tumbling(60_000);
  assert.deepEqual(windowsOf(w, 0), [{ start: 0, end: 60_000 }]);
  assert.deepEqual(windowsOf(w, 59_999), [{ start: 0, end: 60_000 }]);
  assert.deepEqual(windowsOf(w, 60_000), [{ start: 60_000, end: 120_000 }]);
});

test('a hopping window of 10 s every 5 s puts each record in two windows, boundaries included', () => {
  const w = hopping(10_000, 5_000);
  assert.deepEqual(windowsOf(w, 7_000), [{ start: 0, end: 10_000 }, { start: 5_000, end: 15_000 }]);
  assert.deepEqual(windowsOf(w, 10_000), [{ start: 5_000, end: 15_000 }, { start: 10_000, end: 20_000 }]);
  assert.deepEqual(windowsOf(w, 4_999), [{ start: -5_000, end: 5_000 }, { start: 0, end: 10_000 }]);
});

test('a hopping window whose advance does not divide its size still covers every record with size/advance windows, rounded', () => {
  const w = hopping(10_000, 3_000);
  const got = windowsOf(w, 9_500);
  assert.deepEqual(got, [{ start: 0, end: 10_000 }, { start: 3_000, end: 13_000 }, { start: 6_000, end: 16_000 }, { start: 9_000, end: 19_000 }]);
  for (const x of got) assert.ok(x.start <= 9_500 && 9_500 < x.end);
});

test('a window closes when the watermark reaches its end plus the grace, not before', () => {
  const w = tumbling(1_000, { graceMs: 500 });
  assert.equal(isClosed(w, { start: 0, end: 1_000 }, 1_499), false);
  assert.equal(isClosed(w, { start: 0, end: 1_000 }, 1_500), true);
});

test('window specs out of range are refused with a coded error', () => {
  for (const make of [() => tumbling(0), () => hopping(1_000, 2_000), () => tumbling(1_000, { graceMs: -1 }), () => hopping(1.5, 1)]) {
    assert.throws(make, (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
  }
});

test('count, sum and countBy fold records into JSON accumulators', () => {
  const values = [{ cents: 100, reason: 'OUT_OF_STOCK' }, { cents: 250, reason: 'PAYMENT_DECLINED' }, { cents: 50, reason: 'OUT_OF_STOCK' }];
  const fold = <A>(agg: { init(): A; add(a: A, v: (typeof values)[number]): A }) => JSON.parse(JSON.stringify(values.reduce((a, v) => agg.add(a, v), agg.init()))) as A;
  assert.equal(fold(count()), 3);
  assert.equal(fold(sum((v: { cents: number }) => v.cents)), 400);
  assert.deepEqual(fold(countBy((v: { reason: string }) => v.reason)), { OUT_OF_STOCK: 2, PAYMENT_DECLINED: 1 });
});

test('the latency sketch gives p50 and p99 within 1% of the exact quantiles, and stays small', () => {
  const sketch = latencySketch((v: number) => v);
  let s = sketch.init();
  const xs: number[] = [];
  // A skewed distribution, deterministic: most fast, a slow tail.
  for (let i = 1; i <= 10_000; i++) {
    const x = i % 100 === 0 ? 2_000 + i : 10 + (i % 97) * 3;
    xs.push(x);
    s = sketch.add(s, x);
  }
  s = JSON.parse(JSON.stringify(s));
  const sorted = [...xs].sort((a, b) => a - b);
  for (const q of [0.5, 0.99]) {
    const exact = sorted[Math.floor(q * (sorted.length - 1))];
    const got = quantile(s, q)!;
    assert.ok(Math.abs(got - exact) <= exact * 0.01 + 1e-9, `q${q}: ${got} vs ${exact}`);
  }
  assert.ok(Object.keys(s.b).length < 600, `buckets: ${Object.keys(s.b).length}`);
  assert.equal(quantile(latencySketch((v: number) => v).init(), 0.5), undefined);
});

test('the latency sketch keeps zero latencies apart and never answers outside the seen range', () => {
  const sketch = latencySketch((v: number) => v);
  let s = sketch.init();
  for (const x of [0, 0, 0, 5]) s = sketch.add(s, x);
  assert.equal(quantile(s, 0.5), 0);
  assert.equal(quantile(s, 1), 5);
});
