import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropPostgresDatabase, openPostgres } from '#platform/db/postgres.ts';
import { silentLogger } from '#platform/log.ts';
import { databaseUrl, postgresSkip, uniqueName } from '#test/infra.ts';
import { openPgStats } from './pg-stats.ts';

test('the server counts the commits of the watched databases only, and statements where pg_stat_statements runs', { skip: postgresSkip(), timeout: 60_000 }, async (t) => {
  const url = databaseUrl(t)!;
  const watched = uniqueName('of_pgstats');
  const other = uniqueName('of_pgstats_other');
  t.after(async () => {
    await dropPostgresDatabase(url, watched);
    await dropPostgresDatabase(url, other);
  });
  const reader = await openPgStats(url, [watched]);
  t.after(() => reader.close());
  const before = await reader.read();
  assert.ok(before, 'read the counters');

  for (const [database, n] of [[watched, 7], [other, 5]] as const) {
    const db = await openPostgres({ url, database, poolSize: 1, log: silentLogger });
    for (let i = 0; i < n; i++) await db.transaction(async (tx) => void (await tx.query('SELECT $1::int AS i', [i])));
    // A backend reports its counters when it ends, at the latest: closing flushes them.
    await db.close();
  }
  let after = await reader.read();
  for (let i = 0; i < 50 && after && after.commits - before.commits < 7; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await reader.read();
  }
  assert.ok(after);
  // The 7 transactions, plus the implicit ones of opening the pool (its SELECT 1).
  const commits = after.commits - before.commits;
  assert.ok(commits >= 7 && commits < 12, `commits ${commits}`);
  if (before.statements === null) {
    assert.equal(after.statements, null);
  } else {
    // BEGIN, the SELECT and COMMIT of each transaction.
    assert.ok(after.statements! - before.statements >= 21, `statements ${after.statements! - before.statements}`);
  }
});
