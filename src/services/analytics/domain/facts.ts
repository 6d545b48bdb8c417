/**
 * The facts analytics counts, read from the messages of other services: an order placed,
 * confirmed or cancelled (orders.events), a product viewed (client.events). Anything else
 * on those topics is not a fact here (undefined). Pure: an envelope in, a fact out.
 *
 * Time is event time: the envelope's occurredAt (the orders service's clock for orders,
 * the shopper's client for a view, bounded by ingestion).
 */
import type { Envelope } from '#platform/bus/envelope.ts';

export interface OrderLineFact {
  productId: string;
  quantity: number;
  unitPriceCents: number;
}

export type Fact =
  | { kind: 'placed'; id: string; orderId: string; customerId: string; at: number; totalCents: number; items: OrderLineFact[] }
  | { kind: 'confirmed'; id: string; orderId: string; at: number }
  | { kind: 'cancelled'; id: string; orderId: string; at: number; reason: string }
  | { kind: 'viewed'; id: string; sessionId: string; customerId?: string; productId: string; at: number };

/** An order's end with its start's facts, and a view that converted: the records of contracts/analytics.ts. */
export type { OrderOutcome as Outcome, Conversion } from '#contracts/index.ts';

export function factOf(m: Envelope): Fact | undefined {
  const at = Date.parse(m.occurredAt);
  if (!Number.isFinite(at)) return undefined;
  const p = m.payload as Record<string, any>;
  switch (m.type) {
    case 'OrderPlaced':
      return { kind: 'placed', id: m.id, orderId: p.orderId, customerId: p.customerId, at, totalCents: p.totalCents, items: p.items.map((i: OrderLineFact) => ({ productId: i.productId, quantity: i.quantity, unitPriceCents: i.unitPriceCents })) };
    case 'OrderConfirmed':
      return { kind: 'confirmed', id: m.id, orderId: p.orderId, at };
    case 'OrderCancelled':
      return { kind: 'cancelled', id: m.id, orderId: p.orderId, at, reason: p.reason };
    case 'ProductViewed':
      return { kind: 'viewed', id: m.id, sessionId: p.sessionId, ...(p.customerId ? { customerId: p.customerId } : {}), productId: p.productId, at };
    default:
      return undefined;
  }
}
