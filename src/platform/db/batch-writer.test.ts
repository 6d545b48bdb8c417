import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from './db.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { createBatchWriter } from './batch-writer.ts';
import { isOrderflowError } from '../errors.ts';
import { buildHttpApp } from '../http/app.ts';
import { silentLogger } from '../log.ts';

async function openDb(t: TestContext): Promise<Db> {
  const db = await sqliteTestDb(t, 'orders-batch');
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  return db;
}

test('jobs submitted together share one transaction and each gets its own result', async (t) => {
  const db = await openDb(t);
  let commits = 0;
  db.onCommit(() => commits++);
  const write = createBatchWriter(db);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => write(async (tx) => (await tx.execute('INSERT INTO t (id) VALUES ($1)', [i]), i * 2))));
  assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i * 2));
  assert.equal(commits, 1);
  const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM t');
  assert.equal(n, 50);
});

test('a failing job fails alone: the others of its batch still commit', async (t) => {
  const db = await openDb(t);
  const write = createBatchWriter(db);
  const insert = (id: number) => write((tx) => tx.execute('INSERT INTO t (id) VALUES ($1)', [id]));
  const settled = await Promise.allSettled([insert(1), insert(2), write(async () => Promise.reject(new Error('boom'))), insert(3)]);
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  assert.equal((settled[2] as PromiseRejectedResult).reason.message, 'boom');
  const rows = await db.query<{ id: number }>('SELECT id FROM t ORDER BY id');
  assert.deepEqual(rows.map((r) => r.id), [1, 2, 3]);
});

test('no batch holds more than maxBatch jobs', async (t) => {
  const db = await openDb(t);
  let commits = 0;
  db.onCommit(() => commits++);
  const write = createBatchWriter(db, { maxBatch: 10 });
  await Promise.all(Array.from({ length: 35 }, (_, i) => write((tx) => tx.execute('INSERT INTO t (id) VALUES ($1)', [i]))));
  assert.equal(commits, 4);
});

test('past maxQueued waiting jobs, a job is refused at once with a coded 503 and nothing of it runs; an HTTP route answers it with Retry-After', async (t) => {
  const db = await openDb(t);
  const write = createBatchWriter(db, { maxConcurrent: 1, maxQueued: 3 });
  const gate = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  // One job holds the only transaction; three wait; the queue is full.
  const first = write(async (tx) => {
    started.resolve();
    await gate.promise;
    return tx.execute('INSERT INTO t (id) VALUES (0)');
  });
  await started.promise;
  const waiting = [1, 2, 3].map((id) => write((tx) => tx.execute('INSERT INTO t (id) VALUES ($1)', [id])));

  let ran = false;
  const refusedAt = performance.now();
  await assert.rejects(
    write(async (tx) => ((ran = true), tx.execute('INSERT INTO t (id) VALUES (99)'))),
    (err) => isOrderflowError(err, 'PLT_ERR_OVERLOADED') && err.statusCode === 503,
  );
  assert.ok(performance.now() - refusedAt < 50, 'refused at once, not after a wait');

  const app = buildHttpApp({ name: 'writes', log: silentLogger });
  app.post('/things', async () => write((tx) => tx.execute('INSERT INTO t (id) VALUES (98)')));
  t.after(() => app.close());
  const res = await app.inject({ method: 'POST', url: '/things' });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.json().error.code, 'PLT_ERR_OVERLOADED');

  gate.resolve();
  await Promise.all([first, ...waiting]);
  assert.equal(ran, false);
  const rows = await db.query<{ id: number }>('SELECT id FROM t ORDER BY id');
  assert.deepEqual(rows.map((r) => r.id), [0, 1, 2, 3], 'the refused jobs wrote nothing');
  // Once the queue drained, jobs are taken again.
  await write((tx) => tx.execute('INSERT INTO t (id) VALUES (4)'));
});
