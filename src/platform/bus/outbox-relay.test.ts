import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from '../db/db.ts';
import { openSqlite } from '../db/sqlite.ts';
import { openPostgres, dropPostgresDatabase } from '../db/postgres.ts';
import { migrate } from '../db/migrate.ts';
import type { Bus, InRecord, OutRecord } from './bus.ts';
import { inboxMigrations, startConsumer } from './consumer.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { newEnvelope, decode, type Envelope } from './envelope.ts';
import { appendToOutbox, outboxMigrations } from './outbox.ts';
import { startOutboxRelay } from './outbox-relay.ts';
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

const childScript = fileURLToPath(new URL('../../../test/support/outbox-crash-child.ts', import.meta.url));

async function waitUntil(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const readAll = (bus: Bus) => bus.read(TOPIC, { limit: 100_000 });
const payloadsOf = (records: InRecord[], key: string) => records.filter((r) => r.key === key).map((r) => (decode(r).payload as { n: number }).n);

/** The payload n of each message of `key` at its first copy on the topic, in topic order. */
function firstCopies(records: InRecord[], key: string): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (const r of records) {
    const m = decode(r);
    if (r.key !== key || seen.has(m.id)) continue;
    seen.add(m.id);
    out.push((m.payload as { n: number }).n);
  }
  return out;
}

const message = (key: string, n: number): Envelope => newEnvelope({ type: 'TestHappened', key, payload: { n } });

async function publishedIds(bus: Bus): Promise<string[]> {
  return (await bus.read(TOPIC, { limit: 100_000 })).map((r) => decode(r).id);
}

type Defer = (fn: () => unknown) => void;
const databaseOf = async (db: Db) => (await db.query<{ d: string }>('SELECT current_database() AS d'))[0].d;

