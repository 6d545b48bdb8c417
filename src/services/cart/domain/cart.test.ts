import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abandonedBefore, available, cartView, orderKeyOf, priceLines, problemOf } from './cart.ts';

const apple = { productId: '018f0000-0000-7000-8000-000000000001', name: 'Apple', priceCents: 250 };
const pear = { productId: '018f0000-0000-7000-8000-000000000002', name: 'Pear', priceCents: 400 };

test('lines are priced from the catalog copy and totalled', () => {
  const priced = priceLines([{ ...apple, quantity: 3, available: 10 }, { ...pear, quantity: 1, available: 5 }]);
  assert.deepEqual(priced, {
    lines: [
      { productId: apple.productId, name: 'Apple', quantity: 3, unitPriceCents: 250, lineTotalCents: 750, available: 10 },
      { productId: pear.productId, name: 'Pear', quantity: 1, unitPriceCents: 400, lineTotalCents: 400, available: 5 },
    ],
    totalCents: 1150,
  });
});

test('a line is flagged when its product is sold out or short of the quantity, never when the stock is unknown', () => {
  assert.equal(problemOf(1, 0), 'UNAVAILABLE');
  assert.equal(problemOf(3, 2), 'SHORT_OF_STOCK');
  assert.equal(problemOf(2, 2), undefined);
  assert.equal(problemOf(5, null), undefined);
  const [sold, short] = priceLines([{ ...apple, quantity: 1, available: 0 }, { ...pear, quantity: 4, available: 3 }]).lines;
  assert.deepEqual([sold.problem, short.problem], ['UNAVAILABLE', 'SHORT_OF_STOCK']);
});

test('a product the copy has no price for counts nothing and is flagged unavailable', () => {
  const { lines, totalCents } = priceLines([{ productId: apple.productId, name: null, priceCents: null, quantity: 2, available: null }]);
  assert.deepEqual([lines[0].unitPriceCents, lines[0].problem, totalCents], [0, 'UNAVAILABLE', 0]);
});

test('the stock count is the creation stock plus the moves, unknown without one or where reservations are not announced', () => {
  assert.equal(available(10, -3, true), 7);
  assert.equal(available(10, -12, true), 0, 'a reservation counted before its restock shows 0, not less');
  assert.equal(available(null, 5, true), null);
  assert.equal(available(10, 0, false), null);
});

test('a customer without a cart sees an empty one at version 0', () => {
  assert.deepEqual(cartView(undefined, []), { cartId: null, version: 0, lines: [], totalCents: 0, lastOrderId: null, updatedAt: null });
});

test('the order key names the cart and its version; the abandonment cutoff is the idle time before now', () => {
  assert.equal(orderKeyOf('c1', 4), 'cart:c1:4');
  assert.equal(abandonedBefore(new Date('2026-01-01T01:00:00.000Z'), 3_600_000), '2026-01-01T00:00:00.000Z');
});
