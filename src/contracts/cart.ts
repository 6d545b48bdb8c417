import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { Cents, Quantity, Uuid } from './shared.ts';
import { Topics } from './topics.ts';

/** A cart line as the cart priced it from its catalog copy (the order prices it again). */
const CartLine = Type.Object({ productId: Uuid, quantity: Quantity, unitPriceCents: Cents });

/**
 * A cart version became an order (POST /carts/:customerId/checkout): the order exists, the
 * cart is empty at `version + 1`. One per cart version.
 */
export const CartCheckedOut = defineContract({
  type: 'CartCheckedOut', version: 1, topic: Topics.cartEvents, owner: 'cart', kind: 'event', key: 'cartId',
  schema: Type.Object({
    cartId: Uuid,
    customerId: Type.String({ minLength: 1 }),
    version: Type.Integer({ minimum: 1 }),
    orderId: Uuid,
    lines: Type.Array(CartLine),
    totalCents: Cents,
  }),
});

/**
 * A cart left untouched longer than CART_ABANDONED_AFTER_MS with lines in it, announced once
 * per cart version (a later change and a new idle spell announce it again), for reminders.
 */
export const CartAbandoned = defineContract({
  type: 'CartAbandoned', version: 1, topic: Topics.cartEvents, owner: 'cart', kind: 'event', key: 'cartId',
  schema: Type.Object({
    cartId: Uuid,
    customerId: Type.String({ minLength: 1 }),
    version: Type.Integer({ minimum: 1 }),
    lines: Type.Array(CartLine, { minItems: 1 }),
    totalCents: Cents,
    idleSince: Type.String({ minLength: 1 }),
  }),
});
