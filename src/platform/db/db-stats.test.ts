import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Db } from './db.ts';
import { createDbStats, DB_STATEMENTS, DB_TRANSACTIONS, verbOf } from './db-stats.ts';
import { openPostgres, dropPostgresDatabase } from './postgres.ts';
import { openSqlite } from './sqlite.ts';
import { silentLogger } from '../log.ts';
import { databaseUrl, postgresSkip, uniqueName } from '#test/infra.ts';

async function read(registry: Registry) {
  const json = await registry.getMetricsAsJSON();
  const values = (name: string) => json.find((m) => m.name === name)?.values ?? [];
  const tx = (outcome: string, kind: string) => values(DB_TRANSACTIONS).find((v) => v.labels.outcome === outcome && v.labels.kind === kind)?.value ?? 0;
  return {
    statements: values(DB_STATEMENTS).reduce((a, v) => a + v.value, 0),
    commits: tx('commit', 'explicit'),
    rollbacks: tx('rollback', 'explicit'),
    implicit: tx('commit', 'implicit'),
  };
}

/** Five lone statements, a transaction of three statements, one rolled back with one. */
async function workload(db: Db) {
  await db.execute('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)');
  for (let i = 1; i <= 3; i++) await db.execute('INSERT INTO t (id, v) VALUES ($1, $2)', [i, `v${i}`]);
  await db.query('SELECT v FROM t WHERE id = $1', [1]);
  await db.transaction(async (tx) => {
    await tx.execute('UPDATE t SET v = $1 WHERE id = $2', ['x', 1]);
    await tx.execute('UPDATE t SET v = $1 WHERE id = $2', ['y', 2]);
    await tx.query('SELECT count(*) AS n FROM t');
  });
  await assert.rejects(db.transaction(async (tx) => {
    await tx.execute('DELETE FROM t WHERE id = $1', [3]);
    throw new Error('changed my mind');
  }));
}

// 5 lone + (BEGIN + 3 + COMMIT) + (BEGIN + 1 + ROLLBACK)
const expected = { statements: 5 + 5 + 3, commits: 1, rollbacks: 1, implicit: 5 };

test('the sqlite adapter counts every statement it runs, BEGIN and COMMIT included, and each transaction by outcome', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'db-stats-'));
  const registry = new Registry();
  const db = openSqlite({ file: join(dir, 'x.sqlite'), stats: createDbStats(registry) });
  t.after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const before = await read(registry);
  await workload(db);
  const after = await read(registry);
  assert.deepEqual(
    { statements: after.statements - before.statements, commits: after.commits - before.commits, rollbacks: after.rollbacks - before.rollbacks, implicit: after.implicit - before.implicit },
    expected,
  );
});

test('the postgres adapter counts every statement it sends, BEGIN and COMMIT included, and each transaction by outcome', { skip: postgresSkip() }, async (t) => {
  const url = databaseUrl(t)!;
  const database = uniqueName('of_stats');
  const registry = new Registry();
  const db = await openPostgres({ url, database, poolSize: 2, log: silentLogger, stats: createDbStats(registry) });
  t.after(async () => {
    await db.close();
    await dropPostgresDatabase(url, database);
  });
  const before = await read(registry);
  await workload(db);
  const after = await read(registry);
  assert.deepEqual(
    { statements: after.statements - before.statements, commits: after.commits - before.commits, rollbacks: after.rollbacks - before.rollbacks, implicit: after.implicit - before.implicit },
    expected,
  );
});

test('a statement is classed by its first word: BEGIN and START open, COMMIT and END close, ROLLBACK TO does not', () => {
  assert.equal(verbOf('BEGIN IMMEDIATE'), 'begin');
  assert.equal(verbOf('  start transaction'), 'begin');
  assert.equal(verbOf('COMMIT'), 'commit');
  assert.equal(verbOf('end'), 'commit');
  assert.equal(verbOf('ROLLBACK'), 'rollback');
  assert.equal(verbOf('ROLLBACK TO SAVEPOINT a'), 'other');
  assert.equal(verbOf('SELECT 1'), 'other');
});
