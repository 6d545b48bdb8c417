/**
 * The order saga end to end, through the gateway's HTTP API only, on both deployments:
 * every service its own OS process, real sockets, real stores and bus.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptedStatus, architectures, deployments, startDeployment } from './deployments.ts';
import { settledInvariants } from '#lab/invariants.ts';
import { createCatalog, expectation, placeBurst, replayPlaced, waitAllTerminal } from '#lab/scenario.ts';
import { upstreamNames } from '#services/gateway/config.ts';

for (const deployment of deployments) for (const arch of architectures) {
  describe(`the order saga, ${arch} architecture, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('a burst of concurrent orders over few products all settle and every invariant holds', async (t) => {
      const { client } = await startDeployment(t, deployment, arch);

      const health = await client.health();
      assert.equal(health.status, 200, JSON.stringify(health.body));
      assert.deepEqual(health.body.services, Object.fromEntries(upstreamNames.map((n) => [n, 'up'])));

      // Few products and scarce stock, so that reservations contend and some run out.
      const initialStock = await createCatalog(client, 3, 60);
      const { placed } = await placeBurst(client, [...initialStock.keys()], { count: 150, concurrency: 24, declineRatio: 0.15, unservedRatio: 0.1, seed: 7 });
      assert.equal(placed.length, 150);
      assert.equal(new Set(placed.map((o) => o.id)).size, 150, 'no two requests were answered with the same order');

      const views = await waitAllTerminal(client, placed, 90_000);
      const byStatus = (s: string, r?: string) => views.filter((v) => v.status === s && (r === undefined || v.reason === r)).length;
      t.diagnostic(`confirmed ${byStatus('CONFIRMED')}, out of stock ${byStatus('CANCELLED', 'OUT_OF_STOCK')}, declined ${byStatus('CANCELLED', 'PAYMENT_DECLINED')}, unserved ${byStatus('CANCELLED', 'SHIPPING_UNAVAILABLE')}`);
      // Every path of the saga was taken.
      assert.ok(byStatus('CONFIRMED') > 0, 'some orders confirmed');
      assert.ok(byStatus('CANCELLED', 'OUT_OF_STOCK') > 0, 'some orders ran out of stock');
      assert.ok(byStatus('CANCELLED', 'PAYMENT_DECLINED') > 0, 'some cards were declined');
      assert.ok(byStatus('CANCELLED', 'SHIPPING_UNAVAILABLE') > 0, 'some countries were not served');

      // Compensations may still be in flight when the last status turns: poll until quiet.
      const exp = expectation(initialStock, placed);
      assert.deepEqual(await settledInvariants(client, exp), []);
      // Requests retried while the catalog spread made one order each.
      assert.deepEqual(await replayPlaced(client, placed), [], 'each request, replayed, names its one order');
    });

    test('an Idempotency-Key replay returns the same order, also when sent concurrently', async (t) => {
      const { client } = await startDeployment(t, deployment, arch);

      const initialStock = await createCatalog(client, 1, 100);
      const [productId] = initialStock.keys();
      const { placed } = await placeBurst(client, [productId], { count: 1, concurrency: 1, declineRatio: 0, unservedRatio: 0 });
      const body = { items: [{ productId, quantity: 2 }], paymentMethod: 'card', shippingAddress: { country: 'FR' } };
      const key = `key-${placed[0].id}`;
      const answers = await Promise.all(Array.from({ length: 8 }, () => client.placeOrder(body, key)));
      for (const a of answers) assert.equal(a.status, acceptedStatus(arch), JSON.stringify(a.body));
      const ids = new Set(answers.map((a) => a.body.id));
      assert.equal(ids.size, 1, 'all replays name one order');
      const [id] = ids;
      await waitAllTerminal(client, [{ id, items: body.items, paymentMethod: 'card', country: 'FR' }], 30_000);
      const again = await client.placeOrder(body, key);
      assert.equal(again.status, acceptedStatus(arch));
      assert.equal(again.body.id, id);
      assert.equal(again.body.status, 'CONFIRMED', 'a replay reports the current status');
      // Nine requests made one order: stock fell by the first order's units and this one's 2, once.
      const products = await client.products();
      const p = products.body.find((x) => x.id === productId);
      assert.equal(p?.available, 100 - placed[0].items[0].quantity - 2);
    });

    test('bad input gets coded 400, 404 and 422 answers and never a 500', async (t) => {
      const { client } = await startDeployment(t, deployment, arch);

      const cases: Array<[string, () => Promise<{ status: number; body: any }>, number]> = [
        ['malformed JSON', () => client.call('POST', '/api/orders', '{"customerId":'), 400],
        ['an order without items', () => client.placeOrder({ items: [], paymentMethod: 'card', shippingAddress: { country: 'DE' } }), 400],
        ['a negative quantity', () => client.placeOrder({ items: [{ productId: '0190a3c4-0000-7000-8000-000000000000', quantity: -1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }), 400],
        ['an unknown product', () => client.placeOrder({ items: [{ productId: '0190a3c4-0000-7000-8000-000000000000', quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }), 422],
        ['a product with a string price', () => client.createProduct({ sku: 'x', name: 'x', priceCents: '12' as unknown as number, stock: 1 }), 400],
        ['an unknown order', () => client.order('0190a3c4-0000-7000-8000-000000000000'), 404],
        ['an order id that is not a UUID', () => client.order('not-a-uuid'), 400],
        ['details of an unknown order', () => client.details('0190a3c4-0000-7000-8000-000000000000'), 404],
      ];
      for (const [what, call, expected] of cases) {
        const r = await call();
        assert.equal(r.status, expected, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(typeof r.body?.error?.code, 'string', `${what} carries an error code`);
        assert.equal(typeof r.body?.error?.message, 'string', `${what} carries a message`);
      }
    });
  });
}
