import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds } from './kinds.ts';
import { money, render } from './templates.ts';

const orderId = '0190a1b2-0000-7000-8000-00000000abcd';

test('an OrderConfirmed renders a subject naming the order and a body with its whole id', () => {
  // given an order confirmed; when rendered
  const m = render('orderConfirmed', { orderId });
  // then
  assert.equal(m.subject, 'Your order …0000abcd is confirmed');
  assert.match(m.text, new RegExp(`order ${orderId} is confirmed`));
  assert.match(m.html, /^<!doctype html>.*<h1>Your order …0000abcd is confirmed<\/h1>/);
});

test('an OrderCancelled says the reason in words and by its code', () => {
  const m = render('orderCancelled', { orderId, reason: 'PAYMENT_DECLINED' });
  assert.match(m.subject, /was cancelled/);
  assert.match(m.text, /because your payment was declined\./);
  assert.match(m.text, /Reason: PAYMENT_DECLINED\./);
  // A reason this code does not know yet is shown as it came.
  assert.match(render('orderCancelled', { orderId, reason: 'SOMETHING_NEW' }).text, /because SOMETHING_NEW\./);
});

test('a shipment gives its tracking number, a refund its amount in currency units', () => {
  assert.match(render('shipmentScheduled', { orderId, trackingNumber: 'TRK-123' }).text, /Tracking number: TRK-123\./);
  assert.match(render('paymentRefunded', { orderId, amountCents: 123405 }).text, /We refunded 1234\.05 for your order/);
  assert.deepEqual([money(5), money(100), money(0)], ['0.05', '1.00', '0.00']);
});

test('values from an event are escaped in the HTML, not in the text', () => {
  const m = render('shipmentScheduled', { orderId, trackingNumber: '<script>alert("x")</script>' });
  assert.ok(!m.html.includes('<script>'));
  assert.match(m.html, /&#60;script&#62;alert\(&#34;x&#34;\)&#60;\/script&#62;/);
  assert.match(m.text, /<script>/);
});

test('every kind renders a non-empty subject, text and HTML', () => {
  for (const kind of kinds) {
    const m = render(kind, { orderId, reason: 'OUT_OF_STOCK', trackingNumber: 'T', amountCents: 1 });
    assert.ok(m.subject.length > 0 && m.text.length > 0 && m.html.length > 0, kind);
  }
});

test('an abandoned cart reminds of how many items it holds and their total', () => {
  assert.match(render('cartAbandoned', { cartId: orderId, items: 3, amountCents: 4500 }).text, /^Your cart \(3 items, 45\.00\) is still waiting for you\./);
  assert.match(render('cartAbandoned', { cartId: orderId, items: 1, amountCents: 100 }).text, /\(1 item, 1\.00\)/);
});
