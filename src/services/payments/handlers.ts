/**
 * Bus handlers of payments: ChargePayment and RefundPayment. Idempotent by order id on top
 * of the consumer's inbox: an order is charged at most once, ever; a repeated charge answers
 * the recorded outcome; a repeated refund does nothing.
 */
import type { MessageContext, MessageHandler } from '#platform/bus/consumer.ts';
import type { Logger } from '#platform/log.ts';
import {
  ChargePayment, message, PaymentCharged, PaymentDeclined, PaymentRefunded, RefundPayment,
  type Contract, type PayloadOf,
} from '#contracts/index.ts';
import { charge, decideRefund, replayCharge, type Payment } from './domain/provider.ts';
import { getPayment, insertPayment, markRefunded } from './store.ts';

export interface PaymentsHandlerDeps {
  ids: { newId(): string };
  clock: { now(): Date };
  log: Logger;
}

export function createHandlers(deps: PaymentsHandlerDeps): Record<string, MessageHandler> {
  const { ids, clock, log } = deps;

  function reply<C extends Contract>(ctx: MessageContext, contract: C, key: string, payload: PayloadOf<C>, at: string): void {
    const m = message(contract, { key, payload, cause: ctx.message, occurredAt: at });
    ctx.emit(m.topic, m.message);
  }

  return {
    async [ChargePayment.type](ctx) {
      const cmd = ctx.message.payload as PayloadOf<typeof ChargePayment>;
      const at = clock.now().toISOString();
      let payment = await getPayment(ctx.tx, cmd.orderId);
      let outcome;
      if (payment) {
        outcome = replayCharge(payment);
      } else {
        outcome = charge(cmd.method);
        payment = { ...cmd, paymentId: ids.newId(), status: outcome.status };
        await insertPayment(ctx.tx, payment, at);
      }
      if (outcome.status === 'CHARGED') {
        reply(ctx, PaymentCharged, cmd.orderId, { orderId: cmd.orderId, paymentId: payment.paymentId, amountCents: payment.amountCents }, at);
      } else {
        reply(ctx, PaymentDeclined, cmd.orderId, { orderId: cmd.orderId, reason: outcome.reason }, at);
      }
    },

    async [RefundPayment.type](ctx) {
      const { orderId } = ctx.message.payload as PayloadOf<typeof RefundPayment>;
      const at = clock.now().toISOString();
      const payment: Payment | undefined = await getPayment(ctx.tx, orderId);
      const decision = decideRefund(payment);
      if (decision.kind === 'nothing-charged') {
        log.warn({ orderId, status: payment?.status ?? null, messageId: ctx.message.id }, 'refund asked for an order that was never charged; nothing to refund');
        return;
      }
      if (decision.kind === 'noop') return;
      // The conditional status change is the guard: of two refunds racing, one pays back.
      if (!(await markRefunded(ctx.tx, orderId, at))) return;
      reply(ctx, PaymentRefunded, orderId, { orderId, amountCents: decision.amountCents }, at);
    },
  };
}
