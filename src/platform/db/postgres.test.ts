import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Db } from './db.ts';
import { openPostgres, dropPostgresDatabase } from './postgres.ts';
import { silentLogger } from '../log.ts';
import { postgresSkip, uniqueName } from '#test/infra.ts';

describe('the postgres adapter', { skip: postgresSkip() }, () => {
  const url = process.env.DATABASE_URL as string;
  const database = uniqueName('of_pg');
  let db: Db;
  before(async () => {
    db = await openPostgres({ url, database, poolSize: 2, log: silentLogger });
  });
  after(async () => {
    await db?.close();
    await dropPostgresDatabase(url, database);
  });

  test('the URL\'s sslmode is honoured: sslmode=require refuses a server without TLS instead of falling back to plaintext', async () => {
    const u = new URL(url);
    u.searchParams.set('sslmode', 'require');
    await assert.rejects(openPostgres({ url: u.toString(), database: uniqueName('of_ssl'), poolSize: 1, log: silentLogger }), /SSL/i);
    u.searchParams.set('sslmode', 'disable');
    const plain = await openPostgres({ url: u.toString(), database, poolSize: 1, log: silentLogger });
    assert.equal((await plain.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))[0].ssl, false);
    await plain.close();
  });

  test('a connection killed inside a transaction is discarded and the pool keeps working', async () => {
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
      }),
    );
    // With two connections in the pool, several rounds would reuse a dead one if it were kept.
    for (let i = 0; i < 4; i++) {
      assert.equal(await db.transaction((tx) => tx.query<{ n: number }>('SELECT 1 AS n')).then((r) => r[0].n), 1);
      assert.equal((await db.query<{ n: number }>('SELECT 2 AS n'))[0].n, 2);
    }
  });

  test('BIGINT and NUMERIC come back as numbers without changing the global pg parsers', async () => {
    const [row] = await db.query<{ big: unknown; num: unknown }>('SELECT $1::bigint AS big, $2::numeric AS num', [2 ** 40, 12.5]);
    assert.deepEqual(row, { big: 2 ** 40, num: 12.5 });
    assert.equal(pg.types.getTypeParser(20, 'text')('5'), '5');
  });

  test('the same statement text runs again on every pooled connection after its first preparation', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => db.query<{ n: number }>('SELECT $1::int + 1 AS n', [i])));
    assert.deepEqual(results.map((r) => r[0].n), Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
