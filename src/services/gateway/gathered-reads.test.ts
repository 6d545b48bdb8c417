import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Fastify from 'fastify';
import { isOrderflowError } from '#platform/errors.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { createGatheredReads } from './gathered-reads.ts';

const ids = Array.from({ length: 10 }, (_, i) => `0190f5b2-7c4e-7d2a-9f00-${String(i).padStart(12, '0')}`);
const orderRoutes = { one: (id: string) => `/orders/${id}`, many: '/order-views' };
const unknownId = '0190f5b2-7c4e-7d2a-9f00-ffffffffffff';
const view = (id: string) => ({ id, status: 'CONFIRMED' });
const notFound = (id: string) => ({ error: { code: 'ORD_ERR_ORDER_NOT_FOUND', message: `no order ${id}` } });

/** A small real orders stand-in that counts its calls; `batch: false` has no /order-views. */
async function startOrders(t: TestContext, opts: { batch?: boolean } = {}) {
  const calls: string[] = [];
  const app = Fastify();
  app.addHook('onRequest', async (req) => void calls.push(req.url.split('?')[0]));
  app.get('/orders/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    return ids.includes(id) ? view(id) : reply.code(404).send(notFound(id));
  });
  if (opts.batch !== false) {
    app.get('/order-views', async (req, reply) => {
      const wanted = (req.query as { ids: string }).ids.split(',');
      const lines = wanted.map((id) => (ids.includes(id) ? JSON.stringify(view(id)) : '')).join('\n') + '\n';
      return reply.type('application/x-ndjson').send(lines);
    });
  }
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const upstream = createUpstream({ name: 'orders', url, timeoutMs: 1_000, connections: 4, retries: 0 });
  t.after(async () => {
    await upstream.close();
    await app.close();
  });
  return { calls, reads: createGatheredReads(upstream, orderRoutes) };
}

test('reads that arrive together go to orders as one call, each with its own answer', async (t) => {
  const { calls, reads } = await startOrders(t);
  const answers = await Promise.all(ids.map((id) => reads.get(id)));
  assert.deepEqual(calls, ['/order-views']);
  for (const [i, a] of answers.entries()) {
    assert.equal(a.statusCode, 200);
    assert.match(String(a.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(a.body.toString()), view(ids[i]));
  }
});

test('a read alone is a plain GET /orders/:id', async (t) => {
  const { calls, reads } = await startOrders(t);
  const a = await reads.get(ids[0]);
  assert.deepEqual(JSON.parse(a.body.toString()), view(ids[0]));
  assert.deepEqual(calls, [`/orders/${ids[0]}`]);
});

test('an unknown order among gathered reads gets the 404 of GET /orders/:id', async (t) => {
  const { calls, reads } = await startOrders(t);
  const [known, unknown] = await Promise.all([reads.get(ids[0]), reads.get(unknownId)]);
  assert.equal(known.statusCode, 200);
  assert.equal(unknown.statusCode, 404);
  assert.deepEqual(JSON.parse(unknown.body.toString()), notFound(unknownId));
  assert.deepEqual(calls, ['/order-views', `/orders/${unknownId}`]);
});

test('an orders without /order-views is read one by one, with the same answers', async (t) => {
  const { calls, reads } = await startOrders(t, { batch: false });
  const answers = await Promise.all(ids.slice(0, 3).map((id) => reads.get(id)));
  assert.deepEqual(answers.map((a) => JSON.parse(a.body.toString())), ids.slice(0, 3).map(view));
  assert.deepEqual(calls.sort(), ['/order-views', ...ids.slice(0, 3).map((id) => `/orders/${id}`)].sort());
});

test('when orders cannot be reached every gathered read fails with the coded 503', async () => {
  const upstream = createUpstream({ name: 'orders', url: 'http://127.0.0.1:1', timeoutMs: 500, connections: 2, retries: 0 });
  try {
    const reads = createGatheredReads(upstream, orderRoutes);
    const results = await Promise.allSettled(ids.slice(0, 4).map((id) => reads.get(id)));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(isOrderflowError(r.reason, 'PLT_ERR_DEPENDENCY_UNAVAILABLE'), String(r.reason));
    }
  } finally {
    await upstream.close();
  }
});

test('a coded refusal of a gathered call is every read\'s answer, not a call per read', async (t) => {
  const calls: string[] = [];
  const app = Fastify();
  app.addHook('onRequest', async (req) => void calls.push(req.url.split('?')[0]));
  const busy = { error: { code: 'PLT_ERR_DEPENDENCY_UNAVAILABLE', message: 'busy' } };
  app.get('/order-views', async (_req, reply) => reply.code(503).send(busy));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const upstream = createUpstream({ name: 'orders', url, timeoutMs: 1_000, connections: 2, retries: 0, breaker: false });
  t.after(async () => {
    await upstream.close();
    await app.close();
  });
  const reads = createGatheredReads(upstream, orderRoutes);
  const answers = await Promise.all(ids.slice(0, 5).map((id) => reads.get(id)));
  assert.deepEqual(answers.map((a) => a.statusCode), [503, 503, 503, 503, 503]);
  assert.deepEqual(JSON.parse(answers[0].body.toString()), busy);
  assert.deepEqual(calls, ['/order-views']);
});
