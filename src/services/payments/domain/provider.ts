/**
 * The simulated payment provider. Pure, so every saga path can be driven from outside by
 * the payment method alone: `card` is charged, `card-declined` is declined, anything else
 * is declined as unsupported.
 */
export const PaymentStatus = {
  charged: 'CHARGED',
  declined: 'DECLINED',
  refunded: 'REFUNDED',
} as const;
export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus];

export const DeclineReason = {
  cardDeclined: 'CARD_DECLINED',
  unsupportedMethod: 'UNSUPPORTED_METHOD',
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
  /** Never charged (declined, or no payment at all): nothing to give back. */
  | { kind: 'nothing-charged' };

export function decideRefund(existing: Payment | undefined): RefundDecision {
  if (existing === undefined || existing.status === PaymentStatus.declined) return { kind: 'nothing-charged' };
  if (existing.status === PaymentStatus.refunded) return { kind: 'noop' };
  return { kind: 'refund', amountCents: existing.amountCents };
}
