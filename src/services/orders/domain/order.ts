// The Order aggregate, event-sourced in decider style: its stream of events is its store,
// `evolve` folds them into state and `decide` turns a command into new events (or a coded
// error). Pure: ids and time come in with the commands.
import { defineError } from '#platform/errors.ts';

export const OrderNotFound = defineError('ORD_ERR_ORDER_NOT_FOUND', 404);
export const OrderAlreadyExists = defineError('ORD_ERR_ORDER_ALREADY_EXISTS', 409);
export const InvalidOrderTransition = defineError('ORD_ERR_INVALID_TRANSITION', 409);
export const InvalidOrder = defineError('ORD_ERR_INVALID_ORDER', 422);

export const OrderStatus = { PENDING: 'PENDING', CONFIRMED: 'CONFIRMED', CANCELLED: 'CANCELLED' } as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

export const CancelReason = {
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  SHIPPING_UNAVAILABLE: 'SHIPPING_UNAVAILABLE',
  /** A saga step outlived its deadline (domain/deadline.ts); whatever was done is compensated. */
  TIMEOUT: 'TIMEOUT',
} as const;
export type CancelReason = (typeof CancelReason)[keyof typeof CancelReason];

/** Where the order stands in its saga; the public status is derived from it. */
export const Step = {
  NONE: 'NONE',
  AWAITING_STOCK: 'AWAITING_STOCK',
  AWAITING_PAYMENT: 'AWAITING_PAYMENT',
  AWAITING_SHIPMENT: 'AWAITING_SHIPMENT',
  CONFIRMED: 'CONFIRMED',
  CANCELLED: 'CANCELLED',
} as const;
export type Step = (typeof Step)[keyof typeof Step];

export interface OrderLine {
  productId: string;
  quantity: number;
  unitPriceCents: number;
}

export interface ShippingAddress {
  country: string;
  [field: string]: unknown;
}

// The events of an order's stream. Internal to orders (the public contracts are in
// #contracts); each carries what is needed to rebuild the state, `at` is when it happened.
export type OrderEvent =
  | {
      type: 'OrderPlaced';
      at: string;
      data: {
        orderId: string;
        customerId: string;
        items: OrderLine[];
        totalCents: number;
        paymentMethod: string;
        shippingAddress: ShippingAddress;
      };
    }
  | { type: 'StockReserved'; at: string; data: Record<string, never> }
  | { type: 'PaymentCharged'; at: string; data: { paymentId: string; amountCents: number } }
  | { type: 'ShipmentScheduled'; at: string; data: { trackingNumber: string } }
  | { type: 'OrderConfirmed'; at: string; data: Record<string, never> }
  | { type: 'OrderCancelled'; at: string; data: { reason: CancelReason } };

export type OrderEventType = OrderEvent['type'];

export interface OrderState {
  /** Number of events folded so far: the stream version the next event must follow. */
  version: number;
  step: Step;
  id: string;
  customerId: string;
  items: OrderLine[];
  totalCents: number;
  paymentMethod: string;
  shippingAddress: ShippingAddress;
  reason?: CancelReason;
  paymentId?: string;
  trackingNumber?: string;
  createdAt: string;
  updatedAt: string;
}

export const initialState: OrderState = Object.freeze({
  version: 0,
  step: Step.NONE,
  id: '',
  customerId: '',
  items: [],
  totalCents: 0,
  paymentMethod: '',
  shippingAddress: { country: '' },
  createdAt: '',
  updatedAt: '',
}) as OrderState;

export function statusOf(state: OrderState): OrderStatus {
  if (state.step === Step.CONFIRMED) return OrderStatus.CONFIRMED;
  if (state.step === Step.CANCELLED) return OrderStatus.CANCELLED;
  return OrderStatus.PENDING;
}

export const isTerminal = (state: OrderState): boolean => state.step === Step.CONFIRMED || state.step === Step.CANCELLED;

export function evolve(state: OrderState, event: OrderEvent): OrderState {
  const next = { ...state, version: state.version + 1, updatedAt: event.at };
  switch (event.type) {
    case 'OrderPlaced':
      return {
        ...next,
        step: Step.AWAITING_STOCK,
        id: event.data.orderId,
        customerId: event.data.customerId,
        items: event.data.items,
        totalCents: event.data.totalCents,
        paymentMethod: event.data.paymentMethod,
        shippingAddress: event.data.shippingAddress,
        createdAt: event.at,
      };
    case 'StockReserved':
      return { ...next, step: Step.AWAITING_PAYMENT };
    case 'PaymentCharged':
      return { ...next, step: Step.AWAITING_SHIPMENT, paymentId: event.data.paymentId };
    case 'ShipmentScheduled':
      // The order is confirmed by the OrderConfirmed that always follows; until then it
      // still awaits shipment.
      return { ...next, trackingNumber: event.data.trackingNumber };
    case 'OrderConfirmed':
      return { ...next, step: Step.CONFIRMED };
    case 'OrderCancelled':
      return { ...next, step: Step.CANCELLED, reason: event.data.reason };
    default:
      // An event type this code does not know (written by a newer version): keep the
      // version count right so appends still line up, and change nothing else.
      return next;
  }
}

