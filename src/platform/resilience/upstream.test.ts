import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createUpstream } from './upstream.ts';

async function serve(t: import('node:test').TestContext, body: () => string) {
  const server = createServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end(body()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test("an upstream answering that ITS dependency is down is passed back and does not open this breaker", async (t) => {
  const url = await serve(t, () => JSON.stringify({ error: { code: 'ORD_ERR_DEPENDENCY_UNAVAILABLE', message: 'payments is down' } }));
  const orders = createUpstream({ name: 'orders', url, retries: 0, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 } });
  t.after(() => orders.close());
  for (let i = 0; i < 6; i++) assert.equal((await orders.request({ method: 'POST', path: '/orders' })).statusCode, 503);
  assert.equal(orders.breakerState(), 'closed');
});

test('an upstream shedding load on purpose is passed back and does not open this breaker', async (t) => {
  for (const code of ['PLT_ERR_OVERLOADED', 'ORD_ERR_SAGA_BACKLOG_FULL']) {
    const url = await serve(t, () => JSON.stringify({ error: { code, message: 'retry later' } }));
    const orders = createUpstream({ name: 'orders', url, retries: 0, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 } });
    t.after(() => orders.close());
    for (let i = 0; i < 6; i++) assert.equal((await orders.request({ method: 'POST', path: '/orders' })).statusCode, 503);
    assert.equal(orders.breakerState(), 'closed', code);
  }
});

test('an upstream answering 503 of its own opens the breaker after consecutive failures', async (t) => {
  const url = await serve(t, () => JSON.stringify({ error: { code: 'PLT_ERR_SHUTTING_DOWN', message: 'bye' } }));
  const orders = createUpstream({ name: 'orders', url, retries: 0, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 } });
  t.after(() => orders.close());
  for (let i = 0; i < 3; i++) await orders.request({ method: 'POST', path: '/orders' });
  assert.equal(orders.breakerState(), 'open');
  await assert.rejects(orders.request({ method: 'POST', path: '/orders' }), /circuit open/);
});
