import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Fastify from 'fastify';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { createSharedReads } from './shared-reads.ts';

async function startInventory(t: TestContext) {
  const calls: Array<string | undefined> = [];
  let version = 1;
  const app = Fastify();
  app.get('/products', async (req, reply) => {
    const inm = req.headers['if-none-match'];
    calls.push(inm);
    reply.header('etag', `"v${version}"`);
    if (inm === `"v${version}"`) return reply.code(304).send();
    return [{ sku: 'A', available: version }];
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const upstream = createUpstream({ name: 'inventory', url, timeoutMs: 1_000, connections: 4, retries: 0 });
  t.after(async () => {
    await upstream.close();
    await app.close();
  });
  return { calls, reads: createSharedReads(upstream), bump: () => version++ };
}

test('identical reads that arrive together share one call; another If-None-Match gets its own', async (t) => {
  const { calls, reads } = await startInventory(t);
  const answers = await Promise.all([
    ...Array.from({ length: 8 }, () => reads.get('/products')),
    ...Array.from({ length: 4 }, () => reads.get('/products', '"v1"')),
  ]);
  assert.deepEqual(calls.sort(), [undefined, '"v1"'].sort());
  assert.deepEqual(answers.map((a) => a.statusCode), [...Array(8).fill(200), ...Array(4).fill(304)]);
  assert.deepEqual(JSON.parse(answers[0].body.toString()), [{ sku: 'A', available: 1 }]);
});

test('a read made after a shared call left gets a call of its own, never the older answer', async (t) => {
  const { calls, reads, bump } = await startInventory(t);
  const first = await reads.get('/products');
  bump();
  const second = await reads.get('/products');
  assert.equal(calls.length, 2);
  assert.deepEqual([first.headers.etag, second.headers.etag], ['"v1"', '"v2"']);
});
