import { Type } from '@sinclair/typebox';

export const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export const Cents = Type.Integer({ minimum: 0 });
export const Quantity = Type.Integer({ minimum: 1 });

export const OrderLine = Type.Object({
  productId: Uuid,
  quantity: Quantity,
  unitPriceCents: Cents,
});

export const StockLine = Type.Object({ productId: Uuid, quantity: Quantity });

export const ShippingAddress = Type.Object(
  {
    country: Type.String({ minLength: 2, maxLength: 2 }),
    city: Type.Optional(Type.String({ maxLength: 200 })),
    line1: Type.Optional(Type.String({ maxLength: 200 })),
    postalCode: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: true },
);

export const CancelReason = Type.Union([
  Type.Literal('OUT_OF_STOCK'),
  Type.Literal('PAYMENT_DECLINED'),
  Type.Literal('SHIPPING_UNAVAILABLE'),
  // Added in issue 9 (saga deadlines): additive, consumers of version 1 accept it.
  Type.Literal('TIMEOUT'),
]);

/**
 * What the choreography passes along with a reservation (event-carried state transfer), so
 * that payments and shipping need no other service's data: who pays how much, how, and
 * where the order goes.
 */
export const OrderFacts = Type.Object({
  customerId: Type.String({ minLength: 1 }),
  totalCents: Cents,
  paymentMethod: Type.String({ minLength: 1 }),
  shippingAddress: ShippingAddress,
});
