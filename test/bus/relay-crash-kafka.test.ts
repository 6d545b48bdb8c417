/**
 * The outbox relay killed after its publish and before its DELETE, on Kafka and PostgreSQL:
 * a service process (test/support/outbox-crash-child.ts) commits 12 messages, its relay
 * publishes them to the broker, and it is killed with SIGKILL while the batched DELETE of the
 * published rows is pending. The restarted relay's poll publishes the rows again; a consumer
 * downstream, with its inbox, is handed both copies and applies each message once, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bus, InRecord } from '#platform/bus/bus.ts';
import { inboxMigrations, startConsumer } from '#platform/bus/consumer.ts';
import { decode } from '#platform/bus/envelope.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { startOutboxRelay } from '#platform/bus/outbox-relay.ts';
import { silentLogger } from '#platform/log.ts';
import { databaseUrl, kafkaBrokers, kafkaSkip, postgresSkip, uniqueName } from '#test/infra.ts';
import { postgresTestDb } from '#test/support/db.ts';

const TOPIC = 'relay-crash';
const childScript = fileURLToPath(new URL('../support/outbox-crash-child.ts', import.meta.url));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a relay killed after publishing and before deleting: the restart publishes the rows again, downstream applies each once', { skip: kafkaSkip() ?? postgresSkip(), timeout: 180_000 }, async (t) => {
  const brokers = kafkaBrokers(t);
  const url = databaseUrl(t);
  const db = await postgresTestDb(t, 'relaycrash', outboxMigrations);
  const downstreamDb = await postgresTestDb(t, 'relaycrash_down', [...outboxMigrations, ...inboxMigrations]);
  if (!brokers || !url || !db || !downstreamDb) return;
  const namespace = uniqueName('relaycrash');
  const bus = await openKafkaBus({ brokers, clientId: 'relay-crash', namespace, log: silentLogger });
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: TOPIC, partitions: 4 }]);

  const [{ d: database }] = await db.query<{ d: string }>('SELECT current_database() AS d');
  const child = spawn(join(process.cwd(), 'node_modules/.bin/node'), [childScript, url, database, `kafka|${brokers.join(',')}|${namespace}`, TOPIC, 'after-publish', '3', '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => void (chunk.toString().includes('committed') && resolve()));
    child.on('exit', () => reject(new Error('the child exited before publishing')));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.equal((await db.query('SELECT id FROM outbox')).length, 12, 'the killed relay left its 12 published rows in the outbox');
  const before = await bus.read(TOPIC, { limit: 100 });
  assert.equal(before.length, 12, 'the 12 messages are on the broker');

  // Downstream: a consumer with its inbox; what the group hands it, and what its handler applies.
  const handedOut: string[] = [];
  const counting: Bus = {
    ...bus,
    kind: bus.kind,
    subscribe: (opts) => bus.subscribe({ ...opts, handle: async (batch: InRecord[]) => (handedOut.push(...batch.map((r) => decode(r).id)), opts.handle(batch)) }),
  };
  const applied: Array<{ id: string; key: string; n: number }> = [];
  const consumer = await startConsumer({
    db: downstreamDb, bus: counting, groupId: 'downstream', topics: [TOPIC], validate: () => undefined, log: silentLogger,
    handlers: { TestHappened: async ({ message: m }) => void applied.push({ id: m.id, key: m.key, n: (m.payload as { n: number }).n }) },
  });
  t.after(() => consumer.close());

  // The restarted service: its relay polls at start and publishes the rows again.
  const relay = startOutboxRelay({ db, bus, log: silentLogger, idlePollMs: 60_000 });
  t.after(() => relay.close());
  await relay.flush();
  assert.equal((await db.query('SELECT id FROM outbox')).length, 0, 'the restart published and deleted the rows');
  const after = await bus.read(TOPIC, { limit: 100 });
  assert.equal(after.length, 24, 'each message is on the broker twice');
  const ids = before.map((r) => decode(r).id);
  for (const id of ids) assert.equal(after.filter((r) => decode(r).id === id).length, 2, `message ${id} published twice`);

  await until('both copies of every message handed downstream', () => handedOut.length >= 24);
  await until('the group committed every copy', async () => (await bus.lag('downstream', [TOPIC])) === 0);
  assert.equal(handedOut.length, 24);
  assert.equal(applied.length, 12, 'the inbox applied each message once');
  assert.deepEqual(applied.map((a) => a.id).sort(), [...ids].sort(), 'nothing lost');
  for (const key of ['k0', 'k1', 'k2']) assert.deepEqual(applied.filter((a) => a.key === key).map((a) => a.n), [0, 1, 2, 3], `key ${key} in order`);
});
