import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGroupQueue } from './group-commit.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('items pushed while a group is in flight share the next group', async () => {
  const groups: number[][] = [];
  const gate = deferred();
  const q = createGroupQueue<number>({
    maxConcurrent: 1,
    maxWeight: 100,
    run: async (g) => {
      groups.push(g);
      if (groups.length === 1) await gate.promise;
    },
  });
  q.push(1);
  await new Promise((r) => setImmediate(r));
  for (let i = 2; i <= 5; i++) q.push(i);
  gate.resolve();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(groups, [[1], [2, 3, 4, 5]]);
});

test('a group never exceeds the weight limit, but a heavy first item still goes alone', async () => {
  const groups: number[][] = [];
  const q = createGroupQueue<number>({ maxConcurrent: 1, maxWeight: 5, weight: (n) => n, run: async (g) => void groups.push(g) });
  for (const n of [9, 2, 2, 2, 4]) q.push(n);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(groups, [[9], [2, 2], [2], [4]]);
});

test('no more than maxConcurrent groups run at once', async () => {
  let running = 0;
  let peak = 0;
  const q = createGroupQueue<number>({
    maxConcurrent: 2,
    maxWeight: 1,
    run: async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    },
  });
  for (let i = 0; i < 8; i++) q.push(i);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(peak, 2);
  assert.equal(running, 0);
});

test('with maxQueued, push refuses an item once that many wait, and takes items again as groups start', async () => {
  const gate = deferred();
  const groups: number[][] = [];
  const q = createGroupQueue<number>({
    maxConcurrent: 1,
    maxWeight: 2,
    maxQueued: 3,
    run: async (g) => {
      groups.push(g);
      if (groups.length === 1) await gate.promise;
    },
  });
  assert.equal(q.push(1), true);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([q.push(2), q.push(3), q.push(4), q.push(5)], [true, true, true, false]);
  assert.equal(q.queued, 3);
  gate.resolve();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(groups, [[1], [2, 3], [4]]);
  assert.equal(q.push(6), true);
});
