/**
 * What the stream processor asks of the Bus beyond the conformance suite, on both adapters:
 * publishing to a given partition, reading one partition from an offset to its end in pages,
 * tombstones on a compacted topic, and a compacted topic's config on Kafka.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import type { Bus, OutRecord } from '#platform/bus/bus.ts';
import { partitionFor } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';

const brokers = () => (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim());

const adapters = [
  {
    name: 'the embedded log',
    open: async (t: TestContext): Promise<Bus> => {
      const dir = mkdtempSync(join(tmpdir(), 'partition-reads-'));
      const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
      t.after(async () => {
        await bus.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return bus;
    },
  },
  {
    name: 'Kafka',
    skip: kafkaSkip(),
    open: async (t: TestContext): Promise<Bus> => {
      const bus = await openKafkaBus({ brokers: brokers(), clientId: 'partition-reads', namespace: uniqueName('preads'), log: silentLogger });
      t.after(() => bus.close());
      return bus;
    },
  },
];

const rec = (key: string, value: string, extra: Partial<OutRecord> = {}): OutRecord => ({ topic: 'state', key, value, headers: { h: key }, ...extra });

for (const adapter of adapters) {
  describe(`partition reads on ${adapter.name}`, { skip: adapter.skip, timeout: 120_000 }, () => {
    test('a record with toPartition lands there whatever its key, and a read of that partition returns it in order', async (t) => {
      const bus = await adapter.open(t);
      await bus.ensureTopics([{ name: 'state', partitions: 3, compact: true }]);
      const key = 'k-1';
      const other = (partitionFor(key, 3) + 1) % 3;
      await bus.publish([rec(key, 'a', { toPartition: other }), rec('k-2', 'b', { toPartition: other }), rec(key, '', { toPartition: other, tombstone: true })]);
      const page = await bus.readPartition('state', other);
      assert.deepEqual(page.records.map((r) => [r.key, r.value, r.partition, r.headers.h]), [[key, 'a', other, key], ['k-2', 'b', other, 'k-2'], [key, '', other, key]]);
      assert.equal(page.end, 3);
      assert.equal(page.next, 3);
      const own = await bus.readPartition('state', partitionFor(key, 3));
      assert.equal(own.records.length, 0, 'nothing went to the partition of the key');
    });

    test('a read pages by limit from an offset and stops at the end it saw when it began', async (t) => {
      const bus = await adapter.open(t);
      await bus.ensureTopics([{ name: 'state', partitions: 2, compact: true }]);
      await bus.publish(Array.from({ length: 25 }, (_, i) => rec(`k-${i}`, String(i), { toPartition: 1 })));
      const seen: string[] = [];
      let from = 5;
      let pages = 0;
      for (;;) {
        const page = await bus.readPartition('state', 1, { from, limit: 7 });
        seen.push(...page.records.map((r) => r.value));
        pages++;
        assert.equal(page.end, 25);
        if (page.next >= page.end) break;
        from = page.next;
      }
      assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => String(i + 5)));
      assert.equal(pages, 3);
    });

    test('a partition the topic lacks is refused with a coded error, nothing stored', async (t) => {
      const bus = await adapter.open(t);
      await bus.ensureTopics([{ name: 'state', partitions: 2, compact: true }]);
      await assert.rejects(bus.publish([rec('a', '1', { toPartition: 0 }), rec('b', '2', { toPartition: 2 })]), (err) => isOrderflowError(err, 'PLT_ERR_UNKNOWN_PARTITION'));
      await assert.rejects(bus.readPartition('state', 5), (err) => isOrderflowError(err, 'PLT_ERR_UNKNOWN_PARTITION'));
      assert.equal((await bus.readPartition('state', 0)).end, 0);
    });
  });
}

test('on Kafka a compacted topic is created with cleanup.policy=compact', { skip: kafkaSkip(), timeout: 60_000 }, async (t) => {
  const namespace = uniqueName('pcompact');
  const bus = await openKafkaBus({ brokers: brokers(), clientId: 'partition-reads', namespace, log: silentLogger });
  t.after(() => bus.close());
  const admin = new Admin({ clientId: 'partition-reads-admin', bootstrapBrokers: brokers() });
  t.after(() => admin.close());
  await bus.ensureTopics([{ name: 'app.store.changelog', partitions: 2, compact: true }, { name: 'plain', partitions: 1 }]);
  const policy = async (topic: string) => {
    const [d] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: `${namespace}.${topic}`, configurationKeys: ['cleanup.policy'] }] });
    return d.configs.find((c) => c.name === 'cleanup.policy')?.value;
  };
  assert.equal(await policy('app.store.changelog'), 'compact');
  assert.equal(await policy('plain'), 'delete');
});
