/**
 * Version skew at the consumer: an unknown version of a known type waits (retried, never
 * dead-lettered) until the check learns it; an unknown type or a schema failure is
 * dead-lettered at once; an upcast message reaches the handler upcast.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../db/sqlite.ts';
import { migrate } from '../db/migrate.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { encode, newEnvelope, type Envelope } from './envelope.ts';
import { outboxMigrations } from './outbox.ts';
import { inboxMigrations, startConsumer, type MessageCheck, type MessageHandler, type ValidateMessage } from './consumer.ts';
import { listDeadLetters } from './dead-letters.ts';
import type { MessageOutcome } from '../telemetry/bus-metrics.ts';
import { silentLogger } from '../log.ts';
import { recordingLogger } from '#test/support/log.ts';

const TOPIC = 'versions-test';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(t: TestContext, validate: ValidateMessage) {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-versions-'));
  stack.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = openSqlite({ file: join(dir, 'service.sqlite') });
  stack.push(() => db.close());
  await migrate(db, [...outboxMigrations, ...inboxMigrations]);
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  stack.push(() => bus.close());
  await bus.ensureTopics([{ name: TOPIC, partitions: 1 }]);
  const handled: Envelope[] = [];
  const outcomes: Array<{ type: string; outcome: MessageOutcome }> = [];
  const { log, warnings } = recordingLogger();
  const handler: MessageHandler = async ({ message }) => void handled.push(message);
  const consumer = await startConsumer({
    db, bus, groupId: 'g', topics: [TOPIC], handlers: { Charge: handler }, validate, log,
    retry: { attempts: 3, baseMs: 5, maxMs: 20 },
    outcomes: (type, outcome) => void outcomes.push({ type, outcome }),
  });
  stack.push(() => consumer.close());
  const publish = (...messages: Envelope[]) => bus.publish(messages.map((m) => encode(TOPIC, m)));
  return { bus, publish, handled, outcomes, warnings };
}

const charge = (version: number, n: number) => newEnvelope({ type: 'Charge', version, key: 'order-1', payload: { n } });
const ns = (ms: Envelope[]) => ms.map((m) => (m.payload as { n: number }).n);

test('an unknown version of a known type is not dead-lettered: it waits, and is handled once the consumer knows it', async (t) => {
  let knows = 1;
  const { bus, publish, handled, outcomes, warnings } = await setup(t, (m): MessageCheck =>
    m.version > knows ? { code: 'unknown_version', reason: `newest known is v${knows}` } : undefined,
  );
  await publish(charge(1, 1));
  await until('v1 is handled', () => handled.length === 1);
  await publish(charge(2, 2), charge(1, 3));
  await until('the v2 message was delivered again at least twice', () => outcomes.filter((o) => o.outcome === 'unknown_version').length >= 2);
  assert.deepEqual(ns(handled), [1], 'nothing behind the unknown version is handled: the partition waits in order');
  assert.deepEqual(await listDeadLetters(bus, TOPIC), []);
  const warning = warnings.find((w) => (w as { version?: number }).version === 2) as Record<string, unknown> | undefined;
  assert.ok(warning, 'a warn line names the waiting message');
  assert.deepEqual({ type: warning.type, topic: warning.topic, partition: warning.partition }, { type: 'Charge', topic: TOPIC, partition: 0 });
  assert.ok(outcomes.every((o) => o.type === 'Charge' && o.outcome !== 'dead_lettered'));

  knows = 2; // the consumer is upgraded
  await until('the rest is handled', () => handled.length === 3);
  assert.deepEqual(ns(handled), [1, 2, 3]);
  assert.deepEqual(await listDeadLetters(bus, TOPIC), []);
});

test('an unknown type or a payload failing its schema is dead-lettered at once, without retry', async (t) => {
  const { bus, publish, handled, outcomes } = await setup(t, (m): MessageCheck =>
    (m.payload as { n: number }).n === 1 ? { code: 'invalid', reason: 'unknown message type' } : (m.payload as { n: number }).n === 2 ? '/n: bad' : undefined,
  );
  await publish(charge(1, 1), charge(1, 2), charge(1, 3));
  await until('the good one is handled', () => handled.length === 1);
  await until('two dead letters', async () => (await listDeadLetters(bus, TOPIC)).length === 2);
  const dls = await listDeadLetters(bus, TOPIC);
  assert.ok(dls.every((d) => d.attempts === 0 && d.error.code === 'PLT_ERR_INVALID_MESSAGE'));
  assert.equal(outcomes.filter((o) => o.outcome === 'retried' || o.outcome === 'unknown_version').length, 0);
});

test('a message the check upcasts reaches its handler upcast', async (t) => {
  const { publish, handled } = await setup(t, (m): MessageCheck =>
    m.version === 1 ? { code: 'ok', message: { ...m, version: 2, payload: { n: (m.payload as { n: number }).n, upcast: true } } } : undefined,
  );
  const old = charge(1, 7);
  await publish(old, charge(2, 8));
  await until('both are handled', () => handled.length === 2);
  assert.deepEqual(handled[0], { ...old, version: 2, payload: { n: 7, upcast: true } });
  assert.equal(handled[1].version, 2);
});
