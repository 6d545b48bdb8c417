// The choreography's event-carried state transfer is additive: the fields are optional, so
// messages of the events architecture stay valid, and a filled field is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PaymentCharged, StockReserved } from './index.ts';

const orderId = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const productId = '0190a1b2-0000-7000-8000-00000000000a';
const paymentId = '0190a1b2-0000-7000-8000-0000000000ff';
const order = { customerId: 'c-1', totalCents: 1000, paymentMethod: 'card', shippingAddress: { country: 'FR', city: 'Lyon' } };

test('StockReserved is valid with or without the order it carries', () => {
  assert.equal(StockReserved.check({ orderId, items: [{ productId, quantity: 1 }] }), undefined);
  assert.equal(StockReserved.check({ orderId, items: [{ productId, quantity: 1 }], order }), undefined);
});

test('StockReserved refuses an order without its payment method or with a negative total', () => {
  const { paymentMethod: _, ...noMethod } = order;
  assert.notEqual(StockReserved.check({ orderId, items: [], order: noMethod }), undefined);
  assert.notEqual(StockReserved.check({ orderId, items: [], order: { ...order, totalCents: -1 } }), undefined);
});

test('PaymentCharged is valid with or without the shipping address it carries, and checks the address', () => {
  assert.equal(PaymentCharged.check({ orderId, paymentId, amountCents: 1000 }), undefined);
  assert.equal(PaymentCharged.check({ orderId, paymentId, amountCents: 1000, shippingAddress: { country: 'DE' } }), undefined);
  assert.notEqual(PaymentCharged.check({ orderId, paymentId, amountCents: 1000, shippingAddress: { country: 'GERMANY' } }), undefined);
});
