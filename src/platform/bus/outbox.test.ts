import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../db/db.ts';
import { openSqlite } from '../db/sqlite.ts';
import { openPostgres, dropPostgresDatabase } from '../db/postgres.ts';
import { migrate } from '../db/migrate.ts';
import type { Bus, OutRecord } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { newEnvelope, decode, type Envelope } from './envelope.ts';
import { appendToOutbox, chunkSizes, outboxMigrations, startOutboxRelay } from './outbox.ts';
import { silentLogger } from '../log.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';

const TOPIC = 'outbox-test';

// Resources are released in reverse order of creation (the relay before the bus and the db).
function deferrer(t: TestContext): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => void stack.push(fn);
}

function tempDir(defer: (fn: () => unknown) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-outbox-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openBus(defer: (fn: () => unknown) => void, dir: string): Promise<Bus> {
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  defer(() => bus.close());
  await bus.ensureTopics([{ name: TOPIC, partitions: 4 }]);
  return bus;
}

/** A Bus whose publish fails the first `failures` times, and which counts calls. */
function faultyBus(inner: Bus, failures: number) {
  const calls: OutRecord[][] = [];
  let left = failures;
  const bus: Bus = {
    ...inner,
    kind: inner.kind,
    async publish(records) {
      calls.push(records);
      if (left > 0) {
        left--;
        throw new Error('injected publish failure');
      }
      return inner.publish(records);
    },
  };
  return { bus, calls };
}

const message = (key: string, n: number): Envelope => newEnvelope({ type: 'TestHappened', key, payload: { n } });

async function publishedIds(bus: Bus): Promise<string[]> {
  return (await bus.read(TOPIC, { limit: 100_000 })).map((r) => decode(r).id);
}

const variants: Array<{ name: string; skip?: string; open: (defer: (fn: () => unknown) => void, dir: string) => Promise<Db> }> = [
  {
    name: 'on SQLite',
    open: async (defer, dir) => {
      const db = openSqlite({ file: join(dir, 'service.sqlite') });
      defer(() => db.close());
      return db;
    },
  },
  {
    name: 'on PostgreSQL',
    skip: postgresSkip(),
    open: async (defer) => {
      const url = process.env.DATABASE_URL as string;
      const database = uniqueName('outbox');
      const db = await openPostgres({ url, database, poolSize: 4 });
      defer(async () => {
        await db.close();
        await dropPostgresDatabase(url, database);
      });
      return db;
    },
  },
];

for (const variant of variants) {
  describe(`the outbox relay ${variant.name}`, { skip: variant.skip }, () => {
    async function setup(t: TestContext, opts: { failures?: number; batchSize?: number; idlePollMs?: number } = {}) {
      const defer = deferrer(t);
      const dir = tempDir(defer);
      const db = await variant.open(defer, dir);
      await migrate(db, outboxMigrations);
      const inner = await openBus(defer, dir);
      const { bus, calls } = faultyBus(inner, opts.failures ?? 0);
      const relay = startOutboxRelay({ db, bus, log: silentLogger, batchSize: opts.batchSize, idlePollMs: opts.idlePollMs ?? 60_000 });
      defer(() => relay.close());
      return { db, bus: inner, calls, relay, defer };
    }

    test('publishes the messages of a committed transaction, in order per key', async (t) => {
      const { db, bus, relay } = await setup(t);
      const sent = [message('a', 1), message('b', 1), message('a', 2)];
      await db.transaction(async (tx) => appendToOutbox(tx, sent.map((m) => ({ topic: TOPIC, message: m }))));
      await relay.flush();
      const records = await bus.read(TOPIC, { limit: 100 });
      assert.deepEqual(records.map((r) => decode(r).id).sort(), sent.map((m) => m.id).sort());
      const ofA = records.filter((r) => r.key === 'a').map((r) => decode(r).payload);
      assert.deepEqual(ofA, [{ n: 1 }, { n: 2 }]);
      const first = records.find((r) => decode(r).id === sent[0].id)!;
      assert.equal(first.headers.type, 'TestHappened');
      assert.equal(first.headers.correlationId, sent[0].id);
    });

    test('never publishes the messages of a rolled-back transaction', async (t) => {
      const { db, bus, relay } = await setup(t);
      const kept = message('k', 1);
      await assert.rejects(
        db.transaction(async (tx) => {
          await appendToOutbox(tx, [{ topic: TOPIC, message: message('k', 0) }]);
          throw new Error('business rule says no');
        }),
        /business rule says no/,
      );
      await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: kept }]));
      await relay.flush();
      assert.deepEqual(await publishedIds(bus), [kept.id]);
    });

    test('retries a failed publish and loses or duplicates nothing', async (t) => {
      const { db, bus, calls, relay } = await setup(t, { failures: 2 });
      const sent = Array.from({ length: 20 }, (_, i) => message(`k${i % 3}`, i));
      await db.transaction(async (tx) => appendToOutbox(tx, sent.map((m) => ({ topic: TOPIC, message: m }))));
      await relay.flush();
      assert.ok(calls.length >= 3, `expected 2 failed publishes and a good one, got ${calls.length} calls`);
      const ids = await publishedIds(bus);
      assert.equal(ids.length, sent.length);
      assert.deepEqual(ids.sort(), sent.map((m) => m.id).sort());
    });

    test('publishes large backlogs in batches of batchSize, one publish call per batch', async (t) => {
      const { db, bus, calls, relay } = await setup(t, { batchSize: 10 });
      const sent = Array.from({ length: 95 }, (_, i) => message('same-key', i));
      await db.transaction(async (tx) => appendToOutbox(tx, sent.map((m) => ({ topic: TOPIC, message: m }))));
      await relay.flush();
      assert.ok(calls.every((c) => c.length <= 10));
      assert.equal(calls.reduce((n, c) => n + c.length, 0), 95);
      const got = (await bus.read(TOPIC, { limit: 1000 })).map((r) => (decode(r).payload as { n: number }).n);
      assert.deepEqual(got, sent.map((_, i) => i));
    });

    test('wakes on commit instead of waiting for the idle poll', async (t) => {
      const { db, bus, relay } = await setup(t, { idlePollMs: 60_000 });
      await relay.flush();
      const started = Date.now();
      const m = message('w', 1);
      await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: m }]));
      while ((await publishedIds(bus)).length === 0) {
        assert.ok(Date.now() - started < 2000, 'the relay did not publish within 2 s of the commit');
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(Date.now() - started < 500, `published ${Date.now() - started} ms after commit`);
    });

    test('an idle relay does not keep waking itself with its own commits', async (t) => {
      const { db, bus } = await setup(t);
      let transactions = 0;
      const counted: Db = { ...db, dialect: db.dialect, transaction: (fn) => (transactions++, db.transaction(fn)), onCommit: (l) => db.onCommit(l) };
      const relay = startOutboxRelay({ db: counted, bus, log: silentLogger, idlePollMs: 60_000 });
      t.after(() => relay.close());
      await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: message('i', 1) }]));
      await relay.flush();
      const after = transactions;
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(transactions - after <= 1, `the idle relay ran ${transactions - after} transactions in 200 ms`);
    });

    test('publishes what is pending when closed', async (t) => {
      const { db, bus, relay } = await setup(t);
      const m = message('c', 1);
      await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: m }]));
      await relay.close();
      assert.deepEqual(await publishedIds(bus), [m.id]);
    });

    test('ignores a message appended twice with the same id', async (t) => {
      const { db, bus, relay } = await setup(t);
      const m = message('d', 1);
      await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: m }, { topic: TOPIC, message: m }]));
      await relay.flush();
      assert.deepEqual(await publishedIds(bus), [m.id]);
    });

    if (variant.name === 'on PostgreSQL') {
      test('two relays on one database never publish a row twice', async (t) => {
        const { db, bus, relay, defer } = await setup(t, { batchSize: 7 });
        const second = startOutboxRelay({ db, bus, log: silentLogger, batchSize: 7, idlePollMs: 60_000 });
        defer(() => second.close());
        const sent = Array.from({ length: 300 }, (_, i) => message(`k${i % 5}`, i));
        await Promise.all(
          Array.from({ length: 10 }, (_, j) =>
            db.transaction(async (tx) => appendToOutbox(tx, sent.slice(j * 30, j * 30 + 30).map((m) => ({ topic: TOPIC, message: m })))),
          ),
        );
        await Promise.all([relay.flush(), second.flush()]);
        const ids = await publishedIds(bus);
        assert.equal(ids.length, sent.length);
        assert.equal(new Set(ids).size, sent.length);
      });
    }
  });
}

test('chunkSizes splits rows into power-of-two chunks', () => {
  assert.deepEqual(chunkSizes(0), []);
  assert.deepEqual(chunkSizes(1), [1]);
  assert.deepEqual(chunkSizes(500), [256, 128, 64, 32, 16, 4]);
  assert.deepEqual(chunkSizes(600), [256, 256, 64, 16, 8]);
});
