import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { dropPostgresDatabase, openPostgres } from '#platform/db/postgres.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { silentLogger } from '#platform/log.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';
import { startIdempotencyExpiry } from './idempotency-expiry.ts';
import { claimIdempotencyKey, migrations } from './store.ts';

const adapters = [
  {
    name: 'SQLite',
    skip: undefined as string | undefined,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'orders-expiry-'));
      const db = openSqlite({ file: join(dir, 'orders.sqlite'), log: silentLogger });
      return { db, cleanup: async () => (await db.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: postgresSkip(),
    async open() {
      const url = process.env.DATABASE_URL as string;
      const database = uniqueName('of_orders_expiry');
      const db = await openPostgres({ url, database, log: silentLogger });
      return { db, cleanup: async () => (await db.close(), await dropPostgresDatabase(url, database)) };
    },
  },
];

const HOUR = 3_600_000;
const now = new Date('2026-12-04T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

for (const adapter of adapters) {
  describe(`idempotency key expiry on ${adapter.name}`, { skip: adapter.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ db, cleanup } = await adapter.open());
      await migrate(db, migrations);
    });
    after(() => cleanup());

    test('a pass deletes the keys past the TTL, chunk by chunk, and keeps the others', async () => {
      for (let i = 0; i < 7; i++) await claimIdempotencyKey(db, `c-${i % 2}`, `old-${i}`, `order-old-${i}`, 'h', ago(25 * HOUR + i), ago(48 * HOUR));
      await claimIdempotencyKey(db, 'c-0', 'recent', 'order-recent', 'h', ago(23 * HOUR), ago(48 * HOUR));
      const expiry = startIdempotencyExpiry({ db, log: silentLogger, clock: { now: () => now }, ttlMs: 24 * HOUR, intervalMs: HOUR, chunk: 3 });
      try {
        assert.equal(await expiry.pass(), 7);
        assert.equal(await expiry.pass(), 0);
      } finally {
        await expiry.stop();
      }
      const left = await db.query<{ key: string }>('SELECT key FROM idempotency');
      assert.deepEqual(left.map((r) => r.key), ['recent']);
    });
  });
}
