// The order in the choreography architecture, as a pure follower: nobody orchestrates,
// inventory, payments and shipping react to each other's events, and orders only follows
// the facts to keep the order's status. It sends no commands; on an outcome it announces
// OrderConfirmed / OrderCancelled as in the events architecture.
//
// Why order-insensitive. The facts come from three topics (inventory.events,
// payments.events, shipping.events), each consumed on its own: after a restart or under
// lag, ShipmentScheduled can reach orders before the StockReserved that caused it. So:
// - an intermediate fact (StockReserved, PaymentCharged) is recorded only when it fits the
//   current step, and ignored otherwise: it never decides anything, it only tells progress;
// - an outcome (ShipmentScheduled, StockUnavailable, PaymentDeclined, ShipmentRejected) is
//   applied from ANY step that is not terminal, because the services already acted on it
//   (stock held or released, money charged or refunded) whatever orders had seen;
// - a fact for a finished or unknown order yields nothing (duplicates land here).
// The outcome events are built here rather than through `decide`, whose commands each
// expect the one step the orchestrated saga reaches them from; `evolve` folds them as usual.
import { OrderCancelled, OrderConfirmed } from '#contracts/index.ts';
import { evolve, isTerminal, Step, type CancelReason, type OrderEvent, type OrderState } from './order.ts';
import type { Outgoing, SagaReply, SagaStep } from './saga.ts';

/** The facts orders follows: the same types and payloads the orchestrated saga gets as replies. */
export type ChoreographyFact = SagaReply;

const apply = (state: OrderState, events: OrderEvent[]): OrderState => events.reduce(evolve, state);
const nothing = (state: OrderState): SagaStep => ({ events: [], send: [], state });

const record = (state: OrderState, events: OrderEvent[]): SagaStep => ({ events, send: [], state: apply(state, events) });

function settle(state: OrderState, events: OrderEvent[], announce: Outgoing): SagaStep {
  return { events, state: apply(state, events), send: [announce] };
}

function cancel(state: OrderState, reason: CancelReason, at: string): SagaStep {
  return settle(state, [{ type: 'OrderCancelled', at, data: { reason } }], { contract: OrderCancelled, payload: { orderId: state.id, reason } });
}

/** Follows one fact of the choreography: which order events to append and what to announce. */
export function follow(state: OrderState, fact: ChoreographyFact, at: string): SagaStep {
  if (state.step === Step.NONE || isTerminal(state) || state.id !== fact.payload.orderId.toLowerCase()) return nothing(state);

  switch (fact.type) {
    case 'StockReserved':
      if (state.step !== Step.AWAITING_STOCK) return nothing(state);
      return record(state, [{ type: 'StockReserved', at, data: {} }]);
    case 'PaymentCharged':
      if (state.step !== Step.AWAITING_PAYMENT) return nothing(state);
      return record(state, [{ type: 'PaymentCharged', at, data: { paymentId: fact.payload.paymentId, amountCents: fact.payload.amountCents } }]);
    case 'ShipmentScheduled':
      return settle(
        state,
        [
          { type: 'ShipmentScheduled', at, data: { trackingNumber: fact.payload.trackingNumber } },
          { type: 'OrderConfirmed', at, data: {} },
        ],
        { contract: OrderConfirmed, payload: { orderId: state.id } },
      );
    case 'StockUnavailable':
      return cancel(state, 'OUT_OF_STOCK', at);
    case 'PaymentDeclined':
      return cancel(state, 'PAYMENT_DECLINED', at);
    case 'ShipmentRejected':
      return cancel(state, 'SHIPPING_UNAVAILABLE', at);
  }
}
