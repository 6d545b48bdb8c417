/**
 * A rolling upgrade where the producer runs first: it publishes v2 of a known type while its
 * consumer knows only v1. Nothing is dead-lettered and the partition waits; once the consumer
 * is restarted knowing v2 (with an upcast from v1), every message is handled once, in order.
 * On the embedded log and on Kafka, through the real consumer and contract registry.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { openSqlite } from '#platform/db/sqlite.ts';
import { migrate } from '#platform/db/migrate.ts';
import type { Bus } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { encode, newEnvelope, type Envelope } from '#platform/bus/envelope.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { inboxMigrations, startConsumer, type Consumer } from '#platform/bus/consumer.ts';
import { listDeadLetters } from '#platform/bus/dead-letters.ts';
import type { MessageOutcome } from '#platform/telemetry/bus-metrics.ts';
import { silentLogger } from '#platform/log.ts';
import { defineContract, type Contract } from '#contracts/contract.ts';
import { createRegistry } from '#contracts/registry.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// v2 renamed `amount` (units) to `amountCents`: a breaking change, so a new version with an upcast.
const v1 = defineContract({ type: 'ChargePayment', version: 1, topic: 'skew', owner: 'payments', kind: 'command', schema: Type.Object({ n: Type.Integer(), amount: Type.Number() }) });
const v2 = defineContract({
  type: 'ChargePayment', version: 2, topic: 'skew', owner: 'payments', kind: 'command',
  schema: Type.Object({ n: Type.Integer(), amountCents: Type.Integer() }),
  upcast: (p: { n: number; amount: number }) => ({ n: p.n, amountCents: Math.round(p.amount * 100) }),
});

const adapters: Array<{ name: string; skip?: string; open(dir: string): Promise<Bus>; patienceMs: number }> = [
  { name: 'the embedded log', open: async (dir) => openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger }), patienceMs: 15_000 },
  {
    name: 'Kafka',
    skip: kafkaSkip(),
    open: () => openKafkaBus({ brokers: (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()), clientId: 'skew', namespace: uniqueName('skew'), log: silentLogger }),
    patienceMs: 60_000,
  },
];

for (const adapter of adapters) {
  describe(`a rolling upgrade on ${adapter.name}`, { skip: adapter.skip }, () => {
    test('the producer ships v2 first: nothing is dead-lettered, the partition waits, the upgraded consumer handles all once, in order', async (t: TestContext) => {
      const stack: Array<() => unknown> = [];
      t.after(async () => {
        for (const fn of stack.reverse()) await fn();
      });
      const dir = mkdtempSync(join(tmpdir(), 'orderflow-skew-'));
      stack.push(() => rmSync(dir, { recursive: true, force: true }));
      const bus = await adapter.open(dir);
      stack.push(() => bus.close());
      const db = openSqlite({ file: join(dir, 'payments.sqlite') });
      stack.push(() => db.close());
      await migrate(db, [...outboxMigrations, ...inboxMigrations]);
      const topic = uniqueName('skew');
      await bus.ensureTopics([{ name: topic, partitions: 2 }]);
      const groupId = uniqueName('payments');

      const handled: Envelope[] = [];
      const outcomes: MessageOutcome[] = [];
      const consume = (known: Contract[]) =>
        startConsumer({
          db, bus, groupId, topics: [topic], log: silentLogger,
          validate: createRegistry(known).check,
          handlers: { ChargePayment: async ({ message }) => void handled.push(message) },
          outcomes: (_type, outcome) => void outcomes.push(outcome),
        });
      const publish = (version: number, n: number) => {
        const payload = version === 1 ? { n, amount: n + 0.5 } : { n, amountCents: n * 100 + 50 };
        return bus.publish([encode(topic, newEnvelope({ type: 'ChargePayment', version, key: 'order-1', payload }))]);
      };

      let consumer: Consumer = await consume([v1]);
      await publish(1, 1);
      await publish(1, 2);
      await until('the v1 consumer handles v1', () => handled.length === 2, adapter.patienceMs);

      // The producer is upgraded first; an old instance of it still sends v1 (n = 4).
      await publish(2, 3);
      await publish(1, 4);
      await publish(2, 5);
      await until('the v2 message is delivered again and again, not dead-lettered', () => outcomes.filter((o) => o === 'unknown_version').length >= 3, adapter.patienceMs);
      assert.deepEqual(handled.map((m) => (m.payload as { n: number }).n), [1, 2], 'the partition waits: nothing behind v2 is handled');
      assert.equal(outcomes.filter((o) => o === 'dead_lettered').length, 0);
      assert.deepEqual(await listDeadLetters(bus, topic), []);

      // The consumer is upgraded: restarted knowing v2 and the upcast from v1.
      await consumer.close();
      consumer = await consume([v1, v2]);
      stack.push(() => consumer.close());
      await until('every message is handled', () => handled.length >= 5, adapter.patienceMs);
      await new Promise((r) => setTimeout(r, 500)); // a duplicate would show up by now
      assert.deepEqual(handled.map((m) => (m.payload as { n: number }).n), [1, 2, 3, 4, 5], 'each once, in order');
      assert.deepEqual(handled.slice(2).map((m) => m.version), [2, 2, 2], 'v1 from the old producer reaches the v2 handler upcast');
      assert.deepEqual(handled[3].payload, { n: 4, amountCents: 450 });
      assert.deepEqual(await listDeadLetters(bus, topic), []);
    });
  });
}
