import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fold, statusOf, type OrderEvent } from './order.ts';
import { follow, type ChoreographyFact } from './choreography.ts';
import {
  cancelled,
  orderConfirmed,
  orderId,
  orderPlaced,
  paymentCharged,
  paymentId,
  shipmentScheduled,
  stockReserved,
  t1,
  t2,
  t3,
  t4,
  givenWhenThen,
} from './test-fixtures.ts';

const facts = {
  stockReserved: { type: 'StockReserved', payload: { orderId } },
  stockUnavailable: { type: 'StockUnavailable', payload: { orderId, productIds: [] } },
  paymentCharged: { type: 'PaymentCharged', payload: { orderId, paymentId, amountCents: 3000 } },
  paymentDeclined: { type: 'PaymentDeclined', payload: { orderId, reason: 'CARD_DECLINED' } },
  shipmentScheduled: { type: 'ShipmentScheduled', payload: { orderId, trackingNumber: 'TRK-1' } },
  shipmentRejected: { type: 'ShipmentRejected', payload: { orderId, reason: 'COUNTRY_NOT_SERVED' } },
} satisfies Record<string, ChoreographyFact>;

const given = givenWhenThen(follow, { checkContracts: true });

/** Folds a sequence of facts through the follower, as orders would consume them. */
function replay(sequence: ChoreographyFact[]): { events: OrderEvent[]; sent: string[] } {
  let state = fold([orderPlaced]);
  const events: OrderEvent[] = [orderPlaced];
  const sent: string[] = [];
  for (const fact of sequence) {
    const step = follow(state, fact, t4);
    events.push(...step.events);
    for (const o of step.send) {
      const { reason } = o.payload as { reason?: string };
      sent.push(reason === undefined ? o.contract.type : `${o.contract.type}(${reason})`);
    }
    state = step.state;
  }
  return { events, sent };
}

const placed = [orderPlaced];
const reserved = [orderPlaced, stockReserved];
const charged = [orderPlaced, stockReserved, paymentCharged];
const confirmed = [...charged, shipmentScheduled, orderConfirmed];

describe('choreography follower: the facts in their causal order', () => {
  test('reserved stock is recorded and nothing is sent: payments reacts on its own', () => {
    given(placed).when(facts.stockReserved, t1).then({ events: [stockReserved], send: [] });
  });

  test('a charged payment is recorded and nothing is sent: shipping reacts on its own', () => {
    given(reserved).when(facts.paymentCharged, t2).then({ events: [paymentCharged], send: [] });
  });

  test('a scheduled shipment confirms the order and announces it', () => {
    given(charged).when(facts.shipmentScheduled, t3).then({
      events: [shipmentScheduled, orderConfirmed],
      send: [['OrderConfirmed', { orderId }]],
    });
  });

  test('unavailable stock cancels the order as OUT_OF_STOCK', () => {
    given(placed).when(facts.stockUnavailable, t2).then({ events: [cancelled('OUT_OF_STOCK')], send: [['OrderCancelled', { orderId, reason: 'OUT_OF_STOCK' }]] });
  });

  test('a declined payment cancels the order as PAYMENT_DECLINED and sends no compensation', () => {
    given(reserved).when(facts.paymentDeclined, t2).then({
      events: [cancelled('PAYMENT_DECLINED')],
      send: [['OrderCancelled', { orderId, reason: 'PAYMENT_DECLINED' }]],
    });
  });

  test('a rejected shipment cancels the order as SHIPPING_UNAVAILABLE and sends no compensation', () => {
    given(charged).when(facts.shipmentRejected, t2).then({
      events: [cancelled('SHIPPING_UNAVAILABLE')],
      send: [['OrderCancelled', { orderId, reason: 'SHIPPING_UNAVAILABLE' }]],
    });
  });
});

