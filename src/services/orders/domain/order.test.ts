import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, fold, initialState, isTerminal, statusOf, Step, type OrderCommand, type OrderEvent } from './order.ts';
import {
  cancelled,
  orderConfirmed,
  orderId,
  orderPlaced,
  paymentCharged,
  paymentId,
  placeOrder,
  shipmentScheduled,
  stockReserved,
  t1,
  t2,
  t3,
} from './test-fixtures.ts';

// given (past events) / when (command) / then (new events or an error code)
const given = (events: OrderEvent[]) => ({
  when: (command: OrderCommand) => ({
    then: (expected: OrderEvent[]) => assert.deepEqual(decide(command, fold(events)), expected),
    thenThrows: (code: string) => assert.throws(() => decide(command, fold(events)), (err: any) => err.code === code),
  }),
});

describe('Order decider', () => {
  test('placing a new order records OrderPlaced with its total', () => {
    given([]).when(placeOrder).then([orderPlaced]);
  });

  test('placing an order twice is refused', () => {
    given([orderPlaced]).when(placeOrder).thenThrows('ORD_ERR_ORDER_ALREADY_EXISTS');
  });

  test('an order without items is refused', () => {
    given([]).when({ ...placeOrder, items: [] }).thenThrows('ORD_ERR_INVALID_ORDER');
  });

  test('a line with a zero quantity is refused', () => {
    given([]).when({ ...placeOrder, items: [{ productId: 'p', quantity: 0, unitPriceCents: 1 }] }).thenThrows('ORD_ERR_INVALID_ORDER');
  });

  test('a reserved stock moves a placed order on to payment', () => {
    given([orderPlaced]).when({ type: 'RecordStockReserved', at: t1 }).then([stockReserved]);
  });

  test('a stock reservation for an unknown order is refused as not found', () => {
    given([]).when({ type: 'RecordStockReserved', at: t1 }).thenThrows('ORD_ERR_ORDER_NOT_FOUND');
  });

  test('a second stock reservation is an invalid transition', () => {
    given([orderPlaced, stockReserved]).when({ type: 'RecordStockReserved', at: t1 }).thenThrows('ORD_ERR_INVALID_TRANSITION');
  });

  test('a charge is recorded only after the stock is reserved', () => {
    const charge: OrderCommand = { type: 'RecordPaymentCharged', at: t2, paymentId, amountCents: 3000 };
    given([orderPlaced]).when(charge).thenThrows('ORD_ERR_INVALID_TRANSITION');
    given([orderPlaced, stockReserved]).when(charge).then([paymentCharged]);
  });

  test('a scheduled shipment confirms the order', () => {
    given([orderPlaced, stockReserved, paymentCharged])
      .when({ type: 'RecordShipmentScheduled', at: t3, trackingNumber: 'TRK-1' })
      .then([shipmentScheduled, orderConfirmed]);
  });

  test('a shipment before the payment is an invalid transition', () => {
    given([orderPlaced, stockReserved]).when({ type: 'RecordShipmentScheduled', at: t3, trackingNumber: 'x' }).thenThrows('ORD_ERR_INVALID_TRANSITION');
  });

  test('each cancellation reason is accepted only from its own step', () => {
    given([orderPlaced]).when({ type: 'CancelOrder', at: t2, reason: 'OUT_OF_STOCK' }).then([cancelled('OUT_OF_STOCK')]);
    given([orderPlaced]).when({ type: 'CancelOrder', at: t2, reason: 'PAYMENT_DECLINED' }).thenThrows('ORD_ERR_INVALID_TRANSITION');
    given([orderPlaced, stockReserved]).when({ type: 'CancelOrder', at: t2, reason: 'PAYMENT_DECLINED' }).then([cancelled('PAYMENT_DECLINED')]);
    given([orderPlaced, stockReserved, paymentCharged])
      .when({ type: 'CancelOrder', at: t2, reason: 'SHIPPING_UNAVAILABLE' })
      .then([cancelled('SHIPPING_UNAVAILABLE')]);
  });

  test('a confirmed order cannot be cancelled', () => {
    given([orderPlaced, stockReserved, paymentCharged, shipmentScheduled, orderConfirmed])
      .when({ type: 'CancelOrder', at: t3, reason: 'SHIPPING_UNAVAILABLE' })
      .thenThrows('ORD_ERR_INVALID_TRANSITION');
  });

  test('a cancelled order cannot be cancelled again', () => {
    given([orderPlaced, cancelled('OUT_OF_STOCK')]).when({ type: 'CancelOrder', at: t3, reason: 'OUT_OF_STOCK' }).thenThrows('ORD_ERR_INVALID_TRANSITION');
  });
});

