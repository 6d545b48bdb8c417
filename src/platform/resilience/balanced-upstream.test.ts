import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test, type TestContext } from 'node:test';
import { isOrderflowError } from '../errors.ts';
import { breakersOf, createBalancedUpstream } from './balanced-upstream.ts';

// A real instance: answers every request with its name, or, with `reset`, reads the
// request and then destroys the socket (the instance died while handling it).
async function instance(t: TestContext, name: string, behaviour: { reset?: boolean } = {}): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (behaviour.reset) return req.socket.destroy();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ from: name }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, server };
}

const from = (body: Buffer) => (JSON.parse(body.toString('utf8')) as { from: string }).from;

test('calls spread over the instances', async (t) => {
  const a = await instance(t, 'a');
  const b = await instance(t, 'b');
  const up = createBalancedUpstream({ name: 'orders', urls: [a.url, b.url], timeoutMs: 2_000 });
  t.after(() => up.close());
  const answers = await Promise.all(Array.from({ length: 20 }, () => up.request({ method: 'GET', path: '/x' })));
  assert.ok(answers.every((r) => r.statusCode === 200));
  assert.ok(a.seen.length >= 5 && b.seen.length >= 5, `a ${a.seen.length}, b ${b.seen.length}`);
  assert.deepEqual(breakersOf(up).map((u) => u.name), ['orders', `orders (${new URL(a.url).host})`, `orders (${new URL(b.url).host})`], 'on /metrics: the service and each instance');
});

test('an instance that is down (connection refused) is skipped, for a POST too, and its breaker opens', async (t) => {
  const live = await instance(t, 'live');
  // An instance that was there and is gone: its port refuses connections.
  const gone = await instance(t, 'gone');
  await new Promise((resolve) => gone.server.close(resolve));
  const deadUrl = gone.url;
  const up = createBalancedUpstream({ name: 'orders', urls: [deadUrl, live.url], timeoutMs: 2_000, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } });
  t.after(() => up.close());
  for (let i = 0; i < 10; i++) {
    const res = await up.request({ method: i % 2 ? 'GET' : 'POST', path: '/orders', body: '{}' });
    assert.equal(res.statusCode, 200);
    assert.equal(from(res.body), 'live');
  }
  assert.equal(live.seen.length, 10);
  assert.deepEqual(up.instances.map((u) => u.breakerState()), ['open', 'closed'], 'each instance its own breaker');
  assert.equal(up.breakerState(), 'closed', 'the service is up while one instance is');
});

test('a POST the instance may have acted on (reset after reading it) goes elsewhere only with an Idempotency-Key', async (t) => {
  const dying = await instance(t, 'dying', { reset: true });
  const live = await instance(t, 'live');
  const up = createBalancedUpstream({ name: 'orders', urls: [dying.url, live.url], timeoutMs: 2_000, breaker: false });
  t.after(() => up.close());
  // Round-robin: of two calls with nothing in flight, one goes to the dying instance first.
  const bare = await Promise.allSettled([0, 1].map(() => up.request({ method: 'POST', path: '/orders', body: '{}' })));
  const refused = bare.filter((r) => r.status === 'rejected');
  assert.equal(refused.length, 1, 'the call that reached the dying instance is not repeated');
  assert.ok(isOrderflowError((refused[0] as PromiseRejectedResult).reason, 'PLT_ERR_DEPENDENCY_UNAVAILABLE'));

  const keyed = await Promise.all([0, 1].map((i) => up.request({ method: 'POST', path: '/orders', headers: { 'idempotency-key': `k-${i}` }, body: '{}' })));
  assert.deepEqual(keyed.map((r) => from(r.body)), ['live', 'live'], 'a keyed POST is safe to repeat: the receiver dedups by the key');
  const gets = await Promise.all([0, 1].map(() => up.request({ method: 'GET', path: '/orders/1' })));
  assert.deepEqual(gets.map((r) => from(r.body)), ['live', 'live']);
});

test('one URL is the plain upstream', async (t) => {
  const a = await instance(t, 'a');
  const up = createBalancedUpstream({ name: 'orders', urls: [a.url] });
  t.after(() => up.close());
  assert.equal(up.url, a.url);
  assert.equal(up.instances.length, 1);
  assert.deepEqual(breakersOf(up).map((u) => u.name), ['orders']);
  assert.equal(from((await up.request({ method: 'GET', path: '/' })).body), 'a');
});

test('when every other instance fails, one whose breaker is open is still tried (it may be back)', async (t) => {
  const a = await instance(t, 'a');
  const b = await instance(t, 'b');
  const port = Number(new URL(a.url).port);
  const up = createBalancedUpstream({ name: 'payments', urls: [a.url, b.url], timeoutMs: 2_000, breaker: { consecutiveFailures: 1, halfOpenAfterMs: 60_000 } });
  t.after(() => up.close());
  // a goes away: its breaker opens on the first refusal, for a minute.
  await new Promise((resolve) => a.server.close(resolve));
  a.server.closeAllConnections();
  for (let i = 0; i < 4; i++) assert.equal(from((await up.request({ method: 'GET', path: '/x' })).body), 'b');
  assert.equal(up.instances[0].breakerState(), 'open');

  // a comes back on its port, and b goes away: a's breaker has not seen it back, yet it serves.
  const back = createServer((req, res) => res.end(JSON.stringify({ from: 'a again' })));
  await new Promise<void>((resolve) => back.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => back.close(resolve)));
  await new Promise((resolve) => b.server.close(resolve));
  b.server.closeAllConnections();
  for (let i = 0; i < 3; i++) assert.equal(from((await up.request({ method: 'GET', path: '/x' })).body), 'a again');
  assert.equal(up.instances[0].breakerState(), 'closed', 'a success closes it');
});

test('an instance answering as it drains is used no more: its answer stands, the next calls go to the others', async (t) => {
  const other = await instance(t, 'other');
  const seen: string[] = [];
  const draining = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.setHeader('x-orderflow-draining', '1');
    res.setHeader('connection', 'close');
    res.end(JSON.stringify({ from: 'draining' }));
  });
  await new Promise<void>((resolve) => draining.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => draining.close(resolve)));
  const url = `http://127.0.0.1:${(draining.address() as { port: number }).port}`;
  const up = createBalancedUpstream({ name: 'orders', urls: [url, other.url], timeoutMs: 2_000, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 } });
  t.after(() => up.close());
  const first = await up.request({ method: 'POST', path: '/orders', body: '{}' });
  assert.equal(from(first.body), 'draining', 'its answer is a good one: the request was served');
  for (let i = 0; i < 6; i++) assert.equal(from((await up.request({ method: 'POST', path: '/orders', body: '{}' })).body), 'other');
  assert.equal(seen.length, 1, 'one call reached the draining instance, the first');
  assert.equal(up.instances[0].breakerState(), 'open');
});
