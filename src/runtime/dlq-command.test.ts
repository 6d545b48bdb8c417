import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../cli.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { dropPostgresDatabase, openPostgres } from '#platform/db/postgres.ts';
import { migrate } from '#platform/db/migrate.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { inboxMigrations } from '#platform/bus/consumer.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { decode, encode, newEnvelope } from '#platform/bus/envelope.ts';
import { deadLetterRecord, dlqTopic } from '#platform/bus/dead-letters.ts';
import { newDeadLetterId, recordDeadLetters, type StoredDeadLetter } from '#platform/bus/dead-letter-store.ts';
import { silentLogger } from '#platform/log.ts';

const TOPIC = 'payments.commands';

async function setup(t: TestContext) {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-dlq-cli-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const db = openSqlite({ file: join(dataDir, 'payments.sqlite') });
  t.after(() => db.close());
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  const bus = openEmbeddedLog({ file: join(dataDir, 'bus.sqlite'), log: silentLogger });
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: TOPIC, partitions: 2 }, { name: dlqTopic(TOPIC), partitions: 1 }]);
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    // Strings only: the test runner reports to its parent through stdout, in buffers.
    const capture = (stream: NodeJS.WriteStream, into: string[]) => {
      const write = stream.write.bind(stream);
      t.mock.method(stream, 'write', (chunk: unknown, ...rest: unknown[]) => (typeof chunk === 'string' ? into.push(chunk) > 0 : (write as (...a: unknown[]) => boolean)(chunk, ...rest)));
    };
    capture(process.stdout, out);
    capture(process.stderr, err);
    try {
      return { code: await main(['dlq', ...args, '--data-dir', dataDir]), out: out.join(''), err: err.join('') };
    } finally {
      t.mock.restoreAll();
    }
  };
  return { db, bus, run };
}

const letter = (m: ReturnType<typeof newEnvelope>, offset: string) => ({
  id: newDeadLetterId(),
  source: `payments/${TOPIC}/0/${offset}`,
  origin: 'consumer' as const,
  consumerGroup: 'payments',
  messageId: m.id,
  messageType: m.type,
  record: encode(TOPIC, m),
  error: { code: 'PAY_ERR_X', message: 'boom' },
  attempts: 5,
  originalPartition: 0,
  originalOffset: offset,
  failedAt: new Date().toISOString(),
  dlqTopic: dlqTopic(TOPIC),
});

test('orderflow dlq lists, replays once and discards the dead letters of the services tables', async (t) => {
  const { db, bus, run } = await setup(t);
  const a = newEnvelope({ type: 'ChargePayment', key: 'o-1', payload: { n: 1 } });
  const b = newEnvelope({ type: 'ChargePayment', key: 'o-2', payload: { n: 2 } });
  await recordDeadLetters(db, [letter(a, '1'), letter(b, '2')]);

  const listed = await run('list', TOPIC, '--json');
  assert.equal(listed.code, 0);
  const rows = JSON.parse(listed.out) as Array<StoredDeadLetter & { service: string }>;
  assert.deepEqual(rows.map((r) => [r.messageId, r.state, r.service]), [[a.id, 'pending', 'payments'], [b.id, 'pending', 'payments']]);
  assert.match((await run('list', TOPIC)).out, new RegExp(`pending  ${rows[0].id}  payments/payments  ${a.id}  ChargePayment  key=o-1  attempts=5  PAY_ERR_X: boom`));

  const replayed = await run('replay', TOPIC, '--id', a.id);
  assert.equal(replayed.code, 0);
  assert.match(replayed.out, /replayed 1 dead letter onto payments.commands/);
  assert.deepEqual((await bus.read(TOPIC)).map((r) => decode(r).id), [a.id]);
  assert.match((await run('replay', TOPIC, '--id', a.id)).out, /replayed 0 dead letters/, 'a second replay replays nothing');
  assert.equal((await bus.read(TOPIC)).length, 1);

  assert.equal((await run('discard', TOPIC)).code, 2, 'discard needs --id or --all');
  assert.match((await run('discard', TOPIC, '--all')).out, /discarded 1 dead letter of/);
  assert.match((await run('replay', TOPIC)).out, /replayed 0 dead letters/);
  assert.match((await run('list', TOPIC)).out, /no pending dead letters of payments.commands/);
  const all = JSON.parse((await run('list', TOPIC, '--state', 'all', '--json')).out) as StoredDeadLetter[];
  assert.deepEqual(all.map((r) => r.state).sort(), ['discarded', 'replayed']);
  assert.equal((await run('list', TOPIC, '--state', 'lost')).code, 2);
});

test('orderflow dlq reads the topic for dead letters that predate the table', async (t) => {
  const { bus, run } = await setup(t);
  const old = newEnvelope({ type: 'ChargePayment', key: 'o-9', payload: {} });
  const rec = encode(TOPIC, old);
  await bus.publish([deadLetterRecord({ ...rec, partition: 1, offset: '4' }, { code: 'PAY_ERR_OLD', message: 'long ago' }, 5)]);
  const listed = await run('list', TOPIC);
  assert.equal(listed.code, 0);
  assert.match(listed.err, /no service has a dead_letters row for payments.commands; reading payments.commands.dlq/);
  assert.match(listed.out, new RegExp(`${old.id}  ChargePayment  key=o-9  attempts=5  PAY_ERR_OLD: long ago`));
  assert.match((await run('replay', TOPIC)).out, /replayed 0 dead letters/, 'the table has none to replay');
  assert.match((await run('replay', TOPIC, '--from-topic')).out, /replayed 1 dead letter from payments.commands.dlq onto payments.commands/);
  assert.deepEqual((await bus.read(TOPIC)).map((r) => decode(r).id), [old.id]);
});

test('orderflow dlq --postgres lists and replays from the service database on PostgreSQL', { skip: postgresSkip() }, async (t) => {
  const url = process.env.DATABASE_URL as string;
  const namespace = uniqueName('dlqcli');
  const database = serviceDatabaseName(namespace, 'payments');
  const db = await openPostgres({ url, database, poolSize: 2 });
  t.after(async () => {
    await db.close();
    await dropPostgresDatabase(url, database);
  });
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-dlq-cli-pg-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const bus = openEmbeddedLog({ file: join(dataDir, 'bus.sqlite'), log: silentLogger });
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: TOPIC, partitions: 2 }]);
  const m = newEnvelope({ type: 'ChargePayment', key: 'o-1', payload: {} });
  await recordDeadLetters(db, [letter(m, '1')]);

  // A process of its own: the namespace (hence the database name) comes from its environment.
  const cli = (...args: string[]) =>
    execFileSync(process.execPath, [fileURLToPath(new URL('../cli.ts', import.meta.url)), 'dlq', ...args, '--postgres', '--service', 'payments', '--data-dir', dataDir], {
      env: { ...process.env, ORDERFLOW_NAMESPACE: namespace, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
    });
  const rows = JSON.parse(cli('list', TOPIC, '--json')) as StoredDeadLetter[];
  assert.deepEqual(rows.map((r) => [r.messageId, r.state]), [[m.id, 'pending']]);
  assert.match(cli('replay', TOPIC), /replayed 1 dead letter onto payments.commands/);
  assert.deepEqual((await bus.read(TOPIC)).map((r) => decode(r).id), [m.id]);
  assert.match(cli('replay', TOPIC), /replayed 0 dead letters/);
});
