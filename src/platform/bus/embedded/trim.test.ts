import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { InRecord, OutRecord, Subscription } from '#platform/bus/bus.ts';
import { openEmbeddedLog, type EmbeddedLog } from './embedded-log.ts';
import type { TrimOptions } from './trim.ts';

const HOUR = 3_600_000;
const quiet = { warn() {} };
const rec = (topic: string, key: string, value: string): OutRecord => ({ topic, key, value, headers: { type: 'T' } });

/** Logs on one file in a temp dir; `later` sees every record as two hours old, past the hour's retention. */
function setup(t: TestContext) {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  const defer = (fn: () => unknown) => void stack.push(fn);
  const dir = mkdtempSync(join(tmpdir(), 'embedded-trim-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bus.sqlite');
  const open = (retention?: TrimOptions): EmbeddedLog => {
    const bus = openEmbeddedLog({ file, log: quiet, commitIntervalMs: 10, retention });
    defer(() => bus.close());
    return bus;
  };
  const later: TrimOptions = { retentionMs: HOUR, intervalMs: HOUR, now: () => Date.now() + 2 * HOUR };
  return { file, open, defer, later };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Subscribes `groupId` to `topic`, keeping what it is handed. */
async function consume(bus: EmbeddedLog, groupId: string, topic: string, defer: (fn: () => unknown) => void) {
  const seen: InRecord[] = [];
  const sub: Subscription = await bus.subscribe({ groupId, topics: [topic], handle: async (b) => void seen.push(...b) });
  defer(() => sub.close());
  return { seen, sub };
}

const committedAll = (bus: EmbeddedLog, groupId: string, topic: string) => async () =>
  (await bus.positions([topic], groupId)).every((p) => p.committed === p.end);

test('records past the retention that every group committed are trimmed', async (t) => {
  const { open, defer, later } = setup(t);
  const bus = open(later);
  await bus.ensureTopics([{ name: 'orders', partitions: 2 }]);
  await bus.publish(Array.from({ length: 10 }, (_, i) => rec('orders', `k${i}`, String(i))));
  await consume(bus, 'a', 'orders', defer);
  await consume(bus, 'b', 'orders', defer);
  await waitFor('both groups to commit everything', async () => (await committedAll(bus, 'a', 'orders')()) && (await committedAll(bus, 'b', 'orders')()));

  assert.equal(await bus.trim(), 10);
  assert.deepEqual(await bus.read('orders'), []);
  for (const p of await bus.positions(['orders'], 'a')) assert.equal(p.start, p.end, `partition ${p.partition} starts at its end`);
  assert.equal(await bus.lag('a', ['orders']), 0);
});

test('records younger than the retention stay, committed or not', async (t) => {
  const { open, defer } = setup(t);
  const bus = open({ retentionMs: HOUR, intervalMs: HOUR });
  await bus.ensureTopics([{ name: 'orders', partitions: 2 }]);
  await bus.publish(Array.from({ length: 6 }, (_, i) => rec('orders', `k${i}`, String(i))));
  await consume(bus, 'a', 'orders', defer);
  await waitFor('the group to commit', committedAll(bus, 'a', 'orders'));
  assert.equal(await bus.trim(), 0);
  assert.equal((await bus.read('orders')).length, 6);
});

test('a record a slow group has not committed stays, however old', async (t) => {
  const { open, defer, later } = setup(t);
  const bus = open(later);
  await bus.ensureTopics([{ name: 'orders', partitions: 1 }]);
  await bus.publish([rec('orders', 'k', '0'), rec('orders', 'k', '1'), rec('orders', 'k', '2')]);
  const slow = await consume(bus, 'slow', 'orders', defer);
  await waitFor('the slow group to commit the first three', committedAll(bus, 'slow', 'orders'));
  await slow.sub.close();
  await bus.publish([rec('orders', 'k', '3'), rec('orders', 'k', '4')]);
  await consume(bus, 'fast', 'orders', defer);
  await waitFor('the fast group to commit all five', committedAll(bus, 'fast', 'orders'));

  assert.equal(await bus.trim(), 3);
  assert.deepEqual((await bus.read('orders')).map((r) => [r.offset, r.value]), [['3', '3'], ['4', '4']]);
  // The slow group comes back and finds what it had not handled.
  const back = await consume(bus, 'slow', 'orders', defer);
  await waitFor('the slow group to catch up', () => back.seen.length === 2);
  assert.deepEqual(back.seen.map((r) => r.value), ['3', '4']);
});

test('a group gone for longer than the group expiry no longer holds records back', async (t) => {
  const { open, defer } = setup(t);
  const DAY = 24 * HOUR;
  const publisher = open();
  await publisher.ensureTopics([{ name: 'orders', partitions: 1 }]);
  await publisher.publish([rec('orders', 'k', '0'), rec('orders', 'k', '1'), rec('orders', 'k', '2')]);
  const gone = await consume(publisher, 'gone', 'orders', defer);
  await waitFor('the departing group to commit', committedAll(publisher, 'gone', 'orders'));
  await gone.sub.close();
  await publisher.publish([rec('orders', 'k', '3'), rec('orders', 'k', '4')]);
  await consume(publisher, 'live', 'orders', defer);
  await waitFor('the live group to commit', committedAll(publisher, 'live', 'orders'));

  // Two hours on, within the week: the departed group still holds what it has not handled.
  const soon = open({ retentionMs: HOUR, intervalMs: HOUR, groupExpiryMs: 7 * DAY, now: () => Date.now() + 2 * HOUR });
  assert.equal(await soon.trim(), 3);
  // Eight days on: it has been gone past the expiry; only the live group counts.
  // (The live group's heartbeat is as old as this clock sees it, but it has committed all.)
  const later = open({ retentionMs: HOUR, intervalMs: HOUR, groupExpiryMs: 7 * DAY, now: () => Date.now() + 8 * DAY });
  assert.equal(await later.trim(), 2);
  assert.deepEqual(await publisher.read('orders'), []);
});

test('dead letters stay; a topic no group reads is trimmed by the retention alone', async (t) => {
  const { open, later } = setup(t);
  const bus = open(later);
  await bus.ensureTopics([{ name: 'orders.dlq', partitions: 2 }, { name: 'audit', partitions: 2 }]);
  await bus.publish([rec('orders.dlq', 'a', '1'), rec('orders.dlq', 'b', '2'), rec('audit', 'a', '1'), rec('audit', 'b', '2')]);
  assert.equal(await bus.trim(), 2);
  assert.equal((await bus.read('orders.dlq')).length, 2);
  assert.deepEqual(await bus.read('audit'), []);
});

test('a group new after a trim starts at the first record left, with the offsets it had', async (t) => {
  const { open, defer, later } = setup(t);
  const bus = open(later);
  await bus.ensureTopics([{ name: 'orders', partitions: 1 }]);
  await bus.publish(Array.from({ length: 10 }, (_, i) => rec('orders', 'k', String(i))));
  await consume(bus, 'a', 'orders', defer);
  await waitFor('the group to commit', committedAll(bus, 'a', 'orders'));
  assert.equal(await bus.trim(), 10);
  await bus.publish(Array.from({ length: 4 }, (_, i) => rec('orders', 'k', String(10 + i))));

  const [before] = await bus.positions(['orders']);
  assert.deepEqual([before.start, before.end], [10, 14]);
  assert.equal(await bus.lag('late', ['orders']), 4, 'a group that never committed lags by the records left');
  const late = await consume(bus, 'late', 'orders', defer);
  await waitFor('the new group to read what is left', () => late.seen.length === 4);
  assert.deepEqual(late.seen.map((r) => r.offset), ['10', '11', '12', '13']);
  await waitFor('the new group to commit', committedAll(bus, 'late', 'orders'));
  assert.equal(await bus.lag('late', ['orders']), 0);
});

test('two processes trimming one file while records flow lose no record a group has not handled', async (t) => {
  const { file, open, defer } = setup(t);
  // Retention 0: everything committed is trimmed at once, so the trims race the consumer and each other.
  const bus = open({ retentionMs: 0, intervalMs: HOUR, chunk: 5 });
  await bus.ensureTopics([{ name: 'orders', partitions: 4 }]);
  const { seen } = await consume(bus, 'g', 'orders', defer);

  const module = fileURLToPath(new URL('./embedded-log.ts', import.meta.url));
  const script = `
    import { openEmbeddedLog } from ${JSON.stringify(module)};
    const bus = openEmbeddedLog({ file: ${JSON.stringify(file)}, retention: { retentionMs: 0, intervalMs: 3600000, chunk: 7 } });
    await bus.ensureTopics([{ name: 'orders', partitions: 4 }]);
    let trimmed = 0;
    for (let i = 0; i < 50; i++) {
      await bus.publish(Array.from({ length: 20 }, (_, j) => ({ topic: 'orders', key: 'k' + (j % 8), value: String(i * 20 + j), headers: {} })));
      trimmed += await bus.trim();
    }
    await bus.close();
    console.log(trimmed);`;
  const child = spawn(join(process.cwd(), 'node_modules/.bin/node'), ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  let parentTrimmed = 0;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    parentTrimmed += await bus.trim();
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(await exited, 0);
  await waitFor('every record handled', () => seen.length >= 1000, 10_000);
  await waitFor('the group to commit', committedAll(bus, 'g', 'orders'));
  await new Promise((r) => setTimeout(r, 2));
  parentTrimmed += await bus.trim();

  assert.equal(seen.length, 1000, 'each record handed over once');
  assert.deepEqual(new Set(seen.map((r) => r.value)).size, 1000);
  for (let p = 0; p < 4; p++) {
    const offsets = seen.filter((r) => r.partition === p).map((r) => Number(r.offset));
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p} delivered in order without gaps`);
  }
  assert.equal(parentTrimmed + Number(out.trim()), 1000, 'every record trimmed exactly once, by one of the two');
  assert.deepEqual(await bus.read('orders'), []);
});

test('a compacted topic keeps the last record of each key and drops keys whose last record is a tombstone', async (t) => {
  const { open, later } = setup(t);
  const bus = open(later);
  await bus.ensureTopics([{ name: 'app.changelog', partitions: 1, compact: true }]);
  const at = (key: string, value: string): OutRecord => ({ ...rec('app.changelog', key, value), toPartition: 0, ...(value === '' ? { tombstone: true } : {}) });
  await bus.publish([at('k1', 'a'), at('k2', 'b'), at('k1', 'c'), at('k2', ''), at('k3', 'd'), at('k3', 'e')]);
  assert.equal(await bus.trim(), 4);
  const left = (await bus.readPartition('app.changelog', 0)).records.map((r) => [r.key, r.value, r.offset]);
  assert.deepEqual(left, [['k1', 'c', '2'], ['k3', 'e', '5']]);
  assert.equal(await bus.trim(), 0, 'a second pass finds nothing more');
});

test('a compacted topic loses nothing younger than the retention', async (t) => {
  const { open } = setup(t);
  const bus = open({ retentionMs: HOUR, intervalMs: HOUR });
  await bus.ensureTopics([{ name: 'app.changelog', partitions: 1, compact: true }]);
  await bus.publish([{ ...rec('app.changelog', 'k1', 'a'), toPartition: 0 }, { ...rec('app.changelog', 'k1', ''), toPartition: 0, tombstone: true }]);
  assert.equal(await bus.trim(), 0);
  assert.equal((await bus.readPartition('app.changelog', 0)).records.length, 2);
});
