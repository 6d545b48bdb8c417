/**
 * Bus handlers of payments in the choreography: a StockReserved that carries its order
 * (who pays, how much, how, and where it ships) is charged, answered with PaymentCharged
 * (carrying the address on for shipping) or PaymentDeclined; a ShipmentRejected or an
 * OrderCancelled(TIMEOUT) pays the charge back. Idempotent by order id on top of the inbox (see charges.ts).
 */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import {
  OrderCancelled, PaymentCharged, PaymentDeclined, PaymentRefunded, ShipmentRejected, StockReserved,
  type PayloadOf,
} from '#contracts/index.ts';
import { chargeOrder, refundOrder } from './charges.ts';
import { reply, type PaymentsHandlerDeps } from './handlers.ts';

export function createChoreographyHandlers(deps: PaymentsHandlerDeps): Record<string, MessageHandler> {
  const { ids, clock, log } = deps;

  const refund: MessageHandler = async (ctx) => {
    const { orderId } = ctx.message.payload as { orderId: string };
    const at = clock.now().toISOString();
    const { decision, payment, refunded } = await refundOrder(ctx.tx, orderId, at, ids);
    if (decision.kind !== 'refund' && decision.kind !== 'noop' && ctx.message.type === ShipmentRejected.type) {
      log.warn({ orderId, status: payment?.status ?? null, messageId: ctx.message.id }, 'shipment rejected for an order that was never charged; nothing to refund');
      return;
    }
    if (refunded && decision.kind === 'refund') reply(ctx, PaymentRefunded, orderId, { orderId, amountCents: decision.amountCents }, at);
  };

  return {
    async [StockReserved.type](ctx) {
      const { orderId, order } = ctx.message.payload as PayloadOf<typeof StockReserved>;
      // A reservation of the events architecture (answering a ReserveStock) carries no
      // order: the orchestrator charges it, not us.
      if (order === undefined) {
        log.debug({ orderId, messageId: ctx.message.id }, 'StockReserved without its order; not ours to charge');
        return;
      }
      const at = clock.now().toISOString();
      const req = { orderId, customerId: order.customerId, amountCents: order.totalCents, method: order.paymentMethod };
      const { payment, outcome } = await chargeOrder(ctx.tx, ids, req, at);
      if (outcome.status === 'CHARGED') {
        reply(ctx, PaymentCharged, orderId, { orderId, paymentId: payment.paymentId, amountCents: payment.amountCents, shippingAddress: order.shippingAddress }, at);
      } else {
        reply(ctx, PaymentDeclined, orderId, { orderId, reason: outcome.reason }, at);
      }
    },

    [ShipmentRejected.type]: refund,
    // A saga past its deadline (issue 9): orders announces the TIMEOUT and whatever was
    // charged is paid back; with no charge yet, a StockReserved arriving later (another
    // topic, so in any order with this one) is declined. The other reasons are undone by
    // the facts above.
    async [OrderCancelled.type](ctx) {
      const { reason } = ctx.message.payload as PayloadOf<typeof OrderCancelled>;
      if (reason === 'TIMEOUT') await refund(ctx);
    },
  };
}
