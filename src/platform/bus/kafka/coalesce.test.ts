import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce } from './coalesce.ts';

function recorder(delayMs: number) {
  const runs: number[][] = [];
  const run = async (items: number[]) => {
    runs.push(items);
    await new Promise((r) => setTimeout(r, delayMs));
  };
  return { runs, run };
}

test('the first call runs at once; calls made while it is in flight go out together next', async () => {
  const { runs, run } = recorder(20);
  const send = coalesce(run);
  const first = send(1);
  assert.deepEqual(runs, [[1]], 'no linger: the first call did not wait');
  await Promise.all([first, send(2), send(3), send(4)]);
  assert.deepEqual(runs, [[1], [2, 3, 4]]);
});

test('with a linger, calls arriving within it share the first run', async () => {
  const { runs, run } = recorder(1);
  const send = coalesce(run, Infinity, 30);
  const a = send(1);
  await new Promise((r) => setTimeout(r, 10));
  const b = send(2);
  assert.deepEqual(runs, [], 'nothing sent while lingering');
  await Promise.all([a, b]);
  assert.deepEqual(runs, [[1, 2]]);
});

test('a run takes at most maxItems; a failed run rejects only its own calls', async () => {
  let calls = 0;
  const runs: number[][] = [];
  const send = coalesce<number>(async (items) => {
    runs.push(items);
    await new Promise((r) => setTimeout(r, 5));
    if (calls++ === 1) throw new Error('broker said no');
  }, 2);
  const results = await Promise.allSettled([send(1), send(2), send(3), send(4), send(5)]);
  assert.deepEqual(runs, [[1], [2, 3], [4, 5]]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
});
