import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fold, statusOf } from './order.ts';
import { react, startSaga, type SagaReply } from './saga.ts';
import {
  cancelled,
  orderConfirmed,
  orderId,
  orderPlaced,
  paymentCharged,
  paymentId,
  placeOrder,
  productA,
  productB,
  shipmentScheduled,
  stockReserved,
  t1,
  t2,
  t3,
  t4,
  givenWhenThen,
} from './test-fixtures.ts';

const replies = {
  stockReserved: { type: 'StockReserved', payload: { orderId } },
  stockUnavailable: { type: 'StockUnavailable', payload: { orderId, productIds: [productA] } },
  paymentCharged: { type: 'PaymentCharged', payload: { orderId, paymentId, amountCents: 3000 } },
  paymentDeclined: { type: 'PaymentDeclined', payload: { orderId, reason: 'declined' } },
  shipmentScheduled: { type: 'ShipmentScheduled', payload: { orderId, trackingNumber: 'TRK-1' } },
  shipmentRejected: { type: 'ShipmentRejected', payload: { orderId, reason: 'country not served' } },
} satisfies Record<string, SagaReply>;

const given = givenWhenThen(react);

const placed = [orderPlaced];
const reserved = [orderPlaced, stockReserved];
const charged = [orderPlaced, stockReserved, paymentCharged];
const confirmed = [...charged, shipmentScheduled, orderConfirmed];

describe('order saga: the happy path', () => {
  test('placing an order announces it and asks inventory to reserve its items', () => {
    const step = startSaga(placeOrder, fold([]));
    assert.deepEqual(step.events, [orderPlaced]);
    assert.equal(statusOf(step.state), 'PENDING');
    assert.deepEqual(
      step.send.map((o) => [o.contract.type, o.contract.topic, o.payload]),
      [
        ['OrderPlaced', 'orders.events', { ...orderPlaced.data }],
        ['ReserveStock', 'inventory.commands', { orderId, items: [{ productId: productA, quantity: 2 }, { productId: productB, quantity: 1 }] }],
      ],
    );
    for (const o of step.send) assert.equal(o.contract.check(o.payload), undefined);
  });

  test('placing an order that already exists is refused', () => {
    assert.throws(() => startSaga(placeOrder, fold(placed)), { code: 'ORD_ERR_ORDER_ALREADY_EXISTS' });
  });

  test('reserved stock leads to charging the order total with its payment method', () => {
    given(placed).when(replies.stockReserved, t1).then({
      events: [stockReserved],
      send: [['ChargePayment', { orderId, customerId: 'customer-1', amountCents: 3000, method: 'card' }]],
    });
  });

  test('a charged payment leads to scheduling the shipment to the order address', () => {
    given(reserved).when(replies.paymentCharged, t2).then({
      events: [paymentCharged],
      send: [['ScheduleShipment', { orderId, address: { country: 'FR', city: 'Lyon' } }]],
    });
  });

  test('a scheduled shipment confirms the order', () => {
    given(charged).when(replies.shipmentScheduled, t3).then({
      events: [shipmentScheduled, orderConfirmed],
      send: [['OrderConfirmed', { orderId }]],
    });
  });
});

describe('order saga: failures and compensations', () => {
  test('unavailable stock cancels the order as OUT_OF_STOCK with nothing to compensate', () => {
    given(placed).when(replies.stockUnavailable, t2).then({
      events: [cancelled('OUT_OF_STOCK')],
      send: [['OrderCancelled', { orderId, reason: 'OUT_OF_STOCK' }]],
    });
  });

  test('a declined payment releases the stock and cancels the order as PAYMENT_DECLINED', () => {
    given(reserved).when(replies.paymentDeclined, t2).then({
      events: [cancelled('PAYMENT_DECLINED')],
      send: [
        ['ReleaseStock', { orderId }],
        ['OrderCancelled', { orderId, reason: 'PAYMENT_DECLINED' }],
      ],
    });
  });

  test('a rejected shipment refunds, releases the stock and cancels as SHIPPING_UNAVAILABLE', () => {
    given(charged).when(replies.shipmentRejected, t2).then({
      events: [cancelled('SHIPPING_UNAVAILABLE')],
      send: [
        ['RefundPayment', { orderId }],
        ['ReleaseStock', { orderId }],
        ['OrderCancelled', { orderId, reason: 'SHIPPING_UNAVAILABLE' }],
      ],
    });
  });

  test('a cancelled order is CANCELLED as soon as its compensations are sent', () => {
    const step = react(fold(charged), replies.shipmentRejected, t2);
    assert.equal(statusOf(step.state), 'CANCELLED');
    assert.equal(step.state.reason, 'SHIPPING_UNAVAILABLE');
  });

  test('every message the saga sends fits its contract', () => {
    const steps = [
      react(fold(placed), replies.stockReserved, t1),
      react(fold(placed), replies.stockUnavailable, t1),
      react(fold(reserved), replies.paymentCharged, t1),
      react(fold(reserved), replies.paymentDeclined, t1),
      react(fold(charged), replies.shipmentScheduled, t1),
      react(fold(charged), replies.shipmentRejected, t1),
    ];
    for (const step of steps) for (const o of step.send) assert.equal(o.contract.check(o.payload), undefined, o.contract.type);
  });
});

