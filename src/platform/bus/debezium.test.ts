/**
 * The Debezium relay end to end: real PostgreSQL with wal_level=logical, real Kafka, real
 * Kafka Connect with Debezium (npm run infra:connect). Skips without CONNECT_URL, or when
 * DATABASE_URL's server is not at wal_level=logical.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgres, dropPostgresDatabase } from '../db/postgres.ts';
import { migrate } from '../db/migrate.ts';
import type { Db } from '../db/db.ts';
import { partitionFor, type Bus, type InRecord } from './bus.ts';
import { decode, encode, newEnvelope } from './envelope.ts';
import { openKafkaBus } from './kafka/kafka-bus.ts';
import { appendToOutbox, outboxMigrations, publishOutboxFromWal } from './outbox.ts';
import { registerOutboxConnector, removeOutboxConnector, type OutboxConnectorTarget } from './debezium.ts';
import { connectSkip, kafkaSkip, logicalWalSkip, uniqueName } from '#test/infra.ts';

const TOPIC = 'dbz-test';
const PARTITIONS = 4;

async function walLevel(url: string | undefined): Promise<string | undefined> {
  if (!url) return undefined;
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.query('SHOW wal_level')).rows[0].wal_level as string;
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}

const skip = kafkaSkip() ?? connectSkip() ?? logicalWalSkip(await walLevel(process.env.DATABASE_URL));

interface Setup {
  db: Db;
  bus: Bus;
  target: OutboxConnectorTarget;
  received: InRecord[];
  waitFor(n: number, timeoutMs?: number): Promise<void>;
}

async function setup(t: TestContext): Promise<Setup> {
  const databaseUrl = process.env.DATABASE_URL!;
  const namespace = uniqueName('dbz');
  const database = `${namespace}_svc`;
  const db = await openPostgres({ url: databaseUrl, database });
  await migrate(db, outboxMigrations);
  const bus = await openKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'dbz-test', namespace });
  await bus.ensureTopics([{ name: TOPIC, partitions: PARTITIONS }]);
  const target = { connectUrl: process.env.CONNECT_URL!, databaseUrl, database, namespace };
  publishOutboxFromWal(true);
  t.after(async () => {
    publishOutboxFromWal(false);
    await sub.close().catch(() => {});
    await removeOutboxConnector(target);
    await bus.close();
    await db.close();
    await dropPostgresDatabase(databaseUrl, database);
  });
  await registerOutboxConnector(target);
  const received: InRecord[] = [];
  const sub = await bus.subscribe({ groupId: 'dbz-test', topics: [TOPIC], handle: async (batch) => void received.push(...batch) });
  return {
    db, bus, target, received,
    async waitFor(n, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) assert.fail(`received ${received.length} of ${n} records within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('the Debezium outbox relay', { skip, timeout: 180_000 }, () => {
  test('a message appended in a transaction arrives with the key, value and headers the in-process relay sends', async (t) => {
    const s = await setup(t);
    const cause = newEnvelope({ type: 'OrderPlaced', key: 'o-1', payload: {}, headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    const message = newEnvelope({ type: 'PaymentRequested', key: 'order-42', payload: { amountCents: 1234, note: 'ü "quoted"' }, cause });
    await s.db.transaction((tx) => appendToOutbox(tx, [{ topic: TOPIC, message }]));
    await s.waitFor(1);
    const [rec] = s.received;
    const sent = encode(TOPIC, message);
    assert.equal(rec.topic, TOPIC);
    assert.equal(rec.key, sent.key);
    assert.equal(rec.value, sent.value, 'the value is the envelope JSON itself, not a schema wrapper');
    assert.equal(rec.partition, partitionFor('order-42', PARTITIONS), 'Connect partitions by the key as the Kafka bus does');
    for (const [k, v] of Object.entries(sent.headers)) assert.equal(rec.headers[k], v, `header ${k}`);
    assert.deepEqual(decode(rec), decode(sent));
    // The rows were deleted in their own transaction: the WAL kept the insert for Debezium.
    assert.deepEqual(await s.db.query('SELECT id FROM outbox'), []);
  });

  test('messages of one key arrive in commit order across many transactions', async (t) => {
    const s = await setup(t);
    const keys = ['k-a', 'k-b', 'k-c', 'k-d', 'k-e'];
    let sent = 0;
    // Concurrent transactions per round, several keys each: commit order per key is the order of n.
    for (let round = 0; round < 40; round++) {
      await Promise.all(keys.map((key) => s.db.transaction((tx) =>
        appendToOutbox(tx, [0, 1].map((i) => ({ topic: TOPIC, message: newEnvelope({ type: 'Step', key, payload: { n: round * 2 + i } }) }))))));
      sent += keys.length * 2;
    }
    await s.waitFor(sent);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(s.received.length, sent, 'each message exactly once');
    for (const key of keys) {
      const ns = s.received.filter((r) => r.key === key).map((r) => (decode(r).payload as { n: number }).n);
      assert.deepEqual(ns, Array.from({ length: 80 }, (_, i) => i), `order of ${key}`);
    }
  });

  test('a rolled-back transaction publishes nothing', async (t) => {
    const s = await setup(t);
    await assert.rejects(s.db.transaction(async (tx) => {
      await appendToOutbox(tx, [{ topic: TOPIC, message: newEnvelope({ type: 'Ghost', key: 'k', payload: {} }) }]);
      throw new Error('roll back');
    }), /roll back/);
    await s.db.transaction((tx) => appendToOutbox(tx, [{ topic: TOPIC, message: newEnvelope({ type: 'Real', key: 'k', payload: {} }) }]));
    await s.waitFor(1);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(s.received.map((r) => decode(r).type), ['Real']);
  });

  test('a connector removed with its slot kept and registered again publishes what was committed meanwhile', async (t) => {
    const s = await setup(t);
    const send = (n: number) => s.db.transaction((tx) => appendToOutbox(tx, [{ topic: TOPIC, message: newEnvelope({ type: 'Step', key: 'k', payload: { n } }) }]));
    await send(0);
    await s.waitFor(1);
    await removeOutboxConnector(s.target, { keepSlot: true });
    // Committed while no connector streams: the kept slot holds their WAL.
    for (let n = 1; n <= 5; n++) await send(n);
    await registerOutboxConnector(s.target);
    await send(6);
    await s.waitFor(7);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(s.received.map((r) => (decode(r).payload as { n: number }).n), [0, 1, 2, 3, 4, 5, 6], 'nothing lost, nothing twice, in order');
  });

  test('removing the connector drops its replication slot', async (t) => {
    const s = await setup(t);
    const slots = () => s.db.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE slot_name = $1', [s.target.database]);
    assert.equal((await slots()).length, 1);
    await removeOutboxConnector(s.target);
    assert.deepEqual(await slots(), []);
    await removeOutboxConnector(s.target); // idempotent: the after hook runs it again
  });
});
