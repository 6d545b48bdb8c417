// Shared test data for the domain tests (not imported by production code).
import assert from 'node:assert/strict';
import { fold, type OrderCommand, type OrderEvent, type OrderState } from './order.ts';
import type { SagaReply, SagaStep } from './saga.ts';

export const orderId = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
export const productA = '0190a1b2-0000-7000-8000-00000000000a';
export const productB = '0190a1b2-0000-7000-8000-00000000000b';
export const t0 = '2025-01-01T00:00:00.000Z';
export const t1 = '2025-01-01T00:00:01.000Z';
export const t2 = '2025-01-01T00:00:02.000Z';
export const t3 = '2025-01-01T00:00:03.000Z';
export const t4 = '2025-01-01T00:00:04.000Z';
export const paymentId = '0190a1b2-0000-7000-8000-0000000000ff';

export const placeOrder: Extract<OrderCommand, { type: 'PlaceOrder' }> = {
  type: 'PlaceOrder',
  at: t0,
  orderId,
  customerId: 'customer-1',
  items: [
    { productId: productA, quantity: 2, unitPriceCents: 1250 },
    { productId: productB, quantity: 1, unitPriceCents: 500 },
  ],
  paymentMethod: 'card',
  shippingAddress: { country: 'FR', city: 'Lyon' },
};

export const orderPlaced: Extract<OrderEvent, { type: 'OrderPlaced' }> = {
  type: 'OrderPlaced',
  at: t0,
  data: {
    orderId,
    customerId: 'customer-1',
    items: placeOrder.items,
    totalCents: 3000,
    paymentMethod: 'card',
    shippingAddress: { country: 'FR', city: 'Lyon' },
  },
};
export const stockReserved: OrderEvent = { type: 'StockReserved', at: t1, data: {} };
export const paymentCharged: OrderEvent = {
  type: 'PaymentCharged',
  at: t2,
  data: { paymentId, amountCents: 3000 },
};
export const shipmentScheduled: OrderEvent = { type: 'ShipmentScheduled', at: t3, data: { trackingNumber: 'TRK-1' } };
export const orderConfirmed: OrderEvent = { type: 'OrderConfirmed', at: t3, data: {} };
export const cancelled = (reason: 'OUT_OF_STOCK' | 'PAYMENT_DECLINED' | 'SHIPPING_UNAVAILABLE' | 'TIMEOUT', at = t2): OrderEvent => ({
  type: 'OrderCancelled',
  at,
  data: { reason },
});

/**
 * given (the order's past events) / when (a reply or fact at a time) / then (events
 * appended, messages sent), for a pure step function: the saga's `react` or the
 * choreography's `follow`. `checkContracts` also checks every message sent against its contract.
 */
export function givenWhenThen(step: (state: OrderState, reply: SagaReply, at: string) => SagaStep, opts: { checkContracts?: boolean } = {}) {
  return function given(events: OrderEvent[]) {
    return {
      when(reply: SagaReply, at: string) {
        const out = step(fold(events), reply, at);
        return {
          then(expected: { events: OrderEvent[]; send: Array<[type: string, payload: unknown]> }) {
            assert.deepEqual(out.events, expected.events);
            assert.deepEqual(out.send.map((o) => [o.contract.type, o.payload]), expected.send);
            assert.deepEqual(out.state, fold([...events, ...expected.events]));
            if (opts.checkContracts) for (const o of out.send) assert.equal(o.contract.check(o.payload), undefined, o.contract.type);
          },
          thenNothing() {
            assert.deepEqual(out.events, []);
            assert.deepEqual(out.send, []);
            assert.deepEqual(out.state, fold(events));
          },
        };
      },
    };
  };
}
