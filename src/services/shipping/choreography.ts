/**
 * Bus handler of shipping in the choreography: a PaymentCharged that carries the order's
 * address schedules its shipment, answered with ShipmentScheduled or ShipmentRejected;
 * idempotent by order id (see shipments.ts).
 */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import type { Logger } from '#platform/log.ts';
import { OrderCancelled, PaymentCharged, type PayloadOf } from '#contracts/index.ts';
import { replyFor, type ShippingHandlerDeps } from './handlers.ts';
import { cancelShipment, scheduleShipment } from './shipments.ts';

export interface ShippingChoreographyDeps extends ShippingHandlerDeps {
  log?: Logger;
}

export function createChoreographyHandlers(deps: ShippingChoreographyDeps): Record<string, MessageHandler> {
  return {
    async [PaymentCharged.type](ctx) {
      const { orderId, shippingAddress } = ctx.message.payload as PayloadOf<typeof PaymentCharged>;
      // A charge of the events architecture (answering a ChargePayment) carries no
      // address: the orchestrator asks for the shipment, not us.
      if (shippingAddress === undefined) {
        deps.log?.debug({ orderId, messageId: ctx.message.id }, 'PaymentCharged without an address; not ours to ship');
        return;
      }
      const at = deps.clock.now().toISOString();
      const shipment = await scheduleShipment(ctx.tx, orderId, shippingAddress.country, at);
      const m = replyFor(shipment, ctx.message, at);
      ctx.emit(m.topic, m.message);
    },

    // A saga past its deadline (issue 9): a shipment booked for it is called off, and with
    // none yet, a PaymentCharged arriving later (another topic) is answered ShipmentRejected,
    // which payments refunds and inventory releases.
    async [OrderCancelled.type](ctx) {
      const { orderId, reason } = ctx.message.payload as PayloadOf<typeof OrderCancelled>;
      if (reason === 'TIMEOUT') await cancelShipment(ctx.tx, orderId, deps.clock.now().toISOString());
    },
  };
}
