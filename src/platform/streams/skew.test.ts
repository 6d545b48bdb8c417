/**
 * Skew between a task's inputs (input-buffers.ts, caught-up.ts): one input delivered far
 * ahead of another in event time is processed in stream-time order, so nothing is late that
 * would not be late had the inputs arrived interleaved; an input that is not caught up is
 * waited for at most maxIdleMs; one that is caught up is not waited for at all.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, OutRecord } from '#platform/bus/bus.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';
import { caughtUp, closing, decodeEvent, embeddedBus, event, table, type Event } from '#test/support/streams.ts';
import { windowedAggregate, type WindowResult } from './aggregate.ts';
import type { GroupTopics } from './caught-up.ts';
import { windowedJoin } from './join.ts';
import { input, startProcessor, type Processor } from './processor.ts';
import { count, tumbling } from './windows.ts';

const S = 1_000;
const APP = 'skew';
const KEYS = ['k0', 'k1', 'k2', 'k3'];

/** Counts per key and minute over both inputs, and joins an `a` with the `b`s of its key within 10 s after it; a grace of 1 s. */
async function start(t: TestContext, bus: Bus, opts: { maxIdleMs?: number; upstreamOfB?: GroupTopics[] } = {}): Promise<Processor> {
  await bus.ensureTopics([{ name: 'a', partitions: 2 }, { name: 'b', partitions: 2 }]);
  const p = await startProcessor({
    bus,
    app: APP,
    partitions: 2,
    maxBatch: 10,
    ...(opts.maxIdleMs !== undefined ? { maxIdleMs: opts.maxIdleMs } : {}),
    inputs: [
      input({ topic: 'a', decode: decodeEvent, time: (e) => e.t }),
      input({ topic: 'b', decode: decodeEvent, time: (e) => e.t, ...(opts.upstreamOfB ? { upstream: opts.upstreamOfB } : {}) }),
    ],
    operators: [
      windowedAggregate({ name: 'per-minute', topics: ['a', 'b'], windows: tumbling(60 * S, { graceMs: S }), aggregator: count(), output: 'counts' }),
      windowedJoin<Event, Event>({
        name: 'a-b', left: { topic: 'a' }, right: { topic: 'b' }, beforeMs: 0, afterMs: 10 * S, graceMs: S, output: 'pairs',
        join: (a, b) => ({ key: a.key, a: a.time, b: b.time }),
      }),
    ],
  });
  return closing(t, p);
}

// Twenty minutes of both inputs, each in time order: per key a record every 20 s, b 7 s after a.
const timeOf = (r: OutRecord) => (JSON.parse(r.value) as Event).t;
const byTime = (rs: OutRecord[]) => rs.sort((x, y) => timeOf(x) - timeOf(y));
const as = byTime(KEYS.flatMap((key, k) => Array.from({ length: 60 }, (_, i) => event('a', k % 2, key, { t: i * 20 * S + k }))));
const bs = byTime(KEYS.flatMap((key, k) => Array.from({ length: 60 }, (_, i) => event('b', k % 2, key, { t: i * 20 * S + 7 * S + k }))));
const interleaved = byTime([...as, ...bs]);

async function settled(bus: Bus): Promise<void> {
  await caughtUp(bus, APP, ['a', 'b']);
}

/** What a run produced: the window table and the join's matches (their keys name offsets, which differ between runs). */
async function results(bus: Bus): Promise<{ counts: Map<string, WindowResult<number>>; pairs: string[] }> {
  const pairs = [...(await table<{ key: string; a: number; b: number }>(bus, 'pairs')).values()].map((m) => `${m.key}:${m.a}:${m.b}`).sort();
  return { counts: await table<WindowResult<number>>(bus, 'counts'), pairs };
}

async function interleavedRun(t: TestContext): Promise<Awaited<ReturnType<typeof results>>> {
  const { bus } = embeddedBus(t);
  const p = await start(t, bus);
  await bus.publish(interleaved);
  await settled(bus);
  assert.equal(p.stats().late, 0);
  return results(bus);
}

test('a backlog where one input was published whole before the other is processed as if interleaved: nothing late, the same windows and matches', async (t) => {
  const expected = await interleavedRun(t);
  assert.equal(expected.pairs.length, as.length, 'each a meets the b 7 s after it');
  // Given all of a, then all of b, published before the processor starts (a backlog after a stop)
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: 'a', partitions: 2 }, { name: 'b', partitions: 2 }]);
  await bus.publish(as);
  await bus.publish(bs);
  // When it starts, with batches of 10 records, and a grace of 1 s for 20 minutes of data
  const p = await start(t, bus);
  await settled(bus);
  // Then
  assert.equal(p.stats().late, 0);
  assert.deepEqual(await results(bus), expected);
});

test('a burst of one input then the other in one publish, to a running processor, is processed as if interleaved', async (t) => {
  const expected = await interleavedRun(t);
  const { bus } = embeddedBus(t);
  const p = await start(t, bus);
  await bus.publish([...bs, ...as]);
  await settled(bus);
  assert.equal(p.stats().late, 0);
  assert.deepEqual(await results(bus), expected);
});

