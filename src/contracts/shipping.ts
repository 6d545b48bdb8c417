import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { ShippingAddress, Uuid } from './shared.ts';
import { Topics } from './topics.ts';

export const ScheduleShipment = defineContract({
  type: 'ScheduleShipment', version: 1, topic: Topics.shippingCommands, owner: 'shipping', kind: 'command',
  schema: Type.Object({ orderId: Uuid, address: ShippingAddress }),
});

export const ShipmentScheduled = defineContract({
  type: 'ShipmentScheduled', version: 1, topic: Topics.shippingEvents, owner: 'shipping', kind: 'event',
  schema: Type.Object({ orderId: Uuid, trackingNumber: Type.String() }),
});

export const ShipmentRejected = defineContract({
  type: 'ShipmentRejected', version: 1, topic: Topics.shippingEvents, owner: 'shipping', kind: 'event',
  schema: Type.Object({ orderId: Uuid, reason: Type.String() }),
});
