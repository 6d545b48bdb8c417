/**
 * The read path end to end, through the gateway's HTTP API only: the catalog's ETag and
 * 304, and order reads (gathered by the gateway, kept between commits by orders) that
 * never go back to an older status.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deployments, startDeployment } from './deployments.ts';
import { createCatalog, placeBurst, waitAllTerminal } from '#lab/scenario.ts';

for (const deployment of deployments) {
  describe(`the read path on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('the catalog answers an ETag and 304, and a new product or a reservation changes the ETag', async (t) => {
      const { system, client } = await startDeployment(t, deployment);
      const products = (etag?: string) => fetch(`${system.gatewayUrl}/api/products`, { headers: etag ? { 'if-none-match': etag } : {} });

      const [productId] = (await createCatalog(client, 1, 50)).keys();
      const first = await products();
      assert.equal(first.status, 200);
      const e1 = first.headers.get('etag');
      assert.ok(e1, 'an ETag');
      await first.arrayBuffer();
      const again = await products(e1);
      assert.equal(again.status, 304);
      assert.equal(await again.text(), '');

      await createCatalog(client, 1, 50);
      const afterCreate = await products(e1);
      assert.equal(afterCreate.status, 200);
      const e2 = afterCreate.headers.get('etag');
      assert.notEqual(e2, e1);
      assert.equal(((await afterCreate.json()) as unknown[]).length, 2);

      // An order reserves stock through the saga (the bus, not HTTP): the catalog changes too.
      const { placed } = await placeBurst(client, [productId], { count: 1, concurrency: 1, declineRatio: 0, unservedRatio: 0 });
      const [view] = await waitAllTerminal(client, placed, 60_000);
      assert.equal(view.status, 'CONFIRMED');
      const afterOrder = await products(e2!);
      assert.equal(afterOrder.status, 200);
      assert.notEqual(afterOrder.headers.get('etag'), e2);
      const list = (await afterOrder.json()) as Array<{ id: string; available: number }>;
      assert.equal(list.find((p) => p.id === productId)?.available, 50 - view.items[0].quantity);
    });

    test('order reads racing the sagas never go back to an older status, and all end terminal', async (t) => {
      const { system, client } = await startDeployment(t, deployment);
      const productIds = [...(await createCatalog(client, 2, 1_000)).keys()];
      const { placed } = await placeBurst(client, productIds, { count: 40, concurrency: 8, declineRatio: 0.2, unservedRatio: 0.2, seed: 3 });
      const ids = placed.map((o) => o.id);
      const headers = { authorization: `Bearer ${await client.token('customer')}` };
      const last = new Map<string, string>();
      const deadline = Date.now() + 60_000;
      // Every order read at once, round after round: the gateway gathers them into shared calls.
      while (Date.now() < deadline) {
        const answers = await Promise.all(ids.map(async (id) => {
          const res = await fetch(`${system.gatewayUrl}/api/orders/${id}`, { headers });
          assert.equal(res.status, 200);
          return (await res.json()) as { id: string; status: string };
        }));
        for (const [i, a] of answers.entries()) {
          assert.equal(a.id, ids[i], 'each read gets its own order');
          const before = last.get(a.id);
          assert.ok(before === undefined || before === 'PENDING' || before === a.status, `order ${a.id} went from ${before} back to ${a.status}`);
          last.set(a.id, a.status);
        }
        if (answers.every((a) => a.status !== 'PENDING')) break;
      }
      assert.ok([...last.values()].every((s) => s !== 'PENDING'), 'every order reached a terminal status');
      // And /details agrees with the plain read.
      const details = (await (await fetch(`${system.gatewayUrl}/api/orders/${ids[0]}/details`, { headers })).json()) as { order: { status: string } };
      assert.equal(details.order.status, last.get(ids[0]));
      const unknown = await fetch(`${system.gatewayUrl}/api/orders/0190f5b2-7c4e-7d2a-9f00-ffffffffffff`, { headers });
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'ORD_ERR_ORDER_NOT_FOUND');
    });
  });
}
