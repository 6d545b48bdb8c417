import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linearScale, linearTicks, logScale, logTicks, niceStep } from './scale.ts';

test('a nice step is 1, 2 or 5 times a power of ten', () => {
  assert.deepEqual([0.3, 1, 1.5, 3, 7, 42, 180].map(niceStep), [0.5, 1, 2, 5, 10, 50, 200]);
});

test('linear ticks are round, ascending and cover the values', () => {
  assert.deepEqual(linearTicks(0, 830), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(linearTicks(0.1, 0.9), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

test('a log axis over latencies ticks at the powers of ten inside its domain', () => {
  const s = logScale([0.9, 12, 140, 1500], [300, 0]);
  assert.deepEqual(s.domain, [0.5, 2000]);
  assert.deepEqual(s.ticks, [1, 10, 100, 1000]);
});

test('a log axis over less than a decade widens to whole decades with 1-2-5 ticks', () => {
  const s = logScale([12, 18], [300, 0]);
  assert.deepEqual(s.domain, [10, 100]);
  assert.deepEqual(s.ticks, [10, 20, 50, 100]);
});

test('log ticks are positive, ascending, inside the domain and at least two', () => {
  for (const [lo, hi] of [[0.5, 2000], [1, 10], [0.001, 0.02], [5, 50], [100, 1e6]]) {
    const ticks = logTicks(lo, hi);
    assert.ok(ticks.length >= 2, `${lo}..${hi}: ${ticks}`);
    for (const [i, t] of ticks.entries()) {
      assert.ok(t > 0 && t >= lo * 0.999 && t <= hi * 1.001, `${t} in ${lo}..${hi}`);
      if (i > 0) assert.ok(t > ticks[i - 1]);
    }
  }
});

test('a log axis maps its domain onto the range and refuses zeros, negatives and nulls', () => {
  const s = logScale([1, 100], [300, 0]);
  assert.equal(s.map(1), 300);
  assert.equal(s.map(10), 150);
  assert.equal(s.map(100), 0);
  assert.deepEqual([0, -5, null, Number.NaN, 3].map((v) => s.accepts(v)), [false, false, false, false, true]);
});

test('scales over no data, one value or only nulls still have a finite domain', () => {
  for (const values of [[], [null], [0], [7], [Number.NaN, 7], [-3]]) {
    for (const s of [linearScale(values, [0, 100]), linearScale(values, [0, 100], { zero: true }), logScale(values, [100, 0])]) {
      assert.ok(s.domain.every(Number.isFinite) && s.domain[0] < s.domain[1], `${JSON.stringify(values)} -> ${s.domain}`);
      assert.ok(s.ticks.length >= 2 && s.ticks.every(Number.isFinite));
      assert.ok(s.ticks.every((t) => Number.isFinite(s.map(t))));
    }
  }
});
