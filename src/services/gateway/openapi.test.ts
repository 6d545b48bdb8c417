import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { OPENAPI_PATH, openApiDocument } from './openapi-document.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const document = await openApiDocument();

test('the committed OpenAPI document is what npm run api-docs draws from the gateway\'s routes', () => {
  const committed = readFileSync(join(root, OPENAPI_PATH), 'utf8');
  assert.equal(committed, JSON.stringify(document, null, 2) + '\n', `${OPENAPI_PATH} is stale: run npm run api-docs`);
});

test('an OpenAPI 3.1 validator finds the document valid', async () => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document));
  assert.equal(validator.version, '3.1');
  assert.deepEqual(result.errors ?? [], []);
  assert.equal(result.valid, true);
});

test('the documented inventory is the served one: every /api route, its method and who may call it', () => {
  const paths = document.paths as Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
  // [{}, {bearer}] is a token taken when sent: anonymous callers too.
  const optional = (security: unknown[] | undefined) => security?.some((s) => Object.keys(s as object).length === 0) ?? false;
  const label = (security: unknown[] | undefined) => (security ? (optional(security) ? ' (optional bearer)' : ' (bearer)') : '');
  const operations = Object.entries(paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => `${method.toUpperCase()} ${path}${label(op.security)}`)).sort();
  assert.deepEqual(operations, [
    'DELETE /api/cart/items/{productId} (bearer)',
    'GET /api/admin/dead-letters (bearer)',
    'GET /api/admin/events/stream (bearer)',
    'GET /api/admin/lab/runs (bearer)',
    'GET /api/admin/lab/runs/{id} (bearer)',
    'GET /api/admin/lab/runs/{id}/reports/{name} (bearer)',
    'GET /api/admin/orders (bearer)',
    'GET /api/admin/overview (bearer)',
    'GET /api/analytics/conversion (bearer)',
    'GET /api/analytics/products/top (bearer)',
    'GET /api/analytics/sales (bearer)',
    'GET /api/cart (bearer)',
    'GET /api/me (bearer)',
    'GET /api/me/notification-preferences (bearer)',
    'GET /api/me/notifications (bearer)',
    'GET /api/me/notifications/stream (bearer)',
    'GET /api/orders (bearer)',
    'GET /api/orders/{id} (bearer)',
    'GET /api/orders/{id}/details (bearer)',
    'GET /api/orders/{id}/history (bearer)',
    'GET /api/products',
    'GET /health',
    'PATCH /api/products/{id} (bearer)',
    'POST /api/admin/dead-letters/discard (bearer)',
    'POST /api/admin/dead-letters/replay (bearer)',
    'POST /api/admin/lab/runs (bearer)',
    'POST /api/auth/login',
    'POST /api/auth/logout',
    'POST /api/auth/refresh',
    'POST /api/auth/register',
    'POST /api/cart/checkout (bearer)',
    'POST /api/events (optional bearer)',
    'POST /api/orders (bearer)',
    'POST /api/products (bearer)',
    'PUT /api/cart/items/{productId} (bearer)',
    'PUT /api/me/notification-preferences (bearer)',
  ]);
  for (const [path, methods] of Object.entries(paths)) {
    if (path === '/health') continue;
    for (const [method, op] of Object.entries(methods)) {
      assert.ok(op.responses['400'] && op.responses['429'] && op.responses['503'], `${method} ${path} documents its 400, 429 and 503`);
      if (op.security) assert.ok(op.responses['401'] && (optional(op.security) || op.responses['403']), `${method} ${path} documents its 401 and 403`);
    }
  }
});
