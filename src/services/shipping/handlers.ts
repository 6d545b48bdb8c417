/**
 * Bus handlers of shipping (events architecture): the ScheduleShipment command, answered
 * with ShipmentScheduled or ShipmentRejected, and CancelShipment; idempotent by order id
 * (see shipments.ts).
 */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import { CancelShipment, message, ScheduleShipment, ShipmentRejected, ShipmentScheduled, type PayloadOf } from '#contracts/index.ts';
import { cancelShipment, scheduleShipment } from './shipments.ts';
import type { Shipment } from './store.ts';

export interface ShippingHandlerDeps {
  clock: { now(): Date };
}

export function createHandlers(deps: ShippingHandlerDeps): Record<string, MessageHandler> {
  return {
    async [ScheduleShipment.type](ctx) {
      const { orderId, address } = ctx.message.payload as PayloadOf<typeof ScheduleShipment>;
      const at = deps.clock.now().toISOString();
      const shipment = await scheduleShipment(ctx.tx, orderId, address.country, at);
      const m = replyFor(shipment, ctx.message, at);
      ctx.emit(m.topic, m.message);
    },

    // No reply: nobody waits on it (orders cancelled the order when it sent this).
    async [CancelShipment.type](ctx) {
      const { orderId } = ctx.message.payload as PayloadOf<typeof CancelShipment>;
      await cancelShipment(ctx.tx, orderId, deps.clock.now().toISOString());
    },
  };
}

export function replyFor(s: Shipment, cause: Parameters<typeof message>[1]['cause'], at: string) {
  if (s.status === 'SCHEDULED') {
    return message(ShipmentScheduled, { key: s.orderId, payload: { orderId: s.orderId, trackingNumber: s.trackingNumber ?? '' }, cause, occurredAt: at });
  }
  return message(ShipmentRejected, { key: s.orderId, payload: { orderId: s.orderId, reason: s.reason ?? 'COUNTRY_NOT_SERVED' }, cause, occurredAt: at });
}
