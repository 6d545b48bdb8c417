// The consumer metrics against real buses (the embedded log, and Kafka when KAFKA_BROKERS is
// set) and a real SQLite inbox: lag while a consumer is held back, messages by outcome, dead letters.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import type { Bus } from '../bus/bus.ts';
import { inboxMigrations, startConsumer, type MessageHandler } from '../bus/consumer.ts';
import { openEmbeddedLog } from '../bus/embedded/embedded-log.ts';
import { encode, newEnvelope, type Envelope } from '../bus/envelope.ts';
import { openKafkaBus } from '../bus/kafka/kafka-bus.ts';
import { outboxMigrations } from '../bus/outbox.ts';
import { newDeadLetterId, recordDeadLetters } from '../bus/dead-letter-store.ts';
import { discardDeadLetters } from '../bus/dead-letters.ts';
import { migrate } from '../db/migrate.ts';
import { openSqlite } from '../db/sqlite.ts';
import { silentLogger } from '../log.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';
import { createBusMetrics } from './bus-metrics.ts';

const adapters = [
  { name: 'the embedded log', skip: undefined, patienceMs: 10_000, open: (dir: string): Promise<Bus> => Promise.resolve(openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger })) },
  {
    name: 'Kafka',
    skip: kafkaSkip(),
    patienceMs: 45_000,
    open: (): Promise<Bus> =>
      openKafkaBus({ brokers: (process.env.KAFKA_BROKERS ?? '').split(','), clientId: 'bus-metrics-test', namespace: uniqueName('busmetrics'), log: silentLogger }),
  },
];

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The samples of one metric, as the registry serves them on a scrape. */
async function samples(registry: Registry, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number }>;
}
const total = async (registry: Registry, name: string, labels: Record<string, string> = {}) =>
  (await samples(registry, name)).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

for (const adapter of adapters) {
  describe(`consumer metrics on ${adapter.name}`, { skip: adapter.skip }, () => {
    async function setup(t: TestContext, handlers: Record<string, MessageHandler>) {
      const dir = mkdtempSync(join(tmpdir(), 'orderflow-bus-metrics-'));
      const bus = await adapter.open(dir);
      const db = openSqlite({ file: join(dir, 'service.sqlite') });
      const stack: Array<() => unknown> = [() => rmSync(dir, { recursive: true, force: true }), () => bus.close(), () => db.close()];
      t.after(async () => {
        for (const fn of stack.reverse()) await fn();
      });
      await migrate(db, [...outboxMigrations, ...inboxMigrations]);
      const topic = uniqueName('topic');
      const groupId = uniqueName('group');
      await bus.ensureTopics([{ name: topic, partitions: 2 }]);
      const registry = new Registry();
      // refreshMs 0: every scrape asks the bus, so the test sees changes at once.
      const metrics = createBusMetrics(registry, bus, { refreshMs: 0 });
      const consumer = await startConsumer({
        db, bus, groupId, topics: [topic], handlers, validate: () => undefined, log: silentLogger,
        retry: { attempts: 2, baseMs: 10, maxMs: 20 },
        outcomes: metrics.outcomes(groupId),
      });
      stack.push(() => consumer.close());
      metrics.watch(groupId, [topic]);
      const publish = (messages: Envelope[]) => bus.publish(messages.map((m) => encode(topic, m)));
      return { registry, topic, groupId, publish };
    }

    test('the consumer lag rises while the consumer is held back and falls to zero once it resumes', async (t) => {
      let resume!: () => void;
      const held = new Promise<void>((r) => (resume = r));
      const { registry, groupId, topic, publish } = await setup(t, { Counted: () => held });
      await publish(Array.from({ length: 20 }, (_, i) => newEnvelope({ type: 'Counted', key: `k${i}`, payload: {} })));

      await until('the lag shows the 20 records', async () => (await total(registry, 'orderflow_consumer_lag', { group: groupId })) === 20, adapter.patienceMs);
      const partitions = (await samples(registry, 'orderflow_consumer_lag')).map((s) => `${s.labels.topic}/${s.labels.partition}`).sort();
      assert.deepEqual(partitions, [`${topic}/0`, `${topic}/1`], 'one series per partition');

      resume();
      await until('the lag is back to zero', async () => (await total(registry, 'orderflow_consumer_lag', { group: groupId })) === 0, adapter.patienceMs);
      assert.equal(await total(registry, 'orderflow_messages_total', { group: groupId, type: 'Counted', outcome: 'handled' }), 20);
    });

    test('messages are counted by outcome: handled, skipped_duplicate, retried and dead_lettered; the dead letters are gauged', async (t) => {
      const { registry, groupId, topic, publish } = await setup(t, {
        Counted: async () => {},
        Broken: async () => {
          throw new Error('this handler always fails');
        },
      });
      const once = newEnvelope({ type: 'Counted', key: 'k', payload: {} });
      await publish([once]);
      await publish([once]); // the same message again: a redelivery, as the inbox sees it
      await publish([newEnvelope({ type: 'Broken', key: 'k', payload: {} })]);

      const outcome = (type: string, o: string) => total(registry, 'orderflow_messages_total', { group: groupId, type, outcome: o });
      await until('the broken message is dead-lettered', async () => (await outcome('Broken', 'dead_lettered')) === 1, adapter.patienceMs);
      assert.equal(await outcome('Counted', 'handled'), 1);
      assert.equal(await outcome('Counted', 'skipped_duplicate'), 1);
      assert.equal(await outcome('Broken', 'retried'), 1, 'two attempts: one retry');
      assert.equal(await outcome('Broken', 'handled'), 0);
      await until('the dead letter is gauged', async () => (await total(registry, 'orderflow_dead_letters', { topic })) === 1, adapter.patienceMs);
    });
  });
}

