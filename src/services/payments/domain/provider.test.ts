import { test } from 'node:test';
import assert from 'node:assert/strict';
import { charge, decideRefund, replayCharge, type Payment } from './provider.ts';

const payment = (p: Partial<Payment>): Payment => ({
  orderId: '00000000-0000-7000-8000-0000000000ff',
  paymentId: '00000000-0000-7000-8000-0000000000ee',
  customerId: 'c-1',
  amountCents: 1500,
  method: 'card',
  status: 'CHARGED',
  ...p,
});

test('given method card, when charging, then the payment is charged', () => {
  assert.deepEqual(charge('card'), { status: 'CHARGED' });
});

test('given method card-declined, when charging, then the payment is declined as CARD_DECLINED', () => {
  assert.deepEqual(charge('card-declined'), { status: 'DECLINED', reason: 'CARD_DECLINED' });
});

test('given any other method, when charging, then the payment is declined as UNSUPPORTED_METHOD', () => {
  for (const method of ['paypal', 'Card', 'card ', '']) {
    assert.deepEqual(charge(method), { status: 'DECLINED', reason: 'UNSUPPORTED_METHOD' }, method);
  }
});

test('given a charged payment, when the charge is asked again, then it answers charged without a new charge', () => {
  assert.deepEqual(replayCharge(payment({})), { status: 'CHARGED' });
});

test('given a refunded payment, when the charge is asked again, then it still answers the original charge', () => {
  assert.deepEqual(replayCharge(payment({ status: 'REFUNDED' })), { status: 'CHARGED' });
});

test('given a declined payment, when the charge is asked again, then it answers the same decline reason', () => {
  assert.deepEqual(replayCharge(payment({ status: 'DECLINED', method: 'card-declined' })), { status: 'DECLINED', reason: 'CARD_DECLINED' });
  assert.deepEqual(replayCharge(payment({ status: 'DECLINED', method: 'cash' })), { status: 'DECLINED', reason: 'UNSUPPORTED_METHOD' });
});

test('given a charged payment, when refunding, then its whole amount is refunded', () => {
  assert.deepEqual(decideRefund(payment({ amountCents: 1234 })), { kind: 'refund', amountCents: 1234 });
});

test('given a refunded payment, when refunding again, then nothing happens', () => {
  assert.deepEqual(decideRefund(payment({ status: 'REFUNDED' })), { kind: 'noop' });
});

test('given a declined payment, when refunding, then there is nothing to refund', () => {
  assert.deepEqual(decideRefund(payment({ status: 'DECLINED' })), { kind: 'nothing-charged' });
});

test('given no payment, when refunding, then the charge is refused in advance', () => {
  assert.deepEqual(decideRefund(undefined), { kind: 'tombstone' });
});

test('given a payment refused in advance, when charging, then it is declined as ORDER_CANCELLED', () => {
  assert.deepEqual(replayCharge(payment({ status: 'CANCELLED', method: 'card' })), { status: 'DECLINED', reason: 'ORDER_CANCELLED' });
});

test('given a payment refused in advance, when refunding again, then there is nothing to refund', () => {
  assert.deepEqual(decideRefund(payment({ status: 'CANCELLED' })), { kind: 'nothing-charged' });
});
