/**
 * A price change and a restock end to end, in every architecture (rest learns prices from
 * the same bus events). The writes go to the services themselves, on their own ports: the
 * gateway's product and order routes want an admin's or a customer's token, which is the
 * gateway's own business. The public catalog is read through the gateway.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { architectures, deployments, startDeployment } from './deployments.ts';
import { waitFor } from '#lab/invariants.ts';

async function call<T = any>(url: string, method: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

const order = (productId: string) => ({ customerId: 'customer-1', items: [{ productId, quantity: 2 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } });

for (const deployment of deployments) for (const arch of architectures) {
  describe(`a product's price and stock change, ${arch} architecture, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('orders placed after a price change pay the new price, those before keep theirs, and the catalog shows it at once', async (t) => {
      const { system } = await startDeployment(t, deployment, arch);
      const { inventory, orders } = system.urls;
      const created = await call<{ id: string }>(`${inventory}/products`, 'POST', { sku: `E2E-${randomUUID().slice(0, 8)}`, name: 'Price change', priceCents: 1000, stock: 50 });
      assert.equal(created.status, 201);
      const productId = created.body.id;
      // Orders learns the product from ProductCreated: retry the first order until it has.
      const first = await waitFor('the first order to be accepted', async () => {
        const r = await call<{ id: string }>(`${orders}/orders`, 'POST', order(productId));
        return r.status < 300 ? r.body : undefined;
      }, 30_000);

      const patched = await call<{ priceCents: number; available: number }>(`${inventory}/products/${productId}`, 'PATCH', { priceCents: 700, restock: 5 });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.priceCents, 700);
      const catalog = await call<Array<{ id: string; priceCents: number }>>(`${system.gatewayUrl}/api/products`, 'GET');
      assert.equal(catalog.body.find((p) => p.id === productId)?.priceCents, 700, 'the public catalog answers the new price at once');

      await waitFor('orders to learn the new price', async () => {
        const r = await call<{ priceCents: number }>(`${orders}/catalog/${productId}`, 'GET');
        return r.status === 200 && r.body.priceCents === 700 ? true : undefined;
      }, 30_000);
      const second = await call<{ id: string }>(`${orders}/orders`, 'POST', order(productId));
      assert.ok(second.status < 300, JSON.stringify(second.body));

      const views = await waitFor('both orders to settle', async () => {
        const both = await Promise.all([first.id, second.body.id].map((id) => call<{ status: string; totalCents: number }>(`${orders}/orders/${id}`, 'GET')));
        return both.every((v) => v.status === 200 && v.body.status !== 'PENDING') ? both.map((v) => v.body) : undefined;
      }, 60_000, 250);
      assert.deepEqual(views.map((v) => [v.status, v.totalCents]), [['CONFIRMED', 2 * 1000], ['CONFIRMED', 2 * 700]]);
      const after = await call<{ available: number }>(`${inventory}/products/${productId}`, 'GET');
      assert.equal(after.body.available, 50 + 5 - 4);
    });
  });
}