/** open: a fresh database; reopen: a second handle on it, as another process would have. */
const variants: Array<{ name: string; skip?: string; open: (defer: Defer, dir: string) => Promise<Db>; reopen: (defer: Defer, db: Db, dir: string) => Promise<Db> }> = [
  {
    name: 'on SQLite',
    open: async (defer, dir) => {
      const db = openSqlite({ file: join(dir, 'service.sqlite') });
      defer(() => db.close());
      return db;
    },
    reopen: async (defer, _db, dir) => {
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
    reopen: async (defer, db) => {
      const other = await openPostgres({ url: process.env.DATABASE_URL as string, database: await databaseOf(db), poolSize: 4 });
      defer(() => other.close());
      return other;
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

    test('deletes the rows of many publishes together, with one statement per interval', async (t) => {
      const defer = deferrer(t);
      const dir = tempDir(defer);
      const db = await variant.open(defer, dir);
      await migrate(db, outboxMigrations);
      const { bus, calls } = faultyBus(await openBus(defer, dir), 0);
      let deletes = 0;
      const counted: Db = { ...db, execute: (sql, params) => (sql.startsWith('DELETE FROM outbox') && deletes++, db.execute(sql, params)) };
      const relay = startOutboxRelay({ db: counted, bus, log: silentLogger, idlePollMs: 60_000, deleteDelayMs: 300 });
      defer(() => relay.close());
      await relay.flush();
      for (let n = 0; n < 20; n++) {
        await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: message('z', n) }]));
        await new Promise((r) => setTimeout(r, 2));
      }
      await relay.flush();
      assert.equal((await db.query('SELECT id FROM outbox')).length, 0);
      assert.ok(calls.length >= 5, `${calls.length} publishes: the fast path published transaction by transaction`);
      assert.ok(deletes <= 3, `${deletes} DELETE statements for ${calls.length} publishes`);
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
      test('relays of two processes on one database publish every row once, each key in order', async (t) => {
        const { db, bus, relay, defer } = await setup(t, { batchSize: 7 });
        // A second pool is a second process: it sees only its own commits.
        const other = await variant.reopen(defer, db, '');
        const second = startOutboxRelay({ db: other, bus, log: silentLogger, batchSize: 7, idlePollMs: 60_000 });
        defer(() => second.close());
        // Past their start-up polls, which may publish again what the other has in flight.
        await Promise.all([relay.flush(), second.flush()]);
        const write = (on: Db, key: string) => async () => {
          for (let n = 0; n < 40; n++) await on.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: message(key, n) }]));
        };
        await Promise.all([write(db, 'a')(), write(db, 'b')(), write(other, 'c')(), write(other, 'd')()]);
        await second.flush();
        await waitUntil(async () => (await publishedIds(bus)).length >= 160);
        const records = await bus.read(TOPIC, { limit: 1000 });
        assert.equal(records.length, 160);
        assert.equal(new Set(records.map((r) => decode(r).id)).size, 160);
        for (const key of ['a', 'b', 'c', 'd']) assert.deepEqual(payloadsOf(records, key), Array.from({ length: 40 }, (_, n) => n));
      });
    }

    // Each key written in order, one transaction after the other; the keys concurrently.
    async function writeKeys(db: Db, keys: string[], perKey: number): Promise<void> {
      await Promise.all(keys.map(async (key) => {
        for (let n = 0; n < perKey; n++) await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: message(key, n) }]));
      }));
    }

    async function flakySetup(t: TestContext) {
      const defer = deferrer(t);
      const dir = tempDir(defer);
      const db = await variant.open(defer, dir);
      await migrate(db, outboxMigrations);
      const inner = await openBus(defer, dir);
      let calls = 0;
      // Every third publish fails: the relay keeps switching between the fast path and the
      // poll that owes the failed rows.
      const flaky: Bus = { ...inner, publish: async (records) => { if (++calls % 3 === 0) throw new Error('injected publish failure'); return inner.publish(records); } };
      return { defer, dir, db, inner, flaky, calls: () => calls };
    }

    test('after a failed publish the fast path waits for the poll, so each key stays in order', async (t) => {
      const { defer, db, inner, flaky, calls } = await flakySetup(t);
      // The slow poll for rows of any age runs whenever the fast path is idle.
      const relay = startOutboxRelay({ db, bus: flaky, log: silentLogger, batchSize: 5, idlePollMs: 5, staleMs: 0 });
      defer(() => relay.close());
      await writeKeys(db, ['a', 'b', 'c', 'd'], 30);
      await relay.flush();
      assert.ok(calls() >= 3, 'some publishes failed');
      assert.equal((await db.query('SELECT id FROM outbox')).length, 0);
      const records = await readAll(inner);
      for (const key of ['a', 'b', 'c', 'd']) assert.deepEqual(payloadsOf(records, key), Array.from({ length: 30 }, (_, n) => n), `key ${key}`);
    });

    test('a poll that reads rows before this process\'s commit callbacks queued them publishes each once, not again from the fast path', async (t) => {
      const defer = deferrer(t);
      const dir = tempDir(defer);
      const db = await variant.open(defer, dir);
      await migrate(db, outboxMigrations);
      const bus = await openBus(defer, dir);
      // The fault: commit callbacks run 30 ms late, so a poll every few ms sees the committed
      // rows first (the window is microseconds in production, and was hit once on CI).
      const lateCallbacks: Db = { ...db, onCommit: (listener) => db.onCommit((tx) => void setTimeout(() => listener(tx), 30)) };
      const relay = startOutboxRelay({ db: lateCallbacks, bus, log: silentLogger, batchSize: 5, idlePollMs: 2, staleMs: 0 });
      defer(() => relay.close());
      await writeKeys(db, ['a', 'b'], 20);
      // And a message appended twice in one transaction: one row, two entries of it.
      const twice = message('c', 0);
      await db.transaction(async (tx) => appendToOutbox(tx, [{ topic: TOPIC, message: twice }, { topic: TOPIC, message: twice }]));
      await new Promise((r) => setTimeout(r, 100));
      await relay.flush();
      await waitUntil(async () => (await db.query('SELECT id FROM outbox')).length === 0);
      const records = await readAll(bus);
      for (const key of ['a', 'b']) assert.deepEqual(payloadsOf(records, key), Array.from({ length: 20 }, (_, n) => n), `key ${key}: each once, in order`);
      assert.deepEqual(payloadsOf(records, 'c'), [0], 'the message appended twice, once');
    });

    test('a replica polling the same table while the fast path publishes loses nothing, and first copies keep each key in order', async (t) => {
      const { defer, dir, db, inner, flaky } = await flakySetup(t);
      const relay = startOutboxRelay({ db, bus: flaky, log: silentLogger, batchSize: 5, idlePollMs: 60_000 });
      defer(() => relay.close());
      // A replica with no writers of its own, polling every few milliseconds for rows of any age.
      const replica = startOutboxRelay({ db: await variant.reopen(defer, db, dir), bus: inner, log: silentLogger, batchSize: 3, idlePollMs: 3, staleMs: 0 });
      defer(() => replica.close());
      await writeKeys(db, ['a', 'b', 'c', 'd'], 30);
      await relay.flush();
      await waitUntil(async () => (await db.query('SELECT id FROM outbox')).length === 0);
      const records = await readAll(inner);
      for (const key of ['a', 'b', 'c', 'd']) assert.deepEqual(firstCopies(records, key), Array.from({ length: 30 }, (_, n) => n), `key ${key}`);
    });

    for (const mode of ['before-publish', 'after-publish'] as const) {
      test(`a process killed ${mode === 'before-publish' ? 'between a commit and its publish' : 'after a publish and before the delete'} leaves rows that the next start publishes, handled once downstream`, async (t) => {
        const defer = deferrer(t);
        const dir = tempDir(defer);
        const db = await variant.open(defer, dir);
        await migrate(db, outboxMigrations);
        const busFile = join(dir, 'bus.sqlite');
        const bus = await openBus(defer, dir);
        const where = db.dialect === 'sqlite' ? join(dir, 'service.sqlite') : (process.env.DATABASE_URL as string);
        const database = db.dialect === 'sqlite' ? '-' : await databaseOf(db);
        const child = spawn(join(process.cwd(), 'node_modules/.bin/node'), [childScript, where, database, busFile, TOPIC, mode, '3', '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
        const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => void (chunk.toString().includes('committed') && resolve()));
          child.on('exit', () => reject(new Error('the child exited before committing')));
        });
        child.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
        const left = await db.query<{ id: string }>('SELECT id FROM outbox');
        assert.equal(left.length, 12, 'the killed process left its 12 rows in the outbox');
        assert.equal((await bus.read(TOPIC, { limit: 100 })).length, mode === 'before-publish' ? 0 : 12);

        // Downstream: a consumer with its inbox, and what its handler saw, in order.
        const consumerDb = openSqlite({ file: join(dir, 'consumer.sqlite') });
        defer(() => consumerDb.close());
        await migrate(consumerDb, [...outboxMigrations, ...inboxMigrations]);
        const handled: Array<{ key: string; n: number; id: string }> = [];
        const consumer = await startConsumer({
          db: consumerDb, bus, groupId: 'downstream', topics: [TOPIC], validate: () => undefined, log: silentLogger,
          handlers: { TestHappened: async ({ message: m }) => void handled.push({ key: m.key, n: (m.payload as { n: number }).n, id: m.id }) },
        });
        defer(() => consumer.close());

        // The restarted process: its relay polls at start.
        const relay = startOutboxRelay({ db, bus, log: silentLogger, idlePollMs: 60_000 });
        defer(() => relay.close());
        await relay.flush();
        assert.equal((await db.query('SELECT id FROM outbox')).length, 0);
        await waitUntil(async () => handled.length >= 12);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(handled.length, 12, 'each message handled exactly once');
        assert.equal(new Set(handled.map((h) => h.id)).size, 12);
        for (const key of ['k0', 'k1', 'k2']) assert.deepEqual(handled.filter((h) => h.key === key).map((h) => h.n), [0, 1, 2, 3]);
        // After a publish that was not marked, the restart published the rows again.
        assert.equal((await bus.read(TOPIC, { limit: 100 })).length, mode === 'before-publish' ? 12 : 24);
      });
    }
  });
}
