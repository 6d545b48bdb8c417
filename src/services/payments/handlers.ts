/**
 * Bus handlers of payments (events architecture): the ChargePayment and RefundPayment
 * commands, answered with PaymentCharged / PaymentDeclined / PaymentRefunded. Idempotent by
 * order id on top of the consumer's inbox (see charges.ts).
 */
import type { MessageContext, MessageHandler } from '#platform/bus/consumer.ts';
import type { Logger } from '#platform/log.ts';
import {
  ChargePayment, message, PaymentCharged, PaymentDeclined, PaymentRefunded, RefundPayment,
  type Contract, type PayloadOf,
} from '#contracts/index.ts';
import { chargeOrder, refundOrder } from './charges.ts';

export interface PaymentsHandlerDeps {
  ids: { newId(): string };
  clock: { now(): Date };
  log: Logger;
}

export function reply<C extends Contract>(ctx: MessageContext, contract: C, key: string, payload: PayloadOf<C>, at: string): void {
  const m = message(contract, { key, payload, cause: ctx.message, occurredAt: at });
  ctx.emit(m.topic, m.message);
}

export function createHandlers(deps: PaymentsHandlerDeps): Record<string, MessageHandler> {
  const { ids, clock, log } = deps;

  return {
    async [ChargePayment.type](ctx) {
      const cmd = ctx.message.payload as PayloadOf<typeof ChargePayment>;
      const at = clock.now().toISOString();
      const { payment, outcome } = await chargeOrder(ctx.tx, ids, cmd, at);
      if (outcome.status === 'CHARGED') {
        reply(ctx, PaymentCharged, cmd.orderId, { orderId: cmd.orderId, paymentId: payment.paymentId, amountCents: payment.amountCents }, at);
      } else {
        reply(ctx, PaymentDeclined, cmd.orderId, { orderId: cmd.orderId, reason: outcome.reason }, at);
      }
    },

    async [RefundPayment.type](ctx) {
      const { orderId } = ctx.message.payload as PayloadOf<typeof RefundPayment>;
      const at = clock.now().toISOString();
      const { decision, payment, refunded } = await refundOrder(ctx.tx, orderId, at, ids);
      if (decision.kind === 'nothing-charged') {
        log.warn({ orderId, status: payment?.status ?? null, messageId: ctx.message.id }, 'refund asked for an order that was never charged; nothing to refund');
        return;
      }
      if (refunded && decision.kind === 'refund') reply(ctx, PaymentRefunded, orderId, { orderId, amountCents: decision.amountCents }, at);
    },
  };
}
