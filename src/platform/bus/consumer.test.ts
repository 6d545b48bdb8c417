import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../db/db.ts';
import { openSqlite } from '../db/sqlite.ts';
import { migrate } from '../db/migrate.ts';
import type { Bus } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { encode, newEnvelope, type Envelope } from './envelope.ts';
import { outboxMigrations } from './outbox.ts';
import { inboxMigrations, startConsumer, type MessageHandler } from './consumer.ts';
import { isInfrastructureError } from './infrastructure-errors.ts';
import { listDeadLetters } from './dead-letters.ts';
import { DependencyUnavailable } from '../errors.ts';
import { silentLogger } from '../log.ts';

const TOPIC = 'consumer-test';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(t: TestContext) {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-consumer-'));
  stack.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = openSqlite({ file: join(dir, 'service.sqlite') });
  stack.push(() => db.close());
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  await db.execute('CREATE TABLE seen (id TEXT NOT NULL, n INTEGER NOT NULL)');
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  stack.push(() => bus.close());
  await bus.ensureTopics([{ name: TOPIC, partitions: 2 }]);
  const processed: Envelope[] = [];
  const start = async (handlers: Record<string, MessageHandler>, validate = (_: Envelope) => undefined as string | undefined) => {
    const consumer = await startConsumer({
      db, bus, groupId: 'g', topics: [TOPIC], handlers, validate, log: silentLogger,
      retry: { attempts: 3, baseMs: 5, maxMs: 20 },
      onProcessed: (m) => processed.push(m),
    });
    stack.push(() => consumer.close());
    return consumer;
  };
  const publish = (...messages: Envelope[]) => bus.publish(messages.map((m) => encode(TOPIC, m)));
  return { db, bus, start, publish, processed };
}

const seenNs = async (db: Db) => (await db.query<{ n: number }>('SELECT n FROM seen ORDER BY n')).map((r) => r.n);
const msg = (type: string, key: string, n: number) => newEnvelope({ type, key, payload: { n } });

const recordSeen: MessageHandler = async ({ tx, message }) => {
  await tx.execute('INSERT INTO seen (id, n) VALUES ($1, $2)', [message.id, (message.payload as { n: number }).n]);
};

test('a batch is handled in one transaction with its emitted messages written to the outbox', async (t) => {
  const { db, start, publish, processed } = await setup(t);
  await start({
    Thing: async (ctx) => {
      await recordSeen(ctx);
      ctx.emit('elsewhere', newEnvelope({ type: 'Reply', key: ctx.message.key, payload: {}, cause: ctx.message }));
    },
  });
  await publish(...Array.from({ length: 20 }, (_, i) => msg('Thing', `k${i % 4}`, i)));
  await until('all are processed', () => processed.length === 20);
  const [{ n }] = await db.query<{ n: number }>('SELECT count(*) AS n FROM seen');
  assert.equal(n, 20);
  const outbox = await db.query<{ topic: string; headers: string }>('SELECT topic, headers FROM outbox');
  assert.equal(outbox.length, 20);
  assert.ok(outbox.every((r) => r.topic === 'elsewhere' && JSON.parse(r.headers).causationId));
  const [{ inbox }] = await db.query<{ inbox: number }>('SELECT count(*) AS inbox FROM inbox');
  assert.equal(inbox, 20);
});

test('a message delivered twice is handled once', async (t) => {
  const { db, start, publish, processed } = await setup(t);
  await start({ Thing: recordSeen });
  const m = msg('Thing', 'k', 1);
  await publish(m, m);
  await publish(m);
  const marker = msg('Thing', 'k', 2);
  await publish(marker);
  await until('the marker is processed', () => processed.some((p) => p.id === marker.id));
  assert.deepEqual(await seenNs(db), [1, 2]);
});

test('messages without a handler are acknowledged and skipped', async (t) => {
  const { bus, start, publish, processed } = await setup(t);
  await start({ Thing: recordSeen }, () => 'everything is invalid here');
  await publish(msg('Unrelated', 'k', 1));
  await until('the group has no lag', async () => (await bus.lag('g', [TOPIC])) === 0);
  assert.equal(processed.length, 0);
  assert.deepEqual(await listDeadLetters(bus, TOPIC), []);
});