test('an input with nothing to read (caught up) is not waited for, however long the idle bound', async (t) => {
  const { bus } = embeddedBus(t);
  await start(t, bus, { maxIdleMs: 60 * S });
  const began = Date.now();
  await bus.publish(as.slice(0, 20));
  await settled(bus);
  assert.ok(Date.now() - began < 10 * S, `processed in ${Date.now() - began} ms, without waiting for b`);
});

test('an input that is not caught up but gets nothing holds the other back for maxIdleMs, then no longer until it has data again', async (t) => {
  const { bus } = embeddedBus(t);
  // b's producer is a group that never reads its topic: b is never caught up.
  await bus.ensureTopics([{ name: 'upstream', partitions: 1 }]);
  await bus.publish([event('upstream', 0, 'x', { t: 0 })]);
  const maxIdleMs = 1_500;
  const p = await start(t, bus, { maxIdleMs, upstreamOfB: [{ groupId: 'nobody', topics: ['upstream'] }] });
  let began = Date.now();
  await bus.publish(as.slice(0, 20));
  await settled(bus);
  const first = Date.now() - began;
  assert.ok(first >= maxIdleMs - 50 && first < maxIdleMs + 5 * S, `the first records waited ${first} ms for b, about ${maxIdleMs}`);
  // Once the wait ran out, a goes on without b while b stays empty.
  began = Date.now();
  await bus.publish(as.slice(20, 40));
  await settled(bus);
  const second = Date.now() - began;
  assert.ok(second < maxIdleMs, `the next records went on at once (${second} ms)`);
  assert.equal(p.stats().processed, 40);
  // And when b gets data, it is merged in again (its own records are not late here: they are later).
  await bus.publish(bs.slice(0, 20).map((r) => ({ ...r, value: JSON.stringify({ t: timeOf(r) + 60 * 60 * S }) })));
  await settled(bus);
  assert.equal(p.stats().late, 0);
});

test('a processor closed while batches wait for another input commits nothing past them: a restart processes each record once', async (t) => {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: 'upstream', partitions: 1 }]);
  await bus.publish([event('upstream', 0, 'x', { t: 0 })]);
  // Given batches of a waiting for b (not caught up, a long idle bound)
  const first = await start(t, bus, { maxIdleMs: 60 * S, upstreamOfB: [{ groupId: 'nobody', topics: ['upstream'] }] });
  await bus.publish(as.slice(0, 30));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(first.stats().processed, 0, 'they wait');
  // When it closes, and another starts without the wait
  await first.close();
  assert.equal(await bus.lag(APP, ['a']), 30, 'nothing committed past the waiting records');
  const second = await start(t, bus);
  await settled(bus);
  // Then every record was processed once
  const counts = await table<WindowResult<number>>(bus, 'counts');
  assert.equal([...counts.values()].reduce((n, w) => n + w.value, 0), 30);
  assert.equal(second.stats().processed, 30);
});

test('the re-keying step merges its source partitions in event-time order: a backlog of partition 1 before partition 0 is not late downstream', async (t) => {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: 'r', partitions: 2 }]);
  // Given twenty minutes in each partition of a topic not keyed by the grouping key, partition 1's published first
  const of = (q: number) => Array.from({ length: 120 }, (_, i) => event('r', q, `x${q}`, { t: i * 10 * S + q }));
  await bus.publish(of(1));
  await bus.publish(of(0));
  // When a processor re-keys it to one group and counts per minute with a grace of 1 s
  const p = closing(t, await startProcessor({
    bus, app: 'rekey-skew', partitions: 2, maxBatch: 10,
    inputs: [input({ topic: 'r', decode: decodeEvent, time: (e) => e.t, rekey: () => 'all' })],
    operators: [windowedAggregate({ name: 'per-minute', topics: ['r'], windows: tumbling(60 * S, { graceMs: S }), aggregator: count(), output: 'rekey-counts' })],
  }));
  await caughtUp(bus, 'rekey-skew.repartition', ['r']);
  await caughtUp(bus, 'rekey-skew', ['rekey-skew.r.repartition']);
  // Then nothing is late: 12 records in each of the 20 minutes
  assert.equal(p.stats().late, 0);
  const counts = [...(await table<WindowResult<number>>(bus, 'rekey-counts')).values()].map((w) => w.value);
  assert.deepEqual(counts, Array.from({ length: 20 }, () => 12));
});

test('on Kafka too, a backlog of one input then the other is processed as if interleaved', { skip: kafkaSkip(), timeout: 120_000 }, async (t) => {
  const brokers = kafkaBrokers(t);
  if (!brokers) return;
  const expected = await interleavedRun(t);
  const bus = await openKafkaBus({ brokers, clientId: 'skew-test', namespace: uniqueName('skew'), log: silentLogger, commitPolicy: { intervalMs: 100 } });
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: 'a', partitions: 2 }, { name: 'b', partitions: 2 }]);
  await bus.publish(as);
  await bus.publish(bs);
  const p = await start(t, bus);
  await settled(bus);
  assert.equal(p.stats().late, 0);
  assert.deepEqual(await results(bus), expected);
});
