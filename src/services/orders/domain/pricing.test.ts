import { test } from 'node:test';
import assert from 'node:assert/strict';
import { priceItems } from './pricing.ts';
import { productA, productB } from './test-fixtures.ts';

const catalog = new Map([
  [productA, 1250],
  [productB, 500],
]);

test('items are priced from the catalog', () => {
  assert.deepEqual(priceItems([{ productId: productA, quantity: 2 }], catalog), [{ productId: productA, quantity: 2, unitPriceCents: 1250 }]);
});

test('lines naming the same product are merged in first-seen order', () => {
  assert.deepEqual(
    priceItems(
      [
        { productId: productB, quantity: 1 },
        { productId: productA, quantity: 2 },
        { productId: productB.toUpperCase(), quantity: 3 },
      ],
      catalog,
    ),
    [
      { productId: productB, quantity: 4, unitPriceCents: 500 },
      { productId: productA, quantity: 2, unitPriceCents: 1250 },
    ],
  );
});

test('an unknown product is refused with every unknown id listed', () => {
  const x = '0190a1b2-0000-7000-8000-0000000000cc';
  const y = '0190a1b2-0000-7000-8000-0000000000dd';
  assert.throws(
    () => priceItems([{ productId: x, quantity: 1 }, { productId: productA, quantity: 1 }, { productId: y, quantity: 1 }], catalog),
    (err: any) => err.code === 'ORD_ERR_UNKNOWN_PRODUCT' && err.statusCode === 422 && err.details.productIds.length === 2,
  );
});
