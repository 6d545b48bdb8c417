/**
 * Bus.tail's contract on every adapter (the embedded log and Kafka): records published after
 * the tail opened arrive, each partition's in order, and nothing from before; a topic created
 * later is read from its first record; it joins no consumer group and commits nothing; after
 * close, nothing more arrives.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAIL_TOPIC_RECHECK_MS, type Bus, type InRecord, type OutRecord } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const adapters = [
  { name: 'the embedded log', skip: undefined, open: async (dir: string): Promise<Bus> => openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger }), patienceMs: 5_000 },
  {
    name: 'Kafka',
    skip: kafkaSkip(),
    open: async (): Promise<Bus> => openKafkaBus({ brokers: (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()), clientId: 'tail', namespace: uniqueName('tail'), log: silentLogger }),
    patienceMs: 20_000,
  },
];

const records = (topic: string, keys: string[], n: number, tag: string): OutRecord[] =>
  Array.from({ length: n }, (_, i) => ({ topic, key: keys[i % keys.length], value: `${tag}-${i}`, headers: { type: 'Test', n: String(i) } }));

for (const adapter of adapters) {
  describe(`Bus.tail on ${adapter.name}`, { skip: adapter.skip }, () => {
    let dir: string;
    let bus: Bus;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'orderflow-tail-'));
      bus = await adapter.open(dir);
    });
    after(async () => {
      await bus?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('hands over what is published after it opened, each partition in order, and nothing from before', async (t) => {
      const a = uniqueName('tail-a');
      const b = uniqueName('tail-b');
      await bus.ensureTopics([{ name: a, partitions: 3 }, { name: b, partitions: 2 }]);
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
      await bus.publish([...records(a, keys, 20, 'before'), ...records(b, keys, 10, 'before')]);

      const seen: InRecord[] = [];
      const calls: InRecord[][] = [];
      const tail = await bus.tail([a, b], (batch) => {
        calls.push(batch);
        seen.push(...batch);
      });
      t.after(() => tail.close());
      // Published in several calls, so that batches and polls interleave.
      for (let i = 0; i < 5; i++) await bus.publish([...records(a, keys, 20, `after${i}`), ...records(b, keys, 10, `after${i}`)]);
      await until('150 records arrived', () => seen.length >= 150, adapter.patienceMs);
      await new Promise((r) => setTimeout(r, 300));

      assert.equal(seen.length, 150, 'each record once');
      assert.ok(seen.every((r) => r.value.startsWith('after')), 'nothing published before the tail opened');
      for (const call of calls) assert.equal(new Set(call.map((r) => `${r.topic}:${r.partition}`)).size, 1, 'a call hands one partition');
      // Per key (hence per partition): the order they were published in, with their headers.
      for (const topic of [a, b]) {
        for (const key of keys) {
          const mine = seen.filter((r) => r.topic === topic && r.key === key);
          const expected = Array.from({ length: 5 }, (_, round) => records(topic, keys, topic === a ? 20 : 10, `after${round}`).filter((r) => r.key === key).map((r) => r.value)).flat();
          assert.deepEqual(mine.map((r) => r.value), expected, `${topic} ${key}`);
          assert.ok(mine.every((r) => r.headers.type === 'Test'));
        }
        const offsets = new Map<number, number>();
        for (const r of seen.filter((x) => x.topic === topic)) {
          const last = offsets.get(r.partition) ?? -1;
          assert.ok(Number(r.offset) > last, 'offsets rise within a partition');
          offsets.set(r.partition, Number(r.offset));
        }
      }
      // An onlooker: no group holds a position on the topics.
      const positions = await bus.positions([a, b], 'nobody');
      assert.ok(positions.every((p) => p.committed === undefined));
    });

    test('a topic created after it opened is read from its first record; after close nothing arrives', { timeout: TAIL_TOPIC_RECHECK_MS * 2 + 60_000 }, async () => {
      const existing = uniqueName('tail-c');
      const later = uniqueName('tail-d');
      await bus.ensureTopics([{ name: existing, partitions: 2 }]);
      const seen: InRecord[] = [];
      const tail = await bus.tail([existing, later], (batch) => void seen.push(...batch));
      await bus.ensureTopics([{ name: later, partitions: 2 }]);
      await bus.publish(records(later, ['x', 'y'], 6, 'later'));
      await until('the later topic\'s records arrived', () => seen.length >= 6, TAIL_TOPIC_RECHECK_MS + adapter.patienceMs);
      assert.deepEqual(seen.filter((r) => r.key === 'x').map((r) => r.value), ['later-0', 'later-2', 'later-4']);

      await bus.publish(records(existing, ['z'], 2, 'open'));
      await until('the open topic\'s records arrived', () => seen.length >= 8, adapter.patienceMs);
      await tail.close();
      await bus.publish(records(existing, ['z'], 2, 'closed'));
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(seen.length, 8);
      assert.ok(!seen.some((r) => r.value.startsWith('closed')));
    });
  });
}
