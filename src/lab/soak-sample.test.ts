import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { sampleSqliteDir, soakVerdict, type SoakSample } from './soak-sample.ts';

const sample = (t: number, rows: Record<string, number>, bytes: Record<string, number> = {}): SoakSample => ({
  t, at: new Date(t * 1000).toISOString(), rows, bytes, orders: { offered: 0, accepted: 0, failed: 0 }, lag: 0,
});

test('the sampler counts the rows of every table of every SQLite file and sizes every file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soak-sample-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = new DatabaseSync(join(dir, 'orders.sqlite'));
  t.after(() => db.close());
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('CREATE TABLE inbox (id TEXT PRIMARY KEY); CREATE TABLE "orders view" (id TEXT)');
  db.exec(`INSERT INTO inbox VALUES ('a'), ('b'), ('c')`);

  const s = sampleSqliteDir(dir);
  assert.deepEqual(s.rows, { 'orders.inbox': 3, 'orders.orders view': 0 });
  assert.deepEqual(Object.keys(s.bytes).sort(), ['orders.sqlite', 'orders.sqlite-shm', 'orders.sqlite-wal']);
  assert.ok(s.bytes['orders.sqlite-wal'] > 0);
});

test('a bounded series that levels off is flat; one that keeps growing is not; business data may grow', () => {
  const samples = Array.from({ length: 12 }, (_, i) =>
    sample(i * 60, {
      // fills for two minutes, then the purge keeps it between 900 and 1000
      'orders.inbox': i < 2 ? i * 500 : 900 + (i % 2) * 100,
      'orders.outbox': 2 * i * 1000,
      'orders.orders_view': i * 3000,
    }, { 'bus.sqlite-wal': 4_000_000, 'orders.sqlite': i * 100_000 }),
  );
  const v = soakVerdict(samples);
  const by = (name: string) => v.series.find((s) => s.name === name)!;
  assert.equal(by('orders.inbox').flat, true);
  assert.equal(by('orders.outbox').flat, false, 'an outbox growing at a steady pace is garbage piling up');
  assert.ok(by('orders.outbox').growth > 0.3);
  assert.equal(by('orders.orders_view').flat, true);
  assert.equal(by('orders.orders_view').growsByDesign, true);
  assert.equal(by('orders.sqlite').growsByDesign, true, 'a service database holds the orders');
  assert.equal(by('bus.sqlite-wal').flat, true);
  assert.equal(v.flat, false);
  assert.equal(soakVerdict(samples.map((s) => ({ ...s, rows: { ...s.rows, 'orders.outbox': 5 } }))).flat, true);
});

test('two samples are too few to judge', () => {
  const v = soakVerdict([sample(0, { 'orders.inbox': 0 }), sample(60, { 'orders.inbox': 0 })]);
  assert.deepEqual([v.judged, v.flat], [false, false]);
});

test('under a steady flow of records that a group consumes, a trimmed embedded log stays flat in rows and bytes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soak-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Every record is past the retention at once: what a group has committed is trimmed at the next pass.
  const bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: { warn() {} }, commitIntervalMs: 5, retention: { retentionMs: 60_000, intervalMs: 3_600_000, now: () => Date.now() + 60_000 } });
  t.after(() => bus.close());
  await bus.ensureTopics([{ name: 'orders', partitions: 4 }]);
  let handled = 0;
  const sub = await bus.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void (handled += b.length) });
  t.after(() => sub.close());
  const value = 'x'.repeat(600);
  const samples: SoakSample[] = [];
  for (let round = 0; round < 30; round++) {
    await bus.publish(Array.from({ length: 300 }, (_, i) => ({ topic: 'orders', key: `k${i}`, value, headers: { type: 'T' } })));
    const want = (round + 1) * 300;
    for (let tries = 0; handled < want || (await bus.lag('g', ['orders'])) > 0; tries++) {
      assert.ok(tries < 2000, 'the group keeps up');
      await new Promise((r) => setTimeout(r, 2));
    }
    await bus.trim();
    samples.push({ ...sample(round, {}), ...sampleSqliteDir(dir) });
  }
  const v = soakVerdict(samples, { tolerance: 0.1, slack: { rows: 0, bytes: 0 } });
  const by = (name: string) => v.series.find((s) => s.name === name)!;
  assert.equal(by('bus.records').last, 0);
  assert.ok(by('bus.sqlite').flat, `the log's file reuses its pages: ${JSON.stringify(by('bus.sqlite'))}`);
  assert.ok(by('bus.sqlite-wal').flat, `the WAL is checkpointed and reused: ${JSON.stringify(by('bus.sqlite-wal'))}`);
  assert.ok(by('bus.sqlite').last < 9000 * 600, 'far less than the 9000 records published');
});
