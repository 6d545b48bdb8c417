import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../db/db.ts';
import { migrate } from '../db/migrate.ts';
import { dropPostgresDatabase, openPostgres } from '../db/postgres.ts';
import { openSqlite } from '../db/sqlite.ts';
import { startRetention } from '../db/retention.ts';
import { silentLogger } from '../log.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';
import { inboxMigrations } from './consumer.ts';
import { purgeInbox, startInboxPurge } from './inbox-purge.ts';

const adapters = [
  {
    name: 'SQLite',
    skip: undefined as string | undefined,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'inbox-purge-'));
      const db = openSqlite({ file: join(dir, 'inbox.sqlite'), log: silentLogger });
      return { db, cleanup: async () => (await db.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: postgresSkip(),
    async open() {
      const url = process.env.DATABASE_URL as string;
      const database = uniqueName('of_inbox');
      const db = await openPostgres({ url, database, log: silentLogger });
      return { db, cleanup: async () => (await db.close(), await dropPostgresDatabase(url, database)) };
    },
  },
];

const DAY = 86_400_000;
const now = new Date('2026-12-04T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

async function insert(db: Db, rows: Array<{ id: string; group: string; at: string }>): Promise<void> {
  await db.transaction(async (tx) => {
    for (const r of rows) await tx.execute('INSERT INTO inbox (message_id, consumer_group, processed_at) VALUES ($1, $2, $3)', [r.id, r.group, r.at]);
  });
}

const count = async (db: Db, where = '1 = 1', params: unknown[] = []) =>
  Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE ${where}`, params))[0].n);

for (const adapter of adapters) {
  describe(`inbox purge on ${adapter.name}`, { skip: adapter.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ db, cleanup } = await adapter.open());
      await migrate(db, inboxMigrations);
    });
    after(() => cleanup());

    test('rows past the retention are purged, recent ones kept, in every group', async () => {
      await db.execute('DELETE FROM inbox');
      await insert(db, [
        { id: 'old-1', group: 'orders', at: ago(9 * DAY) },
        { id: 'old-2', group: 'payments', at: ago(8 * DAY + 1) },
        { id: 'old-1', group: 'payments', at: ago(30 * DAY) },
        { id: 'edge', group: 'orders', at: ago(8 * DAY - 1_000) },
        { id: 'new-1', group: 'orders', at: ago(DAY) },
        { id: 'new-2', group: 'payments', at: now.toISOString() },
      ]);
      const purge = startInboxPurge({ db, log: silentLogger, retentionMs: 8 * DAY, intervalMs: 3_600_000, chunk: 2, clock: { now: () => now } });
      try {
        assert.equal(await purge.pass(), 3);
      } finally {
        await purge.stop();
      }
      const left = await db.query<{ message_id: string; consumer_group: string }>('SELECT message_id, consumer_group FROM inbox ORDER BY message_id, consumer_group');
      assert.deepEqual(left.map((r) => `${r.message_id}/${r.consumer_group}`), ['edge/orders', 'new-1/orders', 'new-2/payments']);
      // A second pass finds nothing more.
      assert.equal(await purgeInbox(db, ago(8 * DAY), 100), 0);
    });

    test('a purge deletes in bounded chunks, and consumers commit between them', async () => {
      await db.execute('DELETE FROM inbox');
      const old = Array.from({ length: 500 }, (_, i) => ({ id: `m-${String(i).padStart(4, '0')}`, group: 'orders', at: ago(10 * DAY + i) }));
      await insert(db, old);
      const chunks: number[] = [];
      const events: string[] = [];
      const purge = startRetention({
        name: 'inbox',
        log: silentLogger,
        intervalMs: 3_600_000,
        chunk: 50,
        pauseMs: 5,
        horizon: () => ago(8 * DAY),
        async deleteOlder(before, limit) {
          const n = await purgeInbox(db, before, limit);
          chunks.push(n);
          return n;
        },
      });
      try {
        const passing = purge.pass().then((n) => (events.push('purge done'), n));
        // A consumer keeps recording messages while the purge runs.
        const consuming = (async () => {
          for (let i = 0; i < 5; i++) {
            await insert(db, [{ id: `live-${i}`, group: 'orders', at: now.toISOString() }]);
            events.push(`consumer ${i}`);
          }
        })();
        assert.equal(await passing, 500);
        await consuming;
      } finally {
        await purge.stop();
      }
      assert.ok(chunks.length >= 10 && chunks.every((n) => n <= 50), `chunks ${chunks.join(',')}`);
      assert.ok(events.indexOf('consumer 0') < events.indexOf('purge done'), `a consumer's transaction waited for the whole purge: ${events.join(', ')}`);
      assert.equal(await count(db), 5);
    });

    test('fixed-width ISO times compare as times on this engine', async () => {
      await db.execute('DELETE FROM inbox');
      // Text comparison of fixed-width ISO times, whatever the database collation.
      await insert(db, [
        { id: 'a', group: 'g', at: '2026-11-09T23:59:59.999Z' },
        { id: 'b', group: 'g', at: '2026-11-10T00:00:00.000Z' },
        { id: 'c', group: 'g', at: '2026-11-10T00:00:00.001Z' },
        { id: 'd', group: 'g', at: '2025-12-31T23:59:59.999Z' },
      ]);
      assert.equal(await purgeInbox(db, '2026-11-10T00:00:00.000Z', 10), 2);
      assert.equal(await count(db, 'processed_at >= $1', ['2026-11-10T00:00:00.000Z']), 2);
    });
  });
}
