import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../db/db.ts';
import { migrate } from '../db/migrate.ts';
import type { Bus, InRecord } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { decode, encode, newEnvelope, type Envelope } from './envelope.ts';
import { outboxMigrations } from './outbox.ts';
import { inboxMigrations, startConsumer } from './consumer.ts';
import { startOutboxRelay } from './outbox-relay.ts';
import { newDeadLetterId, purgeSettledDeadLetters, queryDeadLetters, recordDeadLetters, takePending, type NewDeadLetter } from './dead-letter-store.ts';
import { discardDeadLetters, dlqTopic, replayStoredDeadLetters } from './dead-letters.ts';
import { silentLogger } from '../log.ts';
import { dbVariants, deferrer } from '#test/support/db.ts';

const TOPIC = 'dls-test';
const OTHER = 'dls-other';

const variants = dbVariants('dls');

const message = (key: string, n: number): Envelope => newEnvelope({ type: 'Thing', key, payload: { n } });

function letter(topic: string, m: Envelope, offset: string, group = 'g'): NewDeadLetter {
  const rec = encode(topic, m);
  return {
    id: newDeadLetterId(),
    source: `${group}/${topic}/0/${offset}`,
    origin: 'consumer',
    consumerGroup: group,
    messageId: m.id,
    messageType: m.type,
    record: rec,
    error: { code: 'E', message: 'boom' },
    attempts: 3,
    originalPartition: 0,
    originalOffset: offset,
    failedAt: new Date().toISOString(),
    dlqTopic: dlqTopic(topic),
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const v of variants) {
  describe(`dead letters in the table on ${v.name}`, { skip: v.skip }, () => {
    async function setup(t: TestContext) {
      const defer = deferrer(t);
      const dir = mkdtempSync(join(tmpdir(), 'orderflow-dls-'));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      const db = await v.open(defer, dir);
      await migrate(db, [...outboxMigrations, ...inboxMigrations]);
      const bus: Bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
      defer(() => bus.close());
      await bus.ensureTopics([{ name: TOPIC, partitions: 2 }, { name: OTHER, partitions: 1 }]);
      return { db, bus, defer };
    }

    test('a consumer records what it dead-letters as a pending row, and its .dlq copy names the row', async (t) => {
      const { db, bus, defer } = await setup(t);
      const consumer = await startConsumer({
        db, bus, groupId: 'g', topics: [TOPIC], log: silentLogger, retry: { attempts: 2, baseMs: 1, maxMs: 2 },
        validate: (m) => ((m.payload as { n: number }).n === 2 ? 'n must not be 2' : undefined),
        handlers: {
          Thing: async ({ message: m }) => {
            if ((m.payload as { n: number }).n === 1) throw new Error('cannot handle 1');
          },
        },
      });
      defer(() => consumer.close());
      const failing = message('k', 1);
      const invalid = message('k', 2);
      await bus.publish([encode(TOPIC, failing), encode(TOPIC, invalid), encode(TOPIC, message('k', 3)), { topic: TOPIC, key: 'k', value: 'not json', headers: {} }]);
      await until('three dead letters', async () => (await queryDeadLetters(db)).length === 3);
      const rows = await queryDeadLetters(db, { topic: TOPIC });
      const byId = new Map(rows.map((r) => [r.messageId ?? 'malformed', r]));
      const f = byId.get(failing.id)!;
      assert.equal(f.origin, 'consumer');
      assert.equal(f.consumerGroup, 'g');
      assert.equal(f.state, 'pending');
      assert.equal(f.attempts, 2);
      assert.match(f.error.message, /cannot handle 1/);
      assert.equal(f.dlqTopic, dlqTopic(TOPIC));
      assert.deepEqual(f.record, encode(TOPIC, failing), 'the original record');
      assert.equal(byId.get(invalid.id)!.attempts, 0);
      assert.equal(byId.get(invalid.id)!.error.code, 'PLT_ERR_INVALID_MESSAGE');
      assert.equal(byId.get('malformed')!.messageId, undefined);
      const copies = await bus.read(dlqTopic(TOPIC));
      assert.deepEqual(copies.map((c) => c.headers['dlq-id']).sort(), rows.map((r) => r.id).sort(), 'each copy names its row');
    });

    test('a dead letter too large for its dead-letter topic is kept in the table, and the partition goes on', async (t) => {
      const { db, defer } = await setup(t);
      const dir = mkdtempSync(join(tmpdir(), 'orderflow-dls-small-'));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger, maxRecordBytes: 4096 });
      defer(() => bus.close());
      await bus.ensureTopics([{ name: TOPIC, partitions: 1 }]);
      const handled: number[] = [];
      const consumer = await startConsumer({
        db, bus, groupId: 'g', topics: [TOPIC], log: silentLogger, retry: { attempts: 1 }, validate: () => undefined,
        handlers: {
          Thing: async ({ message: m }) => {
            const n = (m.payload as { n: number }).n;
            if (n === 1) throw new Error('x'.repeat(1500));
            handled.push(n);
          },
        },
      });
      defer(() => consumer.close());
      // Fits the topic; with the dlq headers (the error among them) it does not fit the .dlq.
      const big = newEnvelope({ type: 'Thing', key: 'k', payload: { n: 1, pad: 'y'.repeat(3000) } });
      await bus.publish([encode(TOPIC, big), encode(TOPIC, message('k', 2))]);
      await until('the next message is handled', () => handled.includes(2));
      const [row] = await queryDeadLetters(db, { topic: TOPIC });
      assert.equal(row.messageId, big.id);
      assert.equal(row.dlqTopic, undefined, 'no copy on the topic');
      assert.deepEqual(await bus.read(dlqTopic(TOPIC)), []);
    });

    test('the same failure recorded twice (a crash between the copy and the row) is one row', async (t) => {
      const { db } = await setup(t);
      const l = letter(TOPIC, message('k', 1), '7');
      await recordDeadLetters(db, [l]);
      await recordDeadLetters(db, [{ ...l, id: newDeadLetterId() }]);
      assert.equal((await queryDeadLetters(db)).length, 1);
    });

    test('listing filters by topic, by state and by id, oldest first', async (t) => {
      const { db } = await setup(t);
      const a = message('a', 1);
      const b = message('b', 1);
      const c = message('c', 1);
      await recordDeadLetters(db, [letter(TOPIC, a, '1'), letter(TOPIC, b, '2'), letter(OTHER, c, '1')]);
      assert.deepEqual((await queryDeadLetters(db, { topic: TOPIC })).map((r) => r.messageId), [a.id, b.id]);
      assert.deepEqual((await queryDeadLetters(db, { topic: OTHER })).map((r) => r.messageId), [c.id]);
      await discardDeadLetters(db, { topic: TOPIC, ids: [b.id] });
      assert.deepEqual((await queryDeadLetters(db, { topic: TOPIC, state: 'pending' })).map((r) => r.messageId), [a.id]);
      assert.deepEqual((await queryDeadLetters(db, { state: 'discarded' })).map((r) => r.messageId), [b.id]);
      const [row] = await queryDeadLetters(db, { ids: [a.id] });
      assert.deepEqual((await queryDeadLetters(db, { ids: [row.id] })).map((r) => r.messageId), [a.id], 'by row id too');
    });

    test('a replay republishes the pending ones through the outbox, once: a second replay replays nothing', async (t) => {
      const { db, bus, defer } = await setup(t);
      const relay = startOutboxRelay({ db, bus, log: silentLogger, idlePollMs: 60_000 });
      defer(() => relay.close());
      const a = message('a', 1);
      const b = message('b', 1);
      const c = message('c', 1);
      // `a` dead-lettered twice (two deliveries): replayed once.
      await recordDeadLetters(db, [letter(TOPIC, a, '1'), letter(TOPIC, a, '5'), letter(TOPIC, b, '2'), letter(TOPIC, c, '3')]);
      await discardDeadLetters(db, { ids: [c.id] });

      const taken = await replayStoredDeadLetters(db, { topic: TOPIC });
      assert.equal(taken.length, 3);
      await relay.flush();
      const back = (await bus.read(TOPIC)).map((r: InRecord) => decode(r).id).sort();
      assert.deepEqual(back, [a.id, b.id].sort(), 'the discarded one stays out; a goes back once');
      assert.deepEqual((await queryDeadLetters(db, { topic: TOPIC, state: 'replayed' })).length, 3);

      assert.deepEqual(await replayStoredDeadLetters(db, { topic: TOPIC }), []);
      await relay.flush();
      assert.equal((await bus.read(TOPIC)).length, 2);
      assert.deepEqual(await discardDeadLetters(db, { ids: [a.id] }), [], 'a replayed one is not discarded');
    });

    test('replayed and discarded dead letters are purged past the retention; pending ones are kept, however old', async (t) => {
      const { db } = await setup(t);
      const [a, b, c] = [message('a', 1), message('b', 1), message('c', 1)];
      await recordDeadLetters(db, [letter(TOPIC, a, '1'), letter(TOPIC, b, '2'), letter(TOPIC, c, '3')]);
      await discardDeadLetters(db, { ids: [a.id] });
      await db.transaction((tx) => takePending(tx, { ids: [b.id] }, 'replayed'));
      assert.equal(await purgeSettledDeadLetters(db, new Date(Date.now() - 60_000).toISOString(), 100), 0, 'settled within the retention: kept');
      assert.equal(await purgeSettledDeadLetters(db, new Date(Date.now() + 60_000).toISOString(), 1), 1, 'one chunk at a time');
      assert.equal(await purgeSettledDeadLetters(db, new Date(Date.now() + 60_000).toISOString(), 100), 1);
      assert.deepEqual((await queryDeadLetters(db)).map((r) => [r.messageId, r.state]), [[c.id, 'pending']]);
    });

    test('of two concurrent replays, each dead letter goes to one', async (t) => {
      const { db } = await setup(t);
      const letters = Array.from({ length: 20 }, (_, i) => letter(TOPIC, message(`k${i}`, i), String(i)));
      await recordDeadLetters(db, letters);
      const [one, two] = await Promise.all([replayStoredDeadLetters(db, { topic: TOPIC }), replayStoredDeadLetters(db, { topic: TOPIC })]);
      assert.equal(one.length + two.length, 20);
      const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox');
      assert.equal(Number(n), 20, 'every one in the outbox, once');
    });
  });
}
