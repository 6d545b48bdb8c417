import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadlineOf, expire, isPastDeadline, stepStartedAt } from './deadline.ts';
import { fold, type OrderEvent } from './order.ts';
import { cancelled, orderConfirmed, orderId, orderPlaced, paymentCharged, shipmentScheduled, stockReserved, t0, t1, t2, t3 } from './test-fixtures.ts';

const deadlineMs = 30_000;
const at = (base: string, ms: number) => new Date(Date.parse(base) + ms).toISOString();

// given (the order's past events) / when (the sweeper looks at `now`) / then (events, sends)
const given = (events: OrderEvent[]) => ({
  when: (now: string) => {
    const out = expire(fold(events), now, deadlineMs);
    return {
      then(expected: { events: OrderEvent[]; send: Array<[string, unknown]> }) {
        assert.deepEqual(out.events, expected.events);
        assert.deepEqual(out.send.map((o) => [o.contract.type, o.payload]), expected.send);
        assert.deepEqual(out.state, fold([...events, ...expected.events]));
        for (const o of out.send) assert.equal(o.contract.check(o.payload), undefined, o.contract.type);
      },
      thenNothing() {
        assert.deepEqual(out.events, []);
        assert.deepEqual(out.send, []);
        assert.deepEqual(out.state, fold(events));
      },
    };
  },
});

const timeoutAt = (now: string) => ({
  events: [cancelled('TIMEOUT', now)],
  send: [
    ['CancelShipment', { orderId }],
    ['RefundPayment', { orderId }],
    ['ReleaseStock', { orderId }],
    ['OrderCancelled', { orderId, reason: 'TIMEOUT' }],
  ] as Array<[string, unknown]>,
});

describe('saga deadlines', () => {
  test('each step starts when the event that entered it happened', () => {
    assert.equal(stepStartedAt(fold([orderPlaced])), t0);
    assert.equal(stepStartedAt(fold([orderPlaced, stockReserved])), t1);
    assert.equal(stepStartedAt(fold([orderPlaced, stockReserved, paymentCharged])), t2);
    assert.equal(deadlineOf(fold([orderPlaced, stockReserved]), deadlineMs), Date.parse(t1) + deadlineMs);
  });

  test('a finished or unknown order has no deadline', () => {
    assert.equal(stepStartedAt(fold([])), undefined);
    assert.equal(stepStartedAt(fold([orderPlaced, cancelled('OUT_OF_STOCK')])), undefined);
    assert.equal(isPastDeadline(fold([orderPlaced, stockReserved, paymentCharged, shipmentScheduled, orderConfirmed]), at(t3, 10 * deadlineMs), deadlineMs), false);
  });

  test('an order waiting for stock within its deadline is left alone', () => {
    given([orderPlaced]).when(at(t0, deadlineMs - 1)).thenNothing();
  });

  test('an order waiting for stock past its deadline times out and releases whatever may be held', () => {
    const now = at(t0, deadlineMs);
    given([orderPlaced]).when(now).then(timeoutAt(now));
  });

  test('the deadline runs from the start of the current step, not from the placement', () => {
    given([orderPlaced, stockReserved]).when(at(t0, deadlineMs)).thenNothing();
    const now = at(t1, deadlineMs);
    given([orderPlaced, stockReserved]).when(now).then(timeoutAt(now));
  });

  test('an order waiting for payment past its deadline times out, refunding and releasing', () => {
    const now = at(t1, deadlineMs + 5_000);
    given([orderPlaced, stockReserved]).when(now).then(timeoutAt(now));
  });

  test('an order waiting for its shipment past its deadline times out, refunding and releasing', () => {
    const now = at(t2, deadlineMs);
    given([orderPlaced, stockReserved, paymentCharged]).when(now).then(timeoutAt(now));
  });

  test('a finished order is never timed out, however old', () => {
    const long = at(t3, 100 * deadlineMs);
    given([orderPlaced, stockReserved, paymentCharged, shipmentScheduled, orderConfirmed]).when(long).thenNothing();
    given([orderPlaced, cancelled('PAYMENT_DECLINED')]).when(long).thenNothing();
    given([orderPlaced, cancelled('TIMEOUT')]).when(long).thenNothing();
    given([]).when(long).thenNothing();
  });

  test('a sweeper that lost the race to a reply re-reads and finds the order moved on, in time again', () => {
    // It chose the order waiting for stock at t0 + deadline; meanwhile StockReserved landed.
    given([orderPlaced, { ...stockReserved, at: at(t0, deadlineMs - 10) }]).when(at(t0, deadlineMs)).thenNothing();
  });
});
