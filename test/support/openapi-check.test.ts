import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOpenApiChecker } from './openapi-check.ts';

test('the checker passes what the document allows and names what it does not', () => {
  const checker = createOpenApiChecker();
  const order = { id: '0190f5b2-7c4e-7d2a-9f00-0123456789ab', customerId: 'c', items: [{ productId: '0190f5b2-7c4e-7d2a-9f00-0123456789ab', quantity: 1, unitPriceCents: 5 }], totalCents: 5, status: 'PENDING', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' };
  assert.equal(checker.check('GET', `/api/orders/${order.id}`, 200, order), undefined);
  assert.equal(checker.check('GET', `/api/orders/${order.id}`, 404, { error: { code: 'X_Y', message: 'm' } }), undefined);
  assert.match(checker.check('GET', `/api/orders/${order.id}`, 200, { ...order, status: 'LOST' }) ?? '', /status/);
  assert.match(checker.check('GET', `/api/orders/${order.id}`, 418, {}) ?? '', /does not list/);
  assert.match(checker.check('DELETE', '/api/orders', 200, {}) ?? '', /not in the OpenAPI document/);
  assert.match(checker.check('POST', '/api/orders', 400, { message: 'no envelope' }) ?? '', /error/);
});
