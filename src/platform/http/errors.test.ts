import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { silentLogger } from '../log.ts';
import { buildHttpApp } from './app.ts';
import { closedPort } from '#test/sockets.ts';

/** A port nothing listens on: taken, then given back. */
test('a database that cannot be reached answers 503 with Retry-After, anything else unexpected a 500 that reveals nothing', async (t) => {
  const closed = await closedPort();
  const app = buildHttpApp({ name: 'widgets', log: silentLogger });
  // The driver's own error, as a service sees it while its PostgreSQL restarts.
  app.get('/db', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: closed, user: 'postgres', connectionTimeoutMillis: 2_000 });
    await client.connect();
    return { unreachable: false };
  });
  app.get('/bug', async () => {
    throw new Error('secret internals');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  const db = await fetch(`${url}/db`);
  assert.equal(db.status, 503);
  assert.equal(db.headers.get('retry-after'), '1');
  assert.equal(((await db.json()) as { error: { code: string } }).error.code, 'PLT_ERR_DEPENDENCY_UNAVAILABLE');

  const bug = await fetch(`${url}/bug`);
  assert.equal(bug.status, 500);
  const body = (await bug.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'PLT_ERR_INTERNAL');
  assert.match(body.error.message, /^internal error; the log has it under request id [0-9a-f-]{36}$/);
});
