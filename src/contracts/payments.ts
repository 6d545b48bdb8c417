import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { Cents, ShippingAddress, Uuid } from './shared.ts';
import { Topics } from './topics.ts';

export const ChargePayment = defineContract({
  type: 'ChargePayment', version: 1, topic: Topics.paymentsCommands, owner: 'payments', kind: 'command',
  schema: Type.Object({
    orderId: Uuid,
    customerId: Type.String({ minLength: 1 }),
    amountCents: Cents,
    method: Type.String({ minLength: 1 }),
  }),
});

export const RefundPayment = defineContract({
  type: 'RefundPayment', version: 1, topic: Topics.paymentsCommands, owner: 'payments', kind: 'command',
  schema: Type.Object({ orderId: Uuid }),
});

export const PaymentCharged = defineContract({
  type: 'PaymentCharged', version: 1, topic: Topics.paymentsEvents, owner: 'payments', kind: 'event',
  // `shippingAddress`: filled in the choreography (from StockReserved.order) for shipping; absent in events.
  schema: Type.Object({ orderId: Uuid, paymentId: Uuid, amountCents: Cents, shippingAddress: Type.Optional(ShippingAddress) }),
});

export const PaymentDeclined = defineContract({
  type: 'PaymentDeclined', version: 1, topic: Topics.paymentsEvents, owner: 'payments', kind: 'event',
  schema: Type.Object({ orderId: Uuid, reason: Type.String() }),
});

export const PaymentRefunded = defineContract({
  type: 'PaymentRefunded', version: 1, topic: Topics.paymentsEvents, owner: 'payments', kind: 'event',
  schema: Type.Object({ orderId: Uuid, amountCents: Cents }),
});
