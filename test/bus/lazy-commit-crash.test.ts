/**
 * Offsets are committed lazily (bus.ts): a consumer killed with kill -9 after handling, before
 * its offsets went out, gets its records delivered again, and the inbox absorbs them — every
 * side effect exactly once, each key in order. On both Bus adapters, with a real process kill.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bus, InRecord } from '#platform/bus/bus.ts';
import { startConsumer } from '#platform/bus/consumer.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { encode, newEnvelope } from '#platform/bus/envelope.ts';
import { migrate } from '#platform/db/migrate.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';
import { crashMigrations, recordEffect } from '#test/support/consumer-crash-effects.ts';

const TOPIC = 'crash-topic';
const child = fileURLToPath(new URL('../support/consumer-crash-child.ts', import.meta.url));

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const adapters = [
  {
    name: 'the embedded log',
    patienceMs: 10_000,
    open: (dir: string) => ({ bus: openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger }), args: ['embedded', join(dir, 'bus.sqlite'), '-'] }),
  },
  {
    name: 'Kafka',
    skip: kafkaSkip(),
    patienceMs: 60_000,
    open: (_dir: string) => {
      const brokers = process.env.KAFKA_BROKERS ?? '';
      const namespace = uniqueName('lazycrash');
      const bus = openKafkaBus({ brokers: brokers.split(','), clientId: 'lazy-crash', namespace, log: silentLogger });
      return { bus, args: ['kafka', brokers, namespace] };
    },
  },
];

for (const adapter of adapters) {
  describe(`lazy offset commits on ${adapter.name}`, { skip: adapter.skip }, () => {
    test('a consumer killed before its offsets were committed gets the records again, and the inbox absorbs them', async (t: TestContext) => {
      const dir = mkdtempSync(join(tmpdir(), 'lazy-crash-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const opened = adapter.open(dir);
      const bus: Bus = await opened.bus;
      t.after(() => bus.close());
      await bus.ensureTopics([{ name: TOPIC, partitions: 3 }]);
      const keys = ['a', 'b', 'c', 'd'];
      const sent = Array.from({ length: 24 }, (_, i) => newEnvelope({ type: 'Counted', key: keys[i % 4], payload: { n: Math.floor(i / 4) } }));
      await bus.publish(sent.map((m) => encode(TOPIC, m)));

      const dbFile = join(dir, 'consumer.sqlite');
      const proc = spawn(join(process.cwd(), 'node_modules/.bin/node'), [child, ...opened.args, dbFile, TOPIC, String(sent.length)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
      t.after(() => void proc.kill('SIGKILL'));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the child did not handle the messages in time')), adapter.patienceMs);
        proc.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('handled')) {
            clearTimeout(timer);
            resolve();
          }
        });
        proc.on('exit', () => reject(new Error('the child exited before handling')));
      });
      proc.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');

      const db = openSqlite({ file: dbFile });
      t.after(() => db.close());
      await migrate(db, crashMigrations);
      const effects = () => db.query<{ message_id: string; key: string; n: number; pid: number }>('SELECT message_id, key, n, pid FROM effects ORDER BY rowid');
      assert.equal((await effects()).length, sent.length, 'the killed consumer had handled everything');
      assert.equal(await bus.lag('crash', [TOPIC]), sent.length, 'and committed no offset: it was killed inside the commit interval');

      // The restarted consumer: the records come again, the inbox skips every one.
      const redelivered: InRecord[] = [];
      const watched: Bus = { ...bus, subscribe: (o) => bus.subscribe({ ...o, handle: async (batch) => { redelivered.push(...batch); await o.handle(batch); } }) };
      const consumer = await startConsumer({ db, bus: watched, groupId: 'crash', topics: [TOPIC], validate: () => undefined, log: silentLogger, handlers: { Counted: recordEffect } });
      t.after(() => consumer.close());
      await until('every record was delivered again', () => redelivered.length >= sent.length, adapter.patienceMs);
      await consumer.close();
      assert.equal(await bus.lag('crash', [TOPIC]), 0, 'closing committed the redelivered batches');
      const rows = await effects();
      assert.equal(rows.length, sent.length, 'each message took effect exactly once');
      assert.ok(rows.every((r) => r.pid === proc.pid), 'all by the killed process: the restart only skipped');
      for (const key of keys) assert.deepEqual(rows.filter((r) => r.key === key).map((r) => r.n), [0, 1, 2, 3, 4, 5], `key ${key} in order`);
    });
  });
}