describe('order saga: replies that do not fit yield nothing', () => {
  test('a duplicate StockReserved after the order moved on is ignored', () => {
    given(reserved).when(replies.stockReserved, t2).thenNothing();
    given(charged).when(replies.stockReserved, t3).thenNothing();
  });

  test('a duplicate PaymentCharged is ignored, so the shipment is scheduled once', () => {
    given(charged).when(replies.paymentCharged, t3).thenNothing();
  });

  test('a duplicate ShipmentScheduled on a confirmed order is ignored', () => {
    given(confirmed).when(replies.shipmentScheduled, t3).thenNothing();
  });

  test('a duplicate PaymentDeclined does not release the stock twice', () => {
    given([...reserved, cancelled('PAYMENT_DECLINED')]).when(replies.paymentDeclined, t3).thenNothing();
  });

  test('a duplicate ShipmentRejected does not refund twice', () => {
    given([...charged, cancelled('SHIPPING_UNAVAILABLE')]).when(replies.shipmentRejected, t3).thenNothing();
  });

  test('replies arriving before their step are ignored', () => {
    given(placed).when(replies.paymentCharged, t1).thenNothing();
    given(placed).when(replies.paymentDeclined, t1).thenNothing();
    given(placed).when(replies.shipmentScheduled, t1).thenNothing();
    given(placed).when(replies.shipmentRejected, t1).thenNothing();
    given(reserved).when(replies.shipmentScheduled, t1).thenNothing();
  });

  test('late replies for a finished order are ignored', () => {
    const outOfStock = [orderPlaced, cancelled('OUT_OF_STOCK')];
    for (const reply of Object.values(replies)) {
      given(outOfStock).when(reply, t3).thenNothing();
      given(confirmed).when(reply, t3).thenNothing();
    }
  });

  test('a late StockUnavailable after a reservation does not cancel the order', () => {
    given(reserved).when(replies.stockUnavailable, t2).thenNothing();
  });

  test('a reply for an order that does not exist is ignored', () => {
    given([]).when(replies.stockReserved, t1).thenNothing();
  });

  test('a reply naming another order is ignored', () => {
    const other = { type: 'StockReserved', payload: { orderId: '0190a1b2-0000-7000-8000-999999999999' } } as const;
    given(placed).when(other, t1).thenNothing();
  });
});

describe('order saga: replies after a timeout', () => {
  const timedOutWaitingStock = [orderPlaced, cancelled('TIMEOUT', t2)];
  const timedOutWaitingPayment = [...reserved, cancelled('TIMEOUT', t2)];
  const timedOutWaitingShipment = [...charged, cancelled('TIMEOUT', t3)];
  const checked = givenWhenThen(react, { checkContracts: true });

  test('a late reservation is released and the order stays cancelled', () => {
    checked(timedOutWaitingStock).when(replies.stockReserved, t3).then({ events: [], send: [['ReleaseStock', { orderId }]] });
  });

  test('a late charge is refunded and the order stays cancelled', () => {
    checked(timedOutWaitingPayment).when(replies.paymentCharged, t3).then({ events: [], send: [['RefundPayment', { orderId }]] });
  });

  test('a late shipment is cancelled and the order stays cancelled', () => {
    checked(timedOutWaitingShipment).when(replies.shipmentScheduled, t4).then({ events: [], send: [['CancelShipment', { orderId }]] });
  });

  test('late refusals need nothing undone', () => {
    given(timedOutWaitingStock).when(replies.stockUnavailable, t3).thenNothing();
    given(timedOutWaitingPayment).when(replies.paymentDeclined, t3).thenNothing();
    given(timedOutWaitingShipment).when(replies.shipmentRejected, t3).thenNothing();
  });

  test('late replies to orders cancelled for another reason are still ignored (only redeliveries reach those)', () => {
    given([...reserved, cancelled('PAYMENT_DECLINED')]).when(replies.stockReserved, t3).thenNothing();
    given([...charged, cancelled('SHIPPING_UNAVAILABLE')]).when(replies.paymentCharged, t3).thenNothing();
  });

  test('a late reply naming another order undoes nothing', () => {
    const other = { type: 'StockReserved', payload: { orderId: '0190a1b2-0000-7000-8000-999999999999' } } as const;
    given(timedOutWaitingStock).when(other, t3).thenNothing();
  });
});
