/**
 * Lazy offset commits on a real broker: what is committed after a close, a SIGKILL, a
 * rebalance and a rebalance with a batch in flight. Records are collected as arrays per key
 * (not sets), so duplicates and order show in the assertions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';
import type { Bus, InRecord } from '../bus.ts';
import { partitionFor } from '../bus.ts';
import { openKafkaBus } from './kafka-bus.ts';
import type { CommitPolicy } from './lazy-commits.ts';
import { deliveryLog } from '#test/support/kafka-deliveries.ts';

const opts = { skip: kafkaSkip(), timeout: 120_000 };
// Nothing is committed by the timer or the count in these tests unless they say so.
const NEVER: CommitPolicy = { intervalMs: 600_000, everyRecords: 1_000_000_000 };
const childPath = fileURLToPath(new URL('../../../../test/support/kafka-lazy-consumer-child.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  bus: Bus;
  brokers: string[];
  namespace: string;
  committed(group: string, topic: string, partitions: number): Promise<bigint[]>;
  ends(topic: string, partitions: number): Promise<bigint[]>;
}

async function setup(t: TestContext, commitPolicy: Partial<CommitPolicy>): Promise<Setup | undefined> {
  const brokers = kafkaBrokers(t);
  if (!brokers) return undefined;
  const namespace = uniqueName('kct');
  const bus = await openKafkaBus({ brokers, clientId: 'kafka-commits-test', namespace, commitPolicy });
  const admin = new Admin({ clientId: 'kafka-commits-test-admin', bootstrapBrokers: brokers });
  t.after(async () => {
    await bus.close();
    await admin.close();
  });
  const full = (name: string) => `${namespace}.${name}`;
  const indexes = (n: number) => Array.from({ length: n }, (_, i) => i);
  return {
    bus,
    brokers,
    namespace,
    async committed(group, topic, partitions) {
      const [g] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: full(group), topics: [{ name: full(topic), partitionIndexes: indexes(partitions) }] }] });
      const out = indexes(partitions).map(() => -1n);
      for (const tp of g?.topics ?? []) for (const p of tp.partitions) out[p.partitionIndex] = p.committedOffset;
      return out;
    },
    async ends(topic, partitions) {
      const listed = await admin.listOffsets({ topics: [{ name: full(topic), partitions: indexes(partitions).map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] });
      const out = indexes(partitions).map(() => 0n);
      for (const p of listed[0]?.partitions ?? []) out[p.partitionIndex] = p.offset;
      return out;
    },
  };
}

/** Where the group would resume: no commit yet means the log start (0 on these fresh topics). */
const resumeAt = (committed: bigint[]) => committed.map((c) => (c < 0n ? 0n : c));

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Values handled per key, in handling order. */
function perKey() {
  const byKey = new Map<string, number[]>();
  return {
    byKey,
    add(batch: { key: string; value: string }[]) {
      for (const r of batch) {
        const list = byKey.get(r.key) ?? [];
        list.push(Number(r.value));
        byKey.set(r.key, list);
      }
    },
    all: () => [...byKey.values()].flat(),
    count: () => [...byKey.values()].reduce((n, l) => n + l.length, 0),
  };
}

function assertIncreasingPerKey(byKey: Map<string, number[]>, who: string): void {
  for (const [key, values] of byKey) {
    for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `${who}: key ${key} handled ${values.join(',')} (a duplicate or out of order)`);
  }
}

const records = (topic: string, from: number, n: number, keys = 10) =>
  Array.from({ length: n }, (_, i) => ({ topic, key: `k${(from + i) % keys}`, value: String(from + i), headers: {} }));

