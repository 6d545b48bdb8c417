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
]);