export const fold = (events: readonly OrderEvent[], from: OrderState = initialState): OrderState => events.reduce(evolve, from);

export type OrderCommand =
  | {
      type: 'PlaceOrder';
      at: string;
      orderId: string;
      customerId: string;
      items: OrderLine[];
      paymentMethod: string;
      shippingAddress: ShippingAddress;
    }
  | { type: 'RecordStockReserved'; at: string }
  | { type: 'RecordPaymentCharged'; at: string; paymentId: string; amountCents: number }
  | { type: 'RecordShipmentScheduled'; at: string; trackingNumber: string }
  | { type: 'CancelOrder'; at: string; reason: CancelReason };

/**
 * Which step each cancellation reason may come from: one saga answer each. A TIMEOUT may
 * come from any step still waiting on an answer.
 */
const cancellableFrom: Record<Exclude<CancelReason, 'TIMEOUT'>, Step> = {
  OUT_OF_STOCK: Step.AWAITING_STOCK,
  PAYMENT_DECLINED: Step.AWAITING_PAYMENT,
  SHIPPING_UNAVAILABLE: Step.AWAITING_SHIPMENT,
};

function expectStep(state: OrderState, step: Step, what: string): void {
  if (state.step === Step.NONE) throw OrderNotFound(`order ${state.id || '(none)'} does not exist`);
  if (state.step !== step) {
    throw InvalidOrderTransition(`cannot ${what}: order ${state.id} is ${state.step}, expected ${step}`, {
      details: { orderId: state.id, step: state.step, expected: step },
    });
  }
}

function expectPending(state: OrderState): void {
  if (state.step === Step.NONE) throw OrderNotFound(`order ${state.id || '(none)'} does not exist`);
  if (isTerminal(state)) {
    throw InvalidOrderTransition(`cannot time out: order ${state.id} is ${state.step}`, { details: { orderId: state.id, step: state.step } });
  }
}

export function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  const at = command.at;
  switch (command.type) {
    case 'PlaceOrder': {
      if (state.step !== Step.NONE) throw OrderAlreadyExists(`order ${state.id} already exists`);
      if (command.items.length === 0) throw InvalidOrder('an order needs at least one item');
      let totalCents = 0;
      for (const line of command.items) {
        if (!Number.isInteger(line.quantity) || line.quantity < 1) throw InvalidOrder(`quantity of ${line.productId} must be a positive integer`);
        if (!Number.isInteger(line.unitPriceCents) || line.unitPriceCents < 0) throw InvalidOrder(`price of ${line.productId} must be whole cents ≥ 0`);
        totalCents += line.quantity * line.unitPriceCents;
      }
      if (!Number.isSafeInteger(totalCents)) throw InvalidOrder('order total is too large');
      return [
        {
          type: 'OrderPlaced',
          at,
          data: {
            orderId: command.orderId,
            customerId: command.customerId,
            items: command.items,
            totalCents,
            paymentMethod: command.paymentMethod,
            shippingAddress: command.shippingAddress,
          },
        },
      ];
    }
    case 'RecordStockReserved':
      expectStep(state, Step.AWAITING_STOCK, 'record a stock reservation');
      return [{ type: 'StockReserved', at, data: {} }];
    case 'RecordPaymentCharged':
      expectStep(state, Step.AWAITING_PAYMENT, 'record a payment');
      return [{ type: 'PaymentCharged', at, data: { paymentId: command.paymentId, amountCents: command.amountCents } }];
    case 'RecordShipmentScheduled':
      expectStep(state, Step.AWAITING_SHIPMENT, 'record a shipment');
      // A scheduled shipment is the last step: the order is confirmed with it.
      return [
        { type: 'ShipmentScheduled', at, data: { trackingNumber: command.trackingNumber } },
        { type: 'OrderConfirmed', at, data: {} },
      ];
    case 'CancelOrder':
      if (command.reason === CancelReason.TIMEOUT) expectPending(state);
      else expectStep(state, cancellableFrom[command.reason], `cancel for ${command.reason}`);
      return [{ type: 'OrderCancelled', at, data: { reason: command.reason } }];
  }
}