test('one failing message does not hold back the others of its batch', async (t) => {
  const { db, bus, start, publish, processed } = await setup(t);
  let tries = 0;
  await start({
    Thing: async (ctx) => {
      if ((ctx.message.payload as { n: number }).n === 3) {
        tries++;
        throw new Error('cannot handle 3');
      }
      await recordSeen(ctx);
    },
  });
  // One key: one partition, so all five arrive in one batch.
  await publish(...[1, 2, 3, 4, 5].map((n) => msg('Thing', 'same', n)));
  await until('the others are processed', () => processed.length === 4);
  await until('the failing one is dead-lettered', async () => (await listDeadLetters(bus, TOPIC)).length === 1);
  assert.equal(tries, 3, 'three attempts in all, the batch one included');
  assert.deepEqual(await seenNs(db), [1, 2, 4, 5]);
  const [dl] = await listDeadLetters(bus, TOPIC);
  assert.equal(dl.attempts, 3);
  assert.equal(dl.error.message, 'cannot handle 3');
  const inbox = await db.query('SELECT message_id FROM inbox WHERE message_id = $1', [dl.id]);
  assert.equal(inbox.length, 0, 'a dead-lettered message is not recorded in the inbox');
});

test('afterCommit hooks run once their transaction committed, and never for one rolled back', async (t) => {
  const { db, start, publish, processed } = await setup(t);
  const committed: number[] = [];
  let commits = 0;
  const off = db.onCommit(() => void commits++);
  t.after(off);
  await start({
    Thing: async (ctx) => {
      const n = (ctx.message.payload as { n: number }).n;
      await recordSeen(ctx);
      const commitsBefore = commits;
      ctx.afterCommit?.(() => {
        assert.ok(commits > commitsBefore, 'the hook runs after the commit');
        committed.push(n);
      });
      // A failing hook is logged; it neither fails the message nor stops the other hooks.
      ctx.afterCommit?.(() => {
        throw new Error('a broken hook');
      });
      if (n === 3) throw new Error('cannot handle 3');
    },
  });
  // One batch: its shared transaction rolls back on 3, then each message runs alone.
  await publish(...[1, 2, 3, 4, 5].map((n) => msg('Thing', 'same', n)));
  await until('the others are processed', () => processed.length === 4);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(committed.sort(), [1, 2, 4, 5], 'one hook each for the committed messages, none from the rolled-back batch');
  assert.deepEqual(await seenNs(db), [1, 2, 4, 5]);
});

test('an unavailable dependency is not dead-lettered: the batch is delivered again', async (t) => {
  const { bus, start, publish, processed } = await setup(t);
  let calls = 0;
  await start({
    Thing: async (ctx) => {
      calls++;
      if (calls <= 2) throw DependencyUnavailable('the database went away', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
      await recordSeen(ctx);
    },
  });
  await publish(msg('Thing', 'k', 1));
  await until('it is processed after redelivery', () => processed.length === 1, 10_000);
  assert.equal(calls, 3);
  assert.deepEqual(await listDeadLetters(bus, TOPIC), []);
});

test('isInfrastructureError tells connection failures from handler failures', () => {
  assert.equal(isInfrastructureError(Object.assign(new Error('x'), { code: 'ECONNRESET' })), true);
  assert.equal(isInfrastructureError(Object.assign(new Error('x'), { code: '08006' })), true);
  assert.equal(isInfrastructureError(new Error('wrapped', { cause: Object.assign(new Error('busy'), { errcode: 5 }) })), true);
  assert.equal(isInfrastructureError(Object.assign(new Error('dup'), { code: '23505' })), false);
  assert.equal(isInfrastructureError(new Error('a bug')), false);
});

test('batches of several partitions share a transaction, and a failing message holds back no other partition', async (t) => {
  const { db, bus, start, publish, processed } = await setup(t);
  let transactions = 0;
  const transaction = db.transaction.bind(db);
  db.transaction = (fn) => (transactions++, transaction(fn));
  await start({
    Thing: async (ctx) => {
      if ((ctx.message.payload as { n: number }).n === 7) throw new Error('cannot handle 7');
      await recordSeen(ctx);
    },
  });
  await publish(...Array.from({ length: 40 }, (_, i) => msg('Thing', `k${i}`, i)));
  await until('the others are processed', () => processed.length === 39);
  await until('the failing one is dead-lettered', async () => (await listDeadLetters(bus, TOPIC)).length === 1);
  assert.deepEqual(await seenNs(db), Array.from({ length: 40 }, (_, i) => i).filter((n) => n !== 7));
  assert.ok(transactions < 40, `${transactions} transactions for 40 messages`);
});
