/**
 * A price change and a restock end to end: PATCH on the inventory service itself (the
 * gateway's PATCH /api/products/:id wants an admin token), then the catalog through the
 * gateway, and orders placed before and after the change, in every architecture (rest
 * learns prices from the same bus events).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { architectures, deployments, startDeployment } from './deployments.ts';
import { waitFor } from '#lab/invariants.ts';
import { createCatalog, waitAllTerminal } from '#lab/scenario.ts';

const order = (productId: string) => ({ customerId: 'customer-1', items: [{ productId, quantity: 2 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } });

for (const deployment of deployments) for (const arch of architectures) {
  describe(`a product's price and stock change, ${arch} architecture, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('orders placed after a price change pay the new price, those before keep theirs, and the catalog shows it at once', async (t) => {
      const { system, client } = await startDeployment(t, deployment, arch);
      const [productId] = (await createCatalog(client, 1, 50)).keys();
      const oldPrice = (await client.products()).body.find((p) => p.id === productId)!.priceCents;
      // Orders learns the product from ProductCreated: retry the first order until it has.
      const first = await waitFor('the first order to be accepted', async () => {
        const r = await client.placeOrder(order(productId));
        return r.status < 300 ? r.body : undefined;
      }, 30_000);

      const patch = await fetch(`${system.urls.inventory}/products/${productId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ priceCents: oldPrice - 300, restock: 5 }),
      });
      assert.equal(patch.status, 200);
      assert.equal(((await patch.json()) as { priceCents: number }).priceCents, oldPrice - 300);
      const listed = (await client.products()).body.find((p) => p.id === productId);
      assert.equal(listed?.priceCents, oldPrice - 300, 'the gateway\'s catalog answers the new price at once');

      await waitFor('orders to learn the new price', async () => {
        const r = await fetch(`${system.urls.orders}/catalog/${productId}`);
        return r.status === 200 && ((await r.json()) as { priceCents: number }).priceCents === oldPrice - 300 ? true : undefined;
      }, 30_000);
      const second = await client.placeOrder(order(productId));
      assert.ok(second.status < 300, JSON.stringify(second.body));

      const [a, b] = await waitAllTerminal(client, [first, second.body].map((o) => ({ id: o.id, items: [], paymentMethod: 'card', country: 'DE' })), 60_000);
      assert.deepEqual([a.status, b.status], ['CONFIRMED', 'CONFIRMED']);
      assert.equal(a.totalCents, 2 * oldPrice);
      assert.equal(b.totalCents, 2 * (oldPrice - 300));
      assert.equal((await client.products()).body.find((p) => p.id === productId)?.available, 50 + 5 - 4);
    });
  });
}
