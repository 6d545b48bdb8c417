import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';
import type { Bus, InRecord, OutRecord } from '../bus.ts';
import { partitionFor } from '../bus.ts';
import { openKafkaBus } from './kafka-bus.ts';
import { deliveryLog, endsOf } from '#test/support/kafka-deliveries.ts';

const opts = { skip: kafkaSkip(), timeout: 120_000 };

async function openBus(t: TestContext, namespace = uniqueName('kbt')): Promise<Bus | undefined> {
  const brokers = kafkaBrokers(t);
  if (!brokers) return undefined;
  const bus = await openKafkaBus({ brokers, clientId: 'kafka-bus-test', namespace });
  t.after(() => bus.close());
  return bus;
}

function waitFor(check: () => boolean, ms = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

const rec = (topic: string, key: string, value: string, headers: Record<string, string> = {}): OutRecord => ({ topic, key, value, headers });

test('a published record is consumed with its key, value and headers', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'orders', partitions: 2 }]);
  const got: InRecord[] = [];
  const sub = await bus.subscribe({ groupId: 'g1', topics: ['orders'], handle: async (batch) => void got.push(...batch) });
  t.after(() => sub.close());
  await bus.publish([rec('orders', 'order-1', '{"hello":"world"}', { type: 'OrderPlaced', correlationId: 'c-1' })]);
  await waitFor(() => got.length === 1, 30_000, 'the record');
  assert.equal(got[0].topic, 'orders');
  assert.equal(got[0].key, 'order-1');
  assert.equal(got[0].value, '{"hello":"world"}');
  assert.deepEqual(got[0].headers, { type: 'OrderPlaced', correlationId: 'c-1' });
  assert.equal(got[0].partition, partitionFor('order-1', 2));
  assert.match(got[0].offset, /^\d+$/);
});

test('records of one key arrive in publish order across 500 records on 4 partitions', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'events', partitions: 4 }]);
  const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
  const seen = new Map<string, number[]>();
  let total = 0;
  const sub = await bus.subscribe({
    groupId: 'order',
    topics: ['events'],
    maxBatch: 17,
    handle: async (batch) => {
      const partitions = new Set(batch.map((r) => r.partition));
      assert.equal(partitions.size, 1, 'a batch holds records of one partition');
      for (const r of batch) {
        const list = seen.get(r.key) ?? [];
        list.push(Number(r.value));
        seen.set(r.key, list);
        total++;
      }
    },
  });
  t.after(() => sub.close());
  for (let i = 0; i < 500; i += 50) {
    await bus.publish(Array.from({ length: 50 }, (_, j) => rec('events', keys[(i + j) % keys.length], String(i + j))));
  }
  await waitFor(() => total >= 500, 30_000, '500 records');
  assert.equal(total, 500);
  for (const [key, values] of seen) {
    assert.deepEqual(values, [...values].sort((a, b) => a - b), `order of ${key}`);
  }
});

test('a group resumes at its committed offset after close and a new subscription', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'resume', partitions: 1 }]);
  await bus.publish(Array.from({ length: 10 }, (_, i) => rec('resume', 'k', `a${i}`)));
  const first: string[] = [];
  const sub1 = await bus.subscribe({ groupId: 'g', topics: ['resume'], handle: async (b) => void first.push(...b.map((r) => r.value)) });
  await waitFor(() => first.length === 10, 30_000, 'first 10');
  await sub1.close();
  assert.equal(await bus.lag('g', ['resume']), 0);

  await bus.publish(Array.from({ length: 5 }, (_, i) => rec('resume', 'k', `b${i}`)));
  const second: string[] = [];
  const sub2 = await bus.subscribe({ groupId: 'g', topics: ['resume'], handle: async (b) => void second.push(...b.map((r) => r.value)) });
  t.after(() => sub2.close());
  await waitFor(() => second.length >= 5, 30_000, 'the 5 new records');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(second, ['b0', 'b1', 'b2', 'b3', 'b4']);
});

test('a rejected batch is delivered again and not committed until it succeeds', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'retry', partitions: 1 }]);
  await bus.publish([rec('retry', 'k', 'one'), rec('retry', 'k', 'two')]);
  const attempts: string[][] = [];
  let fail = true;
  const sub = await bus.subscribe({
    groupId: 'g',
    topics: ['retry'],
    handle: async (batch) => {
      attempts.push(batch.map((r) => r.value));
      if (fail) throw new Error('handler down');
    },
  });
  t.after(() => sub.close());
  await waitFor(() => attempts.length >= 2, 30_000, 'a redelivery');
  assert.deepEqual(attempts[0], ['one', 'two']);
  assert.deepEqual(attempts[1], ['one', 'two']);
  assert.equal(await bus.lag('g', ['retry']), 2, 'nothing committed while the handler fails');
  fail = false;
  const before = attempts.length;
  await waitFor(() => attempts.length > before, 30_000, 'the successful attempt');
  const deadline = Date.now() + 10_000;
  while ((await bus.lag('g', ['retry'])) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await bus.lag('g', ['retry']), 0);
});

