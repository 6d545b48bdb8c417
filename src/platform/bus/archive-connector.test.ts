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
import pg from 'pg';
import { connectSkip, kafkaSkip, postgresSkip, uniqueName } from '#test/infra.ts';
import { dropPostgresDatabase } from '../db/postgres.ts';
import { encode, newEnvelope } from './envelope.ts';
import { openKafkaBus } from './kafka/kafka-bus.ts';
import { readArchive } from './archive.ts';
import {
  archiveConnectorConfig, archiveConnectorName, archiveTableConnectorName, archiveTableName, registerArchiveConnectors, registerArchiveTableConnector,
  removeArchiveConnector, removeArchiveTableConnector, type ArchiveConnectorTarget, type ArchiveTableTarget,
} from './archive-connector.ts';

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

// The table form needs Debezium's JDBC sink in the worker (npm run infra:connect -- --jdbc-sink),
// which CI does not fetch: without it this skips, whatever ORDERFLOW_REQUIRE_INFRA says.
async function jdbcSinkSkip(): Promise<string | undefined> {
  const other = kafkaSkip() ?? connectSkip() ?? postgresSkip();
  if (other) return other;
  const plugins = await fetch(`${process.env.CONNECT_URL}/connector-plugins`).then((r) => r.json()).catch(() => []) as Array<{ class: string }>;
  return plugins.some((p) => p.class === 'io.debezium.connector.jdbc.JdbcSinkConnector') ? undefined : 'the Connect worker has no JDBC sink: npm run infra:connect -- --jdbc-sink to run this test';
}

describe('the archive as PostgreSQL tables, by Debezium\'s JDBC sink', { skip: await jdbcSinkSkip(), timeout: 180_000 }, () => {
  test('one row per record, the envelope as text, keyed by topic, partition and offset: registered again, no row twice', async (t) => {
    const namespace = uniqueName('arctab').toLowerCase();
    const brokers = (process.env.KAFKA_BROKERS ?? '').split(',');
    const databaseUrl = process.env.DATABASE_URL ?? '';
    const database = `${namespace}_archive`;
    const server = new pg.Client({ connectionString: databaseUrl });
    await server.connect();
    await server.query(`CREATE DATABASE ${database}`);
    await server.end();
    const bus = await openKafkaBus({ brokers, clientId: 'archive-table-test', namespace });
    const target: ArchiveTableTarget = { connectUrl: process.env.CONNECT_URL ?? '', databaseUrl, database, topic: 'orders.events', namespace };
    const url = new URL(databaseUrl);
    url.pathname = `/${database}`;
    const archive = new pg.Client({ connectionString: url.toString() });
    await archive.connect();
    t.after(async () => {
      await removeArchiveTableConnector(target).catch(() => {});
      await archive.end().catch(() => {});
      await bus.close();
      const admin = new Admin({ clientId: 'archive-table-cleanup', bootstrapBrokers: brokers });
      await admin.deleteTopics({ topics: [`${namespace}.orders.events`] }).catch(() => {});
      await admin.deleteGroups({ groups: [`connect-${archiveTableConnectorName(target)}`] }).catch(() => {});
      await admin.close();
      await dropPostgresDatabase(databaseUrl, database);
    });
    await bus.ensureTopics([{ name: 'orders.events', partitions: 3 }]);
    const records = (n: number) => Array.from({ length: n }, (_, i) => encode('orders.events', newEnvelope({ type: 'OrderPlaced', key: `o${i % 5}`, payload: { i } })));
    const sent = records(40);
    await bus.publish(sent);
    await registerArchiveTableConnector(target);
    const table = archiveTableName(target);
    assert.equal(table, `${namespace}_orders_events`);
    const rows = async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await archive.query(`SELECT count(*)::int AS n, count(DISTINCT envelope::jsonb->>'id')::int AS ids FROM ${table}`).catch(() => ({ rows: [{ n: 0, ids: 0 }] }));
        if (r.rows[0].n >= sent.length || Date.now() > deadline) return r.rows[0] as { n: number; ids: number };
        await new Promise((res) => setTimeout(res, 250));
      }
    };
    assert.deepEqual(await rows(), { n: 40, ids: 40 });
    await removeArchiveTableConnector(target);
    sent.push(...records(10));
    await bus.publish(sent.slice(40));
    await registerArchiveTableConnector(target);
    assert.deepEqual(await rows(), { n: 50, ids: 50 });
    const stored = await archive.query(`SELECT envelope FROM ${table}`);
    assert.deepEqual(new Set(stored.rows.map((r) => r.envelope as string)), new Set(sent.map((r) => r.value)), 'each row holds the record value as the bus does');
  });
});
