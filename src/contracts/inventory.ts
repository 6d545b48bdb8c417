import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { Cents, OrderFacts, StockLine, Uuid } from './shared.ts';
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
  }),
});
