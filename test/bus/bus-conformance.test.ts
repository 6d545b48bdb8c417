/**
 * The bus conformance suite: the same cases against every Bus adapter (the embedded log and
 * Kafka), driven through the consumer layer with a real SQLite inbox. These are the
 * guarantees DESIGN.md promises for messages: order per key, resumption of a group,
 * deduplicated redelivery, retry then dead letter, schema failures dead-lettered at once,
 * listing and replay of dead letters.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '#platform/db/db.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { migrate } from '#platform/db/migrate.ts';
import type { Bus, InRecord } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { encode, newEnvelope, type Envelope } from '#platform/bus/envelope.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { inboxMigrations, startConsumer, type MessageHandler } from '#platform/bus/consumer.ts';
import { listDeadLetters, replayDeadLetters } from '#platform/bus/dead-letters.ts';
import { defineError } from '#platform/errors.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSecureSkip, kafkaSkip, uniqueName } from '#test/infra.ts';
import { loadKafkaSecurity } from '#platform/config.ts';

const TestFailure = defineError('ORD_ERR_TEST_FAILURE', 500);

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Wraps a Bus so that every batch delivered to a subscriber is seen by `onBatch` first. */
function observedBus(inner: Bus, onBatch: (batch: InRecord[]) => void, afterHandle?: (batch: InRecord[]) => void): Bus {
  return {
    ...inner,
    kind: inner.kind,
    subscribe: (opts) =>
      inner.subscribe({
        ...opts,
        async handle(batch) {
          onBatch(batch);
          await opts.handle(batch);
          afterHandle?.(batch);
        },
      }),
  };
}

interface Adapter {
  name: string;
  skip?: string;
  open(dir: string): Promise<Bus>;
  /** How long a test waits for something to happen (Kafka group joins take seconds). */
  patienceMs: number;
  pollMs: number;
}

const adapters: Adapter[] = [
  {
    name: 'the embedded log',
    open: async (dir) => openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger }),
    patienceMs: 10_000,
    pollMs: 10,
  },
  {
    name: 'Kafka',
    skip: kafkaSkip(),
    open: async () =>
      openKafkaBus({
        brokers: (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()),
        clientId: 'conformance',
        namespace: uniqueName('conformance'),
        log: silentLogger,
      }),
    patienceMs: 45_000,
    pollMs: 200,
  },
  {
    // The same contract over an encrypted, authenticated connection (npm run infra:kafka -- --secure).
    name: 'Kafka over SASL_SSL (SCRAM)',
    skip: kafkaSecureSkip(),
    open: async () =>
      openKafkaBus({
        brokers: (process.env.KAFKA_SECURE_BROKERS ?? '').split(',').map((s) => s.trim()),
        security: loadKafkaSecurity({
          KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
          KAFKA_SSL_CA_FILE: process.env.KAFKA_SECURE_CA_FILE,
          KAFKA_SASL_MECHANISM: process.env.KAFKA_SECURE_MECHANISM,
          KAFKA_SASL_USERNAME: process.env.KAFKA_SECURE_USERNAME,
          KAFKA_SASL_PASSWORD: process.env.KAFKA_SECURE_PASSWORD,
        }),
        clientId: 'conformance-secure',
        namespace: uniqueName('conformance'),
        log: silentLogger,
      }),
    patienceMs: 45_000,
    pollMs: 200,
  },
];

