/**
 * Bus handlers of notifications: they learn customers' addresses (UserRegistered) and whose
 * each order is (OrderPlaced), and turn an order's outcome, its shipment, its refund and an
 * abandoned cart into notifications (notify.ts). The same handlers serve the events architecture and the
 * choreography: both publish these events on these topics (main.ts says which per
 * architecture).
 *
 * An order's later events come on other topics than its OrderPlaced, so nothing orders them:
 * one that comes first is parked, and made into notifications when the OrderPlaced comes.
 *
 * A CartAbandoned names its customer: it is told at once, nothing to wait for. The cart
 * announces one per cart version, and its event id keys the reminder like any other.
 */
import type { MessageContext, MessageHandler } from '#platform/bus/consumer.ts';
import { CartAbandoned, OrderCancelled, OrderConfirmed, OrderPlaced, PaymentRefunded, ShipmentScheduled, UserRegistered, type PayloadOf } from '#contracts/index.ts';
import { notify, type NotifyDeps } from './notify.ts';
import { customerOfOrder, parkEvent, recordOrderCustomer, takeParked, upsertCustomer, type OrderEvent } from './store.ts';

export interface NotificationHandlerDeps extends NotifyDeps {
  /** Called once a transaction that made notifications committed: wakes the live streams and the mailer. */
  onNotified?: () => void;
}

export function createHandlers(deps: NotificationHandlerDeps): Record<string, MessageHandler> {
  const now = () => deps.clock.now().toISOString();

  async function deliver(ctx: MessageContext, customerId: string, e: Omit<OrderEvent, 'orderId'>): Promise<void> {
    const made = await notify(ctx.tx, deps, customerId, e);
    if ((made.inApp || made.email) && deps.onNotified) ctx.afterCommit?.(deps.onNotified);
  }

  async function onOrderEvent(ctx: MessageContext, e: Omit<OrderEvent, 'eventId' | 'occurredAt'>): Promise<void> {
    const event: OrderEvent = { ...e, eventId: ctx.message.id, occurredAt: ctx.message.occurredAt };
    const customerId = await customerOfOrder(ctx.tx, e.orderId);
    if (customerId === undefined) await parkEvent(ctx.tx, event, now());
    else await deliver(ctx, customerId, event);
  }

  return {
    async [UserRegistered.type](ctx) {
      const { userId, email } = ctx.message.payload as PayloadOf<typeof UserRegistered>;
      await upsertCustomer(ctx.tx, userId, email, now());
    },

    async [OrderPlaced.type](ctx) {
      const { orderId, customerId } = ctx.message.payload as PayloadOf<typeof OrderPlaced>;
      await recordOrderCustomer(ctx.tx, orderId, customerId, now());
      for (const parked of await takeParked(ctx.tx, orderId)) await deliver(ctx, customerId, parked);
    },

    async [OrderConfirmed.type](ctx) {
      const { orderId } = ctx.message.payload as PayloadOf<typeof OrderConfirmed>;
      await onOrderEvent(ctx, { orderId, kind: 'orderConfirmed', data: { orderId } });
    },

    async [OrderCancelled.type](ctx) {
      const { orderId, reason } = ctx.message.payload as PayloadOf<typeof OrderCancelled>;
      await onOrderEvent(ctx, { orderId, kind: 'orderCancelled', data: { orderId, reason } });
    },

    async [ShipmentScheduled.type](ctx) {
      const { orderId, trackingNumber } = ctx.message.payload as PayloadOf<typeof ShipmentScheduled>;
      await onOrderEvent(ctx, { orderId, kind: 'shipmentScheduled', data: { orderId, trackingNumber } });
    },

    async [CartAbandoned.type](ctx) {
      const { cartId, customerId, lines, totalCents } = ctx.message.payload as PayloadOf<typeof CartAbandoned>;
      const items = lines.reduce((n, l) => n + l.quantity, 0);
      await deliver(ctx, customerId, { eventId: ctx.message.id, kind: 'cartAbandoned', data: { cartId, items, amountCents: totalCents }, occurredAt: ctx.message.occurredAt });
    },

    async [PaymentRefunded.type](ctx) {
      const { orderId, amountCents } = ctx.message.payload as PayloadOf<typeof PaymentRefunded>;
      await onOrderEvent(ctx, { orderId, kind: 'paymentRefunded', data: { orderId, amountCents } });
    },
  };
}
