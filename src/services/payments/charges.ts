/**
 * Payments' two operations, run inside the caller's transaction and shared by the bus
 * handlers (commands, choreography's events) and the REST routes. Idempotent by order id:
 * an order is charged at most once, ever; a repeated charge answers the recorded outcome;
 * a repeated refund does nothing.
 */
import type { Sql } from '#platform/db/db.ts';
import { charge, decideRefund, PaymentStatus, replayCharge, type ChargeOutcome, type Payment, type RefundDecision } from './domain/provider.ts';
import { getPayment, insertPayment, markRefunded } from './store.ts';

export interface ChargeRequest {
  orderId: string;
  customerId: string;
  amountCents: number;
  method: string;
}

export async function chargeOrder(tx: Sql, ids: { newId(): string }, req: ChargeRequest, at: string): Promise<{ payment: Payment; outcome: ChargeOutcome }> {
  const existing = await getPayment(tx, req.orderId);
  if (existing) return { payment: existing, outcome: replayCharge(existing) };
  const outcome = charge(req.method);
  const payment: Payment = { ...req, paymentId: ids.newId(), status: outcome.status };
  await insertPayment(tx, payment, at);
  return { payment, outcome };
}

/** Pays a charge back. `refunded` is true only for the call that did it. */
export async function refundOrder(tx: Sql, orderId: string, at: string, ids: { newId(): string }): Promise<{ decision: RefundDecision; payment?: Payment; refunded: boolean }> {
  const payment = await getPayment(tx, orderId);
  const decision = decideRefund(payment);
  if (decision.kind === 'tombstone') {
    const refused: Payment = { orderId, paymentId: ids.newId(), customerId: '', amountCents: 0, method: '', status: PaymentStatus.cancelled };
    await insertPayment(tx, refused, at);
    return { decision, payment: refused, refunded: false };
  }
  if (decision.kind !== 'refund') return { decision, payment, refunded: false };
  // The conditional status change is the guard: of two refunds racing, one pays back.
  return { decision, payment, refunded: await markRefunded(tx, orderId, at) };
}
