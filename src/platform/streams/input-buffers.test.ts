import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InRecord } from '#platform/bus/bus.ts';
import { createInputBuffers, type Buffered } from './input-buffers.ts';

const rec = (topic: string, time: number): Buffered<string> => ({ topic, record: { topic, key: 'k', value: '', headers: {}, partition: 0, offset: String(time) } as InRecord, value: {}, time, delivery: topic });
const times = (rs: Buffered<string>[]) => rs.map((r) => `${r.topic}${r.time}`);

test('records are taken by smallest event time among the inputs\' heads, each input in its own order', () => {
  const b = createInputBuffers<string>(['a', 'b'], 1_000);
  b.add('a', [rec('a', 1), rec('a', 5), rec('a', 3)]);
  b.add('b', [rec('b', 2), rec('b', 4)]);
  // Once b is empty, a waits for it unless b is caught up.
  assert.deepEqual(times(b.take(10, 0, () => false).records), ['a1', 'b2', 'b4']);
  assert.deepEqual(times(b.take(10, 0, () => true).records), ['a5', 'a3']);
  assert.equal(b.size(), 0);
});

test('an empty input that is not caught up is waited for until maxIdleMs has passed, and not again until it had data', () => {
  const b = createInputBuffers<string>(['a', 'b'], 1_000);
  b.add('a', [rec('a', 1)]);
  assert.deepEqual(b.take(10, 100, () => false), { records: [], waitUntil: 1_100 });
  assert.deepEqual(b.take(10, 1_099, () => false), { records: [], waitUntil: 1_100 });
  assert.deepEqual(times(b.take(10, 1_100, () => false).records), ['a1']);
  b.add('a', [rec('a', 2)]);
  assert.deepEqual(times(b.take(10, 1_200, () => false).records), ['a2'], 'b still empty: no new wait');
  b.add('b', [rec('b', 3)]);
  assert.deepEqual(times(b.take(10, 1_300, () => false).records), [], 'b had data: a wait starts again once it is empty');
  b.add('a', [rec('a', 4)]);
  assert.deepEqual(times(b.take(10, 1_300, () => false).records), ['b3']);
  assert.deepEqual(b.take(10, 1_300, () => false).waitUntil, 2_300);
});

test('at most max records are taken; unreadable ones (no time) go first; clear returns what was buffered', () => {
  const b = createInputBuffers<string>(['a', 'b'], 0);
  b.add('a', [rec('a', 5), rec('a', 6)]);
  b.add('b', [rec('b', NaN), rec('b', 7)]);
  assert.deepEqual(times(b.take(2, 0, () => true).records), ['bNaN', 'a5']);
  assert.deepEqual(times(b.clear()), ['a6', 'b7']);
  assert.equal(b.size(), 0);
});
