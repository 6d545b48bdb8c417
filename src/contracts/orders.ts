import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { CancelReason, Cents, OrderLine, ShippingAddress, Uuid } from './shared.ts';
import { Topics } from './topics.ts';

export const OrderPlaced = defineContract({
  type: 'OrderPlaced', version: 1, topic: Topics.ordersEvents, owner: 'orders', kind: 'event',
  schema: Type.Object({
    orderId: Uuid,
    customerId: Type.String({ minLength: 1 }),
    items: Type.Array(OrderLine, { minItems: 1 }),
    totalCents: Cents,
    paymentMethod: Type.String({ minLength: 1 }),
    shippingAddress: ShippingAddress,
  }),
});

export const OrderConfirmed = defineContract({
  type: 'OrderConfirmed', version: 1, topic: Topics.ordersEvents, owner: 'orders', kind: 'event',
  schema: Type.Object({ orderId: Uuid }),
});

export const OrderCancelled = defineContract({
  type: 'OrderCancelled', version: 1, topic: Topics.ordersEvents, owner: 'orders', kind: 'event',
  schema: Type.Object({ orderId: Uuid, reason: CancelReason }),
});
