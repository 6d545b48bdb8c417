// The order saga (events architecture), as pure functions: given the order's state and a
// reply from inventory, payments or shipping, which order events to append and which
// messages to send. The caller appends, updates the view and sends (through the outbox)
// in one transaction.
//
// When does a compensated order turn CANCELLED? When the compensations are SENT, not when
// they are acknowledged. The compensating commands (ReleaseStock, RefundPayment) go out
// through the outbox in the same transaction as OrderCancelled, so they are delivered
// at least once no matter what crashes; and they cannot be refused by business rules
// (releasing a reservation or refunding a charge of this order always succeeds, and is
// idempotent by order id). Waiting for StockReleased/PaymentRefunded would add
// "cancelling" states and a round trip to every failed order while telling the client
// nothing new. The invariants hold whenever the system is quiet, i.e. once the outbox
// drained and the compensations ran.
import {
  CancelShipment,
  ChargePayment,
  OrderCancelled,
  OrderConfirmed,
  OrderPlaced,
  RefundPayment,
  ReleaseStock,
  ReserveStock,
  ScheduleShipment,
  type Contract,
  type PayloadOf,
} from '#contracts/index.ts';
import { decide, evolve, Step, type CancelReason, type OrderCommand, type OrderEvent, type OrderState } from './order.ts';

/** A message to send, as data: the caller stamps it into an envelope. */
export interface Outgoing<C extends Contract = Contract> {
  contract: C;
  payload: PayloadOf<C>;
}

const out = <C extends Contract>(contract: C, payload: PayloadOf<C>): Outgoing => ({ contract, payload });

/** The replies the saga listens to, with the payloads of their contracts. */
export type SagaReply =
  | { type: 'StockReserved'; payload: { orderId: string } }
  | { type: 'StockUnavailable'; payload: { orderId: string; productIds?: string[] } }
  | { type: 'PaymentCharged'; payload: { orderId: string; paymentId: string; amountCents: number } }
  | { type: 'PaymentDeclined'; payload: { orderId: string; reason?: string } }
  | { type: 'ShipmentScheduled'; payload: { orderId: string; trackingNumber: string } }
  | { type: 'ShipmentRejected'; payload: { orderId: string; reason?: string } };

export type SagaReplyType = SagaReply['type'];
export const sagaReplyTypes: readonly SagaReplyType[] = [
  'StockReserved',
  'StockUnavailable',
  'PaymentCharged',
  'PaymentDeclined',
  'ShipmentScheduled',
  'ShipmentRejected',
];

export interface SagaStep {
  /** Order events to append to the stream, in order. */
  events: OrderEvent[];
  /** Messages to send, in order. */
  send: Outgoing[];
  /** The state after the events (the input state when nothing happens). */
  state: OrderState;
}

const apply = (state: OrderState, events: OrderEvent[]): OrderState => events.reduce(evolve, state);

/** The first step: the order was placed, announce it and ask for stock. */
export function startSaga(command: Extract<OrderCommand, { type: 'PlaceOrder' }>, state: OrderState): SagaStep {
  const events = decide(command, state);
  const next = apply(state, events);
  return {
    events,
    state: next,
    send: [
      out(OrderPlaced, {
        orderId: next.id,
        customerId: next.customerId,
        items: next.items,
        totalCents: next.totalCents,
        paymentMethod: next.paymentMethod,
        shippingAddress: next.shippingAddress,
      }),
      out(ReserveStock, { orderId: next.id, items: next.items.map((l) => ({ productId: l.productId, quantity: l.quantity })) }),
    ],
  };
}

/** Which step each reply answers. A reply met in any other step does not fit. */
const expectedStep: Record<SagaReplyType, Step> = {
  StockReserved: Step.AWAITING_STOCK,
  StockUnavailable: Step.AWAITING_STOCK,
  PaymentCharged: Step.AWAITING_PAYMENT,
  PaymentDeclined: Step.AWAITING_PAYMENT,
  ShipmentScheduled: Step.AWAITING_SHIPMENT,
  ShipmentRejected: Step.AWAITING_SHIPMENT,
};

const nothing = (state: OrderState): SagaStep => ({ events: [], send: [], state });

/**
 * The compensating commands a cancelled order owes: the stock it holds and the charge it
 * paid. Idempotent by order id at their receivers, so they may be sent again (the rest
 * architecture's recovery does, when it cannot know whether they were carried out).
 */
