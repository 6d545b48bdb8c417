/**
 * Bus handlers of notifications: they learn customers' addresses (UserRegistered) and whose
 * each order is (OrderPlaced), and turn an order's outcome, its shipment and its refund into
 * notifications (notify.ts). The same handlers serve the events architecture and the
 * choreography: both publish these events on these topics (main.ts says which per
 * architecture).
 *
 * An order's later events come on other topics than its OrderPlaced, so nothing orders them:
 * one that comes first is parked, and made into notifications when the OrderPlaced comes.
 *
 * TODO(cart, issue 11): CartAbandoned (src/contracts/cart.ts, being written in parallel) is
 * a kind here (cartAbandoned, with its template) but has no handler yet: it names its
 * customer, so its handler is `notify` with the cart's customer id.
 */
import type { MessageContext, MessageHandler } from '#platform/bus/consumer.ts';
import { OrderCancelled, OrderConfirmed, OrderPlaced, PaymentRefunded, ShipmentScheduled, UserRegistered, type PayloadOf } from '#contracts/index.ts';
import { notify, type NotifyDeps } from './notify.ts';
import { customerOfOrder, parkEvent, recordOrderCustomer, takeParked, upsertCustomer, type OrderEvent } from './store.ts';

export interface NotificationHandlerDeps extends NotifyDeps {
  /** Called once a transaction that made notifications committed: wakes the live streams and the mailer. */
  onNotified?: () => void;
}

export function createHandlers(deps: NotificationHandlerDeps): Record<string, MessageHandler> {
  const now = () => deps.clock.now().toISOString();

  async function deliver(ctx: MessageContext, customerId: string, e: OrderEvent): Promise<void> {
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

    async [PaymentRefunded.type](ctx) {
      const { orderId, amountCents } = ctx.message.payload as PayloadOf<typeof PaymentRefunded>;
      await onOrderEvent(ctx, { orderId, kind: 'paymentRefunded', data: { orderId, amountCents } });
    },
  };
}