describe('choreography follower: facts out of order', () => {
  test('a scheduled shipment confirms the order from any step not yet terminal', () => {
    for (const past of [placed, reserved]) {
      given(past).when(facts.shipmentScheduled, t3).then({
        events: [shipmentScheduled, orderConfirmed],
        send: [['OrderConfirmed', { orderId }]],
      });
    }
  });

  test('each failure cancels the order from any step not yet terminal', () => {
    const outcomes = [
      [facts.stockUnavailable, 'OUT_OF_STOCK'],
      [facts.paymentDeclined, 'PAYMENT_DECLINED'],
      [facts.shipmentRejected, 'SHIPPING_UNAVAILABLE'],
    ] as const;
    for (const past of [placed, reserved, charged]) {
      for (const [fact, reason] of outcomes) {
        given(past).when(fact, t3).then({ events: [cancelled(reason, t3)], send: [['OrderCancelled', { orderId, reason }]] });
      }
    }
  });

  test('a charge that arrives ahead of its reservation is ignored', () => {
    given(placed).when(facts.paymentCharged, t1).thenNothing();
  });

  test('an intermediate fact behind the order is ignored', () => {
    given(charged).when(facts.stockReserved, t3).thenNothing();
  });

  test('the outcome arriving first settles the order, and the facts before it change nothing', () => {
    const { events, sent } = replay([facts.shipmentScheduled, facts.paymentCharged, facts.stockReserved]);
    assert.equal(statusOf(fold(events)), 'CONFIRMED');
    assert.deepEqual(sent, ['OrderConfirmed']);
    assert.equal(fold(events).trackingNumber, 'TRK-1');
  });

  test('every arrival order of a confirmed order ends CONFIRMED with one announcement', () => {
    const all = [facts.stockReserved, facts.paymentCharged, facts.shipmentScheduled];
    for (const sequence of permutations(all)) {
      const { events, sent } = replay(sequence);
      assert.equal(statusOf(fold(events)), 'CONFIRMED', sequence.map((f) => f.type).join(' → '));
      assert.deepEqual(sent, ['OrderConfirmed']);
    }
  });

  test('every arrival order of a rejected shipment ends CANCELLED as SHIPPING_UNAVAILABLE with one announcement', () => {
    const all = [facts.stockReserved, facts.paymentCharged, facts.shipmentRejected];
    for (const sequence of permutations(all)) {
      const { events, sent } = replay(sequence);
      assert.equal(fold(events).reason, 'SHIPPING_UNAVAILABLE', sequence.map((f) => f.type).join(' → '));
      assert.deepEqual(sent, ['OrderCancelled(SHIPPING_UNAVAILABLE)']);
    }
  });

  test('a declined payment ahead of its reservation cancels the order, and the reservation after it changes nothing', () => {
    const { events, sent } = replay([facts.paymentDeclined, facts.stockReserved]);
    assert.equal(fold(events).reason, 'PAYMENT_DECLINED');
    assert.deepEqual(sent, ['OrderCancelled(PAYMENT_DECLINED)']);
  });
});

describe('choreography follower: duplicates and strangers yield nothing', () => {
  test('a duplicate intermediate fact is ignored', () => {
    given(reserved).when(facts.stockReserved, t2).thenNothing();
    given(charged).when(facts.paymentCharged, t3).thenNothing();
  });

  test('any fact for a finished order is ignored, so an order is announced once', () => {
    const finished = [confirmed, [...placed, cancelled('OUT_OF_STOCK')], [...reserved, cancelled('PAYMENT_DECLINED')], [...charged, cancelled('SHIPPING_UNAVAILABLE')]];
    for (const past of finished) for (const fact of Object.values(facts)) given(past).when(fact, t4).thenNothing();
  });

  test('a fact for an order that does not exist is ignored', () => {
    for (const fact of Object.values(facts)) given([]).when(fact, t1).thenNothing();
  });

  test('a fact naming another order is ignored', () => {
    given(placed).when({ type: 'ShipmentScheduled', payload: { orderId: '0190a1b2-0000-7000-8000-999999999999', trackingNumber: 'X' } }, t1).thenNothing();
  });

  test('an order id in upper case names the same order', () => {
    given(placed).when({ type: 'StockUnavailable', payload: { orderId: orderId.toUpperCase() } }, t1).then({
      events: [cancelled('OUT_OF_STOCK', t1)],
      send: [['OrderCancelled', { orderId, reason: 'OUT_OF_STOCK' }]],
    });
  });
});

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}