test('offsets are committed lazily and flushed on close: the next consumer of the group starts after the last handled record', opts, async (t) => {
  const s = await setup(t, NEVER);
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'closing', partitions: 3 }]);
  await s.bus.publish(records('closing', 0, 60));
  const first = perKey();
  const sub = await s.bus.subscribe({ groupId: 'g', topics: ['closing'], handle: async (b) => first.add(b) });
  await waitFor('60 records handled', () => first.count() === 60);
  await sleep(300);
  assert.deepEqual(await s.committed('g', 'closing', 3), [-1n, -1n, -1n], 'nothing committed yet: commits are lazy');
  await sub.close();
  assert.deepEqual(resumeAt(await s.committed('g', 'closing', 3)), await s.ends('closing', 3), 'close committed every handled record');

  await s.bus.publish(records('closing', 60, 10));
  const second = perKey();
  const sub2 = await s.bus.subscribe({ groupId: 'g', topics: ['closing'], handle: async (b) => second.add(b) });
  t.after(() => sub2.close());
  await waitFor('the 10 new records handled', () => second.count() >= 10);
  await sleep(500);
  assert.deepEqual(second.all().sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => 60 + i), 'only the new records, each once');
  assertIncreasingPerKey(second.byKey, 'second consumer');
});

test('after a SIGKILL the group redelivers from the last lazily committed offset, and no record is lost', opts, async (t) => {
  const s = await setup(t, NEVER);
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'crash', partitions: 4 }]);
  const child = spawn(process.execPath, [childPath, s.brokers.join(','), s.namespace, 'crash', 'g', '2000', '1000000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill('SIGKILL'));
  const inChild = perKey();
  const childOffsets = new Map<number, bigint>();
  let subscribed = false;
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as string | { partition: number; offset: string; key: string; value: string }[];
      if (parsed === 'subscribed') subscribed = true;
      else if (Array.isArray(parsed)) {
        inChild.add(parsed);
        for (const r of parsed) childOffsets.set(r.partition, BigInt(r.offset));
      }
    }
  });
  await waitFor('the child subscribed', () => subscribed);

  await s.bus.publish(records('crash', 0, 100));
  await waitFor('the child handled the first 100', () => inChild.count() === 100);
  const firstEnds = await s.ends('crash', 4);
  // The 2 s timer commits them.
  await waitFor('the first 100 committed by the timer', async () => resumeAt(await s.committed('g', 'crash', 4)).every((c, i) => c === firstEnds[i]), 10_000);

  await s.bus.publish(records('crash', 100, 150));
  await waitFor('the child handled all 250', () => inChild.count() === 250);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const committed = resumeAt(await s.committed('g', 'crash', 4));
  const ends = await s.ends('crash', 4);
  committed.forEach((c, p) => assert.ok(c <= (childOffsets.get(p) ?? -1n) + 1n, `partition ${p}: committed ${c} beyond the last handled offset ${childOffsets.get(p)}`));
  assert.deepEqual(committed, firstEnds, 'what was handled since the last timer tick is not committed');
  const uncommitted = ends.reduce((n, end, p) => n + Number(end - committed[p]), 0);
  assert.equal(uncommitted, 150);

  const after = perKey();
  const sub = await s.bus.subscribe({ groupId: 'g', topics: ['crash'], handle: async (b) => after.add(b) });
  t.after(() => sub.close());
  // The killed member holds its partitions until its session times out (10 s).
  await waitFor('the uncommitted records redelivered', () => after.count() >= uncommitted, 60_000);
  await sleep(500);
  assert.deepEqual(after.all().sort((a, b) => a - b), Array.from({ length: 150 }, (_, i) => 100 + i), 'exactly the records after the last commit are redelivered, each once');
  assertIncreasingPerKey(after.byKey, 'after the crash');
  assertIncreasingPerKey(inChild.byKey, 'the killed child');
  const union = new Set([...inChild.all(), ...after.all()]);
  assert.equal(union.size, 250, 'no record lost');
});

