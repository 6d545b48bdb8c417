import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { Cents, OrderFacts, Quantity, StockLine, Uuid } from './shared.ts';
import { Topics } from './topics.ts';

export const ReserveStock = defineContract({
  type: 'ReserveStock', version: 1, topic: Topics.inventoryCommands, owner: 'inventory', kind: 'command',
  schema: Type.Object({ orderId: Uuid, items: Type.Array(StockLine, { minItems: 1 }) }),
});

export const ReleaseStock = defineContract({
  type: 'ReleaseStock', version: 1, topic: Topics.inventoryCommands, owner: 'inventory', kind: 'command',
  schema: Type.Object({ orderId: Uuid }),
});

export const StockReserved = defineContract({
  type: 'StockReserved', version: 1, topic: Topics.inventoryEvents, owner: 'inventory', kind: 'event',
  // `order`: filled in the choreography (from OrderPlaced) for payments to charge; absent in events.
  schema: Type.Object({ orderId: Uuid, items: Type.Array(StockLine), order: Type.Optional(OrderFacts) }),
});

export const StockUnavailable = defineContract({
  type: 'StockUnavailable', version: 1, topic: Topics.inventoryEvents, owner: 'inventory', kind: 'event',
  schema: Type.Object({ orderId: Uuid, productIds: Type.Array(Uuid) }),
});

export const StockReleased = defineContract({
  type: 'StockReleased', version: 1, topic: Topics.inventoryEvents, owner: 'inventory', kind: 'event',
  schema: Type.Object({ orderId: Uuid }),
});

/** Catalog facts, keyed by product id; orders keeps a local copy of them to price orders. */
export const ProductCreated = defineContract({
  type: 'ProductCreated', version: 1, topic: Topics.inventoryEvents, owner: 'inventory', kind: 'event', key: 'productId',
  schema: Type.Object({
    productId: Uuid,
    sku: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    priceCents: Cents,
    // Added for the cart's stock figure (issue 11): additive; absent in older records.
    stock: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
});

/**
 * A product's price changed (PATCH /products/:id). It carries the product's catalog facts
 * as of `revision`, which counts the changes of those facts (ProductCreated is revision 0):
 * per-key order on inventory.events already delivers them in order, but a replayed dead
 * letter or a second relay may not, and a consumer keeps a fact only over an older revision.
 * With the facts in it, a consumer that never saw the ProductCreated can still fill its row.
 */
export const ProductPriceChanged = defineContract({
  type: 'ProductPriceChanged', version: 1, topic: Topics.inventoryEvents, owner: 'inventory', kind: 'event', key: 'productId',
  schema: Type.Object({
    productId: Uuid,
    sku: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    priceCents: Cents,
    previousPriceCents: Cents,
    revision: Type.Integer({ minimum: 1 }),
  }),
});

/**
 * Stock was added to a product (PATCH /products/:id). Reservations do not announce the
 * stock they take, so this is the one stock ledger entry outside the saga: with it, initial
 * stock + restocks − confirmed units = available can be checked, and a consumer can tell a
 * product came back in stock (`available - quantity` was 0).
 */
export const ProductRestocked = defineContract({
  type: 'ProductRestocked', version: 1, topic: Topics.inventoryEvents, owner: 'inventory', kind: 'event', key: 'productId',
  schema: Type.Object({ productId: Uuid, quantity: Quantity, available: Type.Integer({ minimum: 1 }) }),
});
