import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';
import { openSqlite } from '../../db/sqlite.ts';
import { migrate } from '../../db/migrate.ts';
import { inboxMigrations, startConsumer } from '../consumer.ts';
import { outboxMigrations } from '../outbox.ts';
import { dlqTopic } from '../dead-letters.ts';
import { queryDeadLetters } from '../dead-letter-store.ts';
import { encode, newEnvelope } from '../envelope.ts';
import { isOrderflowError } from '../../errors.ts';
import { silentLogger } from '../../log.ts';
import { openKafkaBus } from './kafka-bus.ts';

const opts = { skip: kafkaSkip(), timeout: 120_000 };

async function setup(t: TestContext, busOpts: { maxRecordBytes?: number; lingerMs?: number } = {}) {
  const brokers = kafkaBrokers(t);
  if (!brokers) return undefined;
  const namespace = uniqueName('kdl');
  const bus = await openKafkaBus({ brokers, clientId: 'kafka-dlq-test', namespace, ...busOpts });
  t.after(() => bus.close());
  const admin = new Admin({ clientId: 'kafka-dlq-test-admin', bootstrapBrokers: brokers });
  t.after(() => admin.close());
  async function config(topic: string, name: string): Promise<string | null | undefined> {
    const [described] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: `${namespace}.${topic}`, configurationKeys: [name] }] });
    return described.configs.find((c) => c.name === name)?.value;
  }
  return { bus, config };
}

test('a consumer creates its dead-letter topics to keep their records forever', opts, async (t) => {
  const s = await setup(t);
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'orders', partitions: 2 }]);
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-kdl-'));
  const db = openSqlite({ file: join(dir, 'service.sqlite') });
  t.after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  const consumer = await startConsumer({ db, bus: s.bus, groupId: 'g', topics: ['orders'], handlers: {}, validate: () => undefined, log: silentLogger });
  t.after(() => consumer.close());
  assert.equal(await s.config(dlqTopic('orders'), 'retention.ms'), '-1');
  assert.notEqual(await s.config('orders', 'retention.ms'), '-1', 'the source topic keeps the broker default');
});

test('a retention asked for is set on a topic that already exists', opts, async (t) => {
  const s = await setup(t);
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'old.dlq', partitions: 1 }]);
  assert.equal(await s.config('old.dlq', 'retention.ms'), '604800000', "created before: the broker's 7 days");
  await s.bus.ensureTopics([{ name: 'old.dlq', partitions: 1, retentionMs: 30 * 86_400_000 }]);
  assert.equal(await s.config('old.dlq', 'retention.ms'), String(30 * 86_400_000));
});

test("the producer refuses a record over its own limit without sending anything, and names it", opts, async (t) => {
  const s = await setup(t, { maxRecordBytes: 2048 });
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'sized', partitions: 1 }]);
  await assert.rejects(
    s.bus.publish([
      { topic: 'sized', key: 'k', value: 'small', headers: {} },
      { topic: 'sized', key: 'k', value: 'x'.repeat(4000), headers: {} },
    ]),
    (err) => isOrderflowError(err, 'PLT_ERR_RECORD_TOO_LARGE') && (err.details as { records: number[] }).records.join() === '1',
  );
  assert.deepEqual(await s.bus.read('sized'), []);
});

test('a publish the broker refuses as too large fails alone, not the publish it shared a request with', opts, async (t) => {
  // A linger, so that the two publishes go out in one produce request.
  const s = await setup(t, { lingerMs: 50 });
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'strict', partitions: 1, maxRecordBytes: 2048 }]);
  assert.equal(await s.config('strict', 'max.message.bytes'), '2048');
  const [small, big] = await Promise.allSettled([
    s.bus.publish([{ topic: 'strict', key: 'a', value: 'small', headers: {} }]),
    s.bus.publish([{ topic: 'strict', key: 'b', value: 'x'.repeat(8000), headers: {} }]),
  ]);
  assert.equal(small.status, 'fulfilled');
  assert.equal(big.status, 'rejected');
  assert.ok(isOrderflowError((big as PromiseRejectedResult).reason, 'PLT_ERR_RECORD_TOO_LARGE'));
  assert.deepEqual((await s.bus.read('strict')).map((r) => r.value), ['small']);
});

test('a dead letter too large for its Kafka dead-letter topic is kept in the table, and the partition goes on', opts, async (t) => {
  const s = await setup(t);
  if (!s) return;
  await s.bus.ensureTopics([{ name: 'big', partitions: 1 }, { name: dlqTopic('big'), partitions: 1, maxRecordBytes: 4096 }]);
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-kdl-'));
  const db = openSqlite({ file: join(dir, 'service.sqlite') });
  t.after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  const handled: string[] = [];
  const consumer = await startConsumer({
    db, bus: s.bus, groupId: 'g', topics: ['big'], validate: () => undefined, log: silentLogger, retry: { attempts: 1 },
    handlers: {
      Thing: async ({ message }) => {
        if (message.key === 'poison') throw new Error('cannot');
        handled.push(message.key);
      },
    },
  });
  t.after(() => consumer.close());
  const poison = newEnvelope({ type: 'Thing', key: 'poison', payload: { pad: 'x'.repeat(6000) } });
  await s.bus.publish([encode('big', poison), encode('big', newEnvelope({ type: 'Thing', key: 'fine', payload: {} }))]);
  const deadline = Date.now() + 30_000;
  while (!handled.includes('fine')) {
    if (Date.now() > deadline) throw new Error('the message after the dead letter was not handled');
    await new Promise((r) => setTimeout(r, 50));
  }
  const [row] = await queryDeadLetters(db, { topic: 'big' });
  assert.equal(row.messageId, poison.id);
  assert.equal(row.dlqTopic, undefined, 'no copy on the dead-letter topic');
  assert.equal(row.state, 'pending');
});