test('closing a subscription whose handler keeps failing does not wait for its retries', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'stuck', partitions: 1 }]);
  await bus.publish([rec('stuck', 'k', 'v')]);
  let attempts = 0;
  const sub = await bus.subscribe({
    groupId: 'g',
    topics: ['stuck'],
    handle: async () => {
      attempts++;
      throw new Error('always');
    },
  });
  await waitFor(() => attempts >= 3, 30_000, 'three attempts');
  const started = Date.now();
  await sub.close();
  assert.ok(Date.now() - started < 5_000, `close took ${Date.now() - started} ms`);
  assert.equal(await bus.lag('g', ['stuck']), 1);
});

test('two members of a group share the partitions and together handle every record, each key in order, duplicates only as replays of what was not committed', opts, async (t) => {
  const namespace = uniqueName('kbt');
  const bus = await openBus(t, namespace);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'shared', partitions: 4 }]);
  const log = deliveryLog(t, `${namespace}.shared`);
  const member = (name: string) => async (batch: InRecord[]) => {
    log.add(name, batch);
    // Slow enough that batches are in flight while the group rebalances.
    await new Promise((r) => setTimeout(r, 5));
  };
  const a = await bus.subscribe({ groupId: 'shared', topics: ['shared'], handle: member('A') });
  t.after(() => a.close());
  await bus.publish(Array.from({ length: 200 }, (_, i) => rec('shared', `k${i % 40}`, `a${i}`)));
  // B joins while records flow: the partitions it takes move mid-stream.
  const publishing = (async () => {
    for (let i = 0; i < 200; i += 10) {
      await bus.publish(Array.from({ length: 10 }, (_, j) => rec('shared', `k${(i + j) % 40}`, `b${i + j}`)));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const b = await bus.subscribe({ groupId: 'shared', topics: ['shared'], handle: member('B') });
  t.after(() => b.close());
  await publishing;
  await waitFor(() => log.distinct() === 400, 60_000, 'all 400 records');
  const beforeLast = log.count('B');
  await bus.publish(Array.from({ length: 40 }, (_, i) => rec('shared', `k${i}`, `c${i}`)));
  await waitFor(() => log.distinct() === 440, 60_000, 'the last 40 records');
  await a.close();
  await b.close();
  assert.ok(log.count('B') > beforeLast, 'the second member owns partitions after the rebalance and handled records');
  const report = log.check(endsOf(await bus.positions(['shared'])));
  t.diagnostic(`${report.duplicates} records handed out twice; (re)starts: ${report.restarts.map((r) => `${r.member}@p${r.partition}:${r.offset} (committed ${r.committed})`).join(', ')}`);
  assert.equal(await bus.lag('shared', ['shared']), 0);
});

test('lag counts the records a group has not committed', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'lagging', partitions: 3 }]);
  await bus.publish(Array.from({ length: 30 }, (_, i) => rec('lagging', `k${i}`, String(i))));
  assert.equal(await bus.lag('nobody-yet', ['lagging']), 30);
  let handled = 0;
  const sub = await bus.subscribe({ groupId: 'some', topics: ['lagging'], handle: async (b) => void (handled += b.length) });
  await waitFor(() => handled === 30, 30_000, '30 records');
  await sub.close();
  assert.equal(await bus.lag('some', ['lagging']), 0);
  await bus.publish([rec('lagging', 'x', 'late')]);
  assert.equal(await bus.lag('some', ['lagging']), 1);
});

test('the partition of a key equals partitionFor(key, partitions)', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'spread', partitions: 7 }]);
  const keys = Array.from({ length: 200 }, (_, i) => `${i}-${'x'.repeat(i % 9)}-é`);
  await bus.publish(keys.map((k) => rec('spread', k, k)));
  const records = await bus.read('spread', { limit: 1000 });
  assert.equal(records.length, 200);
  for (const r of records) assert.equal(r.partition, partitionFor(r.key, 7), `partition of ${r.key}`);
  assert.ok(new Set(records.map((r) => r.partition)).size > 1);
});

test('read returns records from the beginning up to the limit, and ensureTopics is idempotent', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await bus.ensureTopics([{ name: 'dead', partitions: 2 }]);
  await bus.ensureTopics([{ name: 'dead', partitions: 2 }]);
  assert.deepEqual(await bus.read('dead'), []);
  await bus.publish(Array.from({ length: 12 }, (_, i) => rec('dead', `k${i}`, String(i), { error: 'boom' })));
  const all = await bus.read('dead');
  assert.equal(all.length, 12);
  assert.equal(all[0].headers.error, 'boom');
  assert.equal((await bus.read('dead', { limit: 5 })).length, 5);
});

test('publishing or subscribing to a missing topic, or using a closed bus, fails with a coded error', opts, async (t) => {
  const bus = await openBus(t);
  if (!bus) return;
  await assert.rejects(bus.publish([rec('missing', 'k', 'v')]), { code: 'PLT_ERR_KAFKA_UNKNOWN_TOPIC' });
  await assert.rejects(bus.subscribe({ groupId: 'g', topics: ['missing'], handle: async () => {} }), { code: 'PLT_ERR_KAFKA_UNKNOWN_TOPIC' });
  await bus.close();
  await assert.rejects(bus.publish([rec('missing', 'k', 'v')]), { code: 'PLT_ERR_KAFKA_CLOSED' });
});
