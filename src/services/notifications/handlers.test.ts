import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { CartAbandoned, message, OrderCancelled, OrderConfirmed, OrderPlaced, PaymentRefunded, ShipmentScheduled, UserRegistered } from '#contracts/index.ts';
import { dbVariants, deferrer } from '#test/support/db.ts';
import { runHandler, type Delivery } from '#test/support/handlers.ts';
import { createHandlers } from './handlers.ts';
import { listEmails } from './email-queue.ts';
import { listNotifications, migrations, replacePreferences } from './store.ts';

const clock = { now: () => new Date('2026-01-01T00:00:00Z') };

const placed = (orderId: string, customerId: string): Delivery => message(OrderPlaced, {
  payload: { orderId, customerId, items: [{ productId: uuidv7(), quantity: 1, unitPriceCents: 500 }], totalCents: 500, paymentMethod: 'card', shippingAddress: { country: 'FR' } },
});

for (const variant of dbVariants('notifications_handlers')) {
  describe(`notifications handlers on ${variant.name}`, { skip: variant.skip }, () => {
    const open = async (t: import('node:test').TestContext): Promise<Db> => {
      const defer = deferrer(t);
      const dir = mkdtempSync(join(tmpdir(), 'notifications-'));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      const db = await variant.open(defer, dir);
      await migrate(db, migrations);
      return db;
    };
    const handlersOf = (db: Db, email = true) => createHandlers({ dialect: db.dialect, ids: { newId: () => uuidv7() }, clock, email });

    test('an order\'s outcome makes one in-app notification and one e-mail, and a redelivery makes nothing more', async (t) => {
      const db = await open(t);
      const handlers = handlersOf(db);
      const customerId = uuidv7();
      const orderId = uuidv7();
      await runHandler(db, handlers, message(UserRegistered, { payload: { userId: customerId, email: 'ada@example.org' } }));
      await runHandler(db, handlers, placed(orderId, customerId));
      const confirmed = message(OrderConfirmed, { payload: { orderId } });
      await runHandler(db, handlers, confirmed);
      await runHandler(db, handlers, confirmed);

      const inApp = await listNotifications(db, customerId, { limit: 10 });
      assert.deepEqual(inApp.map((n) => [n.kind, n.data]), [['orderConfirmed', { orderId }]]);
      assert.equal(inApp[0].occurredAt, confirmed.message.occurredAt);
      const emails = await listEmails(db, { limit: 10 });
      assert.deepEqual(emails.map((e) => [e.eventId, e.customerId, e.kind, e.status, e.attempts]), [[confirmed.message.id, customerId, 'orderConfirmed', 'pending', 0]]);
    });

    test('a cancellation, a shipment and a refund are told with their reason, tracking number and amount, newest first', async (t) => {
      const db = await open(t);
      const handlers = handlersOf(db);
      const customerId = uuidv7();
      const [a, b] = [uuidv7(), uuidv7()];
      await runHandler(db, handlers, placed(a, customerId));
      await runHandler(db, handlers, placed(b, customerId));
      await runHandler(db, handlers, message(OrderCancelled, { payload: { orderId: a, reason: 'PAYMENT_DECLINED' } }));
      await runHandler(db, handlers, message(ShipmentScheduled, { payload: { orderId: b, trackingNumber: 'TRK-9' } }));
      await runHandler(db, handlers, message(PaymentRefunded, { payload: { orderId: b, amountCents: 500 } }));
      const list = await listNotifications(db, customerId, { limit: 10 });
      assert.deepEqual(list.map((n) => n.kind), ['paymentRefunded', 'shipmentScheduled', 'orderCancelled']);
      assert.match(list[2].text, /your payment was declined/);
      assert.match(list[1].text, /TRK-9/);
      assert.match(list[0].text, /5\.00/);
      // Pages: below the cursor of the first, the rest.
      const page2 = await listNotifications(db, customerId, { before: list[0].seq, limit: 10 });
      assert.deepEqual(page2.map((n) => n.id), [list[1].id, list[2].id]);
    });

    test('an event that comes before its OrderPlaced is parked, then told once the order is known', async (t) => {
      const db = await open(t);
      const handlers = handlersOf(db);
      const customerId = uuidv7();
      const orderId = uuidv7();
      const early = message(ShipmentScheduled, { payload: { orderId, trackingNumber: 'TRK-1' } });
      await runHandler(db, handlers, early);
      assert.equal((await db.query('SELECT event_id FROM parked_events')).length, 1);
      await runHandler(db, handlers, placed(orderId, customerId));
      await runHandler(db, handlers, placed(orderId, customerId));
      assert.deepEqual((await listNotifications(db, customerId, { limit: 10 })).map((n) => n.kind), ['shipmentScheduled']);
      assert.equal((await listEmails(db, { limit: 10 })).length, 1);
      assert.equal((await db.query('SELECT event_id FROM parked_events')).length, 0);
      // The same event redelivered now that the order is known: still one.
      await runHandler(db, handlers, early);
      assert.equal((await listNotifications(db, customerId, { limit: 10 })).length, 1);
    });

    test('an abandoned cart reminds its customer once, however often it is redelivered', async (t) => {
      const db = await open(t);
      const handlers = handlersOf(db);
      const customerId = uuidv7();
      const abandoned = message(CartAbandoned, { payload: { cartId: uuidv7(), customerId, version: 3, lines: [{ productId: uuidv7(), quantity: 2, unitPriceCents: 250 }], totalCents: 500, idleSince: '2026-01-01T00:00:00Z' } });
      await runHandler(db, handlers, abandoned);
      await runHandler(db, handlers, abandoned);
      const list = await listNotifications(db, customerId, { limit: 10 });
      assert.deepEqual(list.map((n) => [n.kind, n.data.items, n.data.amountCents]), [['cartAbandoned', 2, 500]]);
      assert.match(list[0].text, /Your cart \(2 items, 5\.00\)/);
      assert.deepEqual((await listEmails(db, { limit: 10 })).map((e) => e.kind), ['cartAbandoned']);
    });

    test('a channel switched off for a kind gets nothing of that kind; without SMTP no e-mail is queued', async (t) => {
      const db = await open(t);
      const customerId = uuidv7();
      const [a, b] = [uuidv7(), uuidv7()];
      await replacePreferences(db, customerId, { orderConfirmed: { email: false } }, clock.now().toISOString());
      await runHandler(db, handlersOf(db), placed(a, customerId));
      await runHandler(db, handlersOf(db), message(OrderConfirmed, { payload: { orderId: a } }));
      await runHandler(db, handlersOf(db), message(OrderCancelled, { payload: { orderId: a, reason: 'TIMEOUT' } }));
      assert.deepEqual((await listEmails(db, { limit: 10 })).map((e) => e.kind), ['orderCancelled']);
      assert.equal((await listNotifications(db, customerId, { limit: 10 })).length, 2, 'in-app stays on');

      await runHandler(db, handlersOf(db, false), placed(b, customerId));
      await runHandler(db, handlersOf(db, false), message(OrderCancelled, { payload: { orderId: b, reason: 'OUT_OF_STOCK' } }));
      assert.equal((await listEmails(db, { limit: 10 })).length, 1);
      assert.equal((await listNotifications(db, customerId, { limit: 10 })).length, 3);
    });
  });
}
