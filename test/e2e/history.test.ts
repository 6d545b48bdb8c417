/**
 * An order's past through the gateway, on both deployments: its history as its owner (and
 * 404 for another customer, as for the order), the order as of a time replayed from its
 * events (404 before it was placed, PENDING between placement and confirmation, the live
 * view after), and orders_view rebuilt from the events equal to the live rows while the
 * system runs (what `orderflow orders rebuild-view --check` runs).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient } from '#lab/client.ts';
import { createCatalog, waitAllTerminal } from '#lab/scenario.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { openServiceDb } from '#platform/db/open.ts';
import { rebuildViews } from '#services/orders/rebuild-view.ts';
import { acceptedStatus, deployments, startDeployment } from './deployments.ts';

for (const deployment of deployments) {
  describe(`an order's history and the order as of a time, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('the owner reads the events; as of a time the order is its events up to then; the view rebuilt is the live one', async (t) => {
      const { system, client, dataDir, env } = await startDeployment(t, deployment, 'events');
      const [productId] = [...(await createCatalog(client, 1, 50)).keys()];
      const order = { items: [{ productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } };
      const placed = await client.placeOrder(order, 'history-1');
      assert.equal(placed.status, acceptedStatus('events'), JSON.stringify(placed.body));
      const id: string = placed.body.id;
      const [view] = await waitAllTerminal(client, [{ id, items: order.items, paymentMethod: 'card', country: 'DE' }], 60_000);
      assert.equal(view.status, 'CONFIRMED');

      const history = await client.call('GET', `/api/orders/${id}/history`);
      assert.equal(history.status, 200, JSON.stringify(history.body));
      const events: Array<{ type: string; at: string; version: number; data: any; service: string; traceId?: string }> = history.body.events;
      assert.deepEqual(events.map((e) => [e.version, e.type]), [[1, 'OrderPlaced'], [2, 'StockReserved'], [3, 'PaymentCharged'], [4, 'ShipmentScheduled'], [5, 'OrderConfirmed']]);
      // Who did each step (the console's timeline); no trace ids, tracing being off here (tracing.test.ts has them).
      assert.deepEqual(events.map((e) => [e.service, e.traceId]), [['orders', undefined], ['inventory', undefined], ['payments', undefined], ['shipping', undefined], ['orders', undefined]]);
      assert.deepEqual([events[0].data.orderId, events[0].data.customerId], [id, view.customerId]);
      assert.equal((await client.call('GET', `/api/orders/${id}/history`, undefined, {}, 'admin')).status, 200, 'an admin reads any history');

      const ada = { email: `ada-history-${Date.now()}@example.org`, password: 'correct horse battery', name: 'Ada' };
      assert.equal((await client.call('POST', '/api/auth/register', ada, {}, 'anonymous')).status, 201);
      const other = createClient(system.gatewayUrl, 4, { customer: { email: ada.email, password: ada.password }, onAnswer: undefined });
      t.after(() => other.close());
      const foreign = await other.call('GET', `/api/orders/${id}/history`);
      assert.deepEqual([foreign.status, foreign.body.error.code], [404, 'ORD_ERR_ORDER_NOT_FOUND'], 'somebody else\'s history is as unknown as the order');

      const asOf = (time: number) => client.call('GET', `/api/orders/${id}?asOf=${new Date(time).toISOString()}`);
      const placedAt = Date.parse(events[0].at);
      const reservedAt = Date.parse(events[1].at);
      const confirmedAt = Date.parse(events[4].at);
      assert.ok(reservedAt > placedAt, `the saga's first answer came after the placement (${events[0].at}, ${events[1].at})`);
      const before = await asOf(placedAt - 1);
      assert.deepEqual([before.status, before.body.error?.code], [404, 'ORD_ERR_ORDER_NOT_FOUND'], 'not placed yet');
      const pending = await asOf(Math.floor((placedAt + reservedAt) / 2));
      assert.deepEqual([pending.status, pending.body.status, pending.body.updatedAt], [200, 'PENDING', events[0].at]);
      assert.deepEqual(await asOf(confirmedAt).then((r) => [r.status, r.body]), [200, view], 'as of its confirmation: the live view');
      assert.equal((await other.call('GET', `/api/orders/${id}?asOf=${events[4].at}`)).status, 404);
      const bad = await client.call('GET', `/api/orders/${id}?asOf=yesterday`);
      assert.deepEqual([bad.status, bad.body.error.code], [400, 'ORD_ERR_INVALID_AS_OF']);

      // The read model, rebuilt from the events with the system running, is the live one.
      const db = await openServiceDb({ ...loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir }), poolSize: 1 }, 'orders');
      try {
        const check = await rebuildViews(db, { check: true });
        assert.deepEqual([check.orders >= 1, check.differing, check.differences], [true, 0, []]);
      } finally {
        await db.close();
      }
    });
  });
}
