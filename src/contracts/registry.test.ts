import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { newEnvelope } from '#platform/bus/envelope.ts';
import { defineContract } from './contract.ts';
import { createRegistry } from './registry.ts';
import { contracts } from './index.ts';

// A type that went through two breaking changes: amount became cents, then gained a currency.
const v1 = defineContract({ type: 'Charge', version: 1, topic: 't', owner: 'payments', kind: 'command', schema: Type.Object({ amount: Type.Number() }) });
const v2 = defineContract({
  type: 'Charge', version: 2, topic: 't', owner: 'payments', kind: 'command',
  schema: Type.Object({ amountCents: Type.Integer() }),
  upcast: (p: { amount: number }) => ({ amountCents: Math.round(p.amount * 100) }),
});
const v3 = defineContract({
  type: 'Charge', version: 3, topic: 't', owner: 'payments', kind: 'command',
  schema: Type.Object({ amountCents: Type.Integer(), currency: Type.String() }),
  upcast: (p: { amountCents: number }) => ({ ...p, currency: 'EUR' }),
});
const charge = (version: number, payload: unknown) => newEnvelope({ type: 'Charge', version, key: 'o1', payload });

test('an older version is upcast, step by step, to the newest the consumer knows', () => {
  const registry = createRegistry([v1, v2, v3]);
  const m = charge(1, { amount: 12.5 });
  const check = registry.check(m);
  assert.deepEqual(check, { code: 'ok', message: { ...m, version: 3, payload: { amountCents: 1250, currency: 'EUR' } } });
  const m2 = charge(2, { amountCents: 7 });
  assert.deepEqual(registry.check(m2), { code: 'ok', message: { ...m2, version: 3, payload: { amountCents: 7, currency: 'EUR' } } });
  assert.deepEqual(registry.check(charge(3, { amountCents: 7, currency: 'USD' })), { code: 'ok' });
});

test('a newer version of a known type is unknown_version; an unknown type or a bad payload is invalid', () => {
  const registry = createRegistry([v1]);
  assert.equal((registry.check(charge(2, { amountCents: 1 })) as { code: string }).code, 'unknown_version');
  assert.equal((registry.check(newEnvelope({ type: 'Nope', key: 'k', payload: {} })) as { code: string }).code, 'invalid');
  assert.equal((registry.check(charge(1, { amount: 'ten' })) as { code: string }).code, 'invalid');
  // A payload of an old version that fails its own schema is not upcast into something valid.
  assert.equal((createRegistry([v1, v2]).check(charge(1, { amount: 'ten' })) as { code: string }).code, 'invalid');
  // A retired version (its contract removed) is dead-lettered, not waited for: no deploy brings it back.
  const retired = createRegistry([v2, v3]).check(charge(1, { amount: 1 }));
  assert.equal((retired as { code: string }).code, 'invalid');
  assert.match((retired as { reason: string }).reason, /retired/);
});

test('every contract after a first version declares its upcast', () => {
  for (const c of contracts) if (c.version > 1) assert.ok(c.upcast, `${c.type} v${c.version} declares no upcast`);
  assert.throws(() => createRegistry([v1, v1]), /declared twice/);
});

test('a message is keyed by its contract\'s key field; naming another key is refused', async () => {
  const { message, ProductCreated, StockReleased, contracts } = await import('./index.ts');
  const orderId = '0190a1b2-0000-7000-8000-00000000000a';
  const productId = '0190a1b2-0000-7000-8000-00000000000b';
  assert.equal(message(StockReleased, { payload: { orderId } }).message.key, orderId);
  assert.equal(message(ProductCreated, { payload: { productId, sku: 'A', name: 'Apple', priceCents: 1 } }).message.key, productId);
  assert.throws(() => message(StockReleased, { key: productId, payload: { orderId } }), /keyed by its orderId/);
  for (const c of contracts) assert.ok(Object.hasOwn((c.schema as unknown as { properties: object }).properties, c.key), `${c.type} v${c.version} has its key field ${c.key}`);
});
