/**
 * The simulated payment provider. Pure, so every saga path can be driven from outside by
 * the payment method alone: `card` is charged, `card-declined` is declined, anything else
 * is declined as unsupported.
 */
export const PaymentStatus = {
  charged: 'CHARGED',
  declined: 'DECLINED',
  refunded: 'REFUNDED',
  /** Refused in advance: a refund came before any charge (the order was cancelled first). */
  cancelled: 'CANCELLED',
} as const;
export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus];

export const DeclineReason = {
  cardDeclined: 'CARD_DECLINED',
  unsupportedMethod: 'UNSUPPORTED_METHOD',
  orderCancelled: 'ORDER_CANCELLED',
} as const;
export type DeclineReason = (typeof DeclineReason)[keyof typeof DeclineReason];

export type ChargeOutcome = { status: 'CHARGED' } | { status: 'DECLINED'; reason: DeclineReason };

export function charge(method: string): ChargeOutcome {
  if (method === 'card') return { status: PaymentStatus.charged };
  if (method === 'card-declined') return { status: PaymentStatus.declined, reason: DeclineReason.cardDeclined };
  return { status: PaymentStatus.declined, reason: DeclineReason.unsupportedMethod };
}

export interface Payment {
  orderId: string;
  paymentId: string;
  customerId: string;
  amountCents: number;
  method: string;
  status: PaymentStatus;
}

/**
 * The reply to a ChargePayment for an order that was already decided: the recorded outcome,
 * so an order is charged at most once, ever. A refunded payment was charged; its charge is
 * what the command asked about.
 */
export function replayCharge(existing: Payment): ChargeOutcome {
  if (existing.status === PaymentStatus.cancelled) return { status: PaymentStatus.declined, reason: DeclineReason.orderCancelled };
  if (existing.status === PaymentStatus.declined) return { status: PaymentStatus.declined, reason: declineReasonFor(existing.method) };
  return { status: PaymentStatus.charged };
}

/** The reason is a function of the method, so it need not be stored. */
function declineReasonFor(method: string): DeclineReason {
  const outcome = charge(method);
  return outcome.status === PaymentStatus.declined ? outcome.reason : DeclineReason.cardDeclined;
}

export type RefundDecision =
  | { kind: 'refund'; amountCents: number }
  /** Refunded already: a repeat changes nothing and says nothing. */
  | { kind: 'noop' }
  /** Never charged (declined, or refused in advance): nothing to give back. */
  | { kind: 'nothing-charged' }
  /**
   * No payment at all: the order is being unwound before its charge (a saga step past its
   * deadline, issue 9). Record a CANCELLED payment, so that a charge arriving after the
   * refund (reordered, replayed, late) is declined instead of taking money for a cancelled order.
   */
  | { kind: 'tombstone' };

export function decideRefund(existing: Payment | undefined): RefundDecision {
  if (existing === undefined) return { kind: 'tombstone' };
  if (existing.status === PaymentStatus.declined || existing.status === PaymentStatus.cancelled) return { kind: 'nothing-charged' };
  if (existing.status === PaymentStatus.refunded) return { kind: 'noop' };
  return { kind: 'refund', amountCents: existing.amountCents };
}
