import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadPostgresTimeouts } from '../config.ts';
import { isOrderflowError } from '../errors.ts';
import { buildHttpApp } from '../http/app.ts';
import { silentLogger } from '../log.ts';
import type { Db } from './db.ts';
import { migrate } from './migrate.ts';
import { openPostgres, dropPostgresDatabase } from './postgres.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';

const timeouts = loadPostgresTimeouts({
  ORDERFLOW_PG_ACQUIRE_TIMEOUT_MS: '300',
  ORDERFLOW_PG_STATEMENT_TIMEOUT_MS: '400',
  ORDERFLOW_PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: '500',
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed<T>(fn: () => Promise<T>): Promise<{ err: unknown; ms: number }> {
  const start = performance.now();
  try {
    await fn();
    return { err: undefined, ms: performance.now() - start };
  } catch (err) {
    return { err, ms: performance.now() - start };
  }
}

describe('the postgres adapter bounds its waits', { skip: postgresSkip() }, () => {
  const url = process.env.DATABASE_URL as string;
  const database = uniqueName('of_pgto');
  let db: Db;
  before(async () => {
    db = await openPostgres({ url, database, poolSize: 1, log: silentLogger, timeouts });
  });
  after(async () => {
    await db?.close();
    await dropPostgresDatabase(url, database);
  });

  test('every connection carries the statement and idle-in-transaction timeouts', async () => {
    const [row] = await db.query<{ st: string; idle: string }>("SELECT current_setting('statement_timeout') AS st, current_setting('idle_in_transaction_session_timeout') AS idle");
    assert.deepEqual(row, { st: '400ms', idle: '500ms' });
  });

  test('a statement past statement_timeout fails with a coded 503, the server error as its cause', async () => {
    const { err, ms } = await timed(() => db.query('SELECT pg_sleep(3)'));
    assert.ok(isOrderflowError(err, 'PLT_ERR_DB_TIMEOUT'), String(err));
    assert.equal(err.statusCode, 503);
    assert.equal((err.cause as { code?: string }).code, '57014');
    assert.ok(ms >= 350 && ms < 2_000, `failed after ${ms} ms; the timeout is 400 ms`);
    // The connection is still good.
    assert.equal((await db.query<{ n: number }>('SELECT 1 AS n'))[0].n, 1);
  });

  test('a pool exhausted past the acquire timeout answers a coded 503 at once, and an HTTP route answers it as a 503 envelope', async (t) => {
    // The one connection, busy (not idle, which the server would end) until released.
    let released = false;
    const holding = db.transaction(async (tx) => {
      while (!released) {
        await tx.query('SELECT 1');
        await sleep(50);
      }
    });
    await sleep(20);
    try {
      const { err, ms } = await timed(() => db.query('SELECT 1'));
      assert.ok(isOrderflowError(err, 'PLT_ERR_DEPENDENCY_UNAVAILABLE'), String(err));
      assert.equal(err.statusCode, 503);
      assert.ok(ms >= 250 && ms < 1_500, `failed after ${ms} ms; the acquire timeout is 300 ms`);

      const app = buildHttpApp({ name: 'pg-timeouts', log: silentLogger });
      app.get('/count', async () => db.query('SELECT 1 AS n'));
      t.after(() => app.close());
      const res = await app.inject({ method: 'GET', url: '/count' });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().error.code, 'PLT_ERR_DEPENDENCY_UNAVAILABLE');
      assert.ok(res.headers['retry-after'], 'a 503 says when to retry');
    } finally {
      released = true;
      await holding;
    }
    assert.equal((await db.query<{ n: number }>('SELECT 1 AS n'))[0].n, 1);
  });

  test('a transaction left idle past idle_in_transaction_session_timeout is ended by the server and fails', async () => {
    const { err } = await timed(() =>
      db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await sleep(1_200);
        await tx.query('SELECT 2');
      }),
    );
    assert.ok(isOrderflowError(err, 'PLT_ERR_DB_TIMEOUT'), String(err));
    assert.equal((err.cause as { code?: string }).code, '25P03');
    const stuck = await db.query<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'");
    assert.equal(stuck[0].n, 0);
    // The pool replaced the ended connection.
    assert.equal((await db.query<{ n: number }>('SELECT 3 AS n'))[0].n, 3);
  });

  test('a migration may run past statement_timeout (an index built on a large table), and the timeout holds again after it', async () => {
    await migrate(db, [{ id: '0001-slow', sql: 'SELECT pg_sleep(0.6); CREATE TABLE slow_built (id INT)' }]);
    assert.deepEqual(await db.query('SELECT * FROM slow_built'), []);
    await assert.rejects(db.query('SELECT pg_sleep(3)'), { code: 'PLT_ERR_DB_TIMEOUT' });
  });
});
