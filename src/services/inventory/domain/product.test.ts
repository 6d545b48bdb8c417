import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeViolations, decideChange, MAX_INT, normaliseProduct, productViolations } from './product.ts';

const valid = { sku: 'KB-01', name: 'Keyboard', priceCents: 4999, stock: 10 };

test('a product with a sku, a name, a price and a stock may be created', () => {
  assert.deepEqual(productViolations(valid), []);
});

test('a free product with no stock may be created', () => {
  assert.deepEqual(productViolations({ ...valid, priceCents: 0, stock: 0 }), []);
});

test('a blank sku is refused', () => {
  assert.deepEqual(productViolations({ ...valid, sku: '   ' }), ['sku must be a non-empty string']);
  assert.deepEqual(productViolations({ ...valid, sku: '' }), ['sku must be a non-empty string']);
});

test('a blank name is refused', () => {
  assert.deepEqual(productViolations({ ...valid, name: '' }), ['name must be a non-empty string']);
});

test('a price or stock at the largest stored integer is accepted', () => {
  assert.deepEqual(productViolations({ ...valid, priceCents: MAX_INT, stock: MAX_INT }), []);
});

test('a negative or fractional price is refused', () => {
  assert.deepEqual(productViolations({ ...valid, priceCents: -1 }), [`priceCents must be an integer from 0 to ${MAX_INT}`]);
  assert.deepEqual(productViolations({ ...valid, priceCents: 9.99 }), [`priceCents must be an integer from 0 to ${MAX_INT}`]);
});

test('a negative, fractional or too large stock is refused', () => {
  assert.deepEqual(productViolations({ ...valid, stock: -5 }), [`stock must be an integer from 0 to ${MAX_INT}`]);
  assert.deepEqual(productViolations({ ...valid, stock: 1.5 }), [`stock must be an integer from 0 to ${MAX_INT}`]);
  assert.deepEqual(productViolations({ ...valid, stock: MAX_INT + 1 }), [`stock must be an integer from 0 to ${MAX_INT}`]);
});

test('every broken rule is reported at once', () => {
  assert.equal(productViolations({ sku: '', name: '', priceCents: -1, stock: -1 }).length, 4);
});

test('sku and name are stored without surrounding blanks', () => {
  assert.deepEqual(normaliseProduct({ ...valid, sku: ' KB-01 ', name: ' Keyboard\n' }), valid);
});

const stored = { id: 'p-1', sku: 'KB-01', name: 'Keyboard', priceCents: 4999, available: 3, revision: 2 };

test('a change names a price, a restock or both; an empty one is refused', () => {
  assert.deepEqual(changeViolations({ priceCents: 0 }), []);
  assert.deepEqual(changeViolations({ restock: 1 }), []);
  assert.deepEqual(changeViolations({ priceCents: MAX_INT, restock: MAX_INT }), []);
  assert.deepEqual(changeViolations({}), ['name priceCents, restock or both']);
});

test('a negative or fractional price, or a restock below one, is refused', () => {
  assert.deepEqual(changeViolations({ priceCents: -1 }), [`priceCents must be an integer from 0 to ${MAX_INT}`]);
  assert.deepEqual(changeViolations({ priceCents: 1.5 }), [`priceCents must be an integer from 0 to ${MAX_INT}`]);
  assert.deepEqual(changeViolations({ restock: 0 }), [`restock must be an integer from 1 to ${MAX_INT}`]);
  assert.deepEqual(changeViolations({ restock: MAX_INT + 1 }), [`restock must be an integer from 1 to ${MAX_INT}`]);
});

test('a new price is the next revision; the stock is untouched', () => {
  assert.deepEqual(decideChange(stored, { priceCents: 3999 }), {
    ok: true, product: { ...stored, priceCents: 3999, revision: 3 }, previousPriceCents: 4999, priceChanged: true, restocked: 0,
  });
});

test('the same price again is no change and no new revision', () => {
  assert.deepEqual(decideChange(stored, { priceCents: 4999 }), { ok: true, product: stored, previousPriceCents: 4999, priceChanged: false, restocked: 0 });
});

test('a restock adds to the available stock and leaves the revision', () => {
  assert.deepEqual(decideChange(stored, { restock: 10 }), { ok: true, product: { ...stored, available: 13 }, previousPriceCents: 4999, priceChanged: false, restocked: 10 });
});

test('a price and a restock apply together', () => {
  const d = decideChange(stored, { priceCents: 1, restock: 2 });
  assert.ok(d.ok);
  assert.deepEqual(d.product, { ...stored, priceCents: 1, available: 5, revision: 3 });
});

test('a restock up to the largest stored integer is taken, one past it is refused', () => {
  assert.equal(decideChange(stored, { restock: MAX_INT - 3 }).ok, true);
  assert.deepEqual(decideChange(stored, { restock: MAX_INT - 2, priceCents: 1 }), { ok: false, reason: 'STOCK_OVERFLOW', available: 3, restock: MAX_INT - 2 });
});
