/**
 * Notifications end to end, as a customer meets them: a new customer opens the live stream,
 * orders, and the outcome arrives both on the stream and by e-mail in a real SMTP server
 * (Mailpit, searched by the recipient); a declined payment mails the cancellation with its
 * reason; switching e-mail off for a kind stops that mail and only that one; an order that
 * cannot ship is cancelled and its charge refunded, both told; a cart left alone is a
 * reminder. On both deployments, in the
 * events architecture (the choreography publishes the same events).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient } from '#lab/client.ts';
import { createCatalog, waitAllTerminal } from '#lab/scenario.ts';
import { mailpitSkip } from '#test/infra.ts';
import { mailpit } from '#test/support/mailpit.ts';
import { openSse } from '#test/support/sse.ts';
import { deployments, startDeployment } from './deployments.ts';

const kindsOf = (events: Array<{ data: string }>) => events.map((e) => JSON.parse(e.data) as { kind: string; subject: string; text: string; data: { orderId: string } });

for (const deployment of deployments) {
  describe(`notifications, on the ${deployment.name} deployment`, { skip: deployment.skip() ?? mailpitSkip() }, () => {
    test('an order\'s outcome arrives live and by e-mail, once; a declined payment mails its reason; a kind switched off is not mailed; a refund and an abandoned cart are told', async (t) => {
      // A cart idle 1.5 s counts as abandoned (an hour by default).
      const { system, client } = await startDeployment(t, deployment, 'events', { SMTP_URL: process.env.SMTP_URL ?? '', CART_ABANDONED_AFTER_MS: '1500', CART_ABANDONED_CHECK_MS: '200' });
      const mp = mailpit();
      const [productId] = [...(await createCatalog(client, 1, 50)).keys()];
      // A customer of this run: the mailbox is shared, its address is not.
      const email = `ntf-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.org`;
      const registered = await client.call('POST', '/api/auth/register', { email, password: 'correct horse battery', name: 'Nia' }, {}, 'anonymous');
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const nia = createClient(system.gatewayUrl, 4, { customer: { email, password: 'correct horse battery' } });
      t.after(() => nia.close());
      const stream = await openSse(t, `${system.gatewayUrl}/api/me/notifications/stream`, { authorization: `Bearer ${await nia.token('customer')}` });
      assert.equal(stream.status, 200);

      const order = async (paymentMethod: string, country = 'DE') => {
        const placed = await nia.placeOrder({ items: [{ productId, quantity: 1 }], paymentMethod, shippingAddress: { country } });
        assert.equal(placed.status, 202, JSON.stringify(placed.body));
        const [view] = await waitAllTerminal(nia, [{ id: placed.body.id, items: [{ productId, quantity: 1 }], paymentMethod, country }], 60_000);
        return view;
      };

      // Confirmed: the shipment and the confirmation, live on the stream opened before, and mailed.
      const confirmed = await order('card');
      assert.equal(confirmed.status, 'CONFIRMED');
      const live = kindsOf(await stream.waitFor(2, 30_000));
      assert.deepEqual(live.map((n) => n.kind).sort(), ['orderConfirmed', 'shipmentScheduled']);
      assert.ok(live.every((n) => n.data.orderId === confirmed.id));
      const mails = await mp.waitFor(email, { count: 2, timeoutMs: 30_000 });
      const confirmation = mails.find((m) => /is confirmed/.test(m.Subject));
      assert.ok(confirmation, mails.map((m) => m.Subject).join(' | '));
      assert.match(confirmation.Text, new RegExp(confirmed.id));
      // The list says the same, newest first.
      const list = await nia.call('GET', '/api/me/notifications?limit=10');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.notifications.map((n: { id: string }) => n.id), live.map((_, i) => JSON.parse(stream.events[1 - i].data).id));

      // Declined: the cancellation, with its reason, by e-mail.
      const declined = await order('card-declined');
      assert.deepEqual([declined.status, declined.reason], ['CANCELLED', 'PAYMENT_DECLINED']);
      const [cancellation] = (await mp.waitFor(email, { count: 3, timeoutMs: 30_000 })).filter((m) => /was cancelled/.test(m.Subject));
      assert.ok(cancellation);
      assert.match(cancellation.Text, /your payment was declined/);
      assert.match(cancellation.Text, /PAYMENT_DECLINED/);

      // E-mail off for confirmations: the next one is told in-app only; its shipment is still mailed.
      const prefs = await nia.call('PUT', '/api/me/notification-preferences', { orderConfirmed: { email: false } });
      assert.deepEqual([prefs.status, prefs.body.orderConfirmed, prefs.body.shipmentScheduled], [200, { email: false, inApp: true }, { email: true, inApp: true }]);
      const quiet = await order('card');
      const after = kindsOf(await stream.waitFor(5, 30_000)).slice(3);
      assert.deepEqual(after.map((n) => n.kind).sort(), ['orderConfirmed', 'shipmentScheduled']);
      assert.ok(after.every((n) => n.data.orderId === quiet.id));
      // The in-app row and the e-mail row of an event are written in one transaction: with the
      // in-app one there, the delivery queue says for good whether an e-mail was queued.
      const queue = await fetch(`${system.urls.notifications}/_admin/emails?limit=500`);
      const queued = ((await queue.json()) as { emails: Array<{ customerId: string; kind: string }> }).emails.filter((e) => e.customerId === registered.body.id);
      assert.deepEqual(queued.map((e) => e.kind).sort(), ['orderCancelled', 'orderConfirmed', 'shipmentScheduled', 'shipmentScheduled']);
      const all = await mp.waitFor(email, { count: 4, timeoutMs: 30_000 });
      assert.equal(all.filter((m) => /is confirmed/.test(m.Subject)).length, 1, 'the second confirmation was not mailed');
      assert.equal(new Set(all.map((m) => m.MessageID)).size, all.length, 'each e-mail once');

      // Not shippable: cancelled after the charge, which is refunded: both told, both mailed.
      const unshipped = await order('card', 'XX');
      assert.deepEqual([unshipped.status, unshipped.reason], ['CANCELLED', 'SHIPPING_UNAVAILABLE']);
      assert.deepEqual(kindsOf(await stream.waitFor(7, 30_000)).slice(5).map((n) => n.kind).sort(), ['orderCancelled', 'paymentRefunded']);
      const last = await mp.waitFor(email, { count: 6, timeoutMs: 30_000 });
      const refund = last.find((m) => /^Refund for order/.test(m.Subject));
      assert.ok(refund, last.map((m) => m.Subject).join(' | '));
      assert.match(refund.Text, new RegExp(`We refunded \\d+\\.\\d{2} for your order ${unshipped.id}`));

      // A cart left alone: a reminder, live and by e-mail.
      assert.equal((await nia.call('PUT', `/api/cart/items/${productId}`, { quantity: 2 })).status, 200);
      const [reminder] = kindsOf(await stream.waitFor(8, 30_000)).slice(7);
      assert.deepEqual([reminder.kind, (reminder.data as { items?: number }).items], ['cartAbandoned', 2]);
      const mailed = (await mp.waitFor(email, { count: 7, timeoutMs: 30_000 })).filter((m) => m.Subject === 'You left something in your cart');
      assert.equal(mailed.length, 1);
      assert.match(mailed[0].Text, /Your cart \(2 items, /);
    });
  });
}