test('a rebalance commits the handled offsets before the partitions move: the new member redelivers nothing', opts, async (t) => {
  const s = await setup(t, NEVER);
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'moving', partitions: 4 }]);
  await s.bus.publish(records('moving', 0, 200));
  const a = perKey();
  const b = perKey();
  const subA = await s.bus.subscribe({ groupId: 'g', topics: ['moving'], handle: async (batch) => a.add(batch) });
  t.after(() => subA.close());
  await waitFor('member A handled 200', () => a.count() === 200);
  await sleep(300);
  assert.deepEqual(await s.committed('g', 'moving', 4), [-1n, -1n, -1n, -1n], 'nothing committed before the rebalance');

  const subB = await s.bus.subscribe({ groupId: 'g', topics: ['moving'], handle: async (batch) => b.add(batch) });
  t.after(() => subB.close());
  const ends = await s.ends('moving', 4);
  await waitFor('the offsets A handled committed at the rebalance', async () => resumeAt(await s.committed('g', 'moving', 4)).every((c, i) => c === ends[i]), 15_000);
  await sleep(1_500);
  assert.equal(b.count(), 0, `member B redelivered ${b.all().join(',')}`);

  await s.bus.publish(records('moving', 200, 100));
  await waitFor('the 100 new records handled', () => a.count() + b.count() >= 300);
  await sleep(500);
  assert.ok(b.count() > 0, 'B owns some partitions after the rebalance');
  assert.deepEqual([...a.all(), ...b.all()].sort((x, y) => x - y), Array.from({ length: 300 }, (_, i) => i), 'every record handled exactly once');
  assertIncreasingPerKey(a.byKey, 'A');
  assertIncreasingPerKey(b.byKey, 'B');
});

test('a rebalance while a batch is in flight: the moved batch is redelivered to the new owner, never committed by the old one, and nothing is lost', opts, async (t) => {
  const s = await setup(t, NEVER);
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'inflight', partitions: 2 }]);
  await s.bus.publish(records('inflight', 0, 40));
  const log = deliveryLog(t, `${s.namespace}.inflight`);
  const a = perKey();
  const b = perKey();
  const inFlight: InRecord[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const subA = await s.bus.subscribe({
    groupId: 'g',
    topics: ['inflight'],
    handle: async (batch) => {
      log.add('A', batch);
      inFlight.push(batch);
      await gate;
      a.add(batch);
    },
  });
  t.after(() => subA.close());
  await waitFor('A holds a batch of each partition', () => new Set(inFlight.map((x) => x[0].partition)).size === 2);

  const subB = await s.bus.subscribe({ groupId: 'g', topics: ['inflight'], handle: async (batch) => (log.add('B', batch), b.add(batch)) });
  t.after(() => subB.close());
  await waitFor('B handled the partition it took over', () => b.count() > 0, 20_000);
  const moved = new Set([...b.byKey.keys()].map((key) => partitionFor(key, 2)));
  assert.equal(moved.size, 1, 'one partition moved to B');
  release();
  await waitFor('A finished its batches', () => a.count() === inFlight.reduce((n, x) => n + x.length, 0));
  await waitFor('B handled all of the moved partition', () => b.count() === 40 - inFlight.filter((x) => !moved.has(x[0].partition)).reduce((n, x) => n + x.length, 0), 10_000);

  await s.bus.publish(records('inflight', 40, 20));
  await waitFor('the 20 new records handled', () => a.all().filter((v) => v >= 40).length + b.all().filter((v) => v >= 40).length >= 20);
  await sleep(500);
  await subA.close();
  await subB.close();

  const all = [...a.all(), ...b.all()];
  assert.deepEqual([...new Set(all)].sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i), 'no record lost');
  const movedInFlight = new Set(inFlight.filter((x) => moved.has(x[0].partition)).flat().map((r) => Number(r.value)));
  const twice = all.filter((v, i) => all.indexOf(v) !== i);
  assert.ok(twice.length > 0, 'the batch in flight on the moved partition was redelivered');
  for (const v of twice) assert.ok(movedInFlight.has(v), `record ${v} handled twice but it was not in the moved batch in flight`);
  assertIncreasingPerKey(a.byKey, 'A');
  assertIncreasingPerKey(b.byKey, 'B');
  assert.deepEqual(resumeAt(await s.committed('g', 'inflight', 2)), await s.ends('inflight', 2), 'closing committed everything handled');
  // Record by record: B took the moved partition up where the group had committed it (nothing,
  // A's batch was still running), the only copies are that batch's, and nothing was skipped.
  const report = log.check(await s.ends('inflight', 2));
  const [movedPartition] = moved;
  const takeover = report.restarts.filter((r) => r.member === 'B');
  assert.deepEqual(takeover.map((r) => [r.partition, r.offset, r.committed]), [[movedPartition, 0n, 0n]], 'B started the moved partition once, at the committed offset');
  assert.equal(report.duplicates, movedInFlight.size, 'exactly the moved batch in flight was handed out twice');
});
