import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_INT, normaliseProduct, productViolations } from './product.ts';

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
