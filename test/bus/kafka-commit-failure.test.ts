/**
 * An offset commit that fails, on a real broker with a real PostgreSQL inbox: the client's
 * OffsetCommit is made to fail (the one fake here: it injects the fault), the records are
 * handled and their effects committed in the database, the consumer restarts with nothing
 * committed, the group hands every record out again, and the inbox absorbs the copies: each
 * effect once, nothing lost, each key in order.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer } from '@platformatic/kafka';
import type { Bus, InRecord } from '#platform/bus/bus.ts';
import { inboxMigrations, startConsumer, type MessageHandler } from '#platform/bus/consumer.ts';
import { encode, newEnvelope } from '#platform/bus/envelope.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';
import { postgresTestDb } from '#test/support/db.ts';

const TOPIC = 'commit-failure';
const GROUP = 'downstream';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type CommitFn = (this: Consumer, options: unknown, callback?: (err?: Error) => void) => unknown;

/** Makes every OffsetCommit of this process fail while `failing` is set; counts the failures. */
function failingCommits(t: TestContext) {
  const proto = Consumer.prototype as unknown as { commit: CommitFn };
  const original = proto.commit;
  const state = { failing: true, failures: 0 };
  proto.commit = function (options, callback) {
    if (!state.failing) return original.call(this, options, callback);
    state.failures++;
    const err = new Error('injected offset commit failure');
    if (callback) return void callback(err);
    return Promise.reject(err);
  };
  t.after(() => void (proto.commit = original));
  return state;
}

/** Counts what the group hands the consumer layer, per record, before the inbox sees it. */
function counted(inner: Bus, handedOut: Map<string, number>): Bus {
  return {
    ...inner,
    kind: inner.kind,
    subscribe: (opts) =>
      inner.subscribe({
        ...opts,
        async handle(batch: InRecord[]) {
          for (const r of batch) handedOut.set(`${r.partition}:${r.offset}`, (handedOut.get(`${r.partition}:${r.offset}`) ?? 0) + 1);
          await opts.handle(batch);
        },
      }),
  };
}

test('offset commits that fail: after a restart the records are handed out again and the inbox applies each once', { skip: kafkaSkip(), timeout: 180_000 }, async (t) => {
  const brokers = kafkaBrokers(t);
  if (!brokers) return;
  const db = await postgresTestDb(t, 'commitfail', [...outboxMigrations, ...inboxMigrations]);
  if (!db) return;
  await db.execute('CREATE TABLE effects (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, message_id TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL)');
  // Commits are due every 100 ms: the failing ones are retried many times before the restart.
  const bus = await openKafkaBus({ brokers, clientId: 'commit-failure', namespace: uniqueName('commitfail'), log: silentLogger, commitPolicy: { intervalMs: 100 } });
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: TOPIC, partitions: 3 }]);
  const faults = failingCommits(t);

  let calls = 0;
  const effect: MessageHandler = async ({ tx, message }) => {
    calls++;
    await tx.execute('INSERT INTO effects (message_id, key, n) VALUES ($1, $2, $3)', [message.id, message.key, (message.payload as { n: number }).n]);
  };
  const start = (handedOut: Map<string, number>) =>
    startConsumer({ db, bus: counted(bus, handedOut), groupId: GROUP, topics: [TOPIC], handlers: { Counted: effect }, validate: () => undefined, log: silentLogger });

  const messages = Array.from({ length: 60 }, (_, i) => newEnvelope({ type: 'Counted', key: `k${i % 6}`, payload: { n: Math.floor(i / 6) } }));
  const firstRun = new Map<string, number>();
  const first = await start(firstRun);
  await bus.publish(messages.map((m) => encode(TOPIC, m)));
  await until('the first run handled all 60', async () => (await effectRows(db)).length === 60);
  await until('several commits failed', () => faults.failures >= 3, 10_000);
  const ends = await bus.positions([TOPIC], GROUP);
  assert.deepEqual(ends.map((p) => p.committed), [undefined, undefined, undefined], 'no offset was committed');
  await first.close();
  assert.equal(calls, 60);

  // The restart, with a broker that accepts commits again.
  faults.failing = false;
  const secondRun = new Map<string, number>();
  const second = await start(secondRun);
  t.after(() => second.close());
  await until('the restarted consumer committed every offset', async () => (await bus.lag(GROUP, [TOPIC])) === 0);
  await second.close();

  assert.equal(secondRun.size, 60, 'every record was handed out again after the restart');
  assert.ok([...secondRun.values()].every((n) => n === 1), 'and each once');
  assert.equal(calls, 60, 'the handler never ran for a copy: the inbox skipped all 60');
  const rows = await effectRows(db);
  assert.equal(rows.length, 60, 'each effect exactly once');
  assert.deepEqual(new Set(rows.map((r) => r.message_id)), new Set(messages.map((m) => m.id)), 'nothing lost');
  for (let k = 0; k < 6; k++) {
    assert.deepEqual(rows.filter((r) => r.key === `k${k}`).map((r) => r.n), Array.from({ length: 10 }, (_, n) => n), `key k${k} in order`);
  }
});

async function effectRows(db: Db) {
  return db.query<{ message_id: string; key: string; n: number }>('SELECT message_id, key, n FROM effects ORDER BY seq');
}
