// The relay while the broker is away: a publish that never returns must not keep a
// transaction (or its locks) open in the service's database. The bus is the real embedded
// log behind a gate that holds every publish: a fake only to inject the fault.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../db/migrate.ts';
import { openPostgres, dropPostgresDatabase } from '../db/postgres.ts';
import { silentLogger } from '../log.ts';
import type { Bus } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { decode, newEnvelope } from './envelope.ts';
import { appendToOutbox, outboxMigrations } from './outbox.ts';
import { startOutboxRelay } from './outbox-relay.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';

const TOPIC = 'relay-away';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const append = (n: number) => (tx: Parameters<typeof appendToOutbox>[0]) =>
  appendToOutbox(tx, Array.from({ length: n }, (_, i) => ({ topic: TOPIC, message: newEnvelope({ type: 'TestHappened', key: `k${i % 3}`, payload: { i } }) })));

test('while a publish hangs (the broker away), the relay holds no transaction open and writers still commit', { skip: postgresSkip() }, async (t) => {
  const url = process.env.DATABASE_URL as string;
  const database = uniqueName('relay_away');
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-relay-away-'));
  const db = await openPostgres({ url, database, poolSize: 4, log: silentLogger });
  const inner = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  await inner.ensureTopics([{ name: TOPIC, partitions: 2 }]);
  const broker = Promise.withResolvers<void>();
  let publishes = 0;
  const away: Bus = {
    ...inner,
    kind: inner.kind,
    async publish(records) {
      publishes++;
      await broker.promise;
      return inner.publish(records);
    },
  };
  await migrate(db, outboxMigrations);
  // Rows already waiting (read back by the relay's first poll), and rows of a commit after its start (its fast path).
  await db.transaction(append(5));
  const relay = startOutboxRelay({ db, bus: away, log: silentLogger, idlePollMs: 50, staleMs: 0 });
  t.after(async () => {
    broker.resolve();
    await relay.close();
    await inner.close();
    await db.close();
    await dropPostgresDatabase(url, database);
    rmSync(dir, { recursive: true, force: true });
  });
  await db.transaction(append(5));
  while (publishes === 0) await sleep(10);
  await sleep(300);

  // Every backend of the service's database but the one asking: none inside a transaction.
  const open = await db.query<{ pid: number; state: string; query: string }>(
    'SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL',
  );
  assert.deepEqual(open, [], 'no transaction stays open while the publish hangs');
  // Nothing is locked either: a writer commits at once.
  const start = performance.now();
  await db.transaction(append(2));
  assert.ok(performance.now() - start < 1_000);
  const [{ n: waiting }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox');
  assert.equal(waiting, 12, 'every row is still in the outbox: none is lost while the broker is away');

  // The broker is back: everything is published and the outbox empties.
  broker.resolve();
  await relay.flush();
  const deadline = Date.now() + 5_000;
  for (;;) {
    const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox');
    if (n === 0) break;
    assert.ok(Date.now() < deadline, `${n} rows still in the outbox`);
    await sleep(50);
  }
  const ids = new Set((await inner.read(TOPIC, { limit: 100 })).map((r) => decode(r).id));
  assert.equal(ids.size, 12, 'every message published');
});