test('lag and dead letters are asked of the bus at most once per refresh interval, and only when scraped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-bus-metrics-'));
  const inner = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  t.after(async () => {
    await inner.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await inner.ensureTopics([{ name: 'a', partitions: 3 }, { name: 'a.dlq', partitions: 1 }]);
  let asked = 0;
  const bus: Bus = { ...inner, positions: (topics, groupId) => (asked++, inner.positions(topics, groupId)) };
  const registry = new Registry();
  createBusMetrics(registry, bus, { refreshMs: 60_000 }).watch('g', ['a']);
  assert.equal(asked, 0, 'nothing asked before a scrape');
  await registry.metrics();
  assert.equal(asked, 2, 'one question for the group, one for the dead-letter topics');
  await registry.metrics();
  await registry.metrics();
  assert.equal(asked, 2, 'later scrapes within the interval report the last values');
  assert.equal(await total(registry, 'orderflow_consumer_lag', { group: 'g' }), 0);
});

test("with the service's database, the dead letters gauged are its pending rows: a discard brings them back to zero", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-bus-metrics-'));
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  const db = openSqlite({ file: join(dir, 'service.sqlite') });
  t.after(async () => {
    await bus.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  await bus.ensureTopics([{ name: 'a', partitions: 1 }, { name: 'a.dlq', partitions: 1 }]);
  const registry = new Registry();
  createBusMetrics(registry, bus, { refreshMs: 0, db }).watch('g', ['a']);
  const m = newEnvelope({ type: 'Thing', key: 'k', payload: {} });
  await recordDeadLetters(db, [{
    id: newDeadLetterId(), source: 'g/a/0/1', origin: 'consumer', consumerGroup: 'g', messageId: m.id, messageType: m.type,
    record: encode('a', m), error: { code: 'E', message: 'e' }, attempts: 1, originalPartition: 0, originalOffset: '1', failedAt: new Date().toISOString(),
  }]);
  assert.equal(await total(registry, 'orderflow_dead_letters', { topic: 'a' }), 1);
  await discardDeadLetters(db, { topic: 'a' });
  assert.equal(await total(registry, 'orderflow_dead_letters', { topic: 'a' }), 0, 'a dead letter dealt with is no longer counted');
});
