import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommitItem } from './lazy-commits.ts';
import { lazyCommits } from './lazy-commits.ts';

const item = (partition: number, offset: number): CommitItem => ({ topic: 't', partition, offset: BigInt(offset), leaderEpoch: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const offsets = (items: CommitItem[]) => items.map((i) => `${i.partition}@${i.offset}`).sort();

// The commit function is the fault injector here; kafka-commits.test.ts runs the real broker.
function recorder(failFirst = 0) {
  const sent: string[][] = [];
  let failures = failFirst;
  return {
    sent,
    commit: async (items: CommitItem[]) => {
      if (failures-- > 0) throw new Error('injected commit failure');
      sent.push(offsets(items));
    },
  };
}

test('handled batches are committed together once the interval passes, not one by one', async () => {
  const r = recorder();
  const c = lazyCommits(r.commit, { intervalMs: 50, everyRecords: 1000 }, () => {});
  c.handled(item(0, 10), 10);
  c.handled(item(0, 20), 10);
  c.handled(item(1, 5), 5);
  assert.deepEqual(r.sent, [], 'nothing committed before the interval');
  await sleep(120);
  assert.deepEqual(r.sent, [['0@20', '1@5']]);
  c.stop();
});

test('reaching everyRecords commits at once', async () => {
  const r = recorder();
  const c = lazyCommits(r.commit, { intervalMs: 60_000, everyRecords: 100 }, () => {});
  c.handled(item(0, 60), 60);
  await sleep(5);
  assert.deepEqual(r.sent, []);
  c.handled(item(0, 100), 40);
  await sleep(5);
  assert.deepEqual(r.sent, [['0@100']]);
  c.stop();
});

test('a failed commit keeps its offsets for the next flush and never sends an older offset after a newer one', async () => {
  const r = recorder(1);
  const errors: unknown[] = [];
  const c = lazyCommits(r.commit, { intervalMs: 60_000, everyRecords: 1000 }, (err) => errors.push(err));
  c.handled(item(0, 10), 10);
  c.handled(item(1, 3), 3);
  await c.flush();
  assert.equal(errors.length, 1);
  assert.deepEqual(r.sent, []);
  assert.deepEqual([...c.pending()], [['t:0', 10n], ['t:1', 3n]], 'the failed offsets are pending again');
  c.handled(item(0, 15), 5);
  await c.flush();
  assert.deepEqual(r.sent, [['0@15', '1@3']]);
  // A mark at or below what was committed is never sent again (the offset only moves forward).
  c.handled(item(0, 12), 1);
  await c.flush();
  assert.deepEqual(r.sent, [['0@15', '1@3']]);
  c.stop();
});

test('a failed commit is retried by the timer without a new batch', async () => {
  const r = recorder(1);
  const c = lazyCommits(r.commit, { intervalMs: 30, everyRecords: 1000 }, () => {});
  c.handled(item(0, 7), 7);
  await sleep(150);
  assert.deepEqual(r.sent, [['0@7']]);
  c.stop();
});

test('the marks of a partition we lost are forgotten, so its new owner’s offset is never moved back', async () => {
  const r = recorder();
  const c = lazyCommits(r.commit, { intervalMs: 60_000, everyRecords: 1000 }, () => {});
  c.handled(item(0, 10), 10);
  c.handled(item(1, 10), 10);
  c.forget('t', 1);
  await c.flush();
  assert.deepEqual(r.sent, [['0@10']]);
  c.stop();
});
