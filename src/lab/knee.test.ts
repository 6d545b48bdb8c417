import assert from 'node:assert/strict';
import { test } from 'node:test';
import { healthy, knee, kneeRatios, saturated, shouldStop } from './knee.ts';

const step = (targetRate: number, o: { p99?: number; errorRatio?: number; completedRate?: number; completed?: number } = {}) => ({
  targetRate,
  completed: o.completed ?? targetRate * 10,
  completedRate: o.completedRate ?? targetRate,
  errorRatio: o.errorRatio ?? 0,
  completion: { count: 1, mean: 1, p50: 1, p90: 1, p99: o.p99 ?? 100, p999: 1, max: 1 },
});

test('a step is healthy with completion p99 under a second and under 1 % errors', () => {
  assert.equal(healthy(step(100)), true);
  assert.equal(healthy(step(100, { p99: 1000 })), false);
  assert.equal(healthy(step(100, { errorRatio: 0.01 })), false);
  assert.equal(healthy(step(100, { errorRatio: 0.0099 })), true);
});

test('a step that completed nothing is not healthy, whatever its empty histogram says', () => {
  assert.equal(healthy(step(100, { completed: 0, p99: 0 })), false);
});

test('a step is saturated when completions fall below 90 % of the rate, p99 passes 5 s, or errors pass 10 %', () => {
  assert.equal(saturated(step(100)), false);
  assert.equal(saturated(step(100, { completedRate: 89 })), true);
  assert.equal(saturated(step(100, { completedRate: 90 })), false);
  assert.equal(saturated(step(100, { p99: 5001 })), true);
  assert.equal(saturated(step(100, { errorRatio: 0.11 })), true);
  assert.equal(saturated(step(100, { p99: 2000, errorRatio: 0.05 })), false, 'unhealthy is not yet saturated');
});

test('stepping stops after a saturated step or two unhealthy steps in a row', () => {
  assert.equal(shouldStop([]), false);
  assert.equal(shouldStop([step(50), step(100)]), false);
  assert.equal(shouldStop([step(50), step(100, { completedRate: 10 })]), true);
  assert.equal(shouldStop([step(50), step(100, { p99: 2000 })]), false, 'one unhealthy step may be a hiccup');
  assert.equal(shouldStop([step(100, { p99: 2000 }), step(200, { p99: 3000 })]), true);
  assert.equal(shouldStop([step(100, { p99: 2000 }), step(200)]), false);
});

test('the knee is the highest target rate of a healthy step', () => {
  const steps = [step(50), step(100), step(200, { p99: 1500 }), step(300), step(400, { completedRate: 100, errorRatio: 0.75 })];
  assert.equal(knee(steps)?.rate, 300, 'a healthy step after an unhealthy one still counts');
  assert.equal(knee(steps)?.step, steps[3]);
  assert.equal(knee([step(50, { errorRatio: 0.5 })]), null);
  assert.equal(knee([]), null);
});

test('knee ratios compare each pair of architectures that both have a knee', () => {
  const r = kneeRatios([{ arch: 'events', knee: 1300 }, { arch: 'rest', knee: 500 }, { arch: 'choreography', knee: null }]);
  assert.deepEqual(r, { 'events/rest': 2.6, 'rest/events': 0.38 });
});
