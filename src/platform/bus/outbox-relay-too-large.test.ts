import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../db/db.ts';
import { migrate } from '../db/migrate.ts';
import type { Bus } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { openKafkaBus } from './kafka/kafka-bus.ts';
import { decode, newEnvelope, type Envelope } from './envelope.ts';
import { appendToOutbox, outboxMigrations } from './outbox.ts';
import { startOutboxRelay } from './outbox-relay.ts';
import { queryDeadLetters } from './dead-letter-store.ts';
import { replayStoredDeadLetters } from './dead-letters.ts';
import { silentLogger } from '../log.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';
import { dbVariants, deferrer, type Defer } from '#test/support/db.ts';

const TOPIC = 'too-large-test';
// Small, so that the test's records stay small: a few KB is "too large" here.
const LIMIT = 4096;

const dbs = dbVariants('toolarge');

const buses: Array<{ name: string; skip?: string; open: (defer: Defer, dir: string) => Promise<Bus> }> = [
  {
    name: 'the embedded log',
    open: async (defer, dir) => {
      const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger, maxRecordBytes: LIMIT });
      defer(() => bus.close());
      await bus.ensureTopics([{ name: TOPIC, partitions: 2 }]);
      return bus;
    },
  },
  {
    name: 'Kafka',
    skip: kafkaSkip(),
    open: async (defer) => {
      const brokers = (process.env.KAFKA_BROKERS as string).split(',');
      const bus = await openKafkaBus({ brokers, clientId: 'too-large-test', namespace: uniqueName('toolarge') });
      defer(() => bus.close());
      // The broker's limit (max.message.bytes), below the producer's own (1 MiB): the broker refuses.
      await bus.ensureTopics([{ name: TOPIC, partitions: 2, maxRecordBytes: LIMIT }]);
      return bus;
    },
  },
];

const message = (key: string, n: number, bytes = 0): Envelope => newEnvelope({ type: 'TestHappened', key, payload: { n, pad: 'x'.repeat(bytes) } });

async function waitUntil(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const b of buses) {
  for (const d of dbs) {
    describe(`the outbox relay on ${b.name} and ${d.name}`, { skip: b.skip ?? d.skip, timeout: 120_000 }, () => {
      async function setup(t: TestContext) {
        const defer = deferrer(t);
        const dir = mkdtempSync(join(tmpdir(), 'orderflow-too-large-'));
        defer(() => rmSync(dir, { recursive: true, force: true }));
        const db = await d.open(defer, dir);
        await migrate(db, outboxMigrations);
        const bus = await b.open(defer, dir);
        let deadLettered = 0;
        const relay = startOutboxRelay({ db, bus, log: silentLogger, idlePollMs: 60_000, onDeadLettered: (n) => (deadLettered += n) });
        defer(() => relay.close());
        const append = (messages: Envelope[]) => db.transaction((tx) => appendToOutbox(tx, messages.map((m) => ({ topic: TOPIC, message: m }))));
        const onTopic = async () => (await bus.read(TOPIC, { limit: 10_000 })).map((r) => decode(r));
        return { db, bus, relay, append, onTopic, deadLettered: () => deadLettered };
      }

      test('moves a record too large for the bus to dead_letters and publishes the rows after it', async (t) => {
        const { db, relay, append, onTopic, deadLettered } = await setup(t);
        const big = message('a', 2, LIMIT * 2);
        const sent = [message('a', 1), big, message('a', 3), message('b', 1)];
        await append(sent);
        await relay.flush();
        await waitUntil(async () => (await onTopic()).length >= 3);
        const got = await onTopic();
        assert.deepEqual(got.filter((m) => m.key === 'a').map((m) => (m.payload as { n: number }).n), [1, 3], 'the rest of the key goes on, in order');
        assert.ok(got.some((m) => m.id === sent[3].id));
        assert.ok(!got.some((m) => m.id === big.id), 'the big one never reached the topic');

        const [dl, ...more] = await queryDeadLetters(db, { topic: TOPIC });
        assert.equal(more.length, 0);
        assert.equal(dl.origin, 'relay');
        assert.equal(dl.state, 'pending');
        assert.equal(dl.messageId, big.id);
        assert.equal(dl.messageType, 'TestHappened');
        assert.equal(dl.error.code, 'PLT_ERR_RECORD_TOO_LARGE');
        assert.equal(dl.attempts, 0);
        assert.equal(decode(dl.record).id, big.id, 'the whole record is kept');
        assert.equal(dl.dlqTopic, undefined);
        assert.equal(deadLettered(), 1, 'counted');
        await waitUntil(async () => (await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox')).map((r) => Number(r.n))[0] === 0);
      });

      test('keeps going after a refused record: a later commit is published', async (t) => {
        const { relay, append, onTopic } = await setup(t);
        await append([message('c', 1, LIMIT * 3)]);
        await relay.flush();
        const later = message('c', 2);
        await append([later]);
        await relay.flush();
        await waitUntil(async () => (await onTopic()).some((m) => m.id === later.id));
      });

      test('a replayed dead letter too large again is set aside again, as a new pending row', async (t) => {
        const { db, relay, append } = await setup(t);
        const big = message('d', 1, LIMIT * 2);
        await append([big]);
        await relay.flush();
        const [first] = await queryDeadLetters(db, { topic: TOPIC });
        await replayStoredDeadLetters(db, { ids: [first.id] });
        relay.wake();
        await relay.flush();
        await waitUntil(async () => (await queryDeadLetters(db, { topic: TOPIC, state: 'pending' })).length === 1);
        const rows = await queryDeadLetters(db, { topic: TOPIC });
        assert.deepEqual(rows.map((r) => r.state).sort(), ['pending', 'replayed']);
        assert.ok(rows.every((r) => r.messageId === big.id));
      });

      if (b.name === 'Kafka') {
        test('a batch of small records over the limit together is split, and none is dead-lettered', async (t) => {
          const { db, relay, append, onTopic } = await setup(t);
          // One key: one partition, one record batch of ~16 KB, four times the topic's limit.
          const sent = Array.from({ length: 40 }, (_, i) => message('same', i, 300));
          await append(sent);
          await relay.flush();
          await waitUntil(async () => (await onTopic()).length >= 40);
          assert.deepEqual((await onTopic()).map((m) => (m.payload as { n: number }).n), sent.map((_, i) => i), 'all of them, in order');
          assert.deepEqual(await queryDeadLetters(db), []);
        });
      }
    });
  }
}