for (const adapter of adapters) {
  describe(`the bus contract on ${adapter.name}`, { skip: adapter.skip }, () => {
    let dir: string;
    let bus: Bus;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'orderflow-conformance-'));
      bus = await adapter.open(dir);
    });
    after(async () => {
      await bus?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    // A fresh service database and topic per test; everything closed in reverse order.
    async function setup(t: TestContext, partitions = 4) {
      const stack: Array<() => unknown> = [];
      t.after(async () => {
        for (const fn of stack.reverse()) await fn();
      });
      const db = openSqlite({ file: join(dir, `${uniqueName('service')}.sqlite`) });
      stack.push(() => db.close());
      await migrate(db, [...outboxMigrations, ...inboxMigrations]);
      await db.execute('CREATE TABLE effects (message_id TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL)');
      const topic = uniqueName('topic');
      await bus.ensureTopics([{ name: topic, partitions }]);
      const groupId = uniqueName('group');
      const start = async (o: {
        handlers: Record<string, MessageHandler>;
        validate?: (m: Envelope) => string | undefined;
        bus?: Bus;
        onProcessed?: (m: Envelope) => void;
      }) => {
        const consumer = await startConsumer({
          db,
          bus: o.bus ?? bus,
          groupId,
          topics: [topic],
          handlers: o.handlers,
          validate: o.validate ?? (() => undefined),
          retry: { attempts: 3, baseMs: 10, maxMs: 40 },
          log: silentLogger,
          onProcessed: o.onProcessed,
        });
        stack.push(() => consumer.close());
        return consumer;
      };
      const publish = (messages: Envelope[]) => bus.publish(messages.map((m) => encode(topic, m)));
      return { db, topic, groupId, start, publish };
    }

    const effect: MessageHandler = async ({ tx, message }) => {
      await tx.execute('INSERT INTO effects (message_id, key, n) VALUES ($1, $2, $3)', [message.id, message.key, (message.payload as { n: number }).n]);
    };
    const effects = async (db: Db) => (await db.query<{ message_id: string; key: string; n: number }>('SELECT message_id, key, n FROM effects')).map((r) => ({ ...r }));
    const msg = (key: string, n: number, type = 'Counted') =>
      newEnvelope({ type, key, payload: { n }, headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` } });
    const wait = (what: string, check: () => boolean | Promise<boolean>) => until(what, check, adapter.patienceMs, adapter.pollMs);

    test('each key’s messages are handled in the order they were published', async (t) => {
      const { start, publish } = await setup(t);
      const keys = Array.from({ length: 40 }, (_, i) => `order-${i}`);
      const perKey = 25;
      const handled = new Map<string, number[]>();
      let total = 0;
      await start({
        handlers: {
          Counted: async (ctx) => {
            await effect(ctx);
            const list = handled.get(ctx.message.key) ?? [];
            list.push((ctx.message.payload as { n: number }).n);
            handled.set(ctx.message.key, list);
          },
        },
        onProcessed: () => total++,
      });
      // Interleaved keys over several publish calls, so partitions fill concurrently.
      for (let n = 0; n < perKey; n += 5) {
        const batch: Envelope[] = [];
        for (let j = n; j < n + 5; j++) for (const key of keys) batch.push(msg(key, j));
        await publish(batch);
      }
      await wait('every message is handled', () => total === keys.length * perKey);
      const inOrder = Array.from({ length: perKey }, (_, i) => i);
      for (const key of keys) assert.deepEqual(handled.get(key), inOrder, `messages of ${key} out of order`);
    });

    test('a consumer group resumes where it left off after a restart', async (t) => {
      const { start, publish } = await setup(t);
      const first = Array.from({ length: 10 }, (_, i) => msg(`k${i % 3}`, i));
      const seenFirst = new Set<string>();
      const consumer = await start({ handlers: { Counted: effect }, onProcessed: (m) => seenFirst.add(m.id) });
      await publish(first);
      await wait('the first consumer handled the first messages', () => seenFirst.size === first.length);
      await consumer.close();

      const second = Array.from({ length: 5 }, (_, i) => msg(`k${i % 3}`, 100 + i));
      await publish(second);
      const delivered: string[] = [];
      const seenSecond = new Set<string>();
      const watched = observedBus(bus, (batch) => {
        for (const r of batch) delivered.push(JSON.parse(r.value).id);
      });
      await start({ bus: watched, handlers: { Counted: effect }, onProcessed: (m) => seenSecond.add(m.id) });
      await wait('the restarted consumer handled the new messages', () => seenSecond.size === second.length);
      assert.deepEqual([...delivered].sort(), second.map((m) => m.id).sort(), 'only the new messages are delivered, each once');
    });

    test('a redelivery after a crash before the offset commit is deduplicated by the inbox', async (t) => {
      const { db, start, publish } = await setup(t, 1);
      const deliveries = new Map<string, number>();
      let crashed = false;
      let redeliveryHandled = false;
      // The database work commits, then the offset commit is prevented once (the "crash").
      const crashing: Bus = {
        ...bus,
        kind: bus.kind,
        subscribe: (opts) =>
          bus.subscribe({
            ...opts,
            async handle(batch) {
              const again = batch.some((r) => deliveries.has(r.offset));
              for (const r of batch) deliveries.set(r.offset, (deliveries.get(r.offset) ?? 0) + 1);
              await opts.handle(batch);
              if (again) redeliveryHandled = true;
              if (!crashed) {
                crashed = true;
                throw new Error('injected crash between the database commit and the offset commit');
              }
            },
          }),
      };
      let calls = 0;
      await start({
        bus: crashing,
        handlers: {
          Counted: async (ctx) => {
            calls++;
            await effect(ctx);
          },
        },
      });
      const sent = [msg('dup', 1), msg('dup', 2), msg('dup', 3)];
      await publish(sent);
      await wait('the records are delivered again and handled', () => redeliveryHandled);
      const rows = await effects(db);
      assert.equal(rows.length, sent.length, 'each side effect happened exactly once');
      assert.equal(calls, sent.length, 'the handler never ran for a redelivered message');
      const [{ n }] = await db.query<{ n: number }>('SELECT count(*) AS n FROM inbox');
      assert.equal(n, sent.length);
    });

    test('a failing handler is retried, dead-lettered with its key, headers and error, and replayed once fixed', async (t) => {
      const { db, topic, start, publish } = await setup(t);
      let fixed = false;
      let attempts = 0;
      await start({
        handlers: {
          Counted: async (ctx) => {
            if (!fixed) {
              attempts++;
              throw TestFailure('the handler has a bug');
            }
            await effect(ctx);
          },
        },
      });
      const bad = msg('order-dl', 1);
      await publish([bad]);
      await wait('the message is dead-lettered', async () => (await listDeadLetters(bus, topic)).length === 1);
      assert.equal(attempts, 3, 'retried up to the bounded number of attempts');
      const [dl] = await listDeadLetters(bus, topic);
      assert.equal(dl.id, bad.id);
      assert.equal(dl.record.key, 'order-dl');
      assert.equal(dl.record.headers.correlationId, bad.headers.correlationId);
      assert.equal(dl.record.headers.traceparent, bad.headers.traceparent);
      assert.deepEqual(dl.error, { code: 'ORD_ERR_TEST_FAILURE', message: 'the handler has a bug' });
      assert.equal(dl.attempts, 3);
      assert.equal(dl.originalTopic, topic);
      assert.deepEqual(await effects(db), []);

      fixed = true;
      assert.equal(await replayDeadLetters(bus, topic), 1);
      await wait('the replayed message is processed', async () => (await effects(db)).length === 1);
      assert.equal((await effects(db))[0].message_id, bad.id);
    });

    test('a message that fails its schema is dead-lettered at once, and processed when replayed under a fixed contract', async (t) => {
      const { db, topic, start, publish } = await setup(t);
      let strict = true;
      let calls = 0;
      await start({
        validate: (m) => (strict && typeof (m.payload as { n: unknown }).n !== 'string' ? '/n: Expected string' : undefined),
        handlers: {
          Counted: async (ctx) => {
            calls++;
            await effect(ctx);
          },
        },
      });
      const invalid = msg('order-schema', 7);
      await publish([invalid]);
      await wait('the message is dead-lettered', async () => (await listDeadLetters(bus, topic)).length === 1);
      const [dl] = await listDeadLetters(bus, topic);
      assert.equal(dl.id, invalid.id);
      assert.equal(dl.attempts, 0, 'no retries');
      assert.equal(dl.error.code, 'PLT_ERR_INVALID_MESSAGE');
      assert.match(dl.error.message, /\/n: Expected string/);
      assert.equal(calls, 0, 'the handler was never called');

      strict = false;
      assert.equal(await replayDeadLetters(bus, topic, { ids: [invalid.id] }), 1);
      await wait('the replayed message is processed', () => calls === 1);
      assert.deepEqual((await effects(db)).map((e) => e.message_id), [invalid.id]);
    });

    test('positions tell each partition\'s end and the group\'s commit; the lag is their difference', async (t) => {
      const { topic, groupId, start, publish } = await setup(t, 2);
      const before = await bus.positions([topic], groupId);
      assert.deepEqual(before.map((p) => [p.topic, p.partition, p.end - p.start, p.committed]), [[topic, 0, 0, undefined], [topic, 1, 0, undefined]]);
      await publish(Array.from({ length: 10 }, (_, i) => msg(`k${i}`, i)));
      const published = await bus.positions([topic]);
      assert.equal(published.reduce((n, p) => n + p.end - p.start, 0), 10);
      assert.ok(published.every((p) => p.committed === undefined), 'no group asked, no commit told');

      let handled = 0;
      await start({ handlers: { Counted: async () => void handled++ } });
      await until('all handled and committed', async () => {
        const ps = await bus.positions([topic], groupId);
        return handled === 10 && ps.every((p) => p.committed === p.end);
      }, adapter.patienceMs, adapter.pollMs);
      assert.equal(await bus.lag(groupId, [topic]), 0);
    });

    test('a subscription says it joined its group while open, and not once closed; the bus says it is reachable', async (t) => {
      const { start } = await setup(t, 2);
      await bus.reachable();
      const consumer = await start({ handlers: {} });
      await until('the member joined', () => consumer.joined(), adapter.patienceMs, adapter.pollMs);
      await consumer.close();
      assert.equal(consumer.joined(), false);
    });
  });
}
