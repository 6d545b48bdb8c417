/**
 * The archive on Kafka: a real Kafka Connect worker (npm run infra:connect, CONNECT_URL)
 * with its FileStreamSinkConnector, against a real broker. Skips without either.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { connectSkip, kafkaSkip, uniqueName } from '#test/infra.ts';
import { encode, newEnvelope } from './envelope.ts';
import { openKafkaBus } from './kafka/kafka-bus.ts';
import { readArchive } from './archive.ts';
import { archiveConnectorConfig, archiveConnectorName, registerArchiveConnectors, removeArchiveConnector, type ArchiveConnectorTarget } from './archive-connector.ts';

test('a connector per topic: the namespaced topic in, the topic\'s own file out, values as plain strings', () => {
  const config = archiveConnectorConfig({ connectUrl: 'http://x', dir: '/var/archive', topic: 'orders.events', namespace: 'shop' });
  assert.equal(archiveConnectorName({ namespace: 'shop', topic: 'orders.events' }), 'shop-archive-orders.events');
  assert.deepEqual([config.topics, config.file, config['tasks.max'], config['value.converter']], ['shop.orders.events', '/var/archive/orders.events.jsonl', '1', 'org.apache.kafka.connect.storage.StringConverter']);
});

const skip = kafkaSkip() ?? connectSkip();

describe('the archive written by Kafka Connect', { skip, timeout: 180_000 }, () => {
  test('every record of the topic lands in its file; removed and registered again, the connector resumes where it was', async (t) => {
    const namespace = uniqueName('arc').toLowerCase();
    const brokers = (process.env.KAFKA_BROKERS ?? '').split(',');
    const dir = mkdtempSync(join(tmpdir(), 'archive-connect-'));
    const bus = await openKafkaBus({ brokers, clientId: 'archive-connector-test', namespace });
    const target: ArchiveConnectorTarget = { connectUrl: process.env.CONNECT_URL ?? '', dir, topic: 'orders.events', namespace };
    t.after(async () => {
      await removeArchiveConnector(target).catch(() => {});
      await bus.close();
      const admin = new Admin({ clientId: 'archive-connector-cleanup', bootstrapBrokers: brokers });
      await admin.deleteTopics({ topics: [`${namespace}.orders.events`] }).catch(() => {});
      await admin.deleteGroups({ groups: [`connect-${archiveConnectorName(target)}`] }).catch(() => {});
      await admin.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await bus.ensureTopics([{ name: 'orders.events', partitions: 3 }]);
    const records = (n: number) => Array.from({ length: n }, (_, i) => encode('orders.events', newEnvelope({ type: 'OrderPlaced', key: `o${i % 11}`, payload: { i } })));
    const first = records(120);
    await bus.publish(first);
    await registerArchiveConnectors([target]);
    const archived = async () => {
      const reader = readArchive(dir, 'orders.events');
      const ids: string[] = [];
      for await (const e of reader) ids.push(e.id);
      return { ids, stats: reader.stats };
    };
    const until = async (n: number) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const a = await archived();
        if (a.ids.length >= n) return a;
        if (Date.now() > deadline) throw new Error(`the archive holds ${a.ids.length} records, not ${n}, after 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const idsOf = (rs: typeof first) => rs.map((r) => JSON.parse(r.value).id as string);
    assert.deepEqual(new Set((await until(120)).ids), new Set(idsOf(first)), 'published before the connector: read from the earliest');

    await removeArchiveConnector(target);
    await removeArchiveConnector(target);
    const second = records(60);
    await bus.publish(second);
    await registerArchiveConnectors([target]);
    const after = await until(180);
    assert.deepEqual(new Set(after.ids), new Set(idsOf([...first, ...second])), 'nothing lost across the removal');
    assert.deepEqual([after.stats.torn, after.stats.duplicates], [0, 0], 'the removed task committed what it wrote: nothing written twice');
    const inBus = await bus.read('orders.events', { limit: 1000 });
    assert.equal(inBus.length, 180);
  });
});
