import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { Pool, request } from 'undici';
import { drainingHeader, installDrain } from './drain.ts';

async function server(t: import('node:test').TestContext) {
  const app = Fastify();
  const drainer = installDrain(app, { graceMs: 1_000 });
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  app.get('/fast', async () => ({ ok: true }));
  app.get('/slow', async () => {
    await held;
    return { ok: 'slow' };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  return { app, drainer, release, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
}

test('a draining server refuses new connections, serves the open ones with connection: close, and lets the request in flight finish', async (t) => {
  const { app, drainer, release, url } = await server(t);
  const pool = new Pool(url, { connections: 2, pipelining: 1 });
  t.after(() => pool.close());
  // Two connections: one idle after an answer, one carrying a request in flight.
  await (await pool.request({ method: 'GET', path: '/fast' })).body.text();
  const slow = pool.request({ method: 'GET', path: '/slow' });
  await new Promise((resolve) => setTimeout(resolve, 50));

  const drained = drainer.drain();
  assert.equal(drainer.draining(), true);
  await assert.rejects(request(`${url}/fast`), (err: Error & { code?: string; cause?: { code?: string } }) => (err.code ?? err.cause?.code) === 'ECONNREFUSED', 'a new connection is refused');

  const onOpen = await pool.request({ method: 'GET', path: '/fast' });
  await onOpen.body.text();
  assert.equal(onOpen.statusCode, 200, 'a request on a connection the caller holds is served');
  assert.equal(onOpen.headers[drainingHeader], '1');
  assert.equal(onOpen.headers.connection, 'close');

  release();
  const answer = await slow;
  assert.equal(answer.statusCode, 200);
  assert.deepEqual(await answer.body.json(), { ok: 'slow' });
  const t0 = Date.now();
  await drained;
  assert.ok(Date.now() - t0 < 900, 'the drain ends once every connection has, not at its grace');
  await app.close();
});

test('a drain ends after its grace even when a caller keeps an idle connection open', async (t) => {
  const { drainer, url, release } = await server(t);
  release();
  const pool = new Pool(url, { connections: 1, pipelining: 1 });
  t.after(() => pool.close());
  await (await pool.request({ method: 'GET', path: '/fast' })).body.text();
  const t0 = Date.now();
  await drainer.drain();
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 3_000, `drained in ${took} ms`);
});

test('an app that drains is not ready, whatever its checks say, and still serves its routes', async (t) => {
  const { buildHttpApp } = await import('./app.ts');
  const { silentLogger } = await import('../log.ts');
  const app = buildHttpApp({ name: 'widgets', log: silentLogger, checks: { database: async () => {} } });
  app.get('/widgets', async () => []);
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 200);
  await app.drain();
  const ready = await app.inject({ url: '/health/ready' });
  assert.equal(ready.statusCode, 503);
  assert.deepEqual(ready.json(), { status: 'draining', service: 'widgets' });
  const served = await app.inject({ url: '/widgets' });
  assert.equal(served.statusCode, 200);
  assert.equal(served.headers[drainingHeader], '1');
});
