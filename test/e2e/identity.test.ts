/**
 * Identity end to end, as a new user meets it: register, log in, order with the token, read
 * it; another customer gets 404 for it and an anonymous caller 401; refresh tokens rotate
 * and a reused one ends the login; the admin's routes need the admin. On both deployments.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient } from '#lab/client.ts';
import { createCatalog, waitAllTerminal } from '#lab/scenario.ts';
import { acceptedStatus, deployments, startDeployment } from './deployments.ts';

for (const deployment of deployments) {
  describe(`identity and who may do what, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('a customer registers, logs in, orders and reads; others get 404, anonymous callers 401; tokens rotate', async (t) => {
      const { system, client } = await startDeployment(t, deployment, 'events');
      const [productId] = [...(await createCatalog(client, 1, 50)).keys()];

      // The seeded demo customer (what `npm start` prints) orders and reads its order.
      const placed = await client.placeOrder({ items: [{ productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }, 'identity-1');
      assert.equal(placed.status, acceptedStatus('events'), JSON.stringify(placed.body));
      const [view] = await waitAllTerminal(client, [{ id: placed.body.id, items: [{ productId, quantity: 1 }], paymentMethod: 'card', country: 'DE' }], 60_000);
      const me = await client.call('GET', '/api/me');
      assert.deepEqual([me.status, me.body.email, me.body.role], [200, system.demoUsers.customer.email, 'customer']);
      assert.equal(view.customerId, me.body.id, 'the order is the caller\'s: the customer is the token\'s subject');

      // A new customer registers through the gateway and logs in.
      const ada = { email: `ada-${Date.now()}@example.org`, password: 'correct horse battery', name: 'Ada' };
      const registered = await client.call('POST', '/api/auth/register', ada, {}, 'anonymous');
      assert.deepEqual([registered.status, registered.body.role], [201, 'customer']);
      const other = createClient(system.gatewayUrl, 4, { customer: { email: ada.email, password: ada.password }, onAnswer: undefined });
      t.after(() => other.close());
      const foreign = await other.call('GET', `/api/orders/${placed.body.id}`);
      assert.deepEqual([foreign.status, foreign.body.error.code], [404, 'ORD_ERR_ORDER_NOT_FOUND'], 'somebody else\'s order is as unknown');
      assert.equal((await other.details(placed.body.id)).status, 404);
      const theirs = await other.call('GET', '/api/orders');
      assert.deepEqual([theirs.status, theirs.body.orders], [200, []], 'a new customer has no orders');
      // An Idempotency-Key is the customer's own: the same key from another customer is another order.
      const same = await other.placeOrder({ items: [{ productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }, 'identity-1');
      assert.equal(same.status, acceptedStatus('events'), JSON.stringify(same.body));
      assert.notEqual(same.body.id, placed.body.id);
      const changed = await client.placeOrder({ items: [{ productId, quantity: 2 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }, 'identity-1');
      assert.deepEqual([changed.status, (changed.body as any).error?.code], [422, 'ORD_ERR_IDEMPOTENCY_KEY_REUSED'], 'the same key with another body');
      const mine = await client.call('GET', '/api/orders');
      assert.deepEqual(mine.body.orders.map((o: { id: string }) => o.id), [placed.body.id]);
      assert.equal((await client.order(placed.body.id, 'anonymous')).status, 401);
      assert.equal((await client.order(placed.body.id, 'admin')).status, 200, 'an admin reads any order');

      // Refresh tokens rotate; the spent one, presented again, ends the whole login.
      const login = await client.call('POST', '/api/auth/login', { email: ada.email, password: ada.password }, {}, 'anonymous');
      assert.equal(login.status, 200);
      const rotated = await client.call('POST', '/api/auth/refresh', { refreshToken: login.body.refreshToken }, {}, 'anonymous');
      assert.equal(rotated.status, 200);
      assert.notEqual(rotated.body.refreshToken, login.body.refreshToken);
      const reused = await client.call('POST', '/api/auth/refresh', { refreshToken: login.body.refreshToken }, {}, 'anonymous');
      assert.deepEqual([reused.status, reused.body.error.code], [401, 'ORD_ERR_INVALID_REFRESH_TOKEN']);
      const revoked = await client.call('POST', '/api/auth/refresh', { refreshToken: rotated.body.refreshToken }, {}, 'anonymous');
      assert.equal(revoked.status, 401, 'the reuse revoked the rotated token too');
      const logout = await client.call('POST', '/api/auth/logout', { refreshToken: rotated.body.refreshToken }, {}, 'anonymous');
      assert.equal(logout.status, 204);
    });
  });
}