export function compensationsFor(orderId: string, reason: CancelReason): Outgoing[] {
  switch (reason) {
    case 'OUT_OF_STOCK':
      return [];
    case 'PAYMENT_DECLINED':
      return [out(ReleaseStock, { orderId })];
    case 'SHIPPING_UNAVAILABLE':
      return [out(RefundPayment, { orderId }), out(ReleaseStock, { orderId })];
    case 'TIMEOUT':
      // Everything the saga may have set going, whatever step it timed out in: a command
      // sent but unanswered may have been carried out (its reply late or lost), and in the
      // choreography payments charges without orders knowing. Each is a no-op where nothing
      // is held, and a release or a cancelled shipment with nothing to undo leaves a
      // tombstone that refuses the late command.
      return [out(CancelShipment, { orderId }), out(RefundPayment, { orderId }), out(ReleaseStock, { orderId })];
  }
}

/**
 * A reply that arrives after the order timed out is a step carried out too late: undo it.
 * The compensations sent at the timeout may have reached their service before the command
 * they undo (a dead letter replayed later, a partition that lagged), so they are sent again
 * for the late fact; they are idempotent by order id. Refusals need no answer.
 */
function undoLate(state: OrderState, reply: SagaReply): SagaStep {
  const orderId = state.id;
  switch (reply.type) {
    case 'StockReserved':
      return { events: [], state, send: [out(ReleaseStock, { orderId })] };
    case 'PaymentCharged':
      return { events: [], state, send: [out(RefundPayment, { orderId })] };
    case 'ShipmentScheduled':
      return { events: [], state, send: [out(CancelShipment, { orderId })] };
    default:
      return nothing(state);
  }
}

const timedOut = (state: OrderState): boolean => state.step === Step.CANCELLED && state.reason === 'TIMEOUT';

/**
 * Reacts to a reply. A reply that does not fit the order's step (a duplicate, a late or
 * out-of-order one, one for a finished or unknown order) yields nothing: the saga is
 * idempotent by state, on top of the consumer's dedup by message id. Each command is sent
 * from exactly one step, so in this orchestrated saga a reply can only be early or late by
 * being a redelivery; ignoring it cannot lose a charge or a reservation. The exception is an
 * order that timed out: a reply may then be genuinely late, and what it did is undone
 * (sends only, no events: the order stays CANCELLED(TIMEOUT)).
 */
export function react(state: OrderState, reply: SagaReply, at: string): SagaStep {
  if (timedOut(state) && state.id === reply.payload.orderId.toLowerCase()) return undoLate(state, reply);
  if (state.step !== expectedStep[reply.type] || state.id !== reply.payload.orderId.toLowerCase()) return nothing(state);
  const orderId = state.id;
  const cancel = (reason: CancelReason): SagaStep => {
    const events = decide({ type: 'CancelOrder', at, reason }, state);
    return { events, state: apply(state, events), send: [...compensationsFor(orderId, reason), out(OrderCancelled, { orderId, reason })] };
  };

  switch (reply.type) {
    case 'StockReserved': {
      const events = decide({ type: 'RecordStockReserved', at }, state);
      return {
        events,
        state: apply(state, events),
        send: [out(ChargePayment, { orderId, customerId: state.customerId, amountCents: state.totalCents, method: state.paymentMethod })],
      };
    }
    case 'StockUnavailable':
      return cancel('OUT_OF_STOCK');
    case 'PaymentCharged': {
      const { paymentId, amountCents } = reply.payload;
      const events = decide({ type: 'RecordPaymentCharged', at, paymentId, amountCents }, state);
      return {
        events,
        state: apply(state, events),
        send: [out(ScheduleShipment, { orderId, address: state.shippingAddress as PayloadOf<typeof ScheduleShipment>['address'] })],
      };
    }
    case 'PaymentDeclined':
      return cancel('PAYMENT_DECLINED');
    case 'ShipmentScheduled': {
      const events = decide({ type: 'RecordShipmentScheduled', at, trackingNumber: reply.payload.trackingNumber }, state);
      return { events, state: apply(state, events), send: [out(OrderConfirmed, { orderId })] };
    }
    case 'ShipmentRejected':
      return cancel('SHIPPING_UNAVAILABLE');
  }
}
