import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { openEmbeddedLog } from '../bus/embedded/embedded-log.ts';
import { newEnvelope } from '../bus/envelope.ts';
import { appendToOutbox, outboxMigrations } from '../bus/outbox.ts';
import { startOutboxRelay } from '../bus/outbox-relay.ts';
import { migrate } from '../db/migrate.ts';
import { openSqlite } from '../db/sqlite.ts';
import { silentLogger } from '../log.ts';
import { createOutboxMetrics } from './outbox-metrics.ts';

async function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-outbox-metrics-'));
  const db = openSqlite({ file: join(dir, 'service.sqlite') });
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  t.after(async () => {
    await bus.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(db, outboxMigrations);
  await bus.ensureTopics([{ name: 'out', partitions: 2 }]);
  const registry = new Registry();
  const metrics = createOutboxMetrics(registry, db);
  const gauge = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]?.value;
  return { db, bus, registry, metrics, gauge };
}

test('the outbox gauges count the rows waiting and the age of the oldest, and read 0 once the relay published them', async (t) => {
  const { db, bus, metrics, gauge, registry } = await setup(t);
  assert.equal(await gauge('orderflow_outbox_pending'), 0);
  assert.equal(await gauge('orderflow_outbox_oldest_age_seconds'), 0, '0 when empty');

  await db.transaction((tx) => appendToOutbox(tx, [1, 2, 3].map((n) => ({ topic: 'out', message: newEnvelope({ type: 'Counted', key: `k${n}`, payload: {} }) }))));
  // One row written a minute ago, as a relay that died would have left it.
  await db.execute("UPDATE outbox SET created_at = $1 WHERE seq = (SELECT MIN(seq) FROM outbox)", [new Date(Date.now() - 60_000).toISOString()]);
  assert.equal(await gauge('orderflow_outbox_pending'), 3);
  const age = (await gauge('orderflow_outbox_oldest_age_seconds'))!;
  assert.ok(age >= 60 && age < 70, `oldest row is a minute old: ${age} s`);

  const relay = startOutboxRelay({ db, bus: metrics.relayBus(bus), log: silentLogger, deleteDelayMs: 1 });
  t.after(() => relay.close());
  await relay.flush();
  assert.equal(await gauge('orderflow_outbox_pending'), 0);
  assert.equal(await gauge('orderflow_outbox_oldest_age_seconds'), 0);
  assert.match(await registry.metrics(), /^orderflow_relay_publish_seconds_count [1-9]/m, 'each relay publish is timed');
  assert.equal(metrics.failingSince(), undefined);
});

test('a failing relay publish is remembered from its first failure until a publish succeeds', async (t) => {
  const { bus, metrics } = await setup(t);
  let fail = true;
  const relayBus = metrics.relayBus({ ...bus, publish: async (records) => { if (fail) throw new Error('broker gone'); return bus.publish(records); } });
  const record = { topic: 'out', key: 'k', value: '{}', headers: {} };
  await assert.rejects(relayBus.publish([record]), /broker gone/);
  const since = metrics.failingSince()!;
  assert.ok(since <= Date.now());
  await assert.rejects(relayBus.publish([record]));
  assert.equal(metrics.failingSince(), since, 'the first failure of the run is kept');
  fail = false;
  await relayBus.publish([record]);
  assert.equal(metrics.failingSince(), undefined);
});
