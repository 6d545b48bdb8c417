/**
 * Kafka with lazy offset commits, end to end through the inbox: a consumer process handles
 * messages (their effects commit in the service database) and is killed with SIGKILL before
 * any offset commit; its successor gets every message again, and the inbox absorbs them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqlite } from '#platform/db/sqlite.ts';
import { migrate } from '#platform/db/migrate.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { encode, newEnvelope } from '#platform/bus/envelope.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { inboxMigrations, startConsumer } from '#platform/bus/consumer.ts';
import { kafkaBrokers, kafkaSkip, uniqueName } from '#test/infra.ts';

const childPath = fileURLToPath(new URL('./kafka-inbox-consumer.child.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('after a SIGKILL the uncommitted messages are redelivered and the inbox absorbs them: each effect happens once', { skip: kafkaSkip(), timeout: 120_000 }, async (t) => {
  const brokers = kafkaBrokers(t);
  if (!brokers) return;
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-crash-inbox-'));
  const namespace = uniqueName('kci');
  const bus = await openKafkaBus({ brokers, clientId: 'crash-inbox-test', namespace });
  const dbFile = join(dir, 'service.sqlite');
  const db = openSqlite({ file: dbFile });
  t.after(async () => {
    await bus.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  await db.execute('CREATE TABLE effects (message_id TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL)');
  await bus.ensureTopics([{ name: 'counted', partitions: 4 }]);

  const child = spawn(process.execPath, [childPath, brokers.join(','), namespace, 'counted', 'g', dbFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill('SIGKILL'));
  const processedByChild = new Set<string>();
  let ready = false;
  child.stdout.setEncoding('utf8');
  let buffered = '';
  child.stdout.on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') ready = true;
      else if (line) processedByChild.add(line);
    }
  });
  const deadline = (ms: number) => Date.now() + ms;
  for (const end = deadline(30_000); !ready; await sleep(25)) if (Date.now() > end) throw new Error('the child never got ready');

  const messages = Array.from({ length: 40 }, (_, i) => newEnvelope({ type: 'Counted', key: `k${i % 8}`, payload: { n: i }, headers: {} }));
  await bus.publish(messages.map((m) => encode('counted', m)));
  for (const end = deadline(30_000); processedByChild.size < messages.length; await sleep(25)) if (Date.now() > end) throw new Error(`the child processed ${processedByChild.size} of ${messages.length}`);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(await bus.lag('g', ['counted']), messages.length, 'the killed consumer committed no offset (lazy commit)');

  let processed = 0;
  const successor = await startConsumer({
    db,
    bus,
    groupId: 'g',
    topics: ['counted'],
    validate: () => undefined,
    handlers: {
      Counted: async ({ tx, message }) => {
        processed++;
        await tx.execute('INSERT INTO effects (message_id, key, n) VALUES ($1, $2, $3)', [message.id, message.key, (message.payload as { n: number }).n]);
      },
    },
  });
  t.after(() => successor.close());
  // The killed member keeps its partitions until its session times out (10 s); then all 40
  // records come again, and the lag reaches 0 only once the successor handled (and committed) them.
  for (const end = deadline(60_000); (await bus.lag('g', ['counted'])) > 0; await sleep(200)) if (Date.now() > end) throw new Error('the successor never caught up');
  await successor.close();
  const rows = await db.query<{ message_id: string; key: string; n: number }>('SELECT message_id, key, n FROM effects ORDER BY rowid');
  assert.equal(rows.length, messages.length, 'each effect happened exactly once');
  assert.deepEqual(new Set(rows.map((r) => r.message_id)), new Set(messages.map((m) => m.id)));
  assert.equal(processed, 0, `the handler ran again for ${processed} redelivered messages`);
  // Per key, the effects are in publish order.
  for (let k = 0; k < 8; k++) {
    const ns = rows.filter((r) => r.key === `k${k}`).map((r) => Number(r.n));
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `key k${k}: ${ns.join(',')}`);
  }
});
