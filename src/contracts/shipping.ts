import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { ShippingAddress, Uuid } from './shared.ts';
import { Topics } from './topics.ts';

export const ScheduleShipment = defineContract({
  type: 'ScheduleShipment', version: 1, topic: Topics.shippingCommands, owner: 'shipping', kind: 'command',
  schema: Type.Object({ orderId: Uuid, address: ShippingAddress }),
});

/**
 * Undoes a shipment for an order that was cancelled after asking for it (a saga step past
 * its deadline, issue 9). Idempotent by order id; with no shipment yet, it is refused in
 * advance, so that a ScheduleShipment arriving late is rejected.
 */
export const CancelShipment = defineContract({
  type: 'CancelShipment', version: 1, topic: Topics.shippingCommands, owner: 'shipping', kind: 'command',
  schema: Type.Object({ orderId: Uuid }),
});

export const ShipmentScheduled = defineContract({
  type: 'ShipmentScheduled', version: 1, topic: Topics.shippingEvents, owner: 'shipping', kind: 'event',
  schema: Type.Object({ orderId: Uuid, trackingNumber: Type.String() }),
});

export const ShipmentRejected = defineContract({
  type: 'ShipmentRejected', version: 1, topic: Topics.shippingEvents, owner: 'shipping', kind: 'event',
  schema: Type.Object({ orderId: Uuid, reason: Type.String() }),
});
