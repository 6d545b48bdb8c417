/**
 * Client events through the gateway, on both deployments: a batch from an anonymous
 * visitor and one from a logged-in customer land on client.events, keyed by session, the
 * customer stamped from the token; bad events are answered one by one while the rest are
 * kept; and only the kept ones are in the log.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createCatalog } from '#lab/scenario.ts';
import { openBus } from '#platform/bus/open.ts';
import { decode } from '#platform/bus/envelope.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { Topics } from '#contracts/index.ts';
import { deployments, startDeployment } from './deployments.ts';

for (const deployment of deployments) {
  describe(`client events on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('anonymous and logged-in batches are appended to the log keyed by session, the customer from the token, bad events refused one by one', async (t) => {
      const { client, dataDir, env } = await startDeployment(t, deployment, 'events');
      const [productId] = [...(await createCatalog(client, 1, 10)).keys()];
      const visitor = `visit-${randomUUID()}`;
      const shopper = `visit-${randomUUID()}`;
      const at = new Date().toISOString();

      const anonymous = await client.call('POST', '/api/events', { events: [
        { type: 'product.viewed', sessionId: visitor, productId, at },
        { type: 'product.searched', sessionId: visitor, query: 'kettle', resultCount: 1, at },
      ] }, {}, 'anonymous');
      assert.equal(anonymous.status, 202, JSON.stringify(anonymous.body));
      assert.deepEqual(anonymous.body, { accepted: 2, rejected: [] });

      const me = (await client.call('GET', '/api/me')).body as { id: string };
      const mixed = await client.call('POST', '/api/events', { events: [
        { type: 'product.viewed', sessionId: shopper, productId, at },
        { type: 'product.viewed', sessionId: shopper, productId: 'nope', at },
        { type: 'cart.updated', sessionId: shopper, productId, quantity: 2, at },
        { type: 'product.viewed', sessionId: shopper, productId, at: '1999-01-01T00:00:00Z' },
      ] });
      assert.equal(mixed.status, 202, JSON.stringify(mixed.body));
      assert.equal(mixed.body.accepted, 2);
      assert.deepEqual(mixed.body.rejected.map((r: { index: number; error: { code: string } }) => [r.index, r.error.code]), [[1, 'ING_ERR_INVALID_EVENT'], [3, 'ING_ERR_EVENT_TIME_OUT_OF_RANGE']]);

      assert.equal((await client.call('POST', '/api/events', { events: [] }, {}, 'anonymous')).status, 400);
      const forged = await client.call('POST', '/api/events', { events: [{ type: 'product.viewed', sessionId: visitor, productId, at }] }, { authorization: 'Bearer forged' }, 'anonymous');
      assert.equal(forged.status, 401);

      const bus = await openBus(loadPlatformConfig({ ...process.env, ...env, ORDERFLOW_DATA_DIR: dataDir }), 'ingestion-e2e', silentLogger);
      t.after(() => bus.close());
      const ours = (await bus.read(Topics.clientEvents, { limit: 10_000 })).map(decode).filter((m) => m.key === visitor || m.key === shopper);
      const summary = ours.map((m) => [m.key === visitor ? 'visitor' : 'shopper', m.type, (m.payload as { customerId?: string }).customerId ?? null]).sort();
      assert.deepEqual(summary, [
        ['shopper', 'CartUpdated', me.id],
        ['shopper', 'ProductViewed', me.id],
        ['visitor', 'ProductSearched', null],
        ['visitor', 'ProductViewed', null],
      ]);
      assert.ok(ours.every((m) => m.occurredAt === at), 'the event time is the client\'s');
    });
  });
}