describe('Order state', () => {
  test('the initial state is no order at version 0', () => {
    assert.equal(initialState.version, 0);
    assert.equal(initialState.step, Step.NONE);
  });

  test('a placed order is PENDING with its customer, items, total and creation time', () => {
    const s = fold([orderPlaced]);
    assert.equal(s.version, 1);
    assert.equal(s.id, orderId);
    assert.equal(statusOf(s), 'PENDING');
    assert.equal(s.totalCents, 3000);
    assert.equal(s.customerId, 'customer-1');
    assert.equal(s.createdAt, orderPlaced.at);
    assert.equal(s.updatedAt, orderPlaced.at);
    assert.equal(isTerminal(s), false);
  });

  test('a confirmed order is CONFIRMED and keeps its payment and tracking number', () => {
    const s = fold([orderPlaced, stockReserved, paymentCharged, shipmentScheduled, orderConfirmed]);
    assert.equal(s.version, 5);
    assert.equal(statusOf(s), 'CONFIRMED');
    assert.equal(s.trackingNumber, 'TRK-1');
    assert.equal(s.paymentId, paymentId);
    assert.equal(s.updatedAt, t3);
    assert.equal(s.createdAt, orderPlaced.at);
    assert.equal(isTerminal(s), true);
  });

  test('a cancelled order is CANCELLED with its reason', () => {
    const s = fold([orderPlaced, stockReserved, cancelled('PAYMENT_DECLINED')]);
    assert.equal(statusOf(s), 'CANCELLED');
    assert.equal(s.reason, 'PAYMENT_DECLINED');
  });

  test('an event type unknown to this version only advances the version', () => {
    const s = fold([orderPlaced, { type: 'SomethingNew', at: t3, data: {} } as unknown as OrderEvent]);
    assert.equal(s.version, 2);
    assert.equal(s.step, Step.AWAITING_STOCK);
  });

  test('folding does not mutate the initial state', () => {
    fold([orderPlaced, stockReserved]);
    assert.equal(initialState.version, 0);
  });

  test('a timeout cancels an order from whichever step it waits in', () => {
    const timeout: OrderCommand = { type: 'CancelOrder', at: t3, reason: 'TIMEOUT' };
    given([orderPlaced]).when(timeout).then([cancelled('TIMEOUT', t3)]);
    given([orderPlaced, stockReserved]).when(timeout).then([cancelled('TIMEOUT', t3)]);
    given([orderPlaced, stockReserved, paymentCharged]).when(timeout).then([cancelled('TIMEOUT', t3)]);
  });

  test('a finished or unknown order cannot time out', () => {
    const timeout: OrderCommand = { type: 'CancelOrder', at: t3, reason: 'TIMEOUT' };
    given([orderPlaced, stockReserved, paymentCharged, shipmentScheduled, orderConfirmed]).when(timeout).thenThrows('ORD_ERR_INVALID_TRANSITION');
    given([orderPlaced, cancelled('OUT_OF_STOCK')]).when(timeout).thenThrows('ORD_ERR_INVALID_TRANSITION');
    given([orderPlaced, cancelled('TIMEOUT')]).when(timeout).thenThrows('ORD_ERR_INVALID_TRANSITION');
    given([]).when(timeout).thenThrows('ORD_ERR_ORDER_NOT_FOUND');
  });
});
