// Shared setup of the orders handler tests, events and choreography (not imported by production code).
import type { TestContext } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { message, ProductCreated, type Contract, type PayloadOf } from '#contracts/index.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Architecture } from '#platform/config.ts';
import type { Db } from '#platform/db/db.ts';
import { sqliteTestDb } from '#test/support/db.ts';
import { runHandler, type Emitted } from '#test/support/handlers.ts';
import { createHandlers } from './handlers.ts';
import { placeOrder } from './place-order.ts';
import { migrations } from './store.ts';

export const clock = { now: () => new Date('2025-01-01T00:00:00Z') };
export const ids = { newId: () => uuidv7() };
export const productId = '0190a1b2-0000-7000-8000-00000000000a';

export const openDb = (t: TestContext) => sqliteTestDb(t, 'orders', [...outboxMigrations, ...migrations]);

/** A message as the bus would deliver it, keyed by its order id. */
export const delivery = <C extends Contract>(contract: C, payload: PayloadOf<C>) =>
  message(contract, { payload });

export const summary = (sent: Emitted) => sent.map((s) => [s.topic, s.message.type, s.message.payload]);

/** The catalog learns product A-1 at 250 cents; an order of 4 of it is placed. Returns its id. */
export async function placedOrder(db: Db, overrides: { paymentMethod?: string; country?: string; arch?: Architecture } = {}): Promise<string> {
  await runHandler(db, createHandlers({ clock }), delivery(ProductCreated, { productId, sku: 'A-1', name: 'Apple', priceCents: 250 }));
  const answer = await placeOrder(
    { db, ids, clock, arch: overrides.arch },
    { customerId: 'c-1', items: [{ productId, quantity: 4 }], paymentMethod: overrides.paymentMethod ?? 'card', shippingAddress: { country: overrides.country ?? 'DE' } },
  );
  return answer.id;
}
